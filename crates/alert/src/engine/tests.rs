//! Engine timing rules with a fake clock (plain numbers).

use super::*;
use crate::config::AlertsConfig;

const S: u64 = 1000;
const M: u64 = 60 * S;

fn engine(toml: &str) -> Engine {
    let cfg = AlertsConfig::from_toml_str(toml)
        .expect("valid config")
        .expect("has [alerts]");
    Engine::new(EngineConfig::from(&cfg))
}

/// group_wait 30s, group_interval 5m, repeat 4h, resolve 5m; one receiver.
const SIMPLE: &str = r#"
[alerts]
[alerts.route]
receiver = "ops"
group_by = ["group", "app"]
[[alerts.receiver]]
name = "ops"
"#;

fn obs(client: &str, app: &str, outcome: Outcome) -> Observation {
    Observation {
        time_ms: None,
        kind: DetectionKind::AppUse,
        app: app.into(),
        app_name: Some(app.to_uppercase()),
        category: Some("social-video".into()),
        group: "staff".into(),
        client: Some(client.into()),
        device: None,
        user: None,
        decision: Action::Block,
        bypass_method: None,
        outcome,
        evidence: format!("dns.log:{client}"),
        indicator: None,
        matched: Some(format!("www.{app}.com")),
    }
}

/// (client, status) of a notification's alerts, by client.
fn fps(n: &Notification) -> Vec<(&str, Status)> {
    let mut v: Vec<(&str, Status)> = n
        .alerts
        .iter()
        .map(|a| (a.labels["client"].as_str(), a.status))
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

#[test]
fn group_wait_batches_alerts_of_a_group() {
    let mut e = engine(SIMPLE);
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    e.ingest(&obs("192.0.2.2", "tiktok", Outcome::Blocked), 10 * S);
    e.ingest(&obs("192.0.2.3", "signal", Outcome::Blocked), 20 * S);
    assert!(e.tick(29 * S).is_empty(), "nothing before group_wait");
    let ns = e.tick(30 * S);
    assert_eq!(ns.len(), 1, "only the tiktok group is due");
    assert_eq!(ns[0].receiver, "ops");
    assert_eq!(ns[0].status, Status::Firing);
    assert_eq!(ns[0].group_labels["app"], "tiktok");
    assert_eq!(ns[0].group_key, r#"{app="tiktok", group="staff"}"#);
    assert_eq!(
        fps(&ns[0]),
        [("192.0.2.1", Status::Firing), ("192.0.2.2", Status::Firing)]
    );
    let ns = e.tick(50 * S);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].group_labels["app"], "signal");
    assert_eq!(e.next_due(), Some(5 * M), "the first alert resolves at 5m");
}

#[test]
fn group_interval_sends_changes_only() {
    let mut e = engine(SIMPLE);
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    let first = e.tick(30 * S);
    assert_eq!(first.len(), 1);
    // more of the same (counts change): no notification at the next interval
    for i in 1..5 {
        e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), i * M);
    }
    assert!(e.tick(30 * S + 5 * M).is_empty(), "count changes alone do not notify");
    // a new alert joins: not before the next group_interval look
    e.ingest(&obs("192.0.2.2", "tiktok", Outcome::Blocked), 6 * M);
    assert!(e.tick(7 * M).is_empty());
    let ns = e.tick(30 * S + 10 * M);
    assert_eq!(ns.len(), 1);
    assert_eq!(fps(&ns[0]).len(), 2, "the notification carries the whole group");
    let a1 = ns[0]
        .alerts
        .iter()
        .find(|a| a.labels["client"] == "192.0.2.1")
        .expect("a1");
    assert_eq!(a1.counts.total, 5, "with the current counts");
    assert_ne!(ns[0].id, first[0].id, "a new id per notification");
}

