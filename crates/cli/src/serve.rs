//! `appwarden serve` and `appwarden dns`: the filtering resolver on the
//! organisation's policy (or the built-in default), with the query log,
//! reload on SIGHUP (or `POST /api/reload`), graceful shutdown on SIGINT /
//! SIGTERM, and the HTTP API (`api.rs`: metrics, reload, exports, scans).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use arc_swap::ArcSwap;
use catalog::Day;
use dns::config::{DnsConfig, ListConfig};
use dns::resolver::{Resolver, ResolverOptions};
use dns::server::{EncryptedOptions, ServeOptions, Server, build_state, load_lists};
use dns::upstream::{UpstreamSpec, Upstreams, from_resolv_conf, parse_addr};
use policy::Policy;
use policy::plan::EnforcementPlan;

/// Flags shared by `serve` and `dns`.
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Policy file (appwarden.toml); default: the built-in default policy.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Listen address for UDP and TCP (repeatable); default 127.0.0.1:5353.
    #[arg(long)]
    pub listen: Vec<String>,
    /// Upstream resolver `ADDR[:PORT]`, `tcp://ADDR[:PORT]`, `tls://HOST[:PORT][#NAME]` or
    /// `https://HOST[:PORT]/dns-query[#NAME]` (repeatable); default: /etc/resolv.conf.
    #[arg(long)]
    pub upstream: Vec<String>,
    /// Directory for the query log and state.
    #[arg(long, default_value = "./appwarden-data")]
    pub data_dir: PathBuf,
    /// An extra block list file (hosts, one domain per line, or adblock), applied to every group (repeatable).
    #[arg(long)]
    pub blocklist: Vec<PathBuf>,
    /// HTTP API listen address `ADDR:PORT` (metrics, reload, exports, scans), or `off`;
    /// default: `[dns] api_listen`, else 127.0.0.1:8053.
    #[arg(long, value_name = "ADDR:PORT|off")]
    pub api: Option<String>,
    /// File holding the HTTP API's bearer token (at least 16 characters); with it every
    /// request needs `Authorization: Bearer TOKEN`. Default: `[dns] api_token_file`, else none.
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    pub log_level: tracing::Level,
}

struct Loaded {
    policy: Policy,
    dns: DnsConfig,
    base: Option<PathBuf>,
    /// `[dns] api_listen` (read here: the dns crate's config does not know it).
    api_listen: Option<String>,
    /// `[dns] api_token_file`, relative to the policy file's directory.
    api_token_file: Option<PathBuf>,
}

/// Where the HTTP API listens by default.
const DEFAULT_API: &str = "127.0.0.1:8053";

fn load(args: &ServeArgs) -> Result<Loaded> {
    let (policy, base) = match &args.config {
        Some(path) => (
            Policy::load(path, None).map_err(crate::policy_error)?,
            path.parent().map(Path::to_path_buf),
        ),
        None => (Policy::builtin(None).map_err(crate::policy_error)?, None),
    };
    let mut api_listen = None;
    let mut api_token_file = None;
    let mut dns: DnsConfig = match &policy.file.dns {
        Some(table) => {
            let mut table = table.clone();
            if let Some(v) = table.remove("api_token_file") {
                match v {
                    toml::Value::String(s) => {
                        let p = PathBuf::from(s);
                        api_token_file = Some(match &base {
                            Some(dir) if p.is_relative() => dir.join(p),
                            _ => p,
                        });
                    }
                    other => bail!(
                        "{}: [dns]: api_token_file: expected a file name, found {}",
                        policy.name,
                        other.type_str()
                    ),
                }
            }
            if let Some(v) = table.remove("api_listen") {
                match v {
                    toml::Value::String(s) => api_listen = Some(s),
                    other => bail!(
                        "{}: [dns]: api_listen: expected a string `ADDR:PORT` or `off`, found {}",
                        policy.name,
                        other.type_str()
                    ),
                }
            }
            table
                .try_into()
                .map_err(|e: toml::de::Error| anyhow::anyhow!("{}: [dns]: {}", policy.name, e.message()))?
        }
        None => DnsConfig::default(),
    };
    if !args.listen.is_empty() {
        dns.listen = args.listen.clone();
    }
    if !args.upstream.is_empty() {
        dns.upstreams = args.upstream.clone();
    }
    for b in &args.blocklist {
        dns.lists
            .push(ListConfig::file(std::fs::canonicalize(b).unwrap_or_else(|_| b.clone())));
    }
    Ok(Loaded {
        policy,
        dns,
        base,
        api_listen,
        api_token_file,
    })
}

