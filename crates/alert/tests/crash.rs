//! `kill -9` of a process running the pipeline: a sink that is down while the
//! process dies still receives every notification, exactly once, when it
//! returns and the process is started again; a further restart sends nothing again.
//!
//! The "process" is this test binary started again with `ALERT_CRASH_CHILD`
//! set, running only [`crash_child`]; the sink is a loopback TCP receiver
//! that answers `ok` to each notification id.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alert::engine::Observation;
use alert::{AlertsConfig, Notification, Pipeline, PipelineOptions, Sink, SinkError, SinkFuture};
use monitor::{DetectionKind, Outcome};
use store::alerts::{AlertStore, OutboxRow, OutboxState};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const CONFIG: &str = r#"
[alerts]
resolve_timeout = "1h"
[alerts.route]
receiver = "ops"
group_by = ["app"]
group_wait = "0s"
group_interval = "100ms"
[[alerts.receiver]]
name = "ops"
[alerts.delivery]
initial_backoff = "20ms"
max_backoff = "100ms"
send_timeout = "2s"
"#;

/// Sends `ID\n` to a loopback port and waits for `ok`.
struct TcpSink(u16);

impl Sink for TcpSink {
    fn kind(&self) -> &'static str {
        "test-tcp"
    }

    fn describe(&self) -> String {
        format!("test-tcp:127.0.0.1:{}", self.0)
    }

    fn send<'a>(&'a self, n: &'a Notification) -> SinkFuture<'a> {
        Box::pin(async move {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.0))
                .await
                .map_err(|e| SinkError::retry(e.to_string()))?;
            s.write_all(format!("{}\n", n.id).as_bytes())
                .await
                .map_err(|e| SinkError::retry(e.to_string()))?;
            let mut line = String::new();
            tokio::io::BufReader::new(s)
                .read_line(&mut line)
                .await
                .map_err(|e| SinkError::retry(e.to_string()))?;
            if line.trim() == "ok" {
                Ok(())
            } else {
                Err(SinkError::retry(format!("answer {line:?}")))
            }
        })
    }
}

/// The child process: runs a pipeline on `ALERT_CRASH_CHILD` (dir) until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("ALERT_CRASH_CHILD") else {
        return; // not a child: nothing to do
    };
    let port: u16 = std::env::var("ALERT_CRASH_PORT")
        .expect("port")
        .parse()
        .expect("port number");
    let apps: usize = std::env::var("ALERT_CRASH_APPS").expect("apps").parse().expect("count");
    let cfg = AlertsConfig::from_toml_str(CONFIG).expect("valid").expect("present");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sinks: HashMap<String, Vec<Arc<dyn Sink>>> =
        HashMap::from([("ops".to_string(), vec![Arc::new(TcpSink(port)) as Arc<dyn Sink>])]);
    let opts = PipelineOptions {
        tick_interval: Duration::from_millis(20),
        ..PipelineOptions::default()
    };
    let p = Pipeline::start_with(cfg, Path::new(&dir), sinks, rt.handle(), opts).expect("start");
    for i in 0..apps {
        p.ingest(Observation {
            time_ms: None,
            kind: DetectionKind::AppUse,
            app: format!("app{i}"),
            app_name: None,
            category: None,
            group: "staff".into(),
            client: Some("192.0.2.1".into()),
            device: None,
            user: None,
            decision: policy::Action::Block,
            bypass_method: None,
            outcome: Outcome::GotThrough,
            evidence: format!("test.log:{i}"),
            indicator: None,
            matched: None,
        });
    }
    p.flush();
    // run until killed
    rt.block_on(async {
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// A child process, killed (SIGKILL) when dropped, so a failing test leaves none behind.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_child(dir: &Path, port: u16, apps: usize) -> ChildGuard {
    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("ALERT_CRASH_CHILD", dir)
        .env("ALERT_CRASH_PORT", port.to_string())
        .env("ALERT_CRASH_APPS", apps.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    ChildGuard(Some(child))
}

fn kill9(mut c: ChildGuard) {
    // std's kill is SIGKILL on Unix: no destructor, no flush
    if let Some(mut child) = c.0.take() {
        child.kill().expect("kill");
        let _ = child.wait();
    }
}

fn outbox(dir: &Path) -> Vec<OutboxRow> {
    AlertStore::open(dir).expect("store").outbox_all().expect("outbox")
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("appwarden-alert-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn kill_9_while_the_sink_is_down_loses_nothing_and_sends_nothing_twice() {
    if std::env::var("ALERT_CRASH_CHILD").is_ok() {
        return;
    }
    let dir = tempdir("crash");
    // a free loopback port, closed again: the sink is "down" (connection refused)
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    const APPS: usize = 5;

    // 1: notifications are made and queued, every send fails; then kill -9
    let child = spawn_child(&dir, port, APPS);
    // (a sink's rows go in order: while the first fails, the others wait behind it)
    wait_until("queued and attempted", || {
        let rows = outbox(&dir);
        rows.len() == APPS && rows.iter().any(|r| r.attempts >= 2)
    });
    kill9(child);
    assert!(outbox(&dir).iter().all(|r| r.state == OutboxState::Pending));

    // 2: the receiver is back; a new process delivers every queued notification
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the sink's port again");
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let got = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut line = String::new();
                if BufReader::new(&conn).read_line(&mut line).is_ok() && !line.trim().is_empty() {
                    got.lock().expect("lock").push(line.trim().to_string());
                    let _ = conn.write_all(b"ok\n");
                }
            }
        });
    }
    let child = spawn_child(&dir, port, 0);
    wait_until("all sent", || outbox(&dir).iter().all(|r| r.state == OutboxState::Sent));
    kill9(child);

    // 3: one more start (and kill -9): nothing is sent again, nothing new is made
    let child = spawn_child(&dir, port, 0);
    std::thread::sleep(Duration::from_millis(800));
    kill9(child);

    let got = got.lock().expect("lock").clone();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "sent twice: {counts:?}");
    let rows = outbox(&dir);
    assert_eq!(
        rows.len(),
        APPS,
        "one notification per group, none made again after the restarts"
    );
    let mut ids: Vec<&str> = rows.iter().map(|r| r.notification_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), ids);
    let _ = std::fs::remove_dir_all(&dir);
}