#[test]
fn repeat_interval_resends_unless_acknowledged() {
    let mut e = engine(SIMPLE);
    let fp = e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    assert_eq!(e.tick(30 * S).len(), 1);
    // keep it firing; nothing changes
    let mut t = 30 * S;
    let mut sent = Vec::new();
    while t < 30 * S + 9 * 60 * M {
        t += 5 * M;
        e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), t);
        for n in e.tick(t) {
            sent.push(n.created_ms);
        }
    }
    // 4h after the first (at 30s), checked on the 5-minute looks: 4h 30s, then 8h 30s
    assert_eq!(sent, [30 * S + 240 * M, 30 * S + 480 * M]);
    // acknowledged (the pipeline commits before it reads acknowledgements): no repeat
    let _ = e.take_commit(t);
    e.set_acks([fp.as_str()]);
    let mut quiet = true;
    for _ in 0..60 {
        t += 5 * M;
        e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), t);
        quiet &= e.tick(t).is_empty();
    }
    assert!(quiet, "an acknowledged alert is not repeated");
    // it changes (got through → critical): notified, and the acknowledgement ends
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::GotThrough), t + S);
    e.set_acks([fp.as_str()]); // a read of the store before the end of the ack is committed
    assert!(!e.alerts.get(&fp).is_some_and(|t| t.acked));
    let ns = e.tick(t + 5 * M);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].alerts[0].labels["severity"], "critical");
    assert_eq!(
        ns[0].alerts[0].fingerprint, fp,
        "severity is not part of the fingerprint"
    );
    let c = e.take_commit(t + 5 * M);
    assert!(c.clear_acks.contains(&fp), "the store's acknowledgement ends");
}

#[test]
fn resolve_after_timeout_then_leave() {
    let mut e = engine(SIMPLE);
    let fp = e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    e.ingest(&obs("192.0.2.2", "tiktok", Outcome::Blocked), 0);
    assert_eq!(e.tick(30 * S).len(), 1);
    // .2 keeps going, .1 goes quiet at 0 → resolves at 5m, announced at the look at 5m30s
    e.ingest(&obs("192.0.2.2", "tiktok", Outcome::Blocked), 4 * M);
    assert!(e.tick(5 * M - 1).is_empty());
    assert_eq!(
        e.tick(5 * M).len(),
        0,
        "resolved, but the group is looked at every 5 min"
    );
    assert_eq!(e.alert(&fp).map(|a| a.status), Some(Status::Resolved));
    assert_eq!(e.alert(&fp).and_then(|a| a.ends_at_ms), Some(5 * M));
    let ns = e.tick(30 * S + 5 * M);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].status, Status::Firing, "still firing: .2 is");
    assert_eq!(
        fps(&ns[0]),
        [("192.0.2.1", Status::Resolved), ("192.0.2.2", Status::Firing)]
    );
    assert!(e.alert(&fp).is_none(), "a resolved alert leaves once notified");
    let c = e.take_commit(6 * M);
    let rec = c.alerts.iter().find(|r| r.fingerprint == fp).expect("written");
    assert!(!rec.active && rec.status == "resolved");
    // .2 seen at 8m resolves at 13m: nothing at 10m30s, resolved notification at 15m30s, and the group ends
    e.ingest(&obs("192.0.2.2", "tiktok", Outcome::Blocked), 8 * M);
    assert!(e.tick(30 * S + 10 * M).is_empty());
    let ns = e.tick(30 * S + 15 * M);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].status, Status::Resolved);
    assert_eq!(fps(&ns[0]), [("192.0.2.2", Status::Resolved)]);
    assert_eq!(e.groups().count(), 0);
    assert!(e.take_commit(16 * M).removed_groups.len() == 1);
    // the next detection starts a new group, with group_wait again
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 20 * M);
    assert!(e.tick(20 * M + 29 * S).is_empty());
    assert_eq!(e.tick(20 * M + 30 * S).len(), 1);
}

#[test]
fn never_announced_alerts_resolve_quietly_and_send_resolved_false() {
    let mut e = engine(
        r#"
[alerts]
resolve_timeout = "10s"
[alerts.route]
receiver = "ops"
group_wait = "1m"
[[alerts.route.routes]]
matchers = ['app="signal"']
receiver = "quiet"
group_wait = "1s"
[[alerts.receiver]]
name = "ops"
[[alerts.receiver]]
name = "quiet"
send_resolved = false
"#,
    );
    // resolves (10 s) before its group's first look (1 min): nothing is ever sent
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    assert!(e.tick(M).is_empty());
    assert_eq!(e.alerts().count(), 0);
    assert_eq!(e.groups().count(), 0);
    // a receiver without resolved notifications gets the firing one only
    e.ingest(&obs("192.0.2.1", "signal", Outcome::Blocked), 2 * M);
    let ns = e.tick(2 * M + S);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].receiver, "quiet");
    let mut later = Vec::new();
    for i in 2..30 {
        later.extend(e.tick(2 * M + i * 30 * S));
    }
    assert!(later.is_empty(), "{later:?}");
    assert_eq!(e.alerts().count(), 0);
}

