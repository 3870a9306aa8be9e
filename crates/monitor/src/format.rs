//! The supported formats and auto-detection from a file's first lines.

use serde::Serialize;
use std::fmt;

/// A log (or identity-source) format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Format {
    /// BIND 9 query log (`queries`, `query-errors`, `rpz`, `security` categories).
    BindQuery,
    /// Unbound log-queries / log-replies / log-local-actions.
    Unbound,
    /// dnsmasq log-queries (plain or `=extra`).
    Dnsmasq,
    /// Pi-hole `pihole.log` (dnsmasq plus gravity/blacklist lines).
    Pihole,
    /// AdGuard Home `querylog.json`.
    AdGuard,
    /// Blocky CSV/TSV query log.
    Blocky,
    /// Zeek TSV logs (`dns`, `ssl`, `conn`, `http`).
    ZeekTsv,
    /// Zeek JSON-lines logs.
    ZeekJson,
    /// Suricata EVE JSON.
    SuricataEve,
    /// Squid native `access.log`.
    SquidNative,
    /// Squid's emulated `common` / `combined` access log.
    SquidCombined,
    /// dnsmasq `dnsmasq.leases` (identity source).
    DnsmasqLeases,
    /// ISC dhcpd `dhcpd.leases` (identity source).
    DhcpdLeases,
    /// Static `ip_or_mac,device,user` CSV (identity source).
    StaticMap,
}

impl Format {
    /// Every log format (identity sources excluded).
    pub const LOGS: [Format; 11] = [
        Format::BindQuery,
        Format::Unbound,
        Format::Dnsmasq,
        Format::Pihole,
        Format::AdGuard,
        Format::Blocky,
        Format::ZeekTsv,
        Format::ZeekJson,
        Format::SuricataEve,
        Format::SquidNative,
        Format::SquidCombined,
    ];

    /// Stable lower-case name (`bind_query`, `zeek_tsv`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::BindQuery => "bind_query",
            Format::Unbound => "unbound",
            Format::Dnsmasq => "dnsmasq",
            Format::Pihole => "pihole",
            Format::AdGuard => "adguard",
            Format::Blocky => "blocky",
            Format::ZeekTsv => "zeek_tsv",
            Format::ZeekJson => "zeek_json",
            Format::SuricataEve => "suricata_eve",
            Format::SquidNative => "squid_native",
            Format::SquidCombined => "squid_combined",
            Format::DnsmasqLeases => "dnsmasq_leases",
            Format::DhcpdLeases => "dhcpd_leases",
            Format::StaticMap => "static_map",
        }
    }

    /// Looks a format up by [`Format::name`].
    pub fn from_name(s: &str) -> Option<Format> {
        Format::LOGS
            .into_iter()
            .chain([Format::DnsmasqLeases, Format::DhcpdLeases, Format::StaticMap])
            .find(|f| f.name() == s)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Guesses the format from the first lines of a file (a dozen is plenty) and,
/// optionally, its file name. Each line votes; the file name breaks ties and
/// tells Pi-hole from plain dnsmasq. Returns `None` when nothing matches.
pub fn detect<L: AsRef<[u8]>>(first_lines: &[L], file_name: Option<&str>) -> Option<Format> {
    let name = file_name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_ascii_lowercase())
        .unwrap_or_default();
    let mut votes: Vec<(Format, u32)> = Vec::new();
    for l in first_lines {
        let Ok(s) = std::str::from_utf8(l.as_ref()) else {
            continue;
        };
        let s = s.trim_end_matches(['\r', '\n']);
        if s.trim().is_empty() {
            continue;
        }
        if let Some(f) = classify_line(s) {
            match votes.iter_mut().find(|(g, _)| *g == f) {
                Some((_, n)) => *n += 1,
                None => votes.push((f, 1)),
            }
        }
    }
    // Pi-hole: the same lines as dnsmasq, so any Pi-hole-only line or the file name decides.
    let has = |f: Format| votes.iter().any(|(g, _)| *g == f);
    if has(Format::Pihole) || (has(Format::Dnsmasq) && name.contains("pihole")) {
        return Some(Format::Pihole);
    }
    let best = votes
        .iter()
        .max_by_key(|(f, n)| (*n, name_hint(&name) == Some(*f)))
        .map(|(f, _)| *f);
    best.or_else(|| name_hint(&name).filter(|f| matches!(f, Format::DhcpdLeases | Format::DnsmasqLeases)))
}

fn name_hint(name: &str) -> Option<Format> {
    Some(if name.contains("pihole") {
        Format::Pihole
    } else if name.contains("eve") && name.ends_with(".json") {
        Format::SuricataEve
    } else if name.contains("querylog") && name.contains(".json") {
        Format::AdGuard
    } else if name.contains("dhcpd") && name.contains("lease") {
        Format::DhcpdLeases
    } else if name.contains("dnsmasq") && name.contains("lease") {
        Format::DnsmasqLeases
    } else if name.contains("access") {
        Format::SquidNative
    } else {
        return None;
    })
}

/// Which format a single line looks like.
fn classify_line(s: &str) -> Option<Format> {
    if s.starts_with("#separator") || s.starts_with("### BTest") || s.starts_with("#fields\t") {
        return Some(Format::ZeekTsv);
    }
    if s.starts_with('{') {
        if s.contains("\"event_type\"") {
            return Some(Format::SuricataEve);
        }
        if s.contains("\"QH\"") && s.contains("\"T\"") {
            return Some(Format::AdGuard);
        }
        if s.contains("\"id.orig_h\"") || s.contains("\"uid\"") || s.contains("\"_path\"") {
            return Some(Format::ZeekJson);
        }
        return None;
    }
    if s.starts_with("lease ") && s.ends_with('{') {
        return Some(Format::DhcpdLeases);
    }
    if s.contains(" unbound[") || s.contains(" unbound: ") {
        return Some(Format::Unbound);
    }
    if s.contains("dnsmasq[") || s.contains("pihole-FTL[") || s.contains(" dnsmasq: ") {
        let pihole_only = [
            "gravity blocked ",
            "blacklisted ",
            "exactly denied ",
            "regex denied ",
            "special domain ",
        ];
        if pihole_only.iter().any(|p| s.contains(p)) || s.contains("pihole-FTL[") {
            return Some(Format::Pihole);
        }
        return Some(Format::Dnsmasq);
    }
    if s.contains("client ") && (s.contains("): query: ") || s.contains("query failed (") || s.contains(": rpz ")) {
        return Some(Format::BindQuery);
    }
    let toks: Vec<&str> = s.split_ascii_whitespace().take(6).collect();
    if toks.len() >= 6
        && toks[0].contains('.')
        && toks[0].bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && toks[3].contains('/')
        && toks[3].starts_with(|c: char| c.is_ascii_uppercase())
    {
        return Some(Format::SquidNative);
    }
    if toks.len() >= 5 && toks[3].starts_with('[') && s.contains("] \"") {
        return Some(Format::SquidCombined);
    }
    let tabs = s.matches('\t').count();
    if (9..=10).contains(&tabs) {
        let b = s.as_bytes();
        if b.len() > 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' {
            return Some(Format::Blocky);
        }
    }
    // dnsmasq.leases: "<expiry> <mac> <ip> <host> <client-id>"
    if toks.len() == 5 && toks[0].bytes().all(|b| b.is_ascii_digit()) && toks[2].parse::<std::net::IpAddr>().is_ok() {
        return Some(Format::DnsmasqLeases);
    }
    None
}
