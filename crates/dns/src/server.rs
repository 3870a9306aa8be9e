//! Listeners and lifecycle: UDP worker threads that answer cache hits and
//! blocks in place and hand misses to the async runtime; TCP per RFC 7766
//! (pipelining, out-of-order answers, idle timeout, a connection cap), and
//! the same framing over TLS (DNS-over-TLS, RFC 7858); DNS-over-HTTPS
//! ([`crate::doh`]); upstream health probes; building the rules from a plan
//! and lists; reload; shutdown.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use policy::EnforcementPlan;
use store::Transport;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

use crate::config::{DnsConfig, ListAction, ListConfig, ListSource, resolve};
use crate::lists::{ListRule, ParsedList};
use crate::matcher::{MatcherBuilder, Rule, RuleSource};
use crate::resolver::{Resolver, State, Step};
use crate::tls::{CertStore, TlsError};
use crate::wire;

/// A list read from disk, with where it came from.
pub struct LoadedList {
    /// Its settings.
    pub cfg: ListConfig,
    /// Its rules and problems.
    pub parsed: ParsedList,
}

/// Reads every configured list: a `path` relative to `base`, a `url` list
/// from its cached copy under `data_dir` (see [`crate::list_fetch`]). A
/// missing or unreadable file is reported and yields an empty list (the
/// resolver still starts).
pub fn load_lists(cfgs: &[ListConfig], base: Option<&Path>, data_dir: Option<&Path>) -> Vec<LoadedList> {
    cfgs.iter()
        .map(|cfg| {
            let path = match cfg.source() {
                Ok(ListSource::File(p)) => Ok(crate::config::resolve(base, p)),
                Ok(ListSource::Url(u)) => match data_dir {
                    Some(d) => Ok(crate::list_fetch::cache_path(d, u)),
                    None => Err(format!("{u}: no data directory to keep downloaded lists in")),
                },
                Err(e) => Err(e),
            };
            let parsed = match path.as_ref().map(std::fs::File::open) {
                Ok(Ok(f)) => crate::lists::parse(std::io::BufReader::with_capacity(1 << 20, f), cfg.format),
                Ok(Err(e)) if cfg.url.is_some() && e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::info!(
                        list = %cfg.display_name(),
                        "list not downloaded yet; it takes effect once the download succeeds"
                    );
                    ParsedList::default()
                }
                Ok(Err(e)) => {
                    let shown = path.as_ref().map_or_else(|_| "?".into(), |p| p.display().to_string());
                    unloaded(cfg, format!("{shown}: {e}"))
                }
                Err(e) => unloaded(cfg, e.clone()),
            };
            let shown = cfg
                .url
                .clone()
                .unwrap_or_else(|| path.as_ref().map_or_else(|_| "?".into(), |p| p.display().to_string()));
            if parsed.skipped > 0 {
                for e in parsed.errors.iter().take(5) {
                    tracing::warn!(list = %shown, line = e.line, problem = %e.message, "list line skipped");
                }
                tracing::warn!(list = %shown, skipped = parsed.skipped, "list lines skipped");
            }
            LoadedList {
                cfg: cfg.clone(),
                parsed,
            }
        })
        .collect()
}

fn unloaded(cfg: &ListConfig, message: String) -> ParsedList {
    tracing::error!(list = %cfg.display_name(), error = %message, "list not loaded");
    ParsedList::unreadable(message)
}

