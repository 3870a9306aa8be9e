//! E-mail over SMTP (lettre, rustls with the ring provider).
//!
//! One message per notification, plain text with an HTML alternative. The
//! subject follows Alertmanager's (`[FIRING:2] TikTok use — corporate`); the
//! `Message-ID` is derived from the notification id, so a re-send after a
//! crash carries the same id and mail clients thread or drop duplicates.
//! SMTP 4xx replies are retryable, 5xx permanent; connection failures,
//! time-outs and TLS errors are retryable.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::render::{self, Severity, html_escape};
use super::{At, BuildError, DEFAULT_TIMEOUT, Secret};
use crate::model::{Notification, Sink, SinkError, SinkFuture, Status};

/// How the connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which is required (port 587 or 25). The default.
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", SMTPS, port 465).
    Tls,
    /// No TLS: only towards a loopback smarthost, or with `insecure = true`.
    None,
}

/// `[[alerts.receiver.email]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `host:port` of the SMTP server (`mail.example.com:587`, `[::1]:25`).
    pub smarthost: String,
    /// `starttls` (default), `tls` (implicit, port 465) or `none`.
    #[serde(default)]
    pub tls: TlsMode,
    /// Allows `tls = "none"` towards a host other than loopback (credentials then travel in clear).
    #[serde(default)]
    pub insecure: bool,
    /// SMTP AUTH user name (PLAIN or LOGIN); none: no authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// SMTP AUTH password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// File holding the password (relative to the configuration file).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Sender (`appwarden@example.com` or `appwarden <appwarden@example.com>`).
    pub from: String,
    /// Recipients (at least one).
    pub to: Vec<String>,
    /// PEM file of CA certificates to trust besides the public roots (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Name given in EHLO. Default: this host's name.
    #[serde(default)]
    pub hello: Option<String>,
    /// Time limit of one delivery (each SMTP command, and the whole). Default 10 s.
    #[serde(default, deserialize_with = "super::de_opt_duration")]
    pub timeout: Option<Duration>,
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no auto-replies, please.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// A configured mail route.
pub struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    timeout: Duration,
    name: String,
}

/// Splits `host:port` / `[v6]:port`.
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.trim().rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.contains(':') && host.parse::<IpAddr>().is_err() {
        return None;
    }
    Some((host.to_string(), port))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl EmailSink {
    pub(crate) fn build(c: &EmailConfig, base_dir: &Path, at: &At) -> Result<EmailSink, BuildError> {
        let (host, port) = split_host_port(&c.smarthost)
            .ok_or_else(|| at.err("smarthost", format!("`{}` is not host:port", c.smarthost)))?;
        if c.tls == TlsMode::None && !c.insecure && !is_loopback(&host) {
            return Err(at.err(
                "tls",
                "`none` is only allowed towards a loopback smarthost; set `insecure = true` to send in clear",
            ));
        }
        let from: Mailbox = c
            .from
            .parse()
            .map_err(|e| at.err("from", format!("`{}`: {e}", c.from)))?;
        if c.to.is_empty() {
            return Err(at.err("to", "at least one recipient is required"));
        }
        let to =
            c.to.iter()
                .map(|t| t.parse::<Mailbox>().map_err(|e| at.err("to", format!("`{t}`: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
        let timeout = c.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .timeout(Some(timeout));
        if c.tls != TlsMode::None {
            let mut tp = TlsParameters::builder(host.clone());
            if let Some(p) = &c.ca_file {
                let pem = super::read_file(at, "ca_file", base_dir, p)?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| at.err("ca_file", format!("not a PEM certificate: {e}")))?;
                tp = tp.add_root_certificate(cert);
            }
            let tp = tp
                .build_rustls()
                .map_err(|e| at.err("ca_file", format!("TLS set-up: {e}")))?;
            b = b.tls(if c.tls == TlsMode::Tls {
                Tls::Wrapper(tp)
            } else {
                Tls::Required(tp)
            });
        } else {
            b = b.tls(Tls::None);
        }
        let password = super::secret_from(
            at,
            c.password.as_ref(),
            c.password_file.as_ref(),
            base_dir,
            "password",
            "password_file",
            c.username.is_some(),
        )?;
        match (&c.username, password) {
            (Some(u), Some(p)) => {
                b = b
                    .credentials(Credentials::new(u.clone(), p.expose().to_string()))
                    .authentication(vec![Mechanism::Plain, Mechanism::Login]);
            }
            (None, Some(_)) => return Err(at.err("username", "a password is set but no `username`")),
            _ => {}
        }
        if let Some(h) = &c.hello {
            b = b.hello_name(ClientId::Domain(h.clone()));
        }
        let mode = match c.tls {
            TlsMode::Starttls => "smtp+starttls",
            TlsMode::Tls => "smtps",
            TlsMode::None => "smtp",
        };
        let shown_host = if host.contains(':') { format!("[{host}]") } else { host };
        Ok(EmailSink {
            transport: b.build(),
            from,
            to,
            timeout,
            name: format!("email:{mode}://{shown_host}:{port}"),
        })
    }

    /// The message for a notification.
    pub fn message(&self, n: &Notification) -> Result<Message, SinkError> {
        let domain = self.from.email.domain().to_string();
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(render::subject(n))
            .message_id(Some(message_id(&n.id, &domain)))
            .header(AutoSubmitted);
        for t in &self.to {
            b = b.to(t.clone());
        }
        b.multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text_body(n)))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html_body(n))),
        )
        .map_err(|e| SinkError::permanent(format!("{}: cannot build the message: {e}", self.name)))
    }

    async fn deliver(&self, n: &Notification) -> Result<(), SinkError> {
        let msg = self.message(n)?;
        // lettre's time-out is per command; this bounds the whole exchange.
        let total = self.timeout.saturating_mul(3);
        match tokio::time::timeout(total, self.transport.send(msg)).await {
            Err(_) => Err(SinkError::retry(format!("{}: timed out after {total:?}", self.name))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(smtp_error(&self.name, &e)),
        }
    }
}

