//! The `[dns]` section of `appwarden.toml`; command-line flags override it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cache::CacheConfig;
use crate::lists::ListFormat;
use crate::wire::BlockedAnswer;

/// Resolver settings. Every field has a default; `appwarden dns` runs with none.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// UDP+TCP listen addresses. Default `["127.0.0.1:5353"]`; use `0.0.0.0:53` on a LAN.
    pub listen: Vec<String>,
    /// DNS-over-TLS listen addresses (RFC 7858), e.g. `["0.0.0.0:853"]`. Default none.
    pub tls_listen: Vec<String>,
    /// DNS-over-HTTPS listen addresses (RFC 8484; HTTP/2 and HTTP/1.1), e.g. `["0.0.0.0:443"]`. Default none.
    pub https_listen: Vec<String>,
    /// The DoH path; `PATH/ID` carries a client id. Default `/dns-query`.
    pub https_path: String,
    /// PEM certificate chain (leaf first) of the DoT/DoH listeners, relative to the policy file.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`, relative to the policy file.
    pub tls_key: Option<PathBuf>,
    /// The DoT name clients use (e.g. `dns.example.org`): SNI `ID.dns.example.org` carries client id `ID`.
    /// Without it, the SNI's first label is the client id when it names a group's client id.
    pub tls_server_name: Option<String>,
    /// Upstream resolvers: `ADDR[:PORT]`, `tcp://ADDR[:PORT]`, `tls://HOST[:PORT][#TLSNAME]`,
    /// `https://HOST[:PORT][/PATH][#TLSNAME]`. Default: the nameservers of `/etc/resolv.conf`.
    pub upstreams: Vec<String>,
    /// Extra trusted CA certificates (PEM) for DoT/DoH upstreams and list downloads, besides the system's.
    pub upstream_ca_file: Option<PathBuf>,
    /// Interval of active upstream health probes, seconds (0 = off: passive health only). Default 10.
    pub health_check_secs: u64,
    /// The name probed (type NS). Default `.`.
    pub health_check_name: String,
    /// Largest list download, MiB. Default 64.
    pub list_max_mib: u64,
    /// Per-try upstream timeout, milliseconds. Default 1500.
    pub upstream_timeout_ms: u64,
    /// Overall deadline before SERVFAIL, milliseconds. Default 3000.
    pub deadline_ms: u64,
    /// Blocked answer: `nxdomain` (NXDOMAIN with SOA), `null-ip` (0.0.0.0 / ::), `refused`, `nodata`, or `ip` with `blocked_ip4`/`blocked_ip6`. Default nxdomain.
    pub blocked_answer: BlockedMode,
    /// Address for `blocked_answer = "ip"` (block page), IPv4.
    pub blocked_ip4: Option<Ipv4Addr>,
    /// Address for `blocked_answer = "ip"`, IPv6.
    pub blocked_ip6: Option<Ipv6Addr>,
    /// TTL of blocked answers, seconds. Default 60.
    pub blocked_ttl: u32,
    /// Answer cache.
    pub cache: CacheConfig,
    /// External block/allow lists.
    pub lists: Vec<ListConfig>,
    /// Query log.
    pub query_log: QueryLogConfig,
    /// UDP worker threads. Default 1.
    pub udp_workers: usize,
    /// Idle timeout of a TCP connection, seconds (RFC 7766). Default 10.
    pub tcp_idle_secs: u64,
    /// Most concurrent TCP connections. Default 1000.
    pub tcp_max_connections: usize,
    /// Most UDP payload size offered to EDNS clients. Default 1232.
    pub edns_udp_size: u16,
    /// Queries per second per client before REFUSED (0 = unlimited). Default 0.
    pub rate_limit_qps: u32,
    /// Networks that may transfer the RPZ zones (AXFR/IXFR over TCP). Default loopback only.
    pub transfer_allow: Vec<String>,
    /// Secondaries told by NOTIFY when the zones change (`ADDR[:PORT]`). Default none.
    pub transfer_notify: Vec<String>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: vec!["127.0.0.1:5353".into()],
            tls_listen: Vec::new(),
            https_listen: Vec::new(),
            https_path: "/dns-query".into(),
            tls_cert: None,
            tls_key: None,
            tls_server_name: None,
            upstreams: Vec::new(),
            upstream_ca_file: None,
            health_check_secs: 10,
            health_check_name: ".".into(),
            list_max_mib: 64,
            upstream_timeout_ms: 1500,
            deadline_ms: 3000,
            blocked_answer: BlockedMode::Nxdomain,
            blocked_ip4: None,
            blocked_ip6: None,
            blocked_ttl: 60,
            cache: CacheConfig::default(),
            lists: Vec::new(),
            query_log: QueryLogConfig::default(),
            udp_workers: 1,
            tcp_idle_secs: 10,
            tcp_max_connections: 1000,
            edns_udp_size: 1232,
            rate_limit_qps: 0,
            transfer_allow: vec!["127.0.0.0/8".into(), "::1/128".into()],
            transfer_notify: Vec::new(),
        }
    }
}

/// Blocked-answer styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockedMode {
    /// NXDOMAIN with an SOA.
    Nxdomain,
    /// NOERROR, no records, SOA.
    Nodata,
    /// 0.0.0.0 / ::.
    NullIp,
    /// REFUSED.
    Refused,
    /// `blocked_ip4` / `blocked_ip6` (a block page).
    Ip,
}

