//! Runs appscan's tracker matcher and the εxodus reference method on each
//! APK given and prints where they agree and differ (for docs/appscan.md).
//!
//! Usage: `tracker_compare FILE.apk...`

use appscan::{scan_path, ScanOptions, TrackerDb};

fn main() {
    let opts = ScanOptions {
        exodus_reference: true,
        ..ScanOptions::default()
    };
    let db = TrackerDb::embedded();
    for path in std::env::args().skip(1) {
        let r = scan_path(path.as_ref(), &opts).expect("scan");
        let reference = r.exodus_reference.clone().unwrap_or_default();
        println!("## {}", r.input.file_name.clone().unwrap_or_default());
        let mut ids: std::collections::BTreeSet<u32> = reference.keys().copied().collect();
        ids.extend(r.trackers.iter().map(|t| t.id));
        if ids.is_empty() {
            println!("(no tracker from either method)");
        }
        for id in ids {
            let name = db
                .trackers
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.name.as_str())
                .unwrap_or("?");
            let ours = r.trackers.iter().find(|t| t.id == id);
            let theirs = reference.get(&id);
            println!(
                "{id}\t{name}\tappscan={}\texodus={}",
                ours.map(|t| format!("{:?} via {:?} e.g. {:?}", t.confidence, t.methods, t.examples))
                    .unwrap_or_else(|| "-".into()),
                theirs
                    .map(|(c, n)| format!("code={c} network={n}"))
                    .unwrap_or_else(|| "-".into()),
            );
            if let Some(t) = db.trackers.iter().find(|t| t.id == id) {
                println!(
                    "\t\tcode_signature={:?} network_signature={:?}",
                    t.code_signature, t.network_signature
                );
            }
        }
    }
}
