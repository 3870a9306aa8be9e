//! Alerts end to end with the real binary: `monitor follow` reads a BIND log,
//! the alert pipeline groups the detections and delivers them to a signed
//! webhook that is down at first; appwarden is killed with SIGKILL while the
//! notifications wait in the outbox; once the receiver is up and appwarden
//! restarted, every notification arrives exactly once, signed.

mod support;

use support::{append, bind_query};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const KEY: &[u8] = b"appwarden-test-secret-0123456789";
const SECRET: &str = "whsec_YXBwd2FyZGVuLXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODk=";

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).chain(msg.iter().copied()).collect();
    let ih = Sha256::digest(&inner);
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(ih.iter().copied()).collect();
    Sha256::digest(&outer).into()
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// What the receiver got: webhook-id → (count, body).
type Got = Arc<Mutex<BTreeMap<String, (u32, serde_json::Value)>>>;

/// A minimal HTTP/1.1 webhook receiver that checks the Standard Webhooks signature.
fn receiver(listener: TcpListener, got: Got, bad: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (got, bad) = (got.clone(), bad.clone());
            std::thread::spawn(move || serve(conn, &got, &bad));
        }
    });
}

fn serve(conn: TcpStream, got: &Got, bad: &Mutex<Vec<String>>) {
    let mut r = BufReader::new(conn.try_clone().expect("clone"));
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).expect("header");
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        r.read_exact(&mut body).expect("body");
        let id = headers.get("webhook-id").cloned().unwrap_or_default();
        let ts = headers.get("webhook-timestamp").cloned().unwrap_or_default();
        let mut signed = format!("{id}.{ts}.").into_bytes();
        signed.extend_from_slice(&body);
        let want = format!("v1,{}", b64(&hmac_sha256(KEY, &signed)));
        let sig_ok = headers
            .get("webhook-signature")
            .is_some_and(|s| s.split(' ').any(|one| one == want));
        if sig_ok {
            let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
            got.lock().expect("lock").entry(id).or_insert((0, v)).0 += 1;
            let _ = w.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n");
        } else {
            bad.lock().expect("lock").push(format!("{headers:?}"));
            let _ = w.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
        }
    }
}

fn follow(conf: &Path, data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_appwarden"))
        .args(["monitor", "follow", "--config"])
        .arg(conf)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start appwarden")
}

/// Outbox rows by state, as `alerts show` is not needed: read the JSON of `alerts list`.
fn alert_count(data: &Path) -> usize {
    let o = support::appwarden(&[
        "alerts",
        "list",
        "--status",
        "all",
        "--format",
        "json",
        "--data-dir",
        data.to_str().expect("utf-8"),
    ]);
    if !o.status.success() {
        return 0;
    }
    serde_json::from_slice::<serde_json::Value>(&o.stdout)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
}

