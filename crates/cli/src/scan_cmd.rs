//! `appwarden scan FILE`: static analysis of an APK / XAPK / APKS / IPA
//! (crate `appscan`) — what the package can do and whom it talks to — and the
//! app's assessment under the organisation's profile with the scan's factor
//! suggestions as evidence. Also `appwarden assess APP --with-scan FILE`.
//!
//! The scan's suggestions for F1–F5 become [`risk::ExtraEvidence`] citing
//! `static analysis of <sha256>, appwarden-appscan <version>`; how they merge
//! with the catalog is in `docs/risk-model.md` ("Static analysis").

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use appscan::{ScanError, ScanOptions, ScanReport};
use catalog::{App, AppKind, Catalog, Confidence, Day, FactorId, Platform, Source, SourceKind};
use policy::Policy;
use risk::{Assessment, ExtraEvidence};
use serde::Serialize;

use crate::{AssessArgs, Format, OrgArgs, Problems, load_policy, render};

/// Arguments of `appwarden scan`.
#[derive(clap::Args)]
pub(crate) struct ScanArgs {
    /// The package: .apk, .xapk, .apks/.apkm (split bundles) or .ipa; the type is read from the content.
    file: PathBuf,
    #[command(flatten)]
    org: OrgArgs,
    /// Output format (json: the full scan report and the assessment, deterministic).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Lines shown per list in table and Markdown output (JSON has everything).
const MAX_LINES: usize = 40;

/// Scans `path`: a package the scanner cannot read is a problem with the input (exit 1),
/// a file that cannot be read at all an operational failure (exit 2).
fn scan(path: &Path) -> Result<ScanReport> {
    match appscan::scan_path(path, &ScanOptions::default()) {
        Ok(r) => Ok(r),
        // the message already names the cause; no chain to repeat it
        Err(ScanError::Io { source, .. }) => Err(anyhow!("cannot read {}: {source}", path.display())),
        Err(e) => {
            eprintln!(
                "appwarden: {}: not a readable APK, XAPK, APKS or IPA: {e}",
                path.display()
            );
            Err(Problems.into())
        }
    }
}

/// The package's identifier and the platforms a catalog identifier may have to match it.
fn identifier(report: &ScanReport) -> Option<(&str, &'static [Platform], &'static str)> {
    if let Some(p) = report.android.as_ref().and_then(|a| a.manifest.package.as_deref()) {
        return Some((p, &[Platform::Android], "Android package"));
    }
    report.ios.as_ref().and_then(|i| i.bundle_id.as_deref()).map(|b| {
        (
            b,
            &[Platform::IosBundleId, Platform::MacosBundleId][..],
            "iOS bundle id",
        )
    })
}

/// The catalog app one of whose identifiers (on the package's platform) is the package's.
fn matching_app<'c>(catalog: &'c Catalog, report: &ScanReport) -> Option<&'c App> {
    let (id, platforms, _) = identifier(report)?;
    catalog.apps.values().find(|a| {
        a.kind == AppKind::App
            && a.identifiers
                .iter()
                .any(|i| i.value == id && platforms.contains(&i.platform))
    })
}

