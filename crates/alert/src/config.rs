//! The `[alerts]` section of `appwarden.toml` (kept raw by the policy crate
//! as `PolicyFile::alerts`), checked at load: every problem names its field
//! path (`alerts.route.routes[0].matchers[1]`).
//!
//! ```toml
//! [alerts]
//! resolve_timeout = "5m"
//! external_url = "http://appwarden.example:8053"
//! [alerts.route]
//! receiver = "default"
//! group_by = ["alertname", "group", "app"]     # "..." = every label
//! group_wait = "30s"
//! group_interval = "5m"
//! repeat_interval = "4h"
//! [[alerts.route.routes]]
//! matchers = ['severity="critical"', 'app=~"tiktok|douyin"']
//! receiver = "secops"
//! [[alerts.receiver]]
//! name = "default"
//! [[alerts.receiver.webhook]]
//! url = "https://hooks.example/appwarden"
//! ```
//!
//! See `docs/alerts.md` for every key.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use toml::{Table, Value};

use crate::model::{Labels, Sink};
use crate::sinks::{self, SinkConfigs};

/// A problem in the `[alerts]` section.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Field path (`alerts.route.routes[0].group_wait`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: &str, message: impl fmt::Display) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// Milliseconds in a second, minute, hour, day.
const SEC: u64 = 1000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// Default `group_wait`: 30 s.
pub const DEFAULT_GROUP_WAIT_MS: u64 = 30 * SEC;
/// Default `group_interval`: 5 min.
pub const DEFAULT_GROUP_INTERVAL_MS: u64 = 5 * MIN;
/// Default `repeat_interval`: 4 h.
pub const DEFAULT_REPEAT_INTERVAL_MS: u64 = 4 * HOUR;
/// Default `resolve_timeout`: 5 min.
pub const DEFAULT_RESOLVE_TIMEOUT_MS: u64 = 5 * MIN;
/// Default `group_by`.
pub const DEFAULT_GROUP_BY: [&str; 3] = ["alertname", "group", "app"];

/// Parses a duration: `500ms`, `30s`, `5m`, `4h`, `1d`, `1w`, or a sum such as `1h30m`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration; use e.g. \"30s\", \"5m\", \"4h\", \"1d\"".into());
    }
    let bad = || format!("`{s}` is not a duration; use e.g. \"30s\", \"5m\", \"4h\", \"1d\" or \"1h30m\"");
    let mut total: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => SEC,
            "m" => MIN,
            "h" => HOUR,
            "d" => DAY,
            "w" => 7 * DAY,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{s}` is too long"))?;
    }
    Ok(total)
}

/// Formats milliseconds the way [`parse_duration`] reads them (`1h30m`, `250ms`, `0s`).
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut left = ms;
    for (unit, name) in [(DAY, "d"), (HOUR, "h"), (MIN, "m"), (SEC, "s"), (1, "ms")] {
        if left >= unit {
            out.push_str(&format!("{}{name}", left / unit));
            left %= unit;
        }
    }
    out
}

/// How a matcher compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    NotEq,
    /// `=~` (regular expression, anchored at both ends)
    Re,
    /// `!~`
    NotRe,
}

/// One Alertmanager matcher: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
/// A label the alert does not have reads as the empty string.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// Value or pattern as written.
    pub value: String,
    re: Option<regex::Regex>,
}

impl Matcher {
    /// Parses `name OP "value"` (the value may be unquoted).
    pub fn parse(s: &str) -> Result<Matcher, String> {
        let t = s.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|x| x.strip_suffix('}'))
            .unwrap_or(t)
            .trim();
        let name_len = t
            .char_indices()
            .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
            .map_or(t.len(), |(i, _)| i);
        let name = &t[..name_len];
        if name.is_empty() {
            return Err(format!("`{s}`: a matcher starts with a label name (`app=\"tiktok\"`)"));
        }
        let rest = t[name_len..].trim_start();
        let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
            (MatchOp::Re, r)
        } else if let Some(r) = rest.strip_prefix("!~") {
            (MatchOp::NotRe, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (MatchOp::NotEq, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (MatchOp::Eq, r)
        } else {
            return Err(format!("`{s}`: expected one of = != =~ !~ after `{name}`"));
        };
        let value = unquote(rest.trim()).map_err(|m| format!("`{s}`: {m}"))?;
        let re = match op {
            MatchOp::Re | MatchOp::NotRe => Some(
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("`{s}`: bad regular expression: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value,
            re,
        })
    }

    /// Whether `labels` satisfy the matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.re) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::NotEq, _) => v != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(v),
            (MatchOp::NotRe, Some(re)) => !re.is_match(v),
            (MatchOp::Re | MatchOp::NotRe, None) => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Eq => "=",
            MatchOp::NotEq => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        };
        write!(f, "{}{op}{:?}", self.name, self.value)
    }
}

