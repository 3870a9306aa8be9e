//! Checking a policy, and compiling it into an [`EnforcementPlan`].

use std::collections::{BTreeMap, BTreeSet};

use catalog::domain::{check_block_rule, check_domain};
use catalog::{App, AppKind, Day, Diagnostic};
use risk::{Decision, ExceptionStatus};

use crate::Policy;
use crate::config::{GroupKind, OutsideSandbox, POLICY_SCHEMA};
use crate::plan::{
    Action, BypassState, Custom, EnforcementPlan, PLAN_VERSION, PlanApp, PlanBypass, PlanGroup, PlanStamp, Rule,
    RuleReason, ScoreText,
};

struct Diags<'a> {
    name: &'a str,
    text: &'a str,
    out: Vec<Diagnostic>,
}

impl Diags<'_> {
    /// Reports at the line of `needle` searched from `offset` (or at `offset`).
    fn at(&mut self, offset: Option<usize>, needle: Option<&str>, field: &str, message: String) {
        let start = offset.unwrap_or(0).min(self.text.len());
        let pos = needle
            .and_then(|n| self.text[start..].find(n).map(|i| start + i))
            .unwrap_or(start);
        let line = if self.text.is_empty() {
            0
        } else {
            crate::line_of(self.text, pos)
        };
        self.out.push(Diagnostic {
            file: self.name.to_string(),
            line,
            field: field.to_string(),
            message,
        });
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) fn check(p: &Policy, text: &str) -> Vec<Diagnostic> {
    let mut d = Diags {
        name: &p.name,
        text,
        out: Vec::new(),
    };
    let f = &p.file;
    if f.version != POLICY_SCHEMA {
        d.at(
            None,
            Some("version"),
            "version",
            format!("this appwarden reads policy schema {POLICY_SCHEMA}, not {}", f.version),
        );
    }
    let org = &f.organisation;
    if !catalog::is_jurisdiction(&org.jurisdiction) {
        d.at(
            None,
            Some("jurisdiction"),
            "organisation.jurisdiction",
            format!(
                "`{}` is not a jurisdiction code (US, US-TX, DE, GB, …)",
                org.jurisdiction
            ),
        );
    }
    for s in &org.sectors {
        if s == "*" || !catalog::SECTORS.contains(&s.as_str()) {
            d.at(
                None,
                Some(&format!("\"{s}\"")),
                "organisation.sectors",
                format!("unknown sector `{s}` (known: {})", catalog::SECTORS[1..].join(", ")),
            );
        }
    }
    for j in org
        .jurisdictions_of_concern
        .iter()
        .flatten()
        .chain(org.adequate_jurisdictions.iter().flatten())
    {
        if !catalog::is_jurisdiction(j) {
            d.at(
                None,
                Some(&format!("\"{j}\"")),
                "organisation",
                format!("`{j}` is not a jurisdiction code"),
            );
        }
    }

    let group_ids: Vec<&str> = p.groups.iter().map(|g| g.id.as_str()).collect();
    let mut seen = BTreeSet::new();
    let defaults = p.groups.iter().filter(|g| g.default).count();
    for (i, g) in p.groups.iter().enumerate() {
        let off = f.groups.get(i).map(|s| s.span().start);
        if !is_label(&g.id) {
            d.at(
                off,
                Some("id"),
                "group.id",
                format!("`{}` is not a group id (lowercase letters, digits, '-')", g.id),
            );
        }
        if !seen.insert(g.id.as_str()) {
            d.at(
                off,
                Some("id"),
                "group.id",
                format!("group `{}` is defined twice", g.id),
            );
        }
        if defaults > 1 && g.default {
            d.at(
                off,
                Some("default"),
                "group.default",
                "more than one group has default = true".into(),
            );
        }
        for c in &g.clients {
            let ok = c.parse::<ipnet::IpNet>().is_ok() || c.parse::<std::net::IpAddr>().is_ok();
            if !ok {
                d.at(
                    off,
                    Some(&format!("\"{c}\"")),
                    "group.clients",
                    format!("`{c}` is not an IP address or CIDR"),
                );
            }
        }
        for c in &g.client_ids {
            if !is_label(c) {
                d.at(
                    off,
                    Some(&format!("\"{c}\"")),
                    "group.client_ids",
                    format!("`{c}` is not a client id (a DNS label: lowercase letters, digits, '-')"),
                );
            }
        }
        for c in g.block_categories.iter().chain(&g.log_only_categories) {
            if !p.catalog.categories.contains_key(c) {
                d.at(
                    off,
                    Some(&format!("\"{c}\"")),
                    "group.categories",
                    format!("unknown category `{c}` (see `appwarden catalog list`)"),
                );
            }
        }
        for a in &g.allow {
            if let Err(m) = check_domain(a) {
                d.at(off, Some(&format!("\"{}\"", a.escape_default())), "group.allow", m);
            }
        }
        for a in &g.deny {
            if let Err(m) = check_block_rule(a) {
                d.at(off, Some(&format!("\"{}\"", a.escape_default())), "group.deny", m);
            }
        }
    }
    for o in &f.overrides {
        let off = Some(o.span().start);
        let o = o.get_ref();
        if p.catalog.app(&o.app).is_none() {
            d.at(
                off,
                Some(&format!("\"{}\"", o.app)),
                "override.app",
                format!("no app `{}` in the catalog", o.app),
            );
        }
        if o.decision == Some(Decision::Allow) {
            d.at(off, Some("decision"), "override.decision", "an override can only make a decision stricter; to relax one, write an [[exception]] with an approver and an expiry".into());
        }
        if o.decision.is_none() && !o.log_only {
            d.at(
                off,
                Some("app"),
                "override",
                "an override sets `decision` or `log_only`".into(),
            );
        }
        for g in &o.groups {
            if !group_ids.contains(&g.as_str()) {
                d.at(
                    off,
                    Some(&format!("\"{g}\"")),
                    "override.groups",
                    format!("unknown group `{g}`"),
                );
            }
        }
    }
    for e in &f.exceptions {
        let off = Some(e.span().start);
        let e = e.get_ref();
        match p.catalog.app(&e.app) {
            None => d.at(
                off,
                Some(&format!("\"{}\"", e.app)),
                "exception.app",
                format!("no app `{}` in the catalog", e.app),
            ),
            Some(a) if a.kind == AppKind::Bypass => d.at(
                off,
                Some("app"),
                "exception.app",
                format!("`{}` is a bypass method; turn its group switch off instead", e.app),
            ),
            Some(_) => {}
        }
        for g in &e.groups {
            if !group_ids.contains(&g.as_str()) {
                d.at(
                    off,
                    Some(&format!("\"{g}\"")),
                    "exception.groups",
                    format!("unknown group `{g}`"),
                );
            }
        }
        for problem in e.problems(&p.profile) {
            let field = if problem.contains("mitigation") {
                "exception.mitigations"
            } else if problem.contains("expires") {
                "exception.expires"
            } else if problem.contains("approver") {
                "exception.approver"
            } else {
                "exception"
            };
            let needle = field.strip_prefix("exception.");
            d.at(off, needle, field, problem);
        }
    }
    d.out
}

