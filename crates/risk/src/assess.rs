//! The assessment pipeline: gates → factor values → weighted score and level
//! → decision by the profile's thresholds → exceptions → explanation.

use std::collections::BTreeSet;

use catalog::{App, Catalog, Confidence, Day, FactorId, Source, SourceKind, jurisdiction_contains};
use serde::Serialize;

use crate::MODEL_VERSION;
use crate::exception::{Exception, ExceptionResult, ExceptionStatus};
use crate::profile::Profile;

/// The organisation an assessment is for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrgContext {
    /// Jurisdiction code (`US`, `US-TX`, `DE`, …).
    pub jurisdiction: String,
    /// Sectors (`docs/catalog.md`), e.g. `government`, `finance`.
    pub sectors: Vec<String>,
    /// F6 = 4 for operators controlled from these.
    pub jurisdictions_of_concern: Vec<String>,
    /// F6 = 0 for operators controlled from these or the own jurisdiction.
    pub adequate_jurisdictions: Vec<String>,
}

impl OrgContext {
    /// An organisation with the profile's default jurisdiction lists.
    pub fn new(jurisdiction: &str, sectors: &[&str], profile: &Profile) -> OrgContext {
        OrgContext {
            jurisdiction: jurisdiction.to_string(),
            sectors: sectors.iter().map(|s| s.to_string()).collect(),
            jurisdictions_of_concern: profile.jurisdictions_of_concern.clone(),
            adequate_jurisdictions: profile.adequate_jurisdictions.clone(),
        }
    }
}

/// What to do about an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Installable on managed devices; allowed and monitored on the network.
    Allow,
    /// Not on managed devices or work profiles; tolerated on personal sides; blocked on the corporate network.
    AllowOutsideSandbox,
    /// Not installable anywhere corporate data lives; blocked and alerted on the network.
    Block,
}

impl Decision {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::AllowOutsideSandbox => "allow_outside_sandbox",
            Decision::Block => "block",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Risk level of a score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Score below 25.
    Low,
    /// 25 to below 50.
    Moderate,
    /// 50 to below 75.
    High,
    /// 75 and above.
    Critical,
}

impl Level {
    /// The level of a score before the floor rule.
    pub fn of(score: f64) -> Level {
        if score < 25.0 {
            Level::Low
        } else if score < 50.0 {
            Level::Moderate
        } else if score < 75.0 {
            Level::High
        } else {
            Level::Critical
        }
    }
}

/// What decided the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// A gate (binding law, malware verdict).
    Gate,
    /// The score and the profile's thresholds.
    Score,
    /// An exception moved a block to allow_outside_sandbox.
    Exception,
}

/// A cited source, as shown with a result.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EvidenceRef {
    /// Source id.
    pub source: String,
    /// Title.
    pub title: String,
    /// URL.
    pub url: String,
    /// Date.
    pub date: Day,
    /// Kind of source.
    pub kind: SourceKind,
}

/// A gate that fired.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GateHit {
    /// `binding-law` or `malware`.
    pub kind: GateKind,
    /// Restriction id, or `malware`.
    pub id: String,
    /// What binds, in words.
    pub text: String,
    /// Grounds the instrument allows exceptions on (empty: none).
    pub exception_bases: Vec<String>,
    /// Sources.
    pub evidence: Vec<EvidenceRef>,
}

/// Kinds of gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateKind {
    /// Law or a binding directive for the organisation's jurisdiction and sector.
    BindingLaw,
    /// A credible malware verdict.
    Malware,
}

/// One factor's part in the score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FactorResult {
    /// F1..F9.
    pub id: FactorId,
    /// Factor name.
    pub name: &'static str,
    /// 0–4, or `null` when unknown.
    pub value: Option<u8>,
    /// Weight in this profile.
    pub weight: u32,
    /// Points contributed (weight × value / 4; unknown: weight × unknown_default / 4).
    pub contribution: f64,
    /// Lowest and highest contribution while unknown; equal when known.
    pub contribution_range: [f64; 2],
    /// Confidence of the evidence (`null` when unknown).
    pub confidence: Option<Confidence>,
    /// Whether the value is derived (F6–F8) rather than rated in the catalog.
    pub derived: bool,
    /// Why this value.
    pub rationale: String,
    /// Sources.
    pub evidence: Vec<EvidenceRef>,
}

