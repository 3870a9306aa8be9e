//! `policy check` and `policy plan` behaviour on the bundled catalog.

use catalog::{Day, Diagnostic};
use policy::{Action, Policy, PolicyError, RuleReason};

fn day() -> Day {
    Day::new(2026, 11, 22).expect("day")
}

fn problems(text: &str) -> Vec<Diagnostic> {
    match Policy::parse(text, "appwarden.toml", None, None) {
        Ok(_) => Vec::new(),
        Err(PolicyError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn expect(text: &str, line: usize, field: &str, contains: &str) {
    let d = problems(text);
    assert!(
        d.iter()
            .any(|d| d.line == line && d.field == field && d.message.contains(contains)),
        "expected appwarden.toml:{line}: {field}: …{contains}…, got {d:#?}"
    );
}

const ORG: &str = "[organisation]\nname = \"Org\"\nprofile = \"bank\"\njurisdiction = \"DE\"\n";

#[test]
fn the_init_template_passes_check_for_every_profile() {
    for id in risk::Profile::bundled_ids() {
        let p = risk::Profile::bundled(id).expect("profile");
        let text = policy::init_template(&p, "Org \"quoted\"", "US", &["finance".into()], day());
        let policy = Policy::parse(&text, "init", None, None).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(policy.profile.id, id);
        assert_eq!(policy.groups.len(), 3);
        assert_eq!(policy.file.organisation.name, "Org \"quoted\"");
        // the commented example exception, uncommented, is valid for this profile
        let mut in_exception = false;
        let uncommented: String = text
            .lines()
            .map(|l| {
                in_exception |= l.starts_with("# [[exception]]");
                match l.strip_prefix("# ") {
                    Some(rest) if in_exception => rest.to_string(),
                    _ => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let policy =
            Policy::parse(&uncommented, "init", None, None).unwrap_or_else(|e| panic!("{id} with exception: {e}"));
        assert_eq!(policy.file.exceptions.len(), 1, "{id}");
    }
}

#[test]
fn unknown_keys_and_bad_values_name_their_line() {
    expect(&format!("{ORG}colour = \"red\"\n"), 5, "colour", "unknown field");
    expect(
        "[organisation]\nname = \"Org\"\nprofile = \"bank\"\njurisdiction = \"Germany\"\n",
        4,
        "organisation.jurisdiction",
        "not a jurisdiction",
    );
    expect(
        &format!("{ORG}\n[[group]]\nid = \"corp\"\nclients = [\"10.0.0.0/33\"]\n"),
        8,
        "group.clients",
        "not an IP",
    );
    expect(
        &format!("{ORG}\n[[group]]\nid = \"corp\"\nblock_categories = [\"nope\"]\n"),
        8,
        "group.categories",
        "unknown category",
    );
    expect(
        &format!("{ORG}\n[[group]]\nid = \"corp\"\ndeny = [\"akamaized.net\"]\n"),
        8,
        "group.deny",
        "generic",
    );
    expect(
        &format!("{ORG}\n[[group]]\nid = \"a\"\n\n[[group]]\nid = \"a\"\n"),
        10,
        "group.id",
        "twice",
    );
}

#[test]
fn overrides_only_tighten() {
    let text = format!("{ORG}\n[[override]]\napp = \"tiktok\"\ndecision = \"allow\"\nreason = \"marketing\"\n");
    expect(&text, 8, "override.decision", "stricter");
    let text = format!("{ORG}\n[[override]]\napp = \"no-such-app\"\ndecision = \"block\"\nreason = \"x\"\n");
    expect(&text, 7, "override.app", "no app");
}

#[test]
fn exceptions_need_approver_expiry_and_mitigations() {
    let exc = |approver: &str, expires: &str, mitigations: &str| {
        format!(
            "{ORG}\n[[exception]]\napp = \"tiktok\"\napprover = \"{approver}\"\ngranted = 2026-01-01\nexpires = {expires}\nreason = \"r\"\nmitigations = [{mitigations}]\n"
        )
    };
    let all = "\"dedicated-device\", \"guest-network\", \"no-corporate-accounts\", \"no-corporate-data\"";
    assert!(problems(&exc("CISO", "2026-12-31", all)).is_empty());
    expect(
        &exc("CISO", "2027-01-02", all),
        10,
        "exception.expires",
        "more than 12 months",
    );
    expect(&exc("", "2026-12-31", all), 8, "exception.approver", "no approver");
    expect(
        &exc("CISO", "2026-12-31", "\"dedicated-device\""),
        12,
        "exception.mitigations",
        "guest-network",
    );
    let text = format!(
        "{ORG}\n[[exception]]\napp = \"tiktok\"\ngroups = [\"nowhere\"]\napprover = \"x\"\ngranted = 2026-01-01\nexpires = 2026-02-01\nreason = \"r\"\nmitigations = [{all}]\n"
    );
    expect(&text, 8, "exception.groups", "unknown group");
}

#[test]
fn default_groups_block_bypass_methods() {
    let policy = Policy::builtin(None).expect("builtin policy");
    let plan = policy.plan(day());
    let corp = plan.group("corporate").expect("corporate group");
    assert!(corp.default);
    for (app, method) in [
        ("firefox-canary", "canary"),
        ("icloud-private-relay", "private-relay"),
        ("ddr-designated-resolvers", "ddr"),
    ] {
        let rule = plan
            .rule("corporate", app)
            .unwrap_or_else(|| panic!("no rule for {app}"));
        assert_eq!(rule.action, Action::Block);
        assert!(
            matches!(&rule.reason, RuleReason::Bypass(m) if m.as_str() == method),
            "{app}: {:?}",
            rule.reason
        );
    }
    let names = plan.blocked_names("corporate", Action::Block);
    assert!(names.exact.contains(&"use-application-dns.net".to_string()));
    assert!(names.exact.contains(&"mask.icloud.com".to_string()));
    assert!(
        names.domains.iter().any(|d| d == "tiktokv.com"),
        "TikTok is blocked for the default bank profile"
    );
    // guest leaves VPNs alone by default
    let guest = plan.group("guest").expect("guest");
    assert!(!guest.bypass.vpn && guest.bypass.encrypted_dns);
}

#[test]
fn category_blocks_log_only_groups_and_custom_rules() {
    let text = format!(
        "{ORG}\n[[group]]\nid = \"corp\"\nblock_categories = [\"messaging\"]\ndeny = [\"bad.example\"]\nallow = [\"good.example\"]\n\n[[group]]\nid = \"pilot\"\nlog_only = true\n\n[group.bypass]\nencrypted_dns = false\n"
    );
    let policy = Policy::parse(&text, "t", None, None).expect("valid");
    let plan = policy.plan(day());
    let tg = plan
        .rule("corp", "telegram")
        .expect("messaging apps blocked by category");
    assert_eq!(tg.action, Action::Block);
    let tt = plan.rule("pilot", "tiktok").expect("tiktok rule in pilot");
    assert_eq!(tt.action, Action::LogOnly, "a log-only group never blocks");
    assert!(
        plan.group("corp")
            .expect("corp")
            .custom
            .deny
            .contains(&"bad.example".to_string())
    );
    assert!(
        plan.blocked_names("corp", Action::Block)
            .domains
            .contains(&"bad.example".to_string())
    );
    let pilot = plan.group("pilot").expect("pilot");
    assert!(!pilot.bypass.encrypted_dns);
    assert!(
        !pilot
            .rules
            .iter()
            .any(|r| matches!(r.reason, RuleReason::Bypass(catalog::BypassMethod::EncryptedDns)))
    );
}

#[test]
fn the_plan_is_deterministic_and_stamped() {
    let policy = Policy::builtin(None).expect("builtin");
    let a = serde_json::to_string_pretty(&policy.plan(day())).expect("json");
    let b = serde_json::to_string_pretty(&Policy::builtin(None).expect("builtin").plan(day())).expect("json");
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).expect("parse");
    assert_eq!(v["plan_version"], 1);
    assert_eq!(v["stamp"]["model_version"], risk::MODEL_VERSION);
    assert_eq!(v["stamp"]["profile"], "bank");
    assert!(
        v["apps"]["tiktok"]["identifiers"]["android"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // the plan round-trips through its own types
    let back: policy::EnforcementPlan = serde_json::from_str(&a).expect("deserialize");
    assert_eq!(back, policy.plan(day()));
}

#[test]
fn carve_outs_keep_an_allowed_service_working() {
    // QQ blocked by category, WeChat allowed: WeChat's names under qq.com are carved out
    let text = format!(
        "{ORG}\n[[group]]\nid = \"corp\"\nblock_categories = [\"messaging\"]\n\n[[group]]\nid = \"qq-only\"\n\n[[override]]\napp = \"qq\"\ndecision = \"block\"\ngroups = [\"qq-only\"]\nreason = \"t\"\n"
    );
    let policy = Policy::parse(&text, "t", None, None).expect("valid");
    let plan = policy.plan(day());
    let qq_only = plan.group("qq-only").expect("group");
    assert!(plan.rule("qq-only", "qq").is_some_and(|r| r.action == Action::Block));
    if plan.rule("qq-only", "wechat").is_none() {
        assert!(
            qq_only.carve_outs.contains(&"wx.qq.com".to_string()),
            "{:?}",
            qq_only.carve_outs
        );
        assert!(
            plan.blocked_names("qq-only", Action::Block)
                .allow
                .contains(&"wx.qq.com".to_string())
        );
    }
    // where WeChat is blocked too, its names stay blocked
    let corp = plan.group("corp").expect("corp");
    assert!(plan.rule("corp", "wechat").is_some());
    assert!(
        !corp.carve_outs.contains(&"wx.qq.com".to_string()),
        "{:?}",
        corp.carve_outs
    );
}
