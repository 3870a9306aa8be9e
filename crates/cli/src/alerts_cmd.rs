//! `appwarden alerts list|show|ack`: reads (and acknowledges in) the alert
//! store that `appwarden serve` writes (`DATA_DIR/querylog.sqlite3`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use monitor::Timestamp;
use store::alerts::{AlertFilter, AlertRecord, AlertStore};

/// `appwarden alerts …`
#[derive(clap::Subcommand)]
pub enum AlertsCmd {
    /// Alerts, most recently seen first.
    List(ListArgs),
    /// One alert: labels, counts, window, evidence, deliveries per sink.
    Show {
        /// Fingerprint, or a unique prefix of it.
        fingerprint: String,
        #[command(flatten)]
        data: DataDir,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Acknowledge an alert: it stays listed (marked), and is not sent again on
    /// repeat_interval until it changes severity or resolves.
    Ack {
        /// Fingerprint, or a unique prefix of it.
        fingerprint: String,
        /// Who acknowledges (default $USER).
        #[arg(long)]
        by: Option<String>,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Where the store is.
#[derive(clap::Args)]
pub struct DataDir {
    /// appwarden's data directory (as given to `serve`).
    #[arg(long, default_value = "./appwarden-data")]
    pub data_dir: PathBuf,
}

/// `alerts list` filters.
#[derive(clap::Args)]
pub struct ListArgs {
    /// firing, resolved or all.
    #[arg(long, value_enum, default_value_t = StatusArg::All)]
    pub status: StatusArg,
    /// Only this app (catalog id).
    #[arg(long)]
    pub app: Option<String>,
    /// Only this plan group.
    #[arg(long)]
    pub group: Option<String>,
    /// Only alerts seen since: RFC 3339, YYYY-MM-DD, or a duration ago (`24h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    #[command(flatten)]
    pub data: DataDir,
}

/// Status filter.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq)]
pub enum StatusArg {
    /// Still happening.
    Firing,
    /// Over.
    Resolved,
    /// Both.
    All,
}

/// `list` output.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// JSON array.
    Json,
}

/// `show` output.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq)]
pub enum ShowFormat {
    /// Readable text.
    Text,
    /// JSON.
    Json,
}

/// Runs an `alerts` subcommand.
pub fn run(cmd: &AlertsCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        AlertsCmd::List(args) => list(args, out),
        AlertsCmd::Show {
            fingerprint,
            data,
            format,
        } => show(&open(&data.data_dir)?, fingerprint, *format, out),
        AlertsCmd::Ack {
            fingerprint,
            by,
            comment,
            data,
        } => {
            let store = open(&data.data_dir)?;
            let a = find_one(&store, fingerprint)?;
            let by = by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| "unknown".into());
            store.ack(&a.fingerprint, &by, comment.as_deref(), store::now_ms())?;
            writeln!(
                out,
                "acknowledged {} ({}) by {by}{}",
                a.fingerprint,
                summary(&a),
                if a.status == "resolved" {
                    "; it has already resolved"
                } else {
                    ""
                }
            )?;
            Ok(())
        }
    }
}

fn open(dir: &Path) -> Result<AlertStore> {
    if !dir.join("querylog.sqlite3").is_file() {
        bail!(
            "no appwarden data in {} (give the directory `appwarden serve --data-dir` uses)",
            dir.display()
        );
    }
    AlertStore::open(dir).with_context(|| format!("opening the alert store in {}", dir.display()))
}

fn find_one(store: &AlertStore, prefix: &str) -> Result<AlertRecord> {
    let p = prefix.trim();
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("`{prefix}` is not a fingerprint (hex digits; a prefix is enough)");
    }
    let mut found = store.find(p, 2)?.into_iter();
    match (found.next(), found.next()) {
        (Some(a), None) => Ok(a),
        (None, _) => bail!("no alert with fingerprint {p}… (see `appwarden alerts list`)"),
        (Some(_), Some(_)) => bail!("fingerprint prefix {p} is ambiguous; give more digits"),
    }
}

fn parse_since(s: &str, now_ms: u64) -> Result<u64> {
    if let Ok(d) = alert::config::parse_duration(s) {
        return Ok(now_ms.saturating_sub(d));
    }
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    let t = Timestamp::parse_rfc3339(&full, 0)
        .with_context(|| format!("--since: `{s}` is not RFC 3339, YYYY-MM-DD or a duration such as 24h"))?;
    Ok(u64::try_from(t.unix_nanos() / 1_000_000).unwrap_or(0))
}

fn time(ms: u64) -> String {
    let t = Timestamp::from_unix_nanos(
        i64::try_from(ms)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000),
    );
    let s = t.to_string();
    // to the second in tables
    match s.find('.') {
        Some(i) => format!("{}Z", &s[..i]),
        None => s,
    }
}

fn who(a: &AlertRecord) -> String {
    let l = &a.labels;
    match (l.get("device"), l.get("user"), l.get("client")) {
        (Some(d), Some(u), _) => format!("{d} ({u})"),
        (Some(d), None, _) => d.clone(),
        (None, Some(u), Some(c)) => format!("{u}@{c}"),
        (None, Some(u), None) => u.clone(),
        (None, None, Some(c)) => c.clone(),
        (None, None, None) => "-".into(),
    }
}

