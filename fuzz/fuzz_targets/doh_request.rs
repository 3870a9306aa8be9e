//! Any text as a DoH request target (`/dns-query/ID?dns=…`): the client id
//! and the base64url `dns` parameter are read or refused, never a panic; a
//! client id is one DNS label.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else { return };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if let Some((id, msg)) = dns::doh::request_target(path, query, "/dns-query") {
        if let Some(id) = id {
            assert!(!id.is_empty() && id.len() <= 63, "a client id is one label: {id:?}");
        }
        if let Some(m) = msg {
            assert!(m.len() <= 65_535 + 3, "decoded message within the size limit");
        }
    }
});
