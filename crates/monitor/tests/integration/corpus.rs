//! Every real log in the shared corpus, parsed with its parser, with
//! concrete content checks.

use crate::support::{corpus, parse_file, qnames};
use monitor::{Action, DnsType, Format};
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP")
}

fn count<T>(v: &[T], f: impl Fn(&T) -> bool) -> usize {
    v.iter().filter(|x| f(x)).count()
}

#[test]
fn bind_classic_with_category_and_severity() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "generated/bind/bind-9.18-query.classic.log", Format::BindQuery);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 13);
    assert_eq!(count(&p.events, |e| e.dns_type == Some(DnsType::Query)), 11);
    let first = &p.events[0];
    assert_eq!(
        first.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-11-22T02:54:51.317Z")
    );
    assert_eq!(first.source_ip, Some(ip("127.0.0.1")));
    assert_eq!(first.source_port, Some(59579));
    assert_eq!(first.destination_ip, Some(ip("127.0.0.1")));
    assert_eq!(first.dns_question_name.as_deref(), Some("www.tiktok.com"));
    assert_eq!(first.dns_question_type.as_deref(), Some("A"));
    assert_eq!(first.transport.as_deref(), Some("udp"));
    assert_eq!(first.original.line, 1);
    // query-errors lines: REFUSED for use-application-dns.net and _dns.resolver.arpa/SVCB
    let refused: Vec<_> = p
        .events
        .iter()
        .filter(|e| e.dns_response_code.as_deref() == Some("REFUSED"))
        .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0].dns_question_name.as_deref(), Some("use-application-dns.net"));
    assert_eq!(refused[1].dns_question_type.as_deref(), Some("SVCB"));
    // the +E(0)TK query came over TCP; the ECS-tagged HTTPS query is parsed too
    assert_eq!(p.events[11].transport.as_deref(), Some("tcp"));
    assert_eq!(p.events[12].dns_question_type.as_deref(), Some("HTTPS"));
}

#[test]
fn bind_iso8601_utc() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "generated/bind/bind-9.18-query.iso8601-utc.log", Format::BindQuery);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 11);
    assert_eq!(
        p.events[0].timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-11-22T02:54:51.317Z")
    );
    assert!(qnames(&p.events).contains(&"mask-h2.icloud.com"));
    assert_eq!(p.events[10].original.line, 11);
}

#[test]
fn bind_stderr_without_category() {
    let Some(c) = corpus() else { return };
    let p = parse_file(
        &c,
        "generated/bind/bind-9.18-query.stderr-noCategory.log",
        Format::BindQuery,
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 40);
    assert_eq!(
        count(&p.events, |e| e.dns_response_code.as_deref() == Some("REFUSED")),
        9
    );
    assert!(qnames(&p.events).contains(&"api16-normal-c-useast1a.tiktokv.com"));
    assert_eq!(
        count(&p.events, |e| e.dns_question_name.as_deref()
            == Some("printer.corp.example")),
        12
    );
}

#[test]
fn unbound_epoch_untagged() {
    let Some(c) = corpus() else { return };
    let p = parse_file(
        &c,
        "generated/unbound/unbound-1.17-log-queries-replies.epoch.log",
        Format::Unbound,
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 59);
    assert_eq!(count(&p.events, |e| e.dns_type == Some(DnsType::Query)), 28);
    assert_eq!(count(&p.events, |e| e.dataset == "unbound.local_action"), 3);
    // three always_nxdomain actions and the three NXDOMAIN replies after them are blocked
    assert_eq!(count(&p.events, |e| e.action == Action::Blocked), 6);
    let la = p
        .events
        .iter()
        .find(|e| e.dataset == "unbound.local_action")
        .expect("local action");
    assert_eq!(
        la.dns_question_name.as_deref(),
        Some("api16-normal-c-useast1a.tiktokv.com")
    );
    assert_eq!(la.source_port, Some(46760));
    assert_eq!(la.rule_name.as_deref(), Some("tiktokv.com always_nxdomain"));
    assert_eq!(la.timestamp.map(|t| t.unix_secs()), Some(1_795_316_079));
    let servfail = p
        .events
        .iter()
        .find(|e| e.dns_response_code.as_deref() == Some("SERVFAIL"))
        .expect("servfail");
    assert_eq!(servfail.dns_question_name.as_deref(), Some("printer.corp.example"));
    assert_eq!(p.stats.skipped_count(), 19); // notices, stats and histogram lines
}

