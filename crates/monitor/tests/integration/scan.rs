//! `scan_log`: parsing in blocks on several threads gives exactly what the
//! line-by-line reader gives — events, line numbers, offsets, errors,
//! counters — on corpus files and on synthetic files built to put header
//! changes, long lines and clock changes across block boundaries.

use crate::support::{corpus, opts};
use monitor::{open_log, scan_log, Event, Format, ParseError, ParseOptions, ParseStats, ScanOptions, Sink};
use std::path::{Path, PathBuf};

/// Collects everything, to compare with the reader.
#[derive(Default)]
struct All {
    events: Vec<(u64, String)>,
    errors: Vec<ParseError>,
}

impl Sink for All {
    fn event(&mut self, ev: &Event<'_>) {
        let json = serde_json::to_string(ev).expect("event serialises");
        self.events.push((ev.original.line, json));
    }
    fn error(&mut self, err: ParseError) {
        self.errors.push(err);
    }
    fn merge(&mut self, other: Self) {
        self.events.extend(other.events);
        self.errors.extend(other.errors);
    }
}

fn by_reader(path: &Path, format: Option<Format>, o: &ParseOptions) -> (All, ParseStats, Format) {
    let mut r = open_log(path, format, o).expect("opens");
    let mut all = All::default();
    r.for_each_event(|item| match item {
        Ok(ev) => all.event(&ev),
        Err(e) => all.error(e),
    });
    (all, r.stats().clone(), r.parser().format())
}

/// Scans with `threads` and `block`, checks it against the reader; returns
/// whether the scan ran in parallel.
fn same_as_reader(path: &Path, format: Option<Format>, o: &ParseOptions, threads: usize, block: usize) -> bool {
    let (want, want_stats, want_format) = by_reader(path, format, o);
    let scan = ScanOptions::default().with_threads(threads).with_block_size(block);
    let got = scan_log(path, format, o, &scan, All::default).expect("scans");
    let mut events = got.sink.events;
    events.sort_by_key(|(line, _)| *line);
    let mut errors = got.sink.errors;
    errors.sort_by_key(|e| e.line_no);
    let name = path.display();
    assert_eq!(got.format, want_format, "{name}");
    assert_eq!(events.len(), want.events.len(), "{name}: events");
    for (g, w) in events.iter().zip(&want.events) {
        assert_eq!(g, w, "{name}");
    }
    assert_eq!(errors, want.errors, "{name}: errors");
    assert_eq!(got.stats, want_stats, "{name}: stats");
    got.parallel
}

fn temp_file(name: &str, text: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monitor-scan-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("temp file");
    p
}

#[test]
fn corpus_files_parallel_equals_sequential() {
    let Some(c) = corpus() else { return };
    for (rel, format) in [
        ("zeek/dns.opt-basic.tsv.log", Format::ZeekTsv),
        ("zeek/conn.opt-basic.tsv.log", Format::ZeekTsv),
        ("zeek/ssl.known-certs.tsv.log", Format::ZeekTsv),
        ("zeek/dns.docs-examples.json", Format::ZeekJson),
        ("generated/bind/bind-9.18-query.classic.log", Format::BindQuery),
        ("generated/bind/bind-9.18-query.iso8601-utc.log", Format::BindQuery),
        ("suricata/eve.surevego-dns-v1-http-alert.json", Format::SuricataEve),
        ("misc/adguardhome-querylog.excerpt.json", Format::AdGuard),
        ("generated/squid/squid-5.7-access.native.log", Format::SquidNative),
        ("generated/dnsmasq/dnsmasq-2.90-log-queries.log", Format::Dnsmasq),
    ] {
        let path = c.join(rel);
        for block in [64, 300, 4096, 1 << 20] {
            for threads in [1, 2, 3] {
                same_as_reader(&path, Some(format), &opts(), threads, block);
                same_as_reader(&path, None, &opts(), threads, block);
            }
        }
    }
}

const ZEEK_HEAD: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name\trcode_name\tanswers\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tstring\tstring\tvector[string]\n";
const ZEEK_HEAD2: &str =
    "#separator \\x09\n#path\tdns\n#fields\tts\tquery\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\n";

