//! The alert engine: a pure, deterministic state machine (time comes in as
//! Unix ms; no clock, no I/O) with Alertmanager's semantics.
//!
//! - [`Engine::ingest`] turns an [`Observation`] (a [`monitor::Detection`],
//!   or a resolver [`QueryEvent`] via [`Observation::from_query_event`]) into
//!   an alert keyed by its fingerprint, and puts new alerts into the
//!   aggregation groups their labels route to.
//! - [`Engine::tick`] resolves alerts that saw nothing for `resolve_timeout`
//!   and returns the [`Notification`]s that are due.
//! - [`Engine::take_commit`] hands what changed to the store; [`Engine::restore`]
//!   rebuilds the engine from it after a restart.
//!
//! ## Labels, severity and fingerprint
//!
//! Labels: `alertname` (`AppUse` / `BypassAttempt`), `kind` (`app-use` /
//! `bypass`), `app`, `category`, `group`, `client` (source address),
//! `device`, `user`, `decision` (`block` / `log_only`), `bypass_method`, and
//! `severity`; absent values are left out.
//!
//! Severity follows the alert's counts:
//! - `critical`: something got through although the group blocks it, or a
//!   bypass got through (whatever the group's decision);
//! - `info`: the group only logs the app (`log_only`) and no bypass got through;
//! - `warning`: everything else (blocked, or the log does not say).
//!
//! Severity can rise while an alert fires (the first detection that got
//! through makes a `warning` `critical`), so it is *not* part of the
//! fingerprint: the fingerprint is hex(SHA-256 over the other labels, sorted
//! by name, each as `name\0value\0`), first 16 bytes (32 hex digits). A rise
//! routes the alert again: it joins the groups of its new routes and stays in
//! the old ones until it resolves, and counts as a change in each group.
//!
//! ## Timers (per aggregation group = route + receiver + `group_by` values)
//!
//! - A new group sends its first notification `group_wait` after its first alert.
//! - After that the group is looked at every `group_interval`: it notifies when
//!   an alert joined, resolved, or changed severity since the last notification.
//!   Count changes alone do not notify (a device that keeps trying would
//!   otherwise notify every interval); the counts go out with the next notification.
//! - An unchanged group with firing alerts is sent again once `repeat_interval`
//!   has passed since its last notification (at the next group-interval look),
//!   unless every firing alert in it is acknowledged. An acknowledgement ends
//!   when the alert changes severity or resolves.
//! - An alert resolves `resolve_timeout` after the last detection was *received*
//!   (not its log time, so replaying old logs does not resolve at once). Its
//!   groups send a `resolved` notification (unless the receiver has
//!   `send_resolved = false`), then the alert leaves them. An alert no
//!   notification ever announced leaves quietly. A detection for a resolved
//!   alert still waiting for its notification re-opens it.
//! - A group with no alerts left ends; the next alert starts it again with `group_wait`.

use std::collections::{BTreeMap, BTreeSet};

use monitor::{Detection, DetectionKind, Outcome};
use policy::Action;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::QueryEvent;
use store::alerts::{AlertRecord, EngineCommit, GroupRecord};

use crate::config::{AlertsConfig, Route};
use crate::model::{Alert, Counts, Labels, Notification, Status};

/// Most bypass indicators an alert keeps.
const MAX_INDICATORS: usize = 16;

/// One flagged event, whatever its source.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// When it happened (Unix ms), if known; else the time it is ingested.
    pub time_ms: Option<u64>,
    /// App use or bypass.
    pub kind: DetectionKind,
    /// App or bypass id.
    pub app: String,
    /// Display name.
    pub app_name: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Plan group of the client.
    pub group: String,
    /// Client address.
    pub client: Option<String>,
    /// Device name.
    pub device: Option<String>,
    /// User.
    pub user: Option<String>,
    /// The group's decision.
    pub decision: Action,
    /// Bypass method.
    pub bypass_method: Option<String>,
    /// Blocked, got through, unknown.
    pub outcome: Outcome,
    /// Reference to the raw event (`FILE:LINE`, `query-log:TIME_MS:CLIENT`).
    pub evidence: String,
    /// A bypass indicator (`encrypted-dns`, `port-853`, …).
    pub indicator: Option<String>,
    /// The name or address that matched.
    pub matched: Option<String>,
}

