//! `appwarden monitor scan`: a one-shot forensic report over existing logs —
//! which devices used which banned apps or tried which bypass, when, how
//! often, blocked or got through — with parse statistics per file.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use monitor::{
    DetectionRef, Detector, Format as LogFormat, IdentityResolver, Outcome, ParseOptions, Timestamp, ZeekLog,
};
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
    fn new(client: String, p: Partial<'p>, names: &'p [String]) -> Finding<'p> {
        let count = p.count();
        let f = *p.first;
        let app = f.app;
        Finding {
            client,
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

/// Where a detection was: (index of the file in the command line, line number).
/// Orders "first" and "examples" the same however the work was split.
type Seq = (usize, u64);

/// The first [`EXAMPLES`] places, smallest first.
#[derive(Clone, Copy, Default)]
struct Firsts {
    at: [Seq; EXAMPLES],
    n: usize,
}

impl Firsts {
    fn push(&mut self, at: Seq) {
        if self.n < EXAMPLES {
            self.at[self.n] = at;
            self.n += 1;
        } else if at < self.at[EXAMPLES - 1] {
            self.at[EXAMPLES - 1] = at;
        } else {
            return;
        }
        self.at[..self.n].sort_unstable();
    }

    fn merge(&mut self, o: &Firsts) {
        for &at in &o.at[..o.n] {
            if !self.at[..self.n].contains(&at) {
                self.push(at);
            }
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

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The client of a detection before it is rendered as text: cheap to hash.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ClientKey {
    Device(String),
    Ip(IpAddr),
    Unknown,
}

impl ClientKey {
    fn render(&self) -> String {
        match self {
            ClientKey::Device(d) => d.clone(),
            ClientKey::Ip(ip) => ip.to_string(),
            ClientKey::Unknown => "-".to_string(),
        }
    }
}

/// One (client, app) finding over part of the input, borrowing the plan.
/// What every detection updates is kept small and next to the table key
/// (the tables are large and accessed at random); the rest is boxed.
struct Partial<'p> {
    blocked: u64,
    got_through: u64,
    unknown: u64,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    /// The last of the examples once there are [`EXAMPLES`] (`None` before).
    examples_full: Option<Seq>,
    first: Box<First<'p>>,
}

/// The first detection of a (client, app), which names the finding, and the examples.
struct First<'p> {
    at: Seq,
    source_ip: Option<IpAddr>,
    device: Option<String>,
    user: Option<String>,
    group: &'p monitor::plan_index::IndexedGroup,
    app: Option<&'p monitor::plan_index::IndexedApp>,
    kind: monitor::DetectionKind,
    reason: &'p policy::RuleReason,
    action: policy::Action,
    examples: Firsts,
}

impl<'p> Partial<'p> {
    fn new(
        at: Seq,
        d: &DetectionRef<'p, '_>,
        ev: &monitor::Event<'_>,
        device: Option<String>,
        user: Option<String>,
    ) -> Self {
        Partial {
            blocked: 0,
            got_through: 0,
            unknown: 0,
            first_seen: None,
            last_seen: None,
            examples_full: None,
            first: Box::new(First {
                at,
                source_ip: ev.source_ip,
                device,
                user,
                group: d.group,
                app: d.app,
                kind: d.kind(),
                reason: d.reason,
                action: d.action,
                examples: Firsts::default(),
            }),
        }
    }

    fn count(&self) -> u64 {
        self.blocked + self.got_through + self.unknown
    }

    fn app_id(&self) -> &'p str {
        self.first
            .app
            .map_or(monitor::detection::DOT_PORT_APP, |a| a.id.as_str())
    }

    fn add(&mut self, at: Seq, outcome: Outcome, t: Option<Timestamp>) {
        match outcome {
            Outcome::Blocked => self.blocked += 1,
            Outcome::GotThrough => self.got_through += 1,
            Outcome::Unknown => self.unknown += 1,
        }
        if let Some(t) = t {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
        if self.examples_full.is_none_or(|last| at < last) {
            let ex = &mut self.first.examples;
            ex.push(at);
            if ex.n == EXAMPLES {
                self.examples_full = Some(ex.at[EXAMPLES - 1]);
            }
        }
    }

    /// Adds another part of the same (client, app); the earlier detection names it.
    fn merge(&mut self, mut o: Partial<'p>) {
        if o.first.at < self.first.at {
            std::mem::swap(&mut self.first, &mut o.first);
        }
        self.blocked += o.blocked;
        self.got_through += o.got_through;
        self.unknown += o.unknown;
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = max_opt(self.last_seen, o.last_seen);
        self.first.examples.merge(&o.first.examples);
        let ex = &self.first.examples;
        self.examples_full = (ex.n == EXAMPLES).then(|| ex.at[EXAMPLES - 1]);
    }
}

/// A fast hasher for the small keys of the per-thread tables.
type FastMap<K, V> = HashMap<K, V, monitor::plan_index::FxBuildHasher>;

/// What one worker makes of its part of a file: findings, counts, the first errors.
struct ScanSink<'p, 'd> {
    detector: &'p Detector<'d>,
    since: Option<Timestamp>,
    file: usize,
    /// By (client, app index; `u32::MAX` for the port-853 rule).
    findings: FastMap<(ClientKey, u32), Partial<'p>>,
    names: monitor::NameCache<'p>,
    flagged: u64,
    before: u64,
    /// The first errors by line: (line, example text).
    errors: Vec<(u64, String)>,
}

impl<'p, 'd> ScanSink<'p, 'd> {
    fn new(detector: &'p Detector<'d>, since: Option<Timestamp>, file: usize) -> Self {
        ScanSink {
            detector,
            since,
            file,
            findings: FastMap::default(),
            names: monitor::NameCache::new(),
            flagged: 0,
            before: 0,
            errors: Vec::new(),
        }
    }
}

impl<'p> monitor::Sink for ScanSink<'p, '_> {
    fn event(&mut self, ev: &monitor::Event<'_>) {
        if let (Some(s), Some(t)) = (self.since, ev.timestamp) {
            if t < s {
                self.before += 1;
                return;
            }
        }
        let Some(d) = self.detector.detect_cached(ev, &mut self.names) else {
            return;
        };
        self.flagged += 1;
        let (device, user) = self.detector.device_user(ev);
        let client = match &device {
            Some(dev) => ClientKey::Device(dev.to_string()),
            None => ev.source_ip.map_or(ClientKey::Unknown, ClientKey::Ip),
        };
        let at = (self.file, ev.original.line);
        let app = d.app.map_or(u32::MAX, |a| a.index());
        self.findings
            .entry((client, app))
            .or_insert_with(|| {
                Partial::new(
                    at,
                    &d,
                    ev,
                    device.map(std::borrow::Cow::into_owned),
                    user.map(std::borrow::Cow::into_owned),
                )
            })
            .add(at, d.outcome, ev.timestamp);
    }

    fn error(&mut self, e: monitor::ParseError) {
        if self.errors.len() < ERROR_EXAMPLES || self.errors.last().is_some_and(|(l, _)| e.line_no < *l) {
            self.errors.push((e.line_no, error_example(&e)));
            self.errors.sort_by_key(|(l, _)| *l);
            self.errors.truncate(ERROR_EXAMPLES);
        }
    }

    fn merge(&mut self, other: Self) {
        self.flagged += other.flagged;
        self.before += other.before;
        self.errors.extend(other.errors);
        self.errors.sort_by_key(|(l, _)| *l);
        self.errors.truncate(ERROR_EXAMPLES);
        if other.findings.len() > self.findings.len() {
            let mine = std::mem::replace(&mut self.findings, other.findings);
            self.merge_findings(mine);
        } else {
            self.merge_findings(other.findings);
        }
    }
}

impl<'p> ScanSink<'p, '_> {
    fn merge_findings(&mut self, other: FastMap<(ClientKey, u32), Partial<'p>>) {
        for (k, p) in other {
            match self.findings.entry(k) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(p),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(p);
                }
            }
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

    let mut files = Vec::new();
    let mut totals = Totals::default();
    let scan_opts = monitor::ScanOptions::default();
    let names: Vec<String> = args.files.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let mut parts: Vec<(String, Partial<'_>)> = Vec::new();
    for (fi, path) in args.files.iter().enumerate() {
        let scanned = monitor::scan_log(path, format, &opts, &scan_opts, || ScanSink::new(&detector, since, fi))
            .map_err(|e| match e {
                monitor::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
                    anyhow::anyhow!(
                        "{}: could not detect the log format; give it with --format",
                        path.display()
                    )
                }
                other => anyhow::Error::new(other),
            })?;
        let sink = scanned.sink;
        let examples = sink.errors.into_iter().map(|(_, e)| e).collect();
        let mut report = file_stats(path, scanned.format, &scanned.stats, examples);
        report.flagged = sink.flagged;
        report.before_since = sink.before;
        totals.parse_errors += report.errors;
        totals.flagged_events += sink.flagged;
        files.push(report);
        parts.extend(sink.findings.into_iter().map(|((client, _), p)| (client.render(), p)));
    }
    // one finding per (client, app), in that order; parts of the same one
    // (several files, or a device name that reads like an address) are merged
    let key = |i: usize| (parts[i].0.as_str(), parts[i].1.app_id());
    // sort on the clients' first 32 bytes held inline (no pointer chasing), then on the full key
    let prefix = |c: &str| {
        let mut p = [0u8; 32];
        let n = c.len().min(32);
        p[..n].copy_from_slice(&c.as_bytes()[..n]);
        (
            u128::from_be_bytes(p[..16].try_into().unwrap_or_default()),
            u128::from_be_bytes(p[16..].try_into().unwrap_or_default()),
        )
    };
    let mut order: Vec<((u128, u128), usize)> = parts.iter().enumerate().map(|(i, (c, _))| (prefix(c), i)).collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(&key(b.1))));
    let order: Vec<usize> = order.into_iter().map(|(_, i)| i).collect();
    // runs of the same (client, app), as index ranges of `order`
    let mut runs = Vec::with_capacity(order.len());
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && key(order[j]) == key(order[i]) {
            j += 1;
        }
        runs.push(i..j);
        i = j;
    }
    let mut slots: Vec<Option<(String, Partial<'_>)>> = parts.into_iter().map(Some).collect();
    let mut findings: Vec<Finding<'_>> = Vec::with_capacity(runs.len());
    for run in runs {
        let mut members = order[run].iter().filter_map(|&k| slots[k].take());
        let Some((client, mut p)) = members.next() else {
            continue;
        };
        for (_, o) in members {
            p.merge(o);
        }
        findings.push(Finding::new(client, p, &names));
    }
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
        findings,
        totals,
    };
    // stdout is line-buffered: a large report would be one write per line
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
    match args.format_out {
        crate::Format::Json => {
            write_json(&mut buffered, &mut report)?;
            writeln!(buffered)?;
        }
        crate::Format::Table => render(&mut buffered, &report, false)?,
        crate::Format::Markdown => render(&mut buffered, &report, true)?,
    }
    buffered.flush()?;
    Ok(())
}