/// SMTP 5xx: permanent; 4xx, connection, TLS and time-outs: retryable.
fn smtp_error(name: &str, e: &lettre::transport::smtp::Error) -> SinkError {
    let message = format!("{name}: {}", super::http::error_chain(e));
    if e.is_permanent() {
        SinkError::permanent(message)
    } else {
        SinkError::retry(message)
    }
}

/// `<appwarden.ID@DOMAIN>` with ID reduced to characters allowed in a dot-atom.
pub fn message_id(id: &str, domain: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<appwarden.{id}@{domain}>")
}

fn text_body(n: &Notification) -> String {
    let mut s = format!(
        "{}\n\nStatus: {}\nSeverity: {}\nReceiver: {}\n",
        render::subject(n),
        n.status.as_str(),
        Severity::of(n).as_str(),
        n.receiver
    );
    for a in &n.alerts {
        let state = if a.status == Status::Resolved {
            " (resolved)"
        } else {
            ""
        };
        s.push_str(&format!("\n* {}{state}\n", render::summary(a)));
        s.push_str(&format!("  Who:       {}\n", render::who(a)));
        s.push_str(&format!("  What:      {}\n", render::what(a)));
        s.push_str(&format!("  How many:  {}\n", render::counts(&a.counts)));
        s.push_str(&format!("  Window:    {}\n", render::window(a)));
        if let Some(g) = a.labels.get("group") {
            s.push_str(&format!("  Group:     {g}\n"));
        }
        if !a.bypass_indicators.is_empty() {
            s.push_str(&format!("  Bypass:    {}\n", a.bypass_indicators.join(", ")));
        }
        for e in a.evidence.iter().take(10) {
            s.push_str(&format!("  Evidence:  {e}\n"));
        }
        s.push_str(&format!(
            "  Labels:    {}\n",
            a.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if let Some(l) = render::link(n) {
        s.push_str(&format!("\nOpen appwarden: {l}\n"));
    }
    s.push_str(&format!("\n-- \nappwarden, notification {}\n", n.id));
    s
}

fn html_body(n: &Notification) -> String {
    let colour = match (n.status, Severity::of(n)) {
        (Status::Resolved, _) => "#2e7d32",
        (Status::Firing, Severity::Critical) => "#c62828",
        (Status::Firing, Severity::Warning) => "#ef6c00",
        (Status::Firing, Severity::Info) => "#1565c0",
    };
    let mut s = String::from("<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n");
    s.push_str(&format!(
        "<h2 style=\"color:{colour}\">{}</h2>\n<p>Status: <b>{}</b> · severity <b>{}</b> · receiver {}</p>\n",
        html_escape(&render::subject(n)),
        n.status.as_str(),
        Severity::of(n).as_str(),
        html_escape(&n.receiver)
    ));
    for a in &n.alerts {
        let state = if a.status == Status::Resolved {
            " (resolved)"
        } else {
            ""
        };
        s.push_str(&format!(
            "<h3>{}{state}</h3>\n<table cellpadding=\"3\">\n",
            html_escape(&render::summary(a))
        ));
        let mut row = |k: &str, v: &str| {
            s.push_str(&format!(
                "<tr><th align=\"left\">{k}</th><td>{}</td></tr>\n",
                html_escape(v)
            ))
        };
        row("Who", &render::who(a));
        row("What", &render::what(a));
        row("How many", &render::counts(&a.counts));
        row("Window", &render::window(a));
        if let Some(g) = a.labels.get("group") {
            row("Group", g);
        }
        if !a.bypass_indicators.is_empty() {
            row("Bypass indicators", &a.bypass_indicators.join(", "));
        }
        if !a.evidence.is_empty() {
            row(
                "Evidence",
                &a.evidence.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
            );
        }
        s.push_str("</table>\n");
    }
    if let Some(l) = render::link(n) {
        s.push_str(&format!("<p><a href=\"{}\">Open appwarden</a></p>\n", html_escape(&l)));
    }
    s.push_str(&format!(
        "<p style=\"color:#777\">appwarden · notification {}</p>\n</body></html>\n",
        html_escape(&n.id)
    ));
    s
}

impl Sink for EmailSink {
    fn kind(&self) -> &'static str {
        "email"
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
    fn host_port() {
        assert_eq!(
            split_host_port("mail.example.com:587"),
            Some(("mail.example.com".into(), 587))
        );
        assert_eq!(split_host_port("[::1]:25"), Some(("::1".into(), 25)));
        assert_eq!(split_host_port("mail.example.com"), None);
        assert_eq!(split_host_port(":25"), None);
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("192.0.2.1"));
        assert_eq!(message_id("ob/1 2", "example.com"), "<appwarden.ob/1-2@example.com>");
    }
}
