//! Upstream resolvers: forwarding over UDP (retried over TCP when the answer
//! is truncated), TCP, DNS-over-TLS (one pipelined connection kept per
//! upstream) and DNS-over-HTTPS (HTTP/2 POST on one kept connection);
//! several upstreams ordered by health with failover, active health probes,
//! and a deadline after which the client gets SERVFAIL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::{http1, http2};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use crate::http_client::{self, HttpUrl, Sender, Target};
use crate::tls::{ClientTls, alpn};
use crate::wire;

/// How to reach an upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamSpec {
    /// Plain DNS over UDP, TCP on truncation (`ADDR[:PORT]`).
    Plain(SocketAddr),
    /// Plain DNS over TCP only (`tcp://ADDR[:PORT]`).
    Tcp(SocketAddr),
    /// DNS-over-TLS, RFC 7858 (`tls://HOST[:PORT][#TLSNAME]`, port 853).
    Tls {
        /// Address or name (a name is resolved with the system resolver).
        host: String,
        /// Port.
        port: u16,
        /// The name the certificate must carry (default: `host`).
        server_name: String,
    },
    /// DNS-over-HTTPS, RFC 8484 (`https://HOST[:PORT][/PATH][#TLSNAME]`, path `/dns-query`): HTTP/2 POST.
    Https(HttpUrl),
}

impl UpstreamSpec {
    /// Parses `ADDR[:PORT]`, `[V6]:PORT`, `udp://…`, `tcp://…`,
    /// `tls://HOST[:853][#TLSNAME]`, `https://HOST[:443][/dns-query][#TLSNAME]`.
    /// `#TLSNAME` names the certificate to expect when HOST is an address.
    pub fn parse(s: &str) -> Result<UpstreamSpec, String> {
        let (scheme, rest) = match s.split_once("://") {
            Some((sch, r)) => (sch, r),
            None => ("udp", s),
        };
        match scheme {
            "udp" | "dns" => Ok(UpstreamSpec::Plain(parse_addr(rest, 53)?)),
            "tcp" => Ok(UpstreamSpec::Tcp(parse_addr(rest, 53)?)),
            "tls" => {
                let (hostport, name) = match rest.split_once('#') {
                    Some((h, n)) if !n.is_empty() => (h, Some(n.to_ascii_lowercase())),
                    Some((h, _)) => (h, None),
                    None => (rest, None),
                };
                let (host, port) = http_client::split_host_port(hostport.trim_end_matches('/'), 853)
                    .ok_or_else(|| format!("`{s}`: expected tls://HOST[:PORT][#TLSNAME]"))?;
                Ok(UpstreamSpec::Tls {
                    server_name: name.unwrap_or_else(|| host.clone()),
                    host,
                    port,
                })
            }
            "https" => {
                let mut url = HttpUrl::parse(s)?;
                if url.path == "/" {
                    url.path = "/dns-query".into();
                }
                Ok(UpstreamSpec::Https(url))
            }
            other => Err(format!(
                "`{s}`: unknown scheme `{other}` (udp://, tcp://, tls://, https://)"
            )),
        }
    }

    /// The address, when the spec names one (not a host name).
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            UpstreamSpec::Plain(a) | UpstreamSpec::Tcp(a) => Some(*a),
            UpstreamSpec::Tls { host, port, .. } => host.parse().ok().map(|ip| SocketAddr::new(ip, *port)),
            UpstreamSpec::Https(u) => u.host.parse().ok().map(|ip| SocketAddr::new(ip, u.port)),
        }
    }

    /// Whether it needs TLS.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, UpstreamSpec::Tls { .. } | UpstreamSpec::Https(_))
    }
}

impl std::fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamSpec::Plain(a) => write!(f, "{a}"),
            UpstreamSpec::Tcp(a) => write!(f, "tcp://{a}"),
            UpstreamSpec::Tls {
                host,
                port,
                server_name,
            } => {
                if host.contains(':') {
                    write!(f, "tls://[{host}]:{port}")?;
                } else {
                    write!(f, "tls://{host}:{port}")?;
                }
                if server_name != host {
                    write!(f, "#{server_name}")?;
                }
                Ok(())
            }
            UpstreamSpec::Https(u) => write!(f, "{u}"),
        }
    }
}

