//! The resolver on loopback, against a test upstream it starts itself:
//! blocking by name, CNAME chain and answer address; groups; allow rules;
//! bypass prevention; truncation and TCP; timeouts; the cache; malformed
//! input; reload under load; real `dig` as a client.

mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use dns::cache::{Cache, CacheConfig};
use dns::resolver::{Resolver, ResolverOptions};
use dns::server::{ServeOptions, Server, build_state};
use dns::upstream::{UpstreamSpec, Upstreams};
use dns::wire::BlockedAnswer;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use store::{EventSink, MatchReason, QueryDecision, QueryEvent};
use support::{Upstream, ask, query, require_tool, udp};

struct Harness {
    server: Option<Server>,
    addr: SocketAddr,
    events: Receiver<Vec<QueryEvent>>,
    pending: std::cell::RefCell<std::collections::VecDeque<QueryEvent>>,
    upstream: Upstream,
    _overlay: Option<std::path::PathBuf>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

const OVERLAY: &str = r#"
[[source]]
id = "test-ip-app"
url = "https://example.org/test"
title = "test"
date = 2026-01-01
kind = "press"

[[app]]
id = "ip-app"
name = "IP-only test app"
categories = ["social-video"]

[[app.network]]
domains = ["ip-app.example"]
ip_prefixes = ["198.51.100.0/24"]
sources = ["test-ip-app"]
"#;

fn day() -> catalog::Day {
    catalog::Day::new(2026, 11, 22).expect("day")
}

/// A resolver over `state` forwarding to `upstream` (short timeouts, NXDOMAIN for blocks).
fn test_resolver(state: dns::resolver::State, upstream: SocketAddr, sink: EventSink) -> Arc<Resolver> {
    Arc::new(Resolver::new(
        state,
        Cache::new(CacheConfig::default()),
        Upstreams::new(
            vec![UpstreamSpec::Plain(upstream)],
            Duration::from_millis(400),
            Duration::from_millis(900),
        ),
        sink,
        ResolverOptions {
            blocked: BlockedAnswer::Nxdomain,
            blocked_ttl: 60,
            edns_udp_size: 1232,
            rate_limit_qps: 0,
        },
    ))
}

/// One UDP worker and one async worker on `listen`.
fn one_worker(listen: Vec<SocketAddr>) -> ServeOptions {
    ServeOptions {
        listen,
        udp_workers: 1,
        async_workers: 1,
        tcp_idle: Duration::from_secs(2),
        tcp_max_connections: 64,
        encrypted: None,
    }
}

fn start(policy_text: &str) -> Harness {
    let upstream = Upstream::start();
    let dir = std::env::temp_dir().join(format!(
        "appwarden-dns-overlay-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("overlay dir");
    std::fs::write(dir.join("ip-app.toml"), OVERLAY).expect("overlay");
    let policy = policy::Policy::parse(policy_text, "test.toml", None, Some(&dir)).expect("policy");
    let plan = policy.plan(day());
    let state = build_state(&plan, &[], 1);
    let (sink, events) = EventSink::channel(100_000);
    let resolver = test_resolver(state, upstream.addr, sink);
    let server = Server::start(resolver, &one_worker(vec!["127.0.0.1:0".parse().expect("addr")])).expect("server");
    let addr = server.addrs[0];
    Harness {
        server: Some(server),
        addr,
        events,
        pending: Default::default(),
        upstream,
        _overlay: Some(dir),
    }
}

const BASE: &str = r#"
[organisation]
name = "Test"
profile = "bank"
jurisdiction = "DE"

[[group]]
id = "corp"
default = true
clients = ["127.0.0.1/32"]
allow = ["ads.tiktok.com"]

[[group]]
id = "pilot"
clients = ["127.0.0.2/32"]
log_only = true

[[override]]
app = "ip-app"
decision = "block"
reason = "test"
"#;

fn a_records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect()
}

fn next_event(h: &Harness, name: &str) -> QueryEvent {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let next = h.pending.borrow_mut().pop_front();
        match next {
            Some(e) if e.qname == name => return e,
            Some(_) => {}
            None => {
                if let Ok(batch) = h.events.recv_timeout(Duration::from_millis(100)) {
                    h.pending.borrow_mut().extend(batch);
                }
            }
        }
    }
    panic!("no event for {name}");
}

#[test]
fn blocks_tiktok_and_answers_ordinary_names() {
    let h = start(BASE);
    let m = ask(h.addr, "www.tiktok.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        m.authorities[0].name.to_ascii(),
        "tiktok.com.",
        "SOA owned by the rule's domain"
    );
    let e = next_event(&h, "www.tiktok.com");
    assert_eq!(e.decision, QueryDecision::Blocked);
    assert_eq!(e.reason, Some(MatchReason::Name));
    assert_eq!(e.app.as_deref(), Some("tiktok"));
    assert_eq!(e.rule.as_deref(), Some("tiktok.com"));
    assert_eq!(&*e.group, "corp");

    for name in [
        "tiktokv.eu.",
        "x.snssdk.com.",
        "api16-normal-c-useast1a.tiktokv.us.",
        "p16-tiktok-va.ibyteimg.com.",
    ] {
        assert_eq!(
            ask(h.addr, name, RecordType::A).metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
    }
    let ok = ask(h.addr, "www.example.test.", RecordType::A);
    assert_eq!(ok.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&ok), ["192.0.2.1"]);
    let e = next_event(&h, "www.example.test");
    assert_eq!(e.decision, QueryDecision::Allowed);
    assert!(e.upstream.is_some());
}

#[test]
fn a_cname_into_tiktoks_cdn_is_blocked() {
    let h = start(BASE);
    let m = ask(h.addr, "cdn-alias.example.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let e = next_event(&h, "cdn-alias.example.test");
    assert_eq!(e.reason, Some(MatchReason::Cname));
    assert_eq!(e.rule.as_deref(), Some("cname:v16.tiktokv.com.edgesuite.net"));
    // again, from the cache: still blocked
    assert_eq!(
        ask(h.addr, "cdn-alias.example.test.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    let e = next_event(&h, "cdn-alias.example.test");
    assert!(e.cache_hit);
    assert_eq!(e.decision, QueryDecision::Blocked);
}

#[test]
fn answers_inside_blocked_prefixes_and_https_hints_are_blocked() {
    let h = start(BASE);
    assert_eq!(
        ask(h.addr, "ipblocked.example.test.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(next_event(&h, "ipblocked.example.test").reason, Some(MatchReason::Ip));
    assert_eq!(
        ask(h.addr, "hinted.example.test.", RecordType::HTTPS)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(
        next_event(&h, "hinted.example.test").rule.as_deref(),
        Some("ip:198.51.100.8")
    );
}

#[test]
fn allow_beats_block_and_groups_differ() {
    let h = start(BASE);
    let m = ask(h.addr, "ads.tiktok.com.", RecordType::A);
    assert_eq!(a_records(&m), ["192.0.2.1"], "custom allow wins over the TikTok block");
    assert_eq!(next_event(&h, "ads.tiktok.com").reason, Some(MatchReason::AllowRule));
    // the pilot group (127.0.0.2) is log-only: answered, recorded as would_block
    let s = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.send_to(&query("www.tiktok.com.", RecordType::A, true), h.addr)
        .expect("send");
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("answer");
    let m = Message::from_vec(&buf[..n]).expect("parse");
    assert_eq!(a_records(&m), ["192.0.2.1"]);
    let e = next_event(&h, "www.tiktok.com");
    assert_eq!((e.decision, &*e.group), (QueryDecision::WouldBlock, "pilot"));
}

#[test]
fn bypass_prevention() {
    let h = start(BASE);
    let m = ask(h.addr, "use-application-dns.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        next_event(&h, "use-application-dns.net").reason,
        Some(MatchReason::Bypass)
    );
    for relay in ["mask.icloud.com.", "mask-h2.icloud.com."] {
        assert_eq!(
            ask(h.addr, relay, RecordType::A).metadata.response_code,
            ResponseCode::NXDomain,
            "{relay}"
        );
    }
    let m = ask(h.addr, "_dns.resolver.arpa.", RecordType::SVCB);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "DDR gets NODATA");
    assert_eq!(next_event(&h, "_dns.resolver.arpa").reason, Some(MatchReason::Bypass));
    assert_eq!(
        ask(h.addr, "dns.google.", RecordType::A).metadata.response_code,
        ResponseCode::NXDomain,
        "public DoH blocked"
    );
}

#[test]
fn truncation_tcp_timeout_cache_any() {
    let h = start(BASE);
    // the upstream truncates over UDP; the resolver retries it over TCP and truncates for a 512-byte client
    let no_edns = udp(h.addr, &query("big.example.test.", RecordType::TXT, false)).expect("answer");
    assert!(no_edns.metadata.truncation);
    assert!(no_edns.answers.is_empty());
    let full = support_tcp(h.addr, &query("big.example.test.", RecordType::TXT, false));
    assert_eq!(full.answers.len(), 40);

    let t = Instant::now();
    let m = ask(h.addr, "slow.example.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(
        t.elapsed() < Duration::from_millis(1800),
        "SERVFAIL took {:?}",
        t.elapsed()
    );

    let before = h.upstream.count();
    ask(h.addr, "cached.example.test.", RecordType::A);
    ask(h.addr, "CACHED.example.test.", RecordType::A);
    ask(h.addr, "cached.example.test.", RecordType::A);
    assert_eq!(h.upstream.count() - before, 1, "one upstream query, two cache hits");

    let any = ask(h.addr, "example.test.", RecordType::ANY);
    assert!(
        matches!(&any.answers[0].data, RData::HINFO(_)),
        "RFC 8482 answer to ANY"
    );
}

fn support_tcp(addr: SocketAddr, packet: &[u8]) -> Message {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).expect("write");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).expect("len");
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).expect("body");
    Message::from_vec(&buf).expect("parse")
}

#[test]
fn tcp_pipelining_answers_every_query() {
    use std::io::{Read, Write};
    let h = start(BASE);
    let mut s = std::net::TcpStream::connect(h.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut all = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..20u16 {
        let name = if i % 2 == 0 {
            format!("p{i}.example.test.")
        } else {
            format!("p{i}.tiktok.com.")
        };
        let mut q = query(&name, RecordType::A, false);
        q[0..2].copy_from_slice(&i.to_be_bytes());
        ids.insert(i);
        all.extend_from_slice(&(q.len() as u16).to_be_bytes());
        all.extend_from_slice(&q);
    }
    s.write_all(&all).expect("write all at once");
    for _ in 0..20 {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).expect("len");
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).expect("body");
        let m = Message::from_vec(&buf).expect("parse");
        assert!(ids.remove(&m.metadata.id), "unexpected id {}", m.metadata.id);
    }
    assert!(ids.is_empty());
}

#[test]
fn malformed_input_never_stops_the_server() {
    use std::io::Write;
    let h = start(BASE);
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut junk: Vec<Vec<u8>> = vec![vec![], vec![0; 5], vec![0xff; 12], vec![0; 600]];
    // a compression loop in the question
    junk.push(vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    // a huge label count claim
    junk.push(vec![0, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 63]);
    let mut x: u64 = 0x1234_5678;
    for _ in 0..500 {
        let mut p = query("www.example.test.", RecordType::A, true);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x as usize) % p.len();
        p[i] ^= (x >> 32) as u8;
        p.truncate(((x >> 40) as usize) % (p.len() + 1));
        junk.push(p);
    }
    for j in &junk {
        let _ = s.send_to(j, h.addr);
    }
    // oversized and short TCP lengths
    for len in [0u16, 5, 65535] {
        if let Ok(mut t) = std::net::TcpStream::connect(h.addr) {
            let _ = t.write_all(&len.to_be_bytes());
            let _ = t.write_all(&[0u8; 100]);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        a_records(&ask(h.addr, "alive.example.test.", RecordType::A)),
        ["192.0.2.1"]
    );
}

#[test]
fn reload_under_load_loses_no_query() {
    let h = start(BASE);
    let addr = h.addr;
    let client = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
        let mut buf = [0u8; 4096];
        let mut answered = 0;
        for i in 0..1500u32 {
            let name = if i % 3 == 0 {
                "www.tiktok.com.".to_string()
            } else {
                format!("r{}.example.test.", i % 50)
            };
            let mut q = query(&name, RecordType::A, true);
            q[0..2].copy_from_slice(&(i as u16).to_be_bytes());
            s.send_to(&q, addr).expect("send");
            loop {
                let (n, _) = s.recv_from(&mut buf).expect("every query is answered");
                if buf[..n][0..2] == q[0..2] {
                    break;
                }
            }
            answered += 1;
        }
        answered
    });
    let policy = policy::Policy::parse(BASE, "t", None, h._overlay.as_deref()).expect("policy");
    let resolver = h.server.as_ref().expect("server").resolver().clone();
    for g in 2..30 {
        resolver.reload(build_state(&policy.plan(day()), &[], g));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(client.join().expect("client"), 1500);
    assert_eq!(resolver.state().generation, 29);
}

/// The UDP worker keeps the rules between batches and adds its counters up
/// per batch: a reload must still apply from the next datagram on, and the
/// counters must be complete by the time the client has its answer.
#[test]
fn udp_answers_follow_a_reload_at_once_and_counters_are_complete() {
    let h = start(BASE);
    let resolver = h.server.as_ref().expect("server").resolver().clone();
    let udp_queries = || resolver.metrics.queries[0].load(std::sync::atomic::Ordering::Relaxed);
    let hits = || resolver.metrics.cache_hits.load(std::sync::atomic::Ordering::Relaxed);
    let code = |name: &str| ask(h.addr, name, RecordType::A).metadata.response_code;

    assert_eq!(code("www.tiktok.com."), ResponseCode::NXDomain);
    assert_eq!(code("w1.example.test."), ResponseCode::NoError);
    assert_eq!(code("w1.example.test."), ResponseCode::NoError);
    assert_eq!(
        (udp_queries(), hits()),
        (3, 1),
        "three UDP queries, the repeat from the cache"
    );

    let open = BASE.replace(r#"allow = ["ads.tiktok.com"]"#, r#"allow = ["tiktok.com"]"#);
    let plan = |text: &str| {
        policy::Policy::parse(text, "t", None, h._overlay.as_deref())
            .expect("policy")
            .plan(day())
    };
    resolver.reload(build_state(&plan(&open), &[], 2));
    let m = ask(h.addr, "www.tiktok.com.", RecordType::A);
    assert_eq!(
        a_records(&m),
        ["192.0.2.1"],
        "allowed from the first query after the reload"
    );
    resolver.reload(build_state(&plan(BASE), &[], 3));
    assert_eq!(code("www.tiktok.com."), ResponseCode::NXDomain, "blocked again");
    assert_eq!(code("w1.example.test."), ResponseCode::NoError);
    assert_eq!((udp_queries(), hits()), (6, 2));
}

/// Every answer lands in the SQLite query log once: blocked and cached
/// answers through the rows the UDP worker encodes itself (written while the
/// server runs, once a row is old), forwarded ones through the writer; the
/// tap that feeds the alert pipeline sees the same events.
#[test]
fn every_udp_answer_lands_in_the_query_log() {
    let upstream = Upstream::start();
    let dir = std::env::temp_dir().join(format!("appwarden-dns-querylog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tapped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t = tapped.clone();
    let (sink, writer) = store::start_query_log(store::WriterConfig {
        dir: dir.clone(),
        queue: 100_000,
        batch: 8192,
        flush_every: Duration::from_millis(200),
        retention_days: 30,
        tap: Some(store::EventTap(Arc::new(move |evs: &[QueryEvent]| {
            t.fetch_add(evs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }))),
    })
    .expect("query log");
    let text = BASE.split("[[override]]").next().expect("text");
    let policy = policy::Policy::parse(text, "t", None, None).expect("policy");
    let resolver = test_resolver(build_state(&policy.plan(day()), &[], 1), upstream.addr, sink);
    let server = Server::start(
        resolver.clone(),
        &one_worker(vec!["127.0.0.1:0".parse().expect("addr")]),
    )
    .expect("server");
    let addr = server.addrs[0];
    for i in 0..40 {
        let m = ask(addr, &format!("v{i}.tiktok.com."), RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
    // forwarded, then answered from the cache
    for _ in 0..2 {
        for i in 0..20 {
            let m = ask(addr, &format!("w{i}.example.test."), RecordType::A);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        }
    }
    let stored = || store::QueryLog::open(&dir).and_then(|l| l.count()).unwrap_or(0);
    assert!(
        support::wait_until(Duration::from_secs(10), || stored() == 80),
        "written while the server runs: {} of 80",
        stored()
    );
    server.stop();
    drop(resolver);
    writer.join().expect("the writer ends with the last sink");
    assert_eq!(
        tapped.load(std::sync::atomic::Ordering::Relaxed),
        80,
        "the tap saw every event"
    );
    let events = store::QueryLog::open(&dir).expect("log").recent(1000).expect("recent");
    assert_eq!(events.len(), 80, "each answer once");
    let client: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
    assert!(
        events
            .iter()
            .all(|e| e.client == client && e.transport == store::Transport::Udp)
    );
    let blocked: Vec<_> = events.iter().filter(|e| e.decision == QueryDecision::Blocked).collect();
    assert_eq!(blocked.len(), 40);
    assert!(
        blocked
            .iter()
            .all(|e| e.app.as_deref() == Some("tiktok") && e.rcode == 3)
    );
    let cached: Vec<_> = events.iter().filter(|e| e.cache_hit).collect();
    assert_eq!(cached.len(), 20, "the repeats came from the cache");
    assert!(
        cached
            .iter()
            .all(|e| e.qname.starts_with('w') && e.decision == QueryDecision::Allowed)
    );
    let forwarded = events
        .iter()
        .filter(|e| !e.cache_hit && e.decision == QueryDecision::Allowed)
        .count();
    assert_eq!(forwarded, 20);
    let mut names: Vec<&str> = events.iter().map(|e| e.qname.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 60);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sockets bound before the rules are loaded hold the queries that arrive
/// meanwhile; serving answers them (UDP and TCP), none is refused.
#[test]
fn queries_sent_while_the_rules_load_are_answered_when_serving_starts() {
    let upstream = Upstream::start();
    let listeners = dns::server::Listeners::bind(&["127.0.0.1:0".parse().expect("addr")]).expect("bind");
    let addr = listeners.addrs()[0];
    let early = UdpSocket::bind("127.0.0.1:0").expect("bind");
    early.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    early
        .send_to(&query("www.tiktok.com.", RecordType::A, true), addr)
        .expect("send");
    let mut tcp = std::net::TcpStream::connect(addr).expect("TCP connect before serving");
    let q = query("early.example.test.", RecordType::A, true);
    tcp.write_all(&[&(q.len() as u16).to_be_bytes()[..], &q].concat())
        .expect("write");
    // "loading": nothing answers yet
    early
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    assert!(early.recv_from(&mut buf).is_err(), "answered before serving started");

    // BASE without its override of the test overlay's app
    let text = BASE.split("[[override]]").next().expect("text");
    let policy = policy::Policy::parse(text, "t", None, None).expect("policy");
    let (sink, _events) = EventSink::channel(1000);
    let resolver = test_resolver(build_state(&policy.plan(day()), &[], 1), upstream.addr, sink);
    let server = Server::start_on(resolver, listeners, &one_worker(Vec::new())).expect("serve");
    assert_eq!(server.addrs, [addr]);
    early.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let (n, _) = early.recv_from(&mut buf).expect("the early UDP query is answered");
    let m = Message::from_vec(&buf[..n]).expect("parse");
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).expect("the early TCP query is answered");
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut body).expect("body");
    assert_eq!(a_records(&Message::from_vec(&body).expect("parse")), ["192.0.2.1"]);
    server.stop();

    // a busy address is an error naming it, at bind time
    let held = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let busy = held.local_addr().expect("addr");
    match dns::server::Listeners::bind(&[busy]) {
        Err(e) => assert!(e.to_string().contains(&busy.to_string()), "{e}"),
        Ok(_) => panic!("bound a busy address"),
    }
}

#[test]
fn dig_sees_blocks_and_answers_over_udp_and_tcp() {
    if !require_tool("dig") {
        return;
    }
    let h = start(BASE);
    let dig = |args: &[&str]| {
        let out = std::process::Command::new("dig")
            .args(["@127.0.0.1", "-p", &h.addr.port().to_string(), "+time=3", "+tries=1"])
            .args(args)
            .output()
            .expect("dig runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = dig(&["www.tiktok.com"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    let out = dig(&["www.example.test", "+tcp"]);
    assert!(out.contains("status: NOERROR") && out.contains("192.0.2.1"), "{out}");
    // dig retries a truncated answer over TCP by itself
    let out = dig(&["big.example.test", "TXT", "+ignore", "+noedns"]);
    assert!(
        out.contains("flags: qr tc") || out.contains(" tc "),
        "truncated over UDP: {out}"
    );
    let out = dig(&["big.example.test", "TXT", "+noedns"]);
    assert!(out.contains("ANSWER: 40"), "{out}");
}
