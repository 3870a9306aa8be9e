//! Scans one package and prints the report as JSON (what `appwarden scan` will do).
//!
//! Usage: `scan FILE.apk|FILE.xapk|FILE.apks|FILE.ipa`

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scan FILE");
        return std::process::ExitCode::from(2);
    };
    match appscan::scan_path(path.as_ref(), &appscan::ScanOptions::default()) {
        Ok(r) => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scan failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
