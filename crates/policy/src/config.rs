//! `appwarden.toml`: the organisation, its groups, per-app overrides and
//! exceptions. Parsed with locations so every problem names file and line.

use catalog::Day;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use risk::Decision;

/// Schema version of `appwarden.toml` this build reads.
pub const POLICY_SCHEMA: u32 = 1;

/// The whole policy file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Schema version (1).
    #[serde(default = "one")]
    pub version: u32,
    /// The organisation's own label for this policy; stamped on plans and exports. Default: "unversioned".
    #[serde(default = "unversioned")]
    pub policy_version: String,
    /// Who the organisation is.
    pub organisation: Organisation,
    /// Catalog options.
    #[serde(default)]
    pub catalog: CatalogOptions,
    /// Device / network groups. Default: corporate (the default group), byod, guest.
    #[serde(default, rename = "group")]
    pub groups: Vec<Spanned<Group>>,
    /// Per-app overrides (stricter only).
    #[serde(default, rename = "override")]
    pub overrides: Vec<Spanned<Override>>,
    /// Business-need exceptions.
    #[serde(default, rename = "exception")]
    pub exceptions: Vec<Spanned<risk::Exception>>,
    /// Sections other parts of appwarden read (resolver, monitor, exports):
    /// kept as raw TOML here so the policy compiler does not depend on them.
    #[serde(default)]
    pub dns: Option<toml::Table>,
    /// Monitor settings (read by the monitor).
    #[serde(default)]
    pub monitor: Option<toml::Table>,
    /// Export settings (read by the exporters).
    #[serde(default)]
    pub export: Option<toml::Table>,
    /// Alert routing and receivers (read by the alert crate).
    #[serde(default)]
    pub alerts: Option<toml::Table>,
}

fn one() -> u32 {
    1
}

fn unversioned() -> String {
    "unversioned".into()
}

/// The organisation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Name, shown in documents and headers.
    pub name: String,
    /// Bundled profile id or path to a profile file.
    pub profile: String,
    /// Jurisdiction code (`US`, `US-TX`, `DE`, `GB`, …). Default: `US`.
    #[serde(default = "us")]
    pub jurisdiction: String,
    /// Sectors, which decide which laws bind (gates): `government`,
    /// `government-contractor`, `subnational-government`, `legislature`,
    /// `defence`, `critical-infrastructure`, `health`, `education`, `finance`,
    /// `retail`, `media`. Default: none.
    #[serde(default)]
    pub sectors: Vec<String>,
    /// Replaces the profile's list of jurisdictions of concern (F6).
    #[serde(default)]
    pub jurisdictions_of_concern: Option<Vec<String>>,
    /// Replaces the profile's list of adequate jurisdictions (F6).
    #[serde(default)]
    pub adequate_jurisdictions: Option<Vec<String>>,
}

fn us() -> String {
    "US".into()
}

/// Catalog options.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogOptions {
    /// A directory of catalog files extending the bundled catalog (relative to the policy file).
    #[serde(default)]
    pub overlay: Option<String>,
}

/// What a group is for; decides the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// Managed devices and the corporate network.
    Corporate,
    /// Personal devices with a work profile, on the corporate network.
    Byod,
    /// A guest or isolated network.
    Guest,
}

/// What a group does with apps decided `allow_outside_sandbox`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutsideSandbox {
    /// Block on the network.
    Block,
    /// Answer normally and record "would block".
    LogOnly,
    /// Allow (and monitor).
    Allow,
}

