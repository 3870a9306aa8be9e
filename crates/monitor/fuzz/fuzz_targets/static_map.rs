//! Fuzzes the static identity map reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = monitor::identity::static_map::read(data);
});