/// Parses `ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 address.
pub fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    if let Some(v6) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        && let Ok(ip) = v6.parse::<std::net::Ipv6Addr>()
    {
        return Ok(SocketAddr::new(ip.into(), default_port));
    }
    Err(format!("`{s}` is not an address (ADDR[:PORT], [IPv6]:PORT)"))
}

/// Nameservers from a resolv.conf text (`nameserver` lines), port 53.
pub fn from_resolv_conf(text: &str) -> Vec<UpstreamSpec> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some("nameserver")).then(|| parts.next()).flatten()
        })
        .filter_map(|a| a.split('%').next().and_then(|a| a.parse::<std::net::IpAddr>().ok()))
        .map(|ip| UpstreamSpec::Plain(SocketAddr::new(ip, 53)))
        .collect()
}

#[derive(Debug, Default, Clone, Copy)]
struct Health {
    /// Consecutive failed client queries.
    failures: u32,
    /// Without health checks: skipped (tried last) until then.
    down_until: Option<Instant>,
    /// With health checks: down until a probe (or a query) succeeds.
    down: bool,
    /// Consecutive failed probes.
    probe_failures: u32,
    /// EWMA latency in microseconds.
    latency_us: f64,
}

/// The connection an encrypted upstream keeps.
#[derive(Debug)]
enum Link {
    Plain,
    Tls(Dot),
    Https(Doh),
}

/// One upstream with its health.
#[derive(Debug)]
pub struct Upstream {
    /// Where.
    pub spec: UpstreamSpec,
    /// Display name (for events and metrics).
    pub name: Arc<str>,
    health: Mutex<Health>,
    link: Link,
}

/// Why forwarding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// No upstream answered before the deadline.
    #[error("no upstream answered within {0:?}")]
    Timeout(Duration),
    /// Every upstream failed.
    #[error("every upstream failed: {0}")]
    Failed(String),
}

/// Settings of [`Upstreams`] beyond the list.
#[derive(Clone, Debug)]
pub struct UpstreamOptions {
    /// Per-try timeout.
    pub per_try: Duration,
    /// Overall deadline.
    pub deadline: Duration,
    /// Interval of the active health probes (`None`: passive health only).
    pub health_check: Option<Duration>,
    /// The name probed (type NS); `.` by default.
    pub probe_name: String,
    /// Trust for DoT/DoH upstreams and list downloads.
    pub tls: Arc<ClientTls>,
}

/// The set of upstreams.
#[derive(Debug)]
pub struct Upstreams {
    list: Vec<Upstream>,
    per_try: Duration,
    deadline: Duration,
    health_check: Option<Duration>,
    probe_name: String,
    tls: Arc<ClientTls>,
    next_id: AtomicU16,
}

/// A forwarded answer.
#[derive(Debug)]
pub struct Forwarded {
    /// The response, id restored to the client's query id.
    pub response: Vec<u8>,
    /// Which upstream answered.
    pub upstream: Arc<str>,
}

/// Consecutive failed probes before an upstream is marked down.
const PROBE_FAILURES_DOWN: u32 = 2;
/// Consecutive failed client queries before an upstream is marked down.
const QUERY_FAILURES_DOWN: u32 = 3;

impl Upstreams {
    /// Upstreams with a per-try timeout and an overall deadline; system
    /// trust roots, no active health checks.
    pub fn new(specs: Vec<UpstreamSpec>, per_try: Duration, deadline: Duration) -> Upstreams {
        Upstreams::with_options(
            specs,
            UpstreamOptions {
                per_try,
                deadline,
                health_check: None,
                probe_name: ".".into(),
                tls: Arc::new(ClientTls::default()),
            },
        )
    }

