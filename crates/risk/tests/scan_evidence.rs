//! Extra evidence (static analysis of a package) merged into the catalog's
//! ratings: it never lowers a catalog value, a partial finding never sets a
//! value alone, an app known only from a scan is assessed, and the stamp
//! records the scanned file's hash.

use catalog::{App, Catalog, Confidence, Day, FactorId, Origin, Source, SourceKind};
use proptest::prelude::*;
use risk::{Context, ExtraEvidence, OrgContext, Profile};

const RATED: [FactorId; 5] = [FactorId::F1, FactorId::F2, FactorId::F3, FactorId::F4, FactorId::F5];
const SHA: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn catalog(ratings: &[Option<u8>; 5]) -> Catalog {
    let mut t = String::from(
        "[[source]]\nid = \"s\"\nurl = \"https://example.org/s\"\ntitle = \"S\"\ndate = 2024-01-01\nkind = \"security-research\"\n\n\
         [[category]]\nid = \"social-video\"\nname = \"Social video\"\ndescription = \"d\"\n\n\
         [[app]]\nid = \"x\"\nname = \"X\"\ncategories = [\"social-video\"]\n",
    );
    for (i, r) in ratings.iter().enumerate() {
        if let Some(v) = r {
            t.push_str(&format!(
                "\n[[app.factor]]\nid = \"F{}\"\nscore = {v}\nrationale = \"catalog says {v}\"\nsources = [\"s\"]\n",
                i + 1
            ));
        }
    }
    Catalog::from_files(&[(Origin::Bundled, "synth.toml".into(), t)]).expect("synthetic catalog is valid")
}

fn day() -> Day {
    Day::new(2026, 3, 1).expect("valid day")
}

fn scan_source(sha: &str) -> Source {
    let title = format!("static analysis of {sha}, appwarden-appscan 0.1.0");
    Source {
        id: format!("appscan:{sha}"),
        url: format!("sha256:{sha}"),
        title,
        publisher: None,
        date: day(),
        kind: SourceKind::StaticAnalysis,
        confidence: Confidence::Medium,
        license: None,
        note: None,
    }
}

fn extra(factor: FactorId, score: u8, partial: bool, sha: &str) -> ExtraEvidence {
    ExtraEvidence {
        factor,
        score,
        rationale: format!("scan says {score}"),
        partial,
        source: scan_source(sha),
        input_sha256: sha.to_string(),
    }
}

fn assess(cat: &Catalog, app: &App, extras: &[ExtraEvidence]) -> risk::Assessment {
    let profile = Profile::bundled("bank").expect("bundled");
    let org = OrgContext::new("DE", &["finance"], &profile);
    let ctx = Context {
        catalog: cat,
        profile: &profile,
        org: &org,
        as_of: day(),
    };
    ctx.assess_with(app, &[], extras)
}

fn value(a: &risk::Assessment, f: FactorId) -> Option<u8> {
    a.factors.iter().find(|r| r.id == f).and_then(|r| r.value)
}

