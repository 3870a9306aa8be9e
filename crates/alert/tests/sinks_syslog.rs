//! Syslog sink: loopback UDP, TCP (octet counting) and TLS listeners; the test
//! parses the RFC 5424 messages (header, structured data with escaping) and the
//! CEF records (header and extension escaping) on its own.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use alert::{Notification, Status};
use support::{TempDir, notification};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

/// A parsed RFC 5424 message.
#[derive(Debug)]
struct Syslog {
    pri: u16,
    timestamp: String,
    hostname: String,
    app: String,
    procid: String,
    msgid: String,
    sd_id: Option<String>,
    /// Parameters in order (names may repeat).
    params: Vec<(String, String)>,
    msg: String,
}

impl Syslog {
    fn param(&self, k: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k}"))
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// RFC 5424 §6, enough of it: one SD-ELEMENT or `-`.
fn parse_5424(s: &str) -> Syslog {
    let rest = s.strip_prefix('<').unwrap();
    let (pri, rest) = rest.split_once('>').unwrap();
    let rest = rest.strip_prefix("1 ").expect("VERSION 1");
    let mut f = rest.splitn(6, ' ');
    let (timestamp, hostname, app, procid, msgid) = (
        f.next().unwrap(),
        f.next().unwrap(),
        f.next().unwrap(),
        f.next().unwrap(),
        f.next().unwrap(),
    );
    let rest = f.next().unwrap();
    let (sd_id, params, msg) = if let Some(r) = rest.strip_prefix("- ") {
        (None, vec![], r.to_string())
    } else {
        let chars: Vec<char> = rest.chars().collect();
        assert_eq!(chars[0], '[');
        let mut i = 1;
        let mut id = String::new();
        while chars[i] != ' ' && chars[i] != ']' {
            id.push(chars[i]);
            i += 1;
        }
        let mut params = Vec::new();
        while chars[i] == ' ' {
            i += 1;
            let mut name = String::new();
            while chars[i] != '=' {
                assert!(
                    chars[i] != ' ' && chars[i] != ']' && chars[i] != '"',
                    "bad PARAM-NAME in {s}"
                );
                name.push(chars[i]);
                i += 1;
            }
            assert!(name.len() <= 32);
            assert_eq!(chars[i + 1], '"');
            i += 2;
            let mut value = String::new();
            loop {
                match chars[i] {
                    '\\' if matches!(chars[i + 1], '"' | '\\' | ']') => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    '"' => {
                        i += 1;
                        break;
                    }
                    ']' => panic!("unescaped ] in PARAM-VALUE: {s}"),
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            params.push((name, value));
        }
        assert_eq!(chars[i], ']');
        assert_eq!(chars[i + 1], ' ');
        (Some(id), params, chars[i + 2..].iter().collect())
    };
    Syslog {
        pri: pri.parse().unwrap(),
        timestamp: timestamp.into(),
        hostname: hostname.into(),
        app: app.into(),
        procid: procid.into(),
        msgid: msgid.into(),
        sd_id,
        params,
        msg,
    }
}

/// CEF: 7 header fields split on unescaped `|`, then `key=value` pairs.
fn parse_cef(s: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while header.len() < 7 {
        match chars.next().unwrap() {
            '\\' => cur.push(chars.next().unwrap()),
            '|' => header.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    let ext: Vec<char> = chars.collect();
    // Positions of unescaped '='.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < ext.len() {
        if ext[i] == '\\' {
            i += 2;
            continue;
        }
        if ext[i] == '=' {
            eqs.push(i);
        }
        i += 1;
    }
    let key_start = |eq: usize| ext[..eq].iter().rposition(|&c| c == ' ').map(|p| p + 1).unwrap_or(0);
    let mut map = BTreeMap::new();
    for (k, &eq) in eqs.iter().enumerate() {
        let ks = key_start(eq);
        let key: String = ext[ks..eq].iter().collect();
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()), "bad key {key:?}");
        let end = eqs.get(k + 1).map(|&n| key_start(n) - 1).unwrap_or(ext.len());
        let raw = &ext[eq + 1..end];
        let mut v = String::new();
        let mut j = 0;
        while j < raw.len() {
            if raw[j] == '\\' {
                v.push(match raw[j + 1] {
                    'n' => '\n',
                    'r' => '\r',
                    c => c,
                });
                j += 2;
            } else {
                v.push(raw[j]);
                j += 1;
            }
        }
        assert!(map.insert(key.clone(), v).is_none(), "duplicate key {key}");
    }
    (header, map)
}

/// The sample notification plus an alert full of characters that need escaping.
fn tricky() -> Notification {
    let mut n = notification("ob-sys-1", Status::Firing);
    let mut a = support::tiktok_alert("dev\"ice]\\x", "2001:db8::7", Status::Firing);
    a.fingerprint = "fp-tricky".into();
    a.labels.insert("kind".into(), "bypass".into());
    a.labels.insert("app".into(), "encrypted-dns".into());
    a.labels.insert("bypass_method".into(), "doh|dot".into());
    a.labels.insert("severity".into(), "warning".into());
    a.labels.insert("user".into(), "alice=admin".into());
    a.annotations.insert("app_name".into(), "Encrypted\\DNS|x".into());
    a.annotations
        .insert("summary".into(), "line one\nline=two | three \\ four".into());
    a.bypass_indicators = vec!["encrypted-dns".into(), "port-853".into()];
    n.alerts.push(a);
    n
}

#[tokio::test]
async fn rfc5424_over_udp() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let dir = TempDir::new("syslog-udp");
    let sinks = support::build(
        &format!(
            "[[syslog]]\naddress = \"127.0.0.1:{port}\"\nfacility = \"local3\"\nenterprise_id = 99999\nhostname = \"sensor-1\"\n"
        ),
        dir.path(),
    );
    assert_eq!(sinks[0].kind(), "syslog");
    assert_eq!(sinks[0].describe(), format!("syslog:udp://127.0.0.1:{port} (rfc5424)"));
    let n = tricky();
    sinks[0].send(&n).await.unwrap();
    let mut msgs = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..3 {
        let len = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        msgs.push(parse_5424(std::str::from_utf8(&buf[..len]).unwrap()));
    }
    // One datagram per alert.
    let m = &msgs[0];
    assert_eq!(m.pri, 19 * 8 + 2, "local3.crit");
    assert_eq!(m.timestamp, "2024-06-01T12:05:10.000Z");
    assert_eq!(m.hostname, "sensor-1");
    assert_eq!(m.app, "appwarden");
    assert_eq!(m.procid, std::process::id().to_string());
    assert_eq!(m.msgid, "firing");
    assert_eq!(m.sd_id.as_deref(), Some("appwarden@99999"));
    assert_eq!(m.param("app"), "tiktok");
    assert_eq!(m.param("device"), "laptop-7");
    assert_eq!(m.param("group"), "corporate");
    assert_eq!(m.param("notification"), "ob-sys-1");
    assert_eq!(m.param("severity"), "critical");
    assert_eq!(m.param("count_total"), "7");
    assert_eq!(m.param("count_got_through"), "2");
    assert_eq!(
        m.all("evidence"),
        vec!["/var/log/dnsmasq.log:42", "query-log:1717243200000:192.0.2.7"]
    );
    assert_eq!(m.msg, "laptop-7 used TikTok");
    assert_eq!(msgs[1].param("device"), "phone-3");
    // Escaping of ", \ and ] in PARAM-VALUE round-trips.
    let t = &msgs[2];
    assert_eq!(t.pri, 19 * 8 + 4, "warning");
    assert_eq!(t.param("device"), "dev\"ice]\\x");
    assert_eq!(t.param("bypass_method"), "doh|dot");
    assert_eq!(t.all("bypass_indicator"), vec!["encrypted-dns", "port-853"]);
    assert_eq!(t.msg, "line one line=two | three \\ four");

    // Resolved: notice, MSGID resolved, ends_at present.
    sinks[0]
        .send(&notification("ob-sys-2", Status::Resolved))
        .await
        .unwrap();
    let len = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = parse_5424(std::str::from_utf8(&buf[..len]).unwrap());
    assert_eq!(r.pri, 19 * 8 + 5);
    assert_eq!(r.msgid, "resolved");
    assert_eq!(r.param("ends_at"), "2024-06-01T12:15:00.000Z");
}

/// Reads one TCP connection to EOF and splits RFC 6587 octet-counted frames.
async fn read_frames<S: tokio::io::AsyncRead + Unpin>(mut s: S) -> Vec<String> {
    let mut data = Vec::new();
    s.read_to_end(&mut data).await.unwrap();
    let mut frames = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let sp = rest.iter().position(|&b| b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        frames.push(String::from_utf8(rest[sp + 1..sp + 1 + len].to_vec()).unwrap());
        rest = &rest[sp + 1 + len..];
    }
    frames
}

#[tokio::test]
async fn cef_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = TempDir::new("syslog-tcp");
    let sinks = support::build(
        &format!(
            "[[syslog]]\naddress = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\nformat = \"cef\"\nhostname = \"sensor-1\"\n"
        ),
        dir.path(),
    );
    assert_eq!(sinks[0].describe(), format!("syslog:tcp://127.0.0.1:{port} (cef)"));
    let accept = tokio::spawn(async move { read_frames(listener.accept().await.unwrap().0).await });
    sinks[0].send(&tricky()).await.unwrap();
    let frames = tokio::time::timeout(Duration::from_secs(5), accept)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frames.len(), 3);
    let outer = parse_5424(&frames[0]);
    assert_eq!(outer.pri, 16 * 8 + 2, "local0.crit by default");
    assert_eq!(outer.sd_id, None);
    assert!(outer.msg.starts_with("CEF:0|"));
    let (h, ext) = parse_cef(&outer.msg);
    assert_eq!(
        h,
        vec![
            "CEF:0",
            "appwarden",
            "appwarden",
            env!("CARGO_PKG_VERSION"),
            "app-use:tiktok",
            "TikTok use",
            "9"
        ]
    );
    assert_eq!(ext["src"], "192.0.2.7");
    assert_eq!(ext["shost"], "laptop-7");
    assert_eq!(ext["act"], "block");
    assert_eq!(ext["outcome"], "got-through");
    assert_eq!(ext["cnt"], "7");
    assert_eq!(ext["cat"], "social");
    assert_eq!(ext["rt"], (support::T0 + 300_000).to_string());
    assert_eq!(ext["start"], support::T0.to_string());
    assert_eq!(ext["externalId"], "fp-laptop-7");
    assert_eq!(ext["cs1Label"], "app");
    assert_eq!(ext["cs1"], "tiktok");
    assert_eq!(ext["cs2"], "corporate");
    assert_eq!(ext["cs6"], "ob-sys-1");
    assert_eq!(ext["cn1Label"], "blocked");
    assert_eq!(ext["cn1"], "5");
    assert_eq!(ext["cn2"], "2");
    // Escaping: | and \ in the header, = \ and newlines in the extension.
    let (h, ext) = parse_cef(&parse_5424(&frames[2]).msg);
    assert_eq!(h[4], "bypass:encrypted-dns");
    assert_eq!(h[5], "Encrypted\\DNS|x bypass attempt (doh|dot)");
    assert_eq!(h[6], "6");
    assert_eq!(ext["msg"], "line one\nline=two | three \\ four");
    assert_eq!(ext["suser"], "alice=admin");
    assert_eq!(ext["src"], "2001:db8::7");
    assert_eq!(ext["shost"], "dev\"ice]\\x");
    assert_eq!(ext["cs4"], "encrypted-dns,port-853");
    assert!(
        !parse_5424(&frames[2]).msg.contains('\n'),
        "a raw newline would split the record"
    );
}

