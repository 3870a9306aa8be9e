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
use crate::parse::ip_addr;
use crate::plan_index::{FxHasher, Hit, IndexedApp, IndexedGroup, MatchVia, PlanIndex};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::hash::Hasher;

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

/// What matched, borrowed from the event.
#[derive(Debug, Clone, Copy)]
enum Matched<'e> {
    Name(&'e str),
    Ip(IpAddr),
    DotPort(Option<IpAddr>),
}

/// One flagged event as [`Detector::detect_ref`] finds it: borrows the plan
/// and the event, allocates nothing. [`Detection`] is its owned form.
#[derive(Debug, Clone, Copy)]
pub struct DetectionRef<'p, 'e> {
    /// The client's plan group.
    pub group: &'p IndexedGroup,
    /// The app or bypass method; `None` for a DNS-over-TLS flow ([`DOT_PORT_APP`]).
    pub app: Option<&'p IndexedApp>,
    /// Why the group has the rule.
    pub reason: &'p RuleReason,
    /// The group's action.
    pub action: PlanAction,
    /// What happened.
    pub outcome: Outcome,
    /// Which part of the event matched.
    pub evidence: Evidence,
    /// How it matched the plan.
    pub via: Option<MatchVia>,
    /// The plan entry (domain, exact name, pattern, prefix; `853` for the port rule).
    pub entry: &'p str,
    matched: Matched<'e>,
}

static DOT_REASON: RuleReason = RuleReason::Bypass(catalog::BypassMethod::EncryptedDns);

impl<'p> DetectionRef<'p, '_> {
    /// `app-use` or `bypass`.
    pub fn kind(&self) -> DetectionKind {
        match self.app {
            Some(a) if !a.bypass => DetectionKind::AppUse,
            _ => DetectionKind::Bypass,
        }
    }

    /// App or bypass id (catalog id, or [`DOT_PORT_APP`]).
    pub fn app_id(&self) -> &'p str {
        self.app.map_or(DOT_PORT_APP, |a| a.id.as_str())
    }

    /// The name or address that matched, as [`Detection::matched`] has it.
    pub fn matched(&self) -> String {
        match self.matched {
            Matched::Name(n) => n.trim_end_matches('.').to_ascii_lowercase(),
            Matched::Ip(ip) => ip.to_string(),
            Matched::DotPort(ip) => ip.map_or_else(|| "port 853".to_string(), |ip| format!("{ip}:853")),
        }
    }
}