    /// Upstreams as the `[dns]` section says (`upstream_timeout_ms`,
    /// `deadline_ms`, `health_check_secs`, `health_check_name`,
    /// `upstream_ca_file` relative to `base`).
    pub fn from_config(
        specs: Vec<UpstreamSpec>,
        cfg: &crate::config::DnsConfig,
        base: Option<&Path>,
    ) -> Result<Upstreams, String> {
        let ca = cfg.upstream_ca_file.as_ref().map(|p| crate::config::resolve(base, p));
        let tls = ClientTls::new(ca.as_deref()).map_err(|e| format!("[dns] upstream_ca_file: {e}"))?;
        Ok(Upstreams::with_options(
            specs,
            UpstreamOptions {
                per_try: Duration::from_millis(cfg.upstream_timeout_ms),
                deadline: Duration::from_millis(cfg.deadline_ms),
                health_check: (cfg.health_check_secs > 0).then(|| Duration::from_secs(cfg.health_check_secs)),
                probe_name: cfg.health_check_name.clone(),
                tls: Arc::new(tls),
            },
        ))
    }

    /// Upstreams with every setting given.
    pub fn with_options(specs: Vec<UpstreamSpec>, opts: UpstreamOptions) -> Upstreams {
        let seed = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            & 0xffff) as u16;
        Upstreams {
            list: specs
                .into_iter()
                .map(|spec| Upstream {
                    name: spec.to_string().into(),
                    link: match &spec {
                        UpstreamSpec::Plain(_) | UpstreamSpec::Tcp(_) => Link::Plain,
                        // no ALPN: servers that do not know `dot` could refuse it
                        UpstreamSpec::Tls { .. } => Link::Tls(Dot::new(opts.tls.config(&[]))),
                        UpstreamSpec::Https(_) => Link::Https(Doh::new(opts.tls.config(&[alpn::H2, alpn::HTTP11]))),
                    },
                    spec,
                    health: Mutex::new(Health::default()),
                })
                .collect(),
            per_try: opts.per_try,
            deadline: opts.deadline,
            health_check: opts.health_check,
            probe_name: opts.probe_name,
            tls: opts.tls,
            next_id: AtomicU16::new(seed),
        }
    }

    /// The upstreams.
    pub fn list(&self) -> &[Upstream] {
        &self.list
    }

    /// The trust roots of outgoing TLS (shared with list downloads).
    pub fn client_tls(&self) -> &Arc<ClientTls> {
        &self.tls
    }

    /// The interval of active health probes, if on.
    pub fn health_check_interval(&self) -> Option<Duration> {
        self.health_check
    }

    /// Whether upstream `i` is considered up (not skipped by failover).
    pub fn is_up(&self, i: usize) -> bool {
        let Some(u) = self.list.get(i) else { return false };
        let h = u.health.lock().map(|h| *h).unwrap_or_default();
        !h.down && h.down_until.is_none_or(|t| t <= Instant::now())
    }

    fn order(&self) -> Vec<usize> {
        let now = Instant::now();
        let mut idx: Vec<(bool, f64, usize)> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let h = u.health.lock().map(|h| *h).unwrap_or_default();
                let down = h.down || h.down_until.is_some_and(|t| t > now);
                (down, h.latency_us, i)
            })
            .collect();
        // with health checks, a down upstream is skipped while any is up
        if self.health_check.is_some() && idx.iter().any(|x| !x.0) {
            idx.retain(|x| !x.0);
        }
        idx.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        idx.into_iter().map(|x| x.2).collect()
    }

    fn record(&self, i: usize, ok: bool, took: Duration) {
        let Some(u) = self.list.get(i) else { return };
        let Ok(mut h) = u.health.lock() else { return };
        if ok {
            if h.down {
                tracing::info!(upstream = %u.name, "upstream answers again: up");
            }
            h.failures = 0;
            h.down_until = None;
            h.down = false;
            let us = took.as_micros() as f64;
            h.latency_us = if h.latency_us == 0.0 {
                us
            } else {
                h.latency_us * 0.8 + us * 0.2
            };
        } else {
            h.failures += 1;
            if h.failures >= QUERY_FAILURES_DOWN {
                if self.health_check.is_some() {
                    if !h.down {
                        tracing::warn!(upstream = %u.name, failures = h.failures, "upstream down until a probe succeeds");
                    }
                    h.down = true;
                } else {
                    let backoff = Duration::from_secs(u64::from(h.failures.min(8)) * 2);
                    h.down_until = Some(Instant::now() + backoff);
                }
            }
        }
    }

    fn fresh_id(&self) -> u16 {
        self.next_id.fetch_add(0x9e37, Ordering::Relaxed)
    }

    async fn exchange(&self, u: &Upstream, q: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
        match (&u.spec, &u.link) {
            (UpstreamSpec::Plain(addr), _) => {
                let r = udp_exchange(*addr, q, id).await?;
                if r.len() > 2 && r[2] & 0x02 != 0 {
                    tcp_exchange(*addr, q, id).await
                } else {
                    Ok(r)
                }
            }
            (UpstreamSpec::Tcp(addr), _) => tcp_exchange(*addr, q, id).await,
            (
                UpstreamSpec::Tls {
                    host,
                    port,
                    server_name,
                },
                Link::Tls(dot),
            ) => dot.exchange(host, *port, server_name, q, id).await,
            (UpstreamSpec::Https(url), Link::Https(doh)) => doh.exchange(url, q, id).await,
            _ => Err(std::io::Error::other("upstream without its connection")),
        }
    }

    /// Forwards `query` (a client's query; its id is replaced on the wire and
    /// restored in the answer). Tries upstreams in health order until one
    /// answers or the deadline passes.
    pub async fn forward(&self, query: &[u8]) -> Result<Forwarded, UpstreamError> {
        if query.len() < 12 || self.list.is_empty() {
            return Err(UpstreamError::Failed("no upstream configured".into()));
        }
        let client_id = [query[0], query[1]];
        let start = Instant::now();
        let mut errors = Vec::new();
        for i in self.order() {
            let left = self.deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            let budget = left.min(self.per_try);
            let id = self.fresh_id();
            let mut q = query.to_vec();
            q[0..2].copy_from_slice(&id.to_be_bytes());
            let t0 = Instant::now();
            let u = &self.list[i];
            let res = tokio::time::timeout(budget, self.exchange(u, &q, id)).await;
            match res {
                Ok(Ok(mut r)) => {
                    // SERVFAIL/REFUSED from one upstream: try the next while time remains
                    let rc = r.get(3).map_or(0, |b| b & 0x0f);
                    if (rc == wire::rcode::SERVFAIL || rc == wire::rcode::REFUSED) && self.list.len() > 1 {
                        self.record(i, false, t0.elapsed());
                        errors.push(format!("{}: rcode {rc}", u.name));
                        continue;
                    }
                    self.record(i, true, t0.elapsed());
                    r[0..2].copy_from_slice(&client_id);
                    return Ok(Forwarded {
                        response: r,
                        upstream: u.name.clone(),
                    });
                }
                Ok(Err(e)) => {
                    self.record(i, false, t0.elapsed());
                    errors.push(format!("{}: {e}", u.name));
                }
                Err(_) => {
                    self.record(i, false, t0.elapsed());
                    errors.push(format!("{}: timeout after {budget:?}", u.name));
                }
            }
        }
        if errors.is_empty() || start.elapsed() >= self.deadline {
            Err(UpstreamError::Timeout(self.deadline))
        } else {
            Err(UpstreamError::Failed(errors.join("; ")))
        }
    }

    /// The probe query: `health_check_name` type NS, recursion desired.
    fn probe_query(&self, id: u16) -> Vec<u8> {
        let mut q = Vec::with_capacity(32);
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        let name = self.probe_name.trim_end_matches('.');
        if wire::encode_name(name, &mut q).is_none() {
            q.truncate(12);
            q.push(0);
        }
        q.extend_from_slice(&[0, 2, 0, 1]); // NS IN
        q
    }

    /// Probes upstream `i` once and updates its health: a probe answered
    /// with anything but SERVFAIL/REFUSED within the per-try timeout marks
    /// it up; [`PROBE_FAILURES_DOWN`] failed probes in a row mark it down.
    /// Returns whether this probe succeeded.
    pub async fn probe(&self, i: usize) -> bool {
        let Some(u) = self.list.get(i) else { return false };
        let id = self.fresh_id();
        let q = self.probe_query(id);
        let res = tokio::time::timeout(self.per_try, self.exchange(u, &q, id)).await;
        let ok = match &res {
            Ok(Ok(r)) => {
                let rc = r.get(3).map_or(0, |b| b & 0x0f);
                rc != wire::rcode::SERVFAIL && rc != wire::rcode::REFUSED
            }
            _ => false,
        };
        let Ok(mut h) = u.health.lock() else { return ok };
        if ok {
            if h.down || h.down_until.is_some() {
                tracing::info!(upstream = %u.name, "health probe answered: upstream up");
            }
            *h = Health {
                latency_us: h.latency_us,
                ..Health::default()
            };
        } else {
            h.probe_failures += 1;
            if h.probe_failures >= PROBE_FAILURES_DOWN && !h.down {
                let why = match res {
                    Ok(Ok(_)) => "SERVFAIL/REFUSED".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {:?}", self.per_try),
                };
                tracing::warn!(upstream = %u.name, error = %why, "health probes failing: upstream down");
                h.down = true;
            }
        }
        ok
    }
}