impl From<&Detection> for Observation {
    fn from(d: &Detection) -> Observation {
        let file = d.origin.file.as_deref().unwrap_or("-");
        let indicator = if d.evidence == monitor::Evidence::DotPort {
            Some("port-853".to_string())
        } else if d.kind == DetectionKind::Bypass {
            d.bypass_method.clone().or_else(|| Some(d.app.clone()))
        } else {
            None
        };
        Observation {
            time_ms: d
                .timestamp
                .map(|t| u64::try_from(t.unix_nanos().div_euclid(1_000_000)).unwrap_or(0)),
            kind: d.kind,
            app: d.app.clone(),
            app_name: Some(d.app_name.clone()),
            category: d.category.clone(),
            group: d.group.clone(),
            client: d.source_ip.map(|ip| ip.to_string()),
            device: d.device.clone(),
            user: d.user.clone(),
            decision: d.action,
            bypass_method: d.bypass_method.clone(),
            outcome: d.outcome,
            evidence: format!("{file}:{}", d.origin.line),
            indicator,
            matched: Some(d.matched.clone()),
        }
    }
}

impl Observation {
    /// The observation for a resolver event that was blocked or would have
    /// been (log-only); `None` for allowed queries and for rules that belong
    /// to no catalog app (custom block lists).
    ///
    /// Blocked → outcome blocked, decision `block`; would-block → the answer
    /// went out (outcome got through), decision `log_only`. A bypass rule
    /// (`reason = bypass`) makes a bypass alert whose method and indicator
    /// are the rule's app id.
    pub fn from_query_event(e: &QueryEvent) -> Option<Observation> {
        let (decision, outcome) = match e.decision {
            store::QueryDecision::Blocked => (Action::Block, Outcome::Blocked),
            store::QueryDecision::WouldBlock => (Action::LogOnly, Outcome::GotThrough),
            store::QueryDecision::Allowed => return None,
        };
        let app = e.app.as_deref()?.to_string();
        let bypass = e.reason == Some(store::MatchReason::Bypass);
        Some(Observation {
            time_ms: Some(e.time_ms),
            kind: if bypass {
                DetectionKind::Bypass
            } else {
                DetectionKind::AppUse
            },
            app_name: None,
            category: e.category.as_deref().map(str::to_string),
            group: e.group.to_string(),
            client: Some(e.client.to_string()),
            device: None,
            user: None,
            decision,
            bypass_method: bypass.then(|| app.clone()),
            outcome,
            evidence: format!("query-log:{}:{}", e.time_ms, e.client),
            indicator: bypass.then(|| app.clone()),
            matched: Some(e.qname.clone()),
            app,
        })
    }

    /// The alert's identity labels (everything but `severity`).
    fn labels(&self) -> Labels {
        let mut l = Labels::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                l.insert(k.to_string(), v.to_string());
            }
        };
        put(
            "alertname",
            Some(match self.kind {
                DetectionKind::AppUse => "AppUse",
                DetectionKind::Bypass => "BypassAttempt",
            }),
        );
        put("kind", Some(self.kind.as_str()));
        put("app", Some(&self.app));
        put("category", self.category.as_deref());
        put("group", Some(&self.group));
        put("client", self.client.as_deref());
        put("device", self.device.as_deref());
        put("user", self.user.as_deref());
        put("decision", Some(decision_str(self.decision)));
        put("bypass_method", self.bypass_method.as_deref());
        l
    }
}

fn decision_str(a: Action) -> &'static str {
    match a {
        Action::Block => "block",
        Action::LogOnly => "log_only",
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// hex(SHA-256 over `labels` without `severity`, each as `name\0value\0` in name order)[..32].
pub fn fingerprint(labels: &Labels) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels.iter().filter(|(k, _)| k.as_str() != "severity") {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..16])
}

