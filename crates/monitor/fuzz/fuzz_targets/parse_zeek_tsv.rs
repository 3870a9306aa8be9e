//! Fuzzes the ZeekTsv parser: arbitrary bytes split into lines; every line must
//! be an event, a skip or a located error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use monitor::{Format, ParseOptions, Parser};

fuzz_target!(|data: &[u8]| {
    let mut p = Parser::new(Format::ZeekTsv, &ParseOptions::default().with_year(2026));
    let results = p.parse_all(data);
    let st = p.stats();
    assert_eq!(st.events + st.error_count(), results.len() as u64);
    for ev in results.into_iter().flatten() {
        let _ = ev.into_owned();
    }
});
