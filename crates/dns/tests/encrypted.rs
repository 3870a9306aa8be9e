//! DNS-over-TLS and DNS-over-HTTPS on loopback, with a test CA made here:
//! the listeners with real clients (`kdig` over TLS and HTTP/2, `curl` over
//! HTTP/1.1) and in-process HTTP/1.1 and HTTP/2 requests; client ids in the
//! DoH path and the DoT SNI; DoT and DoH upstreams (another resolver of
//! this crate with TLS listeners) with reconnect and failover; active
//! health checks; malformed input on the new listeners.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dns::cache::{Cache, CacheConfig};
use dns::http_client::{self, Sender, Target};
use dns::resolver::{Resolver, ResolverOptions};
use dns::server::{EncryptedOptions, ServeOptions, Server, build_state};
use dns::tls::{CertStore, ClientTls, alpn};
use dns::upstream::{UpstreamOptions, UpstreamSpec, Upstreams};
use dns::wire::BlockedAnswer;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use http_body_util::{BodyExt, Full};
use store::{EventSink, QueryEvent, Transport};
use support::{TestPki, Upstream, ask, query, require_tool, wait_until};

const POLICY: &str = r#"
[organisation]
name = "Test"
profile = "bank"
jurisdiction = "DE"

[[group]]
id = "corp"
default = true
clients = ["127.0.0.0/8"]

[[group]]
id = "open"
client_ids = ["open"]
allow = ["tiktok.com"]
"#;

/// One resolver of this crate on loopback: plain, DoT and DoH listeners.
struct Node {
    server: Option<Server>,
    addr: SocketAddr,
    dot: SocketAddr,
    doh: SocketAddr,
    events: Receiver<Vec<QueryEvent>>,
    pending: std::cell::RefCell<std::collections::VecDeque<QueryEvent>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

impl Node {
    fn start(pki: &TestPki, upstreams: Vec<UpstreamSpec>, health: Option<Duration>, idle: Duration) -> Node {
        // compiled once per test binary: the catalog is big for a debug build
        static PLAN: std::sync::OnceLock<policy::EnforcementPlan> = std::sync::OnceLock::new();
        let plan = PLAN.get_or_init(|| {
            let policy = policy::Policy::parse(POLICY, "test.toml", None, None).expect("policy");
            policy.plan(catalog::Day::new(2026, 11, 22).expect("day"))
        });
        let (sink, events) = EventSink::channel(100_000);
        let ups = Upstreams::with_options(
            upstreams,
            UpstreamOptions {
                per_try: Duration::from_millis(300),
                deadline: Duration::from_millis(1500),
                health_check: health,
                probe_name: ".".into(),
                tls: Arc::new(ClientTls::new(Some(&pki.ca)).expect("ca")),
            },
        );
        let resolver = Arc::new(Resolver::new(
            build_state(plan, &[], 1),
            Cache::new(CacheConfig::default()),
            ups,
            sink,
            ResolverOptions {
                blocked: BlockedAnswer::Nxdomain,
                blocked_ttl: 60,
                edns_udp_size: 1232,
                rate_limit_qps: 0,
            },
        ));
        let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let server = Server::start(
            resolver,
            &ServeOptions {
                listen: vec![any],
                udp_workers: 1,
                async_workers: 2,
                tcp_idle: idle,
                tcp_max_connections: 64,
                encrypted: Some(EncryptedOptions {
                    tls_listen: vec![any],
                    https_listen: vec![any],
                    https_path: "/dns-query".into(),
                    tls_server_name: None,
                    cert: CertStore::load(&pki.cert, &pki.key).expect("cert"),
                }),
            },
        )
        .expect("server");
        Node {
            addr: server.addrs[0],
            dot: server.tls_addrs[0],
            doh: server.https_addrs[0],
            server: Some(server),
            events,
            pending: Default::default(),
        }
    }

    fn resolver(&self) -> &Arc<Resolver> {
        self.server.as_ref().expect("server").resolver()
    }

    fn event(&self, name: &str) -> QueryEvent {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let next = self.pending.borrow_mut().pop_front();
            match next {
                Some(e) if e.qname == name => return e,
                Some(_) => {}
                None => {
                    if let Ok(batch) = self.events.recv_timeout(Duration::from_millis(100)) {
                        self.pending.borrow_mut().extend(batch);
                    }
                }
            }
        }
        panic!("no event for {name}");
    }
}

fn a_records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect()
}