/// The severity rule (see the module documentation).
pub fn severity(labels: &Labels, counts: &Counts) -> &'static str {
    let bypass = labels.get("kind").is_some_and(|k| k == "bypass");
    let log_only = labels.get("decision").is_some_and(|d| d == "log_only");
    if counts.got_through > 0 && (bypass || !log_only) {
        "critical"
    } else if log_only {
        "info"
    } else {
        "warning"
    }
}

/// The engine's settings, from [`AlertsConfig`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The routing tree.
    pub route: Route,
    /// Resolve after this long without a detection.
    pub resolve_timeout_ms: u64,
    /// Base URL for links.
    pub external_url: Option<String>,
    /// Raw-event references kept per alert.
    pub evidence_limit: usize,
    /// Receivers that do not want resolved notifications.
    pub no_resolved: BTreeSet<String>,
}

impl From<&AlertsConfig> for EngineConfig {
    fn from(c: &AlertsConfig) -> EngineConfig {
        EngineConfig {
            route: c.route.clone(),
            resolve_timeout_ms: c.resolve_timeout_ms,
            external_url: c.external_url.clone(),
            evidence_limit: c.evidence_limit,
            no_resolved: c
                .receivers
                .iter()
                .filter(|r| !r.send_resolved)
                .map(|r| r.name.clone())
                .collect(),
        }
    }
}

/// What a group last told its receiver about one alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// Status sent.
    pub status: Status,
    /// Severity sent.
    pub severity: String,
}

/// One aggregation group and its timers (persisted as JSON in `alert_groups`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Id: hex of SHA-256 over route path, receiver and key, first 8 bytes.
    pub id: String,
    /// Route path (`0.1.0`).
    pub route: String,
    /// Receiver.
    pub receiver: String,
    /// `{label="value", …}` of the group labels.
    pub key: String,
    /// The `group_by` labels and values.
    pub labels: Labels,
    /// Timers, copied from the route when the group started.
    pub group_wait_ms: u64,
    /// See [`Route::group_interval_ms`].
    pub group_interval_ms: u64,
    /// See [`Route::repeat_interval_ms`].
    pub repeat_interval_ms: u64,
    /// Whether resolved notifications are sent.
    pub send_resolved: bool,
    /// When the group started.
    pub created_ms: u64,
    /// Fingerprints in the group.
    pub alerts: BTreeSet<String>,
    /// When the group is looked at next.
    pub next_flush_ms: u64,
    /// The first look (after `group_wait`) happened.
    pub flushed: bool,
    /// Last notification.
    pub last_sent_ms: Option<u64>,
    /// What the last notifications said, per alert.
    pub notified: BTreeMap<String, Notified>,
    /// Notifications made so far (for ids).
    pub seq: u64,
}

#[derive(Clone, Debug)]
struct Tracked {
    alert: Alert,
    /// Last detection received (Unix ms, engine time): the resolve timer runs from here.
    updated_ms: u64,
    acked: bool,
}

/// The state machine.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    alerts: BTreeMap<String, Tracked>,
    groups: BTreeMap<String, Group>,
    dirty_alerts: BTreeSet<String>,
    gone_alerts: BTreeMap<String, Tracked>,
    dirty_groups: BTreeSet<String>,
    removed_groups: BTreeSet<String>,
    clear_acks: BTreeSet<String>,
}

