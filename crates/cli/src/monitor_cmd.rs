//! `appwarden monitor scan`: a one-shot forensic report over existing logs —
//! which devices used which banned apps or tried which bypass, when, how
//! often, blocked or got through — with parse statistics per file.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use monitor::{Detector, Format as LogFormat, IdentityResolver, ParseOptions, Timestamp, ZeekLog};

use crate::monitor_agg::{ERROR_EXAMPLES, Firsts, Part, ScanSink};
use serde::Serialize;

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

/// One (client, app) line of the report. Borrows the plan and the file names.
#[derive(Serialize)]
struct Finding<'p> {
    client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    group: &'p str,
    kind: &'static str,
    app: &'p str,
    app_name: &'p str,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'p str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bypass_method: Option<&'p str>,
    reason: &'p policy::RuleReason,
    action: policy::Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<Timestamp>,
    count: u64,
    blocked: u64,
    got_through: u64,
    unknown: u64,
    examples: Examples<'p>,
}

impl<'p> Finding<'p> {
    /// The finding of a (client, app), named by its first detection.
    fn new(p: Part<'p>, names: &'p [String]) -> Finding<'p> {
        let count = p.count();
        let f = p.first;
        let app = f.app;
        Finding {
            client: p.client,
            source_ip: f.source_ip,
            device: f.device,
            user: f.user,
            group: &f.group.id,
            kind: f.kind.as_str(),
            app: app.map_or(monitor::detection::DOT_PORT_APP, |a| a.id.as_str()),
            app_name: app.map_or("DNS over TLS (port 853)", |a| a.name.as_str()),
            category: app.map_or(Some("encrypted-dns"), |a| a.categories.first().map(String::as_str)),
            bypass_method: app.map_or(Some("encrypted-dns"), |a| a.method),
            reason: f.reason,
            action: f.action,
            first_seen: p.first_seen,
            last_seen: p.last_seen,
            count,
            blocked: p.blocked,
            got_through: p.got_through,
            unknown: p.unknown,
            examples: Examples { at: f.examples, names },
        }
    }
}

/// Examples as `file:line` strings.
struct Examples<'p> {
    at: Firsts,
    names: &'p [String],
}

impl Examples<'_> {
    fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.at.at[..self.at.n]
            .iter()
            .map(|&(fi, line)| format!("{}:{line}", self.names[fi]))
    }
}

impl Serialize for Examples<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct Example<'a>(&'a str, u64);
        impl std::fmt::Display for Example<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}:{}", self.0, self.1)
            }
        }
        impl Serialize for Example<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        s.collect_seq(
            self.at.at[..self.at.n]
                .iter()
                .map(|&(fi, line)| Example(&self.names[fi], line)),
        )
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

impl Totals {
    /// Counts a finding's events.
    fn add(&mut self, f: &Finding<'_>) {
        if f.kind == "bypass" {
            self.bypass += f.count;
        } else {
            self.app_use += f.count;
        }
        self.blocked += f.blocked;
        self.got_through += f.got_through;
        self.unknown += f.unknown;
    }
}

#[derive(Serialize)]
struct Report<'p> {
    report: &'static str,
    plan: PlanRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<Timestamp>,
    files: Vec<FileReport>,
    identity: Vec<FileReport>,
    findings: Vec<Finding<'p>>,
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

