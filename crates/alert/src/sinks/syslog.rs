//! Syslog: RFC 5424 messages with structured data, or ArcSight CEF carried in
//! an RFC 5424 message, over UDP (RFC 5426: one datagram per message), TCP
//! (RFC 6587 octet counting: `LEN SP MSG`) or TLS (RFC 5425, same framing).
//! One message per alert.
//!
//! RFC 5424 (`format = "rfc5424"`):
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME appwarden PROCID firing [appwarden@32473 notification="…" status="firing"
//!   severity="critical" fingerprint="…" app="tiktok" group="corporate" device="laptop-7" … count_total="7" …] SUMMARY
//! ```
//!
//! CEF (`format = "cef"`): the same header with no structured data, and as message
//! `CEF:0|appwarden|appwarden|VERSION|SIGNATURE|NAME|SEVERITY|EXTENSION` (see [`cef`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Deserializer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use super::render::{self, Severity};
use super::{At, BuildError, DEFAULT_TIMEOUT};
use crate::model::{Alert, Notification, Sink, SinkError, SinkFuture, Status};

/// The documentation example Private Enterprise Number (RFC 5612); set your own with `enterprise_id`.
pub const DEFAULT_ENTERPRISE_ID: &str = "32473";

/// Transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One datagram per message (RFC 5426). The default.
    #[default]
    Udp,
    /// Octet-counted frames over TCP (RFC 6587).
    Tcp,
    /// Octet-counted frames over TLS (RFC 5425).
    Tls,
}

/// Message format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 5424 with an `[appwarden@PEN …]` structured-data element. The default.
    #[default]
    Rfc5424,
    /// ArcSight Common Event Format in an RFC 5424 message.
    Cef,
}

/// `[[alerts.receiver.syslog]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port` of the collector (`siem.example.com:514`, `[::1]:6514`).
    pub address: String,
    /// `udp` (default), `tcp` or `tls`.
    #[serde(default)]
    pub transport: Transport,
    /// `rfc5424` (default) or `cef`.
    #[serde(default)]
    pub format: Format,
    /// Facility name (`local0`…`local7`, `auth`, `authpriv`, `security`, `daemon`, `user`, …) or number.
    /// Default `local0`.
    #[serde(default, deserialize_with = "de_facility")]
    pub facility: Option<u8>,
    /// Private Enterprise Number of the structured-data id (`appwarden@PEN`). Default 32473, the
    /// documentation example: register or use your organisation's.
    #[serde(default, deserialize_with = "de_pen")]
    pub enterprise_id: Option<String>,
    /// HOSTNAME field. Default: this host's name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// PEM file of CA certificates to trust for `tls` besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Time limit of one delivery. Default 10 s.
    #[serde(default, deserialize_with = "super::de_opt_duration")]
    pub timeout: Option<Duration>,
}

const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("ntp", 12),
    ("security", 13),
    ("console", 14),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

fn de_facility<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u8),
        Name(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Num(n)) if n <= 23 => Ok(Some(n)),
        Some(Raw::Num(n)) => Err(serde::de::Error::custom(format!("facility {n} is above 23"))),
        Some(Raw::Name(s)) => FACILITIES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&s))
            .map(|(_, n)| Some(*n))
            .ok_or_else(|| serde::de::Error::custom(format!("unknown facility `{s}`"))),
    }
}

fn de_pen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u64),
        Text(String),
    }
    let s = match Option::<Raw>::deserialize(d)? {
        None => return Ok(None),
        Some(Raw::Num(n)) => n.to_string(),
        Some(Raw::Text(t)) => t,
    };
    // A PEN, optionally with sub-identifiers: 32473 or 32473.1.2.
    if s.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && s.len() <= 20
    {
        Ok(Some(s))
    } else {
        Err(serde::de::Error::custom(format!(
            "`{s}` is not a private enterprise number (digits, e.g. 32473)"
        )))
    }
}

/// Syslog severity: critical → 2 (crit), warning → 4 (warning), info → 6 (informational);
/// resolved alerts → 5 (notice).
pub fn syslog_severity(a: &Alert) -> u8 {
    match (a.status, Severity::of_alert(a)) {
        (Status::Resolved, _) => 5,
        (Status::Firing, Severity::Critical) => 2,
        (Status::Firing, Severity::Warning) => 4,
        (Status::Firing, Severity::Info) => 6,
    }
}