fn summary(a: &AlertRecord) -> String {
    a.annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| format!("{} {}", who(a), a.labels.get("app").map_or("-", String::as_str)))
}

fn list(args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let store = open(&args.data.data_dir)?;
    let since_ms = args
        .since
        .as_deref()
        .map(|s| parse_since(s, store::now_ms()))
        .transpose()?;
    let filter = AlertFilter {
        status: match args.status {
            StatusArg::Firing => Some("firing".into()),
            StatusArg::Resolved => Some("resolved".into()),
            StatusArg::All => None,
        },
        app: args.app.clone(),
        group: args.group.clone(),
        since_ms,
        limit: Some(args.limit),
    };
    let alerts = store.list(&filter)?;
    if args.format == ListFormat::Json {
        serde_json::to_writer_pretty(&mut *out, &alerts)?;
        writeln!(out)?;
        return Ok(());
    }
    if alerts.is_empty() {
        writeln!(out, "no alerts")?;
        return Ok(());
    }
    let rows: Vec<[String; 9]> = alerts
        .iter()
        .map(|a| {
            [
                a.fingerprint.chars().take(12).collect(),
                if a.ack.is_some() {
                    format!("{} (acked)", a.status)
                } else {
                    a.status.clone()
                },
                a.labels.get("severity").cloned().unwrap_or_default(),
                a.labels.get("alertname").cloned().unwrap_or_default(),
                a.labels.get("app").cloned().unwrap_or_default(),
                a.labels.get("group").cloned().unwrap_or_default(),
                who(a),
                format!("{} ({}b/{}g/{}u)", a.total, a.blocked, a.got_through, a.unknown),
                format!("{} .. {}", time(a.starts_ms), time(a.last_seen_ms)),
            ]
        })
        .collect();
    let head = [
        "FINGERPRINT",
        "STATUS",
        "SEVERITY",
        "ALERT",
        "APP",
        "GROUP",
        "WHO",
        "COUNT",
        "SEEN (UTC)",
    ];
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    writeln!(
        out,
        "{} alert(s); counts: b blocked, g got through, u unknown",
        rows.len()
    )?;
    Ok(())
}

fn show(store: &AlertStore, prefix: &str, format: ShowFormat, out: &mut dyn Write) -> Result<()> {
    let a = find_one(store, prefix)?;
    let deliveries = store.outbox_for_alert(&a.fingerprint)?;
    if format == ShowFormat::Json {
        let v = serde_json::json!({ "alert": a, "deliveries": deliveries });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "fingerprint  {}", a.fingerprint)?;
    let status = match &a.ack {
        Some(k) => format!(
            "{} — acknowledged by {} at {}{}",
            a.status,
            k.by,
            time(k.at_ms),
            k.comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
        ),
        None => a.status.clone(),
    };
    writeln!(out, "status       {status}")?;
    writeln!(out, "summary      {}", summary(&a))?;
    if let Some(d) = a.annotations.get("description") {
        writeln!(out, "description  {d}")?;
    }
    writeln!(out, "labels")?;
    for (k, v) in &a.labels {
        writeln!(out, "  {k:<14} {v}")?;
    }
    writeln!(
        out,
        "window       first {} · last {}{}",
        time(a.starts_ms),
        time(a.last_seen_ms),
        a.ends_ms
            .map(|e| format!(" · resolved {}", time(e)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "counts       {} detection(s): {} blocked, {} got through, {} unknown",
        a.total, a.blocked, a.got_through, a.unknown
    )?;
    if !a.bypass_indicators.is_empty() {
        writeln!(out, "bypass       {}", a.bypass_indicators.join(", "))?;
    }
    writeln!(out, "evidence     (most recent last)")?;
    for e in &a.evidence {
        writeln!(out, "  {e}")?;
    }
    for (k, v) in a.annotations.iter().filter(|(k, _)| k.ends_with("_url")) {
        writeln!(out, "{k:<12} {v}")?;
    }
    if deliveries.is_empty() {
        writeln!(out, "deliveries   none yet")?;
    } else {
        writeln!(out, "deliveries")?;
        for d in &deliveries {
            writeln!(
                out,
                "  #{} {} → {}  {} {}  {} attempt(s), made {}{}{}",
                d.id,
                d.receiver,
                d.sink,
                d.status,
                d.state.as_str(),
                d.attempts,
                time(d.created_ms),
                d.done_ms.map(|t| format!(", done {}", time(t))).unwrap_or_default(),
                d.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() -> Result<()> {
        let now = 1_700_000_000_000;
        assert_eq!(parse_since("1h", now)?, now - 3_600_000);
        assert_eq!(parse_since("2023-11-14", now)?, 1_699_920_000_000);
        assert_eq!(parse_since("2023-11-14T22:13:20Z", now)?, now);
        assert!(parse_since("yesterday", now).is_err());
        assert_eq!(time(now + 5), "2023-11-14T22:13:20Z");
        Ok(())
    }
}
