//! E-mail sink against a real SMTP server (Python aiosmtpd, tests/support/smtpd.py)
//! on loopback: STARTTLS + AUTH, implicit TLS, 4xx/5xx mapping, server down.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use alert::Status;
use serde_json::Value;
use support::{Pki, TempDir, notification};

/// A running smtpd.py, killed on drop.
struct Smtpd {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn available() -> bool {
    support::tool_available(
        "python3 with aiosmtpd (pip install aiosmtpd)",
        &["python3", "-c", "import aiosmtpd"],
    )
}

impl Smtpd {
    fn start(mode: &str, pki: &Pki, dir: &TempDir) -> Smtpd {
        let out = dir.path().join(format!("mail-{mode}"));
        std::fs::create_dir_all(&out).unwrap();
        let port = support::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtpd.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--mode", mode])
            .arg("--cert")
            .arg(&pki.cert_pem)
            .arg("--key")
            .arg(&pki.key_pem)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "smtpd.py did not start");
        Smtpd { child, port, out }
    }

    /// The parsed views of the messages received so far, in order.
    fn received(&self) -> Vec<Value> {
        let mut v = Vec::new();
        for i in 1.. {
            let eml = self.out.join(format!("{i}.eml"));
            if !eml.exists() {
                break;
            }
            v.push(serde_json::from_slice(&std::fs::read(self.out.join(format!("{i}.json"))).unwrap()).unwrap());
        }
        v
    }
}

fn config(port: u16, tls: &str, to: &str) -> String {
    format!(
        "[[email]]\nsmarthost = \"localhost:{port}\"\ntls = \"{tls}\"\nusername = \"alerts\"\npassword_file = \"smtp-pass\"\n\
         from = \"appwarden <appwarden@example.net>\"\nto = [\"{to}\"]\nca_file = \"ca.pem\"\ntimeout = \"5s\"\n"
    )
}

#[tokio::test]
async fn starttls_with_auth_delivers_once() {
    if !available() {
        return;
    }
    let dir = TempDir::new("email");
    let pki = support::pki(&dir);
    dir.write("smtp-pass", "s3cret\n");
    let srv = Smtpd::start("starttls", &pki, &dir);
    let sinks = support::build(&config(srv.port, "starttls", "soc@example.net"), dir.path());
    let sink = &sinks[0];
    assert_eq!(sink.kind(), "email");
    assert_eq!(sink.describe(), format!("email:smtp+starttls://localhost:{}", srv.port));

    let n = notification("ob-mail-1", Status::Firing);
    sink.send(&n).await.expect("delivered");
    let got = srv.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["auth"], true);
    assert_eq!(m["mail_from"], "appwarden@example.net");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["soc@example.net"]));
    assert_eq!(m["subject"], "[FIRING:2] TikTok use — corporate");
    assert_eq!(m["message_id"], "<appwarden.ob-mail-1@example.net>");
    assert_eq!(m["from"], "appwarden <appwarden@example.net>");
    assert_eq!(m["to"], "soc@example.net");
    assert_eq!(m["content_type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[1]["type"], "text/html");
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.contains("Who:       laptop-7 (192.0.2.7)"), "{text}");
    assert!(
        text.contains("How many:  7 detections (5 blocked, 2 got through)"),
        "{text}"
    );
    assert!(text.contains("phone-3"), "{text}");
    let html = parts[1]["text"].as_str().unwrap();
    assert!(
        html.contains("<h2") && html.contains("laptop-7 used TikTok") && html.contains("TikTok use"),
        "{html}"
    );

    // A re-send of the same notification (after a crash) carries the same Message-ID.
    sink.send(&n).await.unwrap();
    let got = srv.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["message_id"], got[0]["message_id"]);

    // Resolved.
    sink.send(&notification("ob-mail-2", Status::Resolved)).await.unwrap();
    assert_eq!(srv.received()[2]["subject"], "[RESOLVED] TikTok use — corporate");

    // 5xx (unknown recipient): permanent; 4xx (busy): retryable. Nothing more arrives.
    let s = support::build(&config(srv.port, "starttls", "nobody@example.net"), dir.path());
    let e = s[0].send(&n).await.unwrap_err();
    assert!(!e.retryable && e.message.contains("550"), "{e}");
    let s = support::build(&config(srv.port, "starttls", "busy@example.net"), dir.path());
    let e = s[0].send(&n).await.unwrap_err();
    assert!(e.retryable && e.message.contains("451"), "{e}");
    // Wrong password: 535, permanent; the password is not in the message.
    dir.write("smtp-pass", "wrong-pass-xyz\n");
    let s = support::build(&config(srv.port, "starttls", "soc@example.net"), dir.path());
    let e = s[0].send(&n).await.unwrap_err();
    assert!(
        !e.retryable && e.message.contains("535") && !e.message.contains("wrong-pass-xyz"),
        "{e}"
    );
    assert_eq!(srv.received().len(), 3);

    // Server down: retryable.
    let port = srv.port;
    drop(srv);
    dir.write("smtp-pass", "s3cret\n");
    let s = support::build(&config(port, "starttls", "soc@example.net"), dir.path());
    let e = s[0].send(&n).await.unwrap_err();
    assert!(e.retryable, "{e}");
}