fn kdig(args: &[String]) -> String {
    let out = std::process::Command::new("kdig")
        .args(["+timeout=3", "+retry=0"])
        .args(args)
        .output()
        .expect("kdig runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A connection to a DoH listener over `proto` (ALPN), trusting the test CA.
async fn connect(tls: &ClientTls, addr: SocketAddr, proto: &[u8]) -> Sender {
    let ip = addr.ip().to_string();
    http_client::connect(Target {
        host: &ip,
        port: addr.port(),
        tls: Some((tls.config(&[proto]).expect("config"), "dns.test")),
    })
    .await
    .expect("connect")
}

/// An in-process HTTPS request to a DoH listener over `proto` (ALPN), on a new connection.
async fn https(
    tls: &ClientTls,
    addr: SocketAddr,
    proto: &[u8],
    req: hyper::Request<Full<Bytes>>,
) -> (hyper::StatusCode, hyper::HeaderMap, Vec<u8>, bool) {
    let mut s = connect(tls, addr, proto).await;
    exchange(&mut s, addr, req).await
}

async fn exchange(
    s: &mut Sender,
    addr: SocketAddr,
    req: hyper::Request<Full<Bytes>>,
) -> (hyper::StatusCode, hyper::HeaderMap, Vec<u8>, bool) {
    let h2 = matches!(s, Sender::H2(_));
    let resp = s
        .send(req, true, &format!("dns.test:{}", addr.port()))
        .await
        .expect("response");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status, parts.headers, body, h2)
}

fn get(path: &str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::get(path)
        .body(Full::new(Bytes::new()))
        .expect("request")
}

fn post(path: &str, ct: &str, body: Vec<u8>) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post(path)
        .header("content-type", ct)
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

fn b64(q: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(q)
}

#[test]
fn dot_answers_and_the_sni_client_id_selects_the_group() {
    if !require_tool("kdig") {
        return;
    }
    let up = Upstream::start();
    let pki = TestPki::new("dot");
    let n = Node::start(&pki, vec![UpstreamSpec::Plain(up.addr)], None, Duration::from_secs(2));
    let base = |sni: &str, name: &str| {
        vec![
            "@127.0.0.1".to_string(),
            "-p".into(),
            n.dot.port().to_string(),
            format!("+tls-ca={}", pki.ca.display()),
            "+tls-hostname=dns.test".into(),
            format!("+tls-sni={sni}"),
            name.into(),
            "A".into(),
        ]
    };
    let out = kdig(&base("dns.test", "www.example.test"));
    assert!(out.contains("NOERROR") && out.contains("192.0.2.1"), "{out}");
    let e = n.event("www.example.test");
    assert_eq!((e.transport, &*e.group), (Transport::Tls, "corp"));

    // group corp (by address): TikTok blocked
    let out = kdig(&base("dns.test", "www.tiktok.com"));
    assert!(out.contains("NXDOMAIN"), "{out}");
    assert_eq!(&*n.event("www.tiktok.com").group, "corp");
    // SNI open.dns.test: client id `open`, whose group allows it
    let out = kdig(&base("open.dns.test", "www.tiktok.com"));
    assert!(out.contains("NOERROR") && out.contains("192.0.2.1"), "{out}");
    let e = n.event("www.tiktok.com");
    assert_eq!((e.transport, &*e.group), (Transport::Tls, "open"));
    // an unknown first label: the address decides
    let out = kdig(&base("nobody.dns.test", "m.tiktok.com"));
    assert!(out.contains("NXDOMAIN"), "{out}");
    // a client that does not trust the certificate gets nothing
    let out = kdig(&[
        "@127.0.0.1".into(),
        "-p".into(),
        n.dot.port().to_string(),
        "+tls-ca=/dev/null".into(),
        "+tls-hostname=dns.test".into(),
        "www.example.test".into(),
    ]);
    assert!(!out.contains("192.0.2.1"), "{out}");
}

#[test]
fn doh_get_and_post_over_http2_and_http11_with_path_client_ids() {
    let up = Upstream::start();
    let pki = TestPki::new("doh");
    let n = Node::start(&pki, vec![UpstreamSpec::Plain(up.addr)], None, Duration::from_secs(2));
    let rt = rt();
    let tls = ClientTls::new(Some(&pki.ca)).expect("ca");
    let q = query("www.tiktok.com.", RecordType::A, false);
    for proto in [alpn::H2, alpn::HTTP11] {
        // POST, default group: blocked; the answer's smallest TTL as max-age
        let (status, headers, body, h2) = rt.block_on(https(
            &tls,
            n.doh,
            proto,
            post("/dns-query", "application/dns-message", q.clone()),
        ));
        assert_eq!(h2, proto == alpn::H2);
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/dns-message");
        assert_eq!(headers["cache-control"], "max-age=60", "blocked_ttl");
        let m = Message::from_vec(&body).expect("answer");
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let e = n.event("www.tiktok.com");
        assert_eq!((e.transport, &*e.group), (Transport::Https, "corp"));
        // GET with the client id `open` in the path: allowed
        let (status, headers, body, _) = rt.block_on(https(
            &tls,
            n.doh,
            proto,
            get(&format!("/dns-query/open?dns={}", b64(&q))),
        ));
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "max-age=300", "the upstream's TTL");
        assert_eq!(a_records(&Message::from_vec(&body).expect("answer")), ["192.0.2.1"]);
        assert_eq!(&*n.event("www.tiktok.com").group, "open");
    }

    if require_tool("kdig") {
        let base = |path: &str, name: &str| {
            vec![
                "@127.0.0.1".to_string(),
                "-p".into(),
                n.doh.port().to_string(),
                format!("+tls-ca={}", pki.ca.display()),
                "+tls-hostname=dns.test".into(),
                format!("+https={path}"),
                name.into(),
                "A".into(),
            ]
        };
        let out = kdig(&base("/dns-query", "www.tiktok.com"));
        assert!(out.contains("NXDOMAIN") && out.contains("HTTP/2"), "{out}");
        let out = kdig(&base("/dns-query/open", "www.tiktok.com"));
        assert!(out.contains("NOERROR") && out.contains("192.0.2.1"), "{out}");
        let mut get = base("/dns-query/open", "kdig-get.example.test");
        get.push("+https-get".into());
        let out = kdig(&get);
        assert!(out.contains("NOERROR") && out.contains("192.0.2.1"), "{out}");
        assert!(out.contains("GET"), "{out}");
        let e = n.event("kdig-get.example.test");
        assert_eq!((e.transport, &*e.group), (Transport::Https, "open"));
    }
    if require_tool("curl") {
        let url = format!(
            "https://dns.test:{}/dns-query?dns={}",
            n.doh.port(),
            b64(&query("curl.example.test.", RecordType::A, false))
        );
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "--http1.1",
                "--max-time",
                "5",
                "--cacert",
            ])
            .arg(&pki.ca)
            .args(["--resolve", &format!("dns.test:{}:127.0.0.1", n.doh.port()), &url])
            .output()
            .expect("curl runs");
        let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-type: application/dns-message"), "{head}");
        assert!(head.contains("cache-control: max-age=300"), "{head}");
    }
}