fn zeek_text() -> String {
    let mut t = String::from(ZEEK_HEAD);
    for i in 0..3000u32 {
        match i % 97 {
            13 => t.push_str("garbage line\n"),
            29 => t.push_str(&format!("1795316000.{i:06}\tC{i}\t198.18.0.{}\t53\t192.0.2.53\t53\tudp\tnot-a-number\tx.example\tA\tNOERROR\t-\n", i % 250)),
            41 => t.push_str(&format!("{}\n", "y".repeat(700 + i as usize))), // over the limit below
            _ => t.push_str(&format!(
                "1795316000.{i:06}\tC{i}\t198.18.{}.{}\t{}\t192.0.2.53\t53\tudp\t{}\twww.TikTok.com\tA\tNOERROR\tedge.tiktok.com,198.51.100.{}\r\n",
                i % 200,
                i % 250,
                1024 + i,
                i % 65536,
                i % 250
            )),
        }
        if i == 1700 {
            // a second file appended: another header, other columns
            t.push_str("#close\t2026-11-22-03-00-00\n");
            t.push_str(ZEEK_HEAD2);
        }
        if i == 2400 {
            t.push_str("#close\t2026-11-22-04-00-00\n");
            t.push_str(ZEEK_HEAD);
        }
    }
    t.push_str("1795316999.000001\tCz\t198.18.9.9\t1\t192.0.2.53\t53\tudp\t7\tlast.example\tA\tNOERROR\t-"); // no final newline
    t
}

#[test]
fn zeek_header_changes_and_long_lines_across_blocks() {
    let path = temp_file("dns.log", zeek_text().as_bytes());
    let o = opts().with_max_line_len(1000);
    for block in [64, 200, 1000, 5000, 65536] {
        for threads in [1, 2, 4] {
            let parallel = same_as_reader(&path, None, &o, threads, block);
            assert_eq!(
                parallel,
                threads > 1,
                "block {block}: header changes are tracked, no fallback"
            );
        }
    }
}

#[test]
fn line_numbers_and_offsets_are_right_across_block_boundaries() {
    let text = zeek_text();
    let path = temp_file("dns-lines.log", text.as_bytes());
    let scan = ScanOptions::default().with_threads(3).with_block_size(333);
    let got = scan_log(&path, None, &opts(), &scan, All::default).expect("scans");
    assert!(got.parallel);
    // recompute every event's line from its offset, and compare the line text
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts = vec![0u64];
    for l in &lines {
        starts.push(starts[starts.len() - 1] + l.len() as u64);
    }
    assert!(!got.sink.events.is_empty());
    for (line, json) in &got.sink.events {
        let v: serde_json::Value = serde_json::from_str(json).expect("json");
        let off = v["event.original"]["offset"].as_u64().expect("offset");
        let idx = (*line - 1) as usize;
        assert_eq!(starts[idx], off, "line {line}");
        let q = v["dns.question.name"].as_str().unwrap_or("");
        assert!(lines[idx].to_ascii_lowercase().contains(q), "line {line}: {q}");
    }
    for e in &got.sink.errors {
        assert_eq!(
            starts[(e.line_no - 1) as usize],
            e.byte_offset,
            "error at line {}",
            e.line_no
        );
    }
    assert_eq!(got.stats.lines, lines.len() as u64);
}

#[test]
fn bind_clock_change_falls_back_to_order() {
    // syslog-style times carry no year: Dec → Jan steps it, which a block
    // parsed on its own cannot know; the scan notices and reads in order
    let mut t = String::new();
    for (month, n) in [("Dec", 400), ("Jan", 400)] {
        for i in 0..n {
            t.push_str(&format!(
                "{month} 31 23:59:{:02} ns1 named[1]: client @0x7f 203.0.113.{}#5353 (www.tiktok.com): query: www.tiktok.com IN A + (203.0.113.1)\n",
                i % 60,
                i % 250
            ));
        }
    }
    let path = temp_file("query.log", t.as_bytes());
    let parallel = same_as_reader(&path, Some(Format::BindQuery), &opts(), 2, 1000);
    assert!(!parallel, "the year roll-over is caught and the file read in order");
    // one block: nothing to check
    assert!(same_as_reader(&path, Some(Format::BindQuery), &opts(), 2, 1 << 20));
}

