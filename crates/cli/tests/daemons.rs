//! `appwarden monitor scan` on logs written by the real daemons from Debian —
//! BIND 9 (`named`), Unbound, dnsmasq and Squid — each run on 127.0.0.1 in a
//! temporary directory and sent a mix of TikTok, bypass (DoH resolvers, the
//! Firefox canary, iCloud Private Relay) and ordinary names. Every TikTok and
//! bypass query must be found, per app and with its exact number of log
//! events and blocked events; nothing else may be flagged; no line may be a
//! parse error. Each daemon writes two log styles: BIND a classic and an ISO
//! 8601 channel, Squid the native and the combined format, Unbound and dnsmasq
//! run twice (epoch / `log-time-ascii` + `log-tag-queryreply`; plain /
//! `log-queries=extra`).
//!
//! Debian packages: bind9, bind9-dnsutils (`dig`), unbound, dnsmasq (or
//! dnsmasq-base), squid, curl.
//!
//! Hermetic: the DNS daemons forward only to a stub resolver in this process
//! (127.0.0.1, answers `192.0.2.1` for A, no data otherwise), Squid may only
//! reach 127.0.0.1 and never resolves a name. A test whose daemon (or `dig`,
//! `curl`) is missing prints why and passes, unless `APPWARDEN_REQUIRE_TOOLS=1`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod support;
use support::{appwarden, stderr, tempdir};

// ---------------------------------------------------------------------------
// The query mix

/// One DNS query: name, type, over TCP, and the app it must be flagged as.
struct Query {
    name: &'static str,
    qtype: &'static str,
    tcp: bool,
    app: Option<&'static str>,
}

const fn q(name: &'static str, qtype: &'static str, tcp: bool, app: Option<&'static str>) -> Query {
    Query { name, qtype, tcp, app }
}

const TIKTOK: Option<&str> = Some("tiktok");

/// Sent to every DNS daemon, in this order. TCP only for names each daemon
/// answers itself (the stub upstream speaks UDP only).
const MIX: &[Query] = &[
    q("www.tiktok.com", "A", false, TIKTOK),
    q("example.org", "A", true, None),
    q("tiktok.com", "AAAA", false, TIKTOK),
    q("v16m.tiktokcdn.com", "A", false, TIKTOK),
    q("www.debian.org", "A", false, None),
    q("use-application-dns.net", "A", false, Some("firefox-canary")),
    q("api16-normal-c-useast1a.tiktokv.com", "A", false, TIKTOK),
    q("mask.icloud.com", "A", false, Some("icloud-private-relay")),
    q("nottiktok.com", "A", false, None),
    q("m.tiktok.com", "A", true, TIKTOK),
    q("dns.google", "A", false, Some("doh-google")),
    q("en.wikipedia.org", "AAAA", false, None),
    q("p16-sign-va.tiktokcdn-us.com", "AAAA", false, TIKTOK),
    q("mask-h2.icloud.com", "AAAA", false, Some("icloud-private-relay")),
    q("tiktok.com.example.org", "A", false, None),
    q("dns.google.com", "HTTPS", false, Some("doh-google")),
    q("chrome.cloudflare-dns.com", "A", false, Some("doh-cloudflare")),
    q("icloud.com", "A", false, None),
    q("dns.quad9.net", "A", false, Some("doh-quad9-secure")),
    q("www.google.com", "A", false, None),
    q("doh.opendns.com", "A", false, Some("doh-opendns")),
    q("ads.example.net", "A", false, None),
    q("www.example.com", "A", false, None),
];

/// Names each DNS daemon blocks (the name and its subdomains): TikTok's main
/// domain, the Firefox canary, and one ordinary ad name that must not be flagged.
const BLOCKED: &[&str] = &["tiktok.com", "use-application-dns.net", "ads.example.net"];

fn under(name: &str, domain: &str) -> bool {
    name == domain || name.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
}

fn blocked(name: &str) -> bool {
    BLOCKED.iter().any(|d| under(name, d))
}