#[test]
fn doh_status_codes() {
    let up = Upstream::start();
    let pki = TestPki::new("status");
    let n = Node::start(&pki, vec![UpstreamSpec::Plain(up.addr)], None, Duration::from_secs(2));
    let rt = rt();
    let tls = ClientTls::new(Some(&pki.ca)).expect("ca");
    let q = query("www.example.test.", RecordType::A, false);
    for proto in [alpn::H2, alpn::HTTP11] {
        let status = |req| rt.block_on(https(&tls, n.doh, proto, req)).0;
        assert_eq!(status(get("/dns-query?dns=!!notbase64!!")), 400);
        assert_eq!(status(get("/dns-query")), 400, "no dns parameter");
        assert_eq!(
            status(get(&format!("/dns-query?dns={}", b64(&[1, 2, 3])))),
            400,
            "no query"
        );
        assert_eq!(status(post("/dns-query", "text/plain", q.clone())), 415);
        assert_eq!(
            status(post("/dns-query", "application/dns-message", vec![0; 70_000])),
            413
        );
        assert_eq!(status(get(&format!("/elsewhere?dns={}", b64(&q)))), 404);
        assert_eq!(status(get(&format!("/dns-query/a/b?dns={}", b64(&q)))), 404);
        let put = hyper::Request::put("/dns-query")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let (st, headers, _, _) = rt.block_on(https(&tls, n.doh, proto, put));
        assert_eq!((st.as_u16(), headers["allow"].to_str().ok()), (405, Some("GET, POST")));
        assert_eq!(status(get(&format!("/dns-query?dns={}", b64(&q)))), 200);
    }
}

static PANICS: AtomicU64 = AtomicU64::new(0);