fn group_key(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

impl Engine {
    /// An empty engine.
    pub fn new(cfg: EngineConfig) -> Engine {
        Engine {
            cfg,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            dirty_alerts: BTreeSet::new(),
            gone_alerts: BTreeMap::new(),
            dirty_groups: BTreeSet::new(),
            removed_groups: BTreeSet::new(),
            clear_acks: BTreeSet::new(),
        }
    }

    /// Rebuilds the engine from the store (active alerts and groups). A group
    /// whose state cannot be read is dropped (and reported in the second value);
    /// its alerts are routed again.
    pub fn restore(cfg: EngineConfig, alerts: Vec<AlertRecord>, groups: Vec<GroupRecord>) -> (Engine, Vec<String>) {
        let mut e = Engine::new(cfg);
        let mut problems = Vec::new();
        for r in alerts {
            let acked = r.ack.is_some();
            let updated_ms = r.updated_ms;
            let alert = record_to_alert(r);
            e.alerts.insert(
                alert.fingerprint.clone(),
                Tracked {
                    alert,
                    updated_ms,
                    acked,
                },
            );
        }
        for g in groups {
            match serde_json::from_str::<Group>(&g.state) {
                Ok(mut grp) => {
                    grp.alerts.retain(|fp| e.alerts.contains_key(fp));
                    grp.notified.retain(|fp, _| e.alerts.contains_key(fp));
                    if grp.alerts.is_empty() {
                        e.removed_groups.insert(g.id);
                    } else {
                        e.groups.insert(grp.id.clone(), grp);
                    }
                }
                Err(err) => {
                    problems.push(format!("alert group {}: unreadable state ({err}); started again", g.id));
                    e.removed_groups.insert(g.id);
                }
            }
        }
        // every active alert belongs to some group: route those that lost theirs
        let in_groups: BTreeSet<String> = e.groups.values().flat_map(|g| g.alerts.iter().cloned()).collect();
        let orphans: Vec<(String, u64)> = e
            .alerts
            .iter()
            .filter(|(fp, _)| !in_groups.contains(*fp))
            .map(|(fp, t)| (fp.clone(), t.updated_ms))
            .collect();
        for (fp, now) in orphans {
            e.route_alert(&fp, now);
        }
        (e, problems)
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Alerts held (firing, and resolved ones not yet notified).
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().map(|t| &t.alert)
    }

    /// One alert by fingerprint.
    pub fn alert(&self, fingerprint: &str) -> Option<&Alert> {
        self.alerts.get(fingerprint).map(|t| &t.alert)
    }

    /// The aggregation groups.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Marks alerts acknowledged: exactly those in `acked` (that the engine
    /// holds) are. An alert whose acknowledgement the engine just ended (not
    /// yet committed) stays unacknowledged.
    pub fn set_acks<'a>(&mut self, acked: impl IntoIterator<Item = &'a str>) {
        let set: BTreeSet<&str> = acked.into_iter().collect();
        for (fp, t) in &mut self.alerts {
            t.acked = set.contains(fp.as_str()) && !self.clear_acks.contains(fp);
        }
    }

    /// Takes in one observation at `now_ms`; returns the alert's fingerprint.
    pub fn ingest(&mut self, obs: &Observation, now_ms: u64) -> String {
        let mut labels = obs.labels();
        let fp = fingerprint(&labels);
        let at = obs.time_ms.unwrap_or(now_ms);
        let limit = self.cfg.evidence_limit;
        let mut reroute = false;
        match self.alerts.get_mut(&fp) {
            Some(t) => {
                let a = &mut t.alert;
                if a.status == Status::Resolved {
                    // not yet announced as resolved: it goes on
                    a.status = Status::Firing;
                    a.ends_at_ms = None;
                }
                add(a, obs, at, limit);
                t.updated_ms = t.updated_ms.max(now_ms);
                let sev = severity(&a.labels, &a.counts);
                if a.labels.get("severity").map(String::as_str) != Some(sev) {
                    a.labels.insert("severity".into(), sev.into());
                    reroute = true;
                    t.acked = false;
                    self.clear_acks.insert(fp.clone());
                }
                annotate(a, obs, self.cfg.external_url.as_deref());
            }
            None => {
                let mut a = Alert {
                    fingerprint: fp.clone(),
                    status: Status::Firing,
                    labels: Labels::new(),
                    annotations: Labels::new(),
                    starts_at_ms: at,
                    ends_at_ms: None,
                    last_seen_ms: at,
                    counts: Counts::default(),
                    bypass_indicators: Vec::new(),
                    evidence: Vec::new(),
                };
                add(&mut a, obs, at, limit);
                let sev = severity(&labels, &a.counts);
                labels.insert("severity".into(), sev.into());
                a.labels = labels;
                annotate(&mut a, obs, self.cfg.external_url.as_deref());
                // a new episode (the fingerprint may have fired before): any old acknowledgement ends
                self.gone_alerts.remove(&fp);
                self.clear_acks.insert(fp.clone());
                self.alerts.insert(
                    fp.clone(),
                    Tracked {
                        alert: a,
                        updated_ms: now_ms,
                        acked: false,
                    },
                );
                reroute = true;
            }
        }
        if reroute {
            self.route_alert(&fp, now_ms);
        }
        self.dirty_alerts.insert(fp.clone());
        fp
    }

    /// Puts the alert into every group its labels route to (it stays in groups it is already in).
    fn route_alert(&mut self, fp: &str, now_ms: u64) {
        let Some(t) = self.alerts.get(fp) else { return };
        let labels = t.alert.labels.clone();
        for (path, route) in self.cfg.route.matching(&labels) {
            let glabels = route.group_by.group_labels(&labels);
            let key = group_key(&glabels);
            let id = {
                let mut h = Sha256::new();
                h.update(path.as_bytes());
                h.update([0]);
                h.update(route.receiver.as_bytes());
                h.update([0]);
                h.update(key.as_bytes());
                hex(&h.finalize()[..8])
            };
            let send_resolved = !self.cfg.no_resolved.contains(&route.receiver);
            let g = self.groups.entry(id.clone()).or_insert_with(|| Group {
                id: id.clone(),
                route: path.clone(),
                receiver: route.receiver.clone(),
                key,
                labels: glabels,
                group_wait_ms: route.group_wait_ms,
                group_interval_ms: route.group_interval_ms,
                repeat_interval_ms: route.repeat_interval_ms,
                send_resolved,
                created_ms: now_ms,
                alerts: BTreeSet::new(),
                next_flush_ms: now_ms.saturating_add(route.group_wait_ms),
                flushed: false,
                last_sent_ms: None,
                notified: BTreeMap::new(),
                seq: 0,
            });
            g.alerts.insert(fp.to_string());
            self.removed_groups.remove(&id);
            self.dirty_groups.insert(id);
        }
    }

    /// The earliest time [`Engine::tick`] has something to do (a group to
    /// look at, an alert to resolve).
    pub fn next_due(&self) -> Option<u64> {
        let groups = self.groups.values().map(|g| g.next_flush_ms);
        let resolves = self
            .alerts
            .values()
            .filter(|t| t.alert.status == Status::Firing)
            .map(|t| t.updated_ms.saturating_add(self.cfg.resolve_timeout_ms));
        groups.chain(resolves).min()
    }

    /// Resolves quiet alerts and returns the notifications due at `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Notification> {
        let timeout = self.cfg.resolve_timeout_ms;
        for (fp, t) in &mut self.alerts {
            if t.alert.status == Status::Firing && t.updated_ms.saturating_add(timeout) <= now_ms {
                t.alert.status = Status::Resolved;
                t.alert.ends_at_ms = Some(t.updated_ms.saturating_add(timeout));
                self.dirty_alerts.insert(fp.clone());
            }
        }
        let due: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.next_flush_ms <= now_ms)
            .map(|g| g.id.clone())
            .collect();
        let mut out = Vec::new();
        for id in due {
            if let Some(n) = self.flush(&id, now_ms) {
                out.push(n);
            }
        }
        // resolved alerts in no group have been announced (or never were): they leave
        let in_groups: BTreeSet<&String> = self.groups.values().flat_map(|g| g.alerts.iter()).collect();
        let leaving: Vec<String> = self
            .alerts
            .iter()
            .filter(|(fp, t)| t.alert.status == Status::Resolved && !in_groups.contains(fp))
            .map(|(fp, _)| fp.clone())
            .collect();
        for fp in leaving {
            if let Some(t) = self.alerts.remove(&fp) {
                self.gone_alerts.insert(fp.clone(), t);
                self.dirty_alerts.insert(fp);
            }
        }
        out
    }

    fn flush(&mut self, id: &str, now_ms: u64) -> Option<Notification> {
        let g = self.groups.get_mut(id)?;
        self.dirty_groups.insert(id.to_string());
        let mut firing = Vec::new();
        let mut resolved = Vec::new();
        let mut quiet = Vec::new();
        for fp in &g.alerts {
            let Some(t) = self.alerts.get(fp) else {
                quiet.push(fp.clone());
                continue;
            };
            match t.alert.status {
                Status::Firing => firing.push(fp.clone()),
                Status::Resolved => {
                    let announced = g.notified.get(fp).is_some_and(|n| n.status == Status::Firing);
                    if announced && g.send_resolved {
                        resolved.push(fp.clone());
                    } else {
                        quiet.push(fp.clone());
                    }
                }
            }
        }
        for fp in &quiet {
            g.alerts.remove(fp);
            g.notified.remove(fp);
        }
        let sev = |fp: &String| {
            self.alerts
                .get(fp)
                .and_then(|t| t.alert.labels.get("severity").cloned())
                .unwrap_or_default()
        };
        let changed = !resolved.is_empty()
            || firing.iter().any(|fp| {
                g.notified
                    .get(fp)
                    .is_none_or(|n| n.status != Status::Firing || n.severity != sev(fp))
            });
        let repeat = g
            .last_sent_ms
            .is_some_and(|t| t.saturating_add(g.repeat_interval_ms) <= now_ms)
            && firing.iter().any(|fp| self.alerts.get(fp).is_some_and(|t| !t.acked));
        g.flushed = true;
        g.next_flush_ms = now_ms.saturating_add(g.group_interval_ms);
        let send = (changed || repeat) && !(firing.is_empty() && resolved.is_empty());
        let mut note = None;
        if send {
            let mut alerts: Vec<Alert> = firing
                .iter()
                .chain(&resolved)
                .filter_map(|fp| self.alerts.get(fp).map(|t| t.alert.clone()))
                .collect();
            alerts.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
            let nid = {
                let mut h = Sha256::new();
                h.update(format!("{}/{}/{}", g.id, g.created_ms, g.seq).as_bytes());
                hex(&h.finalize()[..16])
            };
            g.seq += 1;
            g.last_sent_ms = Some(now_ms);
            for fp in &firing {
                g.notified.insert(
                    fp.clone(),
                    Notified {
                        status: Status::Firing,
                        severity: sev(fp),
                    },
                );
            }
            for fp in &resolved {
                g.alerts.remove(fp);
                g.notified.remove(fp);
            }
            note = Some(Notification {
                id: nid,
                receiver: g.receiver.clone(),
                group_key: g.key.clone(),
                group_labels: g.labels.clone(),
                status: if firing.is_empty() {
                    Status::Resolved
                } else {
                    Status::Firing
                },
                alerts,
                created_ms: now_ms,
                external_url: self.cfg.external_url.clone(),
            });
        }
        if g.alerts.is_empty() {
            self.groups.remove(id);
            self.dirty_groups.remove(id);
            self.removed_groups.insert(id.to_string());
        }
        note
    }

    /// Whether there are changes not yet handed to the store.
    pub fn has_changes(&self) -> bool {
        !(self.dirty_alerts.is_empty()
            && self.dirty_groups.is_empty()
            && self.removed_groups.is_empty()
            && self.clear_acks.is_empty())
    }

    /// Everything that changed since the last call, for [`store::alerts::AlertStore::commit`]
    /// (without outbox rows: the caller adds one per notification and sink).
    pub fn take_commit(&mut self, now_ms: u64) -> EngineCommit {
        let mut c = EngineCommit::default();
        for fp in std::mem::take(&mut self.dirty_alerts) {
            if let Some(t) = self.alerts.get(&fp) {
                c.alerts.push(alert_to_record(&t.alert, true, t.updated_ms));
            } else if let Some(t) = self.gone_alerts.remove(&fp) {
                c.alerts.push(alert_to_record(&t.alert, false, t.updated_ms));
            }
        }
        self.gone_alerts.clear();
        for id in std::mem::take(&mut self.dirty_groups) {
            if let Some(g) = self.groups.get(&id) {
                c.groups.push(GroupRecord {
                    id: g.id.clone(),
                    receiver: g.receiver.clone(),
                    group_key: g.key.clone(),
                    state: serde_json::to_string(g).unwrap_or_default(),
                    updated_ms: now_ms,
                });
            }
        }
        c.removed_groups = std::mem::take(&mut self.removed_groups).into_iter().collect();
        c.clear_acks = std::mem::take(&mut self.clear_acks).into_iter().collect();
        c
    }
}