#[test]
fn a_detection_reopens_an_alert_not_yet_announced_as_resolved() {
    let mut e = engine(SIMPLE);
    let fp = e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    assert_eq!(e.tick(30 * S).len(), 1);
    let _ = e.tick(5 * M); // resolved, announcement due at 5m30s
    assert_eq!(e.alert(&fp).map(|a| a.status), Some(Status::Resolved));
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 5 * M + 10 * S);
    assert!(e.tick(5 * M + 30 * S).is_empty(), "no flapping notification");
    let a = e.alert(&fp).expect("held");
    assert_eq!((a.status, a.ends_at_ms, a.counts.total), (Status::Firing, None, 2));
}

const ROUTES: &str = r#"
[alerts]
[alerts.route]
receiver = "default"
group_by = ["app"]
group_wait = "30s"
[[alerts.route.routes]]
matchers = ['severity="critical"']
receiver = "secops"
group_wait = "0s"
continue = true
[[alerts.route.routes.routes]]
matchers = ['kind="bypass"']
group_by = ["..."]
[[alerts.route.routes]]
matchers = ['app=~"tiktok|douyin"', 'group!="guest"']
receiver = "hr"
[[alerts.receiver]]
name = "default"
[[alerts.receiver]]
name = "secops"
[[alerts.receiver]]
name = "hr"
"#;

#[test]
fn matchers_continue_and_nested_inheritance() {
    let mut e = engine(ROUTES);
    // blocked tiktok (warning): hr only
    e.ingest(&obs("192.0.2.1", "tiktok", Outcome::Blocked), 0);
    // got-through tiktok (critical): secops (continue) and hr
    e.ingest(&obs("192.0.2.2", "tiktok", Outcome::GotThrough), 0);
    // another app, blocked: default
    e.ingest(&obs("192.0.2.3", "telegram", Outcome::Blocked), 0);
    // a bypass that got through: nested secops route (group_by ..., group_wait inherited 0s), then hr? no: app
    let mut b = obs("192.0.2.4", "canary", Outcome::GotThrough);
    b.kind = DetectionKind::Bypass;
    b.bypass_method = Some("canary".into());
    b.indicator = Some("canary".into());
    e.ingest(&b, 0);
    let ns = e.tick(0);
    let mut got: Vec<(String, Vec<&str>)> = ns
        .iter()
        .map(|n| (n.receiver.clone(), fps(n).into_iter().map(|(c, _)| c).collect()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("secops".to_string(), vec!["192.0.2.2"]),
            ("secops".to_string(), vec!["192.0.2.4"]),
        ],
        "group_wait 0 for secops and its nested route"
    );
    let ns = e.tick(30 * S);
    let mut got: Vec<(String, Vec<&str>)> = ns
        .iter()
        .map(|n| (n.receiver.clone(), fps(n).into_iter().map(|(c, _)| c).collect()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("default".to_string(), vec!["192.0.2.3"]),
            ("hr".to_string(), vec!["192.0.2.1", "192.0.2.2"]),
        ]
    );
    // the bypass alert's group is keyed by every label
    let g = e.groups().find(|g| g.route == "0.0.0").expect("nested group");
    assert_eq!(g.labels.get("bypass_method").map(String::as_str), Some("canary"));
}