fn unquote(v: &str) -> Result<String, String> {
    let Some(inner) = v.strip_prefix('"') else {
        if v.contains('"') {
            return Err("unbalanced quote in the value".into());
        }
        return Ok(v.to_string());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    loop {
        match chars.next() {
            None => return Err("the value's closing quote is missing".into()),
            Some('"') => break,
            Some('\\') => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\')) => out.push(c),
                // keep regex escapes (`\.`) as written
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => return Err("the value ends in a backslash".into()),
            },
            Some(c) => out.push(c),
        }
    }
    if !chars.as_str().trim().is_empty() {
        return Err(format!("unexpected `{}` after the value", chars.as_str().trim()));
    }
    Ok(out)
}

/// Which labels make an aggregation group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// `["..."]`: every label (one group per alert).
    All,
    /// These labels (an empty list: one group for all of the route's alerts).
    Labels(Vec<String>),
}

impl GroupBy {
    /// The group labels of an alert with `labels` (a missing label is left out).
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }
}

/// A node of the routing tree, with inherited settings filled in.
#[derive(Clone, Debug)]
pub struct Route {
    /// Receiver name.
    pub receiver: String,
    /// Grouping labels.
    pub group_by: GroupBy,
    /// Wait before the first notification of a new group.
    pub group_wait_ms: u64,
    /// Wait between notifications of a group when it changes.
    pub group_interval_ms: u64,
    /// Re-send an unchanged firing group this often.
    pub repeat_interval_ms: u64,
    /// All must match (none on the root: it takes every alert).
    pub matchers: Vec<Matcher>,
    /// Go on to the next sibling after this route matched.
    pub continue_matching: bool,
    /// Children, tried in order.
    pub routes: Vec<Route>,
}

impl Route {
    /// The routes an alert with `labels` goes to, as (path, route): the
    /// deepest matching routes (Alertmanager's walk: children in order, stop
    /// after the first match unless it has `continue = true`; a route none of
    /// whose children match takes the alert itself). Paths are `0`, `0.2`, `0.2.0`, …
    pub fn matching<'r>(&'r self, labels: &Labels) -> Vec<(String, &'r Route)> {
        let mut out = Vec::new();
        self.walk("0".to_string(), labels, &mut out);
        out
    }

    fn walk<'r>(&'r self, path: String, labels: &Labels, out: &mut Vec<(String, &'r Route)>) -> bool {
        if !self.matchers.iter().all(|m| m.matches(labels)) {
            return false;
        }
        let mut any = false;
        for (i, child) in self.routes.iter().enumerate() {
            if child.walk(format!("{path}.{i}"), labels, out) {
                any = true;
                if !child.continue_matching {
                    break;
                }
            }
        }
        if !any {
            out.push((path, self));
        }
        true
    }
}

/// One receiver: a name and its sinks.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// Name routes refer to.
    pub name: String,
    /// Notify when alerts resolve (default true).
    pub send_resolved: bool,
    /// The sinks (defined by [`crate::sinks`]).
    pub sinks: SinkConfigs,
}

