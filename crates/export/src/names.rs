//! A group's rules compiled into what the writers need: validated names with
//! their answer, log-only names, allow exceptions, IP prefixes and device
//! identifiers, plus counts of everything that was refused or approximated.
//!
//! Every name is validated again here (defence in depth: the catalog and the
//! policy already check them), so a writer only ever sees names made of
//! `a-z 0-9 - _ .` (and `*` inside pattern labels) and never needs to escape
//! a name for its format.

use std::collections::{BTreeMap, BTreeSet};

use catalog::domain::{check_block_rule, check_domain, check_pattern};
use catalog::{BypassAnswer, Platform};
use ipnet::IpNet;
use policy::plan::{Action, EnforcementPlan, PlanGroup};

use crate::ExportError;

/// How a resolver answers one blocked name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Answer {
    /// The group's blocked answer (see `Options::answer`).
    Blocked,
    /// NXDOMAIN whatever the blocked answer is (canary, Private Relay).
    Nxdomain,
    /// NOERROR without records (DDR).
    Nodata,
}

/// Counts of what a writer could not write as given.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Rules written (names, patterns, prefixes or identifiers).
    pub written: usize,
    /// Entries refused because they are not valid names / prefixes / identifiers.
    pub invalid: usize,
    /// Block or log-only names removed because a `custom.allow` covers them.
    pub allowed: usize,
    /// Allow exceptions written (allow names below a blocked name).
    pub exceptions: usize,
    /// Patterns the format cannot express (listed as comments only).
    pub patterns_unexpressed: usize,
    /// Patterns widened to their fixed suffix (`PatternFallback::Widen`).
    pub patterns_widened: usize,
    /// Exact names written with their subdomains because the format has no exact-only match.
    pub exact_widened: usize,
    /// Log-only rules the format cannot express (left out, see the header).
    pub log_only_omitted: usize,
    /// Allow exceptions the format cannot express.
    pub exceptions_unexpressed: usize,
}

/// One group's names and prefixes, validated, with `custom.allow` applied and
/// redundant entries (names below another blocked domain) removed.
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupNames {
    /// Blocked domains (name and subdomains) → answer.
    pub block_domains: BTreeMap<String, Answer>,
    /// Blocked exact names → answer.
    pub block_exact: BTreeMap<String, Answer>,
    /// Blocked patterns.
    pub block_patterns: BTreeSet<String>,
    /// Log-only domains.
    pub log_domains: BTreeSet<String>,
    /// Log-only exact names.
    pub log_exact: BTreeSet<String>,
    /// Log-only patterns.
    pub log_patterns: BTreeSet<String>,
    /// Allow names that sit below a block or log-only rule: written as
    /// exceptions (name and subdomains) where the format has them.
    pub exceptions: BTreeSet<String>,
    /// Blocked prefixes (aggregated).
    pub block_prefixes: Vec<IpNet>,
    /// Log-only prefixes (aggregated, minus those inside blocked prefixes).
    pub log_prefixes: Vec<IpNet>,
    /// Counts so far (the writers add theirs).
    pub counts: Counts,
}

/// Apps with a block rule, and the sandbox allow-list, for device formats.
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupApps {
    /// Blocked apps: (app id, display name, identifiers of that platform).
    pub blocked: Vec<DeviceApp>,
    /// Apps of `sandbox_allow`.
    pub allowed: Vec<DeviceApp>,
    /// Log-only apps (not enforced on devices).
    pub log_only: usize,
    /// Identifiers refused as invalid.
    pub invalid: usize,
}

/// One app as device formats see it.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceApp {
    /// Catalog id (validated).
    pub id: String,
    /// Display name (free text: escape it).
    pub name: String,
    /// Identifiers by platform, validated.
    pub ids: BTreeMap<Platform, Vec<String>>,
}

