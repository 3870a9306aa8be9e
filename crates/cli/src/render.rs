//! Human-readable output: tables, the detailed explanation of an
//! assessment, Markdown, catalog entries and plan summaries.

use std::collections::BTreeMap;
use std::io::{self, Write};

use catalog::{App, Catalog};
use policy::{Action, EnforcementPlan, Policy};
use risk::{Assessment, ExceptionStatus, Profile};

use crate::Format;

fn table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &header.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
    for r in rows {
        line(out, r)?;
    }
    Ok(())
}

fn num(x: f64) -> String {
    format!("{x:.1}")
}

fn score_cell(a: &Assessment) -> String {
    if a.score_range[0] == a.score_range[1] {
        num(a.score)
    } else {
        format!("{} ({}–{})", num(a.score), num(a.score_range[0]), num(a.score_range[1]))
    }
}

fn level(a: &Assessment) -> String {
    let l = format!("{:?}", a.level).to_lowercase();
    if a.floor_applied { format!("{l} (floor)") } else { l }
}

fn by(a: &Assessment) -> String {
    match a.decided_by {
        risk::DecidedBy::Gate => format!(
            "gate: {}",
            a.gates.iter().map(|g| g.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
        risk::DecidedBy::Score => "score".into(),
        risk::DecidedBy::Exception => "exception".into(),
    }
}

fn value(v: Option<u8>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// Prints a risk register.
pub fn assessments(
    out: &mut impl Write,
    list: &[Assessment],
    policy: &Policy,
    format: Format,
    detailed: bool,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, list)?;
            writeln!(out)
        }
        Format::Markdown => markdown(out, list, policy),
        Format::Table => {
            let Some(first) = list.first() else {
                return writeln!(out, "no apps");
            };
            let s = &first.stamp;
            writeln!(
                out,
                "Risk register for {} — profile {} {} — jurisdiction {}{} — as of {}",
                policy.file.organisation.name,
                s.profile,
                s.profile_version,
                s.jurisdiction,
                if s.sectors.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", s.sectors.join(", "))
                },
                s.as_of
            )?;
            writeln!(out, "model {} — catalog {}\n", s.model_version, s.catalog_snapshot)?;
            if detailed {
                for (i, a) in list.iter().enumerate() {
                    if i > 0 {
                        writeln!(out, "\n{}\n", "─".repeat(78))?;
                    }
                    detail(out, a, policy)?;
                }
                Ok(())
            } else {
                let mut sorted: Vec<&Assessment> = list.iter().collect();
                sorted.sort_by(|a, b| {
                    b.decision
                        .cmp(&a.decision)
                        .then(b.score.total_cmp(&a.score))
                        .then(a.app.cmp(&b.app))
                });
                let rows: Vec<Vec<String>> = sorted
                    .iter()
                    .map(|a| vec![a.app.clone(), score_cell(a), level(a), a.decision.to_string(), by(a)])
                    .collect();
                table(out, &["APP", "SCORE (RANGE)", "LEVEL", "DECISION", "DECIDED BY"], &rows)?;
                writeln!(
                    out,
                    "\n{} apps. Details and evidence: appwarden assess APP --profile {}",
                    list.len(),
                    policy.profile.id
                )
            }
        }
    }
}