/// Compiles a plan and lists into resolver rules.
pub fn build_state(plan: &EnforcementPlan, lists: &[LoadedList], generation: u64) -> State {
    let mut b = MatcherBuilder::new(plan);
    for l in lists {
        let mask = b.group_mask(&l.cfg.groups);
        let name: Arc<str> = l.cfg.display_name().into();
        let rule = Rule {
            source: RuleSource::List(name),
            answer: None,
        };
        let (mut blocks, mut allows) = (Vec::with_capacity(l.parsed.len()), Vec::new());
        for r in l.parsed.rules() {
            match r {
                ListRule::Block(d) => blocks.push(d),
                ListRule::Allow(d) => allows.push(d),
            }
        }
        match l.cfg.action {
            ListAction::Block => b.add_domains(blocks, mask, 0, 0, rule.clone()),
            ListAction::LogOnly => b.add_domains(blocks, 0, mask, 0, rule.clone()),
            ListAction::Allow => b.add_domains(blocks, 0, 0, mask, rule.clone()),
        }
        b.add_domains(allows, 0, 0, mask, rule);
    }
    State {
        matcher: b.build(),
        generation,
        source: format!(
            "plan {} / policy {} / as of {}",
            plan.stamp.catalog_snapshot, plan.stamp.policy_version, plan.stamp.as_of
        ),
    }
}

/// A running resolver.
pub struct Server {
    resolver: Arc<Resolver>,
    runtime: tokio::runtime::Runtime,
    shutdown: Arc<AtomicBool>,
    udp_threads: Vec<std::thread::JoinHandle<()>>,
    /// Addresses actually bound (UDP and TCP share them).
    pub addrs: Vec<SocketAddr>,
    /// DNS-over-TLS addresses actually bound.
    pub tls_addrs: Vec<SocketAddr>,
    /// DNS-over-HTTPS addresses actually bound.
    pub https_addrs: Vec<SocketAddr>,
    cert: Option<Arc<CertStore>>,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("starting the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The listeners' certificate or key could not be used.
    #[error("[dns] tls_cert / tls_key: {0}")]
    Tls(#[from] TlsError),
    /// An encrypted listener's setting is wrong.
    #[error("[dns] {0}")]
    Config(String),
}

/// How to run.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Addresses (UDP + TCP each).
    pub listen: Vec<SocketAddr>,
    /// UDP worker threads per address.
    pub udp_workers: usize,
    /// Async worker threads (upstream I/O, TCP).
    pub async_workers: usize,
    /// Idle timeout of TCP, DoT and DoH connections.
    pub tcp_idle: Duration,
    /// Cap on TCP, DoT and DoH connections together.
    pub tcp_max_connections: usize,
    /// DNS-over-TLS and DNS-over-HTTPS listeners (`None`: plain DNS only).
    pub encrypted: Option<EncryptedOptions>,
}

/// The DoT and DoH listeners.
#[derive(Clone, Debug)]
pub struct EncryptedOptions {
    /// DoT addresses.
    pub tls_listen: Vec<SocketAddr>,
    /// DoH addresses.
    pub https_listen: Vec<SocketAddr>,
    /// DoH path (`/dns-query`); `PATH/ID` carries a client id.
    pub https_path: String,
    /// The DoT name whose one-label-longer SNI carries a client id (see [`crate::tls::sni_client_id`]).
    pub tls_server_name: Option<String>,
    /// Certificate and key (reloadable).
    pub cert: Arc<CertStore>,
}

impl EncryptedOptions {
    /// From `[dns] tls_listen`, `https_listen`, `https_path`, `tls_server_name`,
    /// `tls_cert`, `tls_key` (paths relative to `base`); `None` without
    /// encrypted listeners.
    pub fn from_config(cfg: &DnsConfig, base: Option<&Path>) -> Result<Option<EncryptedOptions>, ServerError> {
        if cfg.tls_listen.is_empty() && cfg.https_listen.is_empty() {
            return Ok(None);
        }
        let addrs = |v: &[String], port| {
            v.iter()
                .map(|a| crate::upstream::parse_addr(a, port).map_err(ServerError::Config))
                .collect::<Result<Vec<_>, _>>()
        };
        let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) else {
            return Err(TlsError::MissingCertificate.into());
        };
        let path = cfg.https_path.trim_end_matches('/');
        if !path.starts_with('/') || path.contains(['?', '#']) {
            return Err(ServerError::Config(format!(
                "https_path = \"{}\": a path such as /dns-query",
                cfg.https_path
            )));
        }
        Ok(Some(EncryptedOptions {
            tls_listen: addrs(&cfg.tls_listen, 853)?,
            https_listen: addrs(&cfg.https_listen, 443)?,
            https_path: path.to_string(),
            tls_server_name: cfg.tls_server_name.clone(),
            cert: CertStore::load(&resolve(base, cert), &resolve(base, key))?,
        }))
    }
}

