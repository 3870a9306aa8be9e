//! `appwarden scan` and `appwarden assess --with-scan` on the real corpus APKs
//! of `../shared/corpus/apk` (or `$APPWARDEN_SHARED/corpus/apk`). Without the
//! corpus the corpus tests say why on stderr and pass, unless
//! `APPWARDEN_REQUIRE_TOOLS=1`, which makes a missing corpus a failure.

use std::path::PathBuf;
use std::process::Output;

mod support;
use support::{appwarden, stderr, stdout, tempdir};

const YOSEMITE: &str = "airtest-1.4.3_Yosemite.apk";
const POCO: &str = "pocoui-1.0.94_pocoservice-debug.apk";
const AS_OF: &str = "2026-03-01";

/// The corpus APK `name`, or `None` (after saying why) when the corpus is missing.
fn corpus(test: &str, name: &str) -> Option<String> {
    let shared = std::env::var_os("APPWARDEN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let path = shared.join("corpus/apk").join(name);
    if path.is_file() {
        return Some(path.to_str().expect("utf-8 path").to_string());
    }
    let why = format!("{test}: skipped, {} not found (set APPWARDEN_SHARED)", path.display());
    if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{why}; APPWARDEN_REQUIRE_TOOLS=1 makes this a failure");
    }
    eprintln!("{why}");
    None
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

fn factor<'a>(assessment: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    assessment["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .find(|f| f["id"] == id)
        .expect("factor present")
}

/// A catalog overlay with an app whose Android identifier is Yosemite's package.
fn yosemite_overlay() -> PathBuf {
    let dir = tempdir("overlay");
    std::fs::write(
        dir.join("yosemite.toml"),
        r#"[[source]]
id = "yosemite-test-source"
url = "https://example.org/yosemite"
title = "A test source about Yosemite"
date = 2025-01-01
kind = "security-research"

[[app]]
id = "yosemite-test"
name = "Yosemite (test entry)"
categories = ["social-video"]

[[app.identifier]]
platform = "android"
value = "com.netease.nie.yosemite"
sources = ["yosemite-test-source"]

[[app.factor]]
id = "F2"
score = 1
rationale = "The catalog says one sensitive permission."
sources = ["yosemite-test-source"]

[[app.factor]]
id = "F3"
score = 4
rationale = "The catalog says many trackers and data brokers."
sources = ["yosemite-test-source"]
"#,
    )
    .expect("write overlay");
    dir
}

