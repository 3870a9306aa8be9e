//! The DNS-over-HTTPS listener (RFC 8484): `GET PATH?dns=BASE64URL` and
//! `POST PATH` with `application/dns-message`, over HTTP/2 or HTTP/1.1
//! (ALPN `h2`, `http/1.1`), `PATH/ID` carrying a client id.
//!
//! | request | answer |
//! |---|---|
//! | a DNS query | 200 `application/dns-message`, `cache-control: max-age=<smallest TTL>` |
//! | missing or bad `dns` parameter, a body that is no query | 400 |
//! | another path, or a client id that is not a DNS label | 404 |
//! | a method other than GET/POST | 405 with `allow: GET, POST` |
//! | a body over 65535 bytes | 413 |
//! | a POST not of `application/dns-message` | 415 |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use store::Transport;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::resolver::{Resolver, Step};

/// The DoH media type.
pub const DNS_MESSAGE: &str = "application/dns-message";
/// Largest DNS message accepted (RFC 8484 §6: at most 65535 bytes).
const MAX_MESSAGE: usize = 65535;
/// Concurrent HTTP/2 streams per connection.
const MAX_STREAMS: u32 = 64;

/// What every DoH connection shares.
pub(crate) struct DohContext {
    /// The resolver.
    pub resolver: Arc<Resolver>,
    /// The path, without a trailing slash.
    pub path: String,
}

/// Serves one TLS connection until the client closes it or it has been
/// idle for `idle`.
pub(crate) async fn serve<S>(stream: S, peer: SocketAddr, ctx: Arc<DohContext>, idle: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(IdleIo {
        inner: stream,
        activity: activity.clone(),
    });
    let svc = hyper::service::service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(handle(req, peer, &ctx).await) }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(MAX_MESSAGE * 2)
        .http2()
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(32 * 1024);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let tick = (idle / 4).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(peer = %peer, error = %e, "DoH connection ended");
                }
                return;
            }
            () = tokio::time::sleep(tick) => {
                if activity.idle_for() >= idle {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}

fn text(status: StatusCode, msg: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(msg.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The client id in `PATH/ID`: `Ok(None)` for `PATH` itself, `Err` for another path.
fn client_id<'a>(path: &'a str, base: &str) -> Result<Option<&'a str>, ()> {
    match path.strip_prefix(base) {
        Some("" | "/") => Ok(None),
        Some(rest) => {
            let id = rest.strip_prefix('/').ok_or(())?;
            let id = id.strip_suffix('/').unwrap_or(id);
            let label = !id.is_empty() && id.len() <= 63 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if label { Ok(Some(id)) } else { Err(()) }
        }
        None => Err(()),
    }
}

/// The `dns` parameter of a query string, base64url-decoded (padding tolerated).
fn dns_param(query: &str) -> Option<Vec<u8>> {
    let value = query.split('&').find_map(|kv| kv.strip_prefix("dns="))?;
    let value = value.trim_end_matches("%3D").trim_end_matches('=');
    if value.len() > MAX_MESSAGE * 4 / 3 + 4 {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok()
}

/// What a DoH request target says: the client id of `PATH/ID` and the
/// decoded `dns` parameter of a GET; `None` when the path is not the DoH
/// path (404). The listener's own reading; public for the fuzz target.
pub fn request_target<'a>(
    path: &'a str,
    query: Option<&str>,
    base: &str,
) -> Option<(Option<&'a str>, Option<Vec<u8>>)> {
    let id = client_id(path, base).ok()?;
    Some((id, query.and_then(dns_param)))
}

async fn handle(req: Request<Incoming>, peer: SocketAddr, ctx: &DohContext) -> Response<Full<Bytes>> {
    let r = &ctx.resolver;
    let id = match client_id(req.uri().path(), &ctx.path) {
        Ok(id) => id.map(str::to_ascii_lowercase),
        Err(()) => return text(StatusCode::NOT_FOUND, "not found\n"),
    };
    let msg = if req.method() == Method::GET {
        match req.uri().query().and_then(dns_param) {
            Some(m) => m,
            None => {
                r.metrics.malformed.fetch_add(1, Ordering::Relaxed);
                return text(StatusCode::BAD_REQUEST, "missing or malformed `dns` parameter\n");
            }
        }
    } else if req.method() == Method::POST {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if !ct.is_some_and(|c| c.eq_ignore_ascii_case(DNS_MESSAGE)) {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected content-type application/dns-message\n",
            );
        }
        match Limited::new(req.into_body(), MAX_MESSAGE).collect().await {
            Ok(b) => b.to_bytes().to_vec(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                r.metrics.malformed.fetch_add(1, Ordering::Relaxed);
                return text(StatusCode::PAYLOAD_TOO_LARGE, "a DNS message is at most 65535 bytes\n");
            }
            Err(_) => return text(StatusCode::BAD_REQUEST, "incomplete body\n"),
        }
    } else {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "GET or POST\n");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return resp;
    };
    let mut out = Vec::with_capacity(512);
    let answered = match r.begin(&msg, peer.ip(), Transport::Https, id.as_deref(), &mut out) {
        Step::Answered { refresh } => {
            if let Some(p) = refresh {
                let r = r.clone();
                tokio::spawn(async move {
                    let mut o = Vec::new();
                    r.finish(p, &mut o).await;
                });
            }
            true
        }
        Step::Forward(p) => r.finish(p, &mut out).await,
        Step::Drop | Step::Transfer(_) => false,
    };
    if !answered || out.is_empty() {
        return text(StatusCode::BAD_REQUEST, "not a DNS query\n");
    }
    let ttl = crate::wire::min_ttl(&out);
    let mut resp = Response::new(Full::new(Bytes::from(out)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
    if let Some(ttl) = ttl
        && let Ok(v) = HeaderValue::from_str(&format!("max-age={ttl}"))
    {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp
}

/// When a connection last moved bytes.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A stream that notes every read and write, for the idle timeout.
struct IdleIo<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_params() {
        assert_eq!(client_id("/dns-query", "/dns-query"), Ok(None));
        assert_eq!(client_id("/dns-query/", "/dns-query"), Ok(None));
        assert_eq!(client_id("/dns-query/kids", "/dns-query"), Ok(Some("kids")));
        assert_eq!(client_id("/dns-query/kids/", "/dns-query"), Ok(Some("kids")));
        assert_eq!(client_id("/dns-query/a/b", "/dns-query"), Err(()));
        assert_eq!(client_id("/dns-queryx", "/dns-query"), Err(()));
        assert_eq!(client_id("/other", "/dns-query"), Err(()));
        assert_eq!(
            dns_param("dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB").map(|m| m.len()),
            Some(33)
        );
        assert_eq!(dns_param("ct&dns=AAAB").map(|m| m.len()), Some(3));
        assert_eq!(dns_param("dns=AAAB%3D%3D").map(|m| m.len()), Some(3));
        assert_eq!(dns_param("dns=!!!"), None);
        assert_eq!(dns_param("x=1"), None);
    }
}