fn add(a: &mut Alert, obs: &Observation, at: u64, limit: usize) {
    a.counts.total += 1;
    match obs.outcome {
        Outcome::Blocked => a.counts.blocked += 1,
        Outcome::GotThrough => a.counts.got_through += 1,
        Outcome::Unknown => a.counts.unknown += 1,
    }
    a.starts_at_ms = a.starts_at_ms.min(at);
    a.last_seen_ms = a.last_seen_ms.max(at);
    if limit > 0 && a.evidence.last() != Some(&obs.evidence) {
        a.evidence.push(obs.evidence.clone());
        if a.evidence.len() > limit {
            let extra = a.evidence.len() - limit;
            a.evidence.drain(..extra);
        }
    }
    if let Some(i) = &obs.indicator
        && !a.bypass_indicators.contains(i)
        && a.bypass_indicators.len() < MAX_INDICATORS
    {
        a.bypass_indicators.push(i.clone());
    }
}

fn annotate(a: &mut Alert, obs: &Observation, external_url: Option<&str>) {
    let l = &a.labels;
    let name = obs.app_name.clone().unwrap_or_else(|| obs.app.clone());
    let who = l
        .get("device")
        .or(l.get("user"))
        .or(l.get("client"))
        .cloned()
        .unwrap_or_else(|| "an unknown client".into());
    let summary = match obs.kind {
        DetectionKind::AppUse => format!("{who} used {name}"),
        DetectionKind::Bypass => format!("{who} tried to bypass filtering ({name})"),
    };
    let c = &a.counts;
    let description = format!(
        "{} detection(s): {} blocked, {} got through, {} unknown; group {} ({})",
        c.total,
        c.blocked,
        c.got_through,
        c.unknown,
        l.get("group").map_or("-", String::as_str),
        l.get("decision").map_or("-", String::as_str),
    );
    let ann = &mut a.annotations;
    ann.insert("summary".into(), summary);
    ann.insert("description".into(), description);
    ann.insert("app_name".into(), name);
    if let Some(m) = &obs.matched {
        ann.insert("matched".into(), m.clone());
    }
    if let Some(base) = external_url {
        ann.insert("alert_url".into(), format!("{base}/alerts/{}", a.fingerprint));
    }
}