/// Outbox delivery settings (`[alerts.delivery]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// First retry delay (`initial_backoff`, default 1s); doubles per attempt.
    pub initial_backoff_ms: u64,
    /// Longest retry delay (`max_backoff`, default 5m).
    pub max_backoff_ms: u64,
    /// Give up on a notification this long after it was made (`max_age`, default 24h).
    pub max_age_ms: u64,
    /// Longest a single send may take before it counts as a retryable failure (`send_timeout`, default 30s).
    pub send_timeout_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            initial_backoff_ms: SEC,
            max_backoff_ms: 5 * MIN,
            max_age_ms: DAY,
            send_timeout_ms: 30 * SEC,
        }
    }
}

/// The checked `[alerts]` section.
#[derive(Clone, Debug)]
pub struct AlertsConfig {
    /// An alert with no detection for this long resolves.
    pub resolve_timeout_ms: u64,
    /// Base URL of appwarden's API, for links in notifications.
    pub external_url: Option<String>,
    /// The routing tree.
    pub route: Route,
    /// Receivers by name, in file order.
    pub receivers: Vec<ReceiverConfig>,
    /// Outbox delivery.
    pub delivery: DeliveryConfig,
    /// Days to keep resolved alerts and delivered notifications (`retention_days`, default 90).
    pub retention_days: u32,
    /// How many raw-event references an alert keeps (`evidence_limit`, default 10, the most recent).
    pub evidence_limit: usize,
}

impl AlertsConfig {
    /// Reads and checks the `[alerts]` table.
    pub fn from_table(t: &Table) -> Result<AlertsConfig, ConfigError> {
        parse(t)
    }

    /// Reads `[alerts]` from a whole `appwarden.toml` text; `None` when it has no such section.
    pub fn from_toml_str(text: &str) -> Result<Option<AlertsConfig>, ConfigError> {
        let doc: Table = toml::from_str(text).map_err(|e| err("<file>", e.message()))?;
        match doc.get("alerts") {
            None => Ok(None),
            Some(Value::Table(t)) => parse(t).map(Some),
            Some(_) => Err(err("alerts", "must be a table")),
        }
    }

    /// The `[alerts]` section of a policy file, if it has one.
    pub fn from_policy(file: &policy::PolicyFile) -> Result<Option<AlertsConfig>, ConfigError> {
        file.alerts.as_ref().map(parse).transpose()
    }

    /// A receiver by name.
    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

/// Builds every receiver's sinks (relative `*_file` paths against `base_dir`).
pub fn sinks_for(cfg: &AlertsConfig, base_dir: &Path) -> Result<HashMap<String, Vec<Arc<dyn Sink>>>, ConfigError> {
    let mut out = HashMap::new();
    for (i, r) in cfg.receivers.iter().enumerate() {
        let built = sinks::build(&r.sinks, base_dir)
            .map_err(|e| err(&format!("alerts.receiver[{i}].{}.{}", e.sink, e.field), e.message))?;
        out.insert(r.name.clone(), distinct_names(built));
    }
    Ok(out)
}

/// The outbox keys deliveries by the sink's name: two sinks that describe
/// themselves alike (two Slack webhooks) get `#2`, `#3`… after the first, in
/// file order, so each gets its own deliveries.
fn distinct_names(list: Vec<Arc<dyn Sink>>) -> Vec<Arc<dyn Sink>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    list.into_iter()
        .map(|s| {
            let name = s.describe();
            let n = seen.entry(name.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                s
            } else {
                Arc::new(Numbered {
                    name: format!("{name} #{n}"),
                    inner: s,
                }) as Arc<dyn Sink>
            }
        })
        .collect()
}

struct Numbered {
    inner: Arc<dyn Sink>,
    name: String,
}

impl Sink for Numbered {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn send<'a>(&'a self, n: &'a crate::Notification) -> crate::SinkFuture<'a> {
        self.inner.send(n)
    }
}

fn check_keys(t: &Table, path: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(
                &format!("{path}.{k}"),
                format!("unknown key; expected one of: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn get_str<'t>(t: &'t Table, key: &str, path: &str) -> Result<Option<&'t str>, ConfigError> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(&format!("{path}.{key}"), "must be a string")),
    }
}

fn get_duration(t: &Table, key: &str, path: &str) -> Result<Option<u64>, ConfigError> {
    let p = format!("{path}.{key}");
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => parse_duration(s).map(Some).map_err(|m| err(&p, m)),
        Some(_) => Err(err(&p, "must be a duration string such as \"30s\", \"5m\", \"4h\"")),
    }
}

