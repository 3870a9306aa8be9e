//! Any bytes as appwarden.toml against the bundled catalog; a valid policy
//! must also compile to a plan.
#![no_main]

use std::sync::OnceLock;

use catalog::{Catalog, Day};
use libfuzzer_sys::fuzz_target;
use policy::Policy;

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| Catalog::bundled().expect("bundled catalog is valid"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Policy::parse_with_catalog(text, "fuzz.toml", catalog().clone()) {
        let _ = p.plan(Day::new(2026, 11, 22).expect("day"));
    }
});