#[test]
fn unbound_tagged_ascii_time() {
    let Some(c) = corpus() else { return };
    let p = parse_file(
        &c,
        "generated/unbound/unbound-1.17-log-queries-replies.tagged-ascii.log",
        Format::Unbound,
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 29);
    assert_eq!(count(&p.events, |e| e.dns_type == Some(DnsType::Query)), 13);
    assert_eq!(count(&p.events, |e| e.action == Action::Blocked), 6);
    assert_eq!(
        p.events[0].timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-11-22T02:54:39Z")
    );
    assert_eq!(count(&p.events, |e| e.dns_question_type.as_deref() == Some("HTTPS")), 2);
}

#[test]
fn dnsmasq_plain_correlates_by_name() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "generated/dnsmasq/dnsmasq-2.90-log-queries.log", Format::Dnsmasq);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 60);
    assert_eq!(count(&p.events, |e| e.dns_type == Some(DnsType::Query)), 28);
    assert_eq!(count(&p.events, |e| e.action == Action::Blocked), 17);
    // config www.tiktok.com is 0.0.0.0 → blocked sinkhole answer
    let cfg = &p.events[1];
    assert_eq!(cfg.action, Action::Blocked);
    assert_eq!(cfg.rule_name.as_deref(), Some("config"));
    assert_eq!(cfg.dns_answers[0].data, "0.0.0.0");
    // reply dns.google is 8.8.8.8 / 8.8.4.4, with the client from the query line
    let google: Vec<_> = p
        .events
        .iter()
        .filter(|e| e.dns_question_name.as_deref() == Some("dns.google") && e.dns_type == Some(DnsType::Answer))
        .collect();
    assert_eq!(google.len(), 8); // 2 forwarded replies + 6 cached
    assert!(google
        .iter()
        .all(|e| e.source_ip == Some(ip("127.0.0.1")) && e.dns_question_type.as_deref() == Some("A")));
    assert!(google.iter().any(|e| e.dns_answers[0].data == "8.8.4.4"));
    // "reply error is REFUSED" gets the forwarded query's name
    let refused: Vec<_> = p
        .events
        .iter()
        .filter(|e| e.dns_response_code.as_deref() == Some("REFUSED"))
        .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(
        refused[0].dns_question_name.as_deref(),
        Some("api16-normal-c-useast1a.tiktokv.com")
    );
    assert_eq!(refused[1].dns_question_name.as_deref(), Some("_dns.resolver.arpa"));
    // the hosts-file answer
    let hosts = p
        .events
        .iter()
        .find(|e| e.dns_question_name.as_deref() == Some("printer.corp.example") && e.dns_type == Some(DnsType::Answer))
        .expect("hosts");
    assert_eq!(hosts.action, Action::Allowed);
    assert_eq!(hosts.rule_name.as_deref(), Some("/tmp/gen/dnsmasq/hosts.extra"));
    // AAAA answer
    assert!(p.events.iter().any(|e| e
        .dns_answers
        .iter()
        .any(|a| a.data == "2001:db8::50" && a.rtype.as_deref() == Some("AAAA"))));
    assert_eq!(p.stats.skipped.get("dnsmasq.forwarded"), Some(&7));
}

#[test]
fn dnsmasq_extra_correlates_by_serial() {
    let Some(c) = corpus() else { return };
    let p = parse_file(
        &c,
        "generated/dnsmasq/dnsmasq-2.90-log-queries-extra.log",
        Format::Dnsmasq,
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 27);
    assert_eq!(count(&p.events, |e| e.dns_type == Some(DnsType::Query)), 13);
    assert_eq!(count(&p.events, |e| e.action == Action::Blocked), 5);
    // serial 3: reply error is REFUSED → the tiktokv.com query, client port from the line
    let r = p
        .events
        .iter()
        .find(|e| e.dns_response_code.as_deref() == Some("REFUSED"))
        .expect("refused");
    assert_eq!(
        r.dns_question_name.as_deref(),
        Some("api16-normal-c-useast1a.tiktokv.com")
    );
    assert_eq!(r.source_port, Some(40153));
    // serial 112: HTTPS query answered NODATA
    let https = p
        .events
        .iter()
        .filter(|e| e.dns_question_type.as_deref() == Some("HTTPS"))
        .count();
    assert_eq!(https, 2);
    assert!(p.events.iter().all(|e| e.source_port.is_some()));
}