fn get_bool(t: &Table, key: &str, path: &str) -> Result<Option<bool>, ConfigError> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(_) => Err(err(&format!("{path}.{key}"), "must be true or false")),
    }
}

fn get_uint(t: &Table, key: &str, path: &str, max: u64) -> Result<Option<u64>, ConfigError> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Integer(i)) if *i >= 0 && (*i as u64) <= max => Ok(Some(*i as u64)),
        Some(_) => Err(err(
            &format!("{path}.{key}"),
            format!("must be an integer from 0 to {max}"),
        )),
    }
}

fn valid_label_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic()) && cs.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn parse(t: &Table) -> Result<AlertsConfig, ConfigError> {
    let p = "alerts";
    check_keys(
        t,
        p,
        &[
            "resolve_timeout",
            "external_url",
            "route",
            "receiver",
            "delivery",
            "retention_days",
            "evidence_limit",
        ],
    )?;
    let resolve_timeout_ms = get_duration(t, "resolve_timeout", p)?.unwrap_or(DEFAULT_RESOLVE_TIMEOUT_MS);
    if resolve_timeout_ms == 0 {
        return Err(err("alerts.resolve_timeout", "must be more than 0"));
    }
    let external_url = get_str(t, "external_url", p)?.map(|u| u.trim_end_matches('/').to_string());
    if let Some(u) = &external_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return Err(err(
            "alerts.external_url",
            format!("`{u}` is not an http:// or https:// URL"),
        ));
    }
    let receivers = parse_receivers(t)?;
    let route = match t.get("route") {
        Some(Value::Table(r)) => parse_route(r, "alerts.route", None)?,
        Some(_) => return Err(err("alerts.route", "must be a table")),
        None if receivers.len() == 1 => Route {
            receiver: receivers[0].name.clone(),
            group_by: GroupBy::Labels(DEFAULT_GROUP_BY.iter().map(|s| s.to_string()).collect()),
            group_wait_ms: DEFAULT_GROUP_WAIT_MS,
            group_interval_ms: DEFAULT_GROUP_INTERVAL_MS,
            repeat_interval_ms: DEFAULT_REPEAT_INTERVAL_MS,
            matchers: Vec::new(),
            continue_matching: false,
            routes: Vec::new(),
        },
        None => {
            return Err(err(
                "alerts.route",
                "missing: add [alerts.route] with a `receiver` (it may be left out only when there is exactly one receiver)",
            ));
        }
    };
    let names: BTreeSet<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
    check_receivers(&route, "alerts.route", &names)?;
    let delivery = match t.get("delivery") {
        None => DeliveryConfig::default(),
        Some(Value::Table(d)) => {
            let p = "alerts.delivery";
            check_keys(d, p, &["initial_backoff", "max_backoff", "max_age", "send_timeout"])?;
            let def = DeliveryConfig::default();
            let c = DeliveryConfig {
                initial_backoff_ms: get_duration(d, "initial_backoff", p)?.unwrap_or(def.initial_backoff_ms),
                max_backoff_ms: get_duration(d, "max_backoff", p)?.unwrap_or(def.max_backoff_ms),
                max_age_ms: get_duration(d, "max_age", p)?.unwrap_or(def.max_age_ms),
                send_timeout_ms: get_duration(d, "send_timeout", p)?.unwrap_or(def.send_timeout_ms),
            };
            if c.initial_backoff_ms == 0 {
                return Err(err("alerts.delivery.initial_backoff", "must be more than 0"));
            }
            if c.max_backoff_ms < c.initial_backoff_ms {
                return Err(err(
                    "alerts.delivery.max_backoff",
                    "must not be less than initial_backoff",
                ));
            }
            if c.send_timeout_ms == 0 {
                return Err(err("alerts.delivery.send_timeout", "must be more than 0"));
            }
            c
        }
        Some(_) => return Err(err("alerts.delivery", "must be a table")),
    };
    Ok(AlertsConfig {
        resolve_timeout_ms,
        external_url,
        route,
        receivers,
        delivery,
        retention_days: get_uint(t, "retention_days", p, 36_500)?.unwrap_or(90) as u32,
        evidence_limit: get_uint(t, "evidence_limit", p, 1000)?.unwrap_or(10) as usize,
    })
}

