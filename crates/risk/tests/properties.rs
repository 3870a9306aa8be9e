//! Property tests of the risk model over synthetic catalogs: raising any
//! factor never lowers the score; a gate always wins; the unknown range
//! contains every completed score.

use catalog::{Catalog, Day, Origin};
use proptest::prelude::*;
use risk::{Context, DecidedBy, Decision, Exception, OrgContext, Profile};

const RATED: [&str; 6] = ["F1", "F2", "F3", "F4", "F5", "F9"];

/// A synthetic app: ratings of F1–F5/F9 (None = unknown), one incident
/// severity (F7), how many countries restrict it (F8), operator control (F6).
#[derive(Clone, Debug)]
struct Synth {
    rated: [Option<u8>; 6],
    incident: Option<u8>,
    restricting_countries: usize,
    control: &'static str,
    binding: bool,
    malware: bool,
}

const COUNTRIES: [&str; 5] = ["IN", "TW", "CA", "GB", "AU"];

fn toml_for(s: &Synth) -> String {
    let mut t = String::from(
        r#"
[[source]]
id = "s"
url = "https://example.org/s"
title = "S"
date = 2024-01-01
kind = "government"

[[category]]
id = "social-video"
name = "Social video"
description = "d"

[[operator]]
id = "op"
name = "Op"
"#,
    );
    t.push_str(&format!(
        "country = \"{}\"\ncontrolled_from = [\"{}\"]\nsources = [\"s\"]\n",
        s.control, s.control
    ));
    t.push_str(
        "\n[[app]]\nid = \"x\"\nname = \"X\"\ncategories = [\"social-video\"]\nincidents_reviewed = 2026-01-01\n",
    );
    t.push_str("\n[[app.operator]]\nid = \"op\"\nroles = [\"developer\"]\nsources = [\"s\"]\n");
    for (i, v) in s.rated.iter().enumerate() {
        if let Some(v) = v {
            t.push_str(&format!(
                "\n[[app.factor]]\nid = \"{}\"\nscore = {v}\nrationale = \"r\"\nsources = [\"s\"]\n",
                RATED[i]
            ));
        }
    }
    if let Some(sev) = s.incident {
        t.push_str(&format!(
            "\n[[app.incident]]\ndate = 2025-06-01\nkind = \"fine\"\ntitle = \"t\"\nseverity = {sev}\nsources = [\"s\"]\n"
        ));
    }
    if s.malware {
        t.push_str("\n[[app.malware]]\ndate = 2025-01-01\ntext = \"m\"\nsources = [\"s\"]\n");
    }
    for c in COUNTRIES.iter().take(s.restricting_countries) {
        t.push_str(&format!(
            "\n[[restriction]]\nid = \"r-{}\"\njurisdiction = \"{c}\"\nauthority = \"a\"\nscope = \"s\"\nkind = \"government-devices\"\ndate = 2024-01-01\ninstrument = \"i\"\nrequirement = \"q\"\napps = [\"x\"]\nsources = [\"s\"]\n",
            c.to_lowercase()
        ));
    }
    if s.binding {
        t.push_str("\n[[restriction]]\nid = \"us-law\"\njurisdiction = \"US\"\nauthority = \"a\"\nscope = \"s\"\nkind = \"government-devices\"\ndate = 2023-01-01\ninstrument = \"law\"\nrequirement = \"q\"\napps = [\"x\"]\nexception_bases = [\"security-research\"]\nsources = [\"s\"]\n\n[[restriction.binding]]\njurisdiction = \"US\"\nsectors = [\"government\"]\n");
    }
    t
}

fn catalog(s: &Synth) -> Catalog {
    Catalog::from_files(&[(Origin::Bundled, "synth.toml".into(), toml_for(s))]).expect("synthetic catalog is valid")
}

fn day() -> Day {
    Day::new(2026, 11, 22).expect("valid day")
}

