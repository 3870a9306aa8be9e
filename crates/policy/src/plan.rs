//! The EnforcementPlan: the one seam between deciding and enforcing. The
//! resolver, the exporters and the monitor read it and never look at risk
//! scores themselves. Shape documented in `docs/enforcement-plan.md`.

use std::collections::BTreeMap;

use catalog::{BypassAnswer, BypassMethod, Day};
use risk::{DecidedBy, Decision, Level};
use serde::{Deserialize, Serialize};

use crate::config::GroupKind;

/// Version of the plan's JSON shape; bump on incompatible changes.
pub const PLAN_VERSION: u32 = 1;

/// What produced the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStamp {
    /// Risk model version.
    pub model_version: String,
    /// Catalog snapshot.
    pub catalog_snapshot: String,
    /// Profile id.
    pub profile: String,
    /// Profile version.
    pub profile_version: String,
    /// The policy file's own label.
    pub policy_version: String,
    /// Organisation name.
    pub organisation: String,
    /// Organisation jurisdiction.
    pub jurisdiction: String,
    /// Day the decisions are for.
    pub as_of: Day,
}

/// What enforcement needs to know about one app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanApp {
    /// Name.
    pub name: String,
    /// `app` or `bypass`.
    pub kind: catalog::AppKind,
    /// Categories.
    pub categories: Vec<String>,
    /// Organisation-level decision (before group-scoped exceptions); absent for bypass entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// What decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<DecidedBy>,
    /// Score (two decimals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreText>,
    /// Level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// For bypass entries: method and answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<PlanBypass>,
    /// Domains: name and all subdomains.
    pub domains: Vec<String>,
    /// Exact names.
    pub exact: Vec<String>,
    /// Wildcard patterns.
    pub patterns: Vec<String>,
    /// App-specific CDN names matched in CNAME chains (and as names).
    pub cname_targets: Vec<String>,
    /// IP prefixes.
    pub ip_prefixes: Vec<String>,
    /// Carve-outs: names (with subdomains) under `domains` this app's rules do not cover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// Identifiers per platform (`android`, `ios-bundle-id`, …).
    pub identifiers: BTreeMap<String, Vec<String>>,
}

/// A score as a fixed two-decimal string, so JSON stays byte-stable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScoreText(pub String);

/// Bypass properties in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBypass {
    /// Method.
    pub method: BypassMethod,
    /// How to answer.
    pub answer: BypassAnswer,
}

/// What a group does about an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Block (network) / not installable (devices); attempts alerted.
    Block,
    /// Answer normally, record "would block".
    LogOnly,
}

/// Why a rule is in a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum RuleReason {
    /// The app's decision (after any exception for this group).
    Decision(Decision),
    /// The group blocks or logs a category.
    Category(String),
    /// A per-app override in the policy.
    Override(String),
    /// A bypass-prevention switch.
    Bypass(BypassMethod),
}

/// One app rule in a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rule {
    /// App id (key into `apps`).
    pub app: String,
    /// Action.
    pub action: Action,
    /// Why.
    pub reason: RuleReason,
}

/// Bypass switches after defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BypassState {
    /// Firefox canary.
    pub firefox_canary: bool,
    /// iCloud Private Relay.
    pub private_relay: bool,
    /// DDR.
    pub ddr: bool,
    /// Public encrypted DNS.
    pub encrypted_dns: bool,
    /// VPN.
    pub vpn: bool,
    /// Proxies.
    pub proxy: bool,
    /// Tor.
    pub tor: bool,
}

impl BypassState {
    /// Whether the switch for `method` is on.
    pub fn enabled(&self, method: BypassMethod) -> bool {
        match method {
            BypassMethod::Canary => self.firefox_canary,
            BypassMethod::PrivateRelay => self.private_relay,
            BypassMethod::Ddr => self.ddr,
            BypassMethod::EncryptedDns => self.encrypted_dns,
            BypassMethod::Vpn => self.vpn,
            BypassMethod::Proxy => self.proxy,
            BypassMethod::Tor => self.tor,
        }
    }
}

/// Custom rules of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custom {
    /// Allowed domains (win over every block).
    pub allow: Vec<String>,
    /// Denied domains.
    pub deny: Vec<String>,
}

/// One group's enforcement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanGroup {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: GroupKind,
    /// Whether unmatched clients fall here.
    pub default: bool,
    /// Client addresses / CIDRs.
    pub clients: Vec<String>,
    /// Client ids (DoH path, DoT SNI).
    pub client_ids: Vec<String>,
    /// App rules, sorted by app id.
    pub rules: Vec<Rule>,
    /// Apps decided `allow` for this group: the allow-list for a corporate sandbox (MDM allow-list mode).
    pub sandbox_allow: Vec<String>,
    /// Custom rules.
    pub custom: Custom,
    /// Names (with subdomains) carved out of blocked apps' domains because
    /// they belong to a service this group does not block (e.g. WeChat's
    /// `wx.qq.com` when QQ is blocked and WeChat is not). Treated like allow rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carve_outs: Vec<String>,
    /// Bypass prevention.
    pub bypass: BypassState,
}

/// The compiled plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforcementPlan {
    /// Shape version.
    pub plan_version: u32,
    /// Provenance.
    pub stamp: PlanStamp,
    /// Apps referenced by any group, by id.
    pub apps: BTreeMap<String, PlanApp>,
    /// Groups, in policy order.
    pub groups: Vec<PlanGroup>,
}

impl EnforcementPlan {
    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&PlanGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The default group.
    pub fn default_group(&self) -> Option<&PlanGroup> {
        self.groups.iter().find(|g| g.default)
    }

    /// The rule for `app` in `group`, if any.
    pub fn rule(&self, group: &str, app: &str) -> Option<&Rule> {
        self.group(group)?.rules.iter().find(|r| r.app == app)
    }

    /// Every domain rule (domains + cname_targets) a group blocks, sorted and
    /// deduplicated, with exact names, patterns, prefixes and the allow rules
    /// that win over them (custom allow + carve-outs) separately.
    pub fn blocked_names(&self, group: &str, action: Action) -> BlockedNames {
        let mut out = BlockedNames::default();
        if let Some(g) = self.group(group) {
            for r in g.rules.iter().filter(|r| r.action == action) {
                if let Some(app) = self.apps.get(&r.app) {
                    out.domains.extend(app.domains.iter().cloned());
                    out.domains.extend(app.cname_targets.iter().cloned());
                    out.exact.extend(app.exact.iter().cloned());
                    out.patterns.extend(app.patterns.iter().cloned());
                    out.ip_prefixes.extend(app.ip_prefixes.iter().cloned());
                }
            }
            if action == Action::Block {
                out.domains.extend(g.custom.deny.iter().cloned());
            }
        }
        for v in [
            &mut out.domains,
            &mut out.exact,
            &mut out.patterns,
            &mut out.ip_prefixes,
        ] {
            v.sort();
            v.dedup();
        }
        out
    }
}

/// Names and prefixes a group blocks (or logs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockedNames {
    /// Domains with subdomains (including CNAME targets and custom denies).
    pub domains: Vec<String>,
    /// Exact names.
    pub exact: Vec<String>,
    /// Patterns.
    pub patterns: Vec<String>,
    /// IP prefixes.
    pub ip_prefixes: Vec<String>,
    /// Names (with subdomains) that win over every block: the group's custom
    /// allow rules and its carve-outs.
    pub allow: Vec<String>,
}