pub(crate) fn error_example(e: &monitor::ParseError) -> String {
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

    let mut files = Vec::new();
    let mut totals = Totals::default();
    let scan_opts = monitor::ScanOptions::default();
    let names: Vec<String> = args.files.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let ranks = crate::monitor_agg::app_ranks(detector.index());
    let mut runs = Vec::new();
    for (fi, path) in args.files.iter().enumerate() {
        let new_sink = || ScanSink::new(&detector, (&ranks.0, ranks.1), since, fi);
        let scanned = monitor::scan_log(path, format, &opts, &scan_opts, new_sink).map_err(|e| match e {
            monitor::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
                anyhow::anyhow!(
                    "{}: could not detect the log format; give it with --format",
                    path.display()
                )
            }
            other => anyhow::Error::new(other),
        })?;
        let mut sink = scanned.sink;
        let examples = std::mem::take(&mut sink.errors).into_iter().map(|(_, e)| e).collect();
        let mut report = file_stats(path, scanned.format, &scanned.stats, examples);
        report.flagged = sink.flagged;
        report.before_since = sink.before;
        totals.parse_errors += report.errors;
        totals.flagged_events += sink.flagged;
        files.push(report);
        runs.append(&mut sink.runs);
    }
    // one finding per (client, app), in that order: the runs (one per worker
    // and file) are each in that order; parts of the same one (several
    // workers or files, or a device name that reads like an address) are merged
    let mut findings = crate::monitor_agg::MergeRuns::new(runs).map(|p| Finding::new(p, &names));
    let mut report = Report {
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
        findings: Vec::new(),
        totals,
    };
    // stdout is line-buffered: a large report would be one write per line
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
    match args.format_out {
        crate::Format::Json => {
            // the findings are written as they are merged
            write_json(&mut buffered, &mut report, &mut findings)?;
            writeln!(buffered)?;
        }
        crate::Format::Table | crate::Format::Markdown => {
            for f in findings {
                report.totals.add(&f);
                report.findings.push(f);
            }
            render(
                &mut buffered,
                &report,
                matches!(args.format_out, crate::Format::Markdown),
            )?;
        }
    }
    buffered.flush()?;
    Ok(())
}

/// Writes the report exactly as `serde_json::to_writer_pretty` would with
/// `findings` (there can be hundreds of thousands) in it, adding their
/// counts to the totals: a batch at a time is taken from `findings` here,
/// rendered on other threads and written here, in order, while the next
/// batches are taken and rendered (at most two per thread in flight).
fn write_json<'p>(
    out: &mut impl Write,
    report: &mut Report<'p>,
    findings: &mut impl Iterator<Item = Finding<'p>>,
) -> Result<()> {
    const BATCH: usize = 2048;
    // the pretty printer writes an empty array as `[]`; the key is at depth 1
    let marker: &[u8] = b"\n  \"findings\": []";
    let at = |v: &[u8]| v.windows(marker.len()).position(|w| w == marker);
    let mut findings = findings.peekable();
    let head = serde_json::to_vec_pretty(&*report)?;
    let (Some(_), Some(split)) = (findings.peek(), at(&head).map(|i| i + marker.len() - 1)) else {
        // no findings (or findings already in the report): serde as it is
        for f in findings {
            report.totals.add(&f);
            report.findings.push(f);
        }
        serde_json::to_writer_pretty(&mut *out, &*report)?;
        return Ok(());
    };
    // up to the `]` (the totals come after it: written at the end)
    out.write_all(&head[..split])?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let totals = &mut report.totals;
    std::thread::scope(|s| -> Result<()> {
        // batch i goes to renderer i % threads; each answers in order. The
        // batches and the text buffers go back and forth, not reallocated.
        let mut jobs = Vec::with_capacity(threads);
        let mut done = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (job_tx, job_rx) = std::sync::mpsc::channel::<(usize, Vec<Finding<'p>>, Vec<u8>)>();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<(Vec<u8>, Vec<Finding<'p>>)>();
            jobs.push(job_tx);
            done.push(done_rx);
            s.spawn(move || {
                let mut json = FindingJson::default();
                for (i, mut batch, mut text) in job_rx {
                    text.clear();
                    json.render(&mut text, &batch, i == 0);
                    batch.clear();
                    if done_tx.send((text, batch)).is_err() {
                        return;
                    }
                }
            });
        }
        let (mut sent, mut written) = (0usize, 0usize);
        let mut spare: Vec<(Vec<u8>, Vec<Finding<'p>>)> = Vec::new();
        let mut write_next = |written: &mut usize, spare: &mut Vec<(Vec<u8>, Vec<Finding<'p>>)>| -> Result<()> {
            let (text, batch) = done[*written % threads]
                .recv()
                .map_err(|_| anyhow::anyhow!("rendering the report failed"))?;
            out.write_all(&text)?;
            spare.push((text, batch));
            *written += 1;
            Ok(())
        };
        loop {
            let (text, mut batch) = spare
                .pop()
                .unwrap_or_else(|| (Vec::with_capacity(BATCH * 768), Vec::with_capacity(BATCH)));
            batch.extend(findings.by_ref().take(BATCH));
            if batch.is_empty() {
                break;
            }
            for f in &batch {
                totals.add(f);
            }
            jobs[sent % threads]
                .send((sent, batch, text))
                .map_err(|_| anyhow::anyhow!("rendering the report failed"))?;
            sent += 1;
            while sent - written > 2 * threads {
                write_next(&mut written, &mut spare)?;
            }
        }
        drop(jobs);
        while written < sent {
            write_next(&mut written, &mut spare)?;
        }
        Ok(())
    })?;
    let tail = serde_json::to_vec_pretty(&*report)?;
    let split = at(&tail).map_or(tail.len(), |i| i + marker.len() - 1);
    out.write_all(b"\n  ")?;
    out.write_all(&tail[split..])?;
    Ok(())
}

