//! Any bytes as an upstream response: walking its records and reading the
//! CNAME targets and addresses (what the cache and the CNAME/IP checks do).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(shape) = dns::wire::walk_response(data) {
        let facts = dns::cache::Facts::of(data, &shape);
        assert!(facts.cnames.iter().all(|c| c.len() <= 255 + 64));
    }
});