#[test]
fn malformed_input_on_the_encrypted_listeners_never_panics() {
    use std::io::{Read, Write};
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
    let up = Upstream::start();
    let pki = TestPki::new("junk");
    let n = Node::start(
        &pki,
        vec![UpstreamSpec::Plain(up.addr)],
        None,
        Duration::from_millis(500),
    );
    // not TLS at all, a truncated ClientHello, plain HTTP on the TLS port
    let hello_start = [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    for port in [n.dot.port(), n.doh.port()] {
        for junk in [
            &[0xffu8; 600][..],
            &hello_start[..],
            b"GET /dns-query HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
            let _ = s.write_all(junk);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
    let rt = rt();
    let tls = ClientTls::new(Some(&pki.ca)).expect("ca");
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // DoT: bad frames after a good handshake
        for frame in [&[0u8, 0][..], &[0, 5, 1, 2, 3, 4, 5][..], &[0xff, 0xff, 1, 2, 3][..]] {
            let cfg = tls.config(&[alpn::DOT]).expect("cfg");
            let tcp = tokio::net::TcpStream::connect(n.dot).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from("dns.test").expect("name");
            let mut tls = tokio_rustls::TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .expect("handshake");
            let _ = tls.write_all(frame).await;
            let _ = tls.shutdown().await;
            let _ = tokio::time::timeout(Duration::from_secs(2), tls.read_to_end(&mut Vec::new())).await;
        }
        // DoH: oversized headers, garbage bodies, odd parameters
        let big = "A".repeat(60_000);
        for req in [
            get(&format!("/dns-query?dns={big}")),
            hyper::Request::get("/dns-query?dns=AAAA")
                .header("x-padding", "y".repeat(100_000))
                .body(Full::new(Bytes::new()))
                .expect("req"),
            get("/dns-query?dns="),
            get("/dns-query?dns=%ZZ"),
            get("/dns-query/%00?dns=AAAA"),
            post("/dns-query", "application/dns-message", vec![0xff; 100]),
            post("/dns-query", "application/dns-message", Vec::new()),
            post("/dns-query", "", vec![1]),
        ] {
            let cfg = tls.config(&[alpn::HTTP11]).expect("cfg");
            if let Ok(mut s) = http_client::connect(Target {
                host: "127.0.0.1",
                port: n.doh.port(),
                tls: Some((cfg, "dns.test")),
            })
            .await
            {
                let _ = s.send(req, true, "dns.test").await;
            }
        }
    });
    // fuzzed queries over one HTTP/2 connection: answered or refused, never a crash
    rt.block_on(async {
        let mut s = connect(&tls, n.doh, alpn::H2).await;
        let mut x: u64 = 0x9e37_79b9;
        for _ in 0..200 {
            let mut p = query("www.example.test.", RecordType::A, true);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % p.len();
            p[i] ^= (x >> 32) as u8;
            p.truncate(((x >> 40) as usize) % (p.len() + 1));
            let (st, ..) = exchange(&mut s, n.doh, post("/dns-query", "application/dns-message", p)).await;
            assert!(st == 200 || st == 400, "{st}");
        }
    });
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a listener panicked");
    // still serving, over every transport
    assert_eq!(
        a_records(&ask(n.addr, "alive.example.test.", RecordType::A)),
        ["192.0.2.1"]
    );
    let q = query("alive2.example.test.", RecordType::A, false);
    let (st, _, body, _) = rt.block_on(https(
        &tls,
        n.doh,
        alpn::H2,
        post("/dns-query", "application/dns-message", q),
    ));
    assert_eq!(st, 200);
    assert_eq!(a_records(&Message::from_vec(&body).expect("answer")), ["192.0.2.1"]);
}

#[test]
fn dot_and_doh_upstreams_with_reconnect_and_failover() {
    let up = Upstream::start();
    let pki = TestPki::new("upstreams");
    // the "remote" encrypted resolver: closes idle connections after 300 ms
    let back = Node::start(
        &pki,
        vec![UpstreamSpec::Plain(up.addr)],
        None,
        Duration::from_millis(300),
    );
    let dot = UpstreamSpec::parse(&format!("tls://127.0.0.1:{}#dns.test", back.dot.port())).expect("tls");
    let doh = UpstreamSpec::parse(&format!("https://127.0.0.1:{}/dns-query#dns.test", back.doh.port())).expect("https");
    for spec in [dot.clone(), doh.clone()] {
        let front = Node::start(&pki, vec![spec.clone()], None, Duration::from_secs(2));
        let name = format!("{}.example.test", if spec == dot { "via-dot" } else { "via-doh" });
        assert_eq!(
            a_records(&ask(front.addr, &format!("{name}."), RecordType::A)),
            ["192.0.2.1"]
        );
        let e = front.event(&name);
        assert_eq!(e.upstream.as_deref(), Some(spec.to_string().as_str()));
        // CD passes through both hops (the test upstream echoes it)
        let mut q = query(&format!("cd.{name}."), RecordType::A, true);
        q[3] |= 0x10;
        let m = support::udp(front.addr, &q).expect("answer");
        assert!(m.metadata.checking_disabled, "CD bit lost");
        // the remote closed the kept connection meanwhile: a new one is made
        std::thread::sleep(Duration::from_millis(700));
        assert_eq!(
            a_records(&ask(front.addr, &format!("again.{name}."), RecordType::A)),
            ["192.0.2.1"],
            "after the idle close"
        );
        // and several at once over the one connection
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let a = front.addr;
                let name = format!("p{i}.{name}.");
                std::thread::spawn(move || a_records(&ask(a, &name, RecordType::A)))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread"), ["192.0.2.1"]);
        }
        // a bad server name: the certificate does not match, no answer
        let wrong = match &spec {
            UpstreamSpec::Tls { host, port, .. } => UpstreamSpec::Tls {
                host: host.clone(),
                port: *port,
                server_name: "other.example".into(),
            },
            UpstreamSpec::Https(u) => {
                let mut u = u.clone();
                u.tls_name = Some("other.example".into());
                UpstreamSpec::Https(u)
            }
            _ => unreachable!(),
        };
        let bad = Node::start(&pki, vec![wrong], None, Duration::from_secs(2));
        assert_eq!(
            ask(bad.addr, "x.example.test.", RecordType::A).metadata.response_code,
            ResponseCode::ServFail
        );
    }
    // failover: a dead DoT upstream first, then DoH
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    let dead = UpstreamSpec::parse(&format!("tls://127.0.0.1:{dead_port}#dns.test")).expect("tls");
    let front = Node::start(&pki, vec![dead, doh.clone()], None, Duration::from_secs(2));
    assert_eq!(
        a_records(&ask(front.addr, "fo.example.test.", RecordType::A)),
        ["192.0.2.1"]
    );
    assert_eq!(
        front.event("fo.example.test").upstream.as_deref(),
        Some(doh.to_string().as_str())
    );
}