/// Whether `resp` answers `query` (id and question).
fn matches(query: &[u8], resp: &[u8], id: u16) -> bool {
    if resp.len() < 12 || resp[0..2] != id.to_be_bytes() || resp[2] & 0x80 == 0 {
        return false;
    }
    // same question section (case-insensitive)
    let Ok(q) = wire::parse_query(query) else {
        return false;
    };
    let qlen = q.question_end;
    resp.len() >= qlen && resp[4..6] == [0, 1] && resp[12..qlen].eq_ignore_ascii_case(&query[12..qlen])
}

async fn udp_exchange(addr: SocketAddr, q: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(addr).await?;
    sock.send(q).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        if matches(q, &buf[..n], id) {
            buf.truncate(n);
            return Ok(buf);
        }
        // a stray or spoofed datagram: keep waiting until the timeout
    }
}

async fn tcp_exchange(addr: SocketAddr, q: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut msg = Vec::with_capacity(q.len() + 2);
    msg.extend_from_slice(&(q.len() as u16).to_be_bytes());
    msg.extend_from_slice(q);
    s.write_all(&msg).await?;
    loop {
        let len = s.read_u16().await? as usize;
        let mut buf = vec![0u8; len];
        s.read_exact(&mut buf).await?;
        if matches(q, &buf, id) {
            return Ok(buf);
        }
    }
}