/// Accepts connections on `listener` while fewer than the cap are open
/// (beyond it a connection is closed at once) and runs `handle` for each.
fn spawn_accept<F, Fut>(rt: &tokio::runtime::Runtime, listener: TcpListener, conns: Arc<Semaphore>, handle: F)
where
    F: Fn(tokio::net::TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    rt.spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // out of descriptors and the like: do not spin
                    tracing::debug!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let Ok(permit) = conns.clone().try_acquire_owned() else {
                drop(stream); // over the cap: close at once
                continue;
            };
            let _ = stream.set_nodelay(true);
            let work = handle(stream, peer);
            tokio::spawn(async move {
                work.await;
                drop(permit);
            });
        }
    });
}

/// Backlog of the plain-DNS TCP listeners.
const TCP_BACKLOG: i32 = 1024;

/// The plain-DNS sockets: UDP and TCP on each `listen` address (TCP on the
/// port UDP got). Bound before the rules are loaded
/// ([`Server::start_on`]): a busy or wrong address fails at once instead of
/// after the lists are read, and a query that arrives while they load waits
/// in its socket and is answered as soon as serving starts, rather than
/// refused.
pub struct Listeners {
    pairs: Vec<(StdUdpSocket, std::net::TcpListener)>,
    addrs: Vec<SocketAddr>,
}

impl Listeners {
    /// Binds UDP and TCP on every address.
    pub fn bind(listen: &[SocketAddr]) -> Result<Listeners, ServerError> {
        let mut pairs = Vec::new();
        let mut addrs = Vec::new();
        for &addr in listen {
            let sock = StdUdpSocket::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
            let bound = sock.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
            let tcp = std::net::TcpListener::bind(bound)
                .and_then(|l| {
                    rustix::net::listen(&l, TCP_BACKLOG)?;
                    l.set_nonblocking(true)?;
                    Ok(l)
                })
                .map_err(|source| ServerError::Bind { addr: bound, source })?;
            pairs.push((sock, tcp));
            addrs.push(bound);
        }
        Ok(Listeners { pairs, addrs })
    }

    /// The bound addresses, in the order given.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
}

impl Server {
    /// Binds every listener and starts serving.
    pub fn start(resolver: Arc<Resolver>, opts: &ServeOptions) -> Result<Server, ServerError> {
        let listeners = Listeners::bind(&opts.listen)?;
        Server::start_on(resolver, listeners, opts)
    }

