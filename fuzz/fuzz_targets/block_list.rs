//! Any bytes as an external block list in every syntax.
#![no_main]

use dns::lists::{ListFormat, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for f in [ListFormat::Auto, ListFormat::Hosts, ListFormat::Domains, ListFormat::Adblock] {
        let p = parse(data, f);
        assert!(p.errors.len() <= 100);
    }
});
