//! Detection: which events show use of an app the plan has a rule for, or a
//! bypass attempt, by whom, and whether it was blocked or got through.
//!
//! One [`Detection`] per flagged event. What is looked at, in order (the
//! first match decides):
//!
//! 1. the DNS question name,
//! 2. the TLS SNI,
//! 3. the proxy / HTTP host (`url.domain`; an IP literal is matched as an address),
//! 4. the DNS answers (CNAME targets and other names, then addresses),
//! 5. the destination address (the plan's `ip_prefixes`: a flow, a tunnel, a
//!    query sent straight to a public resolver),
//! 6. a flow to port 853 (DNS over TLS) when the group's `encrypted_dns`
//!    bypass switch is on.

use std::net::IpAddr;

use policy::{Action as PlanAction, RuleReason};
use serde::Serialize;

use crate::event::{Action, DnsType, Event, Origin};
use crate::identity::IdentityResolver;
use crate::plan_index::{IndexedGroup, MatchVia, PlanIndex, PlanMatch};
use crate::time::Timestamp;

/// App id used for flows to port 853 that no plan entry names.
pub const DOT_PORT_APP: &str = "dns-over-tls-port-853";

/// App use or a bypass attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectionKind {
    /// An app of the plan (`kind = "app"`).
    AppUse,
    /// A bypass method (`kind = "bypass"`), or a DNS-over-TLS flow (port 853).
    Bypass,
}

impl DetectionKind {
    /// `app-use` / `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionKind::AppUse => "app-use",
            DetectionKind::Bypass => "bypass",
        }
    }
}

/// Which part of the event matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// `dns.question.name`.
    DnsQuestion,
    /// A name or address in `dns.answers`.
    DnsAnswer,
    /// `tls.client.server_name`.
    TlsSni,
    /// `url.domain` (proxy CONNECT host, HTTP host).
    Url,
    /// `destination.ip`.
    DestinationIp,
    /// `destination.port` 853.
    DotPort,
}

impl Evidence {
    /// Whether the evidence is DNS (a name lookup) rather than traffic.
    pub fn is_dns(self) -> bool {
        matches!(self, Evidence::DnsQuestion | Evidence::DnsAnswer)
    }
}

/// What happened to the flagged event, as far as the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The sensor blocked it (sinkhole, RPZ, local zone, proxy deny).
    Blocked,
    /// It got through: traffic to the app (SNI, proxy tunnel or URL, flow)
    /// that was not blocked, or a DNS answer that was not blocked.
    GotThrough,
    /// The log does not tell (a query line; a refused or failed lookup; a
    /// proxy request that did not complete).
    Unknown,
}

/// One flagged event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// When the sensor saw it.
    #[serde(rename = "@timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    /// Device, from the event or the identity data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// User, from the event or the identity data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The client's plan group.
    pub group: String,
    /// `app-use` or `bypass`.
    pub kind: DetectionKind,
    /// App or bypass id (catalog id, or [`DOT_PORT_APP`]).
    pub app: String,
    /// Display name.
    pub app_name: String,
    /// Primary category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Bypass method (`canary`, `encrypted-dns`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_method: Option<String>,
    /// Why the group has the rule (`{kind: decision|category|override|bypass, detail}`).
    pub reason: RuleReason,
    /// The group's action: `block` or `log_only`.
    pub action: PlanAction,
    /// What happened.
    pub outcome: Outcome,
    /// `outcome == got-through`.
    pub got_through: bool,
    /// Which part of the event matched.
    pub evidence: Evidence,
    /// The name or address that matched.
    pub matched: String,
    /// How it matched the plan.
    pub via: Option<MatchVia>,
    /// The plan entry (domain, exact name, pattern, prefix; `853` for the port rule).
    pub entry: String,
    /// The event's dataset (`bind.query`, `zeek.ssl`, …).
    pub dataset: &'static str,
    /// The raw record: file, line, byte offset.
    pub origin: Origin,
}

/// Flags events against an [`PlanIndex`], optionally naming clients with an
/// [`IdentityResolver`].
#[derive(Debug, Clone)]
pub struct Detector<'i> {
    index: PlanIndex,
    identity: Option<&'i IdentityResolver>,
}

fn not_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_err()
}