#[test]
fn squid_native() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "generated/squid/squid-5.7-access.native.log", Format::SquidNative);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 9);
    let e = &p.events[0];
    assert_eq!(e.action, Action::Blocked);
    assert_eq!(e.url_domain.as_deref(), Some("www.tiktok.com"));
    assert_eq!(e.destination_port, Some(443));
    assert_eq!(e.http_status, Some(403));
    assert_eq!(
        e.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-11-22T02:55:02.232Z")
    );
    assert_eq!(p.events[3].url_domain.as_deref(), Some("www.tiktok.com")); // GET http://www.tiktok.com/foryou
    assert_eq!(p.events[3].destination_port, Some(80));
    assert_eq!(count(&p.events, |e| e.action == Action::Blocked), 4);
    assert_eq!(p.events[4].action, Action::Allowed);
    assert_eq!(p.events[4].destination_ip, Some(ip("127.0.77.5")));
    assert_eq!(p.events[7].url_domain.as_deref(), Some("127.0.77.5"));
    assert_eq!(p.events[8].action, Action::Unknown); // NONE_NONE/000
    assert_eq!(p.events[8].url_domain.as_deref(), Some("dns.google"));
}

#[test]
fn squid_combined() {
    let Some(c) = corpus() else { return };
    let p = parse_file(
        &c,
        "generated/squid/squid-5.7-access.combined.log",
        Format::SquidCombined,
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 9);
    assert_eq!(count(&p.events, |e| e.action == Action::Blocked), 4);
    assert_eq!(p.events[0].rule_name.as_deref(), Some("TCP_DENIED"));
    assert_eq!(
        p.events[0].timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-11-22T02:55:02Z")
    );
    assert_eq!(p.events[5].url_domain.as_deref(), Some("example.org"));
    assert_eq!(p.events[8].action, Action::Unknown);
}

#[test]
fn adguard_querylog_with_base64_answer() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "misc/adguardhome-querylog.excerpt.json", Format::AdGuard);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 1);
    let e = &p.events[0];
    assert_eq!(e.action, Action::Blocked);
    assert_eq!(e.dns_question_name.as_deref(), Some("an.yandex.ru"));
    assert_eq!(e.rule_name.as_deref(), Some("||an.yandex."));
    assert_eq!(e.dns_response_code.as_deref(), Some("NOERROR"));
    assert_eq!(e.dns_answers.len(), 1);
    assert_eq!(e.dns_answers[0].data, "0.0.0.0");
    assert_eq!(e.dns_answers[0].rtype.as_deref(), Some("A"));
    assert_eq!(
        e.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2020-11-25T15:55:56.519796Z")
    );
}

#[test]
fn suricata_eve_v1_dns_and_http() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "suricata/eve.surevego-dns-v1-http-alert.json", Format::SuricataEve);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let dns: Vec<_> = p.events.iter().filter(|e| e.dataset == "suricata.dns").collect();
    assert_eq!(dns.len(), 48);
    assert_eq!(dns.iter().filter(|e| e.dns_type == Some(DnsType::Query)).count(), 9);
    assert_eq!(
        dns.iter()
            .filter(|e| e.dns_response_code.as_deref() == Some("NXDOMAIN"))
            .count(),
        2
    );
    // v1 answer: one record per event; the client is the source even though Suricata logged the reply direction
    let a = dns
        .iter()
        .find(|e| e.dns_answers.first().map(|a| a.data.as_ref()) == Some("151.101.12.204"))
        .expect("fastly answer");
    assert_eq!(a.dns_question_name.as_deref(), Some("prod.debian.map.fastly.net"));
    assert_eq!(a.source_ip, Some(ip("172.17.0.2")));
    assert_eq!(a.destination_port, Some(53));
    assert_eq!(
        a.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2017-01-30T15:12:27.027213Z")
    );
    assert_eq!(count(&p.events, |e| e.dataset == "suricata.http"), 68);
    assert!(p
        .events
        .iter()
        .any(|e| e.url_domain.as_deref() == Some("deb.debian.org")));
    assert_eq!(p.stats.skipped.get("suricata.alert"), Some(&68));
    assert_eq!(p.stats.skipped.get("suricata.fileinfo"), Some(&68));
    assert_eq!(p.stats.skipped.get("suricata.flow"), Some(&13));
    assert_eq!(p.stats.skipped.get("suricata.stats"), Some(&1));
}

