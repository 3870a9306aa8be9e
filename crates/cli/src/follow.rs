//! `appwarden monitor follow`: live monitoring of the logs an organisation
//! already has. Tails files (rotation-safe, resuming from saved positions
//! after a restart) and receives syslog over UDP and TCP (RFC 5424 and
//! RFC 3164, RFC 6587 framing), parses every line, and hands each detection
//! to a consumer: JSON lines on stdout, and the alert pipeline when `serve`
//! or `[alerts]` asks for it.
//!
//! Sources come from the command line and from `[monitor]` in appwarden.toml:
//!
//! ```toml
//! [monitor]
//! start = "beginning"          # or "end": where to start in a file seen for the first time
//! poll_ms = 500
//! rotate_grace_secs = 5
//! leases = ["/var/lib/misc/dnsmasq.leases"]
//! devices = "devices.csv"
//! [[monitor.files]]
//! path = "/var/log/named/query.log"
//! format = "auto"
//! [[monitor.syslog]]
//! listen = "0.0.0.0:5514"
//! protocol = "udp"             # or "tcp"
//! format = "auto"              # by the sender's app name
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result, bail};
use arc_swap::ArcSwap;
use monitor::syslog_wire::{self, Framer};
use monitor::tail::{self, Start, Tailer};
use monitor::{Detection, Detector, Format as LogFormat, IdentityResolver, ParseOptions, Parser};
use serde::Deserialize;

/// The `[monitor]` section of appwarden.toml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Where to start in a file seen for the first time.
    pub start: Start,
    /// How often files are checked, milliseconds (default 500).
    pub poll_ms: Option<u64>,
    /// How long a rotated file is still read after its last line, seconds (default 5).
    pub rotate_grace_secs: Option<u64>,
    /// Log files to follow.
    pub files: Vec<FileSource>,
    /// Syslog listeners.
    pub syslog: Vec<SyslogSource>,
    /// DHCP lease files (dnsmasq or ISC dhcpd) naming clients; re-read when they change.
    pub leases: Vec<PathBuf>,
    /// Static device map (CSV `ip_or_mac,device,user`).
    pub devices: Option<PathBuf>,
}

/// One followed file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// Path (relative to the policy file).
    pub path: PathBuf,
    /// Format name as for `monitor scan --format`; default auto.
    #[serde(default)]
    pub format: Option<String>,
}

/// One syslog listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSource {
    /// `ADDR:PORT`.
    pub listen: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Format of every message; default auto (by the sender's app name).
    #[serde(default)]
    pub format: Option<String>,
}

/// `appwarden monitor follow`
#[derive(clap::Args)]
pub struct FollowArgs {
    /// Log files to follow (besides `[[monitor.files]]`).
    pub files: Vec<PathBuf>,
    /// Format of every FILE: auto, bind, unbound, dnsmasq, pihole, adguard, blocky,
    /// zeek-dns, zeek-ssl, zeek-conn, suricata, squid.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Receive syslog over UDP on ADDR:PORT (repeatable).
    #[arg(long = "syslog-udp", value_name = "ADDR:PORT")]
    pub syslog_udp: Vec<String>,
    /// Receive syslog over TCP on ADDR:PORT (repeatable).
    #[arg(long = "syslog-tcp", value_name = "ADDR:PORT")]
    pub syslog_tcp: Vec<String>,
    /// Where to start in a file seen for the first time: beginning or end.
    #[arg(long)]
    pub start: Option<String>,
    /// Saved positions and other state (default ./appwarden-data).
    #[arg(long, default_value = "appwarden-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub org: crate::OrgArgs,
    /// DHCP leases (repeatable).
    #[arg(long)]
    pub leases: Vec<PathBuf>,
    /// Static device map: CSV `ip_or_mac,device,user`.
    #[arg(long)]
    pub devices: Option<PathBuf>,
    /// File poll interval, milliseconds.
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// How long a rotated file is still read after its last line, seconds (default 5).
    #[arg(long)]
    pub rotate_grace_secs: Option<u64>,
    /// Read the files to their end once, print, save positions and exit (no syslog).
    #[arg(long)]
    pub once: bool,
}