impl DeviceApp {
    /// Identifiers of one platform.
    pub fn of(&self, p: Platform) -> &[String] {
        self.ids.get(&p).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Whether `id` is a safe identifier (group or app id): lowercase letters,
/// digits, `-`, `_`, 1–63 characters.
pub(crate) fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Looks a group up and checks its id.
pub(crate) fn find_group<'a>(plan: &'a EnforcementPlan, group: &str) -> Result<&'a PlanGroup, ExportError> {
    let g = plan
        .group(group)
        .ok_or_else(|| ExportError::UnknownGroup(crate::header::sanitize(group, 80)))?;
    if !is_safe_id(&g.id) {
        return Err(ExportError::InvalidGroupId(crate::header::sanitize(&g.id, 80)));
    }
    Ok(g)
}

/// The fixed part of a pattern after its last wildcard label.
pub(crate) fn pattern_tail(pattern: &str) -> &str {
    let labels: Vec<&str> = pattern.split('.').collect();
    let last = labels.iter().rposition(|l| l.contains('*')).unwrap_or(0);
    let skip: usize = labels[..=last].iter().map(|l| l.len() + 1).sum();
    pattern.get(skip..).unwrap_or("")
}

/// Whether a proper parent of `name` (what follows one of its dots)
/// satisfies `has`: for a set, whether any member `d != name` has
/// `is_subdomain_or_self(name, d)`, in a lookup per label.
fn has_proper_parent(name: &str, has: impl Fn(&str) -> bool) -> bool {
    name.match_indices('.').any(|(i, _)| has(&name[i + 1..]))
}