/// CEF severity (0–10): critical → 9, warning → 6, info → 3; resolved alerts → 1.
pub fn cef_severity(a: &Alert) -> u8 {
    match (a.status, Severity::of_alert(a)) {
        (Status::Resolved, _) => 1,
        (Status::Firing, Severity::Critical) => 9,
        (Status::Firing, Severity::Warning) => 6,
        (Status::Firing, Severity::Info) => 3,
    }
}

/// RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]` get a backslash.
pub fn sd_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// An SD-NAME (PARAM-NAME): printable US-ASCII except `=`, space, `]`, `"`, at most 32 characters.
fn sd_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if n.is_empty() { "_".into() } else { n }
}

/// A header field: printable US-ASCII, at most `max` characters, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let n: String = s.chars().filter(char::is_ascii_graphic).take(max).collect();
    if n.is_empty() { "-".into() } else { n }
}

/// CEF header field escaping: `\` and `|` get a backslash; line breaks become spaces.
pub fn cef_header_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// CEF extension value escaping: `\` and `=` get a backslash; line breaks become `\n` / `\r`.
pub fn cef_ext_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

/// Fields of the structured-data element, in order (a name may repeat).
fn sd_params(n: &Notification, a: &Alert) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = vec![
        ("notification".into(), n.id.clone()),
        ("receiver".into(), n.receiver.clone()),
        ("status".into(), a.status.as_str().into()),
        ("severity".into(), Severity::of_alert(a).as_str().into()),
        ("fingerprint".into(), a.fingerprint.clone()),
    ];
    let fixed: Vec<String> = p.iter().map(|(k, _)| k.clone()).collect();
    for (k, v) in &a.labels {
        let k = sd_name(k);
        // The labels' own `severity` is shown mapped above.
        if !fixed.contains(&k) {
            p.push((k, v.clone()));
        }
    }
    p.push(("count_total".into(), a.counts.total.to_string()));
    p.push(("count_blocked".into(), a.counts.blocked.to_string()));
    p.push(("count_got_through".into(), a.counts.got_through.to_string()));
    p.push(("count_unknown".into(), a.counts.unknown.to_string()));
    p.push(("starts_at".into(), render::rfc3339(a.starts_at_ms)));
    p.push(("last_seen".into(), render::rfc3339(a.last_seen_ms)));
    if let Some(e) = a.ends_at_ms {
        p.push(("ends_at".into(), render::rfc3339(e)));
    }
    for b in &a.bypass_indicators {
        p.push(("bypass_indicator".into(), b.clone()));
    }
    for e in a.evidence.iter().take(10) {
        p.push(("evidence".into(), e.clone()));
    }
    p
}

/// Everything a message needs besides the alert.
#[derive(Clone, Debug)]
pub struct Header {
    /// Facility number (0–23).
    pub facility: u8,
    /// HOSTNAME.
    pub hostname: String,
    /// PROCID.
    pub procid: String,
    /// PEN of the SD-ID.
    pub enterprise_id: String,
}

fn header(h: &Header, n: &Notification, a: &Alert, sev: u8) -> String {
    format!(
        "<{}>1 {} {} appwarden {} {}",
        u16::from(h.facility) * 8 + u16::from(sev),
        render::rfc3339(n.created_ms),
        header_field(&h.hostname, 255),
        header_field(&h.procid, 128),
        a.status.as_str(),
    )
}

/// One RFC 5424 message (without framing).
pub fn rfc5424(h: &Header, n: &Notification, a: &Alert) -> String {
    let mut s = header(h, n, a, syslog_severity(a));
    let _ = write!(s, " [appwarden@{}", h.enterprise_id);
    for (k, v) in sd_params(n, a) {
        let _ = write!(s, " {k}=\"{}\"", sd_escape(&v));
    }
    s.push_str("] ");
    s.push_str(&render::summary(a).replace(['\r', '\n'], " "));
    s
}

