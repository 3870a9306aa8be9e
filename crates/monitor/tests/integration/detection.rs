//! Detection against the bundled default plan: the generated corpus logs
//! (BIND, Unbound, dnsmasq, Squid) and the Zeek docs examples, plus crafted
//! SNI / flow / identity cases.
//!
//! (`detect.rs` beside this file tests format detection.)

use crate::support;
use monitor::{Detection, DetectionKind, Detector, Evidence, Format, Outcome};
use std::collections::BTreeMap;

fn plan() -> policy::EnforcementPlan {
    let day = catalog::Day::new(2026, 11, 22).expect("valid day");
    policy::Policy::builtin(None).expect("builtin policy").plan(day)
}

/// What the generated logs' configs make the clients ask
/// (`corpus/logs/generated/configs/`), and the app each name must be flagged as.
fn expected_app(name: &str) -> Option<&'static str> {
    match name {
        "www.tiktok.com" | "m.tiktok.com" | "api16-normal-c-useast1a.tiktokv.com" => Some("tiktok"),
        "use-application-dns.net" => Some("firefox-canary"),
        "mask.icloud.com" | "mask-h2.icloud.com" => Some("icloud-private-relay"),
        "dns.google" => Some("doh-google"),
        "_dns.resolver.arpa" => Some("ddr-designated-resolvers"),
        "www.example.org" | "printer.corp.example" => None,
        other => panic!("the fixture has a name this test does not know: {other}"),
    }
}

struct Run {
    detections: Vec<Detection>,
    events: usize,
}

fn run(corpus: &std::path::Path, rel: &str, format: Format, det: &Detector<'_>) -> Run {
    let parsed = support::parse_file(corpus, rel, format);
    assert!(parsed.errors.is_empty(), "{rel}: {:?}", parsed.errors);
    let mut detections = Vec::new();
    for ev in &parsed.events {
        let want = ev.dns_question_name.as_deref().and_then(expected_app);
        let got = det.detect(ev);
        assert_eq!(
            got.as_ref().map(|d| d.app.as_str()),
            want,
            "{rel}:{} {:?}",
            ev.original.line,
            ev.dns_question_name
        );
        if let Some(d) = got {
            assert_eq!(d.evidence, Evidence::DnsQuestion, "{rel}:{}", d.origin.line);
            assert_eq!(d.origin.line, ev.original.line);
            assert!(d.origin.file.as_deref().is_some_and(|f| f.ends_with(rel)), "{rel}");
            assert_eq!(d.group, "corporate");
            assert_eq!(d.action, policy::Action::Block);
            let kind = if d.app == "tiktok" {
                DetectionKind::AppUse
            } else {
                DetectionKind::Bypass
            };
            assert_eq!(d.kind, kind, "{rel}:{}", d.origin.line);
            detections.push(d);
        }
    }
    Run {
        detections,
        events: parsed.events.len(),
    }
}

/// app → (flagged, blocked, got through)
type Tally<'a> = BTreeMap<&'a str, (usize, usize, usize)>;

/// Counts detections per app.
fn tally(ds: &[Detection]) -> Tally<'_> {
    let mut m: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for d in ds {
        let e = m.entry(d.app.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(d.outcome == Outcome::Blocked);
        e.2 += usize::from(d.got_through);
    }
    m
}