/// Flags events against an [`PlanIndex`], optionally naming clients with an
/// [`IdentityResolver`].
#[derive(Debug, Clone)]
pub struct Detector<'i> {
    index: PlanIndex,
    identity: Option<&'i IdentityResolver>,
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
        let d = self.detect_ref(ev)?;
        let (device, user) = self.device_user(ev);
        let app = d.app;
        Some(Detection {
            timestamp: ev.timestamp,
            source_ip: ev.source_ip,
            device: device.map(Cow::into_owned),
            user: user.map(Cow::into_owned),
            group: d.group.id.clone(),
            kind: d.kind(),
            app: d.app_id().to_string(),
            app_name: app.map_or_else(|| "DNS over TLS (port 853)".to_string(), |a| a.name.clone()),
            category: app.map_or_else(|| Some("encrypted-dns".to_string()), |a| a.categories.first().cloned()),
            bypass_method: app.map_or_else(|| Some("encrypted-dns".to_string()), |a| a.method.map(str::to_string)),
            reason: d.reason.clone(),
            action: d.action,
            outcome: d.outcome,
            got_through: d.outcome == Outcome::GotThrough,
            evidence: d.evidence,
            matched: d.matched(),
            via: d.via,
            entry: d.entry.to_string(),
            dataset: ev.dataset,
            origin: ev.original.clone(),
        })
    }

    /// The client's device and user: from the event, else from the identity
    /// data at the event's time. Borrows from the event when it can.
    pub fn device_user<'e>(&self, ev: &'e Event<'_>) -> (Option<Cow<'e, str>>, Option<Cow<'e, str>>) {
        let mut device = ev.device_id.as_deref().or(ev.host_name.as_deref()).map(Cow::Borrowed);
        let mut user = ev.user_name.as_deref().filter(|u| *u != "-").map(Cow::Borrowed);
        if let (Some(res), Some(ip)) = (self.identity, ev.source_ip) {
            if let Some(id) = res.resolve(ip, ev.timestamp) {
                if device.is_none() {
                    device = id.device.or(id.hostname).map(Cow::Owned);
                }
                if user.is_none() {
                    user = id.user.map(Cow::Owned);
                }
            }
        }
        (device, user)
    }

    /// Like [`Detector::detect`], without copying anything: the detection
    /// borrows the plan and the event.
    pub fn detect_ref<'p, 'e>(&'p self, ev: &'e Event<'_>) -> Option<DetectionRef<'p, 'e>> {
        self.detect_cached(ev, &mut NameCache::none())
    }

    /// [`Detector::detect_ref`], remembering name lookups in `cache` (one
    /// per thread): logs ask for the same names over and over.
    pub fn detect_cached<'p, 'e>(
        &'p self,
        ev: &'e Event<'_>,
        cache: &mut NameCache<'p>,
    ) -> Option<DetectionRef<'p, 'e>> {
        let group = self.index.group_for(ev.source_ip)?;
        let (found, evidence, matched) = self.find(group, ev, cache)?;
        let outcome = outcome(ev, evidence);
        Some(match found {
            Found::Plan(m) => DetectionRef {
                group,
                app: Some(m.app),
                reason: m.reason,
                action: m.action,
                outcome,
                evidence,
                via: Some(m.via),
                entry: m.entry,
                matched,
            },
            Found::DotPort => DetectionRef {
                group,
                app: None,
                reason: &DOT_REASON,
                action: PlanAction::Block,
                outcome,
                evidence,
                via: None,
                entry: "853",
                matched,
            },
        })
    }

    fn find<'p, 'e>(
        &'p self,
        g: &'p IndexedGroup,
        ev: &'e Event<'_>,
        cache: &mut NameCache<'p>,
    ) -> Option<(Found<'p>, Evidence, Matched<'e>)> {
        let idx = &self.index;
        let mut name_hit = |name: &'e str, evidence| {
            cache
                .lookup(idx, g, name)
                .map(|m| (Found::Plan(m), evidence, Matched::Name(name)))
        };
        let ip_hit = |ip: IpAddr, evidence| idx.ip_hit(g, ip).map(|m| (Found::Plan(m), evidence, Matched::Ip(ip)));
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
        if !answers.is_empty() {
            // names first (an answer that is not an address), then addresses;
            // the first few addresses are kept, not parsed twice
            let mut ips = [None; 8];
            let mut n_ips = 0usize;
            for a in answers {
                if let Some(ip) = ip_addr(&a.data) {
                    if let Some(slot) = ips.get_mut(n_ips) {
                        *slot = Some(ip);
                    }
                    n_ips += 1;
                } else if let Some(hit) = name_hit(&a.data, Evidence::DnsAnswer) {
                    return Some(hit);
                }
            }
            let hit = if n_ips <= ips.len() {
                ips.iter().flatten().find_map(|&ip| ip_hit(ip, Evidence::DnsAnswer))
            } else {
                answers
                    .iter()
                    .filter_map(|a| ip_addr(&a.data))
                    .find_map(|ip| ip_hit(ip, Evidence::DnsAnswer))
            };
            if hit.is_some() {
                return hit;
            }
        }
        if let Some(hit) = ev.destination_ip.and_then(|ip| ip_hit(ip, Evidence::DestinationIp)) {
            return Some(hit);
        }
        if ev.destination_port == Some(853) && ev.dns_type.is_none() && g.bypass.encrypted_dns {
            return Some((Found::DotPort, Evidence::DotPort, Matched::DotPort(ev.destination_ip)));
        }
        None
    }
}

/// Recent name lookups of one thread, for [`Detector::detect_cached`]: a
/// small direct-mapped table of (group, name) → plan match.
#[derive(Debug, Default)]
pub struct NameCache<'p> {
    slots: Vec<CacheSlot<'p>>,
}

#[derive(Debug, Default)]
struct CacheSlot<'p> {
    hash: u64,
    group: usize,
    name: String,
    hit: Option<Hit<'p>>,
}

impl<'p> NameCache<'p> {
    const SLOTS: usize = 1024;

    /// An empty cache.
    pub fn new() -> Self {
        NameCache {
            slots: (0..Self::SLOTS).map(|_| CacheSlot::default()).collect(),
        }
    }

    /// A cache that remembers nothing.
    fn none() -> Self {
        NameCache { slots: Vec::new() }
    }

    fn lookup(&mut self, idx: &'p PlanIndex, g: &'p IndexedGroup, name: &str) -> Option<Hit<'p>> {
        if self.slots.is_empty() {
            return idx.name_hit(g, name);
        }
        let group = g as *const IndexedGroup as usize;
        let mut h = FxHasher::default();
        h.write(name.as_bytes());
        h.write_usize(group);
        let hash = h.finish();
        let slot = &mut self.slots[hash as usize & (Self::SLOTS - 1)];
        if slot.hash == hash && slot.group == group && slot.name == name {
            return slot.hit;
        }
        let hit = idx.name_hit(g, name);
        slot.hash = hash;
        slot.group = group;
        slot.name.clear();
        slot.name.push_str(name);
        slot.hit = hit;
        hit
    }
}

enum Found<'p> {
    Plan(Hit<'p>),
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