#[test]
fn bind_classic_large_synthetic() {
    let mut t = String::new();
    for i in 0..5000u32 {
        if i % 10 == 0 {
            t.push_str(&format!("22-Nov-2026 02:{:02}:{:02}.{:03} query-errors: info: client @0x7fe822113098 198.18.{}.{}#{} (dns.google): query failed (REFUSED) for dns.google/IN/A at query.c:5708\n", i / 60 % 60, i % 60, i % 1000, i % 200, i % 250, 1024 + i));
        } else if i % 333 == 0 {
            t.push_str(
                "22-Nov-2026 02:00:00.000 queries: info: client @0x7f 198.18.2.300#1 (x): query: x IN A + (203.0.113.53)\n",
            );
        } else {
            t.push_str(&format!("22-Nov-2026 02:{:02}:{:02}.{:03} queries: info: client @0x7fe822113098 198.18.{}.{}#{} (www.tiktok.com): query: www.tiktok.com IN A +E(0)K (203.0.113.53)\n", i / 60 % 60, i % 60, i % 1000, i % 200, i % 250, 1024 + i));
        }
    }
    let path = temp_file("bind-query.log", t.as_bytes());
    for block in [100, 4096, 100_000] {
        assert!(same_as_reader(&path, None, &opts(), 2, block));
    }
}

/// The scan fills one event per block in place, line after line; the
/// reader builds a new one per line. Lines that set many fields alternate
/// with lines that set few (and with bad lines, which leave an event half
/// filled), so a field left over from the line before would show.
#[test]
fn events_filled_in_place_equal_events_built_per_line() {
    let mut zeek = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name\trcode_name\tanswers\n",
    );
    let mut bind = String::new();
    for i in 0..2000u32 {
        zeek.push_str(&match i % 6 {
            0 => format!("1795316000.{i:06}\tC{i}\t198.18.0.{}\t53\t192.0.2.53\t53\tUDP\t{i}\tWWW.TikTok.com.\tHTTPS\tNOERROR\tedge.tiktok.com,198.51.100.7,2001:db8::7,x\\x2cy\n", i % 250),
            1 => "-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n".to_string(),
            2 => format!("XXXXXXXXXX.XXXXXX\tC{i}\tfe80::{i:x}\t5353\tff02::fb\t5353\tudp\t0\tmask.icloud.com\tPTR\t-\tgemini.local\n"),
            3 => format!("1795316000.{i:06}\tC{i}\t198.18.0.1\t99999\t192.0.2.53\t53\tudp\t1\tbad.port\tA\tNOERROR\t1.2.3.4\n"),
            4 => format!("1795316000.{i:06}\tC{i}\t198.18.0.2\t53\t192.0.2.53\t53\ttcp\t2\tdns.google\tA\tNXDOMAIN\t(empty)\n"),
            _ => format!("1795316000.{i:06}\tC{i}\t198.18.0.3\t53\n"),
        });
        bind.push_str(&match i % 5 {
            0 => format!("22-Nov-2026 02:00:{:02}.{:03} queries: info: client @0x7f 198.18.0.{}#{} (www.tiktok.com): query: WWW.tiktok.com IN A +ET (203.0.113.53)\n", i % 60, i % 1000, i % 250, 1024 + i),
            1 => format!("22-Nov-2026 02:00:{:02}.000 query-errors: info: client @0x7f 198.18.1.{}#53 (x.net): query failed (REFUSED) for x.net/IN/AAAA at query.c:5708\n", i % 60, i % 250),
            2 => format!("22-Nov-2026 02:00:{:02}.000 rpz: info: client @0x7f 198.18.2.{}#53 (www.tiktok.com): rpz QNAME NXDOMAIN rewrite www.tiktok.com/A/IN via www.tiktok.com.rpz.local\n", i % 60, i % 250),
            3 => "22-Nov-2026 02:00:00.000 queries: info: client @0x7f 198.18.2.300#1 (x): query: x IN A + (203.0.113.53)\n".to_string(),
            _ => format!("22-Nov-2026 02:00:{:02}.000 security: info: client @0x7f 198.18.3.{}#53 (a.b): query (cache) 'a.b/A/IN' denied\n", i % 60, i % 250),
        });
    }
    let zeek = temp_file("dns-in-place.log", zeek.as_bytes());
    let bind = temp_file("bind-in-place.log", bind.as_bytes());
    for block in [64, 1000, 1 << 20] {
        for threads in [1, 2] {
            same_as_reader(&zeek, None, &opts(), threads, block);
            same_as_reader(&bind, Some(Format::BindQuery), &opts(), threads, block);
        }
    }
}
