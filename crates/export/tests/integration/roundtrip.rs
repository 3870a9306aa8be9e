//! Property: for every format that carries names, reading the output back
//! gives exactly the names the plan blocks (`blocked_names(group, Block)`,
//! with names already covered by a blocked parent folded in), exact names
//! kept apart where the format can, and every pattern either written or
//! listed in a comment.

use std::collections::BTreeSet;

use catalog::domain::is_subdomain_or_self;
use export::{Format, Options, render};
use policy::plan::{Action, EnforcementPlan};
use proptest::prelude::*;
use serde_json::json;

use crate::support::{app_json, group_json, plan_from, stamp_json};

#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    domains: BTreeSet<String>,
    exact: BTreeSet<String>,
    patterns: BTreeSet<String>,
    commented_patterns: BTreeSet<String>,
}

fn unregex(r: &str) -> String {
    r.trim_start_matches('^')
        .trim_end_matches('$')
        .replace("[^.]+", "*")
        .replace("\\.", ".")
}

fn comment_pattern(p: &mut Parsed, line: &str) {
    let t = line.trim_start_matches(['#', ';', '-', '!', ' ']);
    if t.contains('*') && !t.contains(' ') && !t.contains(':') {
        p.commented_patterns.insert(t.to_string());
    }
}

fn read(format: Format, text: &str) -> Parsed {
    let mut p = Parsed::default();
    let mut exact_section = false;
    let mut knot_target: Option<bool> = None; // Some(true) = exact list
    for line in text.lines() {
        let is_comment =
            line.starts_with('#') || line.starts_with(';') || line.starts_with("--") || line.starts_with('!');
        if is_comment {
            if line.starts_with("# exact names") {
                exact_section = true;
            }
            comment_pattern(&mut p, line);
            continue;
        }
        match format {
            Format::Domains => {
                if exact_section {
                    p.exact.insert(line.to_string());
                } else {
                    p.domains.insert(line.to_string());
                }
            }
            Format::Hosts => {
                if let Some((_, n)) = line.split_once(' ') {
                    p.exact.insert(n.to_string());
                }
            }
            Format::Dnsmasq => {
                if let Some(rest) = line.strip_prefix("address=/") {
                    p.domains.insert(rest.split('/').next().unwrap().to_string());
                } else if let Some(rest) = line.strip_prefix("host-record=") {
                    p.exact.insert(rest.split(',').next().unwrap().to_string());
                }
            }
            Format::UnboundLocalZone => {
                if let Some(rest) = line.strip_prefix("local-zone: \"") {
                    let (name, kind) = rest.split_once(".\" ").unwrap();
                    if kind.starts_with("always_nxdomain") || kind.starts_with("always_nodata") || kind == "redirect" {
                        p.domains.insert(name.to_string());
                    }
                }
            }
            Format::BindRpz | Format::UnboundRpz | Format::PowerdnsRpz => {
                if line.starts_with('$') || line.starts_with('@') {
                    continue;
                }
                let mut it = line.split_whitespace();
                let owner = it.next().unwrap();
                let rest: Vec<&str> = it.collect();
                if rest == ["CNAME", "rpz-passthru."] {
                    continue;
                }
                match owner.strip_prefix("*.") {
                    Some(d) => {
                        assert!(p.exact.remove(d), "wildcard without its apex: {line}");
                        p.domains.insert(d.to_string());
                    }
                    None => {
                        p.exact.insert(owner.to_string());
                    }
                }
            }
            Format::KnotPolicy => {
                if line.starts_with("policy.add(appwarden_unless_allowed(policy.") {
                    let exact = line.contains("policy.domains(");
                    knot_target = if line.contains("appwarden_would_block") {
                        None
                    } else {
                        Some(exact)
                    };
                } else if let Some(n) = line.strip_prefix("  '") {
                    let n = n.trim_end_matches("',").to_string();
                    match knot_target {
                        Some(true) => {
                            p.exact.insert(n);
                        }
                        Some(false) => {
                            p.domains.insert(n);
                        }
                        None => {}
                    }
                } else if line.starts_with("})") {
                    knot_target = None;
                }
            }
            Format::Adblock => {
                if line.starts_with("@@") {
                    continue;
                } else if let Some(d) = line.strip_prefix("||") {
                    p.domains.insert(d.trim_end_matches('^').to_string());
                } else if let Some(d) = line.strip_prefix('|') {
                    p.exact.insert(d.trim_end_matches('^').to_string());
                } else if line.starts_with('/') {
                    p.patterns.insert(unregex(line.trim_matches('/')));
                }
            }
            Format::Pihole => {
                if let Some(d) = line.strip_prefix("(^|\\.)") {
                    p.domains.insert(unregex(d));
                } else if line.contains("[^.]+") {
                    p.patterns.insert(unregex(line));
                } else {
                    p.exact.insert(unregex(line));
                }
            }
            Format::Squid => {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.first() == Some(&"acl") && f[1].ends_with("_block") {
                    match f[3].strip_prefix('.') {
                        Some(d) => p.domains.insert(d.to_string()),
                        None => p.exact.insert(f[3].to_string()),
                    };
                } else if f.first() == Some(&"acl") && f[1].ends_with("_block_re") {
                    p.patterns.insert(unregex(f[4]));
                }
            }
            Format::Suricata => {
                if !line.starts_with("drop dns ") {
                    continue;
                }
                if let Some(i) = line.find("pcre:\"/") {
                    let r = &line[i + 7..];
                    p.patterns.insert(unregex(&r[..r.find("/i\"").unwrap()]));
                } else if let Some(i) = line.find("dotprefix; content:\".") {
                    let r = &line[i + 21..];
                    p.domains.insert(r[..r.find('"').unwrap()].to_string());
                } else if let Some(i) = line.find("content:\"") {
                    let r = &line[i + 9..];
                    p.exact.insert(r[..r.find('"').unwrap()].to_string());
                }
            }
            Format::ZeekIntel => {
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() == 4 && f[1] == "Intel::DOMAIN" && f[3].starts_with("block") {
                    if f[3].contains("exact") {
                        p.exact.insert(f[0].to_string());
                    } else {
                        p.domains.insert(f[0].to_string());
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    p
}

/// What the plan blocks, folded like the exporter folds (a name below a
/// blocked domain adds nothing).
fn model(plan: &EnforcementPlan, group: &str) -> Parsed {
    let b = plan.blocked_names(group, Action::Block);
    let under = |n: &str, strict: bool| {
        b.domains
            .iter()
            .any(|d| (!strict || d != n) && is_subdomain_or_self(n, d))
    };
    let tail = |p: &str| p.split_once('.').map(|(_, t)| t.to_string()).unwrap_or_default();
    Parsed {
        domains: b.domains.iter().filter(|d| !under(d, true)).cloned().collect(),
        exact: b.exact.iter().filter(|e| !under(e, false)).cloned().collect(),
        patterns: b.patterns.iter().filter(|p| !under(&tail(p), false)).cloned().collect(),
        commented_patterns: BTreeSet::new(),
    }
}

const NAMED: &[Format] = &[
    Format::Hosts,
    Format::Domains,
    Format::Dnsmasq,
    Format::UnboundLocalZone,
    Format::UnboundRpz,
    Format::BindRpz,
    Format::PowerdnsRpz,
    Format::KnotPolicy,
    Format::Adblock,
    Format::Pihole,
    Format::Squid,
    Format::Suricata,
    Format::ZeekIntel,
];

fn check(plan: &EnforcementPlan) {
    let want = model(plan, "g");
    let all_want: BTreeSet<String> = want.domains.union(&want.exact).cloned().collect();
    for &f in NAMED {
        let text = String::from_utf8(render(plan, f, "g", &Options::default()).unwrap()).unwrap();
        let got = read(f, &text);
        let exact_kept = matches!(
            f,
            Format::Domains
                | Format::UnboundRpz
                | Format::BindRpz
                | Format::PowerdnsRpz
                | Format::KnotPolicy
                | Format::Adblock
                | Format::Pihole
                | Format::Squid
                | Format::Suricata
                | Format::ZeekIntel
        );
        if exact_kept {
            assert_eq!(got.domains, want.domains, "{f} domains\n{text}");
            assert_eq!(got.exact, want.exact, "{f} exact\n{text}");
        } else {
            let all_got: BTreeSet<String> = got.domains.union(&got.exact).cloned().collect();
            assert_eq!(all_got, all_want, "{f} names\n{text}");
        }
        let patterns_native = matches!(f, Format::Adblock | Format::Pihole | Format::Squid | Format::Suricata);
        if patterns_native {
            assert_eq!(got.patterns, want.patterns, "{f} patterns\n{text}");
        } else {
            assert_eq!(
                got.commented_patterns, want.patterns,
                "{f}: patterns not accounted for\n{text}"
            );
        }
    }
}

fn name() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "tt", "x-y", "c_d", "q1"]), 0..3),
        prop::sample::select(vec!["tiktok", "bytedance", "ok"]),
        prop::sample::select(vec!["com", "net"]),
    )
        .prop_map(|(sub, sld, tld)| {
            let mut v: Vec<&str> = sub;
            v.push(sld);
            v.push(tld);
            v.join(".")
        })
}