    /// Starts serving on plain-DNS sockets bound earlier (`opts.listen` is
    /// not used) and binds the DoT and DoH listeners.
    pub fn start_on(resolver: Arc<Resolver>, listeners: Listeners, opts: &ServeOptions) -> Result<Server, ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.async_workers.max(1))
            .thread_name("appwarden-dns")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let mut udp_threads = Vec::new();
        let mut addrs = Vec::new();
        let conns = Arc::new(Semaphore::new(opts.tcp_max_connections.max(1)));
        let idle = opts.tcp_idle;
        for ((sock, tcp), bound) in listeners.pairs.into_iter().zip(listeners.addrs) {
            let tcp = {
                let _rt = runtime.enter();
                TcpListener::from_std(tcp).map_err(|source| ServerError::Bind { addr: bound, source })?
            };
            addrs.push(bound);
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .map_err(|source| ServerError::Bind { addr: bound, source })?;
            dont_fragment(&sock, bound);
            let sock = Arc::new(sock);
            for i in 0..opts.udp_workers.max(1) {
                let sock = sock.clone();
                let r = resolver.clone();
                let handle = runtime.handle().clone();
                let stop = shutdown.clone();
                let t = std::thread::Builder::new()
                    .name(format!("dns-udp-{i}"))
                    .spawn(move || udp_loop(&sock, &r, &handle, &stop))
                    .map_err(ServerError::Runtime)?;
                udp_threads.push(t);
            }
            let r = resolver.clone();
            spawn_accept(&runtime, tcp, conns.clone(), move |stream, peer| {
                stream_conn(stream, peer, r.clone(), idle, Transport::Tcp, None)
            });
        }
        let bind = |addr: SocketAddr| {
            runtime
                .block_on(TcpListener::bind(addr))
                .and_then(|l| Ok((l.local_addr()?, l)))
                .map_err(|source| ServerError::Bind { addr, source })
        };
        let (mut tls_addrs, mut https_addrs) = (Vec::new(), Vec::new());
        let mut cert = None;
        if let Some(enc) = &opts.encrypted {
            cert = Some(enc.cert.clone());
            // no ALPN required of DoT clients (RFC 7858 has none; refusing a client that offers
            // some other protocol list would only lose clients)
            let dot = TlsAcceptor::from(enc.cert.server_config(&[])?);
            for &addr in &enc.tls_listen {
                let (bound, l) = bind(addr)?;
                tls_addrs.push(bound);
                let (r, acceptor, name) = (resolver.clone(), dot.clone(), enc.tls_server_name.clone());
                spawn_accept(&runtime, l, conns.clone(), move |stream, peer| {
                    let (r, acceptor, name) = (r.clone(), acceptor.clone(), name.clone());
                    async move {
                        let tls = match tokio::time::timeout(idle, acceptor.accept(stream)).await {
                            Ok(Ok(t)) => t,
                            Ok(Err(e)) => return tracing::debug!(peer = %peer, error = %e, "DoT handshake failed"),
                            Err(_) => return tracing::debug!(peer = %peer, "DoT handshake timed out"),
                        };
                        let id = crate::tls::sni_client_id(tls.get_ref().1.server_name(), name.as_deref());
                        stream_conn(tls, peer, r, idle, Transport::Tls, id).await;
                    }
                });
            }
            let h = TlsAcceptor::from(
                enc.cert
                    .server_config(&[crate::tls::alpn::H2, crate::tls::alpn::HTTP11])?,
            );
            let ctx = Arc::new(crate::doh::DohContext {
                resolver: resolver.clone(),
                path: enc.https_path.clone(),
            });
            for &addr in &enc.https_listen {
                let (bound, l) = bind(addr)?;
                https_addrs.push(bound);
                let (ctx, acceptor) = (ctx.clone(), h.clone());
                spawn_accept(&runtime, l, conns.clone(), move |stream, peer| {
                    let (ctx, acceptor) = (ctx.clone(), acceptor.clone());
                    async move {
                        match tokio::time::timeout(idle, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => crate::doh::serve(tls, peer, ctx, idle).await,
                            Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "DoH handshake failed"),
                            Err(_) => tracing::debug!(peer = %peer, "DoH handshake timed out"),
                        }
                    }
                });
            }
        }
        if let Some(every) = resolver.upstreams().health_check_interval() {
            for i in 0..resolver.upstreams().list().len() {
                let r = resolver.clone();
                runtime.spawn(async move {
                    let mut tick = tokio::time::interval(every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        r.upstreams().probe(i).await;
                    }
                });
            }
        }
        Ok(Server {
            resolver,
            runtime,
            shutdown,
            udp_threads,
            addrs,
            tls_addrs,
            https_addrs,
            cert,
        })
    }

    /// The resolver.
    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    /// The runtime (for signal handling and other tasks).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// The DoT/DoH certificate, to re-read it on reload.
    pub fn cert(&self) -> Option<&Arc<CertStore>> {
        self.cert.as_ref()
    }

    /// Stops: UDP threads end within 200 ms, in-flight async work gets two seconds.
    pub fn stop(self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for t in self.udp_threads {
            let _ = t.join();
        }
        self.runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

/// Datagrams read (and answers written) per system call.
const UDP_BATCH: usize = 32;
/// Largest query datagram read; a bigger one is truncated and answered FORMERR.
const UDP_MAX_QUERY: usize = 4096;

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// Receives up to [`UDP_BATCH`] datagrams per `recvmmsg`, answers what it
/// can in place, and sends those answers with one `sendmmsg`; misses go to
/// the runtime. Cuts the per-query system-call cost under load.
fn udp_loop(sock: &Arc<StdUdpSocket>, r: &Arc<Resolver>, rt: &tokio::runtime::Handle, stop: &AtomicBool) {
    crate::resolver::mark_batching_thread();
    let mut batch = r.batch();
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; UDP_MAX_QUERY]; UDP_BATCH];
    let mut outs: Vec<Vec<u8>> = (0..UDP_BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut rhdr = MultiHeaders::<SockaddrStorage>::preallocate(UDP_BATCH, None);
    let mut shdr = MultiHeaders::<SockaddrStorage>::preallocate(UDP_BATCH, None);
    let mut received: Vec<(usize, Option<SockaddrStorage>)> = Vec::with_capacity(UDP_BATCH);
    let mut replies: Vec<(usize, SockaddrStorage)> = Vec::with_capacity(UDP_BATCH);
    while !stop.load(Ordering::Relaxed) {
        received.clear();
        {
            // nix ties the slices' lifetime to the call, so they are made per batch
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(&mut b[..])]).collect();
            match recvmmsg(fd, &mut rhdr, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(msgs) => {
                    crate::resolver::start_batch();
                    r.events().open_local_batch();
                    received.extend(msgs.map(|m| (m.bytes.min(UDP_MAX_QUERY), m.address)));
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                    r.events().flush_local_idle();
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive");
                    continue;
                }
            }
        }
        replies.clear();
        for (i, &(n, addr)) in received.iter().enumerate() {
            let Some(peer) = addr.as_ref().and_then(to_std) else {
                continue;
            };
            let packet = &bufs[i][..n];
            let out = &mut outs[i];
            match r.begin_batched(&mut batch, packet, peer.ip(), out) {
                Step::Answered { refresh } => {
                    if let Some(a) = addr {
                        replies.push((i, a));
                    }
                    if let Some(p) = refresh {
                        let r = r.clone();
                        rt.spawn(async move {
                            let mut o = Vec::new();
                            r.finish(p, &mut o).await;
                        });
                    }
                }
                Step::Forward(p) => {
                    let r = r.clone();
                    let sock = sock.clone();
                    rt.spawn(async move {
                        let mut o = Vec::with_capacity(1232);
                        if r.finish(p, &mut o).await {
                            let _ = sock.send_to(&o, peer);
                        }
                    });
                }
                Step::Drop | Step::Transfer(_) => {}
            }
        }
        r.end_batch(&mut batch);
        r.events().close_local_batch(crate::resolver::batch_latency_us());
        send_replies(fd, &mut shdr, &replies, &mut outs, |i| &bufs[i][..received[i].0]);
        // the query log's row is built here, after the answers went out
        r.events().commit_local_batch();
    }
    r.events().flush_local();
}

