//! Test support: a loopback authoritative upstream with names that exercise
//! the resolver, an in-process resolver on a free port, a UDP/TCP client, and
//! the rule for external tools (skip with a reason, or fail under
//! APPWARDEN_REQUIRE_TOOLS=1).

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{self, svcb};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Whether an external tool is there; without it a test skips with a printed
/// reason, unless APPWARDEN_REQUIRE_TOOLS=1 (CI), where it fails.
pub fn require_tool(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{tool} is required (APPWARDEN_REQUIRE_TOOLS=1); .ci/run installs it");
        }
        eprintln!("SKIP: {tool} not installed (apt-get install it, or run .ci/run)");
    }
    found
}

/// The test upstream: what it answers, and how many queries it saw. While
/// `silent` is set it reads queries and answers none (a dead upstream).
pub struct Upstream {
    pub addr: SocketAddr,
    pub queries: Arc<AtomicU64>,
    pub silent: Arc<AtomicBool>,
    /// Every question name received (lowercase, with the final dot).
    pub names: Arc<std::sync::Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

fn note(names: &std::sync::Mutex<Vec<String>>, q: &Message) {
    if let (Some(query), Ok(mut n)) = (q.queries.first(), names.lock()) {
        n.push(query.name().to_ascii().to_ascii_lowercase());
    }
}

fn answer(q: &Message) -> Option<Message> {
    let query = q.queries.first()?.clone();
    let name = query.name().to_ascii().to_ascii_lowercase();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.checking_disabled = q.metadata.checking_disabled;
    m.add_query(query.clone());
    let n = query.name().clone();
    let zone = Name::from_ascii("example.test.").ok()?;
    let soa = |m: &mut Message| {
        let s = rdata::SOA::new(zone.clone(), zone.clone(), 1, 3600, 600, 86400, 30);
        m.add_authority(Record::from_rdata(zone.clone(), 30, RData::SOA(s)));
    };
    match name.as_str() {
        "slow.example.test." => return None,
        "nx.example.test." => {
            m.metadata.response_code = ResponseCode::NXDomain;
            soa(&mut m);
        }
        "cdn-alias.example.test." => {
            let target = Name::from_ascii("v16.tiktokv.com.edgesuite.net.").ok()?;
            m.add_answer(Record::from_rdata(n, 300, RData::CNAME(rdata::CNAME(target.clone()))));
            m.add_answer(Record::from_rdata(target, 300, RData::A(rdata::A::new(192, 0, 2, 99))));
        }
        "ipblocked.example.test." => {
            m.add_answer(Record::from_rdata(n, 300, RData::A(rdata::A::new(198, 51, 100, 7))));
        }
        "hinted.example.test." if query.query_type() == RecordType::HTTPS => {
            let params = vec![(
                svcb::SvcParamKey::Ipv4Hint,
                svcb::SvcParamValue::Ipv4Hint(svcb::IpHint(vec![rdata::A::new(198, 51, 100, 8)])),
            )];
            let rd = svcb::SVCB::new(1, Name::root(), params);
            m.add_answer(Record::from_rdata(n, 300, RData::HTTPS(rdata::HTTPS(rd))));
        }
        "big.example.test." => {
            for i in 0..40 {
                let txt = format!("record {i} padding padding padding padding padding");
                m.add_answer(Record::from_rdata(
                    n.clone(),
                    300,
                    RData::TXT(rdata::TXT::new(vec![txt])),
                ));
            }
        }
        _ if name.ends_with(".example.test.") && query.query_type() != RecordType::A => soa(&mut m),
        _ => {
            // everything else exists: blocked names are told apart by the resolver's NXDOMAIN
            if query.query_type() == RecordType::A {
                m.add_answer(Record::from_rdata(n, 300, RData::A(rdata::A::new(192, 0, 2, 1))));
            }
        }
    }
    Some(m)
}

impl Upstream {
    /// Starts it on 127.0.0.1, a free port, UDP and TCP.
    pub fn start() -> Upstream {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let queries = Arc::new(AtomicU64::new(0));
        let silent = Arc::new(AtomicBool::new(false));
        let names = Arc::new(std::sync::Mutex::new(Vec::new()));
        let udp = rt
            .block_on(tokio::net::UdpSocket::bind("127.0.0.1:0"))
            .expect("bind udp");
        let addr = udp.local_addr().expect("addr");
        let tcp = rt.block_on(tokio::net::TcpListener::bind(addr)).expect("bind tcp");
        let count = queries.clone();
        let quiet = silent.clone();
        let seen = names.clone();
        rt.spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                note(&seen, &q);
                if quiet.load(Ordering::SeqCst) {
                    continue;
                }
                let limit = q.edns.as_ref().map_or(512, |e| usize::from(e.max_payload()));
                if let Some(mut m) = answer(&q) {
                    let mut bytes = m.to_vec().expect("encode");
                    if bytes.len() > limit {
                        m.answers.clear();
                        m.metadata.truncation = true;
                        bytes = m.to_vec().expect("encode");
                    }
                    let _ = udp.send_to(&bytes, peer).await;
                }
            }
        });
        let count = queries.clone();
        let quiet = silent.clone();
        let seen = names.clone();
        rt.spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    continue;
                };
                let count = count.clone();
                let quiet = quiet.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = s.read_u16().await else { return };
                        let mut buf = vec![0u8; len as usize];
                        if s.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        let Ok(q) = Message::from_vec(&buf) else {
                            return;
                        };
                        note(&seen, &q);
                        if quiet.load(Ordering::SeqCst) {
                            continue;
                        }
                        if let Some(m) = answer(&q) {
                            let bytes = m.to_vec().expect("encode");
                            let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(&bytes);
                            if s.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Upstream {
            addr,
            queries,
            silent,
            names,
            _rt: rt,
        }
    }

    pub fn count(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }

    /// Whether it received a question for `name` (lowercase, final dot).
    pub fn saw(&self, name: &str) -> bool {
        self.names.lock().expect("names").iter().any(|n| n == name)
    }
}