/// Counters of a running follower.
#[derive(Default, Debug)]
pub struct FollowStats {
    /// Lines read from files.
    pub file_lines: AtomicU64,
    /// Syslog messages received.
    pub syslog_messages: AtomicU64,
    /// Syslog messages or frames that could not be read.
    pub syslog_errors: AtomicU64,
    /// Lines that did not parse.
    pub parse_errors: AtomicU64,
    /// Events parsed.
    pub events: AtomicU64,
    /// Detections made.
    pub detections: AtomicU64,
    /// Detections dropped because the consumer was too slow (syslog UDP only; files wait).
    pub dropped: AtomicU64,
}

/// What a detection goes to.
pub type Consumer = tokio::sync::mpsc::Sender<Detection>;

/// Everything a follower needs, resolved from flags and `[monitor]`.
pub struct FollowSetup {
    /// Files with their format (None = auto).
    pub files: Vec<(PathBuf, Option<String>)>,
    /// Syslog listeners: (address, tcp?, format).
    pub syslog: Vec<(SocketAddr, bool, Option<String>)>,
    /// Start for new files.
    pub start: Start,
    /// Poll interval.
    pub poll: Duration,
    /// Rotation grace.
    pub grace: Duration,
    /// Lease files.
    pub leases: Vec<PathBuf>,
    /// Static map.
    pub devices: Option<PathBuf>,
    /// positions.json.
    pub positions: PathBuf,
    /// Year for times without one.
    pub year: i32,
}

impl FollowSetup {
    /// From `[monitor]` (paths relative to `base`).
    pub fn from_config(cfg: &MonitorConfig, base: Option<&Path>, data_dir: &Path, year: i32) -> Result<FollowSetup> {
        let rel = |p: &Path| match base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p.to_path_buf(),
        };
        let mut syslog = Vec::new();
        for s in &cfg.syslog {
            let addr: SocketAddr = s
                .listen
                .parse()
                .with_context(|| format!("[[monitor.syslog]] listen: `{}` is not ADDR:PORT", s.listen))?;
            let tcp = match s.protocol.as_deref().unwrap_or("udp") {
                "udp" => false,
                "tcp" => true,
                other => bail!("[[monitor.syslog]] protocol: udp or tcp, not `{other}`"),
            };
            if let Some(f) = &s.format {
                crate::monitor_cmd::input_format(f).context("[[monitor.syslog]] format")?;
            }
            syslog.push((addr, tcp, s.format.clone()));
        }
        for f in &cfg.files {
            if let Some(fmt) = &f.format {
                crate::monitor_cmd::input_format(fmt).context("[[monitor.files]] format")?;
            }
        }
        Ok(FollowSetup {
            files: cfg.files.iter().map(|f| (rel(&f.path), f.format.clone())).collect(),
            syslog,
            start: cfg.start,
            poll: Duration::from_millis(cfg.poll_ms.unwrap_or(500).max(10)),
            grace: Duration::from_secs(cfg.rotate_grace_secs.unwrap_or(5)),
            leases: cfg.leases.iter().map(|p| rel(p)).collect(),
            devices: cfg.devices.as_deref().map(rel),
            positions: data_dir.join("monitor-positions.json"),
            year,
        })
    }

    /// Whether there is anything to follow.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.syslog.is_empty()
    }
}

/// Reads `[monitor]` from the policy, if present.
pub fn monitor_config(policy: &policy::Policy) -> Result<MonitorConfig> {
    match &policy.file.monitor {
        Some(t) => t
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| anyhow::anyhow!("{}: [monitor]: {}", policy.name, e.message())),
        None => Ok(MonitorConfig::default()),
    }
}

/// Names clients from lease files and a static map; re-read when they change.
struct Identity {
    leases: Vec<PathBuf>,
    devices: Option<PathBuf>,
    stamps: Vec<Option<SystemTime>>,
    current: Option<IdentityResolver>,
}

impl Identity {
    fn new(leases: Vec<PathBuf>, devices: Option<PathBuf>) -> Identity {
        Identity {
            leases,
            devices,
            stamps: Vec::new(),
            current: None,
        }
    }

    fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.devices.iter().chain(self.leases.iter())
    }

    /// Re-reads the files when one of them changed.
    fn refresh(&mut self) {
        let stamps: Vec<_> = self
            .files()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect();
        if stamps == self.stamps && (self.current.is_some() || stamps.is_empty()) {
            return;
        }
        self.stamps = stamps;
        let mut res = IdentityResolver::new();
        if let Some(p) = &self.devices {
            match std::fs::read(p) {
                Ok(b) => res.add_static(monitor::identity::static_map::read(&b[..]).records),
                Err(e) => tracing::warn!("{}: {e}", p.display()),
            }
        }
        for p in &self.leases {
            match std::fs::read(p) {
                Ok(b) => {
                    let lines: Vec<&[u8]> = b.split(|c| *c == b'\n').take(16).collect();
                    let recs = match monitor::detect(&lines, Some(&p.to_string_lossy())) {
                        Some(LogFormat::DhcpdLeases) => monitor::identity::dhcpd_leases::read(&b[..]).records,
                        _ => monitor::identity::dnsmasq_leases::read(&b[..], 3600).records,
                    };
                    res.add_leases(recs);
                }
                Err(e) => tracing::warn!("{}: {e}", p.display()),
            }
        }
        self.current = Some(res);
    }

    fn name(&self, d: &mut Detection) {
        let (Some(res), Some(ip)) = (&self.current, d.source_ip) else {
            return;
        };
        if d.device.is_some() && d.user.is_some() {
            return;
        }
        if let Some(id) = res.resolve(ip, d.timestamp) {
            if d.device.is_none() {
                d.device = id.device.or(id.hostname);
            }
            if d.user.is_none() {
                d.user = id.user;
            }
        }
    }
}

fn resolve_format(name: Option<&str>) -> Result<(Option<LogFormat>, ParseOptions)> {
    let (format, zeek) = crate::monitor_cmd::input_format(name.unwrap_or("auto"))?;
    let mut opts = ParseOptions::default();
    if let Some(z) = zeek {
        opts = opts.with_zeek_log(z);
    }
    Ok((format, opts))
}

/// One followed file: its tailer and its parser (new for every file generation).
struct Followed {
    tailer: Tailer,
    format: Option<LogFormat>,
    opts: ParseOptions,
    name: Arc<str>,
    parser: Option<(u64, Parser)>,
    /// Lines held while the format is still unknown (auto, empty file so far).
    pending: Vec<(Vec<u8>, u64, u64, u64)>,
}

impl Followed {
    fn parser_for(&mut self, generation: u64, head: &[&[u8]]) -> Option<&mut Parser> {
        if self.parser.as_ref().is_none_or(|(g, _)| *g != generation) {
            let format = match self.format {
                Some(f) => f,
                None => monitor::detect(head, Some(&self.name))?,
            };
            // the format of a file does not change across rotation
            self.format = Some(format);
            let opts = self.opts.clone().with_file_hint(&self.name);
            self.parser = Some((generation, Parser::new(format, &opts).with_file(self.name.clone())));
        }
        self.parser.as_mut().map(|(_, p)| p)
    }
}

