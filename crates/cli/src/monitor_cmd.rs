//! `appwarden monitor scan`: a one-shot forensic report over existing logs —
//! which devices used which banned apps or tried which bypass, when, how
//! often, blocked or got through — with parse statistics per file.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use monitor::{Detection, Detector, Format as LogFormat, IdentityResolver, Outcome, ParseOptions, Timestamp, ZeekLog};
use serde::Serialize;

/// How many raw-event references a finding keeps.
const EXAMPLES: usize = 3;
/// How many located parse errors a file keeps as examples.
const ERROR_EXAMPLES: usize = 5;

/// `appwarden monitor …`
#[derive(clap::Subcommand)]
pub enum MonitorCmd {
    /// Read existing logs once and report use of banned apps and bypass attempts per device.
    Scan(Box<ScanArgs>),
    /// Follow live log files and receive syslog; print each detection as a JSON line.
    Follow(Box<crate::follow::FollowArgs>),
}

/// `appwarden monitor scan FILE...`
#[derive(clap::Args)]
pub struct ScanArgs {
    /// Log files (BIND, Unbound, dnsmasq, Pi-hole, AdGuard Home, Blocky, Zeek, Suricata EVE, Squid).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Input format of every FILE: auto, bind, unbound, dnsmasq, pihole, adguard, blocky,
    /// zeek-dns, zeek-ssl, zeek-conn, suricata, squid.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Only events at or after this time (RFC 3339, or YYYY-MM-DD = midnight UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Output: table, json or markdown.
    #[arg(long = "format-out", value_enum, default_value_t = crate::Format::Table)]
    pub format_out: crate::Format,
    #[command(flatten)]
    pub org: crate::OrgArgs,
    /// DHCP leases (dnsmasq.leases or ISC dhcpd.leases; repeatable) to name clients.
    #[arg(long)]
    pub leases: Vec<PathBuf>,
    /// Static device map: CSV `ip_or_mac,device,user`.
    #[arg(long)]
    pub devices: Option<PathBuf>,
    /// Year for log times that omit it (dnsmasq, Pi-hole, syslog); default the --as-of year.
    #[arg(long)]
    pub year: Option<i32>,
}

/// Runs `monitor scan` or another monitor subcommand.
pub fn run(cmd: &MonitorCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        MonitorCmd::Scan(args) => scan(args, out),
        MonitorCmd::Follow(args) => crate::follow::run(args),
    }
}

pub(crate) fn input_format(name: &str) -> Result<(Option<LogFormat>, Option<ZeekLog>)> {
    Ok(match name {
        "auto" => (None, None),
        "bind" => (Some(LogFormat::BindQuery), None),
        "unbound" => (Some(LogFormat::Unbound), None),
        "dnsmasq" => (Some(LogFormat::Dnsmasq), None),
        "pihole" => (Some(LogFormat::Pihole), None),
        "adguard" => (Some(LogFormat::AdGuard), None),
        "blocky" => (Some(LogFormat::Blocky), None),
        "suricata" => (Some(LogFormat::SuricataEve), None),
        // TSV or JSON, native or combined: the file's lines tell
        "squid" => (None, None),
        "zeek-dns" => (None, Some(ZeekLog::Dns)),
        "zeek-ssl" => (None, Some(ZeekLog::Ssl)),
        "zeek-conn" => (None, Some(ZeekLog::Conn)),
        other => bail!(
            "--format: auto, bind, unbound, dnsmasq, pihole, adguard, blocky, zeek-dns, zeek-ssl, zeek-conn, suricata or squid, not `{other}`"
        ),
    })
}

fn parse_since(s: &str) -> Result<Timestamp> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    Timestamp::parse_rfc3339(&full, 0).with_context(|| format!("--since: `{s}` is not RFC 3339 or YYYY-MM-DD"))
}

/// One (client, app) line of the report.
#[derive(Serialize)]
struct Finding {
    client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    group: String,
    kind: &'static str,
    app: String,
    app_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bypass_method: Option<String>,
    reason: policy::RuleReason,
    action: policy::Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<Timestamp>,
    count: u64,
    blocked: u64,
    got_through: u64,
    unknown: u64,
    examples: Vec<String>,
}

impl Finding {
    fn new(client: String, d: &Detection) -> Finding {
        Finding {
            client,
            source_ip: d.source_ip.map(|ip| ip.to_string()),
            device: d.device.clone(),
            user: d.user.clone(),
            group: d.group.clone(),
            kind: d.kind.as_str(),
            app: d.app.clone(),
            app_name: d.app_name.clone(),
            category: d.category.clone(),
            bypass_method: d.bypass_method.clone(),
            reason: d.reason.clone(),
            action: d.action,
            first_seen: None,
            last_seen: None,
            count: 0,
            blocked: 0,
            got_through: 0,
            unknown: 0,
            examples: Vec::new(),
        }
    }