/// Builds a query.
pub fn query(name: &str, t: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(hickory_proto::op::Query::query(
        Name::from_ascii(name).expect("name"),
        t,
    ));
    if edns {
        let mut e = hickory_proto::op::Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m.to_vec().expect("encode")
}

/// Sends over UDP and waits for one answer.
pub fn udp(server: SocketAddr, packet: &[u8]) -> Option<Message> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.send_to(packet, server).ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Message::from_vec(&buf[..n]).ok()
}

/// Asks `name`/`t` over UDP.
pub fn ask(server: SocketAddr, name: &str, t: RecordType) -> Message {
    udp(server, &query(name, t, true)).unwrap_or_else(|| panic!("no answer for {name}"))
}

/// A test CA and a certificate it signed for `dns.test`, `*.dns.test` and
/// 127.0.0.1, written as PEM files into a fresh directory.
pub struct TestPki {
    pub dir: std::path::PathBuf,
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl TestPki {
    pub fn new(tag: &str) -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let dir = std::env::temp_dir().join(format!("appwarden-pki-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki dir");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "appwarden test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
        let mut leaf = CertificateParams::new(vec!["dns.test".into(), "*.dns.test".into(), "127.0.0.1".into()])
            .expect("leaf params");
        leaf.distinguished_name.push(DnType::CommonName, "dns.test");
        let key = KeyPair::generate().expect("leaf key");
        let cert = leaf.signed_by(&key, &ca).expect("leaf");
        let pki = TestPki {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        std::fs::write(&pki.ca, ca.pem()).expect("write ca");
        std::fs::write(&pki.cert, cert.pem()).expect("write cert");
        std::fs::write(&pki.key, key.serialize_pem()).expect("write key");
        pki
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `f` every 20 ms until it is true or `limit` passes; whether it became true.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
