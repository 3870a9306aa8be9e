//! Hostile catalog and user entries never inject configuration: invalid
//! names are refused and counted, free text is escaped or sanitised, and the
//! result is still accepted by each tool.

use export::{Format, Options, render, render_artifact};
use serde_json::json;

use crate::support::{app_json, group_json, plan_from, stamp_json};
use crate::syntax;

const BAD_NAMES: &[&str] = &[
    "evil.com\nlocal-zone: \"INJECTED.\" always_transparent",
    "evil.com\raddress=/INJECTED/1.2.3.4",
    "a;INJECTED.com",
    "quote\"INJECTED.com",
    "ünïcode-INJECTED.com",
    "INJECTED-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
    "#INJECTED.com",
    "$INJECTED.com",
    "sp ace.INJECTED.com",
    "back\\slash.INJECTED.com",
    "tab\tINJECTED.com",
    "INJECTED.COM",
    "}INJECTED.com",
    "'INJECTED.com",
    "-INJECTED.com",
    "INJECTED",
    "",
];

pub fn hostile_plan() -> policy::plan::EnforcementPlan {
    let mut evil = app_json("Evil </string><key>INJECTED</key> \"quoted\"\n-->", "app");
    evil["domains"] = json!(
        BAD_NAMES
            .iter()
            .copied()
            .chain(["good-evil.example"])
            .collect::<Vec<_>>()
    );
    evil["exact"] = json!(BAD_NAMES);
    evil["cname_targets"] = json!(BAD_NAMES);
    evil["patterns"] = json!([
        "p*\n.INJECTED.com",
        "*.com",
        "x*.INJECTED\".com",
        "ok-*.good-evil.example"
    ]);
    evil["ip_prefixes"] = json!([
        "10.0.0.0/8\nflush ruleset INJECTED",
        "192.0.2.1/24",
        "not-an-ip",
        "203.0.113.0/24"
    ]);
    evil["identifiers"] = json!({
        "android": ["com.good.app", "com.evil\n</string>INJECTED", "com.evil\"INJECTED"],
        "ios-bundle-id": ["com.good.app", "com.evil</string><string>INJECTED", "com.evil&INJECTED"],
        "ios-app-store-id": ["12345678", "1234\",INJECTED"],
        "windows-pfn": ["Good.App_6yccndn6064se", "Evil\"INJECTED_6yccndn6064se", "Evil.App_<INJECTED>"],
        "INJECTED\n": ["x"]
    });
    let mut g = group_json(
        "corporate",
        "corporate",
        true,
        &[("evil", "block"), ("evil2", "log_only")],
    );
    g["custom"] = json!({ "allow": ["x.good-evil.example", "allow\nINJECTED.com"], "deny": BAD_NAMES });
    g["sandbox_allow"] = json!(["evil"]);
    let mut evil2 = app_json("Log \n INJECTED", "app");
    evil2["domains"] = json!(BAD_NAMES);
    let mut stamp = stamp_json();
    stamp["organisation"] = json!("Evil\nINJECTED --> ]]> \"; $x `y`");
    stamp["policy_version"] = json!("v1\r\nINJECTED");
    plan_from(json!({
        "plan_version": 1,
        "stamp": stamp,
        "apps": { "evil": evil, "evil2": evil2 },
        "groups": [g]
    }))
}

fn comment_prefix(f: Format) -> Option<&'static [&'static str]> {
    Some(match f {
        Format::UnboundRpz | Format::BindRpz | Format::PowerdnsRpz => &[";"],
        Format::KnotPolicy => &["--"],
        Format::Adblock => &["!"],
        Format::AppleMobileconfig
        | Format::AppLocker
        | Format::AmapiPolicy
        | Format::IntuneGraph
        | Format::IntuneCsv => return None,
        _ => &["#"],
    })
}

#[test]
fn hostile_names_never_reach_a_config_line() {
    let plan = hostile_plan();
    for &f in Format::ALL {
        let a = render_artifact(&plan, f, "corporate", &Options::default()).unwrap();
        let text = String::from_utf8(a.bytes.clone()).unwrap();
        assert!(
            a.counts.invalid > 0 || f.is_device_format(),
            "{f}: nothing counted invalid"
        );
        match comment_prefix(f) {
            Some(prefixes) => {
                for line in text.lines().filter(|l| l.contains("INJECTED")) {
                    assert!(
                        prefixes.iter().any(|p| line.starts_with(p)),
                        "{f}: INJECTED outside a comment: {line:?}"
                    );
                }
            }
            None => {
                // JSON: must parse, and INJECTED may only appear inside the
                // escaped app name or description, never as a key or id.
                if matches!(f, Format::AppleMobileconfig | Format::AppLocker) {
                    // XML: text is escaped; no element or attribute can be made.
                    assert!(!text.contains("<INJECTED") && !text.contains("\"INJECTED"), "{f}");
                } else if f != Format::IntuneCsv {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let s = v.to_string();
                    assert!(!s.contains("\"INJECTED"), "{f}: {s}");
                    for id in ["com.evil", "Evil\""] {
                        assert!(!s.contains(id), "{f}: invalid identifier written: {s}");
                    }
                } else {
                    for line in text.lines() {
                        let fields = csv_fields(line);
                        assert_eq!(fields.len(), 3, "csv: {line}");
                        assert!(fields[0].starts_with("https://"), "csv: {line}");
                        assert!(!fields[0].contains("INJECTED"), "csv: {line}");
                    }
                }
            }
        }
        if f.is_device_format() {
            assert!(!text.contains("com.evil"), "{f}: invalid identifier written");
        }
        if matches!(f, Format::AppleMobileconfig | Format::AppLocker) {
            assert!(!text.contains("<key>INJECTED"), "{f}");
            assert!(!text.contains("<string>INJECTED"), "{f}");
        }
        // the valid entries are still there
        if matches!(
            f,
            Format::Domains
                | Format::Dnsmasq
                | Format::UnboundLocalZone
                | Format::BindRpz
                | Format::Adblock
                | Format::Squid
        ) {
            assert!(text.contains("good-evil.example"), "{f}: valid name lost");
        }
    }
}

#[test]
fn hostile_plan_exports_are_still_accepted_by_the_tools() {
    let plan = hostile_plan();
    for &f in Format::ALL {
        syntax::validate(&plan, f, "corporate", &Options::default());
    }
}

#[test]
fn hostile_group_id_and_options_are_refused() {
    let mut plan = hostile_plan();
    plan.groups[0].id = "bad\nid".into();
    assert!(render(&plan, Format::Hosts, "bad\nid", &Options::default()).is_err());
    let plan = hostile_plan();
    assert!(render(&plan, Format::Hosts, "nope", &Options::default()).is_err());
    let mut o = Options::default();
    o.rpz_zone = Some("evil\nzone".into());
    assert!(render(&plan, Format::BindRpz, "corporate", &o).is_err());
    let mut o = Options::default();
    o.apple.identifier_prefix = "org.evil\"<x>".into();
    assert!(render(&plan, Format::AppleMobileconfig, "corporate", &o).is_err());
    let mut o = Options::default();
    o.windows_publishers
        .insert("Good.App".into(), "CN=\"Evil\" <INJECTED>".into());
    let x = String::from_utf8(render(&plan, Format::AppLocker, "corporate", &o).unwrap()).unwrap();
    assert!(x.contains("CN=&quot;Evil&quot; &lt;INJECTED&gt;"));
}

/// Splits one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    assert!(!quoted, "unterminated quote: {line}");
    out
}
