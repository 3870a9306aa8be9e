//! The catalog's data model, as written in the TOML files (`docs/catalog.md`).
//!
//! Every claim (an identifier, a block of network footprint, an operator role,
//! an incident, a factor rating, a restriction) names the sources it rests on
//! by id; a source carries its URL, date, kind and default confidence.

pub use crate::day::Day;
use serde::{Deserialize, Serialize};

/// How sure we are of a claim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// One indirect or unverified report.
    Low,
    /// A credible report, or several consistent indirect ones.
    #[default]
    Medium,
    /// Primary source (the operator, a government, a court, a regulator) or verified first-hand.
    High,
}

/// What kind of publication a source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A government decision, directive or official statement.
    Government,
    /// A law or an official legal text.
    Legislation,
    /// A data-protection or other regulator's decision.
    Regulator,
    /// A court decision.
    Court,
    /// The operator's own statement, policy, bug-bounty scope or documentation.
    Vendor,
    /// An app store listing.
    AppStore,
    /// Security research (a lab's report, a CVE record).
    SecurityResearch,
    /// Peer-reviewed or academic work.
    Academic,
    /// News reporting.
    Press,
    /// A maintained community list (blocklists, service lists).
    CommunityList,
    /// appwarden's own static analysis of a package.
    StaticAnalysis,
}

/// A publication a claim rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Identifier used by claims (`sources = ["id"]`); unique across the catalog.
    pub id: String,
    /// Where to read it (http or https).
    pub url: String,
    /// Title of the page or document.
    pub title: String,
    /// Who published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Date published, or for living pages the date it was read.
    pub date: Day,
    /// What kind of source it is.
    pub kind: SourceKind,
    /// Default confidence for claims citing it (a claim may set its own). Default: medium.
    #[serde(default)]
    pub confidence: Confidence,
    /// Licence of the material, where it is a dataset we derive entries from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Free text: what exactly in the source supports the claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A category apps belong to, so a policy can block by category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Identifier, e.g. `social-video`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// What belongs in it.
    pub description: String,
}

/// A company that develops, operates or owns apps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Identifier, e.g. `bytedance`.
    pub id: String,
    /// Legal or common name.
    pub name: String,
    /// ISO 3166 code of the country where it is incorporated / headquartered.
    pub country: String,
    /// ISO 3166 codes of the jurisdictions from which it is ultimately controlled
    /// (owners, founders' control, parent company); drives risk factor F6.
    pub controlled_from: Vec<String>,
    /// Parent operator id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// One paragraph on who this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Sources for the country and control facts.
    pub sources: Vec<String>,
    /// Confidence of the control facts (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Dated facts about ownership and structure.
    #[serde(default, rename = "fact", skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<DatedFact>,
}

/// A fact that holds over a period, perhaps only in some regions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedFact {
    /// First day it holds (absent: since before the catalog cares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Day>,
    /// Last day it holds (absent: still holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Day>,
    /// ISO 3166 codes where it holds; `["*"]` (the default) means everywhere.
    #[serde(default = "everywhere")]
    pub regions: Vec<String>,
    /// The fact.
    pub text: String,
    /// Its sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

pub(crate) fn everywhere() -> Vec<String> {
    vec!["*".to_string()]
}

/// Whether a catalog entry is an app people install, or a way around a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// An app or service that gets a risk assessment and a decision.
    #[default]
    App,
    /// A way around the organisation's DNS or network controls (encrypted DNS,
    /// VPN, proxy, Tor, Private Relay, canary names). Enforced by the
    /// bypass-prevention switches, not by a risk decision.
    Bypass,
}

/// How an overlay entry combines with a bundled entry of the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverlayMode {
    /// Lists are appended (factors with the same id are replaced); given scalar fields replace.
    Extend,
    /// The overlay entry replaces the bundled one entirely.
    Replace,
}