fn wait(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_down_webhook_gets_every_alert_exactly_once_across_kill_9() {
    let dir = support::tempdir("alert-delivery");
    let data = dir.join("data");
    let log = dir.join("query.log");
    // the receiver's port, not listening yet: the sink is down
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let conf = dir.join("appwarden.toml");
    std::fs::write(
        &conf,
        format!(
            r#"[organisation]
name = "Test"
profile = "bank"
jurisdiction = "DE"

[monitor]
poll_ms = 20
[[monitor.files]]
path = "query.log"
format = "bind"

[alerts]
resolve_timeout = "1h"
[alerts.route]
receiver = "hook"
group_by = ["client"]
group_wait = "0s"
group_interval = "1s"
repeat_interval = "1h"
[alerts.delivery]
initial_backoff = "100ms"
max_backoff = "300ms"

[[alerts.receiver]]
name = "hook"
webhook = [{{ url = "http://127.0.0.1:{port}/hook", secret = "{SECRET}" }}]
"#
        ),
    )
    .expect("write config");
    append(
        &log,
        &(bind_query(1, "203.0.113.7", "www.tiktok.com")
            + &bind_query(2, "203.0.113.8", "v16m.tiktokcdn.com")
            + &bind_query(3, "203.0.113.7", "example.org")
            + &bind_query(4, "203.0.113.9", "mask.icloud.com")),
    );

    let mut a = follow(&conf, &data);
    wait("three alerts in the store", 20, || alert_count(&data) >= 3);
    // let the dispatcher fail against the closed port at least once
    std::thread::sleep(Duration::from_millis(400));
    a.kill().expect("SIGKILL");
    a.wait().expect("reap");

    // more use while appwarden is down
    append(&log, &bind_query(5, "203.0.113.10", "www.tiktok.com"));

    let got: Got = Arc::default();
    let bad = Arc::new(Mutex::new(Vec::new()));
    receiver(
        TcpListener::bind(("127.0.0.1", port)).expect("receiver port"),
        got.clone(),
        bad.clone(),
    );
    let mut b = follow(&conf, &data);
    wait("four notifications", 20, || got.lock().expect("lock").len() >= 4);
    // time for duplicates to show up, if there were any
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill").args(["-TERM", &b.id().to_string()]).status();
    b.wait().expect("reap");
    // a third start sends nothing again
    let mut c = follow(&conf, &data);
    std::thread::sleep(Duration::from_millis(1500));
    c.kill().expect("kill");
    c.wait().expect("reap");

    assert!(bad.lock().expect("lock").is_empty(), "bad signatures: {:?}", bad.lock());
    let got = got.lock().expect("lock");
    let counts: Vec<u32> = got.values().map(|(n, _)| *n).collect();
    assert_eq!(counts, vec![1; got.len()], "each notification exactly once: {got:?}");
    let mut clients: Vec<String> = got
        .values()
        .flat_map(|(_, v)| v["alerts"].as_array().cloned().unwrap_or_default())
        .map(|a| a["labels"]["client"].as_str().unwrap_or("").to_string())
        .collect();
    clients.sort();
    assert_eq!(
        clients,
        ["203.0.113.10", "203.0.113.7", "203.0.113.8", "203.0.113.9"],
        "one alert per client, none lost"
    );
    let relay = got
        .values()
        .flat_map(|(_, v)| v["alerts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["labels"]["client"] == "203.0.113.9")
        .expect("bypass alert");
    assert_eq!(relay["labels"]["kind"], "bypass", "{relay}");
    let tiktok = got
        .values()
        .flat_map(|(_, v)| v["alerts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["labels"]["client"] == "203.0.113.7")
        .expect("tiktok alert");
    assert_eq!(tiktok["labels"]["app"], "tiktok");
    assert!(
        tiktok["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x.as_str().is_some_and(|s| s.ends_with("query.log:1")))),
        "links back to the raw line: {tiktok}"
    );
}

/// A plain DNS query for `name` (type A), as bytes.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn serve_alerts_on_its_own_blocked_queries_and_on_the_logs_it_follows() {
    let dir = support::tempdir("serve-alerts");
    let data = dir.join("data");
    let log = dir.join("query.log");
    append(&log, &bind_query(1, "203.0.113.9", "mask.icloud.com"));
    let dns_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // an upstream that never answers: blocked names are answered locally anyway
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let conf = dir.join("appwarden.toml");
    std::fs::write(
        &conf,
        r#"[organisation]
name = "Test"
profile = "bank"
jurisdiction = "DE"

[monitor]
poll_ms = 20
[[monitor.files]]
path = "query.log"
format = "bind"
"#,
    )
    .expect("write config");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_appwarden"))
        .args(["serve", "--config"])
        .arg(&conf)
        .args(["--listen", &format!("127.0.0.1:{dns_port}")])
        .args(["--upstream", &dead.local_addr().expect("addr").to_string()])
        .arg("--data-dir")
        .arg(&data)
        .args(["--api", "off", "--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut answered = false;
    for i in 0..50 {
        let _ = client.send_to(&dns_query(0x4242 + i, "www.tiktok.com"), ("127.0.0.1", dns_port));
        let mut buf = [0u8; 512];
        if let Ok(n) = client.recv(&mut buf) {
            assert!(n >= 12);
            assert_eq!(buf[3] & 0x0f, 3, "NXDOMAIN for a blocked name");
            answered = true;
            break;
        }
    }
    assert!(answered, "serve did not answer");
    // the query log writer hands the event to the pipeline; the follower reads the log
    let list = || {
        let o = support::appwarden(&[
            "alerts",
            "list",
            "--format",
            "json",
            "--data-dir",
            data.to_str().expect("utf-8"),
        ]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    wait("alerts from the resolver and from the followed log", 20, || {
        list().len() >= 2
    });
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let st = serve.wait().expect("reap");
    assert!(st.success(), "serve exits cleanly: {st}");
    let alerts = list();
    let find = |client: &str| {
        alerts
            .iter()
            .find(|a| a["labels"]["client"] == client)
            .unwrap_or_else(|| panic!("no alert for {client}: {alerts:?}"))
            .clone()
    };
    let own = find("127.0.0.1");
    assert_eq!(own["labels"]["app"], "tiktok", "{own}");
    let followed = find("203.0.113.9");
    assert_eq!(followed["labels"]["kind"], "bypass", "{followed}");
}

fn open_group_policy(conf: &Path, open_net: &str) {
    std::fs::write(
        conf,
        format!(
            r#"[organisation]
name = "Test"
profile = "retail"
jurisdiction = "DE"

[[group]]
id = "corporate"
default = true

[[group]]
id = "open"
clients = ["{open_net}"]
allow_outside_sandbox = "allow"

[monitor]
poll_ms = 20
[[monitor.files]]
path = "query.log"
format = "bind"
"#
        ),
    )
    .expect("write config");
}

#[test]
fn a_reload_gives_the_log_follower_the_new_plan() {
    let dir = support::tempdir("serve-reload-monitor");
    let data = dir.join("data");
    let log = dir.join("query.log");
    let conf = dir.join("appwarden.toml");
    // 203.0.113.7 is in a group that may use TikTok (retail: allowed outside the sandbox)
    open_group_policy(&conf, "203.0.113.0/24");
    let dns_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_appwarden"))
        .args(["serve", "--config"])
        .arg(&conf)
        .args(["--listen", &format!("127.0.0.1:{dns_port}")])
        .args(["--upstream", &dead.local_addr().expect("addr").to_string()])
        .arg("--data-dir")
        .arg(&data)
        .args(["--api", "off", "--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let clients = || -> Vec<String> {
        let o = support::appwarden(&[
            "alerts",
            "list",
            "--format",
            "json",
            "--data-dir",
            data.to_str().expect("utf-8"),
        ]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a["labels"]["client"].as_str().map(str::to_string))
            .collect()
    };
    // a corporate client in the same round shows the log was read
    append(
        &log,
        &(bind_query(1, "203.0.113.7", "www.tiktok.com") + &bind_query(2, "198.51.100.5", "www.tiktok.com")),
    );
    wait("the corporate client's alert", 20, || {
        clients().contains(&"198.51.100.5".to_string())
    });
    assert!(
        !clients().contains(&"203.0.113.7".to_string()),
        "the open group may use TikTok"
    );

    // the open group moves elsewhere: 203.0.113.7 is corporate now
    open_group_policy(&conf, "192.0.2.0/24");
    let hup = Command::new("kill")
        .args(["-HUP", &serve.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    // the reload is asynchronous: keep writing until the follower judges with the new plan
    let mut n = 3;
    wait("an alert for the client under the new plan", 20, || {
        append(&log, &bind_query(n, "203.0.113.7", "www.tiktok.com"));
        n += 1;
        std::thread::sleep(Duration::from_millis(200));
        clients().contains(&"203.0.113.7".to_string())
    });
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    assert!(serve.wait().expect("reap").success());
}
