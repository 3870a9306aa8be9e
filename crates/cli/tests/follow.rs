//! `appwarden monitor follow` as a user runs it: the real binary tails a log
//! across rotation and a restart, and receives syslog over UDP and TCP.

mod support;

use support::{append, bind_query};

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `monitor follow` whose stdout lines (detections) and stderr are collected.
struct Follow {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Follow {
    fn start(args: &[&str]) -> Follow {
        let mut child = Command::new(env!("CARGO_BIN_EXE_appwarden"))
            .arg("monitor")
            .arg("follow")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start appwarden monitor follow");
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let (o, e) = (out.clone(), err.clone());
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                o.lock().expect("lock").push(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                e.lock().expect("lock").push(l);
            }
        });
        Follow { child, out, err }
    }

    fn wait_for(&self, what: &str, cond: impl Fn(&[String], &[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if cond(&self.out.lock().expect("lock"), &self.err.lock().expect("lock")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {what}\nstdout: {:?}\nstderr: {:?}",
            self.out.lock().expect("lock"),
            self.err.lock().expect("lock")
        );
    }

    fn detections(&self) -> Vec<serde_json::Value> {
        self.out
            .lock()
            .expect("lock")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }

    /// SIGTERM, and waits for a clean exit.
    fn stop(mut self) -> Vec<serde_json::Value> {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(st.success());
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "follow exited with {status}: {:?}",
            self.err.lock().expect("lock")
        );
        // let the reader threads drain the pipes
        std::thread::sleep(Duration::from_millis(100));
        self.detections()
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn names(ds: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = ds
        .iter()
        .map(|d| d["matched"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn follows_a_log_across_rotation_and_a_restart_exactly_once() {
    let dir = support::tempdir("follow-rotate");
    let log = dir.join("query.log");
    let data = dir.join("data");
    append(
        &log,
        &(bind_query(1, "203.0.113.7", "t1.tiktok.com") + &bind_query(2, "203.0.113.7", "example.org")),
    );
    let args = [
        log.to_str().expect("utf-8"),
        "--format",
        "bind",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--poll-ms",
        "20",
        "--rotate-grace-secs",
        "1",
    ];
    let f = Follow::start(&args);
    f.wait_for("the first detection", |o, _| !o.is_empty());

    append(&log, &bind_query(3, "203.0.113.7", "t2.tiktok.com"));
    f.wait_for("the appended line", |o, _| o.len() >= 2);

    // logrotate's `create`: rename, the daemon writes a last line to the old file, a new file appears
    std::fs::rename(&log, dir.join("query.log.1")).expect("rotate");
    append(&dir.join("query.log.1"), &bind_query(4, "203.0.113.7", "t3.tiktok.com"));
    append(
        &log,
        &(bind_query(5, "203.0.113.7", "www.wikipedia.org") + &bind_query(6, "203.0.113.7", "t4.tiktok.com")),
    );
    f.wait_for("the late line and the new file", |o, _| o.len() >= 4);
    let first = f.stop();
    assert!(data.join("monitor-positions.json").exists(), "positions saved on stop");

    // written while nobody follows: read once after the restart, nothing before it again
    append(
        &log,
        &(bind_query(7, "203.0.113.7", "t5.tiktok.com") + &bind_query(8, "203.0.113.7", "debian.org")),
    );
    let f = Follow::start(&args);
    f.wait_for("the line written while stopped", |o, _| !o.is_empty());
    std::thread::sleep(Duration::from_millis(200));
    let second = f.stop();

    assert_eq!(
        names(&first),
        ["t1.tiktok.com", "t2.tiktok.com", "t3.tiktok.com", "t4.tiktok.com"],
        "first run, in any order, each once, nothing ordinary"
    );
    assert_eq!(
        names(&second),
        ["t5.tiktok.com"],
        "the restart resumes where it stopped"
    );
    let d = &second[0];
    assert_eq!(d["app"], "tiktok");
    assert_eq!(d["source_ip"], "203.0.113.7");
    assert!(
        d["origin"]["file"].as_str().is_some_and(|f| f.ends_with("query.log")),
        "links back to the raw line: {d}"
    );
    assert_eq!(
        d["origin"]["line"], 3,
        "line numbers of the new file, counted across the restart"
    );
}

fn free_port_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn free_port_tcp() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn receives_syslog_over_udp_and_tcp_in_both_header_formats() {
    let dir = support::tempdir("follow-syslog");
    let (pu, pt) = (free_port_udp(), free_port_tcp());
    let udp = format!("127.0.0.1:{pu}");
    let tcp = format!("127.0.0.1:{pt}");
    let f = Follow::start(&[
        "--syslog-udp",
        &udp,
        "--syslog-tcp",
        &tcp,
        "--data-dir",
        dir.to_str().expect("utf-8"),
    ]);
    f.wait_for("the listeners", |_, e| e.iter().any(|l| l.contains("running")));

    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // garbage first: counted, never fatal
    s.send_to(b"<999>1 \xff\xfe not syslog", &udp).expect("send");
    // RFC 5424 from BIND (no time in the message: the header carries it)
    s.send_to(
        b"<30>1 2026-11-22T02:54:51.317Z ns1 named 812 - - client @0x7f01 203.0.113.7#59579 (www.tiktok.com): query: www.tiktok.com IN A +E(0)K (203.0.113.1)",
        &udp,
    )
    .expect("send");
    // RFC 3164 from dnsmasq: iCloud Private Relay is a bypass
    s.send_to(
        b"<30>Nov 22 02:54:36 gw dnsmasq[512]: query[A] mask.icloud.com from 203.0.113.8",
        &udp,
    )
    .expect("send");
    // an ordinary name: nothing
    s.send_to(
        b"<30>Nov 22 02:54:37 gw dnsmasq[512]: query[A] example.org from 203.0.113.8",
        &udp,
    )
    .expect("send");

    // RFC 6587 octet counting over TCP, from Squid: a CONNECT to TikTok that got through
    let msg = "<134>1 2026-11-22T02:55:02Z proxy squid 77 - - 1795316102.232    120 203.0.113.9 TCP_TUNNEL/200 4000 CONNECT www.tiktok.com:443 - HIER_DIRECT/192.0.2.10 -";
    let mut c = TcpStream::connect(&tcp).expect("connect");
    c.write_all(format!("{} {msg}", msg.len()).as_bytes()).expect("write");
    c.flush().expect("flush");

    f.wait_for("three detections", |o, _| o.len() >= 3);
    std::thread::sleep(Duration::from_millis(200));
    let ds = f.stop();
    assert_eq!(ds.len(), 3, "{ds:?}");
    let by_ip = |ip: &str| {
        ds.iter()
            .find(|d| d["source_ip"] == ip)
            .unwrap_or_else(|| panic!("no detection for {ip}: {ds:?}"))
    };
    let bind = by_ip("203.0.113.7");
    assert_eq!(
        (bind["app"].as_str(), bind["dataset"].as_str()),
        (Some("tiktok"), Some("bind.query"))
    );
    assert_eq!(
        bind["@timestamp"], "2026-11-22T02:54:51.317Z",
        "the syslog header's time"
    );
    let relay = by_ip("203.0.113.8");
    assert_eq!(relay["kind"], "bypass");
    let squid = by_ip("203.0.113.9");
    assert_eq!(
        (squid["app"].as_str(), squid["outcome"].as_str()),
        (Some("tiktok"), Some("got-through"))
    );
}

#[test]
fn once_reads_to_the_end_names_devices_and_remembers_where_it_stopped() {
    let dir = support::tempdir("follow-once");
    let log = dir.join("query.log");
    let devices = dir.join("devices.csv");
    std::fs::write(&devices, "203.0.113.7,reception-pc,alice\n").expect("devices");
    append(
        &log,
        &(bind_query(1, "203.0.113.7", "www.tiktok.com") + &bind_query(2, "203.0.113.8", "example.org")),
    );
    let run = || {
        support::appwarden(&[
            "monitor",
            "follow",
            log.to_str().expect("utf-8"),
            "--once",
            "--devices",
            devices.to_str().expect("utf-8"),
            "--data-dir",
            dir.join("data").to_str().expect("utf-8"),
        ])
    };
    let o = run();
    assert!(o.status.success(), "{}", support::stderr(&o));
    let lines: Vec<serde_json::Value> = support::stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["app"], "tiktok");
    assert_eq!(lines[0]["device"], "reception-pc", "named from the device map");
    assert_eq!(lines[0]["user"], "alice");
    // nothing new: nothing printed
    let o = run();
    assert!(support::stdout(&o).trim().is_empty(), "{}", support::stdout(&o));
    append(&log, &bind_query(3, "203.0.113.9", "mask.icloud.com"));
    let o = run();
    let out = support::stdout(&o);
    assert_eq!(out.lines().count(), 1, "only the new line: {out}");
    assert!(out.contains("\"bypass\""), "{out}");
}