fn plan_strategy() -> impl Strategy<Value = EnforcementPlan> {
    (
        prop::collection::vec(name(), 0..6),
        prop::collection::vec(name(), 0..4),
        prop::collection::vec(name(), 0..3),
        prop::collection::vec(name(), 0..3),
        prop::collection::vec(name(), 0..3),
        prop::collection::vec(name(), 0..3),
    )
        .prop_map(|(domains, exact, cnames, pattern_bases, deny, logged)| {
            let mut a = app_json("A", "app");
            a["domains"] = json!(domains);
            a["exact"] = json!(exact);
            a["cname_targets"] = json!(cnames);
            a["patterns"] = json!(pattern_bases.iter().map(|b| format!("p*.{b}")).collect::<Vec<_>>());
            let mut l = app_json("L", "app");
            l["domains"] = json!(logged);
            let mut g = group_json("g", "corporate", true, &[("a", "block"), ("l", "log_only")]);
            g["custom"] = json!({ "allow": [], "deny": deny });
            plan_from(json!({ "plan_version": 1, "stamp": stamp_json(), "apps": { "a": a, "l": l }, "groups": [g] }))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_name_format_reads_back_to_the_blocked_names(plan in plan_strategy()) {
        check(&plan);
    }
}

#[test]
fn sample_plan_reads_back() {
    // The sample plan has an allow exception and bypass names: its corporate
    // group minus the allowed name must read back too.
    let plan = crate::support::sample_plan();
    let text = String::from_utf8(render(&plan, Format::BindRpz, "corporate", &Options::default()).unwrap()).unwrap();
    let got = read(Format::BindRpz, &text);
    assert!(got.domains.contains("tiktok.com"));
    assert!(got.exact.contains("use-application-dns.net"));
    assert!(!got.domains.contains("business.tiktok.com"));
}