/// An app family: every variant and successor of one product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Identifier, e.g. `tiktok`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// App or bypass method. Default: app.
    #[serde(default)]
    pub kind: AppKind,
    /// Category ids.
    pub categories: Vec<String>,
    /// What the app is, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Only in a user overlay: how this entry combines with a bundled one of the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<OverlayMode>,
    /// Other catalog apps this one is related to (predecessors, sister apps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Who develops, operates or owns it, per region and period.
    #[serde(default, rename = "operator", skip_serializing_if = "Vec::is_empty")]
    pub operators: Vec<OperatorRole>,
    /// Store and package identifiers per platform.
    #[serde(default, rename = "identifier", skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<Identifier>,
    /// The infrastructure it talks to.
    #[serde(default, rename = "network", skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<Footprint>,
    /// What data it collects.
    #[serde(default, rename = "data", skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataClaim>,
    /// Documented incidents and enforcement actions.
    #[serde(default, rename = "incident", skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incident>,
    /// When the incident record was last reviewed; with no incident in the
    /// five years before an assessment, factor F7 is then 0 instead of unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incidents_reviewed: Option<Day>,
    /// Ratings of the factors F1–F5 and F9 (F6–F8 are derived).
    #[serde(default, rename = "factor", skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<FactorClaim>,
    /// Malware verdicts by a credible party; any of them is a gate.
    #[serde(default, rename = "malware", skip_serializing_if = "Vec::is_empty")]
    pub malware: Vec<MalwareVerdict>,
    /// For bypass entries: which method and how a resolver should answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<Bypass>,
}

/// The part an operator plays for an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Writes the app.
    Developer,
    /// Publishes it in the stores.
    Publisher,
    /// Runs the service users talk to.
    ServiceOperator,
    /// Holds users' data.
    DataCustodian,
    /// Owns the app or its operator.
    Owner,
    /// Licenses core technology (e.g. the recommendation algorithm) to the operator.
    TechnologyLicensor,
}

impl Role {
    /// The kebab-case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Developer => "developer",
            Role::Publisher => "publisher",
            Role::ServiceOperator => "service-operator",
            Role::DataCustodian => "data-custodian",
            Role::Owner => "owner",
            Role::TechnologyLicensor => "technology-licensor",
        }
    }
}

/// An operator's role for an app, in some regions over some period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorRole {
    /// Operator id.
    #[serde(rename = "id")]
    pub operator: String,
    /// What it does for the app.
    pub roles: Vec<Role>,
    /// ISO 3166 codes where this holds; default everywhere (`["*"]`).
    #[serde(default = "everywhere")]
    pub regions: Vec<String>,
    /// Regions excluded from a `*` entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_regions: Vec<String>,
    /// First day it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Day>,
    /// Last day it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Day>,
    /// Context, e.g. the ownership share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// A platform an identifier belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Android application id (package name).
    Android,
    /// iOS / iPadOS bundle identifier.
    IosBundleId,
    /// Numeric App Store id.
    IosAppStoreId,
    /// Windows package family name (MSIX / Microsoft Store).
    WindowsPfn,
    /// macOS bundle identifier.
    MacosBundleId,
    /// Apple Developer team id (10 characters).
    AppleTeamId,
}

impl Platform {
    /// The kebab-case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::IosBundleId => "ios-bundle-id",
            Platform::IosAppStoreId => "ios-app-store-id",
            Platform::WindowsPfn => "windows-pfn",
            Platform::MacosBundleId => "macos-bundle-id",
            Platform::AppleTeamId => "apple-team-id",
        }
    }
}