/// Renders findings as elements of the report's `findings` array (depth 2),
/// byte for byte as `serde_json`'s pretty printer does for [`Finding`]
/// (checked by the tests), without going through serde for every field: the
/// part that depends only on the plan's rule (group … action) is rendered
/// once per rule.
#[derive(Default)]
struct FindingJson {
    /// Few (one per group and app at most); findings come sorted by client,
    /// so the same ones recur: the last used is tried first.
    rules: Vec<(RuleShape, Vec<u8>)>,
    last: usize,
    /// By file index.
    files: Vec<Option<Vec<u8>>>,
}

/// Identity of the plan-borrowed fields of a finding (they point into the plan).
#[derive(PartialEq, Eq)]
struct RuleShape {
    strs: [(usize, usize); 4],
    opt: [Option<(usize, usize)>; 2],
    reason: usize,
    block: bool,
}

/// The fields of [`Finding`] from `group` to `action`, in its order.
#[derive(Serialize)]
struct RuleFields<'a> {
    group: &'a str,
    kind: &'a str,
    app: &'a str,
    app_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bypass_method: Option<&'a str>,
    reason: &'a policy::RuleReason,
    action: policy::Action,
}

/// Field lines start with 6 spaces (depth 3 of the report).
const FIELD: &[u8] = b",\n      \"";

impl FindingJson {
    /// `\n    {…}` for the first finding of the report, `,\n    {…}` for the others.
    fn render(&mut self, out: &mut Vec<u8>, chunk: &[Finding<'_>], report_first: bool) {
        for (i, f) in chunk.iter().enumerate() {
            out.extend_from_slice(if i == 0 && report_first {
                b"\n    {\n      \"client\": "
            } else {
                b",\n    {\n      \"client\": "
            });
            json_str(out, &f.client);
            if let Some(ip) = f.source_ip {
                out.extend_from_slice(FIELD);
                out.extend_from_slice(b"source_ip\": \"");
                let _ = write!(out, "{ip}");
                out.push(b'"');
            }
            for (name, v) in [("device", &f.device), ("user", &f.user)] {
                if let Some(v) = v {
                    out.extend_from_slice(FIELD);
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b"\": ");
                    json_str(out, v);
                }
            }
            out.extend_from_slice(b",\n");
            out.extend_from_slice(self.rule(f));
            for (name, t) in [("first_seen", f.first_seen), ("last_seen", f.last_seen)] {
                if let Some(t) = t {
                    out.extend_from_slice(FIELD);
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b"\": \"");
                    push_time(out, t);
                    out.push(b'"');
                }
            }
            for (name, n) in [
                ("count", f.count),
                ("blocked", f.blocked),
                ("got_through", f.got_through),
                ("unknown", f.unknown),
            ] {
                out.extend_from_slice(FIELD);
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\": ");
                push_u64(out, n);
            }
            out.extend_from_slice(FIELD);
            out.extend_from_slice(b"examples\": ");
            let ex = &f.examples;
            if ex.at.n == 0 {
                out.extend_from_slice(b"[]");
            } else {
                for (k, &(fi, line)) in ex.at.at[..ex.at.n].iter().enumerate() {
                    out.extend_from_slice(if k == 0 { b"[\n        " } else { b",\n        " });
                    out.extend_from_slice(self.file(ex.names, fi));
                    out.push(b':');
                    push_u64(out, line);
                    out.push(b'"');
                }
                out.extend_from_slice(b"\n      ]");
            }
            out.extend_from_slice(b"\n    }");
        }
    }

    /// The escaped file name with its opening quote.
    fn file(&mut self, names: &[String], fi: usize) -> &[u8] {
        if self.files.len() <= fi {
            self.files.resize(fi + 1, None);
        }
        self.files[fi].get_or_insert_with(|| {
            let mut v = Vec::new();
            json_str(&mut v, names.get(fi).map_or("", String::as_str));
            v.pop(); // the closing quote
            v
        })
    }

    /// `      "group": …,\n … "action": …` (no trailing comma or newline).
    fn rule(&mut self, f: &Finding<'_>) -> &[u8] {
        let span = |s: &str| (s.as_ptr() as usize, s.len());
        let shape = RuleShape {
            strs: [span(f.group), span(f.kind), span(f.app), span(f.app_name)],
            opt: [f.category.map(span), f.bypass_method.map(span)],
            reason: f.reason as *const policy::RuleReason as usize,
            block: f.action == policy::Action::Block,
        };
        let known = match self.rules.get(self.last) {
            Some((s, _)) if *s == shape => Some(self.last),
            _ => self.rules.iter().position(|(s, _)| *s == shape),
        };
        let i = known.unwrap_or_else(|| {
            let fields = RuleFields {
                group: f.group,
                kind: f.kind,
                app: f.app,
                app_name: f.app_name,
                category: f.category,
                bypass_method: f.bypass_method,
                reason: f.reason,
                action: f.action,
            };
            // `{\n  "group": …\n}` at depth 0: drop the braces, indent by 4 more
            let text = serde_json::to_vec_pretty(&fields).unwrap_or_default();
            let inner = text
                .strip_prefix(b"{\n")
                .and_then(|t| t.strip_suffix(b"\n}"))
                .unwrap_or_default();
            let mut v = Vec::with_capacity(inner.len() + 64);
            for (k, line) in inner.split(|b| *b == b'\n').enumerate() {
                if k > 0 {
                    v.push(b'\n');
                }
                v.extend_from_slice(b"    ");
                v.extend_from_slice(line);
            }
            self.rules.push((shape, v));
            self.rules.len() - 1
        });
        self.last = i;
        &self.rules[i].1
    }
}