/// Runs the file side until `stop`: polls every file, parses, detects,
/// sends detections (waiting when the consumer is slow: files lose nothing),
/// saves positions after each round. With `once`, returns after one round.
#[allow(clippy::too_many_arguments)]
fn follow_files(
    setup: &FollowSetup,
    detector: &ArcSwap<Detector<'static>>,
    mut identity: Identity,
    out: &Consumer,
    stats: &FollowStats,
    stop: &AtomicBool,
    once: bool,
) -> Result<()> {
    let saved = tail::load_positions(&setup.positions)?;
    let mut files = Vec::new();
    for (path, fmt) in &setup.files {
        let (format, opts) = resolve_format(fmt.as_deref())?;
        let key = path.display().to_string();
        files.push(Followed {
            tailer: Tailer::new(path, setup.start, saved.get(&key).copied()).with_rotate_grace(setup.grace),
            format,
            opts: opts.with_year(setup.year),
            name: Arc::from(key.as_str()),
            parser: None,
            pending: Vec::new(),
        });
    }
    let mut positions = saved;
    let mut warned: HashMap<String, Instant> = HashMap::new();
    loop {
        identity.refresh();
        let detector = detector.load();
        for f in &mut files {
            let mut lines: Vec<(Vec<u8>, u64, u64, u64)> = std::mem::take(&mut f.pending);
            let res = f
                .tailer
                .poll(&mut |l| lines.push((l.bytes.to_vec(), l.line_no, l.offset, l.generation)));
            if let Err(e) = res {
                let k = f.name.to_string();
                if warned.get(&k).is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!("{k}: {e}");
                    warned.insert(k, Instant::now());
                }
            }
            stats.file_lines.fetch_add(lines.len() as u64, Ordering::Relaxed);
            let mut i = 0;
            while i < lines.len() {
                let generation = lines[i].3;
                let head: Vec<&[u8]> = lines[i..]
                    .iter()
                    .take_while(|l| l.3 == generation)
                    .take(16)
                    .map(|l| l.0.as_slice())
                    .collect();
                let enough = head.len() >= 16 || f.format.is_some();
                let Some(parser) = f.parser_for(generation, &head) else {
                    if enough {
                        tracing::warn!("{}: could not detect the log format; give it with --format", f.name);
                        i += head.len();
                        continue;
                    }
                    // wait for more lines of this file
                    f.pending = lines.split_off(i);
                    break;
                };
                let (bytes, line_no, offset, _) = &lines[i];
                match parser.parse_line(bytes, *line_no, *offset) {
                    Some(Ok(ev)) => {
                        stats.events.fetch_add(1, Ordering::Relaxed);
                        if let Some(mut d) = detector.detect(&ev) {
                            identity.name(&mut d);
                            stats.detections.fetch_add(1, Ordering::Relaxed);
                            if out.blocking_send(d).is_err() {
                                return Ok(());
                            }
                        }
                    }
                    Some(Err(_)) => {
                        stats.parse_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {}
                }
                i += 1;
            }
        }
        // detections of this round are handed over: now the positions may move
        let mut changed = false;
        for f in &files {
            if let Some(p) = f.tailer.position() {
                // lines still pending (format not yet known) are re-read after a restart
                let p = match f.pending.first() {
                    Some((_, line, offset, _)) => tail::Position {
                        offset: *offset,
                        line: line - 1,
                        ..p
                    },
                    None => p,
                };
                if positions.insert(f.name.to_string(), p) != Some(p) {
                    changed = true;
                }
            }
        }
        if changed {
            if let Err(e) = tail::save_positions(&setup.positions, &positions) {
                tracing::warn!("{}: {e}", setup.positions.display());
            }
        }
        if once || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::thread::sleep(setup.poll);
    }
}

/// Per-sender parsers for syslog (dnsmasq correlates lines of one sender).
struct SyslogParsers {
    fixed: Option<(LogFormat, ParseOptions)>,
    year: i32,
    by_sender: HashMap<(IpAddr, LogFormat), (Parser, u64)>,
}

impl SyslogParsers {
    fn new(format: Option<&str>, year: i32) -> Result<SyslogParsers> {
        let fixed = match format {
            None | Some("auto") => None,
            Some(f) => {
                let (fmt, opts) = resolve_format(Some(f))?;
                // squid/zeek auto-by-content: fall back to per-message detection
                fmt.map(|fmt| (fmt, opts.with_year(year)))
            }
        };
        Ok(SyslogParsers {
            fixed,
            year,
            by_sender: HashMap::new(),
        })
    }

