//! Times `android::read_manifest` (the manifest path, what androguard's `APK()`
//! does) and `scan_path` (full analysis) per APK, median of N runs, and prints
//! one JSON line per file with the manifest facts, for `scripts/bench-vs-androguard.sh`.
//!
//! Usage: `scan_timing ITER FILE...`

use std::time::Instant;

use appscan::{scan_path, ScanOptions};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iter: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let full = ScanOptions::default();
    let limits = appscan::Limits::default();
    for path in args {
        let p = std::path::Path::new(&path);
        let mut t_full = Vec::new();
        let mut t_man = Vec::new();
        let mut report = None;
        // Separate loops, so that the full scans' allocations do not disturb
        // the manifest timings.
        for _ in 0..iter {
            let t = Instant::now();
            report = Some(scan_path(p, &full).expect("scan"));
            t_full.push(t.elapsed().as_secs_f64());
        }
        for _ in 0..iter {
            let t = Instant::now();
            let _ = appscan::android::read_manifest(p, &limits).expect("manifest");
            t_man.push(t.elapsed().as_secs_f64());
        }
        let r = report.expect("at least one run");
        let m = &r.android.as_ref().expect("android").manifest;
        let facts = serde_json::json!({
            "package": m.package,
            "version_name": m.version_name,
            "version_code": m.version_code,
            "min_sdk": m.min_sdk,
            "target_sdk": m.target_sdk,
            "permissions": m.permissions,
        });
        println!(
            "{}",
            serde_json::json!({
                "file": p.file_name().map(|f| f.to_string_lossy().into_owned()),
                "median_full_s": median(t_full),
                "median_manifest_s": median(t_man),
                "facts": facts,
            })
        );
    }
}