/// The CEF record of an alert (no syslog header).
///
/// Header: vendor `appwarden`, product `appwarden`, version of this build, signature id
/// `KIND:APP` (`app-use:tiktok`, `bypass:encrypted-dns`), name (`TikTok use`), severity.
/// Extension: `rt` (last detection, ms), `start`, `end` (resolved), `src` (client when it is an
/// address), `shost` (device), `suser` (user), `act` (decision), `outcome` (`blocked`,
/// `got-through`, `unknown`), `cnt` (detections), `cat` (category), `msg` (summary),
/// `externalId` (fingerprint), `cs1` app, `cs2` group, `cs3` status, `cs4` bypass indicators,
/// `cs5` evidence, `cs6` notification id, `cn1` blocked, `cn2` got through, `cn3` unknown.
pub fn cef(n: &Notification, a: &Alert) -> String {
    let kind = a.labels.get("kind").map(String::as_str).unwrap_or("alert");
    let app = a.labels.get("app").map(String::as_str).unwrap_or("unknown");
    let mut name = render::what(a);
    if a.status == Status::Resolved {
        name.push_str(" (resolved)");
    }
    let mut s = format!(
        "CEF:0|appwarden|appwarden|{}|{}|{}|{}|",
        cef_header_escape(env!("CARGO_PKG_VERSION")),
        cef_header_escape(&format!("{kind}:{app}")),
        cef_header_escape(&name),
        cef_severity(a),
    );
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", a.last_seen_ms.to_string()),
        ("start", a.starts_at_ms.to_string()),
    ];
    if let Some(e) = a.ends_at_ms {
        ext.push(("end", e.to_string()));
    }
    if let Some(c) = a.labels.get("client").filter(|c| c.parse::<std::net::IpAddr>().is_ok()) {
        ext.push(("src", c.clone()));
    }
    if let Some(d) = a.labels.get("device") {
        ext.push(("shost", d.clone()));
    }
    if let Some(u) = a.labels.get("user") {
        ext.push(("suser", u.clone()));
    }
    if let Some(d) = a.labels.get("decision") {
        ext.push(("act", d.clone()));
    }
    let outcome = if a.counts.got_through > 0 {
        "got-through"
    } else if a.counts.blocked > 0 && a.counts.blocked == a.counts.total {
        "blocked"
    } else {
        "unknown"
    };
    ext.push(("outcome", outcome.into()));
    ext.push(("cnt", a.counts.total.to_string()));
    if let Some(c) = a.labels.get("category") {
        ext.push(("cat", c.clone()));
    }
    ext.push(("msg", render::summary(a)));
    ext.push(("externalId", a.fingerprint.clone()));
    ext.push(("cs1Label", "app".into()));
    ext.push(("cs1", app.into()));
    if let Some(g) = a.labels.get("group") {
        ext.push(("cs2Label", "group".into()));
        ext.push(("cs2", g.clone()));
    }
    ext.push(("cs3Label", "status".into()));
    ext.push(("cs3", a.status.as_str().into()));
    if !a.bypass_indicators.is_empty() {
        ext.push(("cs4Label", "bypassIndicators".into()));
        ext.push(("cs4", a.bypass_indicators.join(",")));
    }
    if !a.evidence.is_empty() {
        ext.push(("cs5Label", "evidence".into()));
        ext.push(("cs5", a.evidence.iter().take(3).cloned().collect::<Vec<_>>().join(" ")));
    }
    ext.push(("cs6Label", "notificationId".into()));
    ext.push(("cs6", n.id.clone()));
    ext.push(("cn1Label", "blocked".into()));
    ext.push(("cn1", a.counts.blocked.to_string()));
    ext.push(("cn2Label", "gotThrough".into()));
    ext.push(("cn2", a.counts.got_through.to_string()));
    ext.push(("cn3Label", "unknownOutcome".into()));
    ext.push(("cn3", a.counts.unknown.to_string()));
    let ext: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", cef_ext_escape(&v)))
        .collect();
    s.push_str(&ext.join(" "));
    s
}

/// One CEF message in an RFC 5424 envelope (nil structured data).
pub fn cef_message(h: &Header, n: &Notification, a: &Alert) -> String {
    format!("{} - {}", header(h, n, a, syslog_severity(a)), cef(n, a))
}

/// This host's name, for HOSTNAME.
fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A configured syslog destination.
pub struct SyslogSink {
    address: String,
    host: String,
    transport: Transport,
    format: Format,
    header: Header,
    tls: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
    name: String,
}

