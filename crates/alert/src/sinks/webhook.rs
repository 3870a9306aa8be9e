//! Generic JSON webhook, signed per the Standard Webhooks specification.
//!
//! Every request carries `webhook-id` (the notification id: the same on every
//! retry, so receivers can drop duplicates), `webhook-timestamp` (Unix seconds
//! of this attempt) and, when a secret is configured,
//! `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`
//! where `key` is the base64 part of the `whsec_…` secret, decoded.
//!
//! The body is [`WebhookBody`] (schema version [`SCHEMA_VERSION`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::http::{self, Clients};
use super::render::{self, Severity};
use super::{At, BuildError, DEFAULT_TIMEOUT, Secret};
use crate::model::{Counts, Labels, Notification, Sink, SinkError, SinkFuture};

/// Version of the JSON body ([`WebhookBody::version`]).
pub const SCHEMA_VERSION: u32 = 1;

/// `[[alerts.receiver.webhook]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST (`http` or `https`).
    pub url: String,
    /// Signing secret, `whsec_<base64>` (the prefix is optional); at least 24 bytes once decoded.
    /// Without `secret` and `secret_file` requests are not signed.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// File holding the secret (relative to the configuration file).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Time limit of one delivery (`10s`, `500ms`, or seconds). Default 10 s.
    #[serde(default, deserialize_with = "super::de_opt_duration")]
    pub timeout: Option<Duration>,
    /// Extra request headers (e.g. `Authorization`); the `webhook-*` and content headers are set by appwarden.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// PEM file of CA certificates to trust besides the public roots (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The JSON body of a webhook request (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    /// Schema version: 1. Fields are only added within a version.
    pub version: u32,
    /// Notification id, also in `webhook-id`: the same on every retry.
    pub id: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    /// Receiver name.
    pub receiver: String,
    /// Highest severity among the firing alerts: `info`, `warning`, `critical`.
    pub severity: String,
    /// One-line summary (`TikTok use — corporate`).
    pub title: String,
    /// Aggregation group key.
    pub group_key: String,
    /// The `group_by` labels.
    pub group_labels: Labels,
    /// When the notification was made (RFC 3339, UTC).
    pub created_at: String,
    /// appwarden's external URL, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

/// One alert in a [`WebhookBody`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// Stable id of the label set.
    pub fingerprint: String,
    /// `firing` / `resolved`.
    pub status: String,
    /// `info`, `warning`, `critical` (from the `severity` label).
    pub severity: String,
    /// Identity labels (`alertname`, `app`, `group`, `device`, …).
    pub labels: Labels,
    /// Human text (`summary`, `description`, `app_name`, …).
    pub annotations: Labels,
    /// First detection (RFC 3339).
    pub starts_at: String,
    /// When it was resolved (RFC 3339), or null while firing.
    pub ends_at: Option<String>,
    /// Latest detection (RFC 3339).
    pub last_seen_at: String,
    /// Detections by outcome.
    pub counts: WebhookCounts,
    /// Bypass indicators seen.
    pub bypass_indicators: Vec<String>,
    /// Where the raw events are.
    pub evidence: Vec<String>,
}

/// Detections by outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCounts {
    /// All detections.
    pub total: u64,
    /// Blocked by the sensor.
    pub blocked: u64,
    /// Reached the app.
    pub got_through: u64,
    /// Outcome not known.
    pub unknown: u64,
}

impl From<Counts> for WebhookCounts {
    fn from(c: Counts) -> Self {
        WebhookCounts {
            total: c.total,
            blocked: c.blocked,
            got_through: c.got_through,
            unknown: c.unknown,
        }
    }
}

impl WebhookBody {
    /// Renders a notification.
    pub fn render(n: &Notification) -> WebhookBody {
        WebhookBody {
            version: SCHEMA_VERSION,
            id: n.id.clone(),
            status: n.status.as_str().to_string(),
            receiver: n.receiver.clone(),
            severity: Severity::of(n).as_str().to_string(),
            title: render::title(n),
            group_key: n.group_key.clone(),
            group_labels: n.group_labels.clone(),
            created_at: render::rfc3339(n.created_ms),
            external_url: render::link(n),
            alerts: n
                .alerts
                .iter()
                .map(|a| WebhookAlert {
                    fingerprint: a.fingerprint.clone(),
                    status: a.status.as_str().to_string(),
                    severity: Severity::of_alert(a).as_str().to_string(),
                    labels: a.labels.clone(),
                    annotations: a.annotations.clone(),
                    starts_at: render::rfc3339(a.starts_at_ms),
                    ends_at: a.ends_at_ms.map(render::rfc3339),
                    last_seen_at: render::rfc3339(a.last_seen_ms),
                    counts: a.counts.into(),
                    bypass_indicators: a.bypass_indicators.clone(),
                    evidence: a.evidence.clone(),
                })
                .collect(),
        }
    }
}

