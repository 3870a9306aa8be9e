//! appwarden's exporters: one [`EnforcementPlan`] compiled into the files of
//! the systems an organisation already runs — DNS servers (hosts, dnsmasq,
//! Unbound, BIND / PowerDNS / Unbound RPZ, Knot Resolver, AdGuard, Pi-hole),
//! proxies (Squid), firewalls (nftables, iptables + ipset), IDS (Suricata,
//! Zeek) and MDMs (Apple profiles, Android Management API, Intune, AppLocker).
//!
//! Pure: no I/O. [`render`] gives one file's bytes; [`render_all`] every
//! format for every group plus a [`Manifest`]. Output is deterministic: the
//! same plan and options give the same bytes. User documentation:
//! `docs/export.md`.

#![forbid(unsafe_code)]

mod formats;
mod header;
mod names;
mod xml;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use policy::plan::EnforcementPlan;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use names::Counts;

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The plan has no group with this id.
    #[error("no group `{0}` in the plan")]
    UnknownGroup(String),
    /// A group id that is not safe to use in file names and identifiers.
    #[error("group id `{0}` is not usable in exports (lowercase letters, digits, '-', '_', at most 63)")]
    InvalidGroupId(String),
    /// The format name is not known.
    #[error("unknown export format `{0}` (see `appwarden export --list`)")]
    UnknownFormat(String),
    /// An option value the format cannot use.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// Which option.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// The plan has no default group (needed when no group is given).
    #[error("the plan has no default group")]
    NoDefaultGroup,
    /// JSON serialisation failed.
    #[error("serialising JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "&'static str")]
#[non_exhaustive]
pub enum Format {
    /// `/etc/hosts` lines (`0.0.0.0 name`); exact names only.
    Hosts,
    /// One domain per line (names and subdomains), exact names in their own section.
    Domains,
    /// dnsmasq `address=/…/` (and `server=/…/#` exceptions).
    Dnsmasq,
    /// Unbound `local-zone:` / `local-data:` (include in `server:`).
    UnboundLocalZone,
    /// Response-policy zone for Unbound's `rpz:` clause.
    UnboundRpz,
    /// Response-policy zone for BIND `response-policy`.
    BindRpz,
    /// Response-policy zone for PowerDNS Recursor `rpzFile`.
    PowerdnsRpz,
    /// Knot Resolver (5.x) `policy` rules in Lua.
    KnotPolicy,
    /// AdGuard Home / adblock-style DNS filter list.
    Adblock,
    /// Pi-hole regex deny list (POSIX ERE, one per line).
    Pihole,
    /// Squid ACLs (`dstdomain`, `dstdom_regex`) and `http_access deny`.
    Squid,
    /// nftables table with named IPv4/IPv6 prefix sets and drop/log rules.
    Nftables,
    /// `ipset restore` file, with the iptables rules in its header.
    Iptables,
    /// Suricata rules on `dns.query` and `tls.sni`.
    Suricata,
    /// Zeek Intel framework file (`Intel::DOMAIN`, `Intel::ADDR`/`SUBNET`).
    ZeekIntel,
    /// Apple configuration profile (`com.apple.applicationaccess`).
    AppleMobileconfig,
    /// Android Management API `Policy` JSON.
    AmapiPolicy,
    /// Intune restricted-apps compliance policy (Graph beta JSON).
    IntuneGraph,
    /// Intune restricted-apps CSV import (`app url,app name,publisher`).
    IntuneCsv,
    /// Windows AppLocker packaged-app (Appx) rules XML.
    AppLocker,
}