impl DnsConfig {
    /// The blocked answer these settings describe.
    pub fn blocked(&self) -> Result<BlockedAnswer, String> {
        Ok(match self.blocked_answer {
            BlockedMode::Nxdomain => BlockedAnswer::Nxdomain,
            BlockedMode::Nodata => BlockedAnswer::Nodata,
            BlockedMode::NullIp => BlockedAnswer::NullIp,
            BlockedMode::Refused => BlockedAnswer::Refused,
            BlockedMode::Ip => {
                if self.blocked_ip4.is_none() && self.blocked_ip6.is_none() {
                    return Err("blocked_answer = \"ip\" needs blocked_ip4 and/or blocked_ip6".into());
                }
                BlockedAnswer::Ip(self.blocked_ip4, self.blocked_ip6)
            }
        })
    }
}

/// A path from the config, relative to the policy file's directory.
pub fn resolve(base: Option<&Path>, p: &Path) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

/// An external list: a file (`path`) or a download (`url`, refreshed every `refresh`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// File path (relative to the policy file).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `https://…` (or `http://…`) to download it from; cached under the data directory.
    #[serde(default)]
    pub url: Option<String>,
    /// How often a `url` list is downloaded again: `90s`, `30m`, `24h`, `7d`. Default `24h`.
    #[serde(default)]
    pub refresh: Option<String>,
    /// The same in seconds (instead of `refresh`).
    #[serde(default)]
    pub refresh_secs: Option<u64>,
    /// Syntax. Default auto.
    #[serde(default = "auto")]
    pub format: ListFormat,
    /// Groups it applies to; empty = all.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `block` (default) or `log-only`; `@@` rules in adblock lists always allow.
    #[serde(default = "block")]
    pub action: ListAction,
    /// Name shown in events and metrics. Default: the file name (of the path or the URL).
    #[serde(default)]
    pub name: Option<String>,
}

/// Where a list comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListSource<'a> {
    /// A local file.
    File(&'a Path),
    /// A download.
    Url(&'a str),
}

/// Default refresh of URL lists.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(24 * 3600);

impl ListConfig {
    /// A block list from a file, applying to every group.
    pub fn file(path: PathBuf) -> ListConfig {
        ListConfig {
            path: Some(path),
            url: None,
            refresh: None,
            refresh_secs: None,
            format: ListFormat::Auto,
            groups: Vec::new(),
            action: ListAction::Block,
            name: None,
        }
    }

    /// Its source: exactly one of `path` and `url`.
    pub fn source(&self) -> Result<ListSource<'_>, String> {
        match (&self.path, &self.url) {
            (Some(p), None) => Ok(ListSource::File(p)),
            (None, Some(u)) => Ok(ListSource::Url(u)),
            (Some(_), Some(_)) => Err("a list has either `path` or `url`, not both".into()),
            (None, None) => Err("a list needs `path` or `url`".into()),
        }
    }

    /// The refresh interval of a URL list.
    pub fn refresh_interval(&self) -> Result<Duration, String> {
        match (&self.refresh, self.refresh_secs) {
            (Some(_), Some(_)) => Err("give `refresh` or `refresh_secs`, not both".into()),
            (None, Some(0)) => Err("refresh_secs = 0: give a positive number of seconds".into()),
            (None, Some(n)) => Ok(Duration::from_secs(n)),
            (None, None) => Ok(DEFAULT_REFRESH),
            (Some(s), None) => {
                parse_duration(s).ok_or_else(|| format!("refresh = \"{s}\": expected e.g. 90s, 30m, 24h, 7d"))
            }
        }
    }

    /// The name shown in events: `name`, else the last path segment of the file or URL.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match self.source() {
            Ok(ListSource::File(p)) => p
                .file_name()
                .map_or_else(|| "list".into(), |f| f.to_string_lossy().into_owned()),
            Ok(ListSource::Url(u)) => u
                .split(['?', '#'])
                .next()
                .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
                .filter(|s| !s.is_empty() && !s.contains(':'))
                .unwrap_or(u)
                .to_string(),
            Err(_) => "list".into(),
        }
    }
}

/// Parses `500ms`, `90s`, `30m`, `24h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86400)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

fn auto() -> ListFormat {
    ListFormat::Auto
}

fn block() -> ListAction {
    ListAction::Block
}

/// What a list's rules do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListAction {
    /// Block.
    Block,
    /// Log only.
    LogOnly,
    /// Allow (an allow-list).
    Allow,
}

/// Query log settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryLogConfig {
    /// Record queries. Default true.
    pub enabled: bool,
    /// Days to keep. Default 30.
    pub retention_days: u32,
    /// Events queued before new ones are dropped (and counted). Default 65536.
    pub queue: usize,
}

impl Default for QueryLogConfig {
    fn default() -> Self {
        QueryLogConfig {
            enabled: true,
            retention_days: 30,
            queue: 65536,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_list_sources() {
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("1w"), None);
        let l: DnsConfig = toml::from_str(
            "[[lists]]\nurl = \"https://lists.example/x/hosts.txt?v=1\"\nrefresh = \"12h\"\n[[lists]]\npath = \"a/b.txt\"\n",
        )
        .expect("config");
        assert_eq!(
            l.lists[0].source(),
            Ok(ListSource::Url("https://lists.example/x/hosts.txt?v=1"))
        );
        assert_eq!(l.lists[0].refresh_interval(), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(l.lists[0].display_name(), "hosts.txt");
        assert_eq!(l.lists[1].display_name(), "b.txt");
        assert_eq!(l.lists[1].refresh_interval(), Ok(DEFAULT_REFRESH));
        let secs: DnsConfig = toml::from_str("[[lists]]\nurl = \"https://x/\"\nrefresh_secs = 600\n").expect("config");
        assert_eq!(secs.lists[0].refresh_interval(), Ok(Duration::from_secs(600)));
        let both: DnsConfig = toml::from_str("[[lists]]\npath = \"a\"\nurl = \"https://x/\"\n").expect("config");
        assert!(both.lists[0].source().is_err());
    }
}
