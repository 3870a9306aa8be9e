//! The `appwarden` binary as a user runs it.

mod support;
use support::{appwarden, stderr, stdout, tempdir};

#[test]
fn the_bundled_catalog_validates() {
    let o = appwarden(&["catalog", "validate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: "), "{}", stdout(&o));
}

#[test]
fn a_bad_overlay_is_rejected_with_file_and_line() {
    let dir = tempdir("overlay");
    std::fs::write(
        dir.join("mine.toml"),
        "[[app]]\nid = \"mine\"\nname = \"Mine\"\ncategories = [\"social-video\"]\n\n[[app.network]]\ndomains = [\"edgekey.net\"]\nsources = [\"nowhere\"]\n",
    )
    .expect("write");
    let o = appwarden(&["catalog", "validate", dir.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("mine.toml:7: network.domains:") && err.contains("generic"),
        "{err}"
    );
    assert!(
        err.contains("mine.toml:8: sources:") && err.contains("unknown source `nowhere`"),
        "{err}"
    );
}

#[test]
fn catalog_show_and_list() {
    let o = appwarden(&["catalog", "show", "tiktok"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for needle in [
        "com.zhiliaoapp.musically",
        "com.ss.android.ugc.trill",
        "tiktokv.eu",
        "Sources",
        "https://",
    ] {
        assert!(s.contains(needle), "catalog show tiktok lacks {needle}:\n{s}");
    }
    // found by identifier too
    let o = appwarden(&["catalog", "show", "com.zhiliaoapp.musically", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["id"], "tiktok");
    let o = appwarden(&["catalog", "list", "--category", "social-video"]);
    assert!(stdout(&o).lines().any(|l| l.starts_with("tiktok ")), "{}", stdout(&o));
    assert!(!stdout(&o).lines().any(|l| l.starts_with("whatsapp ")));
    let o = appwarden(&["catalog", "list", "--category", "no-such-category"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn assess_explains_itself() {
    let o = appwarden(&["assess", "tiktok", "--profile", "bank", "--as-of", "2026-11-22"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for needle in [
        "DECISION  BLOCK",
        "by score: allow below 35, block at 65",
        "F6 (derived)",
        "What would change the decision",
        "Sources",
        "[1] ",
        "Reproduce: model appwarden-risk/1",
    ] {
        assert!(s.contains(needle), "assess output lacks {needle:?}:\n{s}");
    }
}

#[test]
fn assess_json_is_byte_identical_and_register_covers_the_catalog() {
    let args = [
        "assess",
        "--profile",
        "retail",
        "--as-of",
        "2026-11-22",
        "--format",
        "json",
    ];
    let a = appwarden(&args);
    let b = appwarden(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).expect("json");
    let list = v.as_array().expect("array");
    assert!(list.len() >= 30, "register has {} apps", list.len());
    assert!(list.iter().all(|a| a["stamp"]["profile"] == "retail"));
    let md = appwarden(&["assess", "tiktok", "--profile", "school", "--format", "markdown"]);
    assert!(stdout(&md).starts_with("# Risk register"), "{}", stdout(&md));
}

#[test]
fn unknown_profile_and_app_are_clear_errors() {
    let o = appwarden(&["assess", "tiktok", "--profile", "casino"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown profile `casino`"), "{}", stderr(&o));
    let o = appwarden(&["assess", "no-such-app", "--profile", "bank"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no app `no-such-app`"), "{}", stderr(&o));
}

#[test]
fn policy_init_check_plan() {
    let dir = tempdir("policy");
    let file = dir.join("appwarden.toml");
    let f = file.to_str().expect("utf-8");
    let o = appwarden(&[
        "policy",
        "init",
        "--profile",
        "school",
        "--name",
        "Hillside School",
        "-o",
        f,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = appwarden(&["policy", "init", "--profile", "school", "-o", f]);
    assert_eq!(o.status.code(), Some(2), "refuses to overwrite");
    let o = appwarden(&["policy", "check", "-c", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("profile school"));
    let o = appwarden(&["policy", "plan", "-c", f, "--format", "json", "--as-of", "2026-11-22"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan json");
    assert_eq!(v["stamp"]["organisation"], "Hillside School");
    assert_eq!(v["groups"].as_array().map(Vec::len), Some(3));
    let o = appwarden(&["policy", "plan", "-c", f]);
    assert!(stdout(&o).contains("group corporate"), "{}", stdout(&o));

    let broken = std::fs::read_to_string(&file)
        .expect("read")
        .replace("version = 1 ", "version = 1\nbogus = true ");
    std::fs::write(&file, broken).expect("write");
    let o = appwarden(&["policy", "check", "-c", f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("appwarden.toml:6: bogus:"), "{}", stderr(&o));
}
