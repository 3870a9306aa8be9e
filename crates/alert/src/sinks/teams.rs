//! Microsoft Teams workflow webhook ("Post to a channel when a webhook request
//! is received"): a message with one Adaptive Card 1.4 — a coloured header
//! (by severity; green once resolved), one fact set per alert, and a link back.
//!
//! The webhook URL is a secret (it embeds a signature): it is read from `url`
//! or `url_file` and only its host is ever shown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::Clients;
use super::render::{self, Severity};
use super::{At, BuildError, DEFAULT_TIMEOUT, Secret};
use crate::model::{Notification, Sink, SinkError, SinkFuture, Status};

/// Alerts shown in one card; the rest are counted.
pub const MAX_ALERTS_SHOWN: usize = 10;

/// `[[alerts.receiver.teams]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// Workflow webhook URL: a secret.
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

/// Container style and text colour: `attention`/red for critical, `warning`/amber,
/// `accent`/blue for info, `good`/green once resolved.
pub fn colours(n: &Notification) -> (&'static str, &'static str) {
    match (n.status, Severity::of(n)) {
        (Status::Resolved, _) => ("good", "Good"),
        (Status::Firing, Severity::Critical) => ("attention", "Attention"),
        (Status::Firing, Severity::Warning) => ("warning", "Warning"),
        (Status::Firing, Severity::Info) => ("accent", "Accent"),
    }
}

fn fact(title: &str, value: impl Into<String>) -> Value {
    json!({"title": title, "value": value.into()})
}

/// The Teams message for a notification.
pub fn render(n: &Notification) -> Value {
    let (style, colour) = colours(n);
    let mut body = vec![json!({
        "type": "Container",
        "style": style,
        "bleed": true,
        "items": [
            {"type": "TextBlock", "text": render::subject(n), "size": "Large", "weight": "Bolder", "wrap": true, "color": colour},
            {"type": "TextBlock", "text": format!("{} · severity {} · receiver {}", n.status.as_str().to_uppercase(), Severity::of(n).as_str(), n.receiver), "isSubtle": true, "spacing": "None", "wrap": true},
        ]
    })];
    for a in n.alerts.iter().take(MAX_ALERTS_SHOWN) {
        let state = if a.status == Status::Resolved {
            " (resolved)"
        } else {
            ""
        };
        body.push(json!({
            "type": "TextBlock", "text": format!("{}{state}", render::summary(a)), "weight": "Bolder", "wrap": true, "separator": true,
            "color": if a.status == Status::Resolved { "Good" } else { colour },
        }));
        let mut facts = vec![
            fact("Who", render::who(a)),
            fact("What", render::what(a)),
            fact("How many", render::counts(&a.counts)),
            fact("Window", render::window(a)),
        ];
        if let Some(g) = a.labels.get("group") {
            facts.push(fact("Group", g.clone()));
        }
        facts.push(fact("Severity", Severity::of_alert(a).as_str()));
        if !a.bypass_indicators.is_empty() {
            facts.push(fact("Bypass indicators", a.bypass_indicators.join(", ")));
        }
        if !a.evidence.is_empty() {
            let more = a.evidence.len().saturating_sub(3);
            let mut ev = a.evidence.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            if more > 0 {
                ev.push_str(&format!(" and {more} more"));
            }
            facts.push(fact("Evidence", ev));
        }
        facts.push(fact("Fingerprint", a.fingerprint.clone()));
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    if n.alerts.len() > MAX_ALERTS_SHOWN {
        body.push(json!({"type": "TextBlock", "text": format!("…and {} more alerts", n.alerts.len() - MAX_ALERTS_SHOWN), "isSubtle": true, "wrap": true}));
    }
    body.push(json!({"type": "TextBlock", "text": format!("appwarden · notification {}", n.id), "isSubtle": true, "size": "Small", "wrap": true}));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    });
    if let Some(link) = render::link(n) {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open appwarden", "url": link}]);
    }
    json!({
        "type": "message",
        "summary": render::subject(n),
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
    })
}

/// A configured Teams workflow webhook.
pub struct TeamsSink {
    client: Client,
    url: Url,
    timeout: Duration,
    name: String,
}

impl TeamsSink {
    pub(crate) fn build(
        c: &TeamsConfig,
        base_dir: &Path,
        clients: &mut Clients,
        at: &At,
    ) -> Result<TeamsSink, BuildError> {
        let (url, name) = super::slack::secret_url(at, "teams", c.url.as_ref(), c.url_file.as_ref(), base_dir)?;
        Ok(TeamsSink {
            client: clients.get(at, base_dir, c.ca_file.as_deref())?,
            url,
            timeout: c.timeout.unwrap_or(DEFAULT_TIMEOUT),
            name,
        })
    }
}

impl Sink for TeamsSink {
    fn kind(&self) -> &'static str {
        "teams"
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn send<'a>(&'a self, n: &'a Notification) -> SinkFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&render(n))
                .map_err(|e| SinkError::permanent(format!("{}: cannot encode: {e}", self.name)))?;
            super::http::post_json(&self.client, &self.url, &[], body, self.timeout, &self.name).await
        })
    }
}
