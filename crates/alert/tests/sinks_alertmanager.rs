//! Alertmanager sink against a real Alertmanager (Debian's
//! `prometheus-alertmanager`) on loopback: firing alerts appear with our
//! labels, resolved ones leave the active list.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alert::Status;
use serde_json::Value;
use support::{TempDir, notification};

const BIN: &str = "prometheus-alertmanager";

/// A running Alertmanager, killed on drop.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    async fn start() -> Alertmanager {
        let dir = TempDir::new("am");
        let cfg = dir.write(
            "alertmanager.yml",
            "route:\n  receiver: blackhole\n  group_wait: 1h\nreceivers:\n  - name: blackhole\n",
        );
        let port = support::free_port();
        let child = Command::new(BIN)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg("--cluster.listen-address=")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut am = Alertmanager { child, port, _dir: dir };
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/-/ready")).send().await
                && r.status().is_success()
            {
                return am;
            }
            if let Ok(Some(st)) = am.child.try_wait() {
                panic!("alertmanager exited: {st}");
            }
            assert!(Instant::now() < deadline, "alertmanager not ready after 15 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /api/v2/alerts` (active, silenced, inhibited and unprocessed: the API's defaults).
    async fn alerts(&self) -> Vec<Value> {
        let r = client()
            .get(format!("{}/api/v2/alerts", self.url()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        serde_json::from_slice::<Vec<Value>>(&r.bytes().await.unwrap()).unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn real_alertmanager_firing_then_resolved() {
    if !support::tool_available(
        "Alertmanager (apt-get install prometheus-alertmanager)",
        &[BIN, "--version"],
    ) {
        return;
    }
    let am = Alertmanager::start().await;
    let dir = TempDir::new("am-sink");
    // An HA pair whose second member is down: the one that is up takes the alerts.
    let down = support::free_port();
    let sinks = support::build(
        &format!(
            "[[alertmanager]]\nurls = [\"{}\", \"http://127.0.0.1:{down}/\"]\nresolve_margin = \"10m\"\ntimeout = \"3s\"\n",
            am.url()
        ),
        dir.path(),
    );
    let sink = &sinks[0];
    assert_eq!(sink.kind(), "alertmanager");
    assert_eq!(
        sink.describe(),
        format!("alertmanager:{},http://127.0.0.1:{down}", am.url())
    );

    sink.send(&notification("ob-am-1", Status::Firing))
        .await
        .expect("firing accepted");
    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let laptop = alerts
        .iter()
        .find(|a| a["labels"]["device"] == "laptop-7")
        .expect("laptop-7 listed");
    assert_eq!(laptop["labels"]["alertname"], "AppUse");
    assert_eq!(laptop["labels"]["app"], "tiktok");
    assert_eq!(laptop["labels"]["group"], "corporate");
    assert_eq!(laptop["labels"]["severity"], "critical");
    assert_eq!(laptop["status"]["state"], "active");
    assert_eq!(laptop["annotations"]["summary"], "laptop-7 used TikTok");
    assert_eq!(
        laptop["annotations"]["counts"],
        "7 detections (5 blocked, 2 got through)"
    );
    assert_eq!(laptop["generatorURL"], "https://appwarden.example.net");
    assert!(
        laptop["startsAt"].as_str().unwrap().starts_with("2024-06-01T12:00:00"),
        "{laptop}"
    );
    // endsAt = now + resolve_margin (10 min), so it stays active until re-sent or resolved.
    let ends = laptop["endsAt"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let ahead = ends.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((500..=600).contains(&ahead), "endsAt {ahead} s ahead");

    // Resolved: Alertmanager v0.25 keeps a resolved alert in memory but the v2 API lists only
    // alerts whose endsAt is in the future, so it disappears from GET /api/v2/alerts.
    sink.send(&notification("ob-am-2", Status::Resolved))
        .await
        .expect("resolved accepted");
    let alerts = am.alerts().await;
    assert!(alerts.is_empty(), "resolved alerts still listed: {alerts:?}");

    // Both members down: nothing delivered, retryable.
    drop(am);
    let e = sink.send(&notification("ob-am-3", Status::Firing)).await.unwrap_err();
    assert!(e.retryable, "{e}");
}

#[tokio::test]
async fn wrong_prefix_is_permanent() {
    if !support::tool_available(
        "Alertmanager (apt-get install prometheus-alertmanager)",
        &[BIN, "--version"],
    ) {
        return;
    }
    let am = Alertmanager::start().await;
    let dir = TempDir::new("am-bad");
    // A wrong path prefix: 404, permanent.
    let sinks = support::build(
        &format!("[[alertmanager]]\nurl = \"{}/no/such/prefix\"\n", am.url()),
        dir.path(),
    );
    let e = sinks[0]
        .send(&notification("ob-am-404", Status::Firing))
        .await
        .unwrap_err();
    assert!(!e.retryable && e.message.contains("404"), "{e}");
}