/// The shortest API token accepted (`openssl rand -hex 32` makes 64 characters).
const MIN_API_TOKEN: usize = 16;

/// The HTTP API's token: `--api-token-file`, else `[dns] api_token_file`; `None` = no authentication.
fn api_token(args: &ServeArgs, loaded: &Loaded) -> Result<Option<String>> {
    let Some(path) = args.api_token_file.as_ref().or(loaded.api_token_file.as_ref()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--api-token-file / [dns] api_token_file: reading {}", path.display()))?;
    let token = text.trim();
    if token.chars().count() < MIN_API_TOKEN || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "{}: the API token must be one line of at least {MIN_API_TOKEN} characters without spaces \
             (for example `openssl rand -hex 32 > {}`)",
            path.display(),
            path.display()
        );
    }
    Ok(Some(token.to_string()))
}

/// The HTTP API address: `--api`, else `[dns] api_listen`, else the default; `None` = off.
fn api_addr(args: &ServeArgs, loaded: &Loaded) -> Result<Option<SocketAddr>> {
    let text = args
        .api
        .as_deref()
        .or(loaded.api_listen.as_deref())
        .unwrap_or(DEFAULT_API);
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    parse_addr(text, 8053)
        .map(Some)
        .map_err(|e| anyhow!("--api / [dns] api_listen: {e} (give ADDR:PORT or `off`)"))
}

/// The running rules and what they were compiled from, shared by the SIGHUP
/// handler and the HTTP API so both reload the same way.
pub(crate) struct Live {
    args: ServeArgs,
    /// The resolver whose rules are swapped.
    pub(crate) resolver: Arc<Resolver>,
    /// Generation of the rules in force (1 at start, +1 per successful reload).
    pub(crate) generation: AtomicU64,
    /// The plan the running rules were built from (for exports).
    pub(crate) plan: ArcSwap<EnforcementPlan>,
    /// The policy in force (for assessing uploaded scans).
    pub(crate) policy: ArcSwap<Policy>,
    /// One reload at a time.
    reloading: Mutex<()>,
    /// The log follower of `[monitor]`, told about new plans.
    monitor: Mutex<Option<crate::follow::Follower>>,
    /// The DoT/DoH certificate, re-read on every reload.
    tls_cert: Option<Arc<dns::tls::CertStore>>,
    /// The URL lists' downloads, told about every reloaded configuration.
    lists: std::sync::OnceLock<dns::list_fetch::ListRefresh>,
    /// Whether the HTTP API runs (its token is read only then).
    api_on: bool,
    /// SHA-256 of the HTTP API's bearer token, re-read on every reload; `None`: no token.
    pub(crate) api_token: arc_swap::ArcSwapOption<[u8; 32]>,
}

/// The SHA-256 the API compares a presented token by.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// What a successful reload loaded.
#[derive(serde::Serialize)]
pub(crate) struct Reloaded {
    /// The new generation.
    pub(crate) generation: u64,
    /// Domain rules.
    pub(crate) domains: usize,
    /// Exact names.
    pub(crate) exact: usize,
    /// Patterns.
    pub(crate) patterns: usize,
    /// IP ranges.
    pub(crate) ip_ranges: usize,
    /// Groups.
    pub(crate) groups: usize,
    /// The policy's name.
    pub(crate) policy: String,
    /// The plan's stamp.
    pub(crate) source: String,
    /// How long the reload took.
    pub(crate) ms: u64,
}