impl<'i> Detector<'i> {
    /// A detector for `plan`.
    pub fn new(plan: &policy::EnforcementPlan) -> Detector<'static> {
        Detector {
            index: PlanIndex::new(plan),
            identity: None,
        }
    }

    /// Names clients with `identity` (device and user at the event's time).
    pub fn with_identity<'j>(self, identity: &'j IdentityResolver) -> Detector<'j> {
        Detector {
            index: self.index,
            identity: Some(identity),
        }
    }

    /// The lookup tables.
    pub fn index(&self) -> &PlanIndex {
        &self.index
    }

    /// The detection for `ev`, or `None` when it shows nothing the client's
    /// group has a rule for.
    pub fn detect(&self, ev: &Event<'_>) -> Option<Detection> {
        let group = self.index.group_for(ev.source_ip)?;
        let (m, evidence, matched) = self.find(group, ev)?;
        let outcome = outcome(ev, evidence);
        let (kind, app, app_name, category, method, reason, action, via, entry) = match m {
            Found::Plan(m) => (
                if m.app.bypass {
                    DetectionKind::Bypass
                } else {
                    DetectionKind::AppUse
                },
                m.app.id.clone(),
                m.app.name.clone(),
                m.app.categories.first().cloned(),
                m.app.method.map(str::to_string),
                m.reason.clone(),
                m.action,
                Some(m.via),
                m.entry,
            ),
            Found::DotPort => (
                DetectionKind::Bypass,
                DOT_PORT_APP.to_string(),
                "DNS over TLS (port 853)".to_string(),
                Some("encrypted-dns".to_string()),
                Some("encrypted-dns".to_string()),
                RuleReason::Bypass(catalog::BypassMethod::EncryptedDns),
                PlanAction::Block,
                None,
                "853".to_string(),
            ),
        };
        let mut device = ev.device_id.as_deref().or(ev.host_name.as_deref()).map(str::to_string);
        let mut user = ev.user_name.as_deref().filter(|u| *u != "-").map(str::to_string);
        if let (Some(res), Some(ip)) = (self.identity, ev.source_ip) {
            if let Some(id) = res.resolve(ip, ev.timestamp) {
                if device.is_none() {
                    device = id.device.or(id.hostname);
                }
                if user.is_none() {
                    user = id.user;
                }
            }
        }
        Some(Detection {
            timestamp: ev.timestamp,
            source_ip: ev.source_ip,
            device,
            user,
            group: group.id.clone(),
            kind,
            app,
            app_name,
            category,
            bypass_method: method,
            reason,
            action,
            outcome,
            got_through: outcome == Outcome::GotThrough,
            evidence,
            matched,
            via,
            entry,
            dataset: ev.dataset,
            origin: ev.original.clone(),
        })
    }

    fn find<'p>(&'p self, g: &'p IndexedGroup, ev: &Event<'_>) -> Option<(Found<'p>, Evidence, String)> {
        let idx = &self.index;
        let name_hit = |name: &str, evidence| {
            idx.match_name(g, name).map(|m| {
                (
                    Found::Plan(m),
                    evidence,
                    name.trim_end_matches('.').to_ascii_lowercase(),
                )
            })
        };
        let ip_hit = |ip: IpAddr, evidence| idx.match_ip(g, ip).map(|m| (Found::Plan(m), evidence, ip.to_string()));
        if let Some(hit) = ev
            .dns_question_name
            .as_deref()
            .and_then(|n| name_hit(n, Evidence::DnsQuestion))
        {
            return Some(hit);
        }
        if let Some(hit) = ev
            .tls_server_name
            .as_deref()
            .and_then(|n| name_hit(n, Evidence::TlsSni))
        {
            return Some(hit);
        }
        if let Some(host) = ev.url_domain.as_deref() {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let hit = match host.parse::<IpAddr>() {
                Ok(ip) => ip_hit(ip, Evidence::Url),
                Err(_) => name_hit(host, Evidence::Url),
            };
            if hit.is_some() {
                return hit;
            }
        }
        let answers = &ev.dns_answers;
        if let Some(hit) = answers
            .iter()
            .filter(|a| not_ip(&a.data))
            .find_map(|a| name_hit(&a.data, Evidence::DnsAnswer))
        {
            return Some(hit);
        }
        if let Some(hit) = answers
            .iter()
            .filter_map(|a| a.data.parse::<IpAddr>().ok())
            .find_map(|ip| ip_hit(ip, Evidence::DnsAnswer))
        {
            return Some(hit);
        }
        if let Some(hit) = ev.destination_ip.and_then(|ip| ip_hit(ip, Evidence::DestinationIp)) {
            return Some(hit);
        }
        if ev.destination_port == Some(853) && ev.dns_type.is_none() && g.bypass.encrypted_dns {
            let what = ev
                .destination_ip
                .map_or_else(|| "port 853".to_string(), |ip| format!("{ip}:853"));
            return Some((Found::DotPort, Evidence::DotPort, what));
        }
        None
    }
}

enum Found<'p> {
    Plan(PlanMatch<'p>),
    DotPort,
}

/// Blocked / got through / unknown, from the event's action and the kind of evidence.
fn outcome(ev: &Event<'_>, evidence: Evidence) -> Outcome {
    if ev.action == Action::Blocked {
        return Outcome::Blocked;
    }
    if !evidence.is_dns() && ev.dns_type.is_none() {
        // traffic: a handshake, a tunnel, a flow. A proxy request the log
        // does not call allowed (status 000, nothing sent) did not get through.
        if ev.observer_type == "proxy" && ev.action != Action::Allowed {
            return Outcome::Unknown;
        }
        return Outcome::GotThrough;
    }
    if ev.dns_type == Some(DnsType::Answer) {
        let answered = match ev.dns_response_code.as_deref() {
            None => ev.action == Action::Allowed || !ev.dns_answers.is_empty(),
            Some(r) => r.eq_ignore_ascii_case("NOERROR"),
        };
        if answered {
            return Outcome::GotThrough;
        }
    }
    Outcome::Unknown
}
