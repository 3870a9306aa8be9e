//! Throughput (MB/s) of the hot parsers on synthetic data built from the
//! real line shapes of the shared corpus (Zeek dns.log TSV, BIND query log).
//!
//! `CARGO_BUILD_JOBS=1 cargo bench --bench parse`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use monitor::{scan_reader, Event, EventReader, Format, ParseError, ParseOptions, Parser, Sink};
use std::hint::black_box;

const ZEEK_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2026-11-22-02-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n";

const NAMES: [&str; 8] = [
    "upload.wikimedia.org",
    "www.tiktok.com",
    "api16-normal-c-useast1a.tiktokv.com",
    "meta.wikimedia.org",
    "mask.icloud.com",
    "dns.google",
    "v16m.tiktokcdn.com",
    "www.example.org",
];

/// Small deterministic generator so runs are comparable.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

fn zeek_dns(bytes: usize) -> Vec<u8> {
    let mut out = ZEEK_HEADER.as_bytes().to_vec();
    let mut s = 1u64;
    let mut ts = 1_795_316_000u64;
    while out.len() < bytes {
        let r = lcg(&mut s);
        ts += r % 3;
        let name = NAMES[(r % 8) as usize];
        let line = match r % 3 {
            0 => format!("{ts}.{:06}\tC{r:x}\t198.18.{}.{}\t{}\t192.0.2.53\t53\tudp\t{}\t0.000392\t{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tedge.{name},198.51.100.{}\t124.000000,2156.000000\tF\n", r % 1_000_000, r % 200, r % 250, 1024 + r % 60000, r % 65536, r % 250),
            1 => format!("{ts}.{:06}\tC{r:x}\t198.18.{}.{}\t{}\t192.0.2.53\t53\tudp\t{}\t-\t{name}\t1\tC_INTERNET\t28\tAAAA\t3\tNXDOMAIN\tF\tF\tT\tF\t0\t-\t-\tF\n", r % 1_000_000, r % 200, r % 250, 1024 + r % 60000, r % 65536),
            _ => format!("{ts}.{:06}\tC{r:x}\tfe80::217:f2ff:fed7:{:x}\t5353\tff02::fb\t5353\tudp\t0\t-\t{name}\t-\t-\t-\t-\t0\tNOERROR\tT\tF\tF\tF\t0\tgemini.local\t120.000000\tF\n", r % 1_000_000, r % 65536),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn bind_query(bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = 7u64;
    let mut ms = 0u64;
    while out.len() < bytes {
        let r = lcg(&mut s);
        ms += r % 40;
        let (sec, milli) = ((ms / 1000) % 60, ms % 1000);
        let min = (ms / 60_000) % 60;
        let name = NAMES[(r % 8) as usize];
        let line = if r % 10 == 0 {
            format!("22-Nov-2026 02:{min:02}:{sec:02}.{milli:03} query-errors: info: client @0x7fe822113098 198.18.{}.{}#{} ({name}): query failed (REFUSED) for {name}/IN/A at query.c:5708\n", r % 200, r % 250, 1024 + r % 60000)
        } else {
            let qt = ["A", "AAAA", "HTTPS"][(r % 3) as usize];
            format!("22-Nov-2026 02:{min:02}:{sec:02}.{milli:03} queries: info: client @0x7fe822113098 198.18.{}.{}#{} ({name}): query: {name} IN {qt} +E(0)K (192.0.2.53)\n", r % 200, r % 250, 1024 + r % 60000)
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Counts question-name bytes, like the other benches.
struct Count(u64);

impl Sink for Count {
    fn event(&mut self, ev: &Event<'_>) {
        self.0 += ev.dns_question_name.as_deref().map_or(0, |q| q.len() as u64);
    }
    fn error(&mut self, _: ParseError) {}
    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }
}

fn bench_format(c: &mut Criterion, name: &str, format: Format, data: &[u8]) {
    let opts = ParseOptions::default().with_year(2026);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("parse_line", |b| {
        b.iter(|| {
            let mut p = Parser::new(format, &opts);
            let mut n = 0u64;
            let mut off = 0u64;
            for (i, line) in data.split_inclusive(|b| *b == b'\n').enumerate() {
                if let Some(Ok(ev)) = p.parse_line(line, i as u64 + 1, off) {
                    n += ev.dns_question_name.as_deref().map_or(0, |q| q.len() as u64);
                }
                off += line.len() as u64;
            }
            black_box(n)
        })
    });
    g.bench_function("event_reader", |b| {
        b.iter(|| {
            let mut r = EventReader::new(data, Parser::new(format, &opts), &opts);
            let mut n = 0u64;
            r.for_each_event(|ev| {
                if let Ok(ev) = ev {
                    n += ev.dns_question_name.as_deref().map_or(0, |q| q.len() as u64);
                }
            });
            black_box(n)
        })
    });
    // the block path of `scan_log` (one thread): lines found in 2 MiB blocks
    g.bench_function("scan_blocks", |b| {
        b.iter(|| {
            let (sink, _) = scan_reader(data, Parser::new(format, &opts), &opts, 2 << 20, Count(0));
            black_box(sink.0)
        })
    });
    g.finish();
}

fn parse(c: &mut Criterion) {
    let zeek = zeek_dns(32 << 20);
    let bind = bind_query(32 << 20);
    bench_format(c, "zeek_dns_tsv", Format::ZeekTsv, &zeek);
    bench_format(c, "bind_query", Format::BindQuery, &bind);
}

criterion_group!(benches, parse);
criterion_main!(benches);
