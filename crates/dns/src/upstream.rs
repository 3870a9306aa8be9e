//! Upstream resolvers: forwarding over UDP (retried over TCP when the answer
//! is truncated) and TCP, several upstreams ordered by health with failover,
//! and a deadline after which the client gets SERVFAIL.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::wire;

/// How to reach an upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamSpec {
    /// Plain DNS over UDP, TCP on truncation (`ADDR[:PORT]`).
    Plain(SocketAddr),
    /// Plain DNS over TCP only (`tcp://ADDR[:PORT]`).
    Tcp(SocketAddr),
}

impl UpstreamSpec {
    /// Parses `ADDR[:PORT]`, `[V6]:PORT`, `udp://…`, `tcp://…`. DoT (`tls://`) and
    /// DoH (`https://`) are refused with a clear message until they are supported.
    pub fn parse(s: &str) -> Result<UpstreamSpec, String> {
        let (scheme, rest) = match s.split_once("://") {
            Some((sch, r)) => (sch, r),
            None => ("udp", s),
        };
        let addr = parse_addr(rest, 53)?;
        match scheme {
            "udp" | "dns" => Ok(UpstreamSpec::Plain(addr)),
            "tcp" => Ok(UpstreamSpec::Tcp(addr)),
            "tls" | "https" => Err(format!(
                "`{s}`: DNS-over-TLS and DNS-over-HTTPS upstreams are not supported yet"
            )),
            other => Err(format!("`{s}`: unknown scheme `{other}` (udp://, tcp://)")),
        }
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            UpstreamSpec::Plain(a) | UpstreamSpec::Tcp(a) => *a,
        }
    }
}

impl std::fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamSpec::Plain(a) => write!(f, "{a}"),
            UpstreamSpec::Tcp(a) => write!(f, "tcp://{a}"),
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
    failures: u32,
    down_until: Option<Instant>,
    /// EWMA latency in microseconds.
    latency_us: f64,
}

/// One upstream with its health.
#[derive(Debug)]
pub struct Upstream {
    /// Where.
    pub spec: UpstreamSpec,
    /// Display name (for events and metrics).
    pub name: std::sync::Arc<str>,
    health: Mutex<Health>,
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

/// The set of upstreams.
#[derive(Debug)]
pub struct Upstreams {
    list: Vec<Upstream>,
    per_try: Duration,
    deadline: Duration,
    next_id: AtomicU16,
}

/// A forwarded answer.
#[derive(Debug)]
pub struct Forwarded {
    /// The response, id restored to the client's query id.
    pub response: Vec<u8>,
    /// Which upstream answered.
    pub upstream: std::sync::Arc<str>,
}

impl Upstreams {
    /// Upstreams with a per-try timeout and an overall deadline.
    pub fn new(specs: Vec<UpstreamSpec>, per_try: Duration, deadline: Duration) -> Upstreams {
        let seed = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            & 0xffff) as u16;
        Upstreams {
            list: specs
                .into_iter()
                .map(|spec| Upstream {
                    name: spec.to_string().into(),
                    spec,
                    health: Mutex::new(Health::default()),
                })
                .collect(),
            per_try,
            deadline,
            next_id: AtomicU16::new(seed),
        }
    }

    /// The upstreams.
    pub fn list(&self) -> &[Upstream] {
        &self.list
    }

    fn order(&self) -> Vec<usize> {
        let now = Instant::now();
        let mut idx: Vec<(bool, f64, usize)> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let h = u.health.lock().map(|h| *h).unwrap_or_default();
                let down = h.down_until.is_some_and(|t| t > now);
                (down, h.latency_us, i)
            })
            .collect();
        idx.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        idx.into_iter().map(|x| x.2).collect()
    }

    fn record(&self, i: usize, ok: bool, took: Duration) {
        if let Some(u) = self.list.get(i)
            && let Ok(mut h) = u.health.lock()
        {
            if ok {
                h.failures = 0;
                h.down_until = None;
                let us = took.as_micros() as f64;
                h.latency_us = if h.latency_us == 0.0 {
                    us
                } else {
                    h.latency_us * 0.8 + us * 0.2
                };
            } else {
                h.failures += 1;
                if h.failures >= 3 {
                    let backoff = Duration::from_secs(u64::from(h.failures.min(8)) * 2);
                    h.down_until = Some(Instant::now() + backoff);
                }
            }
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
            let id = self.next_id.fetch_add(0x9e37, Ordering::Relaxed);
            let mut q = query.to_vec();
            q[0..2].copy_from_slice(&id.to_be_bytes());
            let t0 = Instant::now();
            let u = &self.list[i];
            let res = tokio::time::timeout(budget, async {
                match u.spec {
                    UpstreamSpec::Plain(addr) => {
                        let r = udp_exchange(addr, &q, id).await?;
                        if r.len() > 2 && r[2] & 0x02 != 0 {
                            tcp_exchange(addr, &q, id).await
                        } else {
                            Ok(r)
                        }
                    }
                    UpstreamSpec::Tcp(addr) => tcp_exchange(addr, &q, id).await,
                }
            })
            .await;
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
        assert!(UpstreamSpec::parse("tls://dns.example:853").is_err());
        assert!(UpstreamSpec::parse("nonsense").is_err());
        let conf = "# c\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\noptions edns0\nsearch x\n";
        let ups = from_resolv_conf(conf);
        assert_eq!(ups.len(), 2);
        assert_eq!(ups[0].addr(), "127.0.0.53:53".parse().expect("addr"));
    }
}