fn t(v: &[(&'static str, (usize, usize, usize))]) -> BTreeMap<&'static str, (usize, usize, usize)> {
    v.iter().copied().collect()
}

#[test]
fn generated_dns_logs_flag_every_tiktok_and_bypass_query_and_nothing_else() {
    let Some(corpus) = support::corpus() else { return };
    let plan = plan();
    let det = Detector::new(&plan);
    // (file, format, events, flagged, per app (flagged, blocked, got through))
    let cases: [(&str, Format, usize, usize, Tally<'static>); 7] = [
        (
            "generated/bind/bind-9.18-query.classic.log",
            Format::BindQuery,
            13,
            12,
            t(&[
                ("ddr-designated-resolvers", (2, 0, 0)),
                ("doh-google", (1, 0, 0)),
                ("firefox-canary", (2, 0, 0)),
                ("icloud-private-relay", (2, 0, 0)),
                ("tiktok", (5, 0, 0)),
            ]),
        ),
        (
            "generated/bind/bind-9.18-query.iso8601-utc.log",
            Format::BindQuery,
            11,
            10,
            t(&[
                ("ddr-designated-resolvers", (1, 0, 0)),
                ("doh-google", (1, 0, 0)),
                ("firefox-canary", (1, 0, 0)),
                ("icloud-private-relay", (2, 0, 0)),
                ("tiktok", (5, 0, 0)),
            ]),
        ),
        (
            "generated/bind/bind-9.18-query.stderr-noCategory.log",
            Format::BindQuery,
            40,
            26,
            t(&[
                ("ddr-designated-resolvers", (2, 0, 0)),
                ("doh-google", (3, 0, 0)),
                ("firefox-canary", (2, 0, 0)),
                ("icloud-private-relay", (6, 0, 0)),
                ("tiktok", (13, 0, 0)),
            ]),
        ),
        (
            "generated/unbound/unbound-1.17-log-queries-replies.epoch.log",
            Format::Unbound,
            59,
            55,
            t(&[
                ("ddr-designated-resolvers", (3, 2, 0)),
                ("doh-google", (2, 0, 1)),
                ("firefox-canary", (3, 2, 0)),
                ("icloud-private-relay", (10, 0, 5)),
                ("tiktok", (37, 2, 17)),
            ]),
        ),
        (
            "generated/unbound/unbound-1.17-log-queries-replies.tagged-ascii.log",
            Format::Unbound,
            29,
            25,
            t(&[
                ("ddr-designated-resolvers", (3, 2, 0)),
                ("doh-google", (2, 0, 1)),
                ("firefox-canary", (3, 2, 0)),
                ("icloud-private-relay", (4, 0, 2)),
                ("tiktok", (13, 2, 5)),
            ]),
        ),
        (
            "generated/dnsmasq/dnsmasq-2.90-log-queries.log",
            Format::Dnsmasq,
            60,
            56,
            t(&[
                ("ddr-designated-resolvers", (2, 0, 0)),
                ("doh-google", (12, 0, 8)),
                ("firefox-canary", (2, 1, 0)),
                ("icloud-private-relay", (4, 1, 1)),
                ("tiktok", (36, 15, 2)),
            ]),
        ),
        (
            "generated/dnsmasq/dnsmasq-2.90-log-queries-extra.log",
            Format::Dnsmasq,
            27,
            23,
            t(&[
                ("ddr-designated-resolvers", (2, 0, 0)),
                ("doh-google", (3, 0, 2)),
                ("firefox-canary", (2, 1, 0)),
                ("icloud-private-relay", (4, 1, 1)),
                ("tiktok", (12, 3, 2)),
            ]),
        ),
    ];
    for (rel, format, events, flagged, per_app) in cases {
        let r = run(&corpus, rel, format, &det);
        assert_eq!(r.events, events, "{rel}: events");
        assert_eq!(r.detections.len(), flagged, "{rel}: flagged events");
        assert_eq!(
            tally(&r.detections),
            per_app,
            "{rel}: per app (flagged, blocked, got through)"
        );
    }
}

#[test]
fn detection_details_say_why_and_what_happened() {
    let Some(corpus) = support::corpus() else { return };
    let plan = plan();
    let det = Detector::new(&plan);
    let r = run(
        &corpus,
        "generated/unbound/unbound-1.17-log-queries-replies.tagged-ascii.log",
        Format::Unbound,
        &det,
    );
    // the always_nxdomain local action for tiktokv.com
    let d = r
        .detections
        .iter()
        .find(|d| d.origin.line == 8)
        .expect("line 8 flagged");
    assert_eq!(d.app, "tiktok");
    assert_eq!(d.matched, "api16-normal-c-useast1a.tiktokv.com");
    assert_eq!(d.entry, "tiktokv.com");
    assert_eq!(d.category.as_deref(), Some("social-video"));
    assert_eq!(d.outcome, Outcome::Blocked);
    assert!(!d.got_through);
    assert!(matches!(d.reason, policy::RuleReason::Decision(_)), "{:?}", d.reason);
    assert_eq!(d.source_ip, "127.0.0.1".parse().ok());
    assert!(d.timestamp.is_some());
    // the canary: a bypass with its method
    let c = r.detections.iter().find(|d| d.origin.line == 10).expect("line 10");
    assert_eq!((c.kind, c.app.as_str()), (DetectionKind::Bypass, "firefox-canary"));
    assert_eq!(c.bypass_method.as_deref(), Some("canary"));
    assert_eq!(c.reason, policy::RuleReason::Bypass(catalog::BypassMethod::Canary));
    assert_eq!(c.outcome, Outcome::Unknown, "a query line alone says nothing");
    // an answered TikTok lookup got through
    let g = r.detections.iter().find(|d| d.origin.line == 4).expect("line 4");
    assert_eq!(
        (g.app.as_str(), g.outcome, g.got_through),
        ("tiktok", Outcome::GotThrough, true)
    );
    let json = serde_json::to_value(g).expect("serialises");
    assert_eq!(json["reason"]["kind"], "decision");
    assert_eq!(json["kind"], "app-use");
    assert_eq!(json["outcome"], "got-through");
    assert_eq!(json["origin"]["line"], 4);
}

#[test]
fn squid_and_zeek_traffic_evidence() {
    let Some(corpus) = support::corpus() else { return };
    let plan = plan();
    let det = Detector::new(&plan);
    for (rel, format) in [
        ("generated/squid/squid-5.7-access.native.log", Format::SquidNative),
        ("generated/squid/squid-5.7-access.combined.log", Format::SquidCombined),
    ] {
        let p = support::parse_file(&corpus, rel, format);
        let ds: Vec<Detection> = p.events.iter().filter_map(|e| det.detect(e)).collect();
        let got: Vec<(u64, &str, Evidence, Outcome)> = ds
            .iter()
            .map(|d| (d.origin.line, d.app.as_str(), d.evidence, d.outcome))
            .collect();
        let denied = |l| (l, "tiktok", Evidence::Url, Outcome::Blocked);
        assert_eq!(
            got,
            vec![
                denied(1),
                denied(2),
                denied(3),
                denied(4),
                // CONNECT dns.google with status 000: tried, not completed
                (9, "doh-google", Evidence::Url, Outcome::Unknown),
            ],
            "{rel}"
        );
    }
    // Zeek docs: every query went straight to 1.1.1.1 (Cloudflare's resolver)
    let p = support::parse_file(&corpus, "zeek/dns.docs-examples.json", Format::ZeekJson);
    let ds: Vec<Detection> = p.events.iter().filter_map(|e| det.detect(e)).collect();
    assert_eq!(ds.len(), 5);
    for d in &ds {
        assert_eq!((d.app.as_str(), d.kind), ("doh-cloudflare", DetectionKind::Bypass));
        assert_eq!(
            (d.evidence, d.matched.as_str(), d.entry.as_str()),
            (Evidence::DestinationIp, "1.1.1.1", "1.1.1.1/32")
        );
    }
    // the other Zeek and Suricata examples name nothing in the plan
    for (rel, format) in [
        ("zeek/ssl.docs-examples.json", Format::ZeekJson),
        ("zeek/conn.docs-examples.json", Format::ZeekJson),
        ("zeek/dns.opt-basic.tsv.log", Format::ZeekTsv),
        ("zeek/conn.opt-basic.tsv.log", Format::ZeekTsv),
        ("zeek/ssl.known-certs.tsv.log", Format::ZeekTsv),
        ("suricata/eve.surevego-dns-v1-http-alert.json", Format::SuricataEve),
    ] {
        let p = support::parse_file(&corpus, rel, format);
        assert!(!p.events.is_empty(), "{rel}");
        let flagged: Vec<u64> = p
            .events
            .iter()
            .filter_map(|e| det.detect(e))
            .map(|d| d.origin.line)
            .collect();
        assert!(flagged.is_empty(), "{rel}: {flagged:?}");
    }
}

#[test]
fn sni_and_flows_get_through_even_when_dns_was_blocked_and_clients_are_named() {
    let plan = plan();
    let map = monitor::identity::static_map::read(&b"10.0.0.7,laptop-42,alice\n"[..]);
    assert!(map.errors.is_empty(), "{:?}", map.errors);
    let mut ids = monitor::IdentityResolver::new();
    ids.add_static(map.records);
    let det = Detector::new(&plan).with_identity(&ids);
    let text = br#"{"_path":"ssl","ts":1795316102.5,"id.orig_h":"10.0.0.7","id.orig_p":51000,"id.resp_h":"192.0.2.50","id.resp_p":443,"server_name":"www.tiktok.com"}
{"_path":"conn","ts":1795316103.0,"id.orig_h":"10.0.0.8","id.orig_p":51001,"id.resp_h":"198.51.100.53","id.resp_p":853,"proto":"tcp"}
{"_path":"conn","ts":1795316104.0,"id.orig_h":"10.0.0.8","id.orig_p":51002,"id.resp_h":"198.51.100.53","id.resp_p":443,"proto":"tcp"}
{"_path":"ssl","ts":1795316105.0,"id.orig_h":"10.0.0.8","id.orig_p":51003,"id.resp_h":"192.0.2.51","id.resp_p":443,"server_name":"www.example.org"}
"#;
    let p = support::parse_text(Format::ZeekJson, text);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 4);
    let ds: Vec<Detection> = p.events.iter().filter_map(|e| det.detect(e)).collect();
    assert_eq!(ds.len(), 2, "{ds:?}");
    let sni = &ds[0];
    assert_eq!(
        (sni.app.as_str(), sni.evidence, sni.outcome),
        ("tiktok", Evidence::TlsSni, Outcome::GotThrough)
    );
    assert!(sni.got_through);
    assert_eq!(sni.device.as_deref(), Some("laptop-42"));
    assert_eq!(sni.user.as_deref(), Some("alice"));
    let dot = &ds[1];
    assert_eq!(
        (dot.app.as_str(), dot.kind),
        (monitor::detection::DOT_PORT_APP, DetectionKind::Bypass)
    );
    assert_eq!(
        (dot.evidence, dot.matched.as_str()),
        (Evidence::DotPort, "198.51.100.53:853")
    );
    assert_eq!(dot.bypass_method.as_deref(), Some("encrypted-dns"));
    assert!(dot.got_through);
    assert_eq!(dot.device, None);
}
