//! Any bytes as an upstream response: walking its records, reading the
//! CNAME targets and addresses (what the CNAME/IP checks do), storing it in
//! the cache and serving it back (id and question patched in, TTLs aged).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// `example.com A` with EDNS: the question every stored response is filed under.
const QUERY: &[u8] = &[
    0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm',
    0, 0, 1, 0, 1, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0,
];

fn cache() -> &'static dns::cache::Cache {
    static C: OnceLock<dns::cache::Cache> = OnceLock::new();
    C.get_or_init(|| {
        dns::cache::Cache::new(dns::cache::CacheConfig {
            max_mib: 1,
            ..dns::cache::CacheConfig::default()
        })
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(shape) = dns::wire::walk_response(data) {
        let facts = dns::cache::Facts::of(data, &shape);
        assert!(facts.cnames.iter().all(|c| c.len() <= 255 + 64));
        let q = dns::wire::parse_query(QUERY).expect("the fixed query parses");
        let key = dns::cache::CacheKey::of(&q);
        cache().put(key.clone(), data, &shape);
        let mut out = Vec::new();
        if cache().get(key.as_key_ref(), &q, 1, 0, &mut out).is_some() {
            assert_eq!(&out[..2], &QUERY[..2], "the query's id");
        }
        cache().clear();
    }
});