/// A package or store identifier of one variant of the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// Platform.
    pub platform: Platform,
    /// The identifier.
    pub value: String,
    /// Which variant: `global`, `lite`, `asia (trill)`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A sourced block of network footprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Footprint {
    /// Domains: each matches the name and all its subdomains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Names that match exactly, not their subdomains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exact: Vec<String>,
    /// Wildcard patterns over the whole name (`*` = one or more label characters), e.g. `p16-tiktok-*.ibyteimg.com`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
    /// App-specific CDN names the app's names CNAME to (matched with subdomains,
    /// also when they appear inside a CNAME chain). Never a generic CDN apex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cname_targets: Vec<String>,
    /// IP prefixes used only by this app's operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_prefixes: Vec<String>,
    /// Carve-outs: names (with their subdomains) under this block's `domains`
    /// that belong to another service and are not covered by this app's rules
    /// (e.g. WeChat's `wx.qq.com` under QQ's `qq.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// What this block is (e.g. "API endpoints", "video CDN").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A claim about data the app collects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataClaim {
    /// Kind of data, e.g. `device-identifiers`, `biometrics`, `keystrokes`, `clipboard`, `contacts`, `location`, `messages`.
    pub kind: String,
    /// What exactly.
    pub text: String,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// A kind of incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// A regulator's fine or order.
    Fine,
    /// Operator staff accessed or misused user data.
    StaffDataAccess,
    /// A data breach.
    Breach,
    /// A security vulnerability in the app.
    Vulnerability,
    /// Covert or undisclosed data collection found by researchers or regulators.
    CovertCollection,
    /// A court ruling or settlement.
    Litigation,
    /// Anything else worth recording.
    Other,
}

/// A documented incident or enforcement action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// When it happened or was decided.
    pub date: Day,
    /// Kind.
    pub kind: IncidentKind,
    /// One line.
    pub title: String,
    /// Severity 1–4 on the F7 rubric (`docs/risk-model.md`).
    pub severity: u8,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// A risk factor of the model (`docs/risk-model.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FactorId {
    /// Data-collection breadth.
    F1,
    /// Sensitive capabilities.
    F2,
    /// Third-party SDKs and trackers.
    F3,
    /// Code integrity and remote control.
    F4,
    /// Security hygiene.
    F5,
    /// Operator jurisdiction and legal compulsion (derived).
    F6,
    /// Documented incidents and enforcement (derived).
    F7,
    /// Other governments' restrictions (derived).
    F8,
    /// Influence / content integrity.
    F9,
}

impl FactorId {
    /// All factors in order.
    pub const ALL: [FactorId; 9] = [
        FactorId::F1,
        FactorId::F2,
        FactorId::F3,
        FactorId::F4,
        FactorId::F5,
        FactorId::F6,
        FactorId::F7,
        FactorId::F8,
        FactorId::F9,
    ];

    /// Position 0..9.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the value is derived from other catalog facts and the
    /// organisation, rather than rated in the catalog.
    pub fn is_derived(self) -> bool {
        matches!(self, FactorId::F6 | FactorId::F7 | FactorId::F8)
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            FactorId::F1 => "data-collection breadth",
            FactorId::F2 => "sensitive capabilities",
            FactorId::F3 => "third-party SDKs and trackers",
            FactorId::F4 => "code integrity and remote control",
            FactorId::F5 => "security hygiene",
            FactorId::F6 => "operator jurisdiction and legal compulsion",
            FactorId::F7 => "documented incidents and enforcement",
            FactorId::F8 => "other governments' restrictions",
            FactorId::F9 => "influence / content integrity",
        }
    }
}

impl std::fmt::Display for FactorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "F{}", self.index() + 1)
    }
}

/// A sourced rating of one factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorClaim {
    /// Which factor (F1–F5, F9).
    pub id: FactorId,
    /// 0–4 on the factor's rubric.
    pub score: u8,
    /// Why this value, in a sentence a non-specialist can follow.
    pub rationale: String,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// A credible party's finding that a build of the app is malware.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MalwareVerdict {
    /// When it was found.
    pub date: Day,
    /// What was found, and for which builds.
    pub text: String,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// A way around DNS or network controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BypassMethod {
    /// Public DNS-over-HTTPS / DNS-over-TLS / DoQ resolvers.
    EncryptedDns,
    /// Commercial VPN services.
    Vpn,
    /// Web proxies and unblockers.
    Proxy,
    /// Tor and its bridges.
    Tor,
    /// iCloud Private Relay.
    PrivateRelay,
    /// Canary names that tell a client it may not bypass the network's resolver (Firefox).
    Canary,
    /// Discovery of Designated Resolvers (RFC 9462, `_dns.resolver.arpa`).
    Ddr,
}

