//! Any bytes as a risk profile file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = risk::Profile::parse(text, "fuzz.toml");
});