/// What one finding must say.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    count: u64,
    blocked: u64,
    got_through: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.count += o.count;
        self.blocked += o.blocked;
        self.got_through += o.got_through;
    }
}

/// Expected findings (per app) and the total number of events, from what
/// the daemon logs for each query.
fn expect<'a>(queries: impl IntoIterator<Item = (Option<&'a str>, Counts)>) -> (BTreeMap<String, Counts>, u64) {
    let mut apps: BTreeMap<String, Counts> = BTreeMap::new();
    let mut events = 0;
    for (app, c) in queries {
        events += c.count;
        if let Some(app) = app {
            *apps.entry(app.to_owned()).or_default() += c;
        }
    }
    (apps, events)
}

// ---------------------------------------------------------------------------
// Tools, ports, processes

fn require_tools() -> bool {
    std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// The programs, looked up in `PATH` and the sbin directories; `None` (with
/// a note) when one is missing, a panic instead with `APPWARDEN_REQUIRE_TOOLS=1`.
fn tools<const N: usize>(names: [&str; N]) -> Option<[PathBuf; N]> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    let mut found = Vec::new();
    for name in names {
        match dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            Some(p) => found.push(p),
            None => {
                let why =
                    format!("{name} is not installed (Debian: bind9, bind9-dnsutils, unbound, dnsmasq, squid, curl)");
                if require_tools() {
                    panic!("{why}; APPWARDEN_REQUIRE_TOOLS=1 makes this a failure");
                }
                eprintln!("skipping: {why}");
                return None;
            }
        }
    }
    found.try_into().ok()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A loopback port free for both UDP and TCP (bound, read, released).
fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last lines of a file, for failure messages.
fn tail(path: &Path) -> String {
    let text = read_lossy(path);
    let lines: Vec<&str> = text.lines().collect();
    format!(
        "--- {} (last lines) ---\n{}",
        path.display(),
        lines[lines.len().saturating_sub(30)..].join("\n")
    )
}

/// A running daemon; killed (and reaped) when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
    /// Files worth showing when it fails: its stdout/stderr and logs.
    files: Vec<PathBuf>,
}

impl Daemon {
    fn spawn(name: &'static str, dir: &Path, cmd: &mut Command, logs: &[&Path]) -> Daemon {
        let out = dir.join(format!("{name}.stdout"));
        let err = dir.join(format!("{name}.stderr"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut files = vec![out, err];
        files.extend(logs.iter().map(|p| p.to_path_buf()));
        Daemon { name, child, files }
    }

    fn diagnostics(&self) -> String {
        self.files.iter().map(|p| tail(p)).collect::<Vec<_>>().join("\n")
    }

    /// Polls `ready` every 50 ms; fails if the daemon exits or `timeout` passes.
    fn wait_ready(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) {
        let t = Instant::now();
        loop {
            if ready() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited early ({status})\n{}", self.name, self.diagnostics());
            }
            if t.elapsed() > timeout {
                panic!("{} not ready after {timeout:?}\n{}", self.name, self.diagnostics());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, so the daemon flushes and closes its logs; SIGKILL after `grace`.
    fn stop(mut self, grace: Duration) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t = Instant::now();
        while t.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop within {grace:?}; killing it", self.name);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A background loopback server thread that ends when dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The only upstream the DNS daemons have: a UDP stub on 127.0.0.1 that
/// answers every query NOERROR, with `192.0.2.1` for type A.
fn stub_upstream() -> Server {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind stub");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let port = sock.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !flag.load(Ordering::Relaxed) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if let Some(reply) = stub_answer(&buf[..n]) {
                    let _ = sock.send_to(&reply, from);
                }
            }
        }
    });
    Server {
        port,
        stop,
        thread: Some(thread),
    }
}