impl BypassMethod {
    /// The kebab-case name used in files and plans.
    pub fn as_str(self) -> &'static str {
        match self {
            BypassMethod::EncryptedDns => "encrypted-dns",
            BypassMethod::Vpn => "vpn",
            BypassMethod::Proxy => "proxy",
            BypassMethod::Tor => "tor",
            BypassMethod::PrivateRelay => "private-relay",
            BypassMethod::Canary => "canary",
            BypassMethod::Ddr => "ddr",
        }
    }
}

/// How a filtering resolver answers a bypass name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BypassAnswer {
    /// NXDOMAIN.
    Nxdomain,
    /// NOERROR with no records.
    Nodata,
    /// The group's usual blocked answer.
    Blocked,
}

/// The bypass properties of a `kind = "bypass"` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bypass {
    /// Which method.
    pub method: BypassMethod,
    /// How to answer (default: the group's blocked answer).
    #[serde(default = "default_bypass_answer")]
    pub answer: BypassAnswer,
}

fn default_bypass_answer() -> BypassAnswer {
    BypassAnswer::Blocked
}

/// What a government restriction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestrictionKind {
    /// Banned from government devices / networks.
    GovernmentDevices,
    /// Blocked or banned for everyone in the jurisdiction.
    Nationwide,
    /// Advice or a recommendation, not an order.
    Advisory,
}

/// Who a restriction binds, for the gate check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Jurisdiction code it binds in (`US`, `US-TX`, `EU`, …). An organisation
    /// in `US-TX` is bound by a `US` binding; one in `US` is not bound by `US-TX`.
    pub jurisdiction: String,
    /// Sectors bound (`docs/catalog.md` lists them); `*` binds every organisation.
    pub sectors: Vec<String>,
}

/// A government's restriction of one or more apps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Identifier, e.g. `us-no-tiktok-on-government-devices-act`.
    pub id: String,
    /// Jurisdiction code of the government (`US`, `US-TX`, `EU`, `GB-SCT`, …).
    pub jurisdiction: String,
    /// The body that decided, in words.
    pub authority: String,
    /// What it covers (devices, networks, everyone).
    pub scope: String,
    /// Kind.
    pub kind: RestrictionKind,
    /// In force from.
    pub date: Day,
    /// Precision notes about the date, when the source is vague.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_note: Option<String>,
    /// Last day in force (lifted, expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Day>,
    /// The legal instrument.
    pub instrument: String,
    /// What it requires.
    pub requirement: String,
    /// App ids it covers.
    pub apps: Vec<String>,
    /// Organisations it binds (for gates). Empty: binds no organisation
    /// directly (e.g. it binds app stores); it still counts for F8.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binding: Vec<Binding>,
    /// Grounds on which the instrument itself allows exceptions (e.g.
    /// `law-enforcement`, `national-security`, `security-research`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception_bases: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Confidence (default: the sources').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

impl Restriction {
    /// Whether the restriction is in force on `day`.
    pub fn in_force(&self, day: Day) -> bool {
        self.date <= day && self.until.is_none_or(|u| day <= u)
    }

    /// The top-level government: `US` for `US-TX`, `EU` for `EU-EP`.
    pub fn country(&self) -> &str {
        top_level(&self.jurisdiction)
    }
}

/// `US` for `US-TX`; `*` stays `*`.
pub fn top_level(jurisdiction: &str) -> &str {
    jurisdiction.split('-').next().unwrap_or(jurisdiction)
}

/// Whether an organisation in `org` is inside `scope` (`US` contains `US-TX`).
pub fn jurisdiction_contains(scope: &str, org: &str) -> bool {
    scope == "*" || org == scope || org.strip_prefix(scope).is_some_and(|rest| rest.starts_with('-'))
}

impl OperatorRole {
    /// Whether this role holds for an organisation in `region` on `day`.
    pub fn applies(&self, region: &str, day: Day) -> bool {
        let country = top_level(region);
        let in_region = self.regions.iter().any(|r| r == "*" || r == country || r == region)
            && !self.except_regions.iter().any(|r| r == country || r == region);
        in_region && self.from.is_none_or(|f| f <= day) && self.until.is_none_or(|u| day <= u)
    }
}
