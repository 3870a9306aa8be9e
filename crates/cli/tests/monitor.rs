//! `appwarden monitor scan` on the shared log corpus, as a user runs it.

use std::path::PathBuf;

mod support;
use support::{appwarden, stderr, stdout, tempdir};

/// `$APPWARDEN_SHARED/corpus/logs` or `<crate>/../../../shared/corpus/logs`; `None` (with a
/// note) when absent, a panic instead when `APPWARDEN_REQUIRE_TOOLS=1`.
fn corpus() -> Option<PathBuf> {
    let shared = std::env::var_os("APPWARDEN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let dir = shared.join("corpus/logs");
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!("corpus not found at {}", dir.display());
    if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("skipping: {why}");
    None
}

const AS_OF: &str = "2026-11-22";

fn files(c: &std::path::Path) -> (String, String) {
    (
        c.join("generated/unbound/unbound-1.17-log-queries-replies.tagged-ascii.log")
            .display()
            .to_string(),
        c.join("generated/squid/squid-5.7-access.native.log")
            .display()
            .to_string(),
    )
}

#[test]
fn scan_json_reports_per_client_and_app_and_is_deterministic() {
    let Some(c) = corpus() else { return };
    let (unbound, squid) = files(&c);
    let args = [
        "monitor",
        "scan",
        &unbound,
        &squid,
        "--as-of",
        AS_OF,
        "--format-out",
        "json",
    ];
    let o = appwarden(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = appwarden(&args);
    assert_eq!(o.stdout, again.stdout, "same input, same bytes");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["report"], "appwarden-monitor-scan/1");
    let files = v["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["format"], "unbound");
    assert_eq!(
        (files[0]["events"].as_u64(), files[0]["flagged"].as_u64()),
        (Some(29), Some(25))
    );
    assert_eq!(files[0]["errors"], 0);
    assert_eq!(
        (files[1]["format"].as_str(), files[1]["flagged"].as_u64()),
        (Some("squid_native"), Some(5))
    );
    let findings = v["findings"].as_array().expect("findings");
    let find = |app: &str| {
        findings
            .iter()
            .find(|f| f["app"] == app && f["client"] == "127.0.0.1")
            .unwrap_or_else(|| panic!("no finding for {app}: {findings:?}"))
    };
    // Unbound: 13 TikTok events (2 blocked, 5 answered); Squid: 4 denied
    let tiktok = find("tiktok");
    assert_eq!(tiktok["kind"], "app-use");
    assert_eq!(tiktok["group"], "corporate");
    assert_eq!(tiktok["action"], "block");
    assert_eq!(tiktok["category"], "social-video");
    assert_eq!(tiktok["reason"]["kind"], "decision");
    assert_eq!(
        (tiktok["count"].as_u64(), tiktok["blocked"].as_u64()),
        (Some(17), Some(6))
    );
    assert_eq!(tiktok["got_through"], 5);
    assert_eq!(tiktok["first_seen"], "2026-11-22T02:54:39Z");
    assert_eq!(tiktok["last_seen"], "2026-11-22T02:55:02.270Z");
    let ex = tiktok["examples"][0].as_str().expect("example");
    assert!(
        ex.ends_with("unbound-1.17-log-queries-replies.tagged-ascii.log:3"),
        "{ex}"
    );
    let canary = find("firefox-canary");
    assert_eq!(
        (canary["kind"].as_str(), canary["bypass_method"].as_str()),
        (Some("bypass"), Some("canary"))
    );
    assert_eq!(canary["reason"]["kind"], "bypass");
    let google = find("doh-google");
    assert_eq!(google["count"], 3); // two Unbound lines, one proxy CONNECT
    assert_eq!(findings.len(), 5, "{findings:?}");
    assert_eq!(v["totals"]["flagged_events"], 30);
    assert_eq!(v["totals"]["parse_errors"], 0);
}

#[test]
fn scan_table_names_clients_from_the_device_map() {
    let Some(c) = corpus() else { return };
    let (unbound, _) = files(&c);
    let dir = tempdir("devices");
    let devices = dir.join("devices.csv");
    std::fs::write(&devices, "ip_or_mac,device,user\n127.0.0.1,kiosk-7,bob\n").expect("write");
    let o = appwarden(&[
        "monitor",
        "scan",
        &unbound,
        "--as-of",
        AS_OF,
        "--devices",
        &devices.display().to_string(),
        "--since",
        "2026-11-22",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("CLIENT"), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("kiosk-7") && l.contains(" tiktok "))
        .unwrap_or_else(|| panic!("no kiosk-7 tiktok row:\n{out}"));
    assert!(
        row.contains("bob") && row.contains("app-use") && row.contains("block"),
        "{row}"
    );
    assert!(out.contains("25 flagged event(s)"), "{out}");
    // --since after the log: nothing is flagged
    let late = appwarden(&[
        "monitor",
        "scan",
        &unbound,
        "--as-of",
        AS_OF,
        "--since",
        "2026-11-23T00:00:00Z",
    ]);
    assert!(late.status.success(), "{}", stderr(&late));
    assert!(stdout(&late).contains("0 flagged event(s)"), "{}", stdout(&late));
}

#[test]
fn malformed_lines_are_counted_not_fatal_and_missing_files_fail() {
    let Some(c) = corpus() else { return };
    let dir = tempdir("malformed");
    let good = std::fs::read_to_string(c.join("generated/bind/bind-9.18-query.classic.log")).expect("read");
    let bad = format!(
        "{good}22-Nov-2026 02:54:52.000 queries: info: client @0x7f 300.0.0.1#1 (x.tiktok.com): query: x.tiktok.com IN A +E(0)K (127.0.0.1)\n\
         22-Nov-2026 99:61:52.000 queries: info: client @0x7f 203.0.113.1#1 (y.tiktok.com): query: y.tiktok.com IN A +E(0)K (127.0.0.1)\n"
    );
    let path = dir.join("query.log");
    std::fs::write(&path, bad).expect("write");
    let p = path.display().to_string();
    let o = appwarden(&[
        "monitor",
        "scan",
        &p,
        "--format",
        "bind",
        "--as-of",
        AS_OF,
        "--format-out",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let f = &v["files"][0];
    assert_eq!(f["errors"], 2, "{f}");
    assert_eq!(f["events"], 13);
    assert_eq!(f["flagged"], 12);
    let kinds = f["errors_by_kind"].as_object().expect("by kind");
    assert_eq!(kinds.values().filter_map(|n| n.as_u64()).sum::<u64>(), 2, "{kinds:?}");
    assert_eq!(f["error_examples"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["totals"]["parse_errors"], 2);

    let md = appwarden(&[
        "monitor",
        "scan",
        &p,
        "--format",
        "bind",
        "--as-of",
        AS_OF,
        "--format-out",
        "markdown",
    ]);
    assert!(md.status.success(), "{}", stderr(&md));
    assert!(stdout(&md).contains("| CLIENT |"), "{}", stdout(&md));

    let missing = dir.join("nope.log").display().to_string();
    let o = appwarden(&["monitor", "scan", &p, &missing, "--as-of", AS_OF]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nope.log"), "{}", stderr(&o));
    let o = appwarden(&["monitor", "scan", &p, "--format", "nonsense"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
