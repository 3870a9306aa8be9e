//! The one HTTP client stack (hyper 1 over tokio-rustls), shared by DoH
//! upstreams (HTTP/2, one connection kept and multiplexed) and list
//! downloads (HTTP/2 or HTTP/1.1 by ALPN over TLS, HTTP/1.1 for `http://`).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use crate::tls::alpn;

/// An `http://` or `https://` URL, split the way a connection needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https://`.
    pub https: bool,
    /// Host as written (a name, an IPv4 address, or an IPv6 address without brackets).
    pub host: String,
    /// Port (default 443 / 80).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
    /// The TLS name to verify when it differs from the host (`#NAME`).
    pub tls_name: Option<String>,
}

impl HttpUrl {
    /// Parses `http[s]://HOST[:PORT][/PATH][#TLSNAME]` (HOST may be `[IPv6]`).
    pub fn parse(s: &str) -> Result<HttpUrl, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("`{s}`: not an http:// or https:// URL"));
        };
        let (rest, tls_name) = match rest.split_once('#') {
            Some((r, n)) if !n.is_empty() => (r, Some(n.to_ascii_lowercase())),
            Some((r, _)) => (r, None),
            None => (rest, None),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(format!("`{s}`: credentials in URLs are not supported"));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) =
            split_host_port(authority, default_port).ok_or_else(|| format!("`{s}`: bad host or port"))?;
        Ok(HttpUrl {
            https,
            host,
            port,
            path,
            tls_name,
        })
    }

    /// `host[:port]` for the Host header / `:authority`.
    pub fn authority(&self) -> String {
        let host = self.tls_name.as_deref().unwrap_or(&self.host);
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        if self.port == if self.https { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The name the server's certificate must carry.
    pub fn server_name(&self) -> &str {
        self.tls_name.as_deref().unwrap_or(&self.host)
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{host}:{}{}", self.port, self.path)?;
        if let Some(n) = &self.tls_name {
            write!(f, "#{n}")?;
        }
        Ok(())
    }
}

/// Splits `HOST[:PORT]` / `[V6][:PORT]`; `None` for an empty host or a bad port.
pub fn split_host_port(s: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse().ok()?),
            None if after.is_empty() => (h, default_port),
            None => return None,
        }
    } else if s.matches(':').count() > 1 {
        (s, default_port) // a bare IPv6 address
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (s, default_port),
        }
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// Where to connect and how to make sure it is the right server.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// Host as in the URL (resolved with the system resolver when not an address).
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// TLS: the client configuration (with ALPN) and the name to verify.
    pub tls: Option<(Arc<ClientConfig>, &'a str)>,
}

/// A connected HTTP client connection.
#[derive(Debug)]
pub enum Sender {
    /// HTTP/1.1 (one request at a time).
    H1(http1::SendRequest<Full<Bytes>>),
    /// HTTP/2 (multiplexed; clones share the connection).
    H2(http2::SendRequest<Full<Bytes>>),
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Resolves `host:port` (an address at once, a name through the system resolver).
pub async fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| io_err(format!("{host}: no address")))
}

/// Opens a TCP (and TLS) connection and the HTTP connection ALPN chose
/// (HTTP/1.1 without TLS or without ALPN). The connection runs in a task of
/// its own and ends when every clone of the sender is dropped.
pub async fn connect(t: Target<'_>) -> std::io::Result<Sender> {
    let addr = resolve(t.host, t.port).await?;
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    match t.tls {
        Some((cfg, name)) => {
            let name = ServerName::try_from(name.to_string()).map_err(io_err)?;
            let tls = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(alpn::H2);
            handshake(TokioIo::new(tls), h2).await
        }
        None => handshake(TokioIo::new(tcp), false).await,
    }
}

async fn handshake<T>(io: TokioIo<T>, h2: bool) -> std::io::Result<Sender>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if h2 {
        let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.map_err(io_err)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "http/2 client connection ended");
            }
        });
        Ok(Sender::H2(send))
    } else {
        let (send, conn) = http1::handshake(io).await.map_err(io_err)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "http/1.1 client connection ended");
            }
        });
        Ok(Sender::H1(send))
    }
}

impl Sender {
    /// Whether the connection is gone (a new one is needed).
    pub fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Whether it is HTTP/2.
    pub fn is_h2(&self) -> bool {
        matches!(self, Sender::H2(_))
    }

    /// Sends `req`. `req`'s URI is a path; the scheme and `authority` are
    /// added for HTTP/2 and the Host header for HTTP/1.1.
    pub async fn send(
        &mut self,
        mut req: Request<Full<Bytes>>,
        https: bool,
        authority: &str,
    ) -> std::io::Result<Response<Incoming>> {
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), ToString::to_string);
        match self {
            Sender::H1(s) => {
                let host = hyper::header::HeaderValue::from_str(authority).map_err(io_err)?;
                req.headers_mut().insert(hyper::header::HOST, host);
                s.ready().await.map_err(io_err)?;
                s.send_request(req).await.map_err(io_err)
            }
            Sender::H2(s) => {
                let scheme = if https { "https" } else { "http" };
                *req.uri_mut() = format!("{scheme}://{authority}{path}").parse().map_err(io_err)?;
                s.ready().await.map_err(io_err)?;
                s.send_request(req).await.map_err(io_err)
            }
        }
    }
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(resp: Response<Incoming>, limit: usize) -> std::io::Result<Bytes> {
    Limited::new(resp.into_body(), limit)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                io_err(format!("body larger than {limit} bytes"))
            } else {
                io_err(e)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = HttpUrl::parse("https://1.1.1.1/dns-query#Cloudflare-DNS.com").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("1.1.1.1", 443, "/dns-query")
        );
        assert_eq!(u.server_name(), "cloudflare-dns.com");
        assert_eq!(u.authority(), "cloudflare-dns.com");
        let u = HttpUrl::parse("http://[::1]:8080?x=1").expect("url");
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 8080, "/?x=1"));
        assert_eq!(u.authority(), "[::1]:8080");
        let u = HttpUrl::parse("https://lists.example/a/b.txt").expect("url");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("lists.example", 443, "/a/b.txt")
        );
        assert!(HttpUrl::parse("ftp://x/").is_err());
        assert!(HttpUrl::parse("https://:443/").is_err());
        assert!(HttpUrl::parse("https://host:99999/").is_err());
        assert!(HttpUrl::parse("https://user@host/").is_err());
    }
}
