//! Delivery channels. Each module renders a [`Notification`](crate::Notification)
//! in its receiver's format and sends it:
//!
//! | module | receiver | format |
//! | --- | --- | --- |
//! | [`webhook`] | any HTTP endpoint | appwarden's JSON (schema version 1), signed per Standard Webhooks |
//! | [`slack`] | Slack incoming webhook | `text` + Block Kit |
//! | [`teams`] | Microsoft Teams workflow webhook | Adaptive Card 1.4 |
//! | [`alertmanager`] | Prometheus Alertmanager | `POST /api/v2/alerts` |
//! | [`email`] | SMTP smarthost | text + HTML alternative |
//! | [`syslog`] | syslog collector / SIEM | RFC 5424 or CEF over UDP, TCP or TLS |
//!
//! [`SinkConfigs`] is the configuration of one receiver's sinks (lists per kind);
//! [`build`] turns it into [`Sink`]s. The HTTP sinks share one client
//! (rustls with the ring provider); a sink with its own `ca_file` gets its own.
//! HTTP status mapping, everywhere: 2xx delivered; 408, 429, 5xx and
//! connection errors or time-outs retryable; any other status permanent
//! (redirects are not followed: configure the final URL).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::model::Sink;

pub mod alertmanager;
pub mod email;
mod http;
mod render;
pub mod slack;
pub mod syslog;
pub mod teams;
pub mod webhook;

pub use render::Severity;

/// The sinks of one receiver, by kind. Every list may be empty or absent.
///
/// In `appwarden.toml` these keys sit in a `[[alerts.receiver]]` table next to its `name`:
///
/// ```toml
/// [[alerts.receiver]]
/// name = "security"
/// [[alerts.receiver.slack]]
/// url_file = "secrets/slack-url"
/// [[alerts.receiver.email]]
/// smarthost = "mail.example.com:587"
/// from = "appwarden@example.com"
/// to = ["soc@example.com"]
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfigs {
    /// Generic JSON webhooks (Standard Webhooks signatures).
    #[serde(default)]
    pub webhook: Vec<webhook::WebhookConfig>,
    /// Slack incoming webhooks.
    #[serde(default)]
    pub slack: Vec<slack::SlackConfig>,
    /// Microsoft Teams workflow webhooks.
    #[serde(default)]
    pub teams: Vec<teams::TeamsConfig>,
    /// Prometheus Alertmanager (one entry per cluster; several `urls` for an HA pair).
    #[serde(default)]
    pub alertmanager: Vec<alertmanager::AlertmanagerConfig>,
    /// E-mail over SMTP.
    #[serde(default)]
    pub email: Vec<email::EmailConfig>,
    /// Syslog (RFC 5424) or CEF.
    #[serde(default)]
    pub syslog: Vec<syslog::SyslogConfig>,
}

impl SinkConfigs {
    /// No sink configured.
    pub fn is_empty(&self) -> bool {
        self.webhook.is_empty()
            && self.slack.is_empty()
            && self.teams.is_empty()
            && self.alertmanager.is_empty()
            && self.email.is_empty()
            && self.syslog.is_empty()
    }
}

/// A sink configuration that cannot be used; names the sink (`kind[index]`) and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{sink}: {field}: {message}")]
pub struct BuildError {
    /// `slack[0]`, `email[1]`, …
    pub sink: String,
    /// The offending key (`url`, `password_file`, …).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Where a sink is, for [`BuildError`]s.
#[derive(Clone, Debug)]
pub(crate) struct At {
    sink: String,
}

impl At {
    pub(crate) fn new(kind: &str, index: usize) -> At {
        At {
            sink: format!("{kind}[{index}]"),
        }
    }