    fn add(&mut self, d: &Detection) {
        self.count += 1;
        match d.outcome {
            Outcome::Blocked => self.blocked += 1,
            Outcome::GotThrough => self.got_through += 1,
            Outcome::Unknown => self.unknown += 1,
        }
        if let Some(t) = d.timestamp {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
        if self.examples.len() < EXAMPLES {
            let file = d.origin.file.as_deref().unwrap_or("-");
            self.examples.push(format!("{file}:{}", d.origin.line));
        }
    }
}

/// Parse statistics of one input file.
#[derive(Serialize)]
struct FileReport {
    path: String,
    format: &'static str,
    lines: u64,
    events: u64,
    skipped: u64,
    errors: u64,
    errors_by_kind: BTreeMap<String, u64>,
    error_examples: Vec<String>,
    flagged: u64,
    #[serde(skip_serializing_if = "is_zero")]
    before_since: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct PlanRef {
    organisation: String,
    profile: String,
    policy_version: String,
    as_of: String,
    catalog_snapshot: String,
}

#[derive(Serialize, Default)]
struct Totals {
    flagged_events: u64,
    app_use: u64,
    bypass: u64,
    blocked: u64,
    got_through: u64,
    unknown: u64,
    parse_errors: u64,
}

#[derive(Serialize)]
struct Report {
    report: &'static str,
    plan: PlanRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<Timestamp>,
    files: Vec<FileReport>,
    identity: Vec<FileReport>,
    findings: Vec<Finding>,
    totals: Totals,
}

fn kind_name(k: monitor::ErrorKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{k:?}"))
}

fn file_stats(path: &Path, format: LogFormat, stats: &monitor::ParseStats, examples: Vec<String>) -> FileReport {
    let mut by_kind = BTreeMap::new();
    for ((_, kind), n) in &stats.errors {
        *by_kind.entry(kind_name(*kind)).or_insert(0) += n;
    }
    FileReport {
        path: path.display().to_string(),
        format: format.name(),
        lines: stats.lines,
        events: stats.events,
        skipped: stats.skipped_count(),
        errors: stats.error_count(),
        errors_by_kind: by_kind,
        error_examples: examples,
        flagged: 0,
        before_since: 0,
    }
}

fn error_example(e: &monitor::ParseError) -> String {
    format!("line {}: {} ({}): {}", e.line_no, kind_name(e.kind), e.field, e.message)
}

fn load_identity(args: &ScanArgs, reports: &mut Vec<FileReport>) -> Result<Option<IdentityResolver>> {
    if args.leases.is_empty() && args.devices.is_none() {
        return Ok(None);
    }
    let open = |p: &Path| -> Result<BufReader<std::fs::File>> {
        Ok(BufReader::new(
            std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?,
        ))
    };
    let mut res = IdentityResolver::new();
    if let Some(p) = &args.devices {
        let r = monitor::identity::static_map::read(open(p)?);
        let ex = r.errors.iter().take(ERROR_EXAMPLES).map(error_example).collect();
        reports.push(file_stats(p, LogFormat::StaticMap, &r.stats, ex));
        res.add_static(r.records);
    }
    for p in &args.leases {
        let head = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        let lines: Vec<&[u8]> = head.split(|b| *b == b'\n').take(16).collect();
        let name = p.to_string_lossy();
        let (format, r) = match monitor::detect(&lines, Some(&name)) {
            Some(LogFormat::DhcpdLeases) => (LogFormat::DhcpdLeases, monitor::identity::dhcpd_leases::read(&head[..])),
            _ => (
                LogFormat::DnsmasqLeases,
                monitor::identity::dnsmasq_leases::read(&head[..], 3600),
            ),
        };
        let ex = r.errors.iter().take(ERROR_EXAMPLES).map(error_example).collect();
        reports.push(file_stats(p, format, &r.stats, ex));
        res.add_leases(r.records);
    }
    Ok(Some(res))
}

fn scan(args: &ScanArgs, out: &mut dyn Write) -> Result<()> {
    let (format, zeek_log) = input_format(&args.format)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    // an unreadable input is an operational failure: say so before any work
    for f in &args.files {
        std::fs::metadata(f).with_context(|| format!("reading {}", f.display()))?;
    }
    let (policy, as_of) = crate::load_policy(&args.org)?;
    let plan = policy.plan(as_of);
    let mut identity_reports = Vec::new();
    let identity = load_identity(args, &mut identity_reports)?;
    let detector = match &identity {
        Some(res) => Detector::new(&plan).with_identity(res),
        None => Detector::new(&plan),
    };
    let mut opts = ParseOptions::default().with_year(args.year.unwrap_or_else(|| i32::from(as_of.0.year())));
    if let Some(z) = zeek_log {
        opts = opts.with_zeek_log(z);
    }

    let mut findings: BTreeMap<(String, String), Finding> = BTreeMap::new();
    let mut files = Vec::new();
    let mut totals = Totals::default();
    for path in &args.files {
        let mut reader = monitor::open_log(path, format, &opts).map_err(|e| match e {
            monitor::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => anyhow::anyhow!(
                "{}: could not detect the log format; give it with --format",
                path.display()
            ),
            other => anyhow::Error::new(other),
        })?;
        let mut examples = Vec::new();
        let mut flagged = 0u64;
        let mut before = 0u64;
        reader.for_each_event(|item| match item {
            Ok(ev) => {
                if let (Some(s), Some(t)) = (since, ev.timestamp) {
                    if t < s {
                        before += 1;
                        return;
                    }
                }
                if let Some(d) = detector.detect(&ev) {
                    flagged += 1;
                    let client = d
                        .device
                        .clone()
                        .or_else(|| d.source_ip.map(|ip| ip.to_string()))
                        .unwrap_or_else(|| "-".to_string());
                    findings
                        .entry((client.clone(), d.app.clone()))
                        .or_insert_with(|| Finding::new(client, &d))
                        .add(&d);
                }
            }
            Err(e) => {
                if examples.len() < ERROR_EXAMPLES {
                    examples.push(error_example(&e));
                }
            }
        });
        let mut report = file_stats(path, reader.parser().format(), reader.stats(), examples);
        report.flagged = flagged;
        report.before_since = before;
        totals.parse_errors += report.errors;
        totals.flagged_events += flagged;
        files.push(report);
    }
    let findings: Vec<Finding> = findings.into_values().collect();
    for f in &findings {
        if f.kind == "bypass" {
            totals.bypass += f.count;
        } else {
            totals.app_use += f.count;
        }
        totals.blocked += f.blocked;
        totals.got_through += f.got_through;
        totals.unknown += f.unknown;
    }
    let report = Report {
        report: "appwarden-monitor-scan/1",
        plan: PlanRef {
            organisation: plan.stamp.organisation.clone(),
            profile: plan.stamp.profile.clone(),
            policy_version: plan.stamp.policy_version.clone(),
            as_of: as_of.to_string(),
            catalog_snapshot: plan.stamp.catalog_snapshot.clone(),
        },
        since,
        files,
        identity: identity_reports,
        findings,
        totals,
    };
    match args.format_out {
        crate::Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        crate::Format::Table => render(out, &report, false)?,
        crate::Format::Markdown => render(out, &report, true)?,
    }
    Ok(())
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), |t| t.to_string())
}