#[tokio::test]
async fn implicit_tls() {
    if !available() {
        return;
    }
    let dir = TempDir::new("email-tls");
    let pki = support::pki(&dir);
    dir.write("smtp-pass", "s3cret");
    let srv = Smtpd::start("tls", &pki, &dir);
    let sinks = support::build(&config(srv.port, "tls", "soc@example.net"), dir.path());
    assert_eq!(sinks[0].describe(), format!("email:smtps://localhost:{}", srv.port));
    sinks[0]
        .send(&notification("ob-mail-tls", Status::Firing))
        .await
        .expect("delivered over implicit TLS");
    let got = srv.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["tls"], true);
    assert_eq!(got[0]["auth"], true);
    assert_eq!(got[0]["message_id"], "<appwarden.ob-mail-tls@example.net>");

    // Without the private CA the server is not trusted: nothing is sent.
    let cfg = config(srv.port, "tls", "soc@example.net").replace("ca_file = \"ca.pem\"\n", "");
    let sinks = support::build(&cfg, dir.path());
    let e = sinks[0]
        .send(&notification("ob-mail-untrusted", Status::Firing))
        .await
        .unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(srv.received().len(), 1);
}

#[tokio::test]
async fn plain_on_loopback_only() {
    if !available() {
        return;
    }
    let dir = TempDir::new("email-plain");
    let pki = support::pki(&dir);
    let srv = Smtpd::start("plain", &pki, &dir);
    let cfg = format!(
        "[[email]]\nsmarthost = \"127.0.0.1:{}\"\ntls = \"none\"\nfrom = \"appwarden@example.net\"\nto = [\"a@example.net\", \"b@example.net\"]\n",
        srv.port
    );
    let sinks = support::build(&cfg, dir.path());
    sinks[0]
        .send(&notification("ob-mail-plain", Status::Firing))
        .await
        .unwrap();
    let got = srv.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["tls"], false);
    assert_eq!(
        got[0]["rcpt_tos"],
        serde_json::json!(["a@example.net", "b@example.net"])
    );
}

#[test]
fn build_errors() {
    let dir = TempDir::new("email-build");
    let base = "from = \"appwarden@example.net\"\nto = [\"soc@example.net\"]\n";
    let e = support::build_err(
        &format!("[[email]]\nsmarthost = \"mail.example.net:25\"\ntls = \"none\"\n{base}"),
        dir.path(),
    );
    assert!(e.starts_with("email[0]: tls:"), "{e}");
    // With insecure = true it is allowed (nothing is sent here).
    let cfg: alert::sinks::SinkConfigs = toml::from_str(&format!(
        "[[email]]\nsmarthost = \"mail.example.net:25\"\ntls = \"none\"\ninsecure = true\n{base}"
    ))
    .unwrap();
    assert!(alert::sinks::build(&cfg, dir.path()).is_ok());
    let e = support::build_err(
        &format!("[[email]]\nsmarthost = \"mail.example.net\"\n{base}"),
        dir.path(),
    );
    assert!(e.starts_with("email[0]: smarthost:"), "{e}");
    let e = support::build_err(
        &format!("[[email]]\nsmarthost = \"mail.example.net:587\"\nusername = \"u\"\n{base}"),
        dir.path(),
    );
    assert!(e.starts_with("email[0]: password:"), "{e}");
    let e = support::build_err(
        "[[email]]\nsmarthost = \"mail.example.net:587\"\nfrom = \"not an address\"\nto = [\"soc@example.net\"]\n",
        dir.path(),
    );
    assert!(e.starts_with("email[0]: from:"), "{e}");
    let e = support::build_err(
        "[[email]]\nsmarthost = \"mail.example.net:587\"\nfrom = \"a@example.net\"\nto = []\n",
        dir.path(),
    );
    assert!(e.starts_with("email[0]: to:"), "{e}");
}
