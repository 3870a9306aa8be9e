//! Parses log files and prints events as JSON lines (or only counts them).
//!
//! ```text
//! cargo run --release --example parse_file -- [--count] [--scan] [--format NAME] [--year Y] FILE...
//! ```
//!
//! `--scan` counts events with [`monitor::scan_log`] (blocks parsed on all cores)
//! instead of printing them.

use monitor::{open_log, scan_log, Event, Format, ParseError, ParseOptions, ScanOptions, Sink};
use std::io::Write;
use std::time::Instant;

/// Counts events (for `--scan`).
#[derive(Default)]
struct Count(u64);

impl Sink for Count {
    fn event(&mut self, _: &Event<'_>) {
        self.0 += 1;
    }
    fn error(&mut self, _: ParseError) {}
    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }
}

fn main() {
    let mut count_only = false;
    let mut scan = false;
    let mut format = None;
    let mut opts = ParseOptions::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count_only = true,
            "--scan" => scan = true,
            "--format" => format = args.next().and_then(|n| Format::from_name(&n)),
            "--year" => {
                if let Some(y) = args.next().and_then(|y| y.parse().ok()) {
                    opts = opts.with_year(y);
                }
            }
            _ => files.push(a),
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for f in files {
        let started = Instant::now();
        if scan {
            match scan_log(
                std::path::Path::new(&f),
                format,
                &opts,
                &ScanOptions::default(),
                Count::default,
            ) {
                Ok(r) => {
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "{f}: format={} lines={} events={} errors={} parallel={} {:.3}s {:.1} MB/s",
                        r.format,
                        r.stats.lines,
                        r.sink.0,
                        r.stats.error_count(),
                        r.parallel,
                        secs,
                        r.stats.bytes as f64 / 1e6 / secs.max(1e-9)
                    );
                }
                Err(e) => {
                    eprintln!("{e}");
                    failed = true;
                }
            }
            continue;
        }
        let mut reader = match open_log(std::path::Path::new(&f), format, &opts) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        let mut events = 0u64;
        reader.for_each_event(|r| match r {
            Ok(ev) => {
                events += 1;
                if !count_only {
                    let _ = serde_json::to_writer(&mut out, &ev);
                    let _ = out.write_all(b"\n");
                }
            }
            Err(e) => eprintln!("{e}"),
        });
        let secs = started.elapsed().as_secs_f64();
        let st = reader.stats();
        eprintln!(
            "{f}: format={} lines={} events={} errors={} skipped={} bytes={} {:.3}s {:.1} MB/s",
            reader.parser().format(),
            st.lines,
            events,
            st.error_count(),
            st.skipped_count(),
            st.bytes,
            secs,
            st.bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    let _ = out.flush();
    if failed {
        std::process::exit(1);
    }
}