/// A group of clients with its own enforcement.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Identifier (`corporate`, `byod`, `guest`, `marketing`, …).
    pub id: String,
    /// Kind. Default: corporate.
    #[serde(default = "corporate")]
    pub kind: GroupKind,
    /// Clients matching no group fall into the default group (exactly one; default: the first).
    #[serde(default)]
    pub default: bool,
    /// Client source addresses (IP or CIDR) for the resolver.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Client ids (DoH path `/dns-query/ID`, DoT SNI `ID.dns.example`).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Whole group in log-only mode: answer normally, record "would block".
    #[serde(default)]
    pub log_only: bool,
    /// What to do with allow_outside_sandbox apps. Default: block for corporate and byod, allow for guest.
    #[serde(default)]
    pub allow_outside_sandbox: Option<OutsideSandbox>,
    /// Block every catalog app in these categories, whatever its decision.
    #[serde(default)]
    pub block_categories: Vec<String>,
    /// Log (but do not block) every catalog app in these categories.
    #[serde(default)]
    pub log_only_categories: Vec<String>,
    /// Custom allow rules (domain and subdomains); they win over every block.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Custom deny rules (domain and subdomains).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Bypass prevention switches.
    #[serde(default)]
    pub bypass: Option<BypassSwitches>,
}

fn corporate() -> GroupKind {
    GroupKind::Corporate
}

/// Bypass-prevention switches of a group. Unset switches take the kind's default.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BypassSwitches {
    /// `use-application-dns.net` → NXDOMAIN (Firefox keeps DoH off). Default on.
    pub firefox_canary: Option<bool>,
    /// `mask.icloud.com`, `mask-h2.icloud.com` → NXDOMAIN. Default on.
    pub private_relay: Option<bool>,
    /// `_dns.resolver.arpa` → NODATA (no designated encrypted resolver). Default on.
    pub ddr: Option<bool>,
    /// Public DoH/DoT resolvers blocked. Default on.
    pub encrypted_dns: Option<bool>,
    /// VPN services blocked. Default on for corporate and byod, off for guest.
    pub vpn: Option<bool>,
    /// Proxies blocked. Default on for corporate and byod, off for guest.
    pub proxy: Option<bool>,
    /// Tor blocked. Default on for corporate and byod, off for guest.
    pub tor: Option<bool>,
}

/// A per-app override: stricter than the assessment, or log-only for a rollout.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// App id.
    pub app: String,
    /// The decision to use; may only be stricter than the assessed one
    /// (to relax a decision, write an exception).
    #[serde(default)]
    pub decision: Option<Decision>,
    /// Log-only for this app: answer normally, record "would block".
    #[serde(default)]
    pub log_only: bool,
    /// Groups it applies to; empty = all.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Why.
    pub reason: String,
}

impl PolicyFile {
    /// The policy used when no file is given: the bundled catalog, profile
    /// `bank`, jurisdiction US, and the three default groups.
    pub fn default_policy() -> PolicyFile {
        PolicyFile {
            version: 1,
            policy_version: "builtin-default".into(),
            organisation: Organisation {
                name: "appwarden default policy".into(),
                profile: DEFAULT_PROFILE.into(),
                jurisdiction: "US".into(),
                sectors: Vec::new(),
                jurisdictions_of_concern: None,
                adequate_jurisdictions: None,
            },
            catalog: CatalogOptions::default(),
            groups: Vec::new(),
            overrides: Vec::new(),
            exceptions: Vec::new(),
            dns: None,
            monitor: None,
            alerts: None,
            export: None,
        }
    }
}

/// Profile of the built-in default policy.
pub const DEFAULT_PROFILE: &str = "bank";

/// The groups used when a policy names none.
pub fn default_groups() -> Vec<Group> {
    let g = |id: &str, kind, default, clients: &[&str]| Group {
        id: id.into(),
        kind,
        default,
        clients: clients.iter().map(|s| s.to_string()).collect(),
        client_ids: Vec::new(),
        log_only: false,
        allow_outside_sandbox: None,
        block_categories: Vec::new(),
        log_only_categories: Vec::new(),
        allow: Vec::new(),
        deny: Vec::new(),
        bypass: None,
    };
    vec![
        g("corporate", GroupKind::Corporate, true, &[]),
        g("byod", GroupKind::Byod, false, &[]),
        g("guest", GroupKind::Guest, false, &[]),
    ]
}

/// Whether a day string etc. parse; re-exported for callers building policies in code.
pub fn parse_day(s: &str) -> Result<Day, String> {
    s.parse()
}