    fn handle(
        &mut self,
        msg: &[u8],
        peer: SocketAddr,
        detector: &ArcSwap<Detector<'static>>,
        stats: &FollowStats,
    ) -> Option<Detection> {
        stats.syslog_messages.fetch_add(1, Ordering::Relaxed);
        let m = match syslog_wire::parse(msg) {
            Ok(m) => m,
            Err(e) => {
                stats.syslog_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("syslog from {peer}: {e}");
                return None;
            }
        };
        let received = jiff::Timestamp::now().to_string();
        let (format, opts) = match &self.fixed {
            Some((f, o)) => (*f, o.clone()),
            None => {
                let f = m.app_name.and_then(syslog_wire::format_for_app).or_else(|| {
                    let line = m.to_log_line(Some(&received));
                    monitor::detect(&[line.as_bytes()], None).or_else(|| monitor::detect(&[m.msg.as_bytes()], None))
                })?;
                (f, ParseOptions::default().with_year(self.year))
            }
        };
        let line = m.line_for(format, Some(&received));
        if self.by_sender.len() > 4096 {
            self.by_sender.clear();
        }
        let (parser, n) = self
            .by_sender
            .entry((peer.ip(), format))
            .or_insert_with(|| (Parser::new(format, &opts).with_file(format!("syslog:{}", peer.ip())), 0));
        *n += 1;
        match parser.parse_line(line.as_bytes(), *n, 0)? {
            Ok(ev) => {
                stats.events.fetch_add(1, Ordering::Relaxed);
                let d = detector.load().detect(&ev);
                if d.is_some() {
                    stats.detections.fetch_add(1, Ordering::Relaxed);
                }
                d
            }
            Err(_) => {
                stats.parse_errors.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// A running follower: file thread and syslog tasks.
pub struct Follower {
    detector: Arc<ArcSwap<Detector<'static>>>,
    stop: Arc<AtomicBool>,
    files: Option<std::thread::JoinHandle<Result<()>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Counters.
    pub stats: Arc<FollowStats>,
    /// Bound syslog addresses (port 0 resolved).
    pub syslog_addrs: Vec<SocketAddr>,
}

impl Follower {
    /// Starts following on `rt`; detections go to `out`.
    pub async fn start(setup: FollowSetup, plan: &policy::EnforcementPlan, out: Consumer) -> Result<Follower> {
        let detector = Arc::new(ArcSwap::from_pointee(Detector::new(plan)));
        let stats = Arc::new(FollowStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let mut syslog_addrs = Vec::new();
        for (addr, tcp, fmt) in &setup.syslog {
            // checks the format now, so a bad one fails the start
            let parsers = SyslogParsers::new(fmt.as_deref(), setup.year)?;
            let (d, s, o) = (detector.clone(), stats.clone(), out.clone());
            if *tcp {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("syslog: listening on tcp {addr}"))?;
                syslog_addrs.push(l.local_addr()?);
                let fmt = fmt.clone();
                let year = setup.year;
                drop(parsers);
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok((conn, peer)) = l.accept().await else { continue };
                        let Ok(parsers) = SyslogParsers::new(fmt.as_deref(), year) else {
                            return;
                        };
                        tokio::spawn(syslog_tcp(conn, peer, parsers, d.clone(), s.clone(), o.clone()));
                    }
                }));
            } else {
                let sock = tokio::net::UdpSocket::bind(addr)
                    .await
                    .with_context(|| format!("syslog: listening on udp {addr}"))?;
                syslog_addrs.push(sock.local_addr()?);
                tasks.push(tokio::spawn(syslog_udp(sock, parsers, d, s, o)));
            }
        }
        let files = if setup.files.is_empty() {
            None
        } else {
            let identity = Identity::new(setup.leases.clone(), setup.devices.clone());
            let (d, s, st, o) = (detector.clone(), stats.clone(), stop.clone(), out.clone());
            Some(
                std::thread::Builder::new()
                    .name("monitor-files".into())
                    .spawn(move || follow_files(&setup, &d, identity, &o, &s, &st, false))?,
            )
        };
        Ok(Follower {
            detector,
            stop,
            files,
            tasks,
            stats,
            syslog_addrs,
        })
    }

    /// Detects against `plan` from now on (after a reload).
    pub fn set_plan(&self, plan: &policy::EnforcementPlan) {
        self.detector.store(Arc::new(Detector::new(plan)));
    }

    /// Stops: the file thread finishes its round and saves positions.
    pub fn stop(mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for t in &self.tasks {
            t.abort();
        }
        match self.files.take() {
            Some(h) => h.join().map_err(|_| anyhow::anyhow!("monitor file thread panicked"))?,
            None => Ok(()),
        }
    }
}