fn closed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "connection closed")
}

/// Queries on one connection left unanswered in a row before it is
/// considered dead (a silently vanished peer sends no FIN).
const DOT_UNANSWERED_CLOSE: u32 = 3;
/// Queries in flight on one DoT connection.
const DOT_PIPELINE: usize = 128;

type PendingMap = Mutex<HashMap<u16, oneshot::Sender<Vec<u8>>>>;

/// One DoT connection: a writer task, a reader task that hands answers to
/// the waiting queries by message id (answers may come in any order).
#[derive(Debug)]
struct DotConn {
    tx: mpsc::Sender<Vec<u8>>,
    pending: Arc<PendingMap>,
    closed: Arc<AtomicBool>,
    next: AtomicU16,
    unanswered: AtomicU32,
}

impl DotConn {
    fn start<S>(stream: S) -> DotConn
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(DOT_PIPELINE);
        let pending: Arc<PendingMap> = Arc::new(Mutex::new(HashMap::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let writer_done = Arc::new(tokio::sync::Notify::new());
        let (c, done) = (closed.clone(), writer_done.clone());
        tokio::spawn(async move {
            // ends when the connection is dropped (every sender gone) or a write fails
            while let Some(m) = rx.recv().await {
                if wr.write_all(&m).await.is_err() {
                    break;
                }
            }
            c.store(true, Ordering::SeqCst);
            let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
            done.notify_one();
        });
        let (p, c) = (pending.clone(), closed.clone());
        tokio::spawn(async move {
            let read = async {
                while let Ok(len) = rd.read_u16().await {
                    let mut buf = vec![0u8; usize::from(len)];
                    if rd.read_exact(&mut buf).await.is_err() || buf.len() < 12 {
                        break;
                    }
                    let id = u16::from_be_bytes([buf[0], buf[1]]);
                    let waiter = p.lock().ok().and_then(|mut m| m.remove(&id));
                    if let Some(w) = waiter {
                        let _ = w.send(buf);
                    }
                }
            };
            // stop reading once the writer is gone too (the peer may never close)
            tokio::select! {
                () = read => {}
                () = writer_done.notified() => {}
            }
            c.store(true, Ordering::SeqCst);
            // wake every waiting query: their senders go away
            if let Ok(mut m) = p.lock() {
                m.clear();
            }
        });
        DotConn {
            tx,
            pending,
            closed,
            next: AtomicU16::new(1),
            unanswered: AtomicU32::new(0),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.unanswered.load(Ordering::Relaxed) >= DOT_UNANSWERED_CLOSE
    }

    /// Sends `q` under a connection-unique id and waits for its answer
    /// (returned with the connection's id; the caller restores its own).
    async fn exchange(&self, q: &[u8]) -> std::io::Result<(Vec<u8>, u16)> {
        let (otx, orx) = oneshot::channel();
        let wire_id = {
            let mut m = self.pending.lock().map_err(|_| closed())?;
            if m.len() >= DOT_PIPELINE * 4 {
                return Err(std::io::Error::other("too many queries in flight"));
            }
            let mut id = self.next.fetch_add(1, Ordering::Relaxed);
            while m.contains_key(&id) {
                id = self.next.fetch_add(1, Ordering::Relaxed);
            }
            m.insert(id, otx);
            id
        };
        // on timeout (this future dropped) or error: forget the id, count it unanswered
        struct Guard<'a>(&'a DotConn, u16, bool);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if !self.2 {
                    if let Ok(mut m) = self.0.pending.lock() {
                        m.remove(&self.1);
                    }
                    self.0.unanswered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let mut guard = Guard(self, wire_id, false);
        let mut framed = Vec::with_capacity(q.len() + 2);
        framed.extend_from_slice(&(q.len() as u16).to_be_bytes());
        framed.extend_from_slice(&wire_id.to_be_bytes());
        framed.extend_from_slice(q.get(2..).unwrap_or_default());
        self.tx.send(framed).await.map_err(|_| closed())?;
        let resp = orx.await.map_err(|_| closed())?;
        guard.2 = true;
        self.unanswered.store(0, Ordering::Relaxed);
        Ok((resp, wire_id))
    }
}

/// A DoT upstream's kept connection.
#[derive(Debug)]
struct Dot {
    cfg: Result<Arc<ClientConfig>, String>,
    conn: tokio::sync::Mutex<Option<Arc<DotConn>>>,
}

impl Dot {
    fn new(cfg: Result<Arc<ClientConfig>, crate::tls::TlsError>) -> Dot {
        Dot {
            cfg: cfg.map_err(|e| e.to_string()),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// The open connection, or a new one; `true` when new.
    async fn get(&self, host: &str, port: u16, name: &str) -> std::io::Result<(Arc<DotConn>, bool)> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref()
            && !c.is_closed()
        {
            return Ok((c.clone(), false));
        }
        *slot = None;
        let cfg = self.cfg.clone().map_err(std::io::Error::other)?;
        let addr = http_client::resolve(host, port).await?;
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let sn = rustls::pki_types::ServerName::try_from(name.to_string()).map_err(std::io::Error::other)?;
        let tls = tokio_rustls::TlsConnector::from(cfg).connect(sn, tcp).await?;
        let c = Arc::new(DotConn::start(tls));
        *slot = Some(c.clone());
        Ok((c, true))
    }

    async fn exchange(&self, host: &str, port: u16, name: &str, q: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
        loop {
            let (conn, fresh) = self.get(host, port, name).await?;
            match conn.exchange(q).await {
                Ok((mut r, wire_id)) => {
                    let mut sent = q.to_vec();
                    sent[0..2].copy_from_slice(&wire_id.to_be_bytes());
                    if !matches(&sent, &r, wire_id) {
                        return Err(std::io::Error::other("answer does not match the question"));
                    }
                    r[0..2].copy_from_slice(&id.to_be_bytes());
                    return Ok(r);
                }
                // a kept connection the server closed meanwhile: once more on a new one
                Err(_) if !fresh => conn.closed.store(true, Ordering::SeqCst),
                Err(e) => {
                    conn.closed.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
    }
}

/// A DoH upstream's kept HTTP/2 connection.
#[derive(Debug)]
/// A DoH upstream's connections: one HTTP/2 connection, multiplexed, or,
/// when the server offers only HTTP/1.1 (RFC 8484 allows it), a few
/// keep-alive HTTP/1.1 connections, one query at a time on each.
struct Doh {
    cfg: Result<Arc<ClientConfig>, String>,
    conn: tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
    /// Idle HTTP/1.1 connections, most recently used last.
    idle_h1: std::sync::Mutex<Vec<http1::SendRequest<Full<Bytes>>>>,
    /// The server chose HTTP/1.1 last time it was asked.
    h1: std::sync::atomic::AtomicBool,
}

/// Largest DoH answer read.
const DOH_MAX_ANSWER: usize = 65535;
/// Idle HTTP/1.1 connections kept per DoH upstream at most.
const DOH_IDLE_H1: usize = 8;

impl Doh {
    fn new(cfg: Result<Arc<ClientConfig>, crate::tls::TlsError>) -> Doh {
        Doh {
            cfg: cfg.map_err(|e| e.to_string()),
            conn: tokio::sync::Mutex::new(None),
            idle_h1: std::sync::Mutex::new(Vec::new()),
            h1: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn connect(&self, url: &HttpUrl) -> std::io::Result<Sender> {
        let cfg = self.cfg.clone().map_err(std::io::Error::other)?;
        let s = http_client::connect(Target {
            host: &url.host,
            port: url.port,
            tls: Some((cfg, url.server_name())),
        })
        .await?;
        self.h1.store(!s.is_h2(), std::sync::atomic::Ordering::Relaxed);
        Ok(s)
    }

    /// A connection to send on, and whether it is new: the shared HTTP/2
    /// one, an idle HTTP/1.1 one, or a new connection of whichever the
    /// server picks.
    async fn get(&self, url: &HttpUrl) -> std::io::Result<(Sender, bool)> {
        if self.h1.load(std::sync::atomic::Ordering::Relaxed) {
            let idle = self.idle_h1.lock().ok().and_then(|mut v| {
                while let Some(s) = v.pop() {
                    if !s.is_closed() {
                        return Some(s);
                    }
                }
                None
            });
            if let Some(s) = idle {
                return Ok((Sender::H1(s), false));
            }
            return Ok((self.connect(url).await?, true));
        }
        let mut slot = self.conn.lock().await;
        if let Some(s) = slot.as_ref()
            && !s.is_closed()
        {
            return Ok((Sender::H2(s.clone()), false));
        }
        *slot = None;
        let s = self.connect(url).await?;
        if let Sender::H2(h2) = &s {
            *slot = Some(h2.clone());
        }
        Ok((s, true))
    }

    /// Puts an HTTP/1.1 connection whose answer has been read back for the next query.
    fn put_back(&self, s: Sender) {
        if let Sender::H1(s) = s
            && !s.is_closed()
            && let Ok(mut v) = self.idle_h1.lock()
            && v.len() < DOH_IDLE_H1
        {
            v.push(s);
        }
    }

    async fn exchange(&self, url: &HttpUrl, q: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
        let authority = url.authority();
        loop {
            let (mut sender, fresh) = self.get(url).await?;
            let req = hyper::Request::post(url.path.as_str())
                .header(hyper::header::CONTENT_TYPE, "application/dns-message")
                .header(hyper::header::ACCEPT, "application/dns-message")
                .body(Full::new(Bytes::copy_from_slice(q)))
                .map_err(std::io::Error::other)?;
            match sender.send(req, true, &authority).await {
                Ok(resp) => {
                    let status = resp.status();
                    if status != hyper::StatusCode::OK {
                        return Err(std::io::Error::other(format!("HTTP status {status}")));
                    }
                    let body = http_client::read_body(resp, DOH_MAX_ANSWER).await?;
                    self.put_back(sender);
                    if !matches(q, &body, id) {
                        return Err(std::io::Error::other("answer does not match the question"));
                    }
                    return Ok(body.to_vec());
                }
                Err(e) => {
                    if let Sender::H2(_) = sender {
                        let mut slot = self.conn.lock().await;
                        // a kept connection that went away: once more on a new one
                        *slot = None;
                    }
                    if fresh {
                        return Err(e);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_and_resolv_conf() {
        assert_eq!(
            UpstreamSpec::parse("127.0.0.1:5300"),
            Ok(UpstreamSpec::Plain("127.0.0.1:5300".parse().expect("addr")))
        );
        assert_eq!(
            UpstreamSpec::parse("::1"),
            Ok(UpstreamSpec::Plain("[::1]:53".parse().expect("addr")))
        );
        assert_eq!(
            UpstreamSpec::parse("tcp://[::1]:5300"),
            Ok(UpstreamSpec::Tcp("[::1]:5300".parse().expect("addr")))
        );
        assert!(UpstreamSpec::parse("nonsense").is_err());
        assert!(UpstreamSpec::parse("quic://192.0.2.1").is_err());
        let conf = "# c\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\noptions edns0\nsearch x\n";
        let ups = from_resolv_conf(conf);
        assert_eq!(ups.len(), 2);
        assert_eq!(ups[0].addr(), Some("127.0.0.53:53".parse().expect("addr")));
    }

    #[test]
    fn parses_encrypted_specs() {
        let dot = UpstreamSpec::parse("tls://1.1.1.1#Cloudflare-DNS.com").expect("tls");
        assert_eq!(
            dot,
            UpstreamSpec::Tls {
                host: "1.1.1.1".into(),
                port: 853,
                server_name: "cloudflare-dns.com".into()
            }
        );
        assert_eq!(dot.to_string(), "tls://1.1.1.1:853#cloudflare-dns.com");
        assert_eq!(dot.addr(), Some("1.1.1.1:853".parse().expect("addr")));
        let dot = UpstreamSpec::parse("tls://dns.example:8853").expect("tls");
        assert_eq!(dot.to_string(), "tls://dns.example:8853");
        assert_eq!(dot.addr(), None);
        let dot6 = UpstreamSpec::parse("tls://[2001:db8::1]:853#dns.example").expect("tls");
        assert_eq!(dot6.to_string(), "tls://[2001:db8::1]:853#dns.example");
        let doh = UpstreamSpec::parse("https://192.0.2.1#dns.example").expect("https");
        assert_eq!(doh.to_string(), "https://192.0.2.1:443/dns-query#dns.example");
        let UpstreamSpec::Https(u) = UpstreamSpec::parse("https://dns.example:8443/q").expect("https") else {
            panic!("not https");
        };
        assert_eq!((u.port, u.path.as_str(), u.server_name()), (8443, "/q", "dns.example"));
        assert!(UpstreamSpec::parse("tls://").is_err());
        assert!(UpstreamSpec::parse("tls://host:x").is_err());
    }

    #[test]
    fn probe_query_is_a_query() {
        let ups = Upstreams::new(Vec::new(), Duration::from_millis(10), Duration::from_millis(10));
        let q = ups.probe_query(7);
        let p = wire::parse_query(&q).expect("parses");
        assert_eq!((p.qtype, p.qclass, p.qname_wire), (2, 1, &[0u8][..]));
    }
}