fn detail(out: &mut impl Write, a: &Assessment, policy: &Policy) -> io::Result<()> {
    let p = &policy.profile;
    writeln!(out, "{} ({})", a.name, a.app)?;
    writeln!(out, "  DECISION  {}", a.decision.to_string().to_uppercase())?;
    let why = match a.decided_by {
        risk::DecidedBy::Gate => "a law that binds this organisation (a gate) decides, whatever the score".to_string(),
        risk::DecidedBy::Exception => format!("an approved exception moved it from {}", a.decision_before_exceptions),
        risk::DecidedBy::Score => format!(
            "by score: allow below {}, block at {} or more, allow_outside_sandbox in between",
            p.allow_below, p.block_at
        ),
    };
    writeln!(out, "            {why}")?;
    writeln!(
        out,
        "  SCORE     {} of 100{} — level {}",
        num(a.score),
        if a.score_range[0] == a.score_range[1] {
            String::new()
        } else {
            format!(
                " (between {} and {} while evidence is missing)",
                num(a.score_range[0]),
                num(a.score_range[1])
            )
        },
        level(a)
    )?;
    writeln!(out, "  MEANS     {}", meaning(a.decision))?;

    if !a.gates.is_empty() {
        writeln!(out, "\nGates (decide first; cannot be averaged away)")?;
        for g in &a.gates {
            writeln!(out, "  - {}: {}", g.id, g.text)?;
        }
    }

    writeln!(
        out,
        "\nFactors (value 0–4, ? = no evidence yet; contribution = weight × value / 4)"
    )?;
    let mut cites: Vec<&risk::EvidenceRef> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut rows = Vec::new();
    for f in &a.factors {
        let mut refs = Vec::new();
        for e in &f.evidence {
            let n = *index.entry(e.source.clone()).or_insert_with(|| {
                cites.push(e);
                cites.len()
            });
            refs.push(format!("[{n}]"));
        }
        let contribution = if f.value.is_some() {
            num(f.contribution)
        } else {
            format!(
                "{} ({}–{})",
                num(f.contribution),
                num(f.contribution_range[0]),
                num(f.contribution_range[1])
            )
        };
        rows.push(vec![
            f.id.to_string(),
            f.name.to_string(),
            value(f.value),
            f.weight.to_string(),
            contribution,
            f.confidence.map_or("–".into(), |c| format!("{c:?}").to_lowercase()),
            refs.join(""),
        ]);
    }
    let mut buf = Vec::new();
    table(
        &mut buf,
        &["", "FACTOR", "VALUE", "WEIGHT", "POINTS", "CONFIDENCE", "SOURCES"],
        &rows,
    )?;
    for l in String::from_utf8_lossy(&buf).lines() {
        writeln!(out, "  {l}")?;
    }
    writeln!(out, "\nWhy each value")?;
    for f in &a.factors {
        writeln!(
            out,
            "  {} {}: {}",
            f.id,
            if f.derived { "(derived)" } else { "" },
            f.rationale
        )?;
    }
    if !a.exceptions.is_empty() {
        writeln!(out, "\nExceptions")?;
        for e in &a.exceptions {
            let outcome = match &e.outcome {
                ExceptionStatus::Applied => "applied".to_string(),
                ExceptionStatus::NotNeeded => "not needed (the decision is not block)".to_string(),
                ExceptionStatus::NotYetValid => format!("not valid before {}", e.granted),
                ExceptionStatus::Expired => format!("expired on {}", e.expires),
                ExceptionStatus::Invalid(m) => format!("invalid: {m}"),
                ExceptionStatus::GateNotExempted(m) => format!("does not apply: {m}"),
            };
            let groups = if e.groups.is_empty() {
                "all groups".to_string()
            } else {
                format!("groups {}", e.groups.join(", "))
            };
            writeln!(
                out,
                "  - approved by {}, {} to {}, {groups}: {outcome}",
                e.approver, e.granted, e.expires
            )?;
        }
    }
    writeln!(out, "\nWhat would change the decision")?;
    for w in &a.what_would_change {
        writeln!(out, "  - {w}")?;
    }
    writeln!(out, "\nSources")?;
    for (i, e) in cites.iter().enumerate() {
        writeln!(
            out,
            "  [{}] {} ({}, {}) {}",
            i + 1,
            e.title,
            kind(e.kind),
            e.date,
            e.url
        )?;
    }
    writeln!(
        out,
        "\nReproduce: model {}, catalog {}, profile {} {}, as of {}",
        a.stamp.model_version, a.stamp.catalog_snapshot, a.stamp.profile, a.stamp.profile_version, a.stamp.as_of
    )
}