/// Sends the batch's answers with `sendmmsg`. The kernel stops at the
/// first datagram it refuses and reports how many went out; the rest are
/// sent after it. An answer refused as too large for the interface (Don't
/// Fragment is set) is replaced by a truncated one (TC: the client retries
/// over TCP); any other refusal costs only that answer.
fn send_replies<'q>(
    fd: std::os::fd::RawFd,
    hdr: &mut MultiHeaders<SockaddrStorage>,
    replies: &[(usize, SockaddrStorage)],
    outs: &mut [Vec<u8>],
    query: impl Fn(usize) -> &'q [u8],
) {
    let mut from = 0;
    let mut shrunk = usize::MAX;
    while from < replies.len() {
        let rest = &replies[from..];
        let sent = {
            let slices: Vec<[IoSlice<'_>; 1]> = rest.iter().map(|(i, _)| [IoSlice::new(&outs[*i])]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = rest.iter().map(|(_, a)| Some(*a)).collect();
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            sendmmsg(fd, hdr, &slices, &addrs, no_cmsgs, MsgFlags::empty()).map(|r| r.count())
        };
        match sent {
            Ok(0) => break,
            Ok(n) => from += n,
            Err(nix::errno::Errno::EMSGSIZE) if shrunk != from => {
                let i = replies[from].0;
                match wire::parse_query(query(i)) {
                    Ok(q) => {
                        wire::truncate_for_udp(&mut outs[i], &q, 512);
                        shrunk = from;
                    }
                    Err(_) => from += 1,
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "udp send");
                from += 1;
            }
        }
    }
}

/// Sets Don't Fragment on a UDP listener and ignores path-MTU updates
/// (`IP_PMTUDISC_PROBE`), as RFC 9715 recommends for DNS responders: an
/// answer never leaves in fragments, and a forged ICMP "fragmentation
/// needed" cannot make it. Answers are kept to the EDNS size (1232 by
/// default); one larger than the interface allows is sent truncated
/// instead. With DF set the kernel also skips per-packet IP-ID generation.
fn dont_fragment(sock: &StdUdpSocket, bound: SocketAddr) {
    use rustix::net::sockopt;
    let v4 = sockopt::set_ip_mtu_discover(sock, sockopt::Ipv4PathMtuDiscovery::PROBE);
    let r = if bound.is_ipv6() {
        // a dual-stack socket sends IPv4-mapped answers under the IPv4 setting
        sockopt::set_ipv6_mtu_discover(sock, sockopt::Ipv6PathMtuDiscovery::PROBE)
    } else {
        v4
    };
    if let Err(e) = r {
        tracing::debug!(error = %e, addr = %bound, "don't-fragment not set");
    }
}

/// Most queries in flight on one TCP connection.
const TCP_PIPELINE: usize = 64;

/// One connection of RFC 7766 framing (plain TCP, or DoT after the TLS
/// handshake): queries are read while earlier ones wait for upstreams,
/// answers go out in the order they are ready, and the connection closes
/// after `idle` without a query.
async fn stream_conn<S>(
    stream: S,
    peer: SocketAddr,
    r: Arc<Resolver>,
    idle: Duration,
    transport: Transport,
    client_id: Option<String>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_PIPELINE);
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let mut framed = Vec::with_capacity(msg.len() + 2);
            framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            framed.extend_from_slice(&msg);
            if wr.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let inflight = Arc::new(Semaphore::new(TCP_PIPELINE));
    loop {
        let len = match tokio::time::timeout(idle, rd.read_u16()).await {
            Ok(Ok(l)) => l as usize,
            _ => break, // idle, closed, or error
        };
        if len < 12 {
            r.metrics.malformed.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let mut buf = vec![0u8; len];
        match tokio::time::timeout(idle, rd.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let Ok(permit) = inflight.clone().acquire_owned().await else {
            break;
        };
        let mut out = Vec::with_capacity(512);
        match r.begin(&buf, peer.ip(), transport, client_id.as_deref(), &mut out) {
            Step::Answered { refresh } => {
                drop(permit);
                if tx.send(out).await.is_err() {
                    break;
                }
                if let Some(p) = refresh {
                    let r = r.clone();
                    tokio::spawn(async move {
                        let mut o = Vec::new();
                        r.finish(p, &mut o).await;
                    });
                }
            }
            Step::Forward(p) => {
                let r = r.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if r.finish(p, &mut out).await {
                        let _ = tx.send(out).await;
                    }
                    drop(permit);
                });
            }
            Step::Transfer(msgs) => {
                drop(permit);
                for m in msgs {
                    if tx.send(m).await.is_err() {
                        break;
                    }
                }
            }
            Step::Drop => drop(permit),
        }
    }
    drop(tx);
    // let answers still in flight go out (bounded by the pipeline)
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut p = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        p[..2].copy_from_slice(&id.to_be_bytes());
        wire::encode_name(name, &mut p).expect("name");
        p.extend_from_slice(&[0, 1, 0, 1]);
        p
    }

    fn receiver() -> (StdUdpSocket, SockaddrStorage) {
        let s = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let a = SockaddrStorage::from(s.local_addr().expect("addr"));
        (s, a)
    }

    /// Listeners send with Don't Fragment and ignore path-MTU updates.
    #[test]
    fn listeners_set_dont_fragment() {
        use rustix::net::sockopt;
        let s = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
        assert_ne!(
            sockopt::ip_mtu_discover(&s).expect("get"),
            sockopt::Ipv4PathMtuDiscovery::PROBE,
            "not the kernel default"
        );
        dont_fragment(&s, s.local_addr().expect("addr"));
        assert_eq!(
            sockopt::ip_mtu_discover(&s).expect("get"),
            sockopt::Ipv4PathMtuDiscovery::PROBE
        );
        if let Ok(s6) = StdUdpSocket::bind("[::1]:0") {
            dont_fragment(&s6, s6.local_addr().expect("addr"));
            assert_eq!(
                sockopt::ipv6_mtu_discover(&s6).expect("get"),
                sockopt::Ipv6PathMtuDiscovery::PROBE
            );
        }
    }

    /// One answer the kernel refuses does not cost the answers after it in
    /// the same `sendmmsg`; an answer too large to send goes out truncated.
    #[test]
    fn a_refused_answer_does_not_stop_the_batch() {
        let sender = StdUdpSocket::bind("127.0.0.1:0").expect("bind");
        let (r1, a1) = receiver();
        let (r2, a2) = receiver();
        // no SO_BROADCAST: the kernel refuses this one locally (EACCES), nothing leaves the host
        let broadcast = SockaddrStorage::from("255.255.255.255:9".parse::<SocketAddr>().expect("addr"));
        let mut bufs = vec![[0u8; UDP_MAX_QUERY]; 4];
        let mut received = Vec::new();
        let mut outs = Vec::new();
        for (i, name) in ["a.example", "b.example", "c.example", "d.example"].iter().enumerate() {
            let q = query(i as u16, name);
            bufs[i][..q.len()].copy_from_slice(&q);
            received.push(q.len());
            let mut answer = q.clone();
            answer[2] |= 0x80;
            outs.push(answer);
        }
        // the third answer is larger than any UDP datagram: EMSGSIZE
        outs[2].resize(70_000, 0);
        let replies = vec![(0, a1), (1, broadcast), (2, a2), (3, a2)];
        let mut hdr = MultiHeaders::<SockaddrStorage>::preallocate(replies.len(), None);
        send_replies(sender.as_raw_fd(), &mut hdr, &replies, &mut outs, |i| {
            &bufs[i][..received[i]]
        });
        let mut buf = [0u8; 2048];
        let n = r1.recv(&mut buf).expect("first answer");
        assert_eq!(&buf[..2], &0u16.to_be_bytes());
        assert_eq!(n, received[0]);
        let n = r2.recv(&mut buf).expect("truncated answer");
        assert_eq!(&buf[..2], &2u16.to_be_bytes());
        assert!(n < 512, "truncated to the question");
        assert_ne!(buf[2] & 0x02, 0, "TC set");
        r2.recv(&mut buf).expect("the answer after it");
        assert_eq!(&buf[..2], &3u16.to_be_bytes());
    }
}