/// The reply to one query: header and question echoed, QR and RA set, one A
/// record (192.0.2.1, TTL 60) for type A, nothing for other types.
fn stub_answer(q: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    while *q.get(i)? != 0 {
        i += 1 + usize::from(q[i]);
    }
    let end = i + 5;
    if q.len() < end {
        return None;
    }
    let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
    let is_a = qtype == 1;
    let mut r = q[..end].to_vec();
    r[2] = 0x80 | (q[2] & 0x01); // QR, opcode QUERY, RD as asked
    r[3] = 0x80; // RA, NOERROR
    r[4..12].copy_from_slice(&[0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
    if is_a {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    }
    Some(r)
}

/// A tiny HTTP server on 127.0.0.1: `200 ok` to every request.
fn http_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind http");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    Server {
        port,
        stop,
        thread: Some(thread),
    }
}

/// `dig` one query at the daemon; returns the response status (`NOERROR`…).
fn dig(dig: &Path, port: u16, query: &Query) -> String {
    let mut cmd = Command::new(dig);
    cmd.args(["@127.0.0.1", "-p", &port.to_string(), query.name, query.qtype])
        .args(["+time=3", "+tries=1"]);
    if query.tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().expect("run dig");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("no answer: {text}"))
}

/// Sends the whole mix; every query must get an answer.
fn send_mix(dig_bin: &Path, port: u16, daemon: &Daemon) {
    for query in MIX {
        let status = dig(dig_bin, port, query);
        assert!(
            status == "NOERROR" || status == "NXDOMAIN",
            "{} {} {}: {status}\n{}",
            daemon.name,
            query.name,
            query.qtype,
            daemon.diagnostics()
        );
    }
}

// ---------------------------------------------------------------------------
// Scanning and checking