fn parse_receivers(t: &Table) -> Result<Vec<ReceiverConfig>, ConfigError> {
    let list = match t.get("receiver") {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(err(
                "alerts.receiver",
                "must be an array of tables ([[alerts.receiver]])",
            ));
        }
    };
    let mut out: Vec<ReceiverConfig> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let p = format!("alerts.receiver[{i}]");
        let Value::Table(rt) = v else {
            return Err(err(&p, "must be a table"));
        };
        let name = get_str(rt, "name", &p)?.ok_or_else(|| err(&format!("{p}.name"), "missing"))?;
        if name.trim().is_empty() {
            return Err(err(&format!("{p}.name"), "must not be empty"));
        }
        if out.iter().any(|r| r.name == name) {
            return Err(err(&format!("{p}.name"), format!("receiver `{name}` is defined twice")));
        }
        let send_resolved = get_bool(rt, "send_resolved", &p)?.unwrap_or(true);
        let mut rest = rt.clone();
        rest.remove("name");
        rest.remove("send_resolved");
        let sinks: SinkConfigs = Value::Table(rest)
            .try_into()
            .map_err(|e: toml::de::Error| err(&p, e.message().trim()))?;
        out.push(ReceiverConfig {
            name: name.to_string(),
            send_resolved,
            sinks,
        });
    }
    Ok(out)
}

fn parse_route(t: &Table, path: &str, parent: Option<&Route>) -> Result<Route, ConfigError> {
    check_keys(
        t,
        path,
        &[
            "receiver",
            "group_by",
            "group_wait",
            "group_interval",
            "repeat_interval",
            "matchers",
            "continue",
            "routes",
        ],
    )?;
    let receiver = match (get_str(t, "receiver", path)?, parent) {
        (Some(r), _) => r.to_string(),
        (None, Some(p)) => p.receiver.clone(),
        (None, None) => {
            return Err(err(
                &format!("{path}.receiver"),
                "missing: the root route needs a receiver",
            ));
        }
    };
    let group_by = match t.get("group_by") {
        None => parent.map_or_else(
            || GroupBy::Labels(DEFAULT_GROUP_BY.iter().map(|s| s.to_string()).collect()),
            |p| p.group_by.clone(),
        ),
        Some(Value::Array(a)) => {
            let mut names = Vec::new();
            for (i, v) in a.iter().enumerate() {
                let ip = format!("{path}.group_by[{i}]");
                let Value::String(s) = v else {
                    return Err(err(&ip, "must be a label name"));
                };
                if s == "..." {
                    if a.len() != 1 {
                        return Err(err(&ip, "\"...\" (every label) must be the only entry"));
                    }
                } else if !valid_label_name(s) {
                    return Err(err(&ip, format!("`{s}` is not a label name")));
                } else if names.contains(s) {
                    return Err(err(&ip, format!("`{s}` is listed twice")));
                }
                names.push(s.clone());
            }
            if names.len() == 1 && names[0] == "..." {
                GroupBy::All
            } else {
                GroupBy::Labels(names)
            }
        }
        Some(_) => return Err(err(&format!("{path}.group_by"), "must be an array of label names")),
    };
    let group_wait_ms = get_duration(t, "group_wait", path)?
        .or(parent.map(|p| p.group_wait_ms))
        .unwrap_or(DEFAULT_GROUP_WAIT_MS);
    let group_interval_ms = get_duration(t, "group_interval", path)?
        .or(parent.map(|p| p.group_interval_ms))
        .unwrap_or(DEFAULT_GROUP_INTERVAL_MS);
    let repeat_interval_ms = get_duration(t, "repeat_interval", path)?
        .or(parent.map(|p| p.repeat_interval_ms))
        .unwrap_or(DEFAULT_REPEAT_INTERVAL_MS);
    if group_interval_ms == 0 {
        return Err(err(&format!("{path}.group_interval"), "must be more than 0"));
    }
    if repeat_interval_ms == 0 {
        return Err(err(&format!("{path}.repeat_interval"), "must be more than 0"));
    }
    let mut matchers = Vec::new();
    match t.get("matchers") {
        None => {}
        Some(_) if parent.is_none() => {
            return Err(err(
                &format!("{path}.matchers"),
                "the root route takes every alert; put matchers on [[alerts.route.routes]]",
            ));
        }
        Some(Value::Array(a)) => {
            for (i, v) in a.iter().enumerate() {
                let ip = format!("{path}.matchers[{i}]");
                let Value::String(s) = v else {
                    return Err(err(&ip, "must be a string such as 'app=\"tiktok\"'"));
                };
                matchers.push(Matcher::parse(s).map_err(|m| err(&ip, m))?);
            }
        }
        Some(_) => return Err(err(&format!("{path}.matchers"), "must be an array of strings")),
    }
    let continue_matching = get_bool(t, "continue", path)?.unwrap_or(false);
    if continue_matching && parent.is_none() {
        return Err(err(&format!("{path}.continue"), "not allowed on the root route"));
    }
    let mut route = Route {
        receiver,
        group_by,
        group_wait_ms,
        group_interval_ms,
        repeat_interval_ms,
        matchers,
        continue_matching,
        routes: Vec::new(),
    };
    match t.get("routes") {
        None => {}
        Some(Value::Array(a)) => {
            let mut children = Vec::new();
            for (i, v) in a.iter().enumerate() {
                let ip = format!("{path}.routes[{i}]");
                let Value::Table(ct) = v else {
                    return Err(err(&ip, "must be a table"));
                };
                children.push(parse_route(ct, &ip, Some(&route))?);
            }
            route.routes = children;
        }
        Some(_) => {
            return Err(err(
                &format!("{path}.routes"),
                "must be an array of tables ([[...routes]])",
            ));
        }
    }
    Ok(route)
}

