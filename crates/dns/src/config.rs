//! The `[dns]` section of `appwarden.toml`; command-line flags override it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

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
    /// Upstream resolvers: `ADDR[:PORT]`, `tcp://ADDR[:PORT]`. Default: the nameservers of `/etc/resolv.conf`.
    pub upstreams: Vec<String>,
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
            upstreams: Vec::new(),
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

/// An external list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// File path (relative to the policy file).
    pub path: PathBuf,
    /// Syntax. Default auto.
    #[serde(default = "auto")]
    pub format: ListFormat,
    /// Groups it applies to; empty = all.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `block` (default) or `log-only`; `@@` rules in adblock lists always allow.
    #[serde(default = "block")]
    pub action: ListAction,
    /// Name shown in events and metrics. Default: the file name.
    #[serde(default)]
    pub name: Option<String>,
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
