//! Semantic checks of a merged catalog. Every problem becomes a
//! [`Diagnostic`] naming file, line and field; checking never stops early.

use std::collections::BTreeMap;

use crate::domain::{check_block_rule, check_pattern, check_prefix};
use crate::load::Place;
use crate::model::{AppKind, Platform};
use crate::{Catalog, Diagnostic};

/// Sectors an organisation or a binding may name.
pub const SECTORS: &[&str] = &[
    "*",
    "government",
    "government-contractor",
    "subnational-government",
    "legislature",
    "defence",
    "critical-infrastructure",
    "health",
    "education",
    "finance",
    "retail",
    "media",
];

/// Whether `code` is a jurisdiction code: ISO 3166-1 alpha-2, an ISO 3166-2
/// subdivision (`US-TX`, `GB-SCT`), or an EU institution (`EU`, `EU-EP`, …).
pub fn is_jurisdiction(code: &str) -> bool {
    let mut parts = code.splitn(2, '-');
    let country = parts.next().unwrap_or("");
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return false;
    }
    match parts.next() {
        None => true,
        Some(sub) => {
            let max = if country == "EU" { 12 } else { 3 };
            !sub.is_empty() && sub.len() <= max && sub.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
    }
}

/// Whether `id` is a catalog id: lowercase letters, digits and `-`, starting
/// with a letter or digit.
pub fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

