//! `catalog validate` behaviour: every rejected input names file, line and field.

use catalog::{Catalog, Diagnostic, LoadError, Origin};

const BASE: &str = r#"
[[source]]
id = "s1"
url = "https://example.org/report"
title = "A report"
date = 2025-01-01
kind = "press"

[[category]]
id = "social-video"
name = "Social video"
description = "Feeds."

[[operator]]
id = "op"
name = "Op Ltd"
country = "SG"
controlled_from = ["CN"]
sources = ["s1"]
"#;

fn check(app: &str) -> Vec<Diagnostic> {
    let files = vec![
        (Origin::Bundled, "base.toml".to_string(), BASE.to_string()),
        (Origin::Bundled, "apps/x.toml".to_string(), app.to_string()),
    ];
    match Catalog::from_files(&files) {
        Ok(_) => Vec::new(),
        Err(LoadError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn expect_one(app: &str, line: usize, field: &str, contains: &str) {
    let diags = check(app);
    assert!(
        diags
            .iter()
            .any(|d| d.file == "apps/x.toml" && d.line == line && d.field == field && d.message.contains(contains)),
        "expected apps/x.toml:{line}: {field}: …{contains}…, got {diags:#?}"
    );
}

const GOOD: &str = r#"[[app]]
id = "x"
name = "X"
categories = ["social-video"]

[[app.identifier]]
platform = "android"
value = "com.example.x"
sources = ["s1"]

[[app.network]]
domains = ["x.example"]
cname_targets = ["x.example.edgesuite.net"]
ip_prefixes = ["192.0.2.0/24"]
sources = ["s1"]
"#;

#[test]
fn a_good_entry_passes() {
    assert_eq!(check(GOOD), Vec::<Diagnostic>::new());
}

#[test]
fn claim_without_source_is_rejected_with_its_line() {
    let app = GOOD.replace(
        "value = \"com.example.x\"\nsources = [\"s1\"]",
        "value = \"com.example.x\"\nsources = []",
    );
    expect_one(&app, 8, "sources", "has no source");
}

#[test]
fn unknown_source_is_rejected() {
    let app = GOOD.replace(
        "ip_prefixes = [\"192.0.2.0/24\"]\nsources = [\"s1\"]",
        "ip_prefixes = [\"192.0.2.0/24\"]\nsources = [\"nope\"]",
    );
    expect_one(&app, 15, "sources", "unknown source `nope`");
}

#[test]
fn invalid_domain_is_rejected() {
    let app = GOOD.replace(
        "domains = [\"x.example\"]",
        "domains = [\"x.example\\nlocal-zone: evil\"]",
    );
    expect_one(&app, 12, "network.domains", "not allowed");
    let app = GOOD.replace("domains = [\"x.example\"]", "domains = [\"X.Example\"]");
    expect_one(&app, 12, "network.domains", "lowercase");
}

#[test]
fn duplicate_identifier_is_rejected() {
    let second = GOOD
        .replace("id = \"x\"", "id = \"y\"")
        .replace("domains = [\"x.example\"]", "domains = [\"y.example\"]");
    let app = format!("{GOOD}\n{second}");
    let diags = check(&app);
    assert!(
        diags
            .iter()
            .any(|d| d.field == "identifier.value" && d.message.contains("also listed for app `x`") && d.line == 24),
        "{diags:#?}"
    );
}

#[test]
fn unknown_field_is_rejected() {
    let app = GOOD.replace("name = \"X\"", "name = \"X\"\ncolour = \"red\"");
    expect_one(&app, 4, "colour", "unknown field");
}

#[test]
fn generic_cdn_apex_is_rejected() {
    let app = GOOD.replace(
        "cname_targets = [\"x.example.edgesuite.net\"]",
        "cname_targets = [\"edgesuite.net\"]",
    );
    expect_one(&app, 13, "network.cname_targets", "generic");
    let app = GOOD.replace("domains = [\"x.example\"]", "domains = [\"akamaized.net\"]");
    expect_one(&app, 12, "network.domains", "generic");
}

#[test]
fn bad_prefix_and_bad_date_are_rejected() {
    let app = GOOD.replace("192.0.2.0/24", "192.0.2.7/24");
    expect_one(&app, 14, "network.ip_prefixes", "host bits");
    let app = format!(
        "{GOOD}\n[[app.incident]]\ndate = 2025-13-01\nkind = \"fine\"\ntitle = \"t\"\nseverity = 2\nsources = [\"s1\"]\n"
    );
    let diags = check(&app);
    assert!(
        diags.iter().any(|d| d.file == "apps/x.toml" && d.line == 18),
        "{diags:#?}"
    );
}

#[test]
fn derived_factor_cannot_be_rated() {
    let app = format!("{GOOD}\n[[app.factor]]\nid = \"F6\"\nscore = 4\nrationale = \"r\"\nsources = [\"s1\"]\n");
    expect_one(&app, 18, "factor.id", "derived");
}

#[test]
fn overlay_needs_a_mode_and_extends() {
    let bundled = (Origin::Bundled, "base.toml".to_string(), BASE.to_string());
    let app = (Origin::Bundled, "apps/x.toml".to_string(), GOOD.to_string());
    let overlay = "[[app]]\nid = \"x\"\nname = \"X\"\ncategories = []\n\n[[app.network]]\ndomains = [\"x2.example\"]\nsources = [\"s1\"]\n";
    let ov = (Origin::Overlay, "mine/x.toml".to_string(), overlay.to_string());
    match Catalog::from_files(&[bundled.clone(), app.clone(), ov]) {
        Err(LoadError::Invalid(d)) => assert!(
            d.iter()
                .any(|d| d.file == "mine/x.toml" && d.line == 1 && d.field == "overlay"),
            "{d:#?}"
        ),
        other => panic!("expected an overlay error, got {other:?}"),
    }
    let ov = (
        Origin::Overlay,
        "mine/x.toml".to_string(),
        overlay.replace("name = \"X\"", "name = \"X\"\noverlay = \"extend\""),
    );
    let cat = Catalog::from_files(&[bundled, app, ov]).expect("valid overlay");
    let x = cat.app("x").expect("x");
    let domains: Vec<&str> = x
        .network
        .iter()
        .flat_map(|n| n.domains.iter().map(String::as_str))
        .collect();
    assert_eq!(domains, ["x.example", "x2.example"]);
    assert_eq!(x.identifiers.len(), 1);
    assert_eq!(cat.snapshot.overlay_files, 1);
}

#[test]
fn syntax_error_names_its_line() {
    let app = GOOD.replace("name = \"X\"", "name = \"X");
    let diags = check(&app);
    assert!(
        diags.iter().any(|d| d.file == "apps/x.toml" && d.line == 3),
        "{diags:#?}"
    );
}

#[test]
fn a_carve_out_must_narrow_a_domain() {
    let app = GOOD.replace("cname_targets", "except = [\"www.x.example\"]\ncname_targets");
    assert_eq!(check(&app), Vec::<Diagnostic>::new());
    let app = GOOD.replace("cname_targets", "except = [\"other.example\"]\ncname_targets");
    expect_one(&app, 13, "network.except", "not below");
}
