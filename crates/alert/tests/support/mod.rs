//! Shared pieces of the sink tests: a sample notification, temporary
//! directories, a loopback HTTP(S) receiver, a private CA, and tool checks.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alert::{Alert, Counts, Labels, Notification, Status};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Labels from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// 2024-06-01T12:00:00Z in ms.
pub const T0: u64 = 1_717_243_200_000;

/// A TikTok alert for a device in `corporate`.
pub fn tiktok_alert(device: &str, client: &str, status: Status) -> Alert {
    Alert {
        fingerprint: format!("fp-{device}"),
        status,
        labels: labels(&[
            ("alertname", "AppUse"),
            ("severity", "critical"),
            ("kind", "app-use"),
            ("app", "tiktok"),
            ("category", "social"),
            ("group", "corporate"),
            ("client", client),
            ("device", device),
            ("decision", "block"),
        ]),
        annotations: labels(&[("app_name", "TikTok"), ("summary", &format!("{device} used TikTok"))]),
        starts_at_ms: T0,
        ends_at_ms: (status == Status::Resolved).then_some(T0 + 900_000),
        last_seen_ms: T0 + 300_000,
        counts: Counts {
            total: 7,
            blocked: 5,
            got_through: 2,
            unknown: 0,
        },
        bypass_indicators: vec![],
        evidence: vec![
            "/var/log/dnsmasq.log:42".into(),
            "query-log:1717243200000:192.0.2.7".into(),
        ],
    }
}

/// A notification of two TikTok alerts (laptop-7 and phone-3) for receiver `security`.
pub fn notification(id: &str, status: Status) -> Notification {
    Notification {
        id: id.to_string(),
        receiver: "security".into(),
        group_key: "{}:{app=\"tiktok\",group=\"corporate\"}".into(),
        group_labels: labels(&[("app", "tiktok"), ("group", "corporate")]),
        status,
        alerts: vec![
            tiktok_alert("laptop-7", "192.0.2.7", status),
            tiktok_alert("phone-3", "192.0.2.8", status),
        ],
        created_ms: T0 + 310_000,
        external_url: Some("https://appwarden.example.net/".into()),
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("aw-sinks-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether an external tool is usable; when not, says why and returns false
/// (the test then skips), or panics with `APPWARDEN_REQUIRE_TOOLS=1`.
pub fn tool_available(what: &str, check: &[&str]) -> bool {
    let ok = std::process::Command::new(check[0])
        .args(&check[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        let msg = format!("{what} is not available (`{}` failed)", check.join(" "));
        if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{msg} and APPWARDEN_REQUIRE_TOOLS=1");
        }
        eprintln!("SKIP: {msg}");
    }
    ok
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private CA and a server certificate for `localhost` and 127.0.0.1, as PEM files.
pub struct Pki {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

pub fn pki(dir: &TempDir) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "appwarden test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: dir.write("ca.pem", ca.pem()),
        cert_pem: dir.write("server.pem", cert.pem()),
        key_pem: dir.write("server.key", key.serialize_pem()),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// A rustls server config for the test certificate.
pub fn tls_acceptor(p: &Pki) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(p.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p.key_der.clone())),
        )
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Responder = Arc<dyn Fn(&Request) -> u16 + Send + Sync>;

/// A loopback HTTP/1.1 receiver that records requests and answers with `respond(req)`.
pub struct Receiver {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    pub async fn start(respond: impl Fn(&Request) -> u16 + Send + Sync + 'static) -> Receiver {
        Self::start_inner(Arc::new(respond), None).await
    }

    pub async fn start_tls(
        acceptor: tokio_rustls::TlsAcceptor,
        respond: impl Fn(&Request) -> u16 + Send + Sync + 'static,
    ) -> Receiver {
        Self::start_inner(Arc::new(respond), Some(acceptor)).await
    }

    async fn start_inner(respond: Responder, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reqs = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let (respond, reqs, tls) = (respond.clone(), reqs.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve(sock, respond, reqs).await,
                        Some(acc) => {
                            if let Ok(s) = acc.accept(sock).await {
                                serve(s, respond, reqs).await
                            }
                        }
                    }
                });
            }
        });
        Receiver { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn taken(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(sock: S, respond: Responder, reqs: Arc<Mutex<Vec<Request>>>) {
    let mut r = BufReader::new(sock);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
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
        if r.read_exact(&mut body).await.is_err() {
            return;
        }
        let req = Request {
            method,
            path,
            headers,
            body,
        };
        let status = respond(&req);
        reqs.lock().unwrap().push(req);
        let reason = match status {
            200 => "OK",
            202 => "Accepted",
            302 => "Found",
            400 => "Bad Request",
            401 => "Unauthorized",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            _ => "Status",
        };
        let text = format!("status {status}");
        let extra = if status == 302 {
            "Location: http://127.0.0.1:9/elsewhere\r\n"
        } else {
            ""
        };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if r.get_mut().write_all(resp.as_bytes()).await.is_err() {
            return;
        }
        let _ = r.get_mut().flush().await;
    }
}

/// Builds the sinks of one TOML snippet (a receiver's sink tables), relative to `dir`.
pub fn build(toml_text: &str, dir: &Path) -> Vec<Arc<dyn alert::Sink>> {
    let cfg: alert::sinks::SinkConfigs = toml::from_str(toml_text).unwrap();
    alert::sinks::build(&cfg, dir).unwrap()
}

/// A build error's text for a TOML snippet.
pub fn build_err(toml_text: &str, dir: &Path) -> String {
    let cfg: alert::sinks::SinkConfigs = toml::from_str(toml_text).unwrap();
    match alert::sinks::build(&cfg, dir) {
        Ok(_) => panic!("expected a build error"),
        Err(e) => e.to_string(),
    }
}