    pub(crate) fn err(&self, field: &'static str, message: impl fmt::Display) -> BuildError {
        BuildError {
            sink: self.sink.clone(),
            field,
            message: message.to_string(),
        }
    }
}

/// Builds the sinks of one receiver. Relative `*_file` paths are resolved
/// against `base_dir` (the directory of the configuration file).
pub fn build(cfg: &SinkConfigs, base_dir: &Path) -> Result<Vec<Arc<dyn Sink>>, BuildError> {
    let mut clients = http::Clients::default();
    let mut out: Vec<Arc<dyn Sink>> = Vec::new();
    for (i, c) in cfg.webhook.iter().enumerate() {
        out.push(Arc::new(webhook::WebhookSink::build(
            c,
            base_dir,
            &mut clients,
            &At::new("webhook", i),
        )?));
    }
    for (i, c) in cfg.slack.iter().enumerate() {
        out.push(Arc::new(slack::SlackSink::build(
            c,
            base_dir,
            &mut clients,
            &At::new("slack", i),
        )?));
    }
    for (i, c) in cfg.teams.iter().enumerate() {
        out.push(Arc::new(teams::TeamsSink::build(
            c,
            base_dir,
            &mut clients,
            &At::new("teams", i),
        )?));
    }
    for (i, c) in cfg.alertmanager.iter().enumerate() {
        out.push(Arc::new(alertmanager::AlertmanagerSink::build(
            c,
            base_dir,
            &mut clients,
            &At::new("alertmanager", i),
        )?));
    }
    for (i, c) in cfg.email.iter().enumerate() {
        out.push(Arc::new(email::EmailSink::build(c, base_dir, &At::new("email", i))?));
    }
    for (i, c) in cfg.syslog.iter().enumerate() {
        out.push(Arc::new(syslog::SyslogSink::build(c, base_dir, &At::new("syslog", i))?));
    }
    Ok(out)
}

/// A secret string from the configuration: its `Debug` shows no value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads a secret given inline (`field`) or in a file (`file_field`): exactly one is required
/// when `required`. The file's content is trimmed of surrounding whitespace (a trailing newline).
pub(crate) fn secret_from(
    at: &At,
    inline: Option<&Secret>,
    file: Option<&PathBuf>,
    base_dir: &Path,
    field: &'static str,
    file_field: &'static str,
    required: bool,
) -> Result<Option<Secret>, BuildError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(at.err(field, format!("give `{field}` or `{file_field}`, not both"))),
        (Some(s), None) => Ok(Some(s.clone())),
        (None, Some(p)) => {
            let path = resolve(base_dir, p);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| at.err(file_field, format!("cannot read {}: {e}", path.display())))?;
            let text = text.trim();
            if text.is_empty() {
                return Err(at.err(file_field, format!("{} is empty", path.display())));
            }
            Ok(Some(Secret(text.to_string())))
        }
        (None, None) if required => Err(at.err(field, format!("`{field}` or `{file_field}` is required"))),
        (None, None) => Ok(None),
    }
}

/// Reads a PEM bundle (`ca_file`).
pub(crate) fn read_file(at: &At, field: &'static str, base_dir: &Path, p: &Path) -> Result<Vec<u8>, BuildError> {
    let path = resolve(base_dir, p);
    std::fs::read(&path).map_err(|e| at.err(field, format!("cannot read {}: {e}", path.display())))
}

fn resolve(base_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// Default time-out of one delivery.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `timeout`-like values: an integer (seconds) or a string with a unit
/// (`500ms`, `10s`, `2m`, `1h`; a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. `10s`, `500ms`, `2m`)"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{text}` (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!("`{text}` is out of range (above 0, at most 24h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Serde helper: an optional duration as an integer (seconds) or a string (`10s`).
pub(crate) fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Secs(s)) => parse_duration(&s.to_string())
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(Raw::Text(t)) => parse_duration(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(<redacted>)");
    }

    #[test]
    fn configs_reject_unknown_keys() {
        let ok: SinkConfigs =
            toml::from_str("[[webhook]]\nurl = \"http://127.0.0.1:1/x\"\ntimeout = \"5s\"\n").expect("valid config");
        assert_eq!(ok.webhook.len(), 1);
        assert!(toml::from_str::<SinkConfigs>("[[webhok]]\nurl = \"x\"\n").is_err());
        assert!(toml::from_str::<SinkConfigs>("[[slack]]\nurl = \"x\"\nchanel = \"#a\"\n").is_err());
    }
}