fn bypass_state(g: &crate::Group) -> BypassState {
    let sw = g.bypass.clone().unwrap_or_default();
    let strict = g.kind != GroupKind::Guest;
    BypassState {
        firefox_canary: sw.firefox_canary.unwrap_or(true),
        private_relay: sw.private_relay.unwrap_or(true),
        ddr: sw.ddr.unwrap_or(true),
        encrypted_dns: sw.encrypted_dns.unwrap_or(true),
        vpn: sw.vpn.unwrap_or(strict),
        proxy: sw.proxy.unwrap_or(strict),
        tor: sw.tor.unwrap_or(strict),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn plan_app(app: &App, assessment: Option<&risk::Assessment>) -> PlanApp {
    let mut identifiers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in &app.identifiers {
        identifiers
            .entry(i.platform.as_str().to_string())
            .or_default()
            .push(i.value.clone());
    }
    for v in identifiers.values_mut() {
        v.sort();
        v.dedup();
    }
    let collect = |f: fn(&catalog::Footprint) -> &Vec<String>| {
        sorted(app.network.iter().flat_map(|n| f(n).iter().cloned()).collect())
    };
    PlanApp {
        name: app.name.clone(),
        kind: app.kind,
        categories: app.categories.clone(),
        decision: assessment.map(|a| a.decision),
        decided_by: assessment.map(|a| a.decided_by),
        score: assessment.map(|a| ScoreText(format!("{:.2}", a.score))),
        level: assessment.map(|a| a.level),
        bypass: app.bypass.as_ref().map(|b| PlanBypass {
            method: b.method,
            answer: b.answer,
        }),
        domains: collect(|n| &n.domains),
        exact: collect(|n| &n.exact),
        patterns: collect(|n| &n.patterns),
        cname_targets: collect(|n| &n.cname_targets),
        ip_prefixes: collect(|n| &n.ip_prefixes),
        except: collect(|n| &n.except),
        identifiers,
    }
}

pub(crate) fn compile(p: &Policy, as_of: Day) -> EnforcementPlan {
    let ctx = p.context(as_of);
    let assessments: BTreeMap<&str, risk::Assessment> = p
        .catalog
        .apps
        .values()
        .filter(|a| a.kind == AppKind::App)
        .map(|a| (a.id.as_str(), ctx.assess(a, &p.exceptions_for(&a.id, None))))
        .collect();

    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut groups = Vec::new();
    for g in &p.groups {
        let mut rules: BTreeMap<&str, Rule> = BTreeMap::new();
        let mut sandbox_allow = Vec::new();
        for (id, a) in &assessments {
            let mut decision = a.decision;
            // exceptions scoped to this group
            for e in p.file.exceptions.iter().map(|e| e.get_ref()) {
                if e.app == *id
                    && e.groups.contains(&g.id)
                    && decision == Decision::Block
                    && e.evaluate(&p.profile, as_of, a.decision_before_exceptions, &a.gates) == ExceptionStatus::Applied
                {
                    decision = Decision::AllowOutsideSandbox;
                }
            }
            let mut reason = RuleReason::Decision(decision);
            let mut log_only = false;
            for o in p.file.overrides.iter().map(|o| o.get_ref()) {
                if o.app != *id || !(o.groups.is_empty() || o.groups.contains(&g.id)) {
                    continue;
                }
                if let Some(od) = o.decision
                    && od > decision
                {
                    decision = od;
                    reason = RuleReason::Override(o.reason.clone());
                }
                log_only |= o.log_only;
            }
            let action = match decision {
                Decision::Block => Some(Action::Block),
                Decision::AllowOutsideSandbox => {
                    let mode = g.allow_outside_sandbox.unwrap_or(match g.kind {
                        GroupKind::Guest => OutsideSandbox::Allow,
                        _ => OutsideSandbox::Block,
                    });
                    match mode {
                        OutsideSandbox::Block => Some(Action::Block),
                        OutsideSandbox::LogOnly => Some(Action::LogOnly),
                        OutsideSandbox::Allow => None,
                    }
                }
                Decision::Allow => None,
            };
            let app = p.catalog.app(id);
            let in_cats =
                |cats: &[String]| app.is_some_and(|x| x.categories.iter().find(|c| cats.contains(c)).is_some());
            let cat_of = |cats: &[String]| {
                app.and_then(|x| x.categories.iter().find(|c| cats.contains(c)).cloned())
                    .unwrap_or_default()
            };
            let rule = match action {
                Some(act) => Some(Rule {
                    app: id.to_string(),
                    action: act,
                    reason,
                }),
                None if in_cats(&g.block_categories) => Some(Rule {
                    app: id.to_string(),
                    action: Action::Block,
                    reason: RuleReason::Category(cat_of(&g.block_categories)),
                }),
                None if in_cats(&g.log_only_categories) => Some(Rule {
                    app: id.to_string(),
                    action: Action::LogOnly,
                    reason: RuleReason::Category(cat_of(&g.log_only_categories)),
                }),
                None => None,
            };
            match rule {
                Some(mut r) => {
                    if (g.log_only || log_only) && r.action == Action::Block {
                        r.action = Action::LogOnly;
                    }
                    rules.insert(id, r);
                }
                None if decision == Decision::Allow => sandbox_allow.push(id.to_string()),
                None => {}
            }
        }
        let bypass = bypass_state(g);
        for app in p.catalog.apps.values().filter(|a| a.kind == AppKind::Bypass) {
            let Some(b) = &app.bypass else { continue };
            let rule = if bypass.enabled(b.method) {
                Some(RuleReason::Bypass(b.method))
            } else {
                app.categories
                    .iter()
                    .find(|c| g.block_categories.contains(c))
                    .map(|c| RuleReason::Category(c.clone()))
            };
            if let Some(reason) = rule {
                let action = if g.log_only { Action::LogOnly } else { Action::Block };
                rules.insert(
                    &app.id,
                    Rule {
                        app: app.id.clone(),
                        action,
                        reason,
                    },
                );
            }
        }
        // carve-outs: an app's `except` names, unless another app with a rule here covers them
        let mut carve_outs = Vec::new();
        for r in rules.values() {
            let Some(app) = p.catalog.app(&r.app) else {
                continue;
            };
            for fp in &app.network {
                for name in &fp.except {
                    let covered = rules.values().filter(|o| o.app != r.app).any(|o| {
                        p.catalog.app(&o.app).is_some_and(|oa| {
                            oa.network.iter().any(|n| {
                                n.domains
                                    .iter()
                                    .chain(&n.exact)
                                    .any(|d| catalog::domain::is_subdomain_or_self(name, d))
                            })
                        })
                    });
                    if !covered {
                        carve_outs.push(name.clone());
                    }
                }
            }
        }
        used.extend(rules.keys().copied());
        used.extend(
            sandbox_allow
                .iter()
                .filter_map(|s| p.catalog.apps.get_key_value(s).map(|(k, _)| k.as_str())),
        );
        groups.push(PlanGroup {
            id: g.id.clone(),
            kind: g.kind,
            default: g.default,
            clients: g.clients.clone(),
            client_ids: g.client_ids.clone(),
            rules: rules.into_values().collect(),
            sandbox_allow,
            custom: Custom {
                allow: sorted(g.allow.clone()),
                deny: sorted(g.deny.clone()),
            },
            carve_outs: sorted(carve_outs),
            bypass,
        });
    }
    let apps = used
        .into_iter()
        .filter_map(|id| {
            p.catalog
                .app(id)
                .map(|a| (id.to_string(), plan_app(a, assessments.get(id))))
        })
        .collect();
    EnforcementPlan {
        plan_version: PLAN_VERSION,
        stamp: PlanStamp {
            model_version: risk::MODEL_VERSION.to_string(),
            catalog_snapshot: p.catalog.snapshot.short(),
            profile: p.profile.id.clone(),
            profile_version: p.profile.version.clone(),
            policy_version: p.file.policy_version.clone(),
            organisation: p.file.organisation.name.clone(),
            jurisdiction: p.org.jurisdiction.clone(),
            as_of,
        },
        apps,
        groups,
    }
}
