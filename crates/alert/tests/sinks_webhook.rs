//! Webhook sink: Standard Webhooks signatures checked by an independent HMAC in
//! a loopback receiver (and by the reference Python library when present),
//! the JSON schema, HTTP status mapping, a private CA, build errors.
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use alert::Status;
use support::{Receiver, Request, TempDir, notification};

/// 32 bytes, base64.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwc2VjcmV0MTI=";

/// The receiver's check, written from the specification, not from the sink's code.
fn verify(secret: &str, req: &Request) -> bool {
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let (Some(id), Some(ts), Some(sigs)) = (
        req.headers.get("webhook-id"),
        req.headers.get("webhook-timestamp"),
        req.headers.get("webhook-signature"),
    ) else {
        return false;
    };
    let Ok(ts_n) = ts.parse::<u64>() else { return false };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(ts_n) > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&req.body);
    let expected = B64.encode(mac.finalize().into_bytes());
    sigs.split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

#[tokio::test]
async fn signed_delivery_verifies_and_tampering_is_rejected() {
    let rx = Receiver::start(|r| if verify(SECRET, r) { 200 } else { 401 }).await;
    let dir = TempDir::new("webhook");
    dir.write("webhook.secret", format!("{SECRET}\n"));
    let sinks = support::build(
        &format!(
            "[[webhook]]\nurl = \"{}\"\nsecret_file = \"webhook.secret\"\ntimeout = \"3s\"\nheaders = {{ Authorization = \"Bearer tok-123\" }}\n",
            rx.url("/hooks/appwarden?token=abc")
        ),
        dir.path(),
    );
    let sink = &sinks[0];
    assert_eq!(sink.kind(), "webhook");
    let shown = sink.describe();
    assert_eq!(shown, format!("webhook:http://127.0.0.1:{}/hooks/appwarden", rx.port));
    assert!(!shown.contains("abc") && !shown.contains("tok-123"));

    let n = notification("ob-17", Status::Firing);
    sink.send(&n)
        .await
        .expect("the receiver accepts a correctly signed request");
    let req = rx.taken().pop().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/appwarden?token=abc");
    assert_eq!(req.headers["webhook-id"], "ob-17");
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["authorization"], "Bearer tok-123");
    assert!(req.headers["webhook-signature"].starts_with("v1,"));

    // The body schema.
    let b = req.json();
    assert_eq!(b["version"], 1);
    assert_eq!(b["id"], "ob-17");
    assert_eq!(b["status"], "firing");
    assert_eq!(b["receiver"], "security");
    assert_eq!(b["severity"], "critical");
    assert_eq!(b["title"], "TikTok use — corporate");
    assert_eq!(b["groupLabels"]["app"], "tiktok");
    assert_eq!(b["externalUrl"], "https://appwarden.example.net");
    let a = &b["alerts"][0];
    assert_eq!(a["labels"]["device"], "laptop-7");
    assert_eq!(a["annotations"]["app_name"], "TikTok");
    assert_eq!(a["counts"]["total"], 7);
    assert_eq!(a["counts"]["gotThrough"], 2);
    assert_eq!(a["startsAt"], "2024-06-01T12:00:00.000Z");
    assert_eq!(a["endsAt"], serde_json::Value::Null);
    assert_eq!(a["lastSeenAt"], "2024-06-01T12:05:00.000Z");
    assert_eq!(a["evidence"][0], "/var/log/dnsmasq.log:42");
    let parsed: alert::sinks::webhook::WebhookBody = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(parsed.alerts.len(), 2);

    // Same signature headers, one byte of the body changed: the receiver refuses it.
    let mut tampered = req.body.clone();
    let pos = tampered.iter().position(|&c| c == b'7').unwrap();
    tampered[pos] = b'8';
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut post = client.post(rx.url("/hooks/appwarden")).body(tampered);
    for h in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        post = post.header(h, req.headers[h].as_str());
    }
    assert_eq!(post.send().await.unwrap().status(), 401);
    // And the untouched body with the same headers still passes (the check is not just "always 401").
    let mut post = client.post(rx.url("/hooks/appwarden")).body(req.body.clone());
    for h in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        post = post.header(h, req.headers[h].as_str());
    }
    assert_eq!(post.send().await.unwrap().status(), 200);

    // A resolved notification carries endsAt.
    sink.send(&notification("ob-18", Status::Resolved)).await.unwrap();
    let b = rx.taken().pop().unwrap().json();
    assert_eq!(b["status"], "resolved");
    assert_eq!(b["alerts"][0]["endsAt"], "2024-06-01T12:15:00.000Z");

    // The reference implementation agrees (pip package `standardwebhooks`).
    if support::tool_available(
        "python3 standardwebhooks",
        &["python3", "-c", "import standardwebhooks"],
    ) {
        let body = dir.write("body.json", &req.body);
        let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, body, wid, ts, sig = sys.argv[1:6]
payload = open(body, 'rb').read()
Webhook(secret).verify(payload, {"webhook-id": wid, "webhook-timestamp": ts, "webhook-signature": sig})
try:
    Webhook(secret).verify(payload + b" ", {"webhook-id": wid, "webhook-timestamp": ts, "webhook-signature": sig})
except Exception:
    print("ok")
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script, SECRET])
            .arg(&body)
            .args([
                &req.headers["webhook-id"],
                &req.headers["webhook-timestamp"],
                &req.headers["webhook-signature"],
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "standardwebhooks: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }
}

#[tokio::test]
async fn status_mapping() {
    let rx = Receiver::start(|r| r.path.trim_start_matches('/').parse().unwrap_or(500)).await;
    let dir = TempDir::new("webhook-status");
    let n = notification("ob-1", Status::Firing);
    for (code, retryable) in [
        (500, Some(true)),
        (503, Some(true)),
        (429, Some(true)),
        (408, Some(true)),
        (400, Some(false)),
        (404, Some(false)),
        (302, Some(false)),
        (200, None),
        (202, None),
    ] {
        let sinks = support::build(
            &format!("[[webhook]]\nurl = \"{}\"\n", rx.url(&format!("/{code}"))),
            dir.path(),
        );
        match sinks[0].send(&n).await {
            Ok(()) => assert_eq!(retryable, None, "HTTP {code} delivered"),
            Err(e) => {
                assert_eq!(Some(e.retryable), retryable, "HTTP {code}: {e}");
                assert!(e.message.contains(&code.to_string()), "{e}");
            }
        }
    }
    // Nobody listening: retryable.
    let port = support::free_port();
    let sinks = support::build(
        &format!("[[webhook]]\nurl = \"http://127.0.0.1:{port}/x\"\n"),
        dir.path(),
    );
    let e = sinks[0].send(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
}

#[tokio::test]
async fn private_ca() {
    let dir = TempDir::new("webhook-tls");
    let pki = support::pki(&dir);
    let rx = Receiver::start_tls(support::tls_acceptor(&pki), |_| 200).await;
    let url = format!("https://localhost:{}/hook", rx.port);
    let n = notification("ob-tls", Status::Firing);
    let sinks = support::build(
        &format!("[[webhook]]\nurl = \"{url}\"\nca_file = \"ca.pem\"\n"),
        dir.path(),
    );
    sinks[0].send(&n).await.expect("trusted through ca_file");
    assert_eq!(rx.taken().len(), 1);
    // Without the CA the certificate is not trusted; nothing is delivered.
    let sinks = support::build(&format!("[[webhook]]\nurl = \"{url}\"\ntimeout = 2\n"), dir.path());
    let e = sinks[0].send(&n).await.unwrap_err();
    assert!(e.message.to_lowercase().contains("certificate"), "{e}");
    assert_eq!(rx.taken().len(), 1);
}

#[test]
fn build_errors_name_sink_and_field() {
    let dir = TempDir::new("webhook-build");
    let e = support::build_err(
        "[[webhook]]\nurl = \"http://127.0.0.1:1/\"\nsecret_file = \"missing\"\n",
        dir.path(),
    );
    assert!(e.starts_with("webhook[0]: secret_file: cannot read"), "{e}");
    let e = support::build_err("[[webhook]]\nurl = \"ftp://example.net/\"\n", dir.path());
    assert!(e.starts_with("webhook[0]: url:"), "{e}");
    let e = support::build_err(
        "[[webhook]]\nurl = \"http://127.0.0.1:1/\"\nsecret = \"whsec_c2hvcnQ=\"\n",
        dir.path(),
    );
    assert!(e.starts_with("webhook[0]: secret:"), "{e}");
    assert!(!e.contains("c2hvcnQ"), "{e}");
    let e = support::build_err(
        "[[webhook]]\nurl = \"http://127.0.0.1:1/\"\nheaders = { webhook-id = \"x\" }\n",
        dir.path(),
    );
    assert!(e.starts_with("webhook[0]: headers:"), "{e}");
    let e = support::build_err(
        "[[webhook]]\nurl = \"http://127.0.0.1:1/\"\n[[webhook]]\nurl = \"http://127.0.0.1:1/\"\nca_file = \"nope.pem\"\n",
        dir.path(),
    );
    assert!(e.starts_with("webhook[1]: ca_file:"), "{e}");
    let cfg: Result<alert::sinks::SinkConfigs, _> =
        toml::from_str("[[webhook]]\nurl = \"http://x/\"\ntimeout = \"5 parsecs\"\n");
    assert!(cfg.is_err());
}
