//! Whole-package scan (zip container, APK/IPA detection, signing block, all readers),
//! with small limits so each input stays cheap.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = appscan::ScanOptions {
        limits: appscan::Limits {
            max_entry_bytes: 1 << 20,
            max_total_bytes: 4 << 20,
            ..appscan::Limits::default()
        },
        ..appscan::ScanOptions::default()
    };
    let _ = appscan::scan_bytes(data, None, &opts);
});
