//! The shared contract between the alert engine, the outbox and the sinks.
//!
//! Times are Unix milliseconds (`u64`), like the query log's.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// Label set, sorted by name (Alertmanager's model: identity of an alert).
pub type Labels = BTreeMap<String, String>;

/// Whether an alert is still happening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Detections keep arriving (or arrived within the resolve timeout).
    Firing,
    /// No detection for the resolve timeout: over.
    Resolved,
}

impl Status {
    /// `firing` / `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// How many detections an alert covers, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// All detections.
    pub total: u64,
    /// The sensor blocked them.
    pub blocked: u64,
    /// They got through (traffic reached the app, or an unblocked answer).
    pub got_through: u64,
    /// The log does not say.
    pub unknown: u64,
}

/// One alert: one fingerprint (label set), e.g. "device 10.0.0.7 used TikTok".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id of the label set: hex of SHA-256 over the sorted labels, first 16 bytes.
    pub fingerprint: String,
    /// Firing or resolved.
    pub status: Status,
    /// Identity: `alertname`, `severity`, `kind` (app-use/bypass), `app`, `category`,
    /// `group`, `client`, and `device`/`user` when known, `decision` (block/log_only),
    /// `bypass_method` for bypass.
    pub labels: Labels,
    /// Human text: `summary`, `description`, `app_name`, …
    pub annotations: Labels,
    /// First detection (Unix ms).
    pub starts_at_ms: u64,
    /// When it was resolved (Unix ms), if it was.
    pub ends_at_ms: Option<u64>,
    /// Latest detection (Unix ms).
    pub last_seen_ms: u64,
    /// Detections by outcome since `starts_at_ms`.
    pub counts: Counts,
    /// Bypass indicators seen (`canary`, `encrypted-dns`, `private-relay`, `port-853`, …).
    pub bypass_indicators: Vec<String>,
    /// Where the raw events are: `FILE:LINE` for log files, `query-log:TIME_MS:CLIENT` for the resolver.
    pub evidence: Vec<String>,
}

/// One message to one receiver: the alerts of one aggregation group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique, stable id (the outbox row's): sinks use it as the idempotency
    /// key (`webhook-id`, `Message-ID`), so a retry after a crash is recognisable.
    pub id: String,
    /// Receiver name from the route.
    pub receiver: String,
    /// The aggregation group's key (its `group_by` label values).
    pub group_key: String,
    /// The `group_by` labels and their values.
    pub group_labels: Labels,
    /// Firing if any alert in it fires.
    pub status: Status,
    /// The group's alerts.
    pub alerts: Vec<Alert>,
    /// When the notification was made (Unix ms).
    pub created_ms: u64,
    /// Base URL of appwarden's API for links back to the events, if configured.
    pub external_url: Option<String>,
}

/// A delivery failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// Worth trying again (connection refused, timeout, 5xx, 429, SMTP 4xx);
    /// not for a rejected request (4xx other than 408/429, SMTP 5xx).
    pub retryable: bool,
    /// What happened.
    pub message: String,
}

impl SinkError {
    /// A failure worth retrying.
    pub fn retry(message: impl Into<String>) -> SinkError {
        SinkError {
            retryable: true,
            message: message.into(),
        }
    }

    /// A failure that will not go away by retrying.
    pub fn permanent(message: impl Into<String>) -> SinkError {
        SinkError {
            retryable: false,
            message: message.into(),
        }
    }
}

/// What [`Sink::send`] returns.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// A delivery channel (one configured webhook, Slack URL, mail route, …).
pub trait Sink: Send + Sync {
    /// The kind (`webhook`, `slack`, `teams`, `alertmanager`, `email`, `syslog`).
    fn kind(&self) -> &'static str;
    /// A name for logs and the outbox (`webhook:https://hooks.example/x`), without secrets.
    fn describe(&self) -> String;
    /// Delivers `n`. Returns once the receiver has accepted it.
    fn send<'a>(&'a self, n: &'a Notification) -> SinkFuture<'a>;
}