fn assess(s: &Synth, profile: &Profile, exceptions: &[&Exception]) -> risk::Assessment {
    let cat = catalog(s);
    let org = OrgContext::new("US", &["government"], profile);
    let ctx = Context {
        catalog: &cat,
        profile,
        org: &org,
        as_of: day(),
    };
    ctx.assess(cat.app("x").expect("app x"), exceptions)
}

fn synth() -> impl Strategy<Value = Synth> {
    (
        proptest::array::uniform6(proptest::option::of(0u8..=4)),
        proptest::option::of(1u8..=4),
        0usize..=5,
        prop_oneof![Just("CN"), Just("AE"), Just("US")],
    )
        .prop_map(|(rated, incident, restricting_countries, control)| Synth {
            rated,
            incident,
            restricting_countries,
            control,
            binding: false,
            malware: false,
        })
}

fn profiles() -> Vec<Profile> {
    Profile::bundled_ids()
        .map(|id| Profile::bundled(id).expect("bundled"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn raising_any_factor_never_lowers_the_score(s in synth(), which in 0usize..8) {
        let mut raised = s.clone();
        match which {
            0..=5 => match s.rated[which] {
                Some(v) if v < 4 => raised.rated[which] = Some(v + 1),
                _ => return Ok(()),
            },
            6 => match s.incident {
                Some(v) if v < 4 => raised.incident = Some(v + 1),
                None => raised.incident = Some(1),
                _ => return Ok(()),
            },
            _ => {
                if s.restricting_countries >= 5 { return Ok(()); }
                raised.restricting_countries += 1;
            }
        }
        for p in profiles() {
            let a = assess(&s, &p, &[]);
            let b = assess(&raised, &p, &[]);
            prop_assert!(b.score >= a.score, "{}: {} -> {}", p.id, a.score, b.score);
            prop_assert!(b.score_range[0] >= a.score_range[0] && b.score_range[1] >= a.score_range[1]);
            prop_assert!(b.decision >= a.decision, "{}: {:?} -> {:?}", p.id, a.decision, b.decision);
        }
    }

    #[test]
    fn a_gate_always_wins(s in synth(), malware in any::<bool>()) {
        let mut gated = s.clone();
        gated.binding = !malware;
        gated.malware = malware;
        let business_need = Exception {
            app: "x".into(),
            groups: vec![],
            approver: "A. Approver, CISO".into(),
            granted: Day::new(2026, 10, 1).expect("day"),
            expires: Day::new(2027, 3, 1).expect("day"),
            reason: "business need".into(),
            mitigations: vec!["dedicated-device".into(), "guest-network".into(), "no-corporate-accounts".into(), "no-corporate-data".into(), "named-owner".into()],
            basis: None,
        };
        for p in profiles() {
            let a = assess(&gated, &p, &[&business_need]);
            prop_assert_eq!(a.decision, Decision::Block, "{}", p.id);
            prop_assert_eq!(a.decided_by, DecidedBy::Gate);
            prop_assert!(!a.gates.is_empty());
        }
    }

    #[test]
    fn the_unknown_range_contains_every_completed_score(s in synth(), fill in proptest::array::uniform6(0u8..=4)) {
        let mut done = s.clone();
        for (slot, v) in done.rated.iter_mut().zip(fill) {
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        for p in profiles() {
            let a = assess(&s, &p, &[]);
            let b = assess(&done, &p, &[]);
            prop_assert!(a.score_range[0] <= b.score && b.score <= a.score_range[1],
                "{}: {} not in {:?}", p.id, b.score, a.score_range);
            prop_assert!(a.score_range[0] <= a.score && a.score <= a.score_range[1]);
            prop_assert!(a.decision_range[0] <= b.decision && b.decision <= a.decision_range[1]);
            prop_assert_eq!(b.score_range[0], b.score_range[1]);
        }
    }
}

#[test]
fn a_gate_yields_to_an_exception_on_an_allowed_basis_only() {
    let s = Synth {
        rated: [Some(0); 6],
        incident: None,
        restricting_countries: 0,
        control: "US",
        binding: true,
        malware: false,
    };
    let p = Profile::bundled("government").expect("profile");
    let mut e = Exception {
        app: "x".into(),
        groups: vec![],
        approver: "Agency head".into(),
        granted: Day::new(2026, 10, 1).expect("day"),
        expires: Day::new(2027, 3, 1).expect("day"),
        reason: "malware analysis lab".into(),
        mitigations: p.required_mitigations.clone(),
        basis: Some("security-research".into()),
    };
    let a = assess(&s, &p, &[&e]);
    assert_eq!(
        (a.decision, a.decided_by),
        (Decision::AllowOutsideSandbox, DecidedBy::Exception)
    );
    e.basis = Some("marketing".into());
    let a = assess(&s, &p, &[&e]);
    assert_eq!((a.decision, a.decided_by), (Decision::Block, DecidedBy::Gate));
}

#[test]
fn same_inputs_give_byte_identical_json() {
    let s = Synth {
        rated: [Some(4), Some(3), None, Some(1), Some(2), Some(3)],
        incident: Some(4),
        restricting_countries: 3,
        control: "CN",
        binding: false,
        malware: false,
    };
    let p = Profile::bundled("bank").expect("profile");
    let a = serde_json::to_string(&assess(&s, &p, &[])).expect("json");
    let b = serde_json::to_string(&assess(&s, &p, &[])).expect("json");
    assert_eq!(a, b);
    assert!(a.contains("\"model_version\":\"appwarden-risk/1\""));
    assert!(a.contains("\"catalog_snapshot\":\"2026.11.22+sha256:"));
}

#[test]
fn the_floor_lifts_a_low_score_to_high() {
    // F1 = 4 with weight 25 (school) but everything else 0: score 25 -> Moderate, floor -> High
    let s = Synth {
        rated: [Some(4), Some(0), Some(0), Some(0), Some(0), Some(0)],
        incident: None,
        restricting_countries: 0,
        control: "US",
        binding: false,
        malware: false,
    };
    let p = Profile::bundled("school").expect("profile");
    let a = assess(&s, &p, &[]);
    assert_eq!(a.score, 25.0);
    assert_eq!(a.level, risk::Level::High);
    assert!(a.floor_applied);
}

#[test]
fn derived_factors_follow_the_organisation() {
    let s = Synth {
        rated: [Some(0); 6],
        incident: Some(3),
        restricting_countries: 3,
        control: "CN",
        binding: false,
        malware: false,
    };
    let p = Profile::bundled("bank").expect("profile");
    let a = assess(&s, &p, &[]);
    let f = |id: &str| a.factors.iter().find(|f| f.id.to_string() == id).and_then(|f| f.value);
    assert_eq!(f("F6"), Some(4), "CN is on the default list of concern");
    assert_eq!(f("F7"), Some(3));
    assert_eq!(f("F8"), Some(4), "three countries restrict it");
    // an organisation that does not list CN gets F6 = 2 (not adequate), and with CN adequate, 0
    let cat = catalog(&s);
    let mut org = OrgContext::new("US", &[], &p);
    org.jurisdictions_of_concern = vec!["RU".into()];
    let ctx = Context {
        catalog: &cat,
        profile: &p,
        org: &org,
        as_of: day(),
    };
    let a2 = ctx.assess(cat.app("x").expect("x"), &[]);
    assert_eq!(a2.factors[5].value, Some(2));
    org.adequate_jurisdictions.push("CN".into());
    let ctx = Context {
        catalog: &cat,
        profile: &p,
        org: &org,
        as_of: day(),
    };
    assert_eq!(ctx.assess(cat.app("x").expect("x"), &[]).factors[5].value, Some(0));
    // incidents older than five years age out: as of 2031-06-02 the 2025 incident no longer counts
    let later = Context {
        catalog: &cat,
        profile: &p,
        org: &org,
        as_of: Day::new(2031, 6, 2).expect("day"),
    };
    assert_eq!(later.assess(cat.app("x").expect("x"), &[]).factors[6].value, Some(0));
}
