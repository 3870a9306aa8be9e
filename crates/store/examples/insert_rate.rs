//! Measures how many query-log rows per second the writer stores:
//! `cargo run --release -p appwarden-store --example insert_rate [ROWS]`.

use std::time::{Duration, Instant};

fn main() {
    let rows: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let dir = std::env::temp_dir().join(format!("appwarden-insert-rate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (sink, handle) = store::start_query_log(store::WriterConfig {
        tap: None,
        dir: dir.clone(),
        queue: 1 << 20,
        batch: 2048,
        flush_every: Duration::from_millis(200),
        retention_days: 30,
    })
    .expect("open");
    let t0 = Instant::now();
    for i in 0..rows {
        sink.emit_batched(store::QueryEvent {
            time_ms: store::now_ms(),
            client: std::net::IpAddr::from([10, 0, 0, (i % 200) as u8]), // 200 devices
            group: "corporate".into(),
            qname: format!("host{}.bench-{}.benchtld", i % 1000, i % 5),
            qtype: 1,
            decision: store::QueryDecision::Allowed,
            reason: None,
            rule: None,
            app: None,
            category: None,
            rcode: 0,
            upstream: None,
            latency_us: 40,
            cache_hit: true,
            transport: store::Transport::Udp,
        });
    }
    sink.flush_local();
    let queued = t0.elapsed();
    drop(sink);
    handle.join().expect("writer");
    let total = t0.elapsed();
    println!(
        "{rows} rows: queued in {queued:?} ({:.2} µs/row), stored in {total:?} ({:.2} µs/row, {:.0} rows/s)",
        queued.as_secs_f64() * 1e6 / rows as f64,
        total.as_secs_f64() * 1e6 / rows as f64,
        rows as f64 / total.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