/// The store's record of an alert.
pub fn alert_to_record(a: &Alert, active: bool, updated_ms: u64) -> AlertRecord {
    AlertRecord {
        fingerprint: a.fingerprint.clone(),
        status: a.status.as_str().to_string(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_ms: a.starts_at_ms,
        ends_ms: a.ends_at_ms,
        last_seen_ms: a.last_seen_ms,
        total: a.counts.total,
        blocked: a.counts.blocked,
        got_through: a.counts.got_through,
        unknown: a.counts.unknown,
        evidence: a.evidence.clone(),
        bypass_indicators: a.bypass_indicators.clone(),
        active,
        ack: None,
        updated_ms,
    }
}

/// An alert from the store's record.
pub fn record_to_alert(r: AlertRecord) -> Alert {
    Alert {
        fingerprint: r.fingerprint,
        status: if r.status == "resolved" {
            Status::Resolved
        } else {
            Status::Firing
        },
        labels: r.labels,
        annotations: r.annotations,
        starts_at_ms: r.starts_ms,
        ends_at_ms: r.ends_ms,
        last_seen_ms: r.last_seen_ms,
        counts: Counts {
            total: r.total,
            blocked: r.blocked,
            got_through: r.got_through,
            unknown: r.unknown,
        },
        bypass_indicators: r.bypass_indicators,
        evidence: r.evidence,
    }
}

#[cfg(test)]
mod tests;