/// Compiles a group's network rules.
pub(crate) fn compile(plan: &EnforcementPlan, group: &PlanGroup, enforce_log_only: bool) -> GroupNames {
    let mut out = GroupNames::default();
    let mut raw_block: BTreeMap<String, Answer> = BTreeMap::new();
    let mut raw_exact: BTreeMap<String, Answer> = BTreeMap::new();
    let mut raw_pat: BTreeSet<String> = BTreeSet::new();
    let mut log_dom: BTreeSet<String> = BTreeSet::new();
    let mut log_ex: BTreeSet<String> = BTreeSet::new();
    let mut log_pat: BTreeSet<String> = BTreeSet::new();
    let mut block_pfx: Vec<IpNet> = Vec::new();
    let mut log_pfx: Vec<IpNet> = Vec::new();
    let invalid = &mut out.counts.invalid;

    let add_answer = |m: &mut BTreeMap<String, Answer>, name: &str, a: Answer| {
        let e = m.entry(name.to_string()).or_insert(a);
        // A bypass answer wins over the plain blocked answer; NXDOMAIN over NODATA.
        let rank = |a: Answer| match a {
            Answer::Nxdomain => 2,
            Answer::Nodata => 1,
            Answer::Blocked => 0,
        };
        if rank(a) > rank(*e) {
            *e = a;
        }
    };

    for rule in &group.rules {
        let Some(app) = plan.apps.get(&rule.app) else {
            continue;
        };
        let answer = match app.bypass.as_ref().map(|b| b.answer) {
            Some(BypassAnswer::Nxdomain) => Answer::Nxdomain,
            Some(BypassAnswer::Nodata) => Answer::Nodata,
            _ => Answer::Blocked,
        };
        let domains = app.domains.iter().chain(app.cname_targets.iter());
        let action = if enforce_log_only { Action::Block } else { rule.action };
        match action {
            Action::Block => {
                for d in domains {
                    if check_block_rule(d).is_ok() {
                        add_answer(&mut raw_block, d, answer);
                    } else {
                        *invalid += 1;
                    }
                }
                for d in &app.exact {
                    if check_block_rule(d).is_ok() {
                        add_answer(&mut raw_exact, d, answer);
                    } else {
                        *invalid += 1;
                    }
                }
            }
            Action::LogOnly => {
                for d in domains {
                    if check_block_rule(d).is_ok() {
                        log_dom.insert(d.clone());
                    } else {
                        *invalid += 1;
                    }
                }
                for d in &app.exact {
                    if check_block_rule(d).is_ok() {
                        log_ex.insert(d.clone());
                    } else {
                        *invalid += 1;
                    }
                }
            }
        }
        for p in &app.patterns {
            if check_pattern(p).is_ok() {
                match action {
                    Action::Block => raw_pat.insert(p.clone()),
                    Action::LogOnly => log_pat.insert(p.clone()),
                };
            } else {
                *invalid += 1;
            }
        }
        for p in &app.ip_prefixes {
            match catalog::domain::check_prefix(p) {
                Ok(net) => match action {
                    Action::Block => block_pfx.push(net),
                    Action::LogOnly => log_pfx.push(net),
                },
                Err(_) => *invalid += 1,
            }
        }
    }
    for d in &group.custom.deny {
        if check_block_rule(d).is_ok() {
            add_answer(&mut raw_block, d, Answer::Blocked);
        } else {
            *invalid += 1;
        }
    }
    // custom.allow and the carve-outs (names of a blocked app that belong to
    // a service this group does not block) win over every rule.
    let mut allow: BTreeSet<String> = BTreeSet::new();
    for a in group.custom.allow.iter().chain(group.carve_outs.iter()) {
        if check_domain(a).is_ok() {
            allow.insert(a.clone());
        } else {
            *invalid += 1;
        }
    }

    // custom.allow wins: drop every rule at or below an allowed name.
    let allowed = |n: &str| allow.contains(n) || has_proper_parent(n, |p| allow.contains(p));
    let before = raw_block.len() + raw_exact.len() + raw_pat.len() + log_dom.len() + log_ex.len() + log_pat.len();
    raw_block.retain(|n, _| !allowed(n));
    raw_exact.retain(|n, _| !allowed(n));
    raw_pat.retain(|p| !allowed(pattern_tail(p)));
    log_dom.retain(|n| !allowed(n));
    log_ex.retain(|n| !allowed(n));
    log_pat.retain(|p| !allowed(pattern_tail(p)));
    let after = raw_block.len() + raw_exact.len() + raw_pat.len() + log_dom.len() + log_ex.len() + log_pat.len();
    out.counts.allowed = before - after;

    // Remove what a blocked domain already covers (a name below it with the
    // same or a plain answer: the ancestor's answer applies then).
    // (each name's parents are looked up, not every rule compared with every other)
    let block_snapshot = raw_block.clone();
    let in_block = |p: &str| block_snapshot.contains_key(p);
    raw_block.retain(|n, a| *a != Answer::Blocked || !has_proper_parent(n, in_block));
    // Log-only names under a blocked domain are blocked anyway.
    let under_block = |n: &str| in_block(n) || has_proper_parent(n, in_block);
    raw_exact.retain(|n, a| *a != Answer::Blocked || !under_block(n));
    raw_pat.retain(|p| !under_block(pattern_tail(p)));
    log_dom.retain(|n| !under_block(n));
    log_ex.retain(|n| !under_block(n) && !raw_exact.contains_key(n));
    log_pat.retain(|p| !under_block(pattern_tail(p)) && !raw_pat.contains(p));
    let log_snapshot = log_dom.clone();
    let in_log = |p: &str| log_snapshot.contains(p);
    let under_log = |n: &str| in_log(n) || has_proper_parent(n, in_log);
    log_dom.retain(|n| !has_proper_parent(n, in_log));
    log_ex.retain(|n| !under_log(n));
    log_pat.retain(|p| !under_log(pattern_tail(p)));

    // Allow names below a remaining rule become exceptions.
    for a in &allow {
        let below_domain = has_proper_parent(a, |p| raw_block.contains_key(p) || log_dom.contains(p));
        let matched = raw_pat
            .iter()
            .chain(log_pat.iter())
            .any(|p| catalog::domain::pattern_matches(p, a));
        if below_domain || matched {
            out.exceptions.insert(a.clone());
        }
    }

    out.block_prefixes = IpNet::aggregate(&block_pfx);
    let blocked_nets = out.block_prefixes.clone();
    let log_pfx: Vec<IpNet> = IpNet::aggregate(&log_pfx)
        .into_iter()
        .filter(|n| !blocked_nets.iter().any(|b| b.contains(n)))
        .collect();
    out.log_prefixes = log_pfx;
    out.block_domains = raw_block;
    out.block_exact = raw_exact;
    out.block_patterns = raw_pat;
    out.log_domains = log_dom;
    out.log_exact = log_ex;
    out.log_patterns = log_pat;
    out
}