/// Everything that pins down which inputs produced a result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stamp {
    /// Version of the risk model (rubric, formulas).
    pub model_version: &'static str,
    /// Catalog snapshot (bundled version + hash of all files read).
    pub catalog_snapshot: String,
    /// Profile id.
    pub profile: String,
    /// Profile version.
    pub profile_version: String,
    /// The day the assessment is for.
    pub as_of: Day,
    /// Organisation jurisdiction.
    pub jurisdiction: String,
    /// Organisation sectors.
    pub sectors: Vec<String>,
    /// SHA-256 of every analysed package whose evidence was considered
    /// ([`ExtraEvidence::input_sha256`]), sorted; omitted from JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scans: Vec<String>,
}

/// Evidence for one rated factor (F1–F5, F9) from outside the catalog, e.g.
/// appwarden's static analysis of a package. It is merged with the catalog's
/// rating by [`Context::assess_with`]: the higher value wins, so it can raise
/// but never lower a catalog finding (`docs/risk-model.md`, "Static analysis").
#[derive(Clone, Debug, PartialEq)]
pub struct ExtraEvidence {
    /// Which factor. Evidence for the derived factors F6–F8 is ignored.
    pub factor: FactorId,
    /// 0–4 on the factor's rubric (higher values are read as 4).
    pub score: u8,
    /// Why this value, in a sentence.
    pub rationale: String,
    /// Whether the evidence covers the factor only in part: then it may raise
    /// a value that other evidence sets, but never sets a value alone.
    pub partial: bool,
    /// Where it comes from (kind `static-analysis` for a scan); cited as evidence.
    pub source: Source,
    /// SHA-256 of the analysed input, recorded in [`Stamp::scans`].
    pub input_sha256: String,
}

/// The assessment of one app for one organisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assessment {
    /// App id.
    pub app: String,
    /// App name.
    pub name: String,
    /// Categories.
    pub categories: Vec<String>,
    /// Point score 0–100.
    pub score: f64,
    /// Lowest and highest score the unknown factors allow.
    pub score_range: [f64; 2],
    /// Level after the floor rule.
    pub level: Level,
    /// Whether the floor rule raised the level.
    pub floor_applied: bool,
    /// Final decision.
    pub decision: Decision,
    /// Decision before exceptions.
    pub decision_before_exceptions: Decision,
    /// Decisions at the low and high end of the score range (same as the decision when nothing is unknown or a gate fired).
    pub decision_range: [Decision; 2],
    /// What decided.
    pub decided_by: DecidedBy,
    /// Gates that fired.
    pub gates: Vec<GateHit>,
    /// Factors in order F1..F9.
    pub factors: Vec<FactorResult>,
    /// Exceptions considered.
    pub exceptions: Vec<ExceptionResult>,
    /// What would change the decision.
    pub what_would_change: Vec<String>,
    /// Inputs.
    pub stamp: Stamp,
}

