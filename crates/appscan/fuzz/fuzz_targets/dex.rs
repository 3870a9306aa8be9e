//! DEX reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appscan::android::dex::parse_dex(data, "classes.dex", &appscan::Limits::default());
});