/// Parses a platform key of `identifiers`.
fn platform(key: &str) -> Option<Platform> {
    serde_json::from_value(serde_json::Value::String(key.to_string())).ok()
}

/// Device identifiers of a group's blocked apps and sandbox allow-list.
pub(crate) fn device_apps(plan: &EnforcementPlan, group: &PlanGroup) -> GroupApps {
    let mut out = GroupApps::default();
    let take = |id: &str, invalid: &mut usize| -> Option<DeviceApp> {
        let app = plan.apps.get(id)?;
        if !is_safe_id(id) {
            *invalid += 1;
            return None;
        }
        let mut ids: BTreeMap<Platform, Vec<String>> = BTreeMap::new();
        for (key, values) in &app.identifiers {
            let Some(p) = platform(key) else {
                *invalid += values.len();
                continue;
            };
            for v in values {
                if catalog::check_identifier(p, v).is_ok() {
                    ids.entry(p).or_default().push(v.clone());
                } else {
                    *invalid += 1;
                }
            }
        }
        for v in ids.values_mut() {
            v.sort();
            v.dedup();
        }
        Some(DeviceApp {
            id: id.to_string(),
            name: app.name.clone(),
            ids,
        })
    };
    let mut invalid = 0;
    for r in &group.rules {
        match r.action {
            Action::Block => {
                if let Some(a) = take(&r.app, &mut invalid) {
                    out.blocked.push(a);
                }
            }
            Action::LogOnly => out.log_only += 1,
        }
    }
    let mut allow_ids: Vec<&String> = group.sandbox_allow.iter().collect();
    allow_ids.sort();
    allow_ids.dedup();
    for id in allow_ids {
        if let Some(a) = take(id, &mut invalid) {
            out.allowed.push(a);
        }
    }
    out.invalid = invalid;
    out
}

/// Union of one platform's identifiers over apps, sorted and deduplicated.
pub(crate) fn identifiers(apps: &[DeviceApp], p: Platform) -> Vec<String> {
    let set: BTreeSet<&String> = apps.iter().flat_map(|a| a.of(p)).collect();
    set.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The parent lookup finds exactly what comparing with every member finds.
        #[test]
        fn parent_lookup_matches_pairwise(
            set in proptest::collection::btree_set("[abc]{1,2}(\\.[abc]{1,2}){0,3}", 0..30),
            name in "[abc]{1,2}(\\.[abc]{1,2}){0,4}",
        ) {
            let pairwise = set.iter().any(|d| d != &name && catalog::domain::is_subdomain_or_self(&name, d));
            proptest::prop_assert_eq!(has_proper_parent(&name, |p| set.contains(p)), pairwise);
        }
    }

    #[test]
    fn pattern_tail_is_after_last_wildcard_label() {
        assert_eq!(pattern_tail("p16-tiktok-*.ibyteimg.com"), "ibyteimg.com");
        assert_eq!(pattern_tail("v*.a*.tiktokcdn-eu.com"), "tiktokcdn-eu.com");
    }

    #[test]
    fn safe_ids() {
        assert!(is_safe_id("corporate"));
        assert!(!is_safe_id("a b"));
        assert!(!is_safe_id("a\nb"));
        assert!(!is_safe_id(""));
    }
}