#[tokio::test]
async fn rfc5424_over_tls() {
    let dir = TempDir::new("syslog-tls");
    let pki = support::pki(&dir);
    let acceptor = support::tls_acceptor(&pki);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sinks = support::build(
        &format!(
            "[[syslog]]\naddress = \"localhost:{port}\"\ntransport = \"tls\"\nca_file = \"ca.pem\"\ntimeout = \"3s\"\n"
        ),
        dir.path(),
    );
    let accept = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        read_frames(acceptor.accept(s).await.unwrap()).await
    });
    sinks[0]
        .send(&notification("ob-sys-tls", Status::Firing))
        .await
        .unwrap();
    let frames = tokio::time::timeout(Duration::from_secs(5), accept)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frames.len(), 2);
    let m = parse_5424(&frames[0]);
    assert_eq!(m.sd_id.as_deref(), Some("appwarden@32473"));
    assert_eq!(m.param("notification"), "ob-sys-tls");
}

#[tokio::test]
async fn tcp_refused_is_retryable() {
    let dir = TempDir::new("syslog-down");
    let port = support::free_port();
    let sinks = support::build(
        &format!("[[syslog]]\naddress = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\n"),
        dir.path(),
    );
    let e = sinks[0]
        .send(&notification("ob-sys-down", Status::Firing))
        .await
        .unwrap_err();
    assert!(e.retryable, "{e}");
}

#[test]
fn config_errors() {
    let dir = TempDir::new("syslog-build");
    assert!(
        toml::from_str::<alert::sinks::SinkConfigs>("[[syslog]]\naddress = \"a:1\"\nfacility = \"local9\"\n").is_err()
    );
    assert!(
        toml::from_str::<alert::sinks::SinkConfigs>("[[syslog]]\naddress = \"a:1\"\nenterprise_id = \"acme\"\n")
            .is_err()
    );
    assert!(
        toml::from_str::<alert::sinks::SinkConfigs>("[[syslog]]\naddress = \"a:1\"\ntransport = \"sctp\"\n").is_err()
    );
    let e = support::build_err("[[syslog]]\naddress = \"siem.example.net\"\n", dir.path());
    assert!(e.starts_with("syslog[0]: address:"), "{e}");
    let e = support::build_err(
        "[[syslog]]\naddress = \"siem.example.net:514\"\nca_file = \"ca.pem\"\n",
        dir.path(),
    );
    assert!(e.starts_with("syslog[0]: ca_file:"), "{e}");
}
