//! Scans each corpus APK: `manifest` (read_manifest: central directory +
//! AndroidManifest.xml), `core` (manifest + certificates + DEX, no URL
//! extraction from resources) and `full` (default options).
//!
//! Run: `CARGO_BUILD_JOBS=1 cargo bench -p appscan --bench scan`.
//! The corpus is `../shared/corpus/apk` (or `$APPWARDEN_SHARED/corpus/apk`);
//! without it the bench prints why and does nothing.

use std::path::PathBuf;

use appscan::{scan_path, Limits, ScanOptions};
use criterion::{criterion_group, criterion_main, Criterion};

fn corpus() -> Option<Vec<PathBuf>> {
    let shared = std::env::var_os("APPWARDEN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let dir = shared.join("corpus/apk");
    let mut apks: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "apk"))
        .collect();
    apks.sort();
    Some(apks)
}

fn bench(c: &mut Criterion) {
    let Some(apks) = corpus() else {
        eprintln!("scan bench: corpus not found, nothing to measure (set APPWARDEN_SHARED)");
        return;
    };
    let limits = Limits::default();
    let core = ScanOptions {
        resources: false,
        ..ScanOptions::default()
    };
    let full = ScanOptions::default();
    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    for apk in &apks {
        let name = apk
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        g.bench_function(format!("manifest/{name}"), |b| {
            b.iter(|| appscan::android::read_manifest(apk, &limits).expect("manifest"))
        });
        g.bench_function(format!("core/{name}"), |b| {
            b.iter(|| scan_path(apk, &core).expect("scan"))
        });
        g.bench_function(format!("full/{name}"), |b| {
            b.iter(|| scan_path(apk, &full).expect("scan"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