/// An app the catalog does not know, as the CLI builds it from a scan.
fn ad_hoc(package: &str) -> App {
    App {
        id: package.to_string(),
        name: package.to_string(),
        kind: catalog::AppKind::App,
        categories: Vec::new(),
        description: None,
        overlay: None,
        related: Vec::new(),
        operators: Vec::new(),
        identifiers: Vec::new(),
        network: Vec::new(),
        data: Vec::new(),
        incidents: Vec::new(),
        incidents_reviewed: None,
        factors: Vec::new(),
        malware: Vec::new(),
        bypass: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn scan_evidence_never_lowers_a_catalog_value(
        ratings in proptest::array::uniform5(proptest::option::of(0u8..=4)),
        scans in proptest::collection::vec((0usize..5, 0u8..=4, any::<bool>()), 0..8),
    ) {
        let cat = catalog(&ratings);
        let app = cat.app("x").expect("app x");
        let extras: Vec<ExtraEvidence> =
            scans.iter().map(|&(f, s, p)| extra(RATED[f], s, p, SHA)).collect();
        let without = assess(&cat, app, &[]);
        let with = assess(&cat, app, &extras);
        for (i, f) in RATED.iter().enumerate() {
            let mine: Vec<_> = extras.iter().filter(|e| e.factor == *f).collect();
            let anchored = ratings[i].is_some() || mine.iter().any(|e| !e.partial);
            let expected = mine
                .iter()
                .filter(|e| anchored || !e.partial)
                .map(|e| e.score)
                .chain(ratings[i])
                .max();
            prop_assert_eq!(value(&with, *f), expected, "factor {}", f);
            if let Some(c) = ratings[i] {
                prop_assert!(value(&with, *f).is_some_and(|v| v >= c));
            }
        }
        // known values only go up, so the low end of the range never drops
        prop_assert!(with.score_range[0] >= without.score_range[0]);
    }
}

#[test]
fn a_clean_scan_does_not_lower_a_sourced_catalog_finding() {
    let cat = catalog(&[None, Some(3), None, None, None]);
    let app = cat.app("x").expect("app x");
    let a = assess(&cat, app, &[extra(FactorId::F2, 0, false, SHA)]);
    let f2 = &a.factors[1];
    assert_eq!(f2.value, Some(3));
    assert!(f2.rationale.contains("catalog: 3"), "{}", f2.rationale);
    assert!(f2.rationale.contains("scan says 0"), "{}", f2.rationale);
    assert!(
        f2.rationale.contains("the higher value, 3, is used"),
        "{}",
        f2.rationale
    );
    let sources: Vec<&str> = f2.evidence.iter().map(|e| e.source.as_str()).collect();
    assert!(sources.contains(&"s") && sources.contains(&format!("appscan:{SHA}").as_str()));
}

#[test]
fn a_partial_finding_raises_but_never_sets_a_value_alone() {
    let cat = catalog(&[Some(1), None, None, None, None]);
    let app = cat.app("x").expect("app x");
    let raised = assess(&cat, app, &[extra(FactorId::F1, 4, true, SHA)]);
    assert_eq!(value(&raised, FactorId::F1), Some(4));

    let bare = catalog(&[None, None, None, None, None]);
    let a = assess(
        &bare,
        bare.app("x").expect("app x"),
        &[extra(FactorId::F1, 4, true, SHA)],
    );
    let f1 = &a.factors[0];
    assert_eq!(f1.value, None);
    assert!(f1.rationale.contains("stays unknown"), "{}", f1.rationale);
    assert_eq!(f1.evidence.len(), 1, "the scan is still cited");
}

#[test]
fn an_app_known_only_from_a_scan_is_assessed() {
    let cat = catalog(&[None; 5]);
    let app = ad_hoc("com.example.unknown");
    let extras: Vec<ExtraEvidence> = RATED.iter().map(|f| extra(*f, 4, *f == FactorId::F1, SHA)).collect();
    let a = assess(&cat, &app, &extras);
    assert_eq!(a.app, "com.example.unknown");
    for f in [FactorId::F2, FactorId::F3, FactorId::F4, FactorId::F5] {
        assert_eq!(value(&a, f), Some(4), "{f}");
        let r = a.factors.iter().find(|r| r.id == f).expect("factor");
        assert!(r.rationale.contains("comes from the analysis alone"), "{}", r.rationale);
        assert_eq!(r.evidence[0].kind, SourceKind::StaticAnalysis);
    }
    // F1 partial alone; F6 (no operator) and F7 (record not reviewed) unknown; F8 derived as usual
    assert_eq!(value(&a, FactorId::F1), None);
    assert_eq!(value(&a, FactorId::F6), None);
    assert_eq!(value(&a, FactorId::F7), None);
    assert_eq!(value(&a, FactorId::F8), Some(0));
    assert!(a.score_range[0] < a.score_range[1]);
    assert!(a.gates.is_empty());
}

#[test]
fn extra_evidence_for_derived_factors_is_ignored() {
    let cat = catalog(&[None; 5]);
    let app = cat.app("x").expect("app x");
    let a = assess(&cat, app, &[extra(FactorId::F8, 4, false, SHA)]);
    assert_eq!(value(&a, FactorId::F8), Some(0));
}

#[test]
fn the_stamp_records_the_scan_and_json_is_stable() {
    let cat = catalog(&[Some(2), None, None, None, None]);
    let app = cat.app("x").expect("app x");
    let other = "ff".repeat(32);
    let extras = vec![
        extra(FactorId::F2, 3, false, &other),
        extra(FactorId::F3, 1, false, SHA),
        extra(FactorId::F4, 2, false, SHA),
    ];
    let a = assess(&cat, app, &extras);
    assert_eq!(a.stamp.scans, vec![SHA.to_string(), other.clone()]);
    let j1 = serde_json::to_string_pretty(&a).expect("json");
    let j2 = serde_json::to_string_pretty(&assess(&cat, app, &extras)).expect("json");
    assert_eq!(j1, j2);
    assert!(j1.contains(&format!("static analysis of {SHA}")));

    // without extra evidence the JSON has no `scans` key (unchanged output)
    let plain = serde_json::to_string_pretty(&assess(&cat, app, &[])).expect("json");
    assert!(!plain.contains("\"scans\""));
    assert_eq!(
        plain,
        serde_json::to_string_pretty(&{
            let profile = Profile::bundled("bank").expect("bundled");
            let org = OrgContext::new("DE", &["finance"], &profile);
            Context {
                catalog: &cat,
                profile: &profile,
                org: &org,
                as_of: day(),
            }
            .assess(app, &[])
        })
        .expect("json")
    );
}