/// A DoH server that offers only HTTP/1.1 (ALPN `http/1.1`): each POSTed
/// query goes to `up` over UDP and the answer comes back. Counts the TCP
/// connections it accepts.
fn http11_only_doh(pki: &TestPki, up: SocketAddr) -> (SocketAddr, Arc<AtomicU64>) {
    let store = CertStore::load(&pki.cert, &pki.key).expect("certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(store.server_config(&[alpn::HTTP11]).expect("tls"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let conns = Arc::new(AtomicU64::new(0));
    let counted = conns.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((tcp, _)) = l.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let answer =
                        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| async move {
                            let q = req
                                .into_body()
                                .collect()
                                .await
                                .map_err(std::io::Error::other)?
                                .to_bytes();
                            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
                            sock.send_to(&q, up).await?;
                            let mut buf = vec![0u8; 4096];
                            let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await??;
                            buf.truncate(n);
                            hyper::Response::builder()
                                .header("content-type", "application/dns-message")
                                .body(Full::new(Bytes::from(buf)))
                                .map_err(std::io::Error::other)
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), answer)
                        .await;
                });
            }
        });
    });
    (addr, conns)
}

/// A DoH upstream that speaks only HTTP/1.1 is used over HTTP/1.1: its
/// connections are kept and reused, and several queries at once get
/// connections of their own.
#[test]
fn doh_upstream_over_http11_when_the_server_has_no_http2() {
    let up = Upstream::start();
    let pki = TestPki::new("doh-h1");
    let (addr, conns) = http11_only_doh(&pki, up.addr);
    let spec = UpstreamSpec::parse(&format!("https://127.0.0.1:{}/dns-query#dns.test", addr.port())).expect("https");
    let front = Node::start(&pki, vec![spec.clone()], None, Duration::from_secs(2));
    for i in 0..5 {
        let name = format!("h1-{i}.example.test");
        assert_eq!(
            a_records(&ask(front.addr, &format!("{name}."), RecordType::A)),
            ["192.0.2.1"]
        );
        assert_eq!(front.event(&name).upstream.as_deref(), Some(spec.to_string().as_str()));
    }
    assert_eq!(
        conns.load(Ordering::Relaxed),
        1,
        "one kept-alive connection for queries one after another"
    );
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let a = front.addr;
            let name = format!("h1-p{i}.example.test.");
            std::thread::spawn(move || a_records(&ask(a, &name, RecordType::A)))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), ["192.0.2.1"]);
    }
    let after = conns.load(Ordering::Relaxed);
    assert!((1..=7).contains(&after), "{after} connections for six at once");
    // the connections opened for them are kept too: nothing new for the next ones
    for i in 0..4 {
        ask(front.addr, &format!("h1-again-{i}.example.test."), RecordType::A);
    }
    assert_eq!(conns.load(Ordering::Relaxed), after, "idle connections reused");
}