impl Live {
    /// Re-reads the policy and every list and swaps the rules in; on error the running rules stay.
    pub(crate) fn reload(&self) -> Result<Reloaded> {
        let _one = self
            .reloading
            .lock()
            .map_err(|_| anyhow!("an earlier reload panicked"))?;
        let t0 = Instant::now();
        let generation = self.generation.load(Ordering::SeqCst) + 1;
        let (state, plan, policy, transfer, dns_cfg, token) = reload(&self.args, generation, self.api_on)?;
        if let Some(lists) = self.lists.get() {
            lists.update(&dns_cfg);
        }
        let s = state.matcher.stats();
        let source = state.source.clone();
        self.resolver.reload(state);
        publish_zones(&self.resolver, &plan, &transfer);
        if let Ok(m) = self.monitor.lock() {
            if let Some(f) = m.as_ref() {
                f.set_plan(&plan);
            }
        }
        self.plan.store(Arc::new(plan));
        let name = policy.name.clone();
        self.policy.store(Arc::new(policy));
        self.generation.store(generation, Ordering::SeqCst);
        let token = token.map(|t| Arc::new(token_digest(&t)));
        let old = self.api_token.swap(token.clone());
        if old.as_deref() != token.as_deref() {
            match token {
                None => tracing::warn!("HTTP API token removed by the reload: the API now answers without one"),
                Some(_) => tracing::info!("HTTP API token changed"),
            }
        }
        if let Some(Err(e)) = self.tls_cert.as_ref().map(|c| c.reload()) {
            tracing::error!(error = %e, "TLS certificate not reloaded; keeping the one in use");
        }
        Ok(Reloaded {
            generation,
            domains: s.domains,
            exact: s.exact,
            patterns: s.patterns,
            ip_ranges: s.ip_ranges,
            groups: s.groups,
            policy: name,
            source,
            ms: t0.elapsed().as_millis() as u64,
        })
    }
}

/// Who may transfer the RPZ zones, and whom to NOTIFY.
struct TransferCfg {
    allow: Vec<ipnet::IpNet>,
    notify: Vec<SocketAddr>,
}