#[test]
fn scan_shows_capabilities_and_the_ad_hoc_assessment() {
    let Some(apk) = corpus("scan_shows_capabilities_and_the_ad_hoc_assessment", YOSEMITE) else {
        return;
    };
    let o = appwarden(&["scan", &apk, "--profile", "bank", "--as-of", AS_OF]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for needle in [
        "com.netease.nie.yosemite",
        "android.permission.READ_SMS",
        "android.permission.RECORD_AUDIO",
        "android.permission.CAMERA",
        "android.permission.ACCESS_FINE_LOCATION",
        "Exported components",
        "Signing and flags",
        "debuggable true",
        "Sensitive API uses",
        "Google Analytics (εxodus 48) — medium confidence",
        "www.google-analytics.com",
        "F5 high android.debuggable",
        "not an identifier of any catalog app",
        "Risk register",
        "DECISION",
        "static analysis of f888b95773d505c1640493d0482ec3d9e5a87b8c3796ba63a2a65b7a87f108e1",
    ] {
        assert!(s.contains(needle), "scan output lacks {needle:?}:\n{s}");
    }

    let o = appwarden(&[
        "scan",
        &apk,
        "--profile",
        "bank",
        "--as-of",
        AS_OF,
        "--format",
        "markdown",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.starts_with("# Static analysis: com.netease.nie.yosemite"), "{md}");
    assert!(
        md.contains("## Dangerous permissions") && md.contains("# Risk register"),
        "{md}"
    );
}

#[test]
fn scan_json_is_deterministic_and_cites_the_scan() {
    let Some(apk) = corpus("scan_json_is_deterministic_and_cites_the_scan", YOSEMITE) else {
        return;
    };
    let args = ["scan", &apk, "--profile", "bank", "--as-of", AS_OF, "--format", "json"];
    let first = appwarden(&args);
    let second = appwarden(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(first.stdout, second.stdout, "two runs must give identical bytes");
    let v = json(&first);
    let sha = v["scan"]["input"]["sha256"].as_str().expect("sha256").to_string();
    assert_eq!(v["scan"]["android"]["manifest"]["package"], "com.netease.nie.yosemite");
    assert!(v["identity"]["catalog_app"].is_null());
    let a = &v["assessment"];
    assert_eq!(a["app"], "com.netease.nie.yosemite");
    assert_eq!(a["stamp"]["scans"], serde_json::json!([sha]));
    let f2 = factor(a, "F2");
    assert_eq!(f2["value"], 4);
    let title = format!("static analysis of {sha}, appwarden-appscan");
    assert!(
        f2["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e["kind"] == "static-analysis" && e["title"].as_str().is_some_and(|t| t.starts_with(&title))),
        "{f2}"
    );
    // F1 is partial: alone it does not set a value
    assert!(factor(a, "F1")["value"].is_null());
    // F6 and F7 have no catalog facts for an ad-hoc app
    assert!(factor(a, "F6")["value"].is_null());
    assert!(factor(a, "F7")["value"].is_null());
}

#[test]
fn scan_of_a_catalog_app_merges_and_never_lowers() {
    let Some(apk) = corpus("scan_of_a_catalog_app_merges_and_never_lowers", YOSEMITE) else {
        return;
    };
    let overlay = yosemite_overlay();
    let ov = overlay.to_str().expect("utf-8");
    let v = json(&appwarden(&[
        "scan",
        &apk,
        "--overlay",
        ov,
        "--profile",
        "bank",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ]));
    assert_eq!(v["identity"]["catalog_app"], "yosemite-test");
    let a = &v["assessment"];
    assert_eq!(a["app"], "yosemite-test");
    // F2: catalog 1, scan 4 → 4; F3: catalog 4, scan 2 → 4 (a lower scan never lowers)
    let f2 = factor(a, "F2");
    let f3 = factor(a, "F3");
    assert_eq!(f2["value"], 4);
    assert_eq!(f3["value"], 4);
    let r3 = f3["rationale"].as_str().expect("rationale");
    assert!(
        r3.contains("catalog: 4") && r3.contains(": 2 — ") && r3.contains("the higher value, 4"),
        "{r3}"
    );
    assert_eq!(f3["evidence"].as_array().expect("evidence").len(), 2);

    // assess APP --with-scan gives the same assessment
    let w = json(&appwarden(&[
        "assess",
        "yosemite-test",
        "--with-scan",
        &apk,
        "--overlay",
        ov,
        "--profile",
        "bank",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ]));
    assert_eq!(w[0], *a);

    // without the scan, F2 is the catalog's 1 and the stamp has no scans
    let plain = json(&appwarden(&[
        "assess",
        "yosemite-test",
        "--overlay",
        ov,
        "--profile",
        "bank",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ]));
    assert_eq!(factor(&plain[0], "F2")["value"], 1);
    assert!(plain[0]["stamp"].get("scans").is_none());
    let _ = std::fs::remove_dir_all(&overlay);
}

#[test]
fn assess_with_a_scan_of_another_app_is_refused() {
    let Some(apk) = corpus("assess_with_a_scan_of_another_app_is_refused", POCO) else {
        return;
    };
    let o = appwarden(&["assess", "tiktok", "--with-scan", &apk]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("com.netease.open.pocoservice")
            && err.contains("not one of TikTok's identifiers")
            && err.contains("com.zhiliaoapp.musically"),
        "{err}"
    );
    let o = appwarden(&["assess", "--with-scan", &apk]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("exactly one app"), "{}", stderr(&o));
}

#[test]
fn a_garbage_file_is_a_problem_with_the_input() {
    let dir = tempdir("garbage");
    let path = dir.join("garbage.apk");
    std::fs::write(&path, b"this is not a zip archive at all").expect("write");
    let p = path.to_str().expect("utf-8");
    let o = appwarden(&["scan", p]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(p) && err.contains("not a readable APK") && err.contains("<input>: not a readable zip archive"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());

    // a file that cannot be read at all is an operational failure
    let o = appwarden(&["scan", dir.join("missing.apk").to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
