//! Listeners and lifecycle: UDP worker threads that answer cache hits and
//! blocks in place and hand misses to the async runtime; TCP per RFC 7766
//! (pipelining, out-of-order answers, idle timeout, a connection cap);
//! building the rules from a plan and lists; reload; shutdown.

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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use crate::config::{ListAction, ListConfig};
use crate::lists::{ListRule, ParsedList};
use crate::matcher::{MatcherBuilder, Rule, RuleSource};
use crate::resolver::{Resolver, State, Step};

/// A list read from disk, with where it came from.
pub struct LoadedList {
    /// Its settings.
    pub cfg: ListConfig,
    /// Its rules and problems.
    pub parsed: ParsedList,
}

/// Reads every configured list; a missing or unreadable file is reported
/// and yields an empty list (the resolver still starts).
pub fn load_lists(cfgs: &[ListConfig], base: Option<&Path>) -> Vec<LoadedList> {
    cfgs.iter()
        .map(|cfg| {
            let path = match base {
                Some(b) if cfg.path.is_relative() => b.join(&cfg.path),
                _ => cfg.path.clone(),
            };
            let parsed = match std::fs::File::open(&path) {
                Ok(f) => crate::lists::parse(std::io::BufReader::with_capacity(1 << 20, f), cfg.format),
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "list not loaded");
                    ParsedList {
                        skipped: 1,
                        errors: vec![crate::lists::ListError {
                            line: 0,
                            message: format!("{}: {e}", path.display()),
                        }],
                        ..ParsedList::default()
                    }
                }
            };
            if parsed.skipped > 0 {
                for e in parsed.errors.iter().take(5) {
                    tracing::warn!(list = %path.display(), line = e.line, problem = %e.message, "list line skipped");
                }
                tracing::warn!(list = %path.display(), skipped = parsed.skipped, "list lines skipped");
            }
            LoadedList {
                cfg: cfg.clone(),
                parsed,
            }
        })
        .collect()
}

/// Compiles a plan and lists into resolver rules.
pub fn build_state(plan: &EnforcementPlan, lists: &[LoadedList], generation: u64) -> State {
    let mut b = MatcherBuilder::new(plan);
    for l in lists {
        let mask = b.group_mask(&l.cfg.groups);
        let name: Arc<str> = l
            .cfg
            .name
            .clone()
            .unwrap_or_else(|| {
                l.cfg
                    .path
                    .file_name()
                    .map_or_else(|| "list".into(), |f| f.to_string_lossy().into_owned())
            })
            .into();
        let rule = Rule {
            source: RuleSource::List(name),
            answer: None,
        };
        let (mut blocks, mut allows) = (Vec::new(), Vec::new());
        for r in &l.parsed.rules {
            match r {
                ListRule::Block(d) => blocks.push(d.as_str()),
                ListRule::Allow(d) => allows.push(d.as_str()),
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
    /// TCP idle timeout.
    pub tcp_idle: Duration,
    /// TCP connection cap.
    pub tcp_max_connections: usize,
}

impl Server {
    /// Binds every listener and starts serving.
    pub fn start(resolver: Arc<Resolver>, opts: &ServeOptions) -> Result<Server, ServerError> {
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
        for &addr in &opts.listen {
            let sock = StdUdpSocket::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
            let bound = sock.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
            // TCP on the same port as the UDP socket actually got (port 0 in tests)
            let tcp = runtime
                .block_on(TcpListener::bind(bound))
                .map_err(|source| ServerError::Bind { addr: bound, source })?;
            addrs.push(bound);
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .map_err(|source| ServerError::Bind { addr, source })?;
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
            let idle = opts.tcp_idle;
            let conns = conns.clone();
            runtime.spawn(async move {
                loop {
                    let Ok((stream, peer)) = tcp.accept().await else {
                        continue;
                    };
                    let Ok(permit) = conns.clone().try_acquire_owned() else {
                        drop(stream); // over the cap: close at once
                        continue;
                    };
                    let r = r.clone();
                    tokio::spawn(async move {
                        tcp_conn(stream, peer, r, idle).await;
                        drop(permit);
                    });
                }
            });
        }
        Ok(Server {
            resolver,
            runtime,
            shutdown,
            udp_threads,
            addrs,
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
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; UDP_MAX_QUERY]; UDP_BATCH];
    let mut outs: Vec<Vec<u8>> = (0..UDP_BATCH).map(|_| Vec::with_capacity(1232)).collect();
    let mut rhdr = MultiHeaders::<SockaddrStorage>::preallocate(UDP_BATCH, None);
    let mut shdr = MultiHeaders::<SockaddrStorage>::preallocate(UDP_BATCH, None);
    let mut received: Vec<(usize, Option<SocketAddr>)> = Vec::with_capacity(UDP_BATCH);
    let mut replies: Vec<(usize, SockaddrStorage)> = Vec::with_capacity(UDP_BATCH);
    while !stop.load(Ordering::Relaxed) {
        received.clear();
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs.iter_mut().map(|b| [IoSliceMut::new(&mut b[..])]).collect();
            match recvmmsg(fd, &mut rhdr, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(msgs) => received.extend(msgs.map(|m| (m.bytes, m.address.as_ref().and_then(to_std)))),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                    r.events().flush_local();
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive");
                    continue;
                }
            }
        }
        replies.clear();
        for (i, &(n, peer)) in received.iter().enumerate() {
            let Some(peer) = peer else { continue };
            let packet = &bufs[i][..n.min(UDP_MAX_QUERY)];
            let out = &mut outs[i];
            match r.begin(packet, peer.ip(), Transport::Udp, None, out) {
                Step::Answered { refresh } => {
                    replies.push((i, SockaddrStorage::from(peer)));
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
        if !replies.is_empty() {
            let slices: Vec<[IoSlice<'_>; 1]> = replies.iter().map(|(i, _)| [IoSlice::new(&outs[*i])]).collect();
            let addrs: Vec<Option<SockaddrStorage>> = replies.iter().map(|(_, a)| Some(*a)).collect();
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            if let Err(e) = sendmmsg(fd, &mut shdr, &slices, &addrs, no_cmsgs, MsgFlags::empty()) {
                tracing::debug!(error = %e, "udp send");
            }
        }
    }
    r.events().flush_local();
}

/// Most queries in flight on one TCP connection.
const TCP_PIPELINE: usize = 64;

async fn tcp_conn(stream: tokio::net::TcpStream, peer: SocketAddr, r: Arc<Resolver>, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
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
        match r.begin(&buf, peer.ip(), Transport::Tcp, None, &mut out) {
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
