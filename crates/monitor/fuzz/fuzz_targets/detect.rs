//! Fuzzes format detection.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').take(16).collect();
    let _ = monitor::detect(&lines, Some("eve.json"));
    let _ = monitor::detect(&lines, None);
});