/// `appwarden monitor scan LOG --format-out json` with the built-in policy
/// (127.0.0.1 is in its default group, `corporate`, which blocks TikTok and
/// every bypass method used here), checked against the expectation.
fn scan_and_check(log: &Path, format: &str, want: &BTreeMap<String, Counts>, events: u64) {
    let log_s = log.display().to_string();
    let o = appwarden(&["monitor", "scan", &log_s, "--format-out", "json"]);
    let text = read_lossy(log);
    assert!(o.status.success(), "{}\n--- log ---\n{text}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let file = &v["files"][0];
    let ctx = || format!("{file:#}\n--- {} ---\n{text}", log.display());
    assert_eq!(file["format"], format, "detected format\n{}", ctx());
    assert_eq!(file["errors"], 0, "parse errors\n{}", ctx());
    assert_eq!(v["totals"]["parse_errors"], 0, "{}", ctx());
    assert_eq!(
        file["events"].as_u64(),
        Some(events),
        "every query line is an event\n{}",
        ctx()
    );

    let findings = v["findings"].as_array().expect("findings");
    let mut got: BTreeMap<String, Counts> = BTreeMap::new();
    for f in findings {
        let app = f["app"].as_str().expect("app").to_owned();
        assert_eq!(f["client"], "127.0.0.1", "{f:#}");
        assert_eq!(f["group"], "corporate", "{f:#}");
        assert_eq!(f["action"], "block", "{f:#}");
        let kind = if app == "tiktok" { "app-use" } else { "bypass" };
        assert_eq!(f["kind"], kind, "{f:#}");
        let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {f:#}"));
        assert_eq!(
            n("count"),
            n("blocked") + n("got_through") + n("unknown"),
            "outcomes add up: {f:#}"
        );
        assert!(!f["examples"].as_array().is_none_or(Vec::is_empty), "{f:#}");
        let c = Counts {
            count: n("count"),
            blocked: n("blocked"),
            got_through: n("got_through"),
        };
        assert!(got.insert(app, c).is_none(), "one finding per client and app: {f:#}");
    }
    assert_eq!(&got, want, "findings per app (count, blocked, got_through)\n{}", ctx());
    let flagged: u64 = want.values().map(|c| c.count).sum();
    assert_eq!(file["flagged"].as_u64(), Some(flagged), "{}", ctx());
    assert_eq!(v["totals"]["flagged_events"].as_u64(), Some(flagged), "{}", ctx());
}

// ---------------------------------------------------------------------------
// The daemons

#[test]
fn bind9_query_and_rpz_log() {
    let Some([named, dig_bin]) = tools(["named", "dig"]) else {
        return;
    };
    let dir = tempdir("daemon-bind");
    let (up, port) = (stub_upstream(), free_port());
    let d = dir.display();
    let conf = format!(
        r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    allow-query {{ 127.0.0.1; }};
    recursion yes;
    allow-recursion {{ 127.0.0.1; }};
    forward only;
    forwarders {{ 127.0.0.1 port {up}; }};
    dnssec-validation no;
    notify no;
    querylog yes;
    response-policy {{ zone "rpz.test"; }};
}};
controls {{ }};
logging {{
    channel q {{ file "{d}/query.log"; print-time yes; print-category yes; print-severity yes; }};
    channel iso {{ file "{d}/query-iso.log"; print-time iso8601-utc; }};
    channel d {{ file "{d}/named.log"; print-time yes; severity info; }};
    category queries {{ q; iso; }};
    category rpz {{ q; iso; }};
    category default {{ d; }};
}};
zone "rpz.test" {{ type primary; file "{d}/rpz.db"; }};
"#,
        up = up.port
    );
    std::fs::write(dir.join("named.conf"), conf).expect("named.conf");
    let mut rpz = String::from("$TTL 60\n@ SOA localhost. root.localhost. 1 3600 600 86400 60\n@ NS localhost.\n");
    for name in BLOCKED {
        rpz.push_str(&format!("{name} CNAME .\n*.{name} CNAME .\n"));
    }
    std::fs::write(dir.join("rpz.db"), rpz).expect("rpz.db");

    let log = dir.join("query.log");
    // also written to query-iso.log: `print-time iso8601-utc`, no category or severity
    let named_log = dir.join("named.log");
    let mut daemon = Daemon::spawn(
        "named",
        &dir,
        Command::new(&named)
            .args(["-f", "-4", "-n", "1", "-c"])
            .arg(dir.join("named.conf")),
        &[&named_log, &log],
    );
    daemon.wait_ready(Duration::from_secs(10), || {
        read_lossy(&named_log).lines().any(|l| l.ends_with(" running"))
    });
    send_mix(&dig_bin, port, &daemon);
    daemon.stop(Duration::from_secs(5));

    // one `queries` line per query, plus an `rpz` rewrite line (blocked) for blocked names
    let (want, events) = expect(MIX.iter().map(|q| {
        let b = u64::from(blocked(q.name));
        (
            q.app,
            Counts {
                count: 1 + b,
                blocked: b,
                got_through: 0,
            },
        )
    }));
    scan_and_check(&log, "bind_query", &want, events);
    // the same lines with an ISO 8601 UTC time and no category/severity
    scan_and_check(&dir.join("query-iso.log"), "bind_query", &want, events);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unbound_query_reply_and_local_action_log() {
    let Some([unbound, dig_bin]) = tools(["unbound", "dig"]) else {
        return;
    };
    let up = stub_upstream();
    // epoch times and `info:` tags; then `log-time-ascii` and `log-tag-queryreply`
    for (variant, extra) in [
        ("epoch", ""),
        ("ascii-tagged", "    log-time-ascii: yes\n    log-tag-queryreply: yes\n"),
    ] {
        let dir = tempdir(&format!("daemon-unbound-{variant}"));
        let port = free_port();
        let log = dir.join("unbound.log");
        let mut conf = format!(
            r#"server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    num-threads: 1
    outgoing-range: 64
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{d}"
    pidfile: ""
    use-syslog: no
    logfile: "{log}"
    verbosity: 1
    log-queries: yes
    log-replies: yes
    log-local-actions: yes
{extra}    do-not-query-localhost: no
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    local-zone: "example.org." static
    local-data: "example.org. A 192.0.2.10"
"#,
            d = dir.display(),
            log = log.display()
        );
        for (name, kind) in BLOCKED
            .iter()
            .zip(["always_nxdomain", "always_nxdomain", "always_null"])
        {
            conf.push_str(&format!("    local-zone: \"{name}.\" {kind}\n"));
        }
        conf.push_str(&format!(
            "forward-zone:\n    name: \".\"\n    forward-addr: 127.0.0.1@{}\n",
            up.port
        ));
        std::fs::write(dir.join("unbound.conf"), conf).expect("unbound.conf");
        let mut daemon = Daemon::spawn(
            "unbound",
            &dir,
            Command::new(&unbound).args(["-d", "-c"]).arg(dir.join("unbound.conf")),
            &[&log],
        );
        daemon.wait_ready(Duration::from_secs(10), || {
            read_lossy(&log).contains("start of service")
        });
        send_mix(&dig_bin, port, &daemon);
        daemon.stop(Duration::from_secs(5));

        // a query and a reply line per query; answered from a local zone: a
        // local-action line too, and that action and the reply are blocked;
        // forwarded: the NOERROR reply got through
        let local = |name: &str| blocked(name) || under(name, "example.org");
        let (want, events) = expect(MIX.iter().map(|q| {
            let (l, b) = (u64::from(local(q.name)), u64::from(blocked(q.name)));
            let c = Counts {
                count: 2 + l,
                blocked: 2 * b,
                got_through: 1 - l,
            };
            (q.app, c)
        }));
        scan_and_check(&log, "unbound", &want, events);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn dnsmasq_log_queries() {
    let Some([dnsmasq, dig_bin]) = tools(["dnsmasq", "dig"]) else {
        return;
    };
    let up = stub_upstream();
    // plain, then `log-queries=extra` (serial number and client on every line)
    for (variant, flag) in [("plain", "--log-queries"), ("extra", "--log-queries=extra")] {
        let dir = tempdir(&format!("daemon-dnsmasq-{variant}"));
        let port = free_port();
        let log = dir.join("dnsmasq.log");
        let mut cmd = Command::new(&dnsmasq);
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--pid-file=",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            flag,
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--log-facility={}", log.display()))
        .arg(format!("--server=127.0.0.1#{}", up.port))
        .arg("--address=/example.org/192.0.2.10");
        for name in BLOCKED {
            cmd.arg(format!("--address=/{name}/0.0.0.0"))
                .arg(format!("--address=/{name}/::"));
        }
        let mut daemon = Daemon::spawn("dnsmasq", &dir, &mut cmd, &[&log]);
        // logged once its sockets are open
        daemon.wait_ready(Duration::from_secs(10), || {
            read_lossy(&log).contains("started, version")
        });
        send_mix(&dig_bin, port, &daemon);
        daemon.stop(Duration::from_secs(5));

        // a query line and one answer line per query: `config … is 0.0.0.0|::`
        // (blocked) for blocked names, `reply …` (got through) when forwarded
        let (want, events) = expect(MIX.iter().map(|q| {
            let b = u64::from(blocked(q.name));
            let forwarded = u64::from(!blocked(q.name) && !under(q.name, "example.org"));
            let c = Counts {
                count: 2,
                blocked: b,
                got_through: forwarded,
            };
            (q.app, c)
        }));
        scan_and_check(&log, "dnsmasq", &want, events);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn squid_access_log() {
    let Some([squid, curl]) = tools(["squid", "curl"]) else {
        return;
    };
    let dir = tempdir("daemon-squid");
    let root = is_root();
    if root {
        // Squid drops root for cache_effective_user, which must write here
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let (web, port) = (http_server(), free_port());
    let log = dir.join("access.log");
    let cache_log = dir.join("cache.log");
    let user = if !root {
        String::new()
    } else if read_lossy(Path::new("/etc/passwd")).starts_with("proxy:")
        || read_lossy(Path::new("/etc/passwd")).contains("\nproxy:")
    {
        "cache_effective_user proxy\n".to_owned()
    } else {
        "cache_effective_user nobody\n".to_owned()
    };
    let d = dir.display();
    // `dstdomain -n`: no reverse lookups; only 127.0.0.1 may be reached, names are never resolved
    let conf = format!(
        r#"http_port 127.0.0.1:{port}
visible_hostname appwarden-test
pid_filename {d}/squid.pid
cache_log {d}/cache.log
access_log stdio:{log}
access_log stdio:{d}/access-combined.log combined
coredump_dir {d}
{user}netdb_filename none
pinger_enable off
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
cache deny all
acl tiktok dstdomain -n .tiktok.com .tiktokcdn.com .tiktokv.com
acl bypass dstdomain -n dns.google mask.icloud.com chrome.cloudflare-dns.com
acl loopback_client src 127.0.0.1
acl loopback_host dstdomain -n 127.0.0.1
http_access deny tiktok
http_access deny bypass
http_access allow loopback_client loopback_host
http_access deny all
"#,
        log = log.display()
    );
    std::fs::write(dir.join("squid.conf"), conf).expect("squid.conf");
    let service = format!("awtest{}", std::process::id());
    let mut daemon = Daemon::spawn(
        "squid",
        &dir,
        Command::new(&squid)
            .args(["-N", "-n", &service, "-f"])
            .arg(dir.join("squid.conf")),
        &[&cache_log, &log],
    );
    daemon.wait_ready(Duration::from_secs(12), || {
        read_lossy(&cache_log).contains("Accepting HTTP Socket connections")
    });

    let web_url = format!("http://127.0.0.1:{}/", web.port);
    let web_tiktok = format!("http://127.0.0.1:{}/www.tiktok.com/video?host=dns.google", web.port);
    // (URL, HTTP status curl must see, app): CONNECT for https://, GET otherwise
    let requests: [(&str, &str, Option<&str>); 10] = [
        ("https://www.tiktok.com/", "403", TIKTOK),
        (&web_url, "200", None),
        ("http://v16m.tiktokcdn.com/video/tos/x.mp4", "403", TIKTOK),
        (
            "https://api16-normal-c-useast1a.tiktokv.com/aweme/v1/feed/",
            "403",
            TIKTOK,
        ),
        ("https://dns.google/dns-query", "403", Some("doh-google")),
        ("http://dns.google/resolve?name=example.org", "403", Some("doh-google")),
        ("https://mask.icloud.com/", "403", Some("icloud-private-relay")),
        (
            "https://chrome.cloudflare-dns.com/dns-query",
            "403",
            Some("doh-cloudflare"),
        ),
        ("https://example.org/", "403", None),
        (&web_tiktok, "200", None),
    ];
    let proxy = format!("http://127.0.0.1:{port}");
    for (url, status, _) in &requests {
        let out = Command::new(&curl)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .args(["-q", "-s", "-o", "/dev/null", "--max-time", "5"])
            .args(["-w", "%{http_code} %{http_connect}"])
            .args(["--noproxy", "", "-x", &proxy, url])
            .output()
            .expect("run curl");
        // a refused CONNECT: the proxy's 403 is `%{http_connect}`, `%{http_code}` stays 000
        let codes = String::from_utf8_lossy(&out.stdout);
        let (code, connect) = codes.split_once(' ').unwrap_or((&codes, ""));
        let code = if url.starts_with("https:") { connect } else { code };
        assert_eq!(code, *status, "{url}: {codes}\n{}", daemon.diagnostics());
    }
    daemon.stop(Duration::from_secs(10));

    // one line per request; TikTok and bypass requests are all TCP_DENIED/403
    let (want, events) = expect(requests.iter().map(|(_, _, app)| {
        let b = u64::from(app.is_some());
        (
            *app,
            Counts {
                count: 1,
                blocked: b,
                got_through: 0,
            },
        )
    }));
    scan_and_check(&log, "squid_native", &want, events);
    scan_and_check(&dir.join("access-combined.log"), "squid_combined", &want, events);
    drop(web);
    let _ = std::fs::remove_dir_all(&dir);
}
