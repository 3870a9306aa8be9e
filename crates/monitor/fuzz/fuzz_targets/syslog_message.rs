//! Fuzzes syslog reception: the RFC 6587 framer over a byte stream, the
//! RFC 5424 / RFC 3164 header parser on every frame, and the rebuilt line
//! through the parser its app name selects.
#![no_main]
use libfuzzer_sys::fuzz_target;
use monitor::syslog_wire::{format_for_app, parse, Framer};
use monitor::{ParseOptions, Parser};

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
    let mut framer = Framer::new(512);
    for piece in data.chunks(7) {
        framer.push(piece);
        while let Some(frame) = framer.next_frame() {
            let Ok(frame) = frame else { break };
            if let Ok(m) = parse(frame) {
                if let Some(format) = m.app_name.and_then(format_for_app) {
                    let line = m.line_for(format, Some("2026-11-22T00:00:00Z"));
                    let mut p = Parser::new(format, &ParseOptions::default());
                    let _ = p.parse_line(line.as_bytes(), 1, 0);
                }
            }
        }
    }
});
