//! `appwarden alerts list|show|ack` over a store written through the store API.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use store::alerts::{AlertRecord, AlertStore, EngineCommit, NewOutboxRow};
use support::{appwarden, stderr, stdout, tempdir};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn record(fp: &str, app: &str, status: &str, last_seen_ms: u64) -> AlertRecord {
    AlertRecord {
        fingerprint: fp.into(),
        status: status.into(),
        labels: labels(&[
            ("alertname", "AppUse"),
            ("app", app),
            ("client", "192.0.2.7"),
            ("device", "laptop-7"),
            ("group", "staff"),
            ("severity", "critical"),
        ]),
        annotations: labels(&[("summary", &format!("laptop-7 used {app}"))]),
        starts_ms: 1_700_000_000_000,
        ends_ms: (status == "resolved").then_some(last_seen_ms + 300_000),
        last_seen_ms,
        total: 12,
        blocked: 9,
        got_through: 3,
        unknown: 0,
        evidence: vec![
            "/var/log/named/query.log:41".into(),
            "query-log:1700000000000:192.0.2.7".into(),
        ],
        bypass_indicators: vec![],
        active: status == "firing",
        ack: None,
        updated_ms: last_seen_ms,
    }
}

fn seed(dir: &Path) {
    let mut s = AlertStore::open(dir).expect("open store");
    s.commit(&EngineCommit {
        alerts: vec![
            record(
                "ab12cd34ef56ab12cd34ef56ab12cd34",
                "tiktok",
                "firing",
                1_700_000_100_000,
            ),
            record(
                "ab99000000000000000000000000ffff",
                "douyin",
                "resolved",
                1_700_000_050_000,
            ),
            record(
                "0123456789abcdef0123456789abcdef",
                "signal",
                "firing",
                1_600_000_000_000,
            ),
        ],
        outbox: vec![NewOutboxRow {
            notification_id: "n-1".into(),
            receiver: "secops".into(),
            sink: "webhook:https://hooks.example/x".into(),
            group_key: "{app=\"tiktok\"}".into(),
            status: "firing".into(),
            notification: "{}".into(),
            fingerprints: vec!["ab12cd34ef56ab12cd34ef56ab12cd34".into()],
            created_ms: 1_700_000_000_500,
        }],
        ..EngineCommit::default()
    })
    .expect("commit");
    s.outbox_sent(1, 2, 1_700_000_001_000).expect("mark sent");
}

#[test]
fn list_filters_and_formats() {
    let dir = tempdir("alerts-list");
    seed(&dir);
    let d = dir.to_str().expect("utf-8 path");
    let o = appwarden(&["alerts", "list", "--data-dir", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("FINGERPRINT"), "{out}");
    assert!(
        out.contains("ab12cd34ef56") && out.contains("tiktok") && out.contains("laptop-7"),
        "{out}"
    );
    assert!(out.contains("12 (9b/3g/0u)"), "{out}");
    assert!(out.contains("3 alert(s)"), "{out}");
    // most recently seen first
    let tiktok = out.find("tiktok").expect("tiktok");
    let signal = out.find("signal").expect("signal");
    assert!(tiktok < signal);

    let o = appwarden(&["alerts", "list", "--data-dir", d, "--status", "resolved"]);
    let out = stdout(&o);
    assert!(out.contains("douyin") && !out.contains("tiktok"), "{out}");

    let o = appwarden(&["alerts", "list", "--data-dir", d, "--app", "whatsapp"]);
    assert_eq!(stdout(&o).trim(), "no alerts");

    let o = appwarden(&[
        "alerts",
        "list",
        "--data-dir",
        d,
        "--since",
        "2023-11-01",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let apps: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["labels"]["app"].as_str())
        .collect();
    assert_eq!(apps, ["tiktok", "douyin"], "signal was last seen in 2020");

    let o = appwarden(&["alerts", "list", "--data-dir", d, "--since", "last week"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--since"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_and_ack() {
    let dir = tempdir("alerts-show");
    seed(&dir);
    let d = dir.to_str().expect("utf-8 path");
    let o = appwarden(&["alerts", "show", "ab12", "--data-dir", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "ab12cd34ef56ab12cd34ef56ab12cd34",
        "status       firing",
        "laptop-7 used tiktok",
        "device         laptop-7",
        "12 detection(s): 9 blocked, 3 got through, 0 unknown",
        "/var/log/named/query.log:41",
        "query-log:1700000000000:192.0.2.7",
        "secops → webhook:https://hooks.example/x",
        "sent  2 attempt(s)",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // ambiguous and unknown prefixes
    let o = appwarden(&["alerts", "show", "ab", "--data-dir", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ambiguous"), "{}", stderr(&o));
    let o = appwarden(&["alerts", "show", "ffff", "--data-dir", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no alert"), "{}", stderr(&o));

    let o = appwarden(&[
        "alerts",
        "ack",
        "AB12",
        "--by",
        "alice",
        "--comment",
        "known device",
        "--data-dir",
        d,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("acknowledged ab12cd34ef56ab12cd34ef56ab12cd34"),
        "{}",
        stdout(&o)
    );
    let o = appwarden(&["alerts", "list", "--data-dir", d, "--status", "firing"]);
    assert!(stdout(&o).contains("firing (acked)"), "{}", stdout(&o));
    let o = appwarden(&["alerts", "show", "ab12", "--data-dir", d, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["alert"]["ack"]["by"], "alice");
    assert_eq!(v["alert"]["ack"]["comment"], "known device");
    assert_eq!(v["deliveries"][0]["state"], "sent");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_data_dir_is_an_error() {
    let dir = tempdir("alerts-none");
    let missing = dir.join("nothing-here");
    let o = appwarden(&["alerts", "list", "--data-dir", missing.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no appwarden data"), "{}", stderr(&o));
    assert!(!missing.exists(), "listing does not create the directory");
    let _ = std::fs::remove_dir_all(&dir);
}