impl Format {
    /// Every format, in listing order.
    pub const ALL: &'static [Format] = &[
        Format::Hosts,
        Format::Domains,
        Format::Dnsmasq,
        Format::UnboundLocalZone,
        Format::UnboundRpz,
        Format::BindRpz,
        Format::PowerdnsRpz,
        Format::KnotPolicy,
        Format::Adblock,
        Format::Pihole,
        Format::Squid,
        Format::Nftables,
        Format::Iptables,
        Format::Suricata,
        Format::ZeekIntel,
        Format::AppleMobileconfig,
        Format::AmapiPolicy,
        Format::IntuneGraph,
        Format::IntuneCsv,
        Format::AppLocker,
    ];

    /// The name used on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Domains => "domains",
            Format::Dnsmasq => "dnsmasq",
            Format::UnboundLocalZone => "unbound",
            Format::UnboundRpz => "unbound-rpz",
            Format::BindRpz => "bind-rpz",
            Format::PowerdnsRpz => "powerdns-rpz",
            Format::KnotPolicy => "knot",
            Format::Adblock => "adblock",
            Format::Pihole => "pihole",
            Format::Squid => "squid",
            Format::Nftables => "nftables",
            Format::Iptables => "iptables",
            Format::Suricata => "suricata",
            Format::ZeekIntel => "zeek-intel",
            Format::AppleMobileconfig => "apple-mobileconfig",
            Format::AmapiPolicy => "amapi-policy",
            Format::IntuneGraph => "intune-graph",
            Format::IntuneCsv => "intune-csv",
            Format::AppLocker => "applocker",
        }
    }

    /// The format with this name (also accepts a few aliases such as `rpz`, `adguard`).
    pub fn from_name(name: &str) -> Result<Format, ExportError> {
        let alias = match name {
            "rpz" => Some(Format::BindRpz),
            "adguard" => Some(Format::Adblock),
            "mobileconfig" | "apple" => Some(Format::AppleMobileconfig),
            "amapi" => Some(Format::AmapiPolicy),
            "intune" => Some(Format::IntuneGraph),
            "ipset" => Some(Format::Iptables),
            "zeek" => Some(Format::ZeekIntel),
            "unbound-local-zone" => Some(Format::UnboundLocalZone),
            _ => None,
        };
        alias
            .or_else(|| Format::ALL.iter().copied().find(|f| f.name() == name))
            .ok_or_else(|| ExportError::UnknownFormat(header::sanitize(name, 60)))
    }

    /// The file extension (without the dot).
    pub fn file_extension(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Domains | Format::Adblock | Format::Pihole => "txt",
            Format::Dnsmasq => "conf",
            Format::UnboundLocalZone => "conf",
            Format::UnboundRpz | Format::BindRpz | Format::PowerdnsRpz => "rpz.zone",
            Format::KnotPolicy => "lua",
            Format::Squid => "conf",
            Format::Nftables => "nft",
            Format::Iptables => "ipset",
            Format::Suricata => "rules",
            Format::ZeekIntel => "intel",
            Format::AppleMobileconfig => "mobileconfig",
            Format::AmapiPolicy | Format::IntuneGraph => "json",
            Format::IntuneCsv => "csv",
            Format::AppLocker => "xml",
        }
    }

    /// Whether the format is for devices (MDM, application control) rather than the network.
    pub fn is_device_format(self) -> bool {
        matches!(
            self,
            Format::AppleMobileconfig
                | Format::AmapiPolicy
                | Format::IntuneGraph
                | Format::IntuneCsv
                | Format::AppLocker
        )
    }

    /// One line saying what the format is for (for `appwarden export --list`).
    pub fn description(self) -> &'static str {
        match self {
            Format::Hosts => "hosts file lines (0.0.0.0 NAME): exact names only, no subdomains",
            Format::Domains => "plain domain list, one per line (name and subdomains)",
            Format::Dnsmasq => "dnsmasq address=/NAME/ lines (conf-file / conf-dir)",
            Format::UnboundLocalZone => "Unbound local-zone lines (include: inside server:)",
            Format::UnboundRpz => "RPZ zone file for Unbound's rpz: clause",
            Format::BindRpz => "RPZ zone file for BIND response-policy",
            Format::PowerdnsRpz => "RPZ zone file for PowerDNS Recursor rpzFile",
            Format::KnotPolicy => "Knot Resolver 5 policy rules (Lua, load with dofile)",
            Format::Adblock => "AdGuard Home / adblock DNS filter list",
            Format::Pihole => "Pi-hole regex deny list",
            Format::Squid => "Squid ACLs and http_access deny (include in squid.conf)",
            Format::Nftables => "nftables table with prefix sets (nft -f)",
            Format::Iptables => "ipset restore file; iptables rules in the header",
            Format::Suricata => "Suricata rules on dns.query and tls.sni",
            Format::ZeekIntel => "Zeek Intel framework file",
            Format::AppleMobileconfig => {
                "Apple configuration profile (com.apple.applicationaccess; supervised devices)"
            }
            Format::AmapiPolicy => "Android Management API Policy JSON",
            Format::IntuneGraph => "Intune restricted-apps compliance policy (Graph beta JSON)",
            Format::IntuneCsv => "Intune restricted-apps CSV import",
            Format::AppLocker => "Windows AppLocker packaged-app deny rules (XML)",
        }
    }
}

