//! Property list reader (XML and binary), as used for Info.plist and entitlements.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appscan::ios::parse_plist(data, "Info.plist");
});