/// A JSON string as serde_json writes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Digits of `n`, zero-padded to `width`.
fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut n = n;
    for i in (0..width).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

/// A timestamp as its `Display` writes it (RFC 3339, UTC, 0/3/6/9 fraction digits).
fn push_time(out: &mut Vec<u8>, t: Timestamp) {
    let c = t.to_civil();
    if !(0..=9999).contains(&c.year) {
        let _ = write!(out, "{t}");
        return;
    }
    push_padded(out, c.year as u32, 4);
    out.push(b'-');
    push_padded(out, u32::from(c.month), 2);
    out.push(b'-');
    push_padded(out, u32::from(c.day), 2);
    out.push(b'T');
    push_padded(out, u32::from(c.hour), 2);
    out.push(b':');
    push_padded(out, u32::from(c.minute), 2);
    out.push(b':');
    push_padded(out, u32::from(c.second), 2);
    if c.nanos != 0 {
        out.push(b'.');
        if c.nanos % 1_000_000 == 0 {
            push_padded(out, c.nanos / 1_000_000, 3);
        } else if c.nanos % 1000 == 0 {
            push_padded(out, c.nanos / 1000, 6);
        } else {
            push_padded(out, c.nanos, 9);
        }
    }
    out.push(b'Z');
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
                    f.group.to_string(),
                    f.kind.to_string(),
                    f.app.to_string(),
                    match f.action {
                        policy::Action::Block => "block".into(),
                        policy::Action::LogOnly => "log_only".into(),
                    },
                    opt_time(f.first_seen),
                    opt_time(f.last_seen),
                    f.count.to_string(),
                    f.blocked.to_string(),
                    f.got_through.to_string(),
                    f.examples.iter().next().unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor_agg::Firsts;

    fn findings<'a>(names: &'a [String], reasons: &'a [policy::RuleReason], n: usize) -> Vec<Finding<'a>> {
        let clients = [
            "198.18.0.1",
            "fe80::1",
            "kiosk \"7\"",
            "tab\there",
            "Zürich",
            "x\\y",
            "\u{1}ctl",
            "",
        ];
        (0..n)
            .map(|i| {
                let mut ex = Firsts::default();
                for k in 0..i % 4 {
                    ex.at[k] = (k % names.len(), (i * 7 + k) as u64);
                }
                ex.n = i % 4;
                let t = Timestamp::from_unix_nanos(1_795_316_000_000_000_000 + (i as i64) * 1_234_567);
                Finding {
                    client: clients[i % clients.len()].to_string(),
                    source_ip: (i % 3 != 0).then(|| IpAddr::from([10, 1, (i % 256) as u8, 7])),
                    device: (i % 5 == 1).then(|| format!("dev-{i} \"q\"")),
                    user: (i % 7 == 2).then(|| "bob\n".to_string()),
                    group: if i % 2 == 0 { "corporate" } else { "guests \"g\"" },
                    kind: if i % 3 == 0 { "bypass" } else { "app-use" },
                    app: ["tiktok", "doh-google", "dns-over-tls-port-853"][i % 3],
                    app_name: ["TikTok", "Google \"Public\" DNS", "DNS over TLS (port 853)"][i % 3],
                    category: (i % 4 != 3).then_some("social-video"),
                    bypass_method: (i % 3 == 0).then_some("encrypted-dns"),
                    reason: &reasons[i % reasons.len()],
                    action: if i % 2 == 0 {
                        policy::Action::Block
                    } else {
                        policy::Action::LogOnly
                    },
                    first_seen: (i % 6 != 5).then_some(t),
                    last_seen: (i % 6 != 5).then(|| Timestamp::from_unix_nanos(t.unix_nanos() + (i as i64) * 1000)),
                    count: i as u64 * 3,
                    blocked: i as u64,
                    got_through: i as u64,
                    unknown: u64::MAX / 10_000 - i as u64,
                    examples: Examples { at: ex, names },
                }
            })
            .collect()
    }

    fn report<'a>(findings: Vec<Finding<'a>>) -> Report<'a> {
        Report {
            report: "appwarden-monitor-scan/1",
            plan: PlanRef {
                organisation: "Org \"A\"".into(),
                profile: "default".into(),
                policy_version: "1".into(),
                as_of: "2026-11-22".into(),
                catalog_snapshot: "abc".into(),
            },
            since: None,
            files: vec![FileReport {
                path: "/tmp/dns.log".into(),
                format: "zeek_tsv",
                lines: 1,
                events: 1,
                skipped: 0,
                errors: 0,
                errors_by_kind: BTreeMap::new(),
                error_examples: vec![],
                flagged: 1,
                before_since: 0,
            }],
            identity: vec![],
            findings,
            totals: Totals::default(),
        }
    }

    /// The findings written by hand, on threads, give serde_json's bytes.
    #[test]
    fn json_report_is_serde_json_pretty() {
        let names = vec!["/var/log/dns.log".to_string(), "we\"ird\\name.log".to_string()];
        let reasons = [
            policy::RuleReason::Category("social \"video\"".into()),
            policy::RuleReason::Override("ops".into()),
            policy::RuleReason::Bypass(catalog::BypassMethod::EncryptedDns),
            policy::RuleReason::Decision(risk::Decision::Block),
        ];
        for n in [0, 1, 7, 2048, 2049, 5000] {
            let mut want = report(findings(&names, &reasons, n));
            for f in &want.findings {
                want.totals.add(f);
            }
            let want = serde_json::to_vec_pretty(&want).expect("serde");
            let mut got = Vec::new();
            let mut streamed = findings(&names, &reasons, n).into_iter();
            write_json(&mut got, &mut report(Vec::new()), &mut streamed).expect("write");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{n} findings"
            );
        }
    }

    #[test]
    fn times_are_written_as_displayed() {
        let mut state = 3u64;
        let mut cases = vec![
            0i64,
            1,
            -1,
            999,
            1_000_000,
            1_795_316_000_000_000_000,
            i64::MAX,
            i64::MIN,
        ];
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let ns = (state >> 1) as i64 % 4_000_000_000_000_000_000;
            // also whole seconds, milliseconds and microseconds
            cases.extend([
                ns,
                ns / 1_000_000_000 * 1_000_000_000,
                ns / 1_000_000 * 1_000_000,
                ns / 1000 * 1000,
            ]);
        }
        for ns in cases {
            let t = Timestamp::from_unix_nanos(ns);
            let mut got = Vec::new();
            push_time(&mut got, t);
            assert_eq!(String::from_utf8_lossy(&got), t.to_string(), "{ns}");
        }
    }
}