/// The fixed inputs of an assessment run.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The catalog.
    pub catalog: &'a Catalog,
    /// The profile.
    pub profile: &'a Profile,
    /// The organisation.
    pub org: &'a OrgContext,
    /// The day assessed.
    pub as_of: Day,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Context<'_> {
    fn evidence(&self, ids: &[String]) -> Vec<EvidenceRef> {
        let mut out: Vec<EvidenceRef> = ids
            .iter()
            .filter_map(|id| {
                self.catalog.source(id).map(|s| EvidenceRef {
                    source: s.id.clone(),
                    title: s.title.clone(),
                    url: s.url.clone(),
                    date: s.date,
                    kind: s.kind,
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Gates that fire for this app.
    pub fn gates(&self, app: &App) -> Vec<GateHit> {
        let mut hits = Vec::new();
        for r in self.catalog.restrictions_for(&app.id) {
            if !r.in_force(self.as_of) {
                continue;
            }
            let binds = r.binding.iter().any(|b| {
                jurisdiction_contains(&b.jurisdiction, &self.org.jurisdiction)
                    && b.sectors.iter().any(|s| s == "*" || self.org.sectors.contains(s))
            });
            if binds {
                hits.push(GateHit {
                    kind: GateKind::BindingLaw,
                    id: r.id.clone(),
                    text: format!(
                        "{} ({}, in force since {}): {}",
                        r.instrument, r.authority, r.date, r.requirement
                    ),
                    exception_bases: r.exception_bases.clone(),
                    evidence: self.evidence(&r.sources),
                });
            }
        }
        for m in &app.malware {
            if m.date <= self.as_of {
                hits.push(GateHit {
                    kind: GateKind::Malware,
                    id: "malware".into(),
                    text: format!("{} ({})", m.text, m.date),
                    exception_bases: Vec::new(),
                    evidence: self.evidence(&m.sources),
                });
            }
        }
        hits
    }

    /// The value of one factor (None = unknown), its confidence, rationale and sources.
    fn factor(&self, app: &App, f: FactorId) -> (Option<u8>, Option<Confidence>, String, Vec<String>) {
        match f {
            FactorId::F6 => self.f6(app),
            FactorId::F7 => self.f7(app),
            FactorId::F8 => self.f8(app),
            _ => match app.factors.iter().find(|c| c.id == f) {
                Some(c) => (
                    Some(c.score.min(4)),
                    Some(self.catalog.confidence(c.confidence, &c.sources)),
                    c.rationale.clone(),
                    c.sources.clone(),
                ),
                None => (None, None, "no rated evidence in the catalog".into(), Vec::new()),
            },
        }
    }

    fn f6(&self, app: &App) -> (Option<u8>, Option<Confidence>, String, Vec<String>) {
        let mut sources = Vec::new();
        let mut parts = Vec::new();
        let mut value: Option<u8> = None;
        let mut confidence: Option<Confidence> = None;
        let own = catalog::top_level(&self.org.jurisdiction).to_string();
        for role in app
            .operators
            .iter()
            .filter(|r| r.applies(&self.org.jurisdiction, self.as_of))
        {
            let Some(op) = self.catalog.operators.get(&role.operator) else {
                continue;
            };
            // control flows up the parent chain
            let mut control: BTreeSet<String> = BTreeSet::new();
            let mut cur = Some(op);
            let mut depth = 0;
            while let Some(o) = cur {
                control.extend(o.controlled_from.iter().cloned());
                sources.extend(o.sources.iter().cloned());
                depth += 1;
                cur = o
                    .parent
                    .as_ref()
                    .and_then(|p| self.catalog.operators.get(p))
                    .filter(|_| depth < 8);
            }
            sources.extend(role.sources.iter().cloned());
            let v = if control.iter().any(|c| self.org.jurisdictions_of_concern.contains(c)) {
                4
            } else if control
                .iter()
                .all(|c| *c == own || self.org.adequate_jurisdictions.contains(c))
            {
                0
            } else {
                2
            };
            let roles: Vec<String> = role.roles.iter().map(|r| r.as_str().to_string()).collect();
            parts.push(format!(
                "{} ({}) is controlled from {}",
                op.name,
                roles.join(", "),
                control.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            value = Some(value.map_or(v, |x| x.max(v)));
            let c = self
                .catalog
                .confidence(role.confidence.or(op.confidence), &role.sources);
            confidence = Some(confidence.map_or(c, |x| x.min(c)));
        }
        match value {
            None => (
                None,
                None,
                format!("no operator recorded for {} on {}", self.org.jurisdiction, self.as_of),
                sources,
            ),
            Some(v) => {
                let verdict = match v {
                    4 => "at least one is on the organisation's list of jurisdictions of concern",
                    0 => "all are the organisation's own or adequate jurisdictions",
                    _ => "at least one is neither the organisation's own nor an adequate jurisdiction",
                };
                (Some(v), confidence, format!("{}; {verdict}", parts.join("; ")), sources)
            }
        }
    }

    fn f7(&self, app: &App) -> (Option<u8>, Option<Confidence>, String, Vec<String>) {
        let since = self.as_of.minus_years(5);
        let recent: Vec<_> = app
            .incidents
            .iter()
            .filter(|i| i.date > since && i.date <= self.as_of)
            .collect();
        if let Some(max) = recent.iter().map(|i| i.severity.min(4)).max() {
            let mut sorted = recent.clone();
            sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.date.cmp(&a.date)));
            let text: Vec<String> = sorted
                .iter()
                .map(|i| format!("{} ({}, severity {})", i.title, i.date, i.severity))
                .collect();
            let sources: Vec<String> = recent.iter().flat_map(|i| i.sources.iter().cloned()).collect();
            let conf = sorted
                .iter()
                .filter(|i| i.severity == max)
                .map(|i| self.catalog.confidence(i.confidence, &i.sources))
                .max();
            return (
                Some(max),
                conf,
                format!("incidents since {since}: {}", text.join("; ")),
                sources,
            );
        }
        match app.incidents_reviewed {
            Some(day) => (
                Some(0),
                Some(Confidence::Medium),
                format!(
                    "no incident recorded between {since} and {} (record reviewed {day})",
                    self.as_of
                ),
                Vec::new(),
            ),
            None => (None, None, "incident record not reviewed".into(), Vec::new()),
        }
    }

    fn f8(&self, app: &App) -> (Option<u8>, Option<Confidence>, String, Vec<String>) {
        let mut govs: BTreeSet<String> = BTreeSet::new();
        let mut sources = Vec::new();
        let mut names = Vec::new();
        for r in self.catalog.restrictions_for(&app.id) {
            if !r.in_force(self.as_of) {
                continue;
            }
            let binds = r.binding.iter().any(|b| {
                jurisdiction_contains(&b.jurisdiction, &self.org.jurisdiction)
                    && b.sectors.iter().any(|s| s == "*" || self.org.sectors.contains(s))
            });
            if binds {
                continue; // a gate, not a peer restriction
            }
            govs.insert(r.country().to_string());
            sources.extend(r.sources.iter().cloned());
            names.push(format!("{} ({})", r.jurisdiction, r.date));
        }
        let v = match govs.len() {
            0 => 0,
            1 => 2,
            2 => 3,
            _ => 4,
        };
        let text = if govs.is_empty() {
            format!("no government restriction in force on {} is recorded", self.as_of)
        } else {
            format!(
                "restricted by {} government(s) ({}) in force on {}: {}",
                govs.len(),
                govs.iter().cloned().collect::<Vec<_>>().join(", "),
                self.as_of,
                names.join(", ")
            )
        };
        let conf = if govs.is_empty() {
            Confidence::Medium
        } else {
            Confidence::High
        };
        (Some(v), Some(conf), text, sources)
    }

    fn decide(&self, score: f64) -> Decision {
        if score < self.profile.allow_below {
            Decision::Allow
        } else if score < self.profile.block_at {
            Decision::AllowOutsideSandbox
        } else {
            Decision::Block
        }
    }

    /// Assesses one app. `exceptions` are those that may apply (same app).
    pub fn assess(&self, app: &App, exceptions: &[&Exception]) -> Assessment {
        self.assess_with(app, exceptions, &[])
    }

    /// Merges extra evidence into the catalog's rating of a rated factor:
    /// the highest of the catalog's value and every non-partial extra value;
    /// partial extras count only when one of those exists.
    fn merge(
        &self,
        f: FactorId,
        base: (Option<u8>, Option<Confidence>, String, Vec<String>),
        extra: &[ExtraEvidence],
    ) -> (Option<u8>, Option<Confidence>, String, Vec<EvidenceRef>) {
        let (catalog_value, catalog_conf, catalog_text, sources) = base;
        let mut evidence = self.evidence(&sources);
        let mine: Vec<&ExtraEvidence> = extra.iter().filter(|e| e.factor == f && !f.is_derived()).collect();
        if mine.is_empty() {
            return (catalog_value, catalog_conf, catalog_text, evidence);
        }
        for e in &mine {
            evidence.push(EvidenceRef {
                source: e.source.id.clone(),
                title: e.source.title.clone(),
                url: e.source.url.clone(),
                date: e.source.date,
                kind: e.source.kind,
            });
        }
        evidence.sort();
        evidence.dedup();

        let anchored = catalog_value.is_some() || mine.iter().any(|e| !e.partial);
        let mut value = catalog_value;
        let mut conf = catalog_conf;
        for e in mine.iter().filter(|e| anchored || !e.partial) {
            let v = e.score.min(4);
            let c = e.source.confidence;
            match value {
                Some(x) if x > v => {}
                Some(x) if x == v => conf = conf.max(Some(c)),
                _ => {
                    value = Some(v);
                    conf = Some(c);
                }
            }
        }

        let mut parts = Vec::new();
        match catalog_value {
            Some(v) => parts.push(format!("catalog: {v} — {}", catalog_text.trim_end_matches('.'))),
            None => parts.push("catalog: no rated evidence".to_string()),
        }
        for e in &mine {
            let partial = if e.partial {
                " (covers the factor only in part)"
            } else {
                ""
            };
            let text = e.rationale.trim_end_matches('.');
            parts.push(format!("{}: {}{partial} — {text}", e.source.title, e.score.min(4)));
        }
        let verdict = match value {
            None => "a partial finding does not set a value alone, so the factor stays unknown".to_string(),
            Some(v) if catalog_value.is_some() => {
                format!("the higher value, {v}, is used (other evidence never lowers a catalog rating)")
            }
            Some(v) => format!("the value, {v}, comes from the analysis alone"),
        };
        parts.push(verdict);
        (value, conf, parts.join("; "), evidence)
    }

    /// Assesses one app with evidence from outside the catalog (e.g. static
    /// analysis of its package) merged into the rated factors; see
    /// [`ExtraEvidence`]. With no extra evidence this is [`Context::assess`].
    pub fn assess_with(&self, app: &App, exceptions: &[&Exception], extra: &[ExtraEvidence]) -> Assessment {
        let p = self.profile;
        let wsum = f64::from(p.weights.sum().max(1));
        let mut factors = Vec::new();
        let (mut point, mut lo, mut hi) = (0.0, 0.0, 0.0);
        let mut floor = false;
        for f in FactorId::ALL {
            let w = p.weights.get(f);
            let (value, confidence, rationale, evidence) = self.merge(f, self.factor(app, f), extra);
            let wf = f64::from(w);
            let (c, range) = match value {
                Some(v) => {
                    let c = wf * f64::from(v) / 4.0;
                    (c, [c, c])
                }
                None => (wf * f64::from(p.unknown_default.min(4)) / 4.0, [0.0, wf]),
            };
            if value == Some(4) && w >= 15 {
                floor = true;
            }
            point += c;
            lo += range[0];
            hi += range[1];
            factors.push(FactorResult {
                id: f,
                name: f.name(),
                value,
                weight: w,
                contribution: round2(c),
                contribution_range: [round2(range[0]), round2(range[1])],
                confidence,
                derived: f.is_derived(),
                rationale,
                evidence,
            });
        }
        let score = 100.0 * point / wsum;
        let score_range = [100.0 * lo / wsum, 100.0 * hi / wsum];
        let base_level = Level::of(score);
        let level = if floor { base_level.max(Level::High) } else { base_level };

        let gates = self.gates(app);
        let (base, decided_by, decision_range) = if gates.is_empty() {
            let d = self.decide(score);
            (
                d,
                DecidedBy::Score,
                [self.decide(score_range[0]), self.decide(score_range[1])],
            )
        } else {
            (Decision::Block, DecidedBy::Gate, [Decision::Block, Decision::Block])
        };

        let mut decision = base;
        let mut by = decided_by;
        let mut results = Vec::new();
        for e in exceptions {
            let status = e.evaluate(p, self.as_of, base, &gates);
            // group-scoped exceptions change only their groups' decisions (in the plan)
            if status == ExceptionStatus::Applied && decision == Decision::Block && e.groups.is_empty() {
                decision = Decision::AllowOutsideSandbox;
                by = DecidedBy::Exception;
            }
            results.push(e.result(status));
        }

        let mut a = Assessment {
            app: app.id.clone(),
            name: app.name.clone(),
            categories: app.categories.clone(),
            score: round2(score),
            score_range: [round2(score_range[0]), round2(score_range[1])],
            level,
            floor_applied: level != base_level,
            decision,
            decision_before_exceptions: base,
            decision_range,
            decided_by: by,
            gates,
            factors,
            exceptions: results,
            what_would_change: Vec::new(),
            stamp: Stamp {
                model_version: MODEL_VERSION,
                catalog_snapshot: self.catalog.snapshot.short(),
                profile: p.id.clone(),
                profile_version: p.version.clone(),
                as_of: self.as_of,
                jurisdiction: self.org.jurisdiction.clone(),
                sectors: self.org.sectors.clone(),
                scans: {
                    let mut v: Vec<String> = extra.iter().map(|e| e.input_sha256.clone()).collect();
                    v.sort();
                    v.dedup();
                    v
                },
            },
        };
        a.what_would_change = crate::explain::what_would_change(self, &a, score);
        a
    }

    pub(crate) fn decide_score(&self, score: f64) -> Decision {
        self.decide(score)
    }
}