fn transfer_cfg(dns: &DnsConfig) -> Result<TransferCfg> {
    let allow = dns
        .transfer_allow
        .iter()
        .map(|a| {
            a.parse::<ipnet::IpNet>()
                .or_else(|_| a.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow!("[dns] transfer_allow: `{a}` is not an address or network"))
        })
        .collect::<Result<_>>()?;
    let notify = dns
        .transfer_notify
        .iter()
        .map(|a| parse_addr(a, 53).map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    Ok(TransferCfg { allow, notify })
}

/// Rebuilds the RPZ zones from `plan` (serials only rise) and notifies secondaries if they changed.
fn publish_zones(resolver: &Resolver, plan: &EnforcementPlan, t: &TransferCfg) {
    let before = resolver.zones();
    let zones = dns::transfer::Zones::build(plan, &before, t.allow.clone());
    let changed = zones
        .zones
        .iter()
        .map(|z| z.serial)
        .ne(before.zones.iter().map(|z| z.serial));
    if changed && !t.notify.is_empty() {
        dns::transfer::notify(&zones, &t.notify);
    }
    resolver.set_zones(zones);
}

fn listen_addrs(dns: &DnsConfig) -> Result<Vec<SocketAddr>> {
    dns.listen
        .iter()
        .map(|l| parse_addr(l, 53).map_err(anyhow::Error::msg))
        .collect()
}

fn upstreams(dns: &DnsConfig, listen: &[SocketAddr]) -> Result<Vec<UpstreamSpec>> {
    let specs: Vec<UpstreamSpec> = if dns.upstreams.is_empty() {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        from_resolv_conf(&text)
    } else {
        dns.upstreams
            .iter()
            .map(|u| UpstreamSpec::parse(u).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    // never forward to ourselves
    let specs: Vec<UpstreamSpec> = specs
        .into_iter()
        .filter(|s| s.addr().is_none_or(|a| !listen.contains(&a)))
        .collect();
    if specs.is_empty() {
        bail!("no upstream resolver: give --upstream ADDR[:PORT] or [dns] upstreams (none usable in /etc/resolv.conf)");
    }
    Ok(specs)
}

/// Runs the resolver until SIGINT/SIGTERM.
pub fn run(args: &ServeArgs) -> Result<()> {
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_max_level(args.log_level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
    let t0 = std::time::Instant::now();
    let loaded = load(args)?;
    let listen = listen_addrs(&loaded.dns)?;
    // bound before the lists are read: a busy port fails at once, and queries sent while the
    // rules load are answered when they are ready instead of refused
    let listeners = dns::server::Listeners::bind(&listen)?;
    let specs = upstreams(&loaded.dns, &listen)?;
    let blocked = loaded.dns.blocked().map_err(anyhow::Error::msg)?;
    let api = api_addr(args, &loaded)?;
    let token = if api.is_some() { api_token(args, &loaded)? } else { None };
    let plan = loaded.policy.plan(Day::today_utc());
    let t_policy = t0.elapsed();
    let lists = load_lists(&loaded.dns.lists, loaded.base.as_deref(), Some(&args.data_dir));
    let t_lists = t0.elapsed();
    let state = build_state(&plan, &lists, 1);
    let t_rules = t0.elapsed();
    // a million list names take tens of milliseconds to free: not on the way to the first answer
    let _ = std::thread::Builder::new()
        .name("free-lists".into())
        .spawn(move || drop(lists));
    let stats = state.matcher.stats();
    // the alert pipeline: resolver events (through the query log writer) and the log follower
    let alerting = crate::alerting::Alerting::start(&loaded.policy, loaded.base.as_deref(), &args.data_dir)?;
    let alerts = alerting.handle();
    let (events, log_thread) = if loaded.dns.query_log.enabled {
        let a = alerts.clone();
        let (sink, handle) = store::start_query_log(store::WriterConfig {
            tap: Some(store::EventTap(Arc::new(move |evs: &[store::QueryEvent]| {
                evs.iter().for_each(|e| a.ingest_query_event(e));
            }))),
            dir: args.data_dir.clone(),
            queue: loaded.dns.query_log.queue,
            // one row per 8192 events (or per flush): a name repeated within a row is stored
            // once, so bigger rows write fewer bytes and fewer transactions under load
            batch: 8192,
            flush_every: Duration::from_millis(500),
            retention_days: loaded.dns.query_log.retention_days,
        })
        .context("opening the query log")?;
        (sink, Some(handle))
    } else {
        (store::EventSink::disabled(), None)
    };
    let ups = Upstreams::from_config(specs.clone(), &loaded.dns, loaded.base.as_deref()).map_err(anyhow::Error::msg)?;
    let resolver = Arc::new(Resolver::new(
        state,
        dns::cache::Cache::new(loaded.dns.cache.clone()),
        ups,
        events,
        ResolverOptions {
            blocked,
            blocked_ttl: loaded.dns.blocked_ttl,
            edns_udp_size: loaded.dns.edns_udp_size,
            rate_limit_qps: loaded.dns.rate_limit_qps,
        },
    ));
    let server = Server::start_on(
        resolver.clone(),
        listeners,
        &ServeOptions {
            listen: listen.clone(),
            udp_workers: loaded.dns.udp_workers,
            async_workers: 1,
            tcp_idle: Duration::from_secs(loaded.dns.tcp_idle_secs),
            tcp_max_connections: loaded.dns.tcp_max_connections,
            encrypted: EncryptedOptions::from_config(&loaded.dns, loaded.base.as_deref())?,
        },
    )?;
    tracing::info!(
        listen = ?server.addrs,
        tls = ?server.tls_addrs,
        https = ?server.https_addrs,
        upstreams = %specs.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        domains = stats.domains,
        exact = stats.exact,
        patterns = stats.patterns,
        groups = stats.groups,
        policy = %loaded.policy.name,
        profile = %loaded.policy.profile.id,
        policy_ms = t_policy.as_millis() as u64,
        lists_ms = (t_lists - t_policy).as_millis() as u64,
        rules_ms = (t_rules - t_lists).as_millis() as u64,
        ready_ms = t0.elapsed().as_millis() as u64,
        "appwarden resolver ready"
    );

    publish_zones(&resolver, &plan, &transfer_cfg(&loaded.dns)?);
    let follower = start_monitor(&loaded, &plan, &args.data_dir, server.runtime(), &alerts)?;
    tracing::info!(
        receivers = %alerting.receivers.join(","),
        monitor = follower.is_some(),
        "alert pipeline running"
    );
    let live = Arc::new(Live {
        args: args.clone(),
        resolver: resolver.clone(),
        generation: AtomicU64::new(1),
        plan: ArcSwap::from_pointee(plan),
        policy: ArcSwap::from_pointee(loaded.policy),
        reloading: Mutex::new(()),
        monitor: Mutex::new(follower),
        tls_cert: server.cert().cloned(),
        lists: std::sync::OnceLock::new(),
        api_on: api.is_some(),
        api_token: arc_swap::ArcSwapOption::new(token.as_deref().map(|t| Arc::new(token_digest(t)))),
    });
    // the downloads hold only a weak reference: a reload they trigger needs `live`, which holds them
    let l = Arc::downgrade(&live);
    let refresh = dns::list_fetch::spawn_refresh(
        server.runtime().handle(),
        &resolver,
        &loaded.dns,
        &args.data_dir,
        move || match l.upgrade() {
            Some(l) => l.reload().map(drop).map_err(|e| format!("{e:#}")),
            None => Ok(()),
        },
    );
    let _ = live.lists.set(refresh);
    if let Some(addr) = api {
        let bound = crate::api::spawn(server.runtime(), addr, live.clone(), &args.data_dir)?;
        tracing::info!(api = %bound, "HTTP API listening (metrics, reload, exports, scans)");
    }
    let l = live.clone();
    server.runtime().block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut hup), Ok(mut term), Ok(mut int)) =
            (signal(SignalKind::hangup()), signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    let l = l.clone();
                    match tokio::task::spawn_blocking(move || l.reload()).await {
                        Ok(Ok(r)) => tracing::info!(generation = r.generation, domains = r.domains, "policy and lists reloaded"),
                        Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the running rules"),
                        Err(e) => tracing::error!(error = %e, "reload failed; keeping the running rules"),
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
    });
    tracing::info!("shutting down");
    let sink_dropped = resolver.events().dropped();
    let follower = live.monitor.lock().ok().and_then(|mut m| m.take());
    if let Some(f) = follower {
        if let Err(e) = f.stop() {
            tracing::warn!(error = %e, "log follower");
        }
    }
    server.stop();
    drop(live);
    drop(resolver);
    if let Some(h) = log_thread {
        // the writer ends once the last sink is gone
        let _ = h.join();
    }
    // last: the query log's final batch has gone through the tap
    alerting.shutdown(Duration::from_secs(5));
    if sink_dropped > 0 {
        tracing::warn!(dropped = sink_dropped, "query log events dropped (queue full)");
    }
    Ok(())
}

/// Starts following the logs of `[monitor]`, feeding the alert pipeline; `None` when none are configured.
fn start_monitor(
    loaded: &Loaded,
    plan: &EnforcementPlan,
    data_dir: &Path,
    rt: &tokio::runtime::Runtime,
    alerts: &alert::IngestHandle,
) -> Result<Option<crate::follow::Follower>> {
    let cfg = crate::follow::monitor_config(&loaded.policy)?;
    let year = i32::from(Day::today_utc().0.year());
    let setup = crate::follow::FollowSetup::from_config(&cfg, loaded.base.as_deref(), data_dir, year)?;
    if setup.is_empty() {
        return Ok(None);
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<monitor::Detection>(4096);
    let follower = rt.block_on(crate::follow::Follower::start(setup, plan, tx))?;
    let a = alerts.clone();
    rt.spawn(async move {
        while let Some(d) = rx.recv().await {
            a.ingest_detection(&d);
        }
    });
    for addr in &follower.syslog_addrs {
        tracing::info!(%addr, "monitor: receiving syslog");
    }
    Ok(Some(follower))
}

/// The rules of generation `generation`, the plan they were built from and the policy, read afresh.
type Reload = (
    dns::resolver::State,
    EnforcementPlan,
    Policy,
    TransferCfg,
    DnsConfig,
    Option<String>,
);

fn reload(args: &ServeArgs, generation: u64, api_on: bool) -> Result<Reload> {
    let loaded = load(args)?;
    // an unusable token file fails the whole reload: nothing changes, the running token stays
    let token = if api_on { api_token(args, &loaded)? } else { None };
    let plan = loaded.policy.plan(Day::today_utc());
    let lists = load_lists(&loaded.dns.lists, loaded.base.as_deref(), Some(&args.data_dir));
    let state = build_state(&plan, &lists, generation);
    let transfer = transfer_cfg(&loaded.dns)?;
    Ok((state, plan, loaded.policy, transfer, loaded.dns, token))
}