#[test]
fn health_checks_mark_an_upstream_down_and_up_again() {
    let a = Upstream::start();
    let b = Upstream::start();
    let pki = TestPki::new("health");
    let n = Node::start(
        &pki,
        vec![UpstreamSpec::Plain(a.addr), UpstreamSpec::Plain(b.addr)],
        Some(Duration::from_millis(100)),
        Duration::from_secs(2),
    );
    let r = n.resolver().clone();
    let metric = |up: &Upstream| {
        let text = dns::metrics::render_prometheus(&r);
        let key = format!("appwarden_upstream_up{{upstream=\"{}\"}} ", up.addr);
        text.lines()
            .find_map(|l| l.strip_prefix(&key).map(str::to_string))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
    };
    assert!(
        wait_until(Duration::from_secs(2), || a.count() > 0 && b.count() > 0),
        "probes are sent"
    );
    assert_eq!((metric(&a), metric(&b)), ("1".into(), "1".into()));

    a.silent.store(true, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(3), || !r.upstreams().is_up(0)),
        "a silent upstream is marked down"
    );
    assert_eq!((metric(&a), metric(&b)), ("0".into(), "1".into()));
    // failover skips it: every query goes to b only
    for i in 0..5 {
        let name = format!("h{i}.example.test");
        assert_eq!(
            a_records(&ask(n.addr, &format!("{name}."), RecordType::A)),
            ["192.0.2.1"]
        );
        assert_eq!(n.event(&name).upstream.as_deref(), Some(b.addr.to_string().as_str()));
        assert!(b.saw(&format!("{name}.")), "{name} not sent to b");
        assert!(!a.saw(&format!("{name}.")), "{name} was sent to the down upstream");
    }
    // not even as a failover when b does not answer
    let m = ask(n.addr, "slow.example.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(b.saw("slow.example.test.") && !a.saw("slow.example.test."));

    a.silent.store(false, Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(3), || r.upstreams().is_up(0)),
        "a probe that is answered brings it back"
    );
    assert_eq!(metric(&a), "1");
}

#[test]
fn a_reload_swaps_the_listener_certificate() {
    let up = Upstream::start();
    let old = TestPki::new("reload-old");
    let new = TestPki::new("reload-new");
    let n = Node::start(&old, vec![UpstreamSpec::Plain(up.addr)], None, Duration::from_secs(2));
    let rt = rt();
    let q = query("cert.example.test.", RecordType::A, false);
    let works = |ca: &TestPki| {
        let tls = ClientTls::new(Some(&ca.ca)).expect("ca");
        let cfg = tls.config(&[alpn::H2]).expect("cfg");
        rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(n.doh).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from("dns.test").expect("name");
            tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await.is_ok()
        })
    };
    assert!(works(&old) && !works(&new));
    // a broken key file: the reload fails, the certificate in use stays
    std::fs::write(&old.key, "not a key").expect("write");
    let store = n.server.as_ref().expect("server").cert().expect("cert").clone();
    assert!(store.reload().is_err());
    assert!(works(&old));
    std::fs::copy(&new.cert, &old.cert).expect("copy cert");
    std::fs::copy(&new.key, &old.key).expect("copy key");
    store.reload().expect("reload");
    assert!(works(&new) && !works(&old));
    let tls = ClientTls::new(Some(&new.ca)).expect("ca");
    let (st, ..) = rt.block_on(https(
        &tls,
        n.doh,
        alpn::H2,
        post("/dns-query", "application/dns-message", q),
    ));
    assert_eq!(st, 200);
}
