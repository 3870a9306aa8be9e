//! resources.arsc reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = appscan::android::arsc::ResourceTable::parse(data, "resources.arsc", &appscan::Limits::default()) {
        let _ = t.resolve_string(0x7f01_0000);
    }
});
