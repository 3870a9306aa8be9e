//! Slack incoming webhook: a `text` fallback (notifications, clients without
//! blocks) and Block Kit blocks — a header, one section per alert (who, what,
//! how many, window), and a context block with the evidence and a link back.
//!
//! The webhook URL is a secret (it embeds the token): it is read from `url` or
//! `url_file` and only its host is ever shown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Clients};
use super::render::{self, Severity};
use super::{At, BuildError, DEFAULT_TIMEOUT, Secret};
use crate::model::{Notification, Sink, SinkError, SinkFuture, Status};

/// Slack caps a message at 50 blocks; we show this many alerts and summarise the rest.
pub const MAX_ALERTS_SHOWN: usize = 10;

/// `[[alerts.receiver.slack]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Incoming webhook URL (`https://hooks.slack.com/services/…`): a secret.
    #[serde(default)]
    pub url: Option<Secret>,
    /// File holding the URL (relative to the configuration file).
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// Time limit of one delivery. Default 10 s.
    #[serde(default, deserialize_with = "super::de_opt_duration")]
    pub timeout: Option<Duration>,
    /// PEM file of CA certificates to trust besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Emoji per state, for the header and the fallback text.
fn emoji(n: &Notification) -> &'static str {
    match (n.status, Severity::of(n)) {
        (Status::Resolved, _) => ":white_check_mark:",
        (Status::Firing, Severity::Critical) => ":rotating_light:",
        (Status::Firing, Severity::Warning) => ":warning:",
        (Status::Firing, Severity::Info) => ":information_source:",
    }
}

/// Escapes `&`, `<`, `>` for Slack's mrkdwn.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Slack text objects are limited to 3000 characters, headers to 150.
fn cap(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The Slack message for a notification.
pub fn render(n: &Notification) -> Value {
    let subject = render::subject(n);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cap(subject.clone(), 150), "emoji": true}
    })];
    blocks.push(json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": cap(format!(
            "{} *{}* · severity *{}* · receiver `{}`",
            emoji(n),
            n.status.as_str().to_uppercase(),
            Severity::of(n).as_str(),
            esc(&n.receiver),
        ), 3000)}
    }));
    for a in n.alerts.iter().take(MAX_ALERTS_SHOWN) {
        blocks.push(json!({"type": "divider"}));
        let mut fields = vec![
            json!({"type": "mrkdwn", "text": format!("*Who*\n{}", esc(&render::who(a)))}),
            json!({"type": "mrkdwn", "text": format!("*What*\n{}", esc(&render::what(a)))}),
            json!({"type": "mrkdwn", "text": format!("*How many*\n{}", esc(&render::counts(&a.counts)))}),
            json!({"type": "mrkdwn", "text": format!("*Window*\n{}", esc(&render::window(a)))}),
        ];
        if let Some(g) = a.labels.get("group") {
            fields.push(json!({"type": "mrkdwn", "text": format!("*Group*\n{}", esc(g))}));
        }
        if !a.bypass_indicators.is_empty() {
            fields.push(json!({"type": "mrkdwn", "text": format!("*Bypass indicators*\n{}", esc(&a.bypass_indicators.join(", ")))}));
        }
        let state = if a.status == Status::Resolved {
            " (resolved)"
        } else {
            ""
        };
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cap(format!("*{}*{state}", esc(&render::summary(a))), 3000)},
            "fields": fields,
        }));
        let mut ctx: Vec<Value> = Vec::new();
        if !a.evidence.is_empty() {
            let ev: Vec<String> = a.evidence.iter().take(3).map(|e| format!("`{}`", esc(e))).collect();
            let more = a.evidence.len().saturating_sub(3);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            ctx.push(json!({"type": "mrkdwn", "text": cap(format!("Evidence: {}{more}", ev.join(", ")), 3000)}));
        }
        ctx.push(json!({"type": "mrkdwn", "text": format!("Fingerprint `{}`", esc(&a.fingerprint))}));
        blocks.push(json!({"type": "context", "elements": ctx}));
    }
    if n.alerts.len() > MAX_ALERTS_SHOWN {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("…and {} more alerts", n.alerts.len() - MAX_ALERTS_SHOWN)}]
        }));
    }
    let mut footer = vec![json!({"type": "mrkdwn", "text": format!("appwarden · notification `{}`", esc(&n.id))})];
    if let Some(link) = render::link(n) {
        footer.push(json!({"type": "mrkdwn", "text": format!("<{}|Open appwarden>", esc(&link))}));
    }
    blocks.push(json!({"type": "context", "elements": footer}));

    let lines: Vec<String> = n
        .alerts
        .iter()
        .take(MAX_ALERTS_SHOWN)
        .map(|a| format!("• {}", render::summary(a)))
        .collect();
    let text = cap(format!("{} {subject}\n{}", emoji(n), lines.join("\n")), 3000);
    json!({"text": text, "blocks": blocks})
}

/// A configured Slack webhook.
pub struct SlackSink {
    client: Client,
    url: Url,
    timeout: Duration,
    name: String,
}

impl SlackSink {
    pub(crate) fn build(
        c: &SlackConfig,
        base_dir: &Path,
        clients: &mut Clients,
        at: &At,
    ) -> Result<SlackSink, BuildError> {
        let (url, name) = secret_url(at, "slack", c.url.as_ref(), c.url_file.as_ref(), base_dir)?;
        Ok(SlackSink {
            client: clients.get(at, base_dir, c.ca_file.as_deref())?,
            url,
            timeout: c.timeout.unwrap_or(DEFAULT_TIMEOUT),
            name,
        })
    }
}

/// Reads a secret webhook URL; the name shows its host only.
pub(crate) fn secret_url(
    at: &At,
    kind: &str,
    url: Option<&Secret>,
    url_file: Option<&PathBuf>,
    base_dir: &Path,
) -> Result<(Url, String), BuildError> {
    let secret = super::secret_from(at, url, url_file, base_dir, "url", "url_file", true)?
        .ok_or_else(|| at.err("url", "`url` or `url_file` is required"))?;
    let url = http::parse_url(at, "url", secret.expose())?;
    let name = format!("{kind}:{}", url.host_str().unwrap_or("?"));
    Ok((url, name))
}

impl Sink for SlackSink {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn send<'a>(&'a self, n: &'a Notification) -> SinkFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&render(n))
                .map_err(|e| SinkError::permanent(format!("{}: cannot encode: {e}", self.name)))?;
            http::post_json(&self.client, &self.url, &[], body, self.timeout, &self.name).await
        })
    }
}