#[test]
fn severity_rise_routes_the_alert_again() {
    let mut e = engine(ROUTES);
    let fp = e.ingest(&obs("192.0.2.9", "telegram", Outcome::Blocked), 0);
    assert_eq!(
        e.tick(30 * S).iter().map(|n| n.receiver.as_str()).collect::<Vec<_>>(),
        ["default"]
    );
    e.ingest(&obs("192.0.2.9", "telegram", Outcome::GotThrough), M);
    let ns = e.tick(M);
    assert_eq!(ns.len(), 1, "secops has group_wait 0");
    assert_eq!(ns[0].receiver, "secops");
    assert_eq!(ns[0].alerts[0].fingerprint, fp);
    assert_eq!(ns[0].alerts[0].counts.got_through, 1);
    // the default group sees the change at its next look
    let ns = e.tick(30 * S + 5 * M);
    assert_eq!(ns.iter().map(|n| n.receiver.as_str()).collect::<Vec<_>>(), ["default"]);
    assert_eq!(ns[0].alerts[0].labels["severity"], "critical");
}

#[test]
fn fingerprint_is_stable_and_dedups() {
    let mut e = engine(SIMPLE);
    let a = e.ingest(&obs("192.0.2.7", "tiktok", Outcome::Blocked), 0);
    let b = e.ingest(&obs("192.0.2.7", "tiktok", Outcome::Unknown), S);
    let c = e.ingest(&obs("192.0.2.8", "tiktok", Outcome::Blocked), S);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // golden value: changing it breaks every stored alert's identity
    let labels: Labels = [
        ("alertname", "AppUse"),
        ("kind", "app-use"),
        ("app", "tiktok"),
        ("group", "staff"),
        ("client", "192.0.2.7"),
        ("decision", "block"),
        ("severity", "warning"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut without_category = e.alert(&a).expect("held").labels.clone();
    without_category.remove("category");
    assert_eq!(without_category, labels);
    assert_eq!(fingerprint(&labels), "16b464dc8a506750a8da86d35c3a7bf9");
    let al = e.alert(&a).expect("held");
    assert_eq!((al.counts.total, al.counts.blocked, al.counts.unknown), (2, 1, 1));
    assert_eq!(
        al.evidence,
        ["dns.log:192.0.2.7"],
        "the same reference is kept once in a row"
    );
}

#[test]
fn evidence_is_bounded_and_times_follow_the_log() {
    let mut e = engine("[alerts]\nevidence_limit = 3\n[[alerts.receiver]]\nname = \"ops\"\n");
    let mut fp = String::new();
    for i in 0..10u64 {
        let mut o = obs("192.0.2.1", "tiktok", Outcome::Blocked);
        o.evidence = format!("dns.log:{i}");
        o.time_ms = Some(1_000_000 - i * 1000);
        fp = e.ingest(&o, 5_000_000 + i);
    }
    let a = e.alert(&fp).expect("held");
    assert_eq!(a.evidence, ["dns.log:7", "dns.log:8", "dns.log:9"]);
    assert_eq!((a.starts_at_ms, a.last_seen_ms), (991_000, 1_000_000));
    // resolving runs from when detections arrived, not from log time
    assert!(e.tick(5_000_009 + 5 * M - 1).iter().all(|n| n.status == Status::Firing));
    assert_eq!(e.alert(&fp).map(|a| a.status), Some(Status::Firing));
}

#[test]
fn severity_rule() {
    let l = |kind: &str, decision: &str| -> Labels {
        [("kind", kind), ("decision", decision)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let c = |b, g, u| Counts {
        total: b + g + u,
        blocked: b,
        got_through: g,
        unknown: u,
    };
    assert_eq!(severity(&l("app-use", "block"), &c(1, 0, 0)), "warning");
    assert_eq!(severity(&l("app-use", "block"), &c(0, 0, 1)), "warning");
    assert_eq!(severity(&l("app-use", "block"), &c(5, 1, 0)), "critical");
    assert_eq!(severity(&l("app-use", "log_only"), &c(0, 3, 0)), "info");
    assert_eq!(severity(&l("bypass", "log_only"), &c(0, 1, 0)), "critical");
    assert_eq!(severity(&l("bypass", "block"), &c(2, 0, 0)), "warning");
}

#[test]
fn query_events_convert() {
    let mut ev = QueryEvent {
        time_ms: 1_700_000_000_000,
        client: "192.0.2.5".parse().expect("ip"),
        group: "staff".into(),
        qname: "www.tiktok.com".into(),
        qtype: 1,
        decision: store::QueryDecision::Blocked,
        reason: Some(store::MatchReason::Name),
        rule: Some("tiktok.com".into()),
        app: Some("tiktok".into()),
        category: Some("social-video".into()),
        rcode: 3,
        upstream: None,
        latency_us: 5,
        cache_hit: false,
        transport: store::Transport::Udp,
    };
    let o = Observation::from_query_event(&ev).expect("blocked");
    assert_eq!(
        (o.outcome, o.decision, o.kind),
        (Outcome::Blocked, Action::Block, DetectionKind::AppUse)
    );
    assert_eq!(o.evidence, "query-log:1700000000000:192.0.2.5");
    ev.decision = store::QueryDecision::WouldBlock;
    ev.reason = Some(store::MatchReason::Bypass);
    ev.app = Some("icloud-private-relay".into());
    let o = Observation::from_query_event(&ev).expect("would block");
    assert_eq!(
        (o.outcome, o.decision, o.kind),
        (Outcome::GotThrough, Action::LogOnly, DetectionKind::Bypass)
    );
    assert_eq!(o.indicator.as_deref(), Some("icloud-private-relay"));
    let mut e = engine(SIMPLE);
    let fp = e.ingest(&o, 0);
    assert_eq!(e.alert(&fp).map(|a| a.labels["severity"].as_str()), Some("critical"));
    ev.decision = store::QueryDecision::Allowed;
    assert!(Observation::from_query_event(&ev).is_none());
    ev.decision = store::QueryDecision::Blocked;
    ev.app = None;
    assert!(
        Observation::from_query_event(&ev).is_none(),
        "custom lists are not alerted"
    );
}

/// Everything the engine commits, applied to in-memory "tables".
#[derive(Default)]
struct FakeStore {
    alerts: BTreeMap<String, AlertRecord>,
    groups: BTreeMap<String, GroupRecord>,
}

impl FakeStore {
    fn apply(&mut self, c: EngineCommit) {
        for a in c.alerts {
            self.alerts.insert(a.fingerprint.clone(), a);
        }
        for g in c.groups {
            self.groups.insert(g.id.clone(), g);
        }
        for id in c.removed_groups {
            self.groups.remove(&id);
        }
    }

    fn restore(&self, toml: &str) -> Engine {
        let cfg = AlertsConfig::from_toml_str(toml).expect("valid").expect("present");
        let active = self.alerts.values().filter(|a| a.active).cloned().collect();
        let (e, problems) = Engine::restore(
            EngineConfig::from(&cfg),
            active,
            self.groups.values().cloned().collect(),
        );
        assert!(problems.is_empty(), "{problems:?}");
        e
    }
}

/// At a time, maybe a detection (client, app, outcome).
type Step = (u64, Option<(&'static str, &'static str, Outcome)>);

#[test]
fn restored_engine_continues_where_it_stopped() {
    // the same inputs to an engine that runs through and to one restarted at every step
    let steps: Vec<Step> = vec![
        (0, Some(("192.0.2.1", "tiktok", Outcome::Blocked))),
        (10 * S, Some(("192.0.2.2", "tiktok", Outcome::Blocked))),
        (30 * S, None),
        (M, Some(("192.0.2.1", "tiktok", Outcome::GotThrough))),
        (5 * M + 30 * S, None),
        (7 * M, Some(("192.0.2.3", "signal", Outcome::Blocked))),
        (8 * M, None),
        (10 * M + 30 * S, None),
        (20 * M, None),
        (30 * M, None),
    ];
    let mut straight = engine(SIMPLE);
    let mut store = FakeStore::default();
    let mut sent_a = Vec::new();
    let mut sent_b = Vec::new();
    for (t, o) in &steps {
        let mut restarted = store.restore(SIMPLE);
        if let Some((c, a, out)) = o {
            straight.ingest(&obs(c, a, *out), *t);
            restarted.ingest(&obs(c, a, *out), *t);
        }
        sent_a.extend(straight.tick(*t));
        sent_b.extend(restarted.tick(*t));
        store.apply(restarted.take_commit(*t));
    }
    assert!(!sent_a.is_empty());
    assert_eq!(sent_a, sent_b, "same notifications, same ids, after restarts");
    assert!(store.groups.is_empty() && store.alerts.values().all(|a| !a.active));
}
