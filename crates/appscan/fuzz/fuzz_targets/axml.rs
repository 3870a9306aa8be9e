//! Binary XML (AndroidManifest.xml) reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = appscan::android::axml::parse_axml(data, "AndroidManifest.xml", &appscan::Limits::default())
        .map(|root| appscan::android::manifest::Manifest::from_root(&root));
});