/// An app the catalog does not know, built from the scan alone: no operator
/// (F6 unknown), no reviewed incident record (F7 unknown), no restriction
/// names it (F8 = 0, no gate), no rating (F1–F5 from the scan, F9 unknown).
fn ad_hoc_app(catalog: &Catalog, report: &ScanReport) -> App {
    let short = report.input.sha256.get(..12).unwrap_or(&report.input.sha256);
    let (package, label) = match (&report.android, &report.ios) {
        (Some(a), _) => (a.manifest.package.clone(), a.manifest.app_name.clone()),
        (None, Some(i)) => (i.bundle_id.clone(), i.bundle_name.clone()),
        _ => (None, None),
    };
    let package = package.unwrap_or_else(|| format!("unidentified-{short}"));
    // never take the id of a catalog app: its restrictions would apply
    let id = if catalog.apps.contains_key(&package) {
        format!("scan:{package}")
    } else {
        package.clone()
    };
    let name = label
        .filter(|l| !l.is_empty() && !l.starts_with('@'))
        .unwrap_or(package);
    App {
        id,
        name,
        kind: AppKind::App,
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

fn factor_id(s: &str) -> Option<FactorId> {
    Some(match s {
        "F1" => FactorId::F1,
        "F2" => FactorId::F2,
        "F3" => FactorId::F3,
        "F4" => FactorId::F4,
        "F5" => FactorId::F5,
        _ => return None,
    })
}

/// The scan's factor suggestions as evidence for the risk engine. The source
/// is dated on the assessment day so the same inputs give the same output.
pub(crate) fn evidence(report: &ScanReport, as_of: Day) -> Vec<ExtraEvidence> {
    let sha = &report.input.sha256;
    report
        .factors
        .iter()
        .filter_map(|s| {
            let factor = factor_id(s.factor)?;
            let rationale = if s.findings.is_empty() {
                s.rationale.clone()
            } else {
                format!("{} (findings: {})", s.rationale, s.findings.join(", "))
            };
            Some(ExtraEvidence {
                factor,
                score: s.score,
                rationale,
                partial: s.partial,
                source: Source {
                    id: format!("appscan:{sha}"),
                    url: format!("sha256:{sha}"),
                    title: s.source.clone(),
                    publisher: Some(report.tool.clone()),
                    date: as_of,
                    kind: SourceKind::StaticAnalysis,
                    // capability seen first-hand, behaviour not: medium
                    confidence: Confidence::Medium,
                    license: None,
                    note: None,
                },
                input_sha256: sha.clone(),
            })
        })
        .collect()
}

/// How the scanned package relates to the catalog.
#[derive(Serialize)]
struct Identity {
    /// Android package or iOS bundle id (`null` when the package has none).
    identifier: Option<String>,
    /// The catalog app it is an identifier of (`null`: assessed from the scan alone).
    catalog_app: Option<String>,
    /// In words.
    note: String,
}

#[derive(Serialize)]
struct ScanOutput<'a> {
    scan: &'a ScanReport,
    identity: Identity,
    assessment: &'a Assessment,
}

/// How `report`'s package relates to the catalog, and its assessment under
/// `policy` on `as_of` with the scan's suggestions as evidence.
fn assess_report(policy: &Policy, report: &ScanReport, as_of: Day) -> (Identity, Assessment) {
    let ident = identifier(report);
    let matched = matching_app(&policy.catalog, report);
    let ad_hoc;
    let (app, note) = match matched {
        Some(a) => (
            a,
            format!(
                "{} `{}` is an identifier of the catalog app {} ({}): the catalog's evidence and the scan's are merged (for each of F1–F5 the higher value).",
                ident.map_or("identifier", |i| i.2),
                ident.map_or("", |i| i.0),
                a.name,
                a.id
            ),
        ),
        None => {
            ad_hoc = ad_hoc_app(&policy.catalog, report);
            let what = match ident {
                Some((id, _, kind)) => format!("{kind} `{id}` is not an identifier of any catalog app"),
                None => "the package has no package name or bundle id".to_string(),
            };
            (
                &ad_hoc,
                format!(
                    "{what}: assessed ad hoc from the scan alone. F2–F5 come from static analysis; F1 is covered only in part by static analysis and stays unknown; F6 (operator jurisdiction) and F7 (incidents) are unknown because the catalog records no operator or incident review for it; F8 is 0 and no gate fires because no restriction names it; F9 is unrated. Add the app to a catalog overlay for a complete assessment."
                ),
            )
        }
    };
    let extra = evidence(report, as_of);
    let assessment = policy.assess_with(app, as_of, &extra);
    let identity = Identity {
        identifier: ident.map(|i| i.0.to_string()),
        catalog_app: matched.map(|a| a.id.clone()),
        note,
    };
    (identity, assessment)
}

/// What `appwarden scan --format json` prints for `report`, as a JSON value:
/// `{scan, identity, assessment}` (used by `POST /api/scan`).
pub(crate) fn report_value(policy: &Policy, report: &ScanReport, as_of: Day) -> Result<serde_json::Value> {
    let (identity, assessment) = assess_report(policy, report, as_of);
    Ok(serde_json::to_value(ScanOutput {
        scan: report,
        identity,
        assessment: &assessment,
    })?)
}

/// Runs `appwarden scan`.
pub(crate) fn run(args: &ScanArgs, out: &mut impl Write) -> Result<()> {
    let report = scan(&args.file)?;
    let (policy, as_of) = load_policy(&args.org)?;
    let (identity, assessment) = assess_report(&policy, &report, as_of);
    match args.format {
        Format::Json => {
            let o = ScanOutput {
                scan: &report,
                identity,
                assessment: &assessment,
            };
            serde_json::to_writer_pretty(&mut *out, &o)?;
            writeln!(out)?;
        }
        Format::Table => {
            for s in sections(&report) {
                writeln!(out, "{}", s.title)?;
                for l in capped(&s.lines) {
                    writeln!(out, "  {l}")?;
                }
                writeln!(out)?;
            }
            writeln!(out, "Assessment\n  {}\n", identity.note)?;
            render::assessments(out, std::slice::from_ref(&assessment), &policy, Format::Table, true)?;
            writeln!(out, "Scan evidence: sha256 {} ({})", report.input.sha256, report.tool)?;
        }
        Format::Markdown => {
            writeln!(out, "# Static analysis: {}\n", md(&package_line(&report)))?;
            for s in sections(&report) {
                writeln!(out, "## {}\n", md(&s.title))?;
                for l in capped(&s.lines) {
                    writeln!(out, "- {}", md(&l))?;
                }
                writeln!(out)?;
            }
            writeln!(out, "## Assessment\n\n{}\n", md(&identity.note))?;
            render::assessments(out, std::slice::from_ref(&assessment), &policy, Format::Markdown, true)?;
            writeln!(
                out,
                "\nScan evidence: sha256 `{}` ({})",
                report.input.sha256, report.tool
            )?;
        }
    }
    Ok(())
}

/// Runs `appwarden assess APP --with-scan FILE…`: one catalog app, each scan
/// of one of its packages merged into its assessment.
pub(crate) fn assess(args: &AssessArgs, out: &mut impl Write) -> Result<()> {
    let [key] = args.apps.as_slice() else {
        bail!(
            "--with-scan needs exactly one app (`appwarden assess APP --with-scan FILE`); to assess a package on its own use `appwarden scan FILE`"
        );
    };
    let (policy, as_of) = load_policy(&args.org)?;
    let app = policy
        .catalog
        .find(key)
        .ok_or_else(|| anyhow!("no app `{key}` in the catalog (try `appwarden catalog list`)"))?;
    let mut extra = Vec::new();
    let mut scans = Vec::new();
    for path in &args.with_scan {
        let report = scan(path)?;
        let fits = matching_app(&policy.catalog, &report).is_some_and(|a| a.id == app.id);
        if !fits {
            let mut ids: Vec<&str> = Vec::new();
            for i in &app.identifiers {
                let package = matches!(
                    i.platform,
                    Platform::Android | Platform::IosBundleId | Platform::MacosBundleId
                );
                if package && !ids.contains(&i.value.as_str()) {
                    ids.push(&i.value);
                }
            }
            let what = match identifier(&report) {
                Some((id, _, kind)) => format!("{kind} `{id}`"),
                None => "a package with no package name or bundle id".to_string(),
            };
            bail!(
                "{} is {what}, which is not one of {}'s identifiers ({}); scan a package of {} or assess this one on its own with `appwarden scan {}`",
                path.display(),
                app.name,
                if ids.is_empty() {
                    "none recorded".to_string()
                } else {
                    ids.join(", ")
                },
                app.name,
                path.display()
            );
        }
        extra.extend(evidence(&report, as_of));
        scans.push((report.input.sha256.clone(), path.display().to_string()));
    }
    let assessment = policy.assess_with(app, as_of, &extra);
    render::assessments(out, std::slice::from_ref(&assessment), &policy, args.format, true)?;
    if args.format != Format::Json {
        for (sha, path) in &scans {
            writeln!(out, "Scan evidence: sha256 {sha} ({path}, {})", appscan::TOOL)?;
        }
    }
    Ok(())
}

struct Section {
    title: String,
    lines: Vec<String>,
}

fn capped(lines: &[String]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().take(MAX_LINES).cloned().collect();
    if lines.len() > MAX_LINES {
        v.push(format!(
            "… and {} more (--format json lists all)",
            lines.len() - MAX_LINES
        ));
    }
    if v.is_empty() {
        v.push("none".into());
    }
    v
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The snake_case / kebab-case name serde gives an enum value.
fn name<T: Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("?")
}

fn package_line(r: &ScanReport) -> String {
    match (&r.android, &r.ios) {
        (Some(a), _) => {
            let m = &a.manifest;
            format!(
                "{} {} (version code {}), SDK min {} target {}{}",
                opt(&m.package),
                opt(&m.version_name),
                opt(&m.version_code),
                opt(&m.min_sdk),
                opt(&m.target_sdk),
                m.max_sdk.as_ref().map_or(String::new(), |x| format!(" max {x}"))
            )
        }
        (None, Some(i)) => format!(
            "{} {} (build {}), minimum iOS {}",
            opt(&i.bundle_id),
            opt(&i.short_version),
            opt(&i.build_version),
            opt(&i.minimum_os)
        ),
        _ => "unidentified package".into(),
    }
}

/// What the package can do and whom it talks to, as titled lists.
fn sections(r: &ScanReport) -> Vec<Section> {
    let mut s = Vec::new();
    let sec = |title: &str, lines: Vec<String>| Section {
        title: title.to_string(),
        lines,
    };
    s.push(sec(
        "Package",
        vec![
            package_line(r),
            format!(
                "{} ({}, {} bytes), sha256 {}",
                r.input.file_name.as_deref().unwrap_or("<input>"),
                name(&r.input.kind),
                r.input.size,
                r.input.sha256
            ),
            r.tool.clone(),
        ],
    ));
    if let Some(a) = &r.android {
        let m = &a.manifest;
        let dangerous: Vec<String> = m
            .requested_permissions
            .iter()
            .filter(|p| p.info.dangerous)
            .map(|p| p.name.clone())
            .collect();
        s.push(sec(
            &format!(
                "Dangerous permissions ({} of {} requested)",
                dangerous.len(),
                m.requested_permissions.len()
            ),
            dangerous,
        ));
        let exported: Vec<String> = m
            .components
            .iter()
            .filter(|c| c.exported)
            .map(|c| {
                format!(
                    "{} {}{}",
                    name(&c.kind),
                    c.name,
                    c.permission
                        .as_ref()
                        .map_or(" (no permission)".to_string(), |p| format!(" (permission {p})"))
                )
            })
            .collect();
        s.push(sec(&format!("Exported components ({})", exported.len()), exported));
        let sc = &a.signing.schemes;
        let schemes: Vec<&str> = [(sc.v1, "v1"), (sc.v2, "v2"), (sc.v3, "v3"), (sc.v31, "v3.1")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        let mut signing = vec![format!(
            "schemes: {}",
            if schemes.is_empty() {
                "none".to_string()
            } else {
                schemes.join(", ")
            }
        )];
        for c in &a.signing.certificates {
            let mut flags = Vec::new();
            if c.debug_key {
                flags.push("DEBUG KEY");
            }
            if c.aosp_test_key {
                flags.push("AOSP TEST KEY");
            }
            signing.push(format!(
                "{} (sha256 {}, {} to {}){}",
                c.subject,
                c.sha256,
                c.not_before,
                c.not_after,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", flags.join(", "))
                }
            ));
        }
        signing.extend(a.signing.warnings.iter().map(|w| format!("warning: {w}")));
        let bool_flag = |v: Option<bool>| v.map_or("unset".to_string(), |b| b.to_string());
        signing.push(format!(
            "debuggable {}, testOnly {}, allowBackup {}, usesCleartextTraffic {}",
            m.debuggable,
            m.test_only,
            bool_flag(m.allow_backup),
            bool_flag(m.uses_cleartext_traffic)
        ));
        s.push(sec("Signing and flags", signing));
        let mut apis: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for u in &a.api_uses {
            apis.entry(name(&u.capability)).or_default().push(&u.api);
        }
        s.push(sec(
            &format!("Sensitive API uses ({})", a.api_uses.len()),
            apis.iter().map(|(k, v)| format!("{k}: {}", v.join(", "))).collect(),
        ));
    }
    if let Some(i) = &r.ios {
        s.push(sec(
            &format!("Usage descriptions ({})", i.usage_descriptions.len()),
            i.usage_descriptions.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        ));
        let mut sign: Vec<String> = i.entitlements.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        sign.extend(i.ats_exceptions.iter().map(|x| format!("ATS exception: {x}")));
        for b in &i.binaries {
            sign.push(format!(
                "{} [{}]{}{}",
                b.entry,
                b.architectures.join(", "),
                if b.encrypted { " FairPlay-encrypted" } else { "" },
                if b.code_signature { "" } else { " unsigned" }
            ));
        }
        s.push(sec("Entitlements, ATS and binaries", sign));
        s.push(sec(
            &format!("Frameworks ({})", i.frameworks.len()),
            i.frameworks.clone(),
        ));
        s.push(sec(
            &format!("Sensitive symbols ({})", i.sensitive_symbols.len()),
            i.sensitive_symbols.clone(),
        ));
    }
    s.push(sec(
        &format!("Trackers ({})", r.trackers.len()),
        r.trackers
            .iter()
            .map(|t| {
                format!(
                    "{} (εxodus {}) — {} confidence, by {}: {}",
                    t.name,
                    t.id,
                    name(&t.confidence),
                    t.methods.iter().map(name).collect::<Vec<_>>().join(", "),
                    t.examples.join(", ")
                )
            })
            .collect(),
    ));
    let n = &r.network;
    s.push(sec(&format!("Domains ({})", n.domains.len()), n.domains.clone()));
    s.push(sec(&format!("IP addresses ({})", n.ips.len()), n.ips.clone()));
    s.push(sec(
        &format!("Cleartext URLs ({})", n.cleartext_urls.len()),
        n.cleartext_urls.clone(),
    ));
    s.push(sec(
        &format!("Findings ({})", r.findings.len()),
        r.findings
            .iter()
            .map(|f| {
                let ev = if f.evidence.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", f.evidence.join(", "))
                };
                format!("{} {} {}: {}{ev}", f.factor, name(&f.severity), f.id, f.title)
            })
            .collect(),
    ));
    s.push(sec(
        "Suggested factor values (static analysis)",
        r.factors
            .iter()
            .map(|f| {
                format!(
                    "{} = {}{}: {}",
                    f.factor,
                    f.score,
                    if f.partial { " (partial)" } else { "" },
                    f.rationale
                )
            })
            .collect(),
    ));
    s
}