impl From<Format> for &'static str {
    fn from(f: Format) -> &'static str {
        f.name()
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a resolver answers for a blocked name (where the format can choose).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockedAnswer {
    /// NXDOMAIN (default). Formats that can only answer an address (hosts) use 0.0.0.0 / ::.
    #[default]
    Nxdomain,
    /// NOERROR without records.
    Nodata,
    /// 0.0.0.0 and ::.
    NullIp,
    /// A block page address; without `v6`, AAAA queries get no records.
    Ip {
        /// IPv4 address for A queries.
        v4: Ipv4Addr,
        /// IPv6 address for AAAA queries.
        v6: Option<Ipv6Addr>,
    },
}

/// What to do with `log_only` rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogOnlyMode {
    /// Where the format can answer normally and record the hit (Unbound
    /// `inform`, RPZ `rpz-passthru`, Suricata `alert`, nftables `log`, Squid
    /// `access_log`), write them so; elsewhere leave them out and say so in the header.
    #[default]
    Native,
    /// Leave log-only rules out everywhere.
    Omit,
    /// Block them like block rules (end of a watch period).
    Enforce,
}

/// What to do with wildcard patterns in formats without a matching construct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PatternFallback {
    /// List them as comments and count them (default: never over-block).
    #[default]
    Comment,
    /// Block the pattern's fixed suffix (after the last `*` label) with its
    /// subdomains instead: over-blocks, never under-blocks.
    Widen,
}

/// Device platform for Intune outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DevicePlatform {
    /// iOS / iPadOS (bundle ids).
    #[default]
    Ios,
    /// Android (package names).
    Android,
}

/// Options of the Apple configuration profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppleOptions {
    /// Allow-list mode: `allowListedAppBundleIDs` from the group's
    /// `sandbox_allow` (plus `extra_allowed`) instead of `blockedAppBundleIDs`.
    pub allow_list: bool,
    /// Also write the deprecated pre-iOS-15 keys (`blacklistedAppBundleIDs`, `whitelistedAppBundleIDs`).
    pub legacy_keys: bool,
    /// Reverse-DNS prefix of `PayloadIdentifier` (default `org.appwarden`).
    pub identifier_prefix: String,
    /// Extra bundle ids to allow in allow-list mode (system apps you need, `com.apple.webapp`).
    pub extra_allowed: Vec<String>,
    /// `PayloadRemovalDisallowed` (default true).
    pub removal_disallowed: bool,
}

impl Default for AppleOptions {
    fn default() -> Self {
        AppleOptions {
            allow_list: false,
            legacy_keys: false,
            identifier_prefix: "org.appwarden".into(),
            extra_allowed: Vec::new(),
            removal_disallowed: true,
        }
    }
}

/// Options of the Android Management API policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AmapiOptions {
    /// Allow-list mode: `playStoreMode: WHITELIST` with the sandbox apps `AVAILABLE`.
    pub allow_list: bool,
    /// Write `personalUsagePolicies` (personal side of a company-owned work
    /// profile). `None`: when the group's kind is `byod`.
    pub personal_usage: Option<bool>,
}