fn kind(k: catalog::SourceKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn meaning(d: risk::Decision) -> &'static str {
    match d {
        risk::Decision::Allow => "installable on managed devices; allowed and monitored on the network",
        risk::Decision::AllowOutsideSandbox => {
            "not on managed devices or in work profiles; tolerated on the personal side of BYOD; blocked on the corporate network"
        }
        risk::Decision::Block => {
            "not installable on managed devices or where corporate data lives; blocked on the network; attempts alerted"
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(out: &mut impl Write, list: &[Assessment], policy: &Policy) -> io::Result<()> {
    let Some(first) = list.first() else {
        return writeln!(out, "No apps.");
    };
    let s = &first.stamp;
    writeln!(out, "# Risk register: {}\n", md_escape(&policy.file.organisation.name))?;
    writeln!(
        out,
        "Profile `{}` {} · jurisdiction {} · as of {} · model `{}` · catalog `{}`\n",
        s.profile, s.profile_version, s.jurisdiction, s.as_of, s.model_version, s.catalog_snapshot
    )?;
    writeln!(
        out,
        "| App | Score (range) | Level | Decision | Decided by |\n|---|---|---|---|---|"
    )?;
    for a in list {
        writeln!(
            out,
            "| {} | {} | {} | **{}** | {} |",
            md_escape(&a.name),
            score_cell(a),
            level(a),
            a.decision,
            md_escape(&by(a))
        )?;
    }
    for a in list {
        writeln!(out, "\n## {} — {}\n", md_escape(&a.name), a.decision)?;
        for g in &a.gates {
            writeln!(out, "- **Gate** `{}`: {}", g.id, md_escape(&g.text))?;
        }
        writeln!(
            out,
            "\n| Factor | Value | Weight | Points | Confidence | Why | Sources |\n|---|---|---|---|---|---|---|"
        )?;
        for f in &a.factors {
            let links: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("[{}]({})", md_escape(&e.title), e.url))
                .collect();
            writeln!(
                out,
                "| {} {} | {} | {} | {} | {} | {} | {} |",
                f.id,
                f.name,
                value(f.value),
                f.weight,
                num(f.contribution),
                f.confidence.map_or("–".into(), |c| format!("{c:?}").to_lowercase()),
                md_escape(&f.rationale),
                links.join(", ")
            )?;
        }
        writeln!(out, "\nWhat would change the decision:\n")?;
        for w in &a.what_would_change {
            writeln!(out, "- {}", md_escape(w))?;
        }
    }
    Ok(())
}

/// Prints the bundled profiles.
pub fn profiles(out: &mut impl Write, profiles: &[Profile]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = profiles
        .iter()
        .map(|p| {
            let w: Vec<String> = catalog::FactorId::ALL
                .iter()
                .map(|&f| p.weights.get(f).to_string())
                .collect();
            vec![
                p.id.clone(),
                w.join(" "),
                p.unknown_default.to_string(),
                p.allow_below.to_string(),
                p.block_at.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &["PROFILE", "WEIGHTS F1..F9", "UNKNOWN", "ALLOW <", "BLOCK >="],
        &rows,
    )
}

/// Prints a catalog listing.
pub fn catalog_list(out: &mut impl Write, cat: &Catalog, apps: &[&App]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            let ops: Vec<&str> = a
                .operators
                .iter()
                .filter_map(|o| cat.operators.get(&o.operator).map(|x| x.name.as_str()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let names: usize = a
                .network
                .iter()
                .map(|n| n.domains.len() + n.exact.len() + n.patterns.len() + n.cname_targets.len())
                .sum();
            vec![
                a.id.clone(),
                a.name.clone(),
                a.categories.join(","),
                ops.join("; "),
                a.identifiers.len().to_string(),
                names.to_string(),
            ]
        })
        .collect();
    table(out, &["ID", "NAME", "CATEGORIES", "OPERATORS", "IDS", "NAMES"], &rows)?;
    writeln!(out, "\n{} entries (catalog {})", apps.len(), cat.snapshot.short())
}

/// Prints one catalog entry with its sources.
pub fn catalog_show(out: &mut impl Write, cat: &Catalog, a: &App) -> io::Result<()> {
    let mut cites: Vec<String> = Vec::new();
    let mut idx: BTreeMap<String, usize> = BTreeMap::new();
    let mut r = |ids: &[String]| -> String {
        ids.iter()
            .map(|id| {
                let n = *idx.entry(id.clone()).or_insert_with(|| {
                    cites.push(id.clone());
                    cites.len()
                });
                format!("[{n}]")
            })
            .collect()
    };
    writeln!(
        out,
        "{} ({}) — {:?}, categories: {}",
        a.name,
        a.id,
        a.kind,
        a.categories.join(", ")
    )?;
    if let Some(d) = &a.description {
        writeln!(out, "{d}")?;
    }
    if let Some(loc) = cat.location_of_app(&a.id) {
        writeln!(out, "defined at {loc}")?;
    }
    if !a.operators.is_empty() {
        writeln!(out, "\nOperators")?;
        for o in &a.operators {
            let op = cat.operators.get(&o.operator);
            let when = match (o.from, o.until) {
                (None, None) => String::new(),
                (f, u) => format!(
                    " {}–{}",
                    f.map(|d| d.to_string()).unwrap_or_default(),
                    u.map(|d| d.to_string()).unwrap_or_default()
                ),
            };
            let roles: Vec<String> = o.roles.iter().map(|x| x.as_str().to_string()).collect();
            writeln!(
                out,
                "  - {} [{}] regions {}{}{} — incorporated {}, controlled from {} {}{}",
                op.map_or(o.operator.as_str(), |x| x.name.as_str()),
                roles.join(", "),
                o.regions.join(","),
                if o.except_regions.is_empty() {
                    String::new()
                } else {
                    format!(" except {}", o.except_regions.join(","))
                },
                when,
                op.map_or("?".into(), |x| x.country.clone()),
                op.map_or("?".into(), |x| x.controlled_from.join(",")),
                r(&o.sources),
                o.note.as_ref().map(|n| format!("\n      {n}")).unwrap_or_default()
            )?;
        }
    }
    if !a.identifiers.is_empty() {
        writeln!(out, "\nIdentifiers")?;
        for i in &a.identifiers {
            writeln!(
                out,
                "  - {:<17} {}{} {}",
                i.platform.as_str(),
                i.value,
                i.variant.as_ref().map(|v| format!(" ({v})")).unwrap_or_default(),
                r(&i.sources)
            )?;
        }
    }
    if !a.network.is_empty() {
        writeln!(out, "\nNetwork footprint")?;
        for n in &a.network {
            writeln!(out, "  - {} {}", n.note.as_deref().unwrap_or("names"), r(&n.sources))?;
            for (label, list) in [
                ("domains", &n.domains),
                ("exact", &n.exact),
                ("patterns", &n.patterns),
                ("cname targets", &n.cname_targets),
                ("ip prefixes", &n.ip_prefixes),
                ("not covered (carve-outs)", &n.except),
            ] {
                if !list.is_empty() {
                    writeln!(out, "      {label}: {}", list.join(" "))?;
                }
            }
        }
    }
    if !a.data.is_empty() {
        writeln!(out, "\nData collected")?;
        for d in &a.data {
            writeln!(out, "  - {}: {} {}", d.kind, d.text, r(&d.sources))?;
        }
    }
    if !a.incidents.is_empty() {
        writeln!(out, "\nIncidents")?;
        let mut inc: Vec<_> = a.incidents.iter().collect();
        inc.sort_by_key(|i| std::cmp::Reverse(i.date));
        for i in inc {
            writeln!(
                out,
                "  - {} {:?} (severity {}): {} {}",
                i.date,
                i.kind,
                i.severity,
                i.title,
                r(&i.sources)
            )?;
        }
    }
    if !a.factors.is_empty() {
        writeln!(out, "\nFactor ratings")?;
        for f in &a.factors {
            writeln!(out, "  - {} = {}: {} {}", f.id, f.score, f.rationale, r(&f.sources))?;
        }
    }
    for m in &a.malware {
        writeln!(out, "\nMalware verdict {}: {} {}", m.date, m.text, r(&m.sources))?;
    }
    let restrictions: Vec<_> = cat.restrictions_for(&a.id).collect();
    if !restrictions.is_empty() {
        writeln!(out, "\nGovernment restrictions")?;
        for x in restrictions {
            writeln!(
                out,
                "  - {} {} ({}{}): {} — {} {}",
                x.date,
                x.jurisdiction,
                x.instrument,
                x.until.map(|u| format!(", until {u}")).unwrap_or_default(),
                x.scope,
                x.requirement,
                r(&x.sources)
            )?;
        }
    }
    writeln!(out, "\nSources")?;
    for (i, id) in cites.iter().enumerate() {
        match cat.source(id) {
            Some(s) => writeln!(
                out,
                "  [{}] {} ({}, {}, confidence {:?}) {}",
                i + 1,
                s.title,
                kind(s.kind),
                s.date,
                s.confidence,
                s.url
            )?,
            None => writeln!(out, "  [{}] {id}", i + 1)?,
        }
    }
    Ok(())
}

/// Prints a plan summary per group.
pub fn plan_summary(out: &mut impl Write, plan: &EnforcementPlan) -> io::Result<()> {
    let s = &plan.stamp;
    writeln!(
        out,
        "EnforcementPlan v{} for {} — profile {} {} — policy {} — catalog {} — as of {}",
        plan.plan_version, s.organisation, s.profile, s.profile_version, s.policy_version, s.catalog_snapshot, s.as_of
    )?;
    for g in &plan.groups {
        let block: Vec<&str> = g
            .rules
            .iter()
            .filter(|r| r.action == Action::Block)
            .map(|r| r.app.as_str())
            .collect();
        let log: Vec<&str> = g
            .rules
            .iter()
            .filter(|r| r.action == Action::LogOnly)
            .map(|r| r.app.as_str())
            .collect();
        let names = plan.blocked_names(&g.id, Action::Block);
        writeln!(
            out,
            "\ngroup {} ({:?}{}) clients: {}",
            g.id,
            g.kind,
            if g.default { ", default" } else { "" },
            if g.clients.is_empty() {
                "(any)".to_string()
            } else {
                g.clients.join(" ")
            }
        )?;
        writeln!(out, "  block ({}): {}", block.len(), block.join(" "))?;
        if !log.is_empty() {
            writeln!(out, "  log-only ({}): {}", log.len(), log.join(" "))?;
        }
        writeln!(
            out,
            "  sandbox allow-list ({}): {}",
            g.sandbox_allow.len(),
            g.sandbox_allow.join(" ")
        )?;
        writeln!(
            out,
            "  blocked names: {} domains, {} exact, {} patterns, {} IP prefixes",
            names.domains.len(),
            names.exact.len(),
            names.patterns.len(),
            names.ip_prefixes.len()
        )?;
        let b = &g.bypass;
        writeln!(
            out,
            "  bypass prevention: canary {} · private relay {} · ddr {} · encrypted dns {} · vpn {} · proxy {} · tor {}",
            b.firefox_canary, b.private_relay, b.ddr, b.encrypted_dns, b.vpn, b.proxy, b.tor
        )?;
    }
    Ok(())
}