/// Checks an identifier's form for its platform.
pub fn check_identifier(platform: Platform, value: &str) -> Result<(), String> {
    let dotted = |allow_dash: bool, min_parts: usize| {
        let parts: Vec<&str> = value.split('.').collect();
        parts.len() >= min_parts
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || (allow_dash && b == b'-'))
            })
    };
    let ok = match platform {
        Platform::Android => {
            dotted(false, 2)
                && value
                    .split('.')
                    .all(|p| p.as_bytes().first().is_some_and(|b| b.is_ascii_alphabetic()))
        }
        Platform::IosBundleId | Platform::MacosBundleId => dotted(true, 2),
        Platform::IosAppStoreId => (6..=12).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()),
        Platform::AppleTeamId => {
            value.len() == 10 && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        Platform::WindowsPfn => match value.rsplit_once('_') {
            Some((name, publisher)) => {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                    && publisher.len() == 13
                    && publisher.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            }
            None => false,
        },
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{value}` is not a valid {} identifier", platform.as_str()))
    }
}

struct Checker<'a> {
    cat: &'a Catalog,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn report(&mut self, places: &[Place], needles: &[&str], field: &str, message: String) {
        let (file, line) = self.cat.files.locate(places, needles);
        self.diags.push(Diagnostic {
            file,
            line,
            field: field.to_string(),
            message,
        });
    }

    fn sources(&mut self, places: &[Place], what: &str, anchor: &str, sources: &[String]) {
        if sources.is_empty() {
            self.report(
                places,
                &[anchor, "sources = []"],
                "sources",
                format!("{what} has no source: every claim names at least one"),
            );
        }
        for s in sources {
            if !self.cat.sources.contains_key(s) {
                let quoted = format!("\"{s}\"");
                self.report(
                    places,
                    &[&quoted],
                    "sources",
                    format!("{what} cites unknown source `{s}`"),
                );
            }
        }
    }
}

pub(crate) fn check(cat: &Catalog) -> Vec<Diagnostic> {
    let mut c = Checker { cat, diags: Vec::new() };
    let places = &cat.places;
    let none: Vec<Place> = Vec::new();

    for (id, src) in &cat.sources {
        let p = places.sources.get(id).unwrap_or(&none);
        if !is_id(id) {
            c.report(
                p,
                &[],
                "id",
                format!("`{id}` is not an id (lowercase letters, digits, '-')"),
            );
        }
        if !(src.url.starts_with("https://") || src.url.starts_with("http://")) || src.url.contains(char::is_whitespace)
        {
            c.report(p, &["url"], "url", format!("`{}` is not an http(s) URL", src.url));
        }
    }
    for id in cat.categories.keys() {
        if !is_id(id) {
            let p = places.categories.get(id).unwrap_or(&none);
            c.report(p, &[], "id", format!("`{id}` is not an id"));
        }
    }
    for (id, op) in &cat.operators {
        let p = places.operators.get(id).unwrap_or(&none).clone();
        if !is_id(id) {
            c.report(&p, &[], "id", format!("`{id}` is not an id"));
        }
        if !is_jurisdiction(&op.country) {
            c.report(
                &p,
                &["country"],
                "country",
                format!("`{}` is not an ISO 3166 code", op.country),
            );
        }
        for j in &op.controlled_from {
            if !is_jurisdiction(j) {
                c.report(
                    &p,
                    &["controlled_from"],
                    "controlled_from",
                    format!("`{j}` is not an ISO 3166 code"),
                );
            }
        }
        if let Some(parent) = &op.parent
            && !cat.operators.contains_key(parent)
        {
            c.report(&p, &["parent"], "parent", format!("unknown operator `{parent}`"));
        }
        c.sources(&p, &format!("operator `{id}`"), "sources", &op.sources);
        for fact in &op.facts {
            let anchor = format!("\"{}", fact.text.chars().take(30).collect::<String>());
            c.sources(&p, "an operator fact", &anchor, &fact.sources);
            for r in &fact.regions {
                if r != "*" && !is_jurisdiction(r) {
                    c.report(&p, &["regions"], "fact.regions", format!("`{r}` is not a region code"));
                }
            }
        }
    }

    let mut identifiers: BTreeMap<(Platform, &str), &str> = BTreeMap::new();
    for (id, app) in &cat.apps {
        let p = places.apps.get(id).unwrap_or(&none).clone();
        let what = format!("app `{id}`");
        if !is_id(id) {
            c.report(
                &p,
                &[],
                "id",
                format!("`{id}` is not an id (lowercase letters, digits, '-')"),
            );
        }
        if app.categories.is_empty() {
            c.report(&p, &["categories"], "categories", format!("{what} has no category"));
        }
        for cat_id in &app.categories {
            if !cat.categories.contains_key(cat_id) {
                let q = format!("\"{cat_id}\"");
                c.report(&p, &[&q], "categories", format!("unknown category `{cat_id}`"));
            }
        }
        for r in &app.related {
            if !cat.apps.contains_key(r) {
                let q = format!("\"{r}\"");
                c.report(&p, &[&q], "related", format!("unknown app `{r}`"));
            }
        }
        match (app.kind, &app.bypass) {
            (AppKind::Bypass, None) => c.report(
                &p,
                &["kind"],
                "bypass",
                format!("{what} has kind = \"bypass\" but no [app.bypass] table"),
            ),
            (AppKind::App, Some(_)) => c.report(
                &p,
                &["[app.bypass]"],
                "bypass",
                format!("{what} has a [app.bypass] table but kind = \"app\""),
            ),
            _ => {}
        }
        for role in &app.operators {
            let q = format!("\"{}\"", role.operator);
            if !cat.operators.contains_key(&role.operator) {
                c.report(
                    &p,
                    &[&q],
                    "operator.id",
                    format!("unknown operator `{}`", role.operator),
                );
            }
            if role.roles.is_empty() {
                c.report(
                    &p,
                    &[&q],
                    "operator.roles",
                    "an operator entry needs at least one role".into(),
                );
            }
            for r in role.regions.iter().chain(&role.except_regions) {
                if r != "*" && !is_jurisdiction(r) {
                    c.report(&p, &[&q], "operator.regions", format!("`{r}` is not a region code"));
                }
            }
            c.sources(
                &p,
                &format!("the operator entry `{}`", role.operator),
                &q,
                &role.sources,
            );
        }
        for ident in &app.identifiers {
            let q = format!("\"{}\"", ident.value);
            if let Err(msg) = check_identifier(ident.platform, &ident.value) {
                c.report(&p, &[&q], "identifier.value", msg);
            }
            if let Some(other) = identifiers.insert((ident.platform, ident.value.as_str()), id) {
                let msg = if other == id {
                    format!(
                        "identifier {} `{}` is listed twice",
                        ident.platform.as_str(),
                        ident.value
                    )
                } else {
                    format!(
                        "duplicate identifier: {} `{}` is also listed for app `{other}`",
                        ident.platform.as_str(),
                        ident.value
                    )
                };
                c.report(&p, &[&q], "identifier.value", msg);
            }
            c.sources(&p, &format!("identifier `{}`", ident.value), &q, &ident.sources);
        }
        for fp in &app.network {
            let first = fp
                .domains
                .first()
                .or(fp.exact.first())
                .or(fp.cname_targets.first())
                .or(fp.patterns.first())
                .or(fp.ip_prefixes.first())
                .map(|s| format!("\"{s}\""))
                .unwrap_or_else(|| "[[app.network]]".into());
            if fp.domains.is_empty()
                && fp.exact.is_empty()
                && fp.patterns.is_empty()
                && fp.cname_targets.is_empty()
                && fp.ip_prefixes.is_empty()
            {
                c.report(
                    &p,
                    &[&first],
                    "network",
                    "an [[app.network]] block lists nothing".into(),
                );
            }
            for (field, names) in [
                ("network.domains", &fp.domains),
                ("network.exact", &fp.exact),
                ("network.cname_targets", &fp.cname_targets),
            ] {
                for name in names {
                    if let Err(msg) = check_block_rule(name) {
                        let q = format!("\"{}\"", name.escape_default());
                        c.report(&p, &[&q], field, msg);
                    }
                }
            }
            for name in &fp.except {
                let q = format!("\"{}\"", name.escape_default());
                if let Err(msg) = crate::domain::check_domain(name) {
                    c.report(&p, &[&q], "network.except", msg);
                } else if !fp
                    .domains
                    .iter()
                    .any(|d| d != name && crate::domain::is_subdomain_or_self(name, d))
                {
                    c.report(
                        &p,
                        &[&q],
                        "network.except",
                        format!(
                            "`{name}` is not below any of this block's `domains`; a carve-out narrows a domain rule"
                        ),
                    );
                }
            }
            for pat in &fp.patterns {
                if let Err(msg) = check_pattern(pat) {
                    let q = format!("\"{}\"", pat.escape_default());
                    c.report(&p, &[&q], "network.patterns", msg);
                }
            }
            for prefix in &fp.ip_prefixes {
                if let Err(msg) = check_prefix(prefix) {
                    let q = format!("\"{prefix}\"");
                    c.report(&p, &[&q], "network.ip_prefixes", msg);
                }
            }
            c.sources(&p, "a network footprint block", &first, &fp.sources);
        }
        for d in &app.data {
            let q = format!("\"{}", d.text.chars().take(30).collect::<String>());
            c.sources(&p, "a data-collection claim", &q, &d.sources);
        }
        for inc in &app.incidents {
            let q = format!("\"{}", inc.title.chars().take(30).collect::<String>());
            if !(1..=4).contains(&inc.severity) {
                c.report(
                    &p,
                    &[&q],
                    "incident.severity",
                    format!("severity {} is outside 1–4", inc.severity),
                );
            }
            c.sources(&p, "an incident", &q, &inc.sources);
        }
        let mut seen = Vec::new();
        for f in &app.factors {
            let q = format!("\"{}\"", f.id);
            if f.id.is_derived() {
                c.report(
                    &p,
                    &[&q],
                    "factor.id",
                    format!(
                        "{} is derived (from operators, incidents or restrictions) and cannot be rated",
                        f.id
                    ),
                );
            }
            if f.score > 4 {
                c.report(
                    &p,
                    &[&q],
                    "factor.score",
                    format!("{} score {} is outside 0–4", f.id, f.score),
                );
            }
            if seen.contains(&f.id) {
                c.report(&p, &[&q], "factor.id", format!("{} is rated twice", f.id));
            }
            seen.push(f.id);
            c.sources(&p, &format!("the {} rating", f.id), &q, &f.sources);
        }
        for m in &app.malware {
            let q = format!("\"{}", m.text.chars().take(30).collect::<String>());
            c.sources(&p, "a malware verdict", &q, &m.sources);
        }
    }

    for (id, r) in &cat.restrictions {
        let p = places.restrictions.get(id).unwrap_or(&none).clone();
        if !is_id(id) {
            c.report(&p, &[], "id", format!("`{id}` is not an id"));
        }
        if !is_jurisdiction(&r.jurisdiction) {
            c.report(
                &p,
                &["jurisdiction"],
                "jurisdiction",
                format!("`{}` is not a jurisdiction code", r.jurisdiction),
            );
        }
        if r.apps.is_empty() {
            c.report(&p, &["apps"], "apps", "a restriction covers at least one app".into());
        }
        for a in &r.apps {
            if !cat.apps.contains_key(a) {
                let q = format!("\"{a}\"");
                c.report(&p, &[&q], "apps", format!("unknown app `{a}`"));
            }
        }
        if let Some(until) = r.until
            && until < r.date
        {
            c.report(&p, &["until"], "until", "`until` is before `date`".into());
        }
        for b in &r.binding {
            if !is_jurisdiction(&b.jurisdiction) {
                c.report(
                    &p,
                    &["[[restriction.binding]]"],
                    "binding.jurisdiction",
                    format!("`{}` is not a jurisdiction code", b.jurisdiction),
                );
            }
            for s in &b.sectors {
                if !SECTORS.contains(&s.as_str()) {
                    let q = format!("\"{s}\"");
                    c.report(
                        &p,
                        &[&q],
                        "binding.sectors",
                        format!("unknown sector `{s}` (known: {})", SECTORS.join(", ")),
                    );
                }
            }
        }
        c.sources(&p, &format!("restriction `{id}`"), "sources", &r.sources);
    }
    c.diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jurisdictions() {
        for ok in ["US", "US-TX", "GB-SCT", "EU", "EU-EP", "EU-CONSILIUM", "AU-ACT"] {
            assert!(is_jurisdiction(ok), "{ok}");
        }
        for bad in ["us", "USA", "US-", "U", "US-TEXAS", "*"] {
            assert!(!is_jurisdiction(bad), "{bad}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(check_identifier(Platform::Android, "com.zhiliaoapp.musically").is_ok());
        assert!(check_identifier(Platform::Android, "com.eg.android.AlipayGphone").is_ok());
        assert!(check_identifier(Platform::Android, "com.1bad").is_err());
        assert!(check_identifier(Platform::Android, "single").is_err());
        assert!(check_identifier(Platform::IosBundleId, "com.ss.iphone.ugc.Ame").is_ok());
        assert!(check_identifier(Platform::IosAppStoreId, "835599320").is_ok());
        assert!(check_identifier(Platform::IosAppStoreId, "id835599320").is_err());
        assert!(check_identifier(Platform::WindowsPfn, "BytedancePte.Ltd.TikTok_6yccndn6064se").is_ok());
        assert!(check_identifier(Platform::WindowsPfn, "TikTok").is_err());
        assert!(check_identifier(Platform::AppleTeamId, "ABCDE12345").is_ok());
    }
}
