//! Prometheus Alertmanager: `POST {url}/api/v2/alerts` with an array of
//! postable alerts, the way Prometheus sends them.
//!
//! - labels: the alert's labels (names made valid: `[a-zA-Z_][a-zA-Z0-9_]*`),
//!   plus `alertname = "appwarden"` when missing;
//! - annotations: the alert's, plus `counts`, `window`, `bypass_indicators`
//!   and `evidence` (first ten) as text;
//! - `startsAt` = first detection; `endsAt` = the resolve time for resolved
//!   alerts, and `now + resolve_margin` for firing ones: Alertmanager resolves
//!   an alert that is not re-sent before its `endsAt`, so the engine must
//!   re-send firing alerts to this receiver more often than `resolve_margin`
//!   (Alertmanager de-duplicates, so a short `repeat_interval` is harmless);
//! - `generatorURL` = appwarden's external URL when configured.
//!
//! Several `urls` (an HA pair: every instance must receive every alert) are all
//! sent to; as with Prometheus, the delivery succeeds if one accepts it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};

use super::http::{self, Clients};
use super::render;
use super::{At, BuildError, DEFAULT_TIMEOUT, Secret};
use crate::model::{Labels, Notification, Sink, SinkError, SinkFuture, Status};

/// Default `resolve_margin`: longer than the default `repeat_interval` (4h)
/// plus `group_interval` (5m), so a firing alert is re-sent before
/// Alertmanager would resolve it by itself.
pub const DEFAULT_RESOLVE_MARGIN: Duration = Duration::from_secs(5 * 3600);

/// `[[alerts.receiver.alertmanager]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL of one Alertmanager (`http://127.0.0.1:9093`, with its route prefix if any).
    #[serde(default)]
    pub url: Option<String>,
    /// Base URLs of the instances of an HA cluster (each gets every alert).
    #[serde(default)]
    pub urls: Vec<String>,
    /// How long a firing alert stays firing in Alertmanager without being re-sent (`endsAt = now + margin`).
    /// Default 1h.
    #[serde(default, deserialize_with = "super::de_opt_duration")]
    pub resolve_margin: Option<Duration>,
    /// Time limit of one delivery to one instance. Default 10 s.
    #[serde(default, deserialize_with = "super::de_opt_duration")]
    pub timeout: Option<Duration>,
    /// Extra request headers (e.g. `Authorization` for a proxy in front of Alertmanager).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// PEM file of CA certificates to trust besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// One element of the `POST /api/v2/alerts` body (Alertmanager's `postableAlert`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Identity.
    pub labels: Labels,
    /// Text.
    pub annotations: Labels,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339.
    pub ends_at: String,
    /// Link back to the source.
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
}

/// A label name Alertmanager accepts: invalid characters become `_`.
fn label_name(k: &str) -> String {
    let mut s: String = k
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The body for a notification, at `now_ms`.
pub fn render(n: &Notification, now_ms: u64, resolve_margin: Duration) -> Vec<PostableAlert> {
    let margin_ms = u64::try_from(resolve_margin.as_millis()).unwrap_or(u64::MAX);
    let generator_url = render::link(n).filter(|u| Url::parse(u).is_ok());
    n.alerts
        .iter()
        .map(|a| {
            let mut labels: Labels = a.labels.iter().map(|(k, v)| (label_name(k), v.clone())).collect();
            labels.entry("alertname".into()).or_insert_with(|| "appwarden".into());
            let mut annotations: Labels = a.annotations.iter().map(|(k, v)| (label_name(k), v.clone())).collect();
            annotations
                .entry("summary".into())
                .or_insert_with(|| render::summary(a));
            annotations.insert("counts".into(), render::counts(&a.counts));
            annotations.insert("window".into(), render::window(a));
            if !a.bypass_indicators.is_empty() {
                annotations.insert("bypass_indicators".into(), a.bypass_indicators.join(", "));
            }
            if !a.evidence.is_empty() {
                annotations.insert(
                    "evidence".into(),
                    a.evidence.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
                );
            }
            let ends = match a.status {
                Status::Resolved => a.ends_at_ms.unwrap_or(now_ms).max(a.starts_at_ms),
                Status::Firing => now_ms.saturating_add(margin_ms),
            };
            PostableAlert {
                labels,
                annotations,
                starts_at: render::rfc3339(a.starts_at_ms),
                ends_at: render::rfc3339(ends),
                generator_url: generator_url.clone(),
            }
        })
        .collect()
}

/// A configured Alertmanager (or HA cluster).
pub struct AlertmanagerSink {
    client: Client,
    targets: Vec<(Url, String)>,
    resolve_margin: Duration,
    timeout: Duration,
    headers: Vec<(String, String)>,
    name: String,
}

impl AlertmanagerSink {
    pub(crate) fn build(
        c: &AlertmanagerConfig,
        base_dir: &Path,
        clients: &mut Clients,
        at: &At,
    ) -> Result<AlertmanagerSink, BuildError> {
        let bases: Vec<&String> = c.url.iter().chain(c.urls.iter()).collect();
        if bases.is_empty() {
            return Err(at.err("urls", "`url` or `urls` is required"));
        }
        let mut targets = Vec::new();
        for b in bases {
            let mut u = http::parse_url(at, "urls", b)?;
            let path = format!("{}/api/v2/alerts", u.path().trim_end_matches('/'));
            u.set_path(&path);
            u.set_query(None);
            let shown = http::origin(&u);
            targets.push((u, format!("alertmanager:{shown}")));
        }
        let resolve_margin = c.resolve_margin.unwrap_or(DEFAULT_RESOLVE_MARGIN);
        let name = format!(
            "alertmanager:{}",
            targets
                .iter()
                .map(|(u, _)| http::origin(u))
                .collect::<Vec<_>>()
                .join(",")
        );
        Ok(AlertmanagerSink {
            client: clients.get(at, base_dir, c.ca_file.as_deref())?,
            targets,
            resolve_margin,
            timeout: c.timeout.unwrap_or(DEFAULT_TIMEOUT),
            headers: super::webhook::extra_headers(at, &c.headers)?,
            name,
        })
    }

    async fn deliver(&self, n: &Notification) -> Result<(), SinkError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let body = serde_json::to_vec(&render(n, now, self.resolve_margin))
            .map_err(|e| SinkError::permanent(format!("{}: cannot encode: {e}", self.name)))?;
        let mut errors: Vec<SinkError> = Vec::new();
        for (url, what) in &self.targets {
            match http::post_json(&self.client, url, &self.headers, body.clone(), self.timeout, what).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(sink = %what, error = %e, "alertmanager instance did not accept the alerts");
                    errors.push(e);
                }
            }
        }
        if errors.len() < self.targets.len() {
            return Ok(());
        }
        let retryable = errors.iter().any(|e| e.retryable);
        let message = errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ");
        Err(SinkError { retryable, message })
    }
}

impl Sink for AlertmanagerSink {
    fn kind(&self) -> &'static str {
        "alertmanager"
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
    fn label_names_are_made_valid() {
        assert_eq!(label_name("bypass_method"), "bypass_method");
        assert_eq!(label_name("app.id"), "app_id");
        assert_eq!(label_name("9x"), "_9x");
        assert_eq!(label_name(""), "_");
    }
}