impl SyslogSink {
    pub(crate) fn build(c: &SyslogConfig, base_dir: &Path, at: &At) -> Result<SyslogSink, BuildError> {
        let (host, port) = c
            .address
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| at.err("address", format!("`{}` is not host:port", c.address)))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_string();
        let tls = match c.transport {
            Transport::Tls => Some(tls_connector(c, base_dir, at)?),
            _ => {
                if c.ca_file.is_some() {
                    return Err(at.err("ca_file", "only used with `transport = \"tls\"`"));
                }
                None
            }
        };
        if c.transport == Transport::Tls {
            ServerName::try_from(host.clone())
                .map_err(|_| at.err("address", format!("`{host}` is not a valid TLS server name")))?;
        }
        let t = match c.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        let f = match c.format {
            Format::Rfc5424 => "rfc5424",
            Format::Cef => "cef",
        };
        Ok(SyslogSink {
            name: format!(
                "syslog:{t}://{}:{port} ({f})",
                if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.clone()
                }
            ),
            address: if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            },
            host,
            transport: c.transport,
            format: c.format,
            header: Header {
                facility: c.facility.unwrap_or(16),
                hostname: c.hostname.clone().unwrap_or_else(system_hostname),
                procid: std::process::id().to_string(),
                enterprise_id: c
                    .enterprise_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ENTERPRISE_ID.to_string()),
            },
            tls,
            timeout: c.timeout.unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// The messages (unframed) for a notification, one per alert.
    pub fn messages(&self, n: &Notification) -> Vec<String> {
        n.alerts
            .iter()
            .map(|a| match self.format {
                Format::Rfc5424 => rfc5424(&self.header, n, a),
                Format::Cef => cef_message(&self.header, n, a),
            })
            .collect()
    }

    async fn deliver(&self, n: &Notification) -> Result<(), SinkError> {
        let msgs = self.messages(n);
        let io = |what: &str, e: std::io::Error| SinkError::retry(format!("{}: {what}: {e}", self.name));
        let work = async {
            match self.transport {
                Transport::Udp => {
                    let addr = tokio::net::lookup_host(&self.address)
                        .await
                        .map_err(|e| io("resolve", e))?
                        .next()
                        .ok_or_else(|| SinkError::retry(format!("{}: resolve: no address", self.name)))?;
                    let local = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                    let sock = UdpSocket::bind(local).await.map_err(|e| io("bind", e))?;
                    sock.connect(addr).await.map_err(|e| io("connect", e))?;
                    for m in &msgs {
                        sock.send(m.as_bytes()).await.map_err(|e| io("send", e))?;
                    }
                    Ok(())
                }
                Transport::Tcp | Transport::Tls => {
                    let mut frames = Vec::new();
                    for m in &msgs {
                        frames.extend_from_slice(format!("{} ", m.len()).as_bytes());
                        frames.extend_from_slice(m.as_bytes());
                    }
                    let tcp = TcpStream::connect(&self.address).await.map_err(|e| io("connect", e))?;
                    match &self.tls {
                        None => write_all(tcp, &frames).await.map_err(|e| io("send", e)),
                        Some(conn) => {
                            let name = ServerName::try_from(self.host.clone())
                                .map_err(|_| SinkError::permanent(format!("{}: bad server name", self.name)))?;
                            let tls = conn.connect(name, tcp).await.map_err(|e| io("TLS handshake", e))?;
                            write_all(tls, &frames).await.map_err(|e| io("send", e))
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(SinkError::retry(format!(
                "{}: timed out after {:?}",
                self.name, self.timeout
            ))),
        }
    }
}

async fn write_all<S: tokio::io::AsyncWrite + Unpin>(mut s: S, data: &[u8]) -> std::io::Result<()> {
    s.write_all(data).await?;
    s.flush().await?;
    s.shutdown().await
}

fn tls_connector(c: &SyslogConfig, base_dir: &Path, at: &At) -> Result<tokio_rustls::TlsConnector, BuildError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(p) = &c.ca_file {
        let pem = super::read_file(at, "ca_file", base_dir, p)?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| at.err("ca_file", format!("not a PEM certificate bundle: {e}")))?;
        if certs.is_empty() {
            return Err(at.err("ca_file", "no certificate in the file"));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| at.err("ca_file", format!("unusable certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| at.err("transport", format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

impl Sink for SyslogSink {
    fn kind(&self) -> &'static str {
        "syslog"
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn send<'a>(&'a self, n: &'a Notification) -> SinkFuture<'a> {
        Box::pin(self.deliver(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(sd_escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(cef_header_escape("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(cef_ext_escape("a=b\\c\nd|e"), "a\\=b\\\\c\\nd|e");
        assert_eq!(sd_name("a b=c"), "a_b_c");
        assert_eq!(header_field("", 10), "-");
    }
}