/// Export options. `Options::default()` is what `appwarden export` uses without flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Blocked answer (NXDOMAIN by default).
    pub answer: BlockedAnswer,
    /// Log-only handling.
    pub log_only: LogOnlyMode,
    /// Pattern handling in formats without wildcards.
    pub patterns: PatternFallback,
    /// TTL of written DNS records (default 300).
    pub ttl: u32,
    /// RPZ zone origin (default `rpz.appwarden.<group>`); must be a valid name.
    pub rpz_zone: Option<String>,
    /// The serial of the zone currently loaded; a new serial is made larger
    /// than it if the derived one is not (see docs: serial).
    pub previous_serial: Option<u32>,
    /// First Suricata signature id (default 1_970_000_000 region, see docs).
    pub suricata_sid_base: u32,
    /// Intune platform (`intune-graph`, `intune-csv`).
    pub platform: DevicePlatform,
    /// Apple profile options.
    pub apple: AppleOptions,
    /// AMAPI options.
    pub amapi: AmapiOptions,
    /// AppLocker: package name (PFN before `_`) → signer DN (`CN=…, O=…`).
    /// Without one, the rule carries a placeholder DN and matches nothing.
    pub windows_publishers: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            answer: BlockedAnswer::default(),
            log_only: LogOnlyMode::default(),
            patterns: PatternFallback::default(),
            ttl: 300,
            rpz_zone: None,
            previous_serial: None,
            suricata_sid_base: 1_970_000_000,
            platform: DevicePlatform::default(),
            apple: AppleOptions::default(),
            amapi: AmapiOptions::default(),
            windows_publishers: BTreeMap::new(),
        }
    }
}

/// One rendered file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Relative path (`GROUP/NAME.EXT`) the CLI writes it to.
    pub path: String,
    /// Format.
    pub format: Format,
    /// Group id.
    pub group: String,
    /// Contents.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, lowercase hex.
    pub sha256: String,
    /// What was written, refused or approximated.
    pub counts: Counts,
}

/// The manifest of [`render_all`]: each file with its format, group and SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// Manifest shape version.
    pub manifest_version: u32,
    /// The plan's stamp.
    pub stamp: policy::plan::PlanStamp,
    /// Files, sorted by path.
    pub files: Vec<Artifact>,
}

impl Manifest {
    /// The manifest as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<Vec<u8>, ExportError> {
        let mut v = serde_json::to_vec_pretty(self)?;
        v.push(b'\n');
        Ok(v)
    }
}

/// Renders one file: `plan`'s `group` in `format`.
pub fn render(plan: &EnforcementPlan, format: Format, group: &str, opts: &Options) -> Result<Vec<u8>, ExportError> {
    render_artifact(plan, format, group, opts).map(|a| a.bytes)
}

/// Renders one file with its path, hash and counts.
pub fn render_artifact(
    plan: &EnforcementPlan,
    format: Format,
    group: &str,
    opts: &Options,
) -> Result<Artifact, ExportError> {
    let g = names::find_group(plan, group)?;
    let mut counts = Counts::default();
    let bytes = formats::render(plan, g, format, opts, &mut counts)?;
    let suffix = match (format, opts.platform) {
        (Format::IntuneGraph | Format::IntuneCsv, DevicePlatform::Android) => "-android",
        (Format::IntuneGraph | Format::IntuneCsv, DevicePlatform::Ios) => "-ios",
        _ => "",
    };
    Ok(Artifact {
        path: format!("{}/{}{}.{}", g.id, format.name(), suffix, format.file_extension()),
        format,
        group: g.id.clone(),
        sha256: hex(&Sha256::digest(&bytes)),
        bytes,
        counts,
    })
}

/// Renders every format for every group (Intune for both platforms), sorted by path.
pub fn render_all(plan: &EnforcementPlan, opts: &Options) -> Result<Manifest, ExportError> {
    let mut files = Vec::new();
    for g in &plan.groups {
        for &f in Format::ALL {
            if matches!(f, Format::IntuneGraph | Format::IntuneCsv) {
                for p in [DevicePlatform::Ios, DevicePlatform::Android] {
                    let o = Options {
                        platform: p,
                        ..opts.clone()
                    };
                    files.push(render_artifact(plan, f, &g.id, &o)?);
                }
            } else {
                files.push(render_artifact(plan, f, &g.id, opts)?);
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest {
        manifest_version: 1,
        stamp: plan.stamp.clone(),
        files,
    })
}

/// The default group's id.
pub fn default_group(plan: &EnforcementPlan) -> Result<&str, ExportError> {
    plan.default_group()
        .map(|g| g.id.as_str())
        .ok_or(ExportError::NoDefaultGroup)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
