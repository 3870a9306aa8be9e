//! The HTTP API of `appwarden dns` as users run it: the binary on loopback
//! (DNS and API on ports the kernel picks, read from its log), a hand-written
//! HTTP/1.1 client and a raw DNS query.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    dns: SocketAddr,
    api: SocketAddr,
    log: mpsc::Receiver<String>,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The address after `key=` in a log line (`listen=[127.0.0.1:1234]` or `api=127.0.0.1:1234`).
fn addr_after(line: &str, key: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(key)? + key.len()..];
    let rest = rest.trim_start_matches('[');
    let end = rest.find([']', ' ', ',']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn start() -> Server {
    start_with("plain", &[])
}

/// Starts `appwarden dns` with `extra` arguments; `tag` names its data directory.
fn start_with(tag: &str, extra: &[&std::ffi::OsStr]) -> Server {
    let data = std::env::temp_dir().join(format!("appwarden-api-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut child = Command::new(env!("CARGO_BIN_EXE_appwarden"))
        .args([
            "dns",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--api",
            "127.0.0.1:0",
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(&data)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start appwarden dns");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(strip_ansi(&line)).is_err() {
                break;
            }
        }
    });
    let mut server = Server {
        child,
        dns: "0.0.0.0:0".parse().unwrap(),
        api: "0.0.0.0:0".parse().unwrap(),
        log: rx,
        data,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut dns, mut api) = (None, None);
    let mut seen = Vec::new();
    while dns.is_none() || api.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = server.log.recv_timeout(left) else {
            panic!(
                "the server did not report its addresses within 60 s; log:\n{}",
                seen.join("\n")
            );
        };
        if line.contains("resolver ready") {
            dns = addr_after(&line, "listen=");
        }
        if line.contains("HTTP API listening") {
            api = addr_after(&line, "api=");
        }
        seen.push(line);
    }
    server.dns = dns.unwrap();
    server.api = api.unwrap();
    // the API answers once the runtime picks up the listener
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(&server, "GET", "/metrics", &[], b"").is_err() {
        assert!(Instant::now() < deadline, "/metrics did not answer within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&b[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        b = &b[nl + 2..];
        out.extend_from_slice(&b[..size.min(b.len())]);
        b = &b[(size + 2).min(b.len())..];
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`).
fn http(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Reply> {
    let mut c = TcpStream::connect_timeout(&s.api, Duration::from_secs(5))?;
    c.set_read_timeout(Some(Duration::from_secs(120)))?;
    c.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        s.api,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes())?;
    c.write_all(body)?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Reply { status, headers, body })
}

fn req(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    http(s, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A DNS query for `name` type A; returns the response's rcode.
fn dns_query(s: &Server, name: &str) -> u8 {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&q, s.dns).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).expect("a DNS answer within 5 s");
    assert!(n >= 12 && buf[0] == 0x12 && buf[1] == 0x34, "not our answer");
    buf[3] & 0x0f
}

/// `value` of the first sample line `name{labels…} value` / `name value` starting with `prefix`.
fn sample(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("APPWARDEN_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
    }
}

#[test]
fn http_api_end_to_end() {
    let s = start();

    // metrics
    let m = req(&s, "GET", "/metrics", &[], b"");
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = m.text();
    assert!(
        text.contains("appwarden_dns_queries_total{transport=\"udp\"} 0"),
        "{text}"
    );
    assert_eq!(sample(&text, "appwarden_rules_generation "), Some(1.0));
    assert!(sample(&text, "appwarden_rules_domains ").unwrap_or(0.0) > 0.0, "{text}");
    assert!(text.contains("appwarden_dns_upstream_latency_seconds_bucket{le=\"+Inf\"} 0"));

    // one blocked query shows up in the counters
    assert_eq!(
        dns_query(&s, "www.tiktok.com"),
        3,
        "www.tiktok.com is blocked (NXDOMAIN)"
    );
    let text = req(&s, "GET", "/metrics", &[], b"").text();
    assert_eq!(
        sample(&text, "appwarden_dns_queries_total{transport=\"udp\"}"),
        Some(1.0)
    );
    assert!(
        sample(&text, "appwarden_dns_blocked_total ").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        text.contains("appwarden_dns_blocked_by_app_total{app=\"tiktok\""),
        "{text}"
    );

    // exports: the default group, ETag and If-None-Match
    let list = req(&s, "GET", "/export", &[], b"").json();
    let group = list["default_group"].as_str().unwrap().to_string();
    assert!(
        list["formats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "unbound")
    );
    let e = req(&s, "GET", "/export/unbound", &[], b"");
    assert_eq!(e.status, 200, "{}", e.text());
    assert!(e.text().contains("local-zone:"), "{}", e.text());
    assert!(e.text().contains("tiktok"));
    let etag = e.header("etag").unwrap().to_string();
    assert_eq!(etag.len(), 66, "quoted sha256 hex: {etag}");
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let again = req(&s, "GET", "/export/unbound", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let by_group = req(&s, "GET", &format!("/export/{group}/unbound"), &[], b"");
    assert_eq!(by_group.status, 200);
    assert_eq!(by_group.header("etag"), Some(etag.as_str()));
    let mc = req(&s, "GET", &format!("/export/{group}/apple-mobileconfig"), &[], b"");
    assert_eq!(mc.status, 200);
    assert_eq!(mc.header("content-type"), Some("application/x-apple-aspen-config"));
    let nf = req(&s, "GET", "/export/nonexistent", &[], b"");
    assert_eq!(nf.status, 404);
    assert!(nf.text().contains("nonexistent"), "{}", nf.text());
    assert_eq!(req(&s, "GET", "/export/no-such-group/unbound", &[], b"").status, 404);

    // reload
    let r = req(&s, "POST", "/api/reload", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["generation"], 2);
    assert!(r.json()["domains"].as_u64().unwrap_or(0) > 0);
    let text = req(&s, "GET", "/metrics", &[], b"").text();
    assert_eq!(sample(&text, "appwarden_rules_generation "), Some(2.0));
    // the same policy renders the same bytes
    assert_eq!(
        req(&s, "GET", "/export/unbound", &[("If-None-Match", &etag)], b"").status,
        304
    );

    // scans: garbage is a 400 with the reason, never a crash
    let bad = req(&s, "POST", "/api/scan?name=junk.apk", &[], b"this is not a zip archive");
    assert_eq!(bad.status, 400, "{}", bad.text());
    let msg = bad.json()["error"].as_str().unwrap_or("").to_string();
    assert!(msg.contains("junk.apk") && msg.contains("not a readable"), "{msg}");
    assert_eq!(req(&s, "POST", "/api/scan", &[], b"").status, 400);
    assert_eq!(req(&s, "GET", "/api/scans/zz", &[], b"").status, 400);
    assert_eq!(
        req(&s, "GET", &format!("/api/scans/{}", "0".repeat(64)), &[], b"").status,
        404
    );

    let apk = shared_dir().join("corpus/apk/airtest-1.4.3_Yosemite.apk");
    match std::fs::read(&apk) {
        Ok(bytes) => {
            let r = req(&s, "POST", "/api/scan?name=airtest-1.4.3_Yosemite.apk", &[], &bytes);
            assert_eq!(r.status, 200, "{}", r.text());
            let v = r.json();
            assert_eq!(v["identity"]["identifier"], "com.netease.nie.yosemite");
            assert!(v["assessment"]["decision"].is_string());
            let sha = v["scan"]["input"]["sha256"].as_str().unwrap().to_string();
            let listed = req(&s, "GET", "/api/scans", &[], b"").json();
            let first = &listed["scans"][0];
            assert_eq!(first["sha256"], sha.as_str());
            assert_eq!(first["package"], "com.netease.nie.yosemite");
            assert_eq!(first["file_name"], "airtest-1.4.3_Yosemite.apk");
            let one = req(&s, "GET", &format!("/api/scans/{sha}"), &[], b"");
            assert_eq!(one.status, 200);
            assert_eq!(one.json()["identity"]["identifier"], "com.netease.nie.yosemite");
        }
        Err(e) => {
            let why = format!("scan upload skipped: {} ({e}; set APPWARDEN_SHARED)", apk.display());
            assert!(std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() != Ok("1"), "{why}");
            eprintln!("{why}");
        }
    }

    // still serving DNS after all that
    assert_eq!(dns_query(&s, "www.tiktok.com"), 3);
    assert_eq!(req(&s, "GET", "/no/such/endpoint", &[], b"").status, 404);
}

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn a_token_guards_every_endpoint() {
    let dir = std::env::temp_dir().join(format!("appwarden-api-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let s = start_with("token", &["--api-token-file".as_ref(), file.as_os_str()]);
    let bearer = format!("Bearer {TOKEN}");
    let good = [("Authorization", bearer.as_str())];

    for (method, path) in [
        ("GET", "/metrics"),
        ("POST", "/api/reload"),
        ("GET", "/export"),
        ("GET", "/export/unbound"),
        ("GET", "/api/scans"),
        ("POST", "/api/scan?name=x.apk"),
        ("GET", "/"),
        ("GET", "/no/such/endpoint"),
    ] {
        let r = req(&s, method, path, &[], b"");
        assert_eq!(r.status, 401, "{method} {path} without a token: {}", r.text());
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"appwarden\""));
        assert!(r.json()["error"].as_str().unwrap().contains("Bearer"), "{}", r.text());
    }
    let wrong = format!("Bearer {}", TOKEN.replace('0', "1"));
    let basic = format!("Basic {TOKEN}");
    for h in [wrong.as_str(), basic.as_str(), TOKEN, "Bearer", "Bearer "] {
        let r = req(&s, "POST", "/api/reload", &[("Authorization", h)], b"");
        assert_eq!(r.status, 401, "Authorization: {h}");
    }
    // nothing refused took effect: still the first rules
    let m = req(&s, "GET", "/metrics", &good, b"");
    assert_eq!(m.status, 200);
    assert_eq!(sample(&m.text(), "appwarden_rules_generation "), Some(1.0));

    // with the token everything works as before, the scheme in any case
    let r = req(
        &s,
        "POST",
        "/api/reload",
        &[("authorization", &format!("bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["generation"], 2);
    assert_eq!(req(&s, "GET", "/export/unbound", &good, b"").status, 200);
    assert_eq!(req(&s, "GET", "/no/such/endpoint", &good, b"").status, 404);
    // DNS itself needs no token
    assert_eq!(dns_query(&s, "www.tiktok.com"), 3);

    // rotation: a new token in the file takes over on reload (the old one authorizes that reload)
    let next = "fedcba9876543210fedcba9876543210";
    std::fs::write(&file, next).unwrap();
    assert_eq!(req(&s, "POST", "/api/reload", &good, b"").status, 200);
    assert_eq!(
        req(&s, "GET", "/metrics", &good, b"").status,
        401,
        "the old token is void"
    );
    let bearer_next = format!("Bearer {next}");
    let good_next = [("Authorization", bearer_next.as_str())];
    assert_eq!(req(&s, "GET", "/metrics", &good_next, b"").status, 200);
    // a weak token in the file fails the reload as a whole: rules and token stay
    std::fs::write(&file, "short").unwrap();
    let r = req(&s, "POST", "/api/reload", &good_next, b"");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.json()["error"].as_str().unwrap().contains("at least 16"),
        "{}",
        r.text()
    );
    let m = req(&s, "GET", "/metrics", &good_next, b"");
    assert_eq!(m.status, 200);
    assert_eq!(sample(&m.text(), "appwarden_rules_generation "), Some(3.0));

    // refusals are logged with the peer
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut logged = false;
    while !logged && Instant::now() < deadline {
        match s.log.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => logged = line.contains("request refused") && line.contains("127.0.0.1"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("log ended: {e}"),
        }
    }
    assert!(logged, "no log line for the refused requests");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_token_file_comes_from_the_policy_and_a_weak_token_is_refused() {
    const PLAIN_POLICY: &str =
        "version = 1\n[organisation]\nname = \"T\"\nprofile = \"retail\"\njurisdiction = \"US\"\n";
    let dir = std::env::temp_dir().join(format!("appwarden-api-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("appwarden.toml");
    let with_token = format!("{PLAIN_POLICY}[dns]\napi_token_file = \"secret/token\"\n");
    std::fs::write(&policy, &with_token).unwrap();
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    // relative to the policy file, not to the working directory
    std::fs::write(dir.join("secret/token"), TOKEN).unwrap();
    {
        let s = start_with("policy-token", &["--config".as_ref(), policy.as_os_str()]);
        assert_eq!(req(&s, "GET", "/metrics", &[], b"").status, 401);
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(
            req(&s, "GET", "/metrics", &[("Authorization", &bearer)], b"").status,
            200
        );
        // the policy no longer names a token file: after the reload the API answers without one
        std::fs::write(&policy, PLAIN_POLICY).unwrap();
        assert_eq!(
            req(&s, "POST", "/api/reload", &[("Authorization", &bearer)], b"").status,
            200
        );
        assert_eq!(req(&s, "GET", "/metrics", &[], b"").status, 200, "token removed");
    }
    std::fs::write(&policy, &with_token).unwrap();
    for (content, why) in [
        ("short", "at least 16"),
        ("two words 0123456789abcdef", "without spaces"),
    ] {
        std::fs::write(dir.join("secret/token"), content).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_appwarden"))
            .args([
                "dns",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "127.0.0.1:9",
                "--api",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(&policy)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("NO_COLOR", "1")
            .output()
            .expect("run appwarden dns");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with the token {content:?}");
        assert!(err.contains(why) && err.contains("secret/token"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
