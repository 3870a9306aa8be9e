//! Mach-O reader (goblin + code-signature SuperBlob).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appscan::ios::macho::parse_macho(data, "Payload/X.app/X", &appscan::Limits::default());
});
