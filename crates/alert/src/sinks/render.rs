//! Text shared by the sinks: titles, who / what / how many / when, severity.

use std::collections::BTreeSet;

use crate::model::{Alert, Counts, Notification, Status};

/// Severity of an alert, from its `severity` label (case-insensitive):
///
/// | label | severity |
/// | --- | --- |
/// | `critical`, `high`, `error`, `page`, `emergency`, `alert` | critical |
/// | `warning`, `warn`, `medium` | warning |
/// | anything else, or none | info |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational (`info`, `low`, unknown, absent).
    Info,
    /// Needs a look (`warning`).
    Warning,
    /// Needs action now (`critical`).
    Critical,
}

impl Severity {
    /// Maps a `severity` label value.
    pub fn from_label(value: Option<&str>) -> Severity {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("critical" | "high" | "error" | "page" | "emergency" | "alert") => Severity::Critical,
            Some("warning" | "warn" | "medium") => Severity::Warning,
            _ => Severity::Info,
        }
    }

    /// Of one alert.
    pub fn of_alert(a: &Alert) -> Severity {
        Severity::from_label(a.labels.get("severity").map(String::as_str))
    }

    /// Of a notification: the highest of its firing alerts (of all alerts when none fires).
    pub fn of(n: &Notification) -> Severity {
        let firing = n
            .alerts
            .iter()
            .filter(|a| a.status == Status::Firing)
            .map(Severity::of_alert)
            .max();
        firing
            .or_else(|| n.alerts.iter().map(Severity::of_alert).max())
            .unwrap_or(Severity::Info)
    }

    /// `info` / `warning` / `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The app's display name: annotation `app_name`, else label `app`.
pub(crate) fn app_name(a: &Alert) -> &str {
    a.annotations
        .get("app_name")
        .or_else(|| a.labels.get("app"))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown app")
}

/// Whether the alert is about a bypass attempt (label `kind = bypass`).
pub(crate) fn is_bypass(a: &Alert) -> bool {
    a.labels.get("kind").is_some_and(|k| k == "bypass")
}

/// Who: `user (device, client)` with whatever is known.
pub(crate) fn who(a: &Alert) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for k in ["user", "device", "client"] {
        if let Some(v) = a.labels.get(k).filter(|v| !v.is_empty())
            && !parts.contains(&v.as_str())
        {
            parts.push(v);
        }
    }
    match parts.split_first() {
        None => "unknown device".to_string(),
        Some((first, [])) => (*first).to_string(),
        Some((first, rest)) => format!("{first} ({})", rest.join(", ")),
    }
}

/// What: `TikTok use`, `bypass attempt (encrypted-dns)`.
pub(crate) fn what(a: &Alert) -> String {
    if is_bypass(a) {
        match a.labels.get("bypass_method").filter(|m| !m.is_empty()) {
            Some(m) => format!("{} bypass attempt ({m})", app_name(a)),
            None => format!("{} bypass attempt", app_name(a)),
        }
    } else {
        format!("{} use", app_name(a))
    }
}

/// One line per alert: annotation `summary`, else `who: what`.
pub(crate) fn summary(a: &Alert) -> String {
    match a.annotations.get("summary").filter(|s| !s.is_empty()) {
        Some(s) => s.clone(),
        None => format!("{}: {}", who(a), what(a)),
    }
}

/// The group's plan group (`group` label common to its alerts, or the group label).
pub(crate) fn group_name(n: &Notification) -> Option<String> {
    if let Some(g) = n.group_labels.get("group") {
        return Some(g.clone());
    }
    let groups: BTreeSet<&str> = n
        .alerts
        .iter()
        .filter_map(|a| a.labels.get("group").map(String::as_str))
        .collect();
    (groups.len() == 1).then(|| groups.into_iter().next().unwrap_or_default().to_string())
}

/// `TikTok use — corporate`, `3 apps: use and bypass attempts — byod`.
pub(crate) fn title(n: &Notification) -> String {
    let apps: BTreeSet<&str> = n.alerts.iter().map(app_name).collect();
    let bypass = n.alerts.iter().filter(|a| is_bypass(a)).count();
    let kind = if bypass == 0 {
        "use"
    } else if bypass == n.alerts.len() {
        "bypass attempt"
    } else {
        "use and bypass attempts"
    };
    let what = match apps.len() {
        0 => "appwarden".to_string(),
        1 => format!("{} {kind}", apps.iter().next().copied().unwrap_or_default()),
        k => format!("{k} apps: {kind}"),
    };
    match group_name(n) {
        Some(g) if !g.is_empty() => format!("{what} — {g}"),
        _ => what,
    }
}