/// Writes rows as an aligned text table or a Markdown table.
fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>], markdown: bool) -> std::io::Result<()> {
    if markdown {
        writeln!(out, "| {} |", header.join(" | "))?;
        writeln!(out, "|{}", "---|".repeat(header.len()))?;
        for r in rows {
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        return Ok(());
    }
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn render(out: &mut dyn Write, r: &Report, markdown: bool) -> Result<()> {
    let h = |out: &mut dyn Write, title: &str| -> std::io::Result<()> {
        if markdown {
            writeln!(out, "## {title}\n")
        } else {
            writeln!(out, "{title}")
        }
    };
    if markdown {
        writeln!(out, "# appwarden monitor scan\n")?;
    }
    writeln!(
        out,
        "Plan: {} · profile {} · as of {}{}\n",
        r.plan.organisation,
        r.plan.profile,
        r.plan.as_of,
        r.since.map(|s| format!(" · since {s}")).unwrap_or_default()
    )?;
    h(out, "Findings (per client and app)")?;
    if r.findings.is_empty() {
        writeln!(out, "No use of apps or bypass methods the plan has rules for.")?;
    } else {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| {
                vec![
                    f.client.clone(),
                    f.user.clone().unwrap_or_else(|| "-".into()),
                    f.group.clone(),
                    f.kind.to_string(),
                    f.app.clone(),
                    match f.action {
                        policy::Action::Block => "block".into(),
                        policy::Action::LogOnly => "log_only".into(),
                    },
                    opt_time(f.first_seen),
                    opt_time(f.last_seen),
                    f.count.to_string(),
                    f.blocked.to_string(),
                    f.got_through.to_string(),
                    f.examples.first().cloned().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            out,
            &[
                "CLIENT",
                "USER",
                "GROUP",
                "KIND",
                "APP",
                "ACTION",
                "FIRST SEEN",
                "LAST SEEN",
                "COUNT",
                "BLOCKED",
                "GOT THROUGH",
                "EXAMPLE",
            ],
            &rows,
            markdown,
        )?;
    }
    writeln!(out)?;
    h(out, "Files")?;
    let rows: Vec<Vec<String>> = r
        .files
        .iter()
        .chain(&r.identity)
        .map(|f| {
            let kinds: Vec<String> = f.errors_by_kind.iter().map(|(k, n)| format!("{k}={n}")).collect();
            vec![
                f.path.clone(),
                f.format.to_string(),
                f.lines.to_string(),
                f.events.to_string(),
                f.flagged.to_string(),
                f.errors.to_string(),
                if kinds.is_empty() { "-".into() } else { kinds.join(",") },
            ]
        })
        .collect();
    table(
        out,
        &["FILE", "FORMAT", "LINES", "EVENTS", "FLAGGED", "ERRORS", "BY KIND"],
        &rows,
        markdown,
    )?;
    writeln!(out)?;
    let t = &r.totals;
    writeln!(
        out,
        "{} flagged event(s): {} app use, {} bypass; {} blocked, {} got through, {} unknown; {} parse error(s)",
        t.flagged_events, t.app_use, t.bypass, t.blocked, t.got_through, t.unknown, t.parse_errors
    )?;
    Ok(())
}
