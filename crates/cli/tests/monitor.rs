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

/// Findings are one per (client, app) in client-then-app order, however the
/// work was split: several files (the same file twice), two workers, a
/// device name that reads like another client's address (merged with it),
/// device names that differ only after their 32nd byte.
#[test]
fn scan_merges_and_orders_findings_across_files_and_workers() {
    let dir = tempdir("merge-order");
    let mut log = String::new();
    for i in 0..40_000u32 {
        // more than one 2 MiB block: both workers get lines
        let client = format!("198.18.{}.{}", i % 3, i % 7);
        let name = ["www.tiktok.com", "dns.google", "mask.icloud.com", "www.example.org"][(i % 4) as usize];
        log.push_str(&format!(
            "22-Nov-2026 02:{:02}:{:02}.317 queries: info: client @0x7f01 {client}#{} ({name}): query: {name} IN A +E(0)K (192.0.2.53)\n",
            i / 60 % 60,
            i % 60,
            1024 + i
        ));
    }
    let path = dir.join("query.log");
    std::fs::write(&path, log).expect("write");
    let long = "a-device-name-longer-than-thirty-two-bytes-";
    let devices = dir.join("devices.csv");
    std::fs::write(
        &devices,
        format!(
            "ip_or_mac,device,user\n198.18.0.1,198.18.0.2,bob\n198.18.1.1,{long}2,\n198.18.1.2,{long}1,\n198.18.2.3,{long}1,eve\n"
        ),
    )
    .expect("write");
    let p = path.display().to_string();
    let d = devices.display().to_string();
    let args = [
        "monitor",
        "scan",
        &p,
        &p,
        "--devices",
        &d,
        "--as-of",
        AS_OF,
        "--format-out",
        "json",
    ];
    let o = appwarden(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, appwarden(&args).stdout, "same input, same bytes");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let findings = v["findings"].as_array().expect("findings");
    let keys: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["client"].as_str().unwrap_or("").to_string(),
                f["app"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "sorted by client then app, one finding each");
    let count = |client: &str, app: &str| {
        findings
            .iter()
            .find(|f| f["client"] == client && f["app"] == app)
            .and_then(|f| f["count"].as_u64())
            .unwrap_or(0)
    };
    // every (client, app) is seen in both copies of the file; 198.18.0.1 is
    // named "198.18.0.2" and counted with that address
    let per_ip = |a: u32, b: u32| {
        (0..40_000u32)
            .filter(|i| i % 3 == a && i % 7 == b && i % 4 == 0)
            .count() as u64
            * 2
    };
    assert_eq!(count("198.18.0.2", "tiktok"), per_ip(0, 1) + per_ip(0, 2));
    assert_eq!(count(&format!("{long}1"), "tiktok"), per_ip(1, 2) + per_ip(2, 3));
    assert_eq!(count(&format!("{long}2"), "tiktok"), per_ip(1, 1));
    let total: u64 = findings.iter().filter_map(|f| f["count"].as_u64()).sum();
    assert_eq!(v["totals"]["flagged_events"].as_u64(), Some(total));
    // the earliest detection names the finding; examples are the first lines of the first file
    let f = findings
        .iter()
        .find(|f| f["client"] == "198.18.0.2" && f["app"] == "tiktok")
        .expect("finding");
    assert_eq!(f["user"], "bob");
    let ex: Vec<&str> = f["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert_eq!(ex.len(), 3);
    assert!(ex.iter().all(|e| e.starts_with(p.as_str())), "{ex:?}");
}