async fn syslog_udp(
    sock: tokio::net::UdpSocket,
    mut parsers: SyslogParsers,
    detector: Arc<ArcSwap<Detector<'static>>>,
    stats: Arc<FollowStats>,
    out: Consumer,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(d) = parsers.handle(&buf[..n], peer, &detector, &stats) {
            // never block the socket: a full queue drops and counts
            if out.try_send(d).is_err() {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn syslog_tcp(
    mut conn: tokio::net::TcpStream,
    peer: SocketAddr,
    mut parsers: SyslogParsers,
    detector: Arc<ArcSwap<Detector<'static>>>,
    stats: Arc<FollowStats>,
    out: Consumer,
) {
    use tokio::io::AsyncReadExt as _;
    let mut framer = Framer::new(64 * 1024);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(300), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        while let Some(frame) = framer.next_frame() {
            match frame {
                Ok(msg) => {
                    if let Some(d) = parsers.handle(msg, peer, &detector, &stats) {
                        // TCP can wait: backpressure reaches the sender
                        if out.send(d).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    // an octet count gone wrong cannot be resynchronised: close
                    stats.syslog_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("syslog tcp from {peer}: {e}");
                    return;
                }
            }
        }
    }
}

/// Runs `appwarden monitor follow`.
pub fn run(args: &FollowArgs) -> Result<()> {
    let (policy, as_of) = crate::load_policy(&args.org)?;
    let plan = policy.plan(as_of);
    let cfg = monitor_config(&policy)?;
    let base = args.org.config.as_deref().and_then(Path::parent);
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let year = i32::from(as_of.0.year());
    let mut setup = FollowSetup::from_config(&cfg, base, &args.data_dir, year)?;
    crate::monitor_cmd::input_format(&args.format)?;
    for f in &args.files {
        setup.files.push((f.clone(), Some(args.format.clone())));
    }
    for a in &args.syslog_udp {
        setup
            .syslog
            .push((a.parse().with_context(|| format!("--syslog-udp: `{a}`"))?, false, None));
    }
    for a in &args.syslog_tcp {
        setup
            .syslog
            .push((a.parse().with_context(|| format!("--syslog-tcp: `{a}`"))?, true, None));
    }
    if let Some(s) = &args.start {
        setup.start = match s.as_str() {
            "beginning" => Start::Beginning,
            "end" => Start::End,
            other => bail!("--start: beginning or end, not `{other}`"),
        };
    }
    if let Some(s) = args.rotate_grace_secs {
        setup.grace = Duration::from_secs(s);
    }
    if let Some(ms) = args.poll_ms {
        setup.poll = Duration::from_millis(ms.max(10));
    }
    setup.leases.extend(args.leases.iter().cloned());
    if args.devices.is_some() {
        setup.devices.clone_from(&args.devices);
    }
    if setup.is_empty() {
        bail!("nothing to follow: give FILEs, --syslog-udp/--syslog-tcp, or [[monitor.files]]/[[monitor.syslog]]");
    }

    // alerts when the policy configures them (`serve` always runs the pipeline)
    let alerting = match (&policy.file.alerts, args.once) {
        (Some(_), false) => Some(crate::alerting::Alerting::start(&policy, base, &args.data_dir)?),
        _ => None,
    };
    let alerts = alerting.as_ref().map(crate::alerting::Alerting::handle);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let res = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Detection>(4096);
        if args.once {
            let detector = ArcSwap::from_pointee(Detector::new(&plan));
            let identity = Identity::new(setup.leases.clone(), setup.devices.clone());
            let stats = FollowStats::default();
            let stop = AtomicBool::new(false);
            let printer = tokio::spawn(async move {
                let mut n = 0u64;
                while let Some(d) = rx.recv().await {
                    print_detection(&d);
                    n += 1;
                }
                n
            });
            let setup = Arc::new(setup);
            let s2 = setup.clone();
            tokio::task::spawn_blocking(move || follow_files(&s2, &detector, identity, &tx, &stats, &stop, true))
                .await??;
            let n = printer.await?;
            eprintln!(
                "monitor follow: {n} detection(s); positions saved to {}",
                setup.positions.display()
            );
            return Ok(());
        }
        let follower = Follower::start(setup, &plan, tx).await?;
        for a in &follower.syslog_addrs {
            tracing::info!("syslog listening on {a}");
        }
        eprintln!("monitor follow: running; Ctrl-C or SIGTERM to stop");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let handle = |d: &Detection| {
            print_detection(d);
            if let Some(a) = &alerts {
                a.ingest_detection(d);
            }
        };
        loop {
            tokio::select! {
                d = rx.recv() => match d {
                    Some(d) => handle(&d),
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            }
        }
        let stats = follower.stats.clone();
        // the file thread may wait on a full queue: keep draining while it stops
        let stopping = tokio::task::spawn_blocking(move || follower.stop());
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                r = &mut stopping => { r??; break; }
                Some(d) = rx.recv() => handle(&d),
            }
        }
        while let Ok(d) = rx.try_recv() {
            handle(&d);
        }
        eprintln!(
            "monitor follow: stopped; {} file lines, {} syslog messages, {} events, {} detections, {} parse errors",
            stats.file_lines.load(Ordering::Relaxed),
            stats.syslog_messages.load(Ordering::Relaxed),
            stats.events.load(Ordering::Relaxed),
            stats.detections.load(Ordering::Relaxed),
            stats.parse_errors.load(Ordering::Relaxed),
        );
        Ok::<(), anyhow::Error>(())
    });
    if let Some(a) = alerting {
        a.shutdown(Duration::from_secs(5));
    }
    res
}

fn print_detection(d: &Detection) {
    use std::io::Write as _;
    if let Ok(s) = serde_json::to_string(d) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }
}