fn check_receivers(r: &Route, path: &str, names: &BTreeSet<&str>) -> Result<(), ConfigError> {
    if !names.contains(r.receiver.as_str()) {
        let known = if names.is_empty() {
            "none is defined; add [[alerts.receiver]]".to_string()
        } else {
            format!("defined: {}", names.iter().copied().collect::<Vec<_>>().join(", "))
        };
        return Err(err(
            &format!("{path}.receiver"),
            format!("unknown receiver `{}` ({known})", r.receiver),
        ));
    }
    for (i, c) in r.routes.iter().enumerate() {
        check_receivers(c, &format!("{path}.routes[{i}]"), names)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_that_describe_themselves_alike_get_numbers() {
        let cfg = AlertsConfig::from_toml_str(
            r#"
[alerts]
[[alerts.receiver]]
name = "chat"
slack = [{ url = "https://hooks.slack.com/services/A" }, { url = "https://hooks.slack.com/services/B" }]
webhook = [{ url = "https://hooks.example/x" }]
"#,
        )
        .expect("valid")
        .expect("has [alerts]");
        let sinks = sinks_for(&cfg, Path::new(".")).expect("build");
        let names: Vec<String> = sinks["chat"].iter().map(|s| s.describe()).collect();
        assert_eq!(names.len(), 3);
        let slack: Vec<&String> = names.iter().filter(|n| n.starts_with("slack:")).collect();
        assert_eq!(
            slack,
            ["slack:hooks.slack.com", "slack:hooks.slack.com #2"],
            "{names:?}"
        );
        assert!(sinks["chat"].iter().filter(|s| s.kind() == "slack").count() == 2);
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn cfg(text: &str) -> Result<AlertsConfig, ConfigError> {
        AlertsConfig::from_toml_str(text).and_then(|c| c.ok_or_else(|| err("alerts", "absent")))
    }

    const FULL: &str = r#"
[alerts]
resolve_timeout = "10m"
external_url = "http://appwarden.example:8053/"
[alerts.route]
receiver = "default"
group_by = ["group", "app"]
group_wait = "10s"
repeat_interval = "1d"
[[alerts.route.routes]]
matchers = ['severity="critical"', 'app=~"tiktok|douyin"', 'group!="guest"']
receiver = "secops"
continue = true
group_wait = "0s"
[[alerts.route.routes.routes]]
matchers = ['kind="bypass"']
group_by = ["..."]
[[alerts.route.routes]]
matchers = ['app!~"tik.*"']
receiver = "helpdesk"
[[alerts.receiver]]
name = "default"
[[alerts.receiver]]
name = "secops"
send_resolved = false
[[alerts.receiver]]
name = "helpdesk"
"#;

    #[test]
    fn parses_and_inherits() -> Result<(), ConfigError> {
        let c = cfg(FULL)?;
        assert_eq!(c.resolve_timeout_ms, 10 * MIN);
        assert_eq!(c.external_url.as_deref(), Some("http://appwarden.example:8053"));
        assert_eq!(c.route.group_wait_ms, 10 * SEC);
        assert_eq!(c.route.group_interval_ms, DEFAULT_GROUP_INTERVAL_MS);
        assert_eq!(c.route.repeat_interval_ms, DAY);
        let secops = &c.route.routes[0];
        assert_eq!(secops.group_wait_ms, 0);
        assert_eq!(secops.repeat_interval_ms, DAY, "inherited from the parent");
        assert_eq!(secops.group_by, GroupBy::Labels(vec!["group".into(), "app".into()]));
        let nested = &secops.routes[0];
        assert_eq!(nested.receiver, "secops", "receiver inherited");
        assert_eq!(nested.group_wait_ms, 0, "timing inherited from the nearest parent");
        assert_eq!(nested.group_by, GroupBy::All);
        assert!(!c.receiver("secops").map(|r| r.send_resolved).unwrap_or(true));
        assert_eq!(c.delivery, DeliveryConfig::default());
        Ok(())
    }

    #[test]
    fn routing_follows_matchers_and_continue() -> Result<(), ConfigError> {
        let c = cfg(FULL)?;
        let paths = |l: &Labels| {
            c.route
                .matching(l)
                .into_iter()
                .map(|(p, r)| format!("{p}:{}", r.receiver))
                .collect::<Vec<_>>()
        };
        // critical TikTok use: secops, then (continue) helpdesk does not match (`app!~"tik.*"`)
        let l = labels(&[
            ("severity", "critical"),
            ("app", "tiktok"),
            ("group", "staff"),
            ("kind", "app-use"),
        ]);
        assert_eq!(paths(&l), ["0.0:secops"]);
        // a bypass under the secops route goes to the nested route, and (continue) on to helpdesk
        let l = labels(&[
            ("severity", "critical"),
            ("app", "douyin"),
            ("group", "staff"),
            ("kind", "bypass"),
        ]);
        assert_eq!(paths(&l), ["0.0.0:secops", "0.1:helpdesk"]);
        // guest group: secops does not match; helpdesk does not match tiktok → root
        let l = labels(&[("severity", "critical"), ("app", "tiktok"), ("group", "guest")]);
        assert_eq!(paths(&l), ["0:default"]);
        // continue = true: a critical douyin alert goes to secops and, continuing, to helpdesk
        let l = labels(&[("severity", "critical"), ("app", "douyin"), ("group", "staff")]);
        assert_eq!(paths(&l), ["0.0:secops", "0.1:helpdesk"]);
        // a warning for another app: helpdesk only
        let l = labels(&[("severity", "warning"), ("app", "telegram")]);
        assert_eq!(paths(&l), ["0.1:helpdesk"]);
        Ok(())
    }

    #[test]
    fn matchers() -> Result<(), String> {
        let l = labels(&[("app", "tiktok"), ("sev", "a\"b")]);
        assert!(Matcher::parse(r#"app="tiktok""#)?.matches(&l));
        assert!(Matcher::parse("app = tiktok")?.matches(&l));
        assert!(Matcher::parse(r#"app=~"tik.*""#)?.matches(&l));
        assert!(!Matcher::parse(r#"app=~"tik""#)?.matches(&l), "anchored");
        assert!(Matcher::parse(r#"app!~"tik""#)?.matches(&l));
        assert!(Matcher::parse(r#"user="""#)?.matches(&l), "a missing label is empty");
        assert!(Matcher::parse(r#"user!~".+""#)?.matches(&l));
        assert!(Matcher::parse(r#"sev="a\"b""#)?.matches(&l));
        assert!(Matcher::parse(r#"{app!="x"}"#)?.matches(&l));
        for bad in ["=x", "app", "app<>x", r#"app="x"#, r#"app=~"(""#, r#"app="x" y"#] {
            assert!(Matcher::parse(bad).is_err(), "{bad} should not parse");
        }
        Ok(())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30 * SEC));
        assert_eq!(parse_duration("1h30m"), Ok(90 * MIN));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1d"), Ok(DAY));
        assert_eq!(parse_duration("0s"), Ok(0));
        for bad in ["", "30", "s", "5 m", "1y", "-1s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(format_duration(90 * MIN + 250), "1h30m250ms");
        assert_eq!(format_duration(4 * HOUR), "4h");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                "[alerts.route]\nreceiver = \"nobody\"\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.route.receiver",
                "unknown receiver `nobody`",
            ),
            (
                "[alerts.route]\nreceiver = \"a\"\n[[alerts.route.routes]]\nmatchers = ['app~\"x\"']\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.route.routes[0].matchers[0]",
                "expected one of",
            ),
            (
                "[alerts.route]\nreceiver = \"a\"\ngroup_wait = \"5 minutes\"\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.route.group_wait",
                "not a duration",
            ),
            (
                "[alerts.route]\nreceiver = \"a\"\n[[alerts.route.routes]]\nreceiver = \"b\"\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.route.routes[0].receiver",
                "unknown receiver `b`",
            ),
            (
                "[alerts]\nresolve_timout = \"5m\"",
                "alerts.resolve_timout",
                "unknown key",
            ),
            (
                "[alerts]\n[[alerts.receiver]]\nname = \"a\"\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.receiver[1].name",
                "defined twice",
            ),
            (
                "[alerts]\n[[alerts.receiver]]\nname = \"a\"\nfax = []",
                "alerts.receiver[0]",
                "fax",
            ),
            (
                "[alerts.route]\nreceiver = \"a\"\nmatchers = ['app=\"x\"']\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.route.matchers",
                "root route",
            ),
            (
                "[alerts.route]\nreceiver = \"a\"\ngroup_by = [\"...\", \"app\"]\n[[alerts.receiver]]\nname = \"a\"",
                "alerts.route.group_by[0]",
                "only entry",
            ),
            (
                "[alerts]\nexternal_url = \"ftp://x\"",
                "alerts.external_url",
                "not an http",
            ),
            ("[alerts]", "alerts.route", "missing"),
        ];
        for (text, path, msg) in cases {
            match cfg(text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => {
                    assert_eq!(e.path, path, "{text}: {e}");
                    assert!(e.message.contains(msg), "{text}: {e}");
                }
            }
        }
    }

    #[test]
    fn one_receiver_needs_no_route() -> Result<(), ConfigError> {
        let c = cfg("[alerts]\n[[alerts.receiver]]\nname = \"only\"\n[alerts.delivery]\nmax_age = \"1h\"")?;
        assert_eq!(c.route.receiver, "only");
        assert_eq!(c.route.group_wait_ms, DEFAULT_GROUP_WAIT_MS);
        assert_eq!(c.route.repeat_interval_ms, DEFAULT_REPEAT_INTERVAL_MS);
        assert_eq!(c.delivery.max_age_ms, HOUR);
        assert_eq!(c.retention_days, 90);
        assert!(AlertsConfig::from_toml_str("[monitor]\nx = 1")?.is_none());
        Ok(())
    }
}
