//! Any bytes as a catalog overlay file on top of the bundled catalog: a
//! result or located diagnostics, never a panic.
#![no_main]

use catalog::{Catalog, LoadError, Origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Catalog::from_files(&[(Origin::Overlay, "fuzz.toml".into(), text.to_string())]) {
        Ok(_) => {}
        Err(LoadError::Invalid(diags)) => assert!(diags.iter().all(|d| !d.file.is_empty())),
        Err(_) => {}
    }
});
