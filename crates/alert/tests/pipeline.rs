//! The pipeline end to end with an in-process sink that can be down:
//! every notification arrives exactly once after the sink returns, and
//! across a restart pending rows are delivered while sent ones are not sent again.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alert::engine::Observation;
use alert::{AlertsConfig, Notification, Pipeline, PipelineOptions, Sink, SinkError, SinkFuture, Status};
use monitor::{DetectionKind, Outcome};
use store::alerts::{AlertStore, OutboxState};

/// A sink that records what it receives and fails (retryably) while down.
struct TestSink {
    name: String,
    down: AtomicBool,
    attempts: AtomicU64,
    got: Mutex<Vec<(String, Status)>>,
}

impl TestSink {
    fn new(name: &str, down: bool) -> Arc<TestSink> {
        Arc::new(TestSink {
            name: name.into(),
            down: AtomicBool::new(down),
            attempts: AtomicU64::new(0),
            got: Mutex::new(Vec::new()),
        })
    }

    fn got(&self) -> Vec<(String, Status)> {
        self.got.lock().expect("lock").clone()
    }
}

impl Sink for TestSink {
    fn kind(&self) -> &'static str {
        "test"
    }

    fn describe(&self) -> String {
        format!("test:{}", self.name)
    }

    fn send<'a>(&'a self, n: &'a Notification) -> SinkFuture<'a> {
        Box::pin(async move {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.down.load(Ordering::Relaxed) {
                return Err(SinkError::retry("connection refused"));
            }
            self.got.lock().expect("lock").push((n.id.clone(), n.status));
            Ok(())
        })
    }
}