/// A Standard Webhooks signing key.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Parses `whsec_<base64>` (or bare base64).
    pub fn parse(secret: &str) -> Result<SigningKey, String> {
        let b64 = secret.trim().strip_prefix("whsec_").unwrap_or(secret.trim());
        let key = B64
            .decode(b64)
            .map_err(|_| "not `whsec_` followed by base64".to_string())?;
        if key.len() < 24 {
            return Err(format!(
                "the key is {} bytes; Standard Webhooks asks for 24 to 64",
                key.len()
            ));
        }
        Ok(SigningKey(key))
    }

    /// `v1,<base64 signature>` of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        // HMAC takes keys of any length: new_from_slice cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// Headers appwarden sets itself; `headers` may not override them.
const RESERVED: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
];

/// Parses the extra headers of an HTTP sink.
pub(crate) fn extra_headers(at: &At, headers: &BTreeMap<String, Secret>) -> Result<Vec<(String, String)>, BuildError> {
    let mut out = Vec::new();
    for (k, v) in headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| at.err("headers", format!("`{k}` is not a valid header name")))?;
        if RESERVED.contains(&name.as_str()) {
            return Err(at.err("headers", format!("`{k}` is set by appwarden")));
        }
        reqwest::header::HeaderValue::from_str(v.expose())
            .map_err(|_| at.err("headers", format!("the value of `{k}` is not a valid header value")))?;
        out.push((name.as_str().to_string(), v.expose().to_string()));
    }
    Ok(out)
}

/// A configured webhook.
pub struct WebhookSink {
    client: Client,
    url: Url,
    key: Option<SigningKey>,
    timeout: Duration,
    headers: Vec<(String, String)>,
    name: String,
}

impl WebhookSink {
    pub(crate) fn build(
        c: &WebhookConfig,
        base_dir: &Path,
        clients: &mut Clients,
        at: &At,
    ) -> Result<WebhookSink, BuildError> {
        let url = http::parse_url(at, "url", &c.url)?;
        let secret = super::secret_from(
            at,
            c.secret.as_ref(),
            c.secret_file.as_ref(),
            base_dir,
            "secret",
            "secret_file",
            false,
        )?;
        let key = match secret {
            Some(s) => Some(SigningKey::parse(s.expose()).map_err(|e| at.err("secret", e))?),
            None => None,
        };
        let headers = extra_headers(at, &c.headers)?;
        let client = clients.get(at, base_dir, c.ca_file.as_deref())?;
        Ok(WebhookSink {
            name: format!("webhook:{}", http::origin_path(&url)),
            client,
            url,
            key,
            timeout: c.timeout.unwrap_or(DEFAULT_TIMEOUT),
            headers,
        })
    }

    async fn deliver(&self, n: &Notification) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&WebhookBody::render(n))
            .map_err(|e| SinkError::permanent(format!("{}: cannot encode: {e}", self.name)))?;
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut headers = self.headers.clone();
        headers.push(("webhook-id".into(), n.id.clone()));
        headers.push(("webhook-timestamp".into(), ts.to_string()));
        if let Some(k) = &self.key {
            headers.push(("webhook-signature".into(), k.sign(&n.id, ts, &body)));
        }
        http::post_json(&self.client, &self.url, &headers, body, self.timeout, &self.name).await
    }
}

impl Sink for WebhookSink {
    fn kind(&self) -> &'static str {
        "webhook"
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
    fn signs_like_the_spec_example() {
        // The example of the Standard Webhooks reference libraries.
        let k = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            k.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(SigningKey::parse("whsec_c2hvcnQ=").is_err());
        assert!(SigningKey::parse("whsec_!!").is_err());
    }
}
