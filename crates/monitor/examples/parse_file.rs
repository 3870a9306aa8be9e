//! Parses log files and prints events as JSON lines (or only counts them).
//!
//! ```text
//! cargo run --release --example parse_file -- [--count] [--format NAME] [--year Y] FILE...
//! ```

use monitor::{open_log, Format, ParseOptions};
use std::io::Write;
use std::time::Instant;

fn main() {
    let mut count_only = false;
    let mut format = None;
    let mut opts = ParseOptions::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count_only = true,
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
