//! Any bytes as a stored query-log row (a damaged or hostile database file):
//! decoding never panics, and what decodes encodes back to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use store::batch::{BatchEncoder, decode};

fuzz_target!(|data: &[u8]| {
    let Some(mut events) = decode(data) else { return };
    // a row stores times relative to its first event, so it is built in time order
    events.sort_by_key(|e| e.time_ms);
    let mut enc = BatchEncoder::default();
    for e in &events {
        enc.push(e);
    }
    let again = decode(&enc.finish().blob).expect("an encoded row decodes");
    assert_eq!(again, events);
});