/// A current-thread tokio runtime driven by its own thread.
struct Rt {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Rt {
    fn new() -> Rt {
        let (htx, hrx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            htx.send(rt.handle().clone()).expect("send handle");
            rt.block_on(async {
                let _ = stop_rx.await;
            });
        });
        Rt {
            handle: hrx.recv().expect("handle"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const CONFIG: &str = r#"
[alerts]
resolve_timeout = "400ms"
[alerts.route]
receiver = "ops"
group_by = ["app"]
group_wait = "0s"
group_interval = "100ms"
repeat_interval = "1h"
[[alerts.receiver]]
name = "ops"
[alerts.delivery]
initial_backoff = "20ms"
max_backoff = "80ms"
send_timeout = "1s"
"#;

fn config() -> AlertsConfig {
    AlertsConfig::from_toml_str(CONFIG).expect("valid").expect("present")
}

/// [`CONFIG`] with a longer resolve timeout (for steps that must happen before alerts resolve).
fn config_slow_resolve() -> AlertsConfig {
    AlertsConfig::from_toml_str(&CONFIG.replace("\"400ms\"", "\"1500ms\""))
        .expect("valid")
        .expect("present")
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("appwarden-alert-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn obs(client: &str, app: &str) -> Observation {
    Observation {
        time_ms: None,
        kind: DetectionKind::AppUse,
        app: app.into(),
        app_name: None,
        category: None,
        group: "staff".into(),
        client: Some(client.into()),
        device: None,
        user: None,
        decision: policy::Action::Block,
        bypass_method: None,
        outcome: Outcome::Blocked,
        evidence: "test.log:1".into(),
        indicator: None,
        matched: None,
    }
}

fn options() -> PipelineOptions {
    PipelineOptions {
        tick_interval: Duration::from_millis(20),
        ..PipelineOptions::default()
    }
}

fn sinks(s: &Arc<TestSink>) -> HashMap<String, Vec<Arc<dyn Sink>>> {
    HashMap::from([("ops".to_string(), vec![s.clone() as Arc<dyn Sink>])])
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn outbox(dir: &std::path::Path) -> Vec<store::alerts::OutboxRow> {
    AlertStore::open(dir).expect("store").outbox_all().expect("outbox")
}

/// Each id once, and exactly the outbox's ids.
fn assert_exactly_once(got: &[(String, Status)], dir: &std::path::Path) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, _) in got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|&n| n == 1), "duplicates: {counts:?}");
    let rows = outbox(dir);
    assert!(rows.iter().all(|r| r.state == OutboxState::Sent), "{rows:?}");
    let mut ids: Vec<&str> = rows.iter().map(|r| r.notification_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), ids);
}

#[test]
fn a_sink_that_was_down_gets_everything_once() {
    let dir = tempdir("down");
    let rt = Rt::new();
    let sink = TestSink::new("a", true);
    let p = Pipeline::start_with(config(), &dir, sinks(&sink), &rt.handle, options()).expect("start");
    for app in ["tiktok", "douyin", "signal"] {
        p.ingest(obs("192.0.2.1", app));
        p.ingest(obs("192.0.2.2", app));
    }
    p.flush();
    // three groups notify; the sink is down, so they wait and are retried
    wait_until("retries", || sink.attempts.load(Ordering::Relaxed) >= 3);
    let rows = outbox(&dir);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.state == OutboxState::Pending));
    assert!(sink.got().is_empty());
    // the alerts resolve while the sink is still down: resolved notifications queue too
    wait_until("resolved notifications queued", || outbox(&dir).len() == 6);
    assert!(sink.attempts.load(Ordering::Relaxed) >= 4, "retried while down");
    sink.down.store(false, Ordering::Relaxed);
    wait_until("delivery", || sink.got().len() >= 6);
    std::thread::sleep(Duration::from_millis(200)); // nothing else is coming
    let got = sink.got();
    assert_exactly_once(&got, &dir);
    // per group: firing first, then resolved (a sink's rows go in order)
    let rows = outbox(&dir);
    for key in rows.iter().map(|r| r.group_key.clone()) {
        let order: Vec<Status> = rows
            .iter()
            .filter(|r| r.group_key == key)
            .map(|r| got.iter().find(|g| g.0 == r.notification_id).expect("delivered").1)
            .collect();
        assert_eq!(order, [Status::Firing, Status::Resolved], "{key}");
    }
    assert!(rows.iter().all(|r| r.attempts >= 1));
    p.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restart_delivers_pending_rows_and_not_sent_ones_again() {
    let dir = tempdir("restart");
    let rt = Rt::new();
    // run 1: the sink is up for tiktok, then goes down for signal
    let first = TestSink::new("a", false);
    let p = Pipeline::start_with(config_slow_resolve(), &dir, sinks(&first), &rt.handle, options()).expect("start");
    p.ingest(obs("192.0.2.1", "tiktok"));
    p.flush();
    wait_until("tiktok delivered", || first.got().len() == 1);
    first.down.store(true, Ordering::Relaxed);
    p.ingest(obs("192.0.2.1", "signal"));
    p.flush();
    wait_until("signal attempted", || {
        outbox(&dir)
            .iter()
            .any(|r| r.state == OutboxState::Pending && r.attempts >= 1)
    });
    // stop while the sink is down (the engine state is committed; the row stays pending)
    p.shutdown(Duration::from_millis(500));
    let before = outbox(&dir);
    assert_eq!(before.len(), 2);
    // run 2: a new process would see the same store; the sink is back
    let second = TestSink::new("a", false);
    let p = Pipeline::start_with(config_slow_resolve(), &dir, sinks(&second), &rt.handle, options()).expect("restart");
    wait_until("pending delivered", || !second.got().is_empty());
    // keep tiktok alive past the old resolve time: the restored group does not notify it again
    p.ingest(obs("192.0.2.1", "tiktok"));
    p.flush();
    std::thread::sleep(Duration::from_millis(150));
    let got2 = second.got();
    assert_eq!(got2.len(), 1, "{got2:?}");
    let signal = before
        .iter()
        .find(|r| r.state == OutboxState::Pending)
        .expect("pending row");
    assert_eq!(got2[0].0, signal.notification_id, "the pending row, with its id");
    // both resolve: their resolved notifications go to the second sink only
    wait_until("resolved", || second.got().len() == 3);
    std::thread::sleep(Duration::from_millis(200));
    let mut all = first.got();
    all.extend(second.got());
    assert_exactly_once(&all, &dir);
    assert_eq!(all.iter().filter(|g| g.1 == Status::Resolved).count(), 2, "{all:?}");
    p.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_permanent_failure_is_dead_not_retried() {
    struct Refuses(AtomicU64);
    impl Sink for Refuses {
        fn kind(&self) -> &'static str {
            "test"
        }
        fn describe(&self) -> String {
            "test:refuses".into()
        }
        fn send<'a>(&'a self, _n: &'a Notification) -> SinkFuture<'a> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Box::pin(async { Err(SinkError::permanent("400 bad request")) })
        }
    }
    let dir = tempdir("dead");
    let rt = Rt::new();
    let s = Arc::new(Refuses(AtomicU64::new(0)));
    let map = HashMap::from([("ops".to_string(), vec![s.clone() as Arc<dyn Sink>])]);
    let p = Pipeline::start_with(config(), &dir, map, &rt.handle, options()).expect("start");
    p.ingest(obs("192.0.2.1", "tiktok"));
    p.flush();
    wait_until("dead", || outbox(&dir).iter().any(|r| r.state == OutboxState::Dead));
    std::thread::sleep(Duration::from_millis(100));
    let rows = outbox(&dir);
    let dead = rows.iter().find(|r| r.state == OutboxState::Dead).expect("dead row");
    assert_eq!(dead.attempts, 1);
    assert_eq!(dead.last_error.as_deref(), Some("400 bad request"));
    p.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
}