#[test]
fn zeek_dns_tsv_btest_baseline() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "zeek/dns.opt-basic.tsv.log", Format::ZeekTsv);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 34);
    // btest masks every ts as XXXXXXXXXX.XXXXXX: no @timestamp, counted
    assert!(p.events.iter().all(|e| e.timestamp.is_none()));
    assert_eq!(p.stats.masked_timestamps, 34);
    assert_eq!(p.stats.skipped.get("zeek.header"), Some(&10));
    assert_eq!(
        count(&p.events, |e| e.dns_response_code.as_deref() == Some("NXDOMAIN")),
        4
    );
    let e = p
        .events
        .iter()
        .find(|e| e.dns_id == Some(16954))
        .expect("meta.wikimedia.org A");
    assert_eq!(e.dns_question_name.as_deref(), Some("meta.wikimedia.org"));
    let ans: Vec<(&str, &str)> = e
        .dns_answers
        .iter()
        .map(|a| (a.data.as_ref(), a.rtype.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        ans,
        [
            ("text.wikimedia.org", "CNAME"),
            ("text.pmtpa.wikimedia.org", "CNAME"),
            ("208.80.152.2", "A")
        ]
    );
    // unset (-) rcode → a query record; IPv6 link-local source
    let mdns = &p.events[1];
    assert_eq!(mdns.source_ip, Some(ip("fe80::217:f2ff:fed7:cf65")));
    assert_eq!(mdns.dns_answers[0].data, "gemini.local");
    // upper-case NetBIOS names are lower-cased
    assert!(qnames(&p.events).contains(&"brwc0cb383d1f42"));
}

#[test]
fn zeek_conn_tsv() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "zeek/conn.opt-basic.tsv.log", Format::ZeekTsv);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 34);
    assert!(p.events.iter().all(|e| e.dataset == "zeek.conn"));
    assert_eq!(count(&p.events, |e| e.transport.as_deref() == Some("tcp")), 10);
    assert_eq!(
        p.events.last().and_then(|e| e.destination_ip),
        Some(ip("173.192.163.128"))
    );
}

#[test]
fn zeek_ssl_tsv_with_empty_and_unset_fields() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "zeek/ssl.known-certs.tsv.log", Format::ZeekTsv);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 8);
    assert_eq!(
        count(&p.events, |e| e.tls_server_name.as_deref() == Some("www.google.com")),
        4
    );
    assert_eq!(count(&p.events, |e| e.tls_server_name.is_none()), 4);
    let p = parse_file(&c, "zeek/ssl.tls13-ech.tsv.log", Format::ZeekTsv);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(qnames(&p.events).len(), 0);
    assert!(p
        .events
        .iter()
        .all(|e| e.tls_server_name.as_deref() == Some("cloudflare-ech.com")));
    assert_eq!(p.events[1].source_port, Some(51071));
}

#[test]
fn zeek_json_logs() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "zeek/dns.docs-examples.json", Format::ZeekJson);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 5);
    let e = &p.events[1];
    assert_eq!(e.dataset, "zeek.dns");
    assert_eq!(e.dns_question_name.as_deref(), Some("zeek.org"));
    assert_eq!(e.dns_answers.len(), 2);
    assert_eq!(e.dns_answers[0].data, "192.0.78.150");
    assert_eq!(
        e.timestamp.map(|t| t.to_string()).as_deref(),
        Some("2026-03-30T23:00:41.803041Z")
    );
    let p = parse_file(&c, "zeek/ssl.docs-examples.json", Format::ZeekJson);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.events.len(), 4);
    assert!(p.events.iter().all(|e| e.dataset == "zeek.ssl"));
    assert_eq!(
        count(&p.events, |e| e.tls_server_name.as_deref()
            == Some("www.taosecurity.com")),
        2
    );
    for f in ["zeek/conn.docs-examples.json", "zeek/conn.from-ssl-docs-examples.json"] {
        let p = parse_file(&c, f, Format::ZeekJson);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.events.len(), 2);
        assert!(p
            .events
            .iter()
            .all(|e| e.dataset == "zeek.conn" && e.source_ip.is_some()));
    }
}

#[test]
fn every_event_serialises_with_ecs_names() {
    let Some(c) = corpus() else { return };
    let p = parse_file(&c, "generated/bind/bind-9.18-query.classic.log", Format::BindQuery);
    let v = serde_json::to_value(&p.events[0]).expect("serialise");
    assert_eq!(v["dns.question.name"], "www.tiktok.com");
    assert_eq!(v["source.ip"], "127.0.0.1");
    assert_eq!(v["@timestamp"], "2026-11-22T02:54:51.317Z");
    assert_eq!(v["event.action"], "unknown");
    assert_eq!(v["observer.product"], "bind");
    assert_eq!(v["event.original"]["line"], 1);
    assert!(v["event.original"]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("classic.log")));
}
