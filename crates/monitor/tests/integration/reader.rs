//! The streaming reader: line numbers, byte offsets, CRLF, a missing final
//! newline, over-long lines, I/O errors, and the zero-copy path.

use crate::support::opts;
use monitor::{ErrorKind, EventReader, Format, Parser, Step};
use std::io::{self, Read};

const LINE: &str = "[1795316078] unbound[29014:0] info: 127.0.0.1 www.tiktok.com. A IN";

#[test]
fn offsets_crlf_and_last_line_without_newline() {
    let text = format!("{LINE}\r\n\r\n{LINE}\n{LINE}");
    let r = EventReader::new(
        text.as_bytes(),
        Parser::new(Format::Unbound, &opts()).with_file("u.log"),
        &opts(),
    );
    let evs: Vec<_> = r.map(|e| e.expect("event")).collect();
    assert_eq!(evs.len(), 3);
    assert_eq!((evs[0].original.line, evs[0].original.offset), (1, 0));
    assert_eq!(
        (evs[1].original.line, evs[1].original.offset),
        (3, LINE.len() as u64 + 4)
    );
    assert_eq!(
        (evs[2].original.line, evs[2].original.offset),
        (4, 2 * LINE.len() as u64 + 5)
    );
    assert_eq!(evs[2].original.file.as_deref(), Some("u.log"));
}

#[test]
fn over_long_line_is_skipped_and_reported() {
    let long = "x".repeat(10_000);
    let text = format!("{LINE}\n{long}\n{LINE}\n");
    let o = opts().with_max_line_len(1000);
    let mut r = EventReader::new(text.as_bytes(), Parser::new(Format::Unbound, &o), &o);
    let mut got = Vec::new();
    r.for_each_event(|x| {
        got.push(
            x.map(|e| e.original.line)
                .map_err(|e| (e.line_no, e.kind, e.byte_offset)),
        )
    });
    assert_eq!(
        got,
        vec![Ok(1), Err((2, ErrorKind::LineTooLong, LINE.len() as u64 + 1)), Ok(3)]
    );
    assert_eq!(r.stats().lines, 3);
}

#[test]
fn many_lines_across_buffer_refills() {
    let mut text = String::new();
    for _ in 0..20_000 {
        text.push_str(LINE);
        text.push('\n');
    }
    // A reader that returns few bytes at a time exercises refills and compaction.
    struct Slow<'a>(&'a [u8]);
    impl Read for Slow<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(777).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut r = EventReader::new(Slow(text.as_bytes()), Parser::new(Format::Unbound, &opts()), &opts());
    let mut n = 0;
    let mut last_offset = 0;
    while let Some(step) = r.next_step() {
        if let Step::Event(e) = step {
            assert_eq!(e.dns_question_name.as_deref(), Some("www.tiktok.com"));
            last_offset = e.original.offset;
            n += 1;
        }
    }
    assert_eq!(n, 20_000);
    assert_eq!(last_offset, 19_999 * (LINE.len() as u64 + 1));
}

#[test]
fn io_error_ends_the_reader_with_a_counted_error() {
    struct Failing(bool);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 {
                return Err(io::Error::other("disk gone"));
            }
            self.0 = true;
            let l = format!("{LINE}\n");
            buf[..l.len()].copy_from_slice(l.as_bytes());
            Ok(l.len())
        }
    }
    let r = EventReader::new(Failing(false), Parser::new(Format::Unbound, &opts()), &opts());
    let items: Vec<_> = r.collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(items[1].as_ref().map_err(|e| e.kind).err(), Some(ErrorKind::Io));
}