/// Alertmanager's subject prefix: `[FIRING:2]` (firing alerts) or `[RESOLVED]`.
pub(crate) fn status_tag(n: &Notification) -> String {
    match n.status {
        Status::Firing => format!("[FIRING:{}]", firing_count(n)),
        Status::Resolved => "[RESOLVED]".to_string(),
    }
}

/// Alerts still firing.
pub(crate) fn firing_count(n: &Notification) -> usize {
    n.alerts.iter().filter(|a| a.status == Status::Firing).count()
}

/// `[FIRING:2] TikTok use — corporate`.
pub(crate) fn subject(n: &Notification) -> String {
    format!("{} {}", status_tag(n), title(n))
}

/// RFC 3339 in UTC with milliseconds (`2024-06-01T12:00:00.250Z`).
pub(crate) fn rfc3339(ms: u64) -> String {
    match jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX)) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// `2024-06-01 12:00:00 UTC`, for people.
pub(crate) fn human_time(ms: u64) -> String {
    match jiff::Timestamp::from_second(i64::try_from(ms / 1000).unwrap_or(i64::MAX)) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => "?".to_string(),
    }
}

/// `2024-06-01 12:00:00 UTC → 12:05:00 UTC (5m 0s)`: first to last detection, or to the end when resolved.
pub(crate) fn window(a: &Alert) -> String {
    let end = a.ends_at_ms.unwrap_or(a.last_seen_ms).max(a.starts_at_ms);
    let start = human_time(a.starts_at_ms);
    let end_s = human_time(end);
    let end_short = if start.get(..10) == end_s.get(..10) {
        end_s.get(11..).unwrap_or(&end_s)
    } else {
        &end_s
    };
    format!("{start} → {end_short} ({})", span(end - a.starts_at_ms))
}

/// `1h 2m`, `5m 0s`, `42s`.
pub(crate) fn span(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// `7 detections (5 blocked, 2 got through)`.
pub(crate) fn counts(c: &Counts) -> String {
    let mut parts = Vec::new();
    if c.blocked > 0 {
        parts.push(format!("{} blocked", c.blocked));
    }
    if c.got_through > 0 {
        parts.push(format!("{} got through", c.got_through));
    }
    if c.unknown > 0 {
        parts.push(format!("{} unknown outcome", c.unknown));
    }
    let noun = if c.total == 1 { "detection" } else { "detections" };
    if parts.is_empty() {
        format!("{} {noun}", c.total)
    } else {
        format!("{} {noun} ({})", c.total, parts.join(", "))
    }
}

/// The link back to appwarden, if an external URL is configured.
pub(crate) fn link(n: &Notification) -> Option<String> {
    n.external_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML.
pub(crate) fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    fn alert(labels: &[(&str, &str)]) -> Alert {
        Alert {
            fingerprint: "f".into(),
            status: Status::Firing,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>(),
            annotations: Labels::new(),
            starts_at_ms: 1_717_243_200_000,
            ends_at_ms: None,
            last_seen_ms: 1_717_243_500_000,
            counts: Counts {
                total: 7,
                blocked: 5,
                got_through: 2,
                unknown: 0,
            },
            bypass_indicators: vec![],
            evidence: vec![],
        }
    }

    #[test]
    fn texts() {
        let a = alert(&[
            ("app", "tiktok"),
            ("group", "corporate"),
            ("device", "laptop-7"),
            ("client", "192.0.2.7"),
        ]);
        assert_eq!(who(&a), "laptop-7 (192.0.2.7)");
        assert_eq!(what(&a), "tiktok use");
        assert_eq!(counts(&a.counts), "7 detections (5 blocked, 2 got through)");
        assert_eq!(window(&a), "2024-06-01 12:00:00 UTC → 12:05:00 UTC (5m 0s)");
        assert_eq!(rfc3339(1_717_243_200_250), "2024-06-01T12:00:00.250Z");
        let n = Notification {
            id: "n1".into(),
            receiver: "r".into(),
            group_key: "k".into(),
            group_labels: Labels::new(),
            status: Status::Firing,
            alerts: vec![a.clone(), a],
            created_ms: 0,
            external_url: None,
        };
        assert_eq!(subject(&n), "[FIRING:2] tiktok use — corporate");
        assert_eq!(Severity::of(&n), Severity::Info);
        assert_eq!(Severity::from_label(Some("CRITICAL")), Severity::Critical);
    }
}