/// Writes the report exactly as `serde_json::to_writer_pretty` would, with
/// the findings (there can be hundreds of thousands) rendered on several
/// threads, a bounded batch at a time.
fn write_json(out: &mut impl Write, report: &mut Report<'_>) -> Result<()> {
    const BATCH: usize = 2048;
    let findings = std::mem::take(&mut report.findings);
    let head = serde_json::to_vec_pretty(&*report)?;
    // the pretty printer writes an empty array as `[]`; the key is at depth 1
    let marker: &[u8] = b"\n  \"findings\": []";
    let at = head
        .windows(marker.len())
        .position(|w| w == marker)
        .filter(|_| !findings.is_empty());
    let Some(at) = at else {
        report.findings = findings;
        serde_json::to_writer_pretty(&mut *out, &*report)?;
        return Ok(());
    };
    let split = at + marker.len() - 1; // at the `]`
    out.write_all(&head[..split])?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let mut first = true;
    for round in findings.chunks(BATCH * threads) {
        let parts: Vec<Result<Vec<u8>>> = std::thread::scope(|s| {
            let handles: Vec<_> = round
                .chunks(BATCH)
                .map(|chunk| s.spawn(move || render_findings(chunk)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("rendering the report failed")))
                })
                .collect()
        });
        for part in parts {
            let part = part?;
            // elements are separated by `,\n`; each part starts with `\n`
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            out.write_all(&part)?;
        }
    }
    out.write_all(b"\n  ")?;
    out.write_all(&head[split..])?;
    Ok(())
}

/// Findings as elements of the report's `findings` array (depth 2):
/// `\n    {…},\n    {…}`, nested lines indented by 4 more spaces.
fn render_findings(chunk: &[Finding<'_>]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(chunk.len() * 720);
    let mut one = Vec::with_capacity(1024);
    for (i, f) in chunk.iter().enumerate() {
        one.clear();
        serde_json::to_writer_pretty(&mut one, f)?;
        out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
        // JSON strings cannot hold a raw newline: every `\n` is the printer's
        for line in one.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(line);
            if line.last() == Some(&b'\n') {
                out.extend_from_slice(b"    ");
            }
        }
    }
    Ok(out)
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
