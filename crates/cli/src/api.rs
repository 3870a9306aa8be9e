//! The HTTP API of `appwarden serve` / `appwarden dns` (docs/dns.md, "HTTP API"):
//!
//! ```text
//! GET  /metrics                    Prometheus text (dns::metrics)
//! POST /api/reload                 reload policy and lists, as SIGHUP does
//! GET  /export                     formats and groups
//! GET  /export/{format}            the default group's plan in that format (ETag, If-None-Match)
//! GET  /export/{group}/{format}    one group's
//! POST /api/scan[?name=FILE]       scan an uploaded APK / XAPK / APKS / IPA, assess, store
//! GET  /api/scans                  stored scans, newest first
//! GET  /api/scans/{sha256}         one stored scan
//! ```
//!
//! It runs on the resolver's tokio runtime; everything that reads files,
//! renders or scans runs on the blocking pool. No handler unwraps: every
//! failure is a status code and a JSON `{"error": …}`.
//!
//! With a token (`--api-token-file`), every request must carry
//! `Authorization: Bearer TOKEN`; others get 401 and are logged with their
//! peer address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use catalog::Day;
use export::{ExportError, Format};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::scans::{ScanStore, ScanSummary};

use crate::serve::Live;

/// Largest accepted upload for `POST /api/scan`.
const MAX_UPLOAD: usize = 200 * 1024 * 1024;

/// Scans running at once (each holds its package in memory).
const MAX_CONCURRENT_SCANS: usize = 2;

struct Api {
    live: Arc<Live>,
    scans: Option<Arc<Mutex<ScanStore>>>,
    scan_slots: tokio::sync::Semaphore,
}

type Shared = Arc<Api>;

/// Binds `addr` and serves the API on `rt`; returns the bound address.
pub(crate) fn spawn(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    live: Arc<Live>,
    data_dir: &Path,
) -> Result<SocketAddr> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("HTTP API: binding {addr} (give another with --api ADDR:PORT, or --api off)"))?;
    let bound = listener.local_addr().context("HTTP API: local address")?;
    match (live.api_token.load().is_some(), bound.ip().is_loopback()) {
        (false, false) => tracing::warn!(
            api = %bound,
            "the HTTP API has no authentication (set --api-token-file); expose it only to trusted networks"
        ),
        (true, false) => tracing::info!(
            api = %bound,
            "the HTTP API needs its token; it is plain HTTP, so keep it on a trusted network or behind a TLS proxy"
        ),
        _ => {}
    }
    let scans = match ScanStore::open(data_dir) {
        Ok(s) => Some(Arc::new(Mutex::new(s))),
        Err(e) => {
            tracing::warn!(error = %e, "scan results cannot be stored; /api/scan is unavailable");
            None
        }
    };
    let app = router(Arc::new(Api {
        live,
        scans,
        scan_slots: tokio::sync::Semaphore::new(MAX_CONCURRENT_SCANS),
    }));
    rt.spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP API stopped");
        }
    });
    Ok(bound)
}

fn router(api: Shared) -> Router {
    let auth = middleware::from_fn_with_state(api.clone(), authorize);
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/api/reload", post(reload))
        .route("/export", get(export_list))
        .route("/export/{format}", get(export_default))
        .route("/export/{group}/{format}", get(export_group))
        .route("/api/scan", post(scan).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/api/scans", get(scan_list))
        .route("/api/scans/{sha256}", get(scan_get))
        .fallback(not_found)
        .layer(auth)
        .with_state(api)
}

/// Lets a request through when no token is set or it carries the token
/// (`Authorization: Bearer TOKEN`); otherwise 401. The token in force is the
/// one the last successful reload read. It is compared by its SHA-256, so
/// the time taken says nothing about how much of it matched.
async fn authorize(State(api): State<Shared>, request: Request, next: Next) -> Response {
    let want = api.live.api_token.load_full();
    let Some(want) = want.as_deref() else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| crate::serve::token_digest(t.trim()));
    if given.is_some_and(|g| g == *want) {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let why = if given.is_some() {
        "wrong token"
    } else {
        "no bearer token"
    };
    tracing::warn!(peer = %peer, path = %request.uri().path(), why, "HTTP API: request refused");
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "this API needs `Authorization: Bearer TOKEN` (the token in --api-token-file)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"appwarden\""),
    );
    r
}

/// A JSON error response.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, &serde_json::json!({ "error": message.into() }))
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint (GET / lists them)")
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "appwarden HTTP API\n\
         GET  /metrics                  Prometheus metrics\n\
         POST /api/reload               reload policy and lists\n\
         GET  /export                   export formats and groups\n\
         GET  /export/FORMAT            the default group's plan in FORMAT\n\
         GET  /export/GROUP/FORMAT      a group's plan in FORMAT\n\
         POST /api/scan?name=FILE       scan an APK / XAPK / APKS / IPA (body)\n\
         GET  /api/scans                stored scans\n\
         GET  /api/scans/SHA256         one stored scan\n",
    )
        .into_response()
}

async fn metrics(State(api): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, dns::metrics::CONTENT_TYPE)],
        dns::metrics::render_prometheus(&api.live.resolver),
    )
        .into_response()
}

/// Runs `f` on the blocking pool; a panic in it is a 500, not a dead connection.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "API task failed");
        error(StatusCode::INTERNAL_SERVER_ERROR, "internal error (see the server log)")
    })
}

async fn reload(State(api): State<Shared>) -> Response {
    let live = api.live.clone();
    match blocking(move || live.reload()).await {
        Ok(Ok(r)) => {
            tracing::info!(
                generation = r.generation,
                domains = r.domains,
                "policy and lists reloaded (API)"
            );
            json(StatusCode::OK, &serde_json::to_value(&r).unwrap_or_default())
        }
        Ok(Err(e)) => {
            let message = format!("{e:#}");
            tracing::error!(error = %message, "reload failed; keeping the running rules");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({
                    "error": message,
                    "generation": api.live.generation.load(std::sync::atomic::Ordering::SeqCst),
                    "note": "the running rules stay in force",
                }),
            )
        }
        Err(r) => r,
    }
}

async fn export_list(State(api): State<Shared>) -> Response {
    let plan = api.live.plan.load_full();
    let formats: Vec<serde_json::Value> = Format::ALL
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name(),
                "extension": f.file_extension(),
                "kind": if f.is_device_format() { "device" } else { "network" },
                "content_type": content_type(*f),
                "description": f.description(),
            })
        })
        .collect();
    let groups: Vec<&str> = plan.groups.iter().map(|g| g.id.as_str()).collect();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "default_group": export::default_group(&plan).ok(),
            "groups": groups,
            "formats": formats,
        }),
    )
}

async fn export_default(State(api): State<Shared>, UrlPath(format): UrlPath<String>, headers: HeaderMap) -> Response {
    export_one(api, None, format, headers).await
}

async fn export_group(
    State(api): State<Shared>,
    UrlPath((group, format)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    export_one(api, Some(group), format, headers).await
}

/// The content type of a format's files.
fn content_type(f: Format) -> &'static str {
    match f.file_extension() {
        "json" => "application/json",
        "mobileconfig" => "application/x-apple-aspen-config",
        "xml" => "application/xml",
        "csv" => "text/csv; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, RFC 9110 13.1.2).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
        })
    })
}

async fn export_one(api: Shared, group: Option<String>, format: String, headers: HeaderMap) -> Response {
    let format = match Format::from_name(&format) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::NOT_FOUND, format!("{e} (GET /export lists them)")),
    };
    let plan = api.live.plan.load_full();
    let rendered = blocking(move || {
        let group = match group {
            Some(g) => g,
            None => export::default_group(&plan)?.to_string(),
        };
        export::render(&plan, format, &group, &export::Options::default()).map(|bytes| (group, bytes))
    })
    .await;
    let (group, bytes) = match rendered {
        Ok(Ok(r)) => r,
        Ok(Err(e @ (ExportError::UnknownGroup(_) | ExportError::InvalidGroupId(_) | ExportError::NoDefaultGroup))) => {
            return error(StatusCode::NOT_FOUND, format!("{e} (GET /export lists the groups)"));
        }
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(r) => return r,
    };
    let etag = format!("\"{}\"", hex(&Sha256::digest(&bytes)));
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if none_match(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(format)));
    // group ids are checked by the exporter (lowercase letters, digits, '-', '_')
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"{group}-{}.{}\"",
        format.name(),
        format.file_extension()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    (StatusCode::OK, h, Body::from(bytes)).into_response()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[derive(Deserialize)]
struct ScanQuery {
    name: Option<String>,
}

/// A file name as given with an upload, reduced to its last path component and printable characters.
fn clean_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let s: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    (!s.trim().is_empty()).then_some(s)
}

async fn scan(State(api): State<Shared>, Query(q): Query<ScanQuery>, body: Bytes) -> Response {
    let Some(store) = api.scans.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scan store could not be opened (see the server log)",
        );
    };
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "empty body: POST the package (APK, XAPK, APKS or IPA) as the request body",
        );
    }
    let Ok(_slot) = api.scan_slots.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    let live = api.live.clone();
    let name = q.name.as_deref().and_then(clean_name);
    let result = blocking(move || -> Result<serde_json::Value, (StatusCode, String)> {
        let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
        let mut opts = appscan::ScanOptions::default();
        opts.limits.max_input_bytes = opts.limits.max_input_bytes.max(MAX_UPLOAD as u64);
        let shown = name.as_deref().unwrap_or("<upload>");
        let report = match appscan::scan_bytes(&body, name.as_deref(), &opts) {
            Ok(r) => r,
            Err(e @ appscan::ScanError::InputTooLarge { .. }) => {
                return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("{shown}: {e}")));
            }
            Err(e) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("{shown}: not a readable APK, XAPK, APKS or IPA: {e}"),
                ));
            }
        };
        let policy = live.policy.load_full();
        let value = crate::scan_cmd::report_value(&policy, &report, Day::today_utc())
            .map_err(|e| internal(format!("{e:#}")))?;
        let text = |p: &str| value.pointer(p).and_then(serde_json::Value::as_str).map(str::to_string);
        let summary = ScanSummary {
            sha256: report.input.sha256.clone(),
            file_name: name.clone(),
            package: text("/identity/identifier"),
            decided: text("/assessment/decision"),
            stored_ms: store::now_ms(),
        };
        let json = serde_json::to_string(&value).map_err(|e| internal(e.to_string()))?;
        store
            .lock()
            .map_err(|_| internal("scan store unavailable".into()))?
            .put(&summary, &json)
            .map_err(|e| internal(e.to_string()))?;
        tracing::info!(
            sha256 = %summary.sha256,
            package = summary.package.as_deref().unwrap_or("?"),
            decision = summary.decided.as_deref().unwrap_or("?"),
            "package scanned (API)"
        );
        Ok(value)
    })
    .await;
    match result {
        Ok(Ok(value)) => json(StatusCode::OK, &value),
        Ok(Err((status, message))) => error(status, message),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn scan_list(State(api): State<Shared>, Query(q): Query<ListQuery>) -> Response {
    let Some(store) = api.scans.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scan store could not be opened (see the server log)",
        );
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let listed = blocking(move || {
        let s = store.lock().map_err(|_| "scan store unavailable".to_string())?;
        s.list(limit).map_err(|e| e.to_string())
    })
    .await;
    match listed {
        Ok(Ok(scans)) => json(StatusCode::OK, &serde_json::json!({ "scans": scans })),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(r) => r,
    }
}

async fn scan_get(State(api): State<Shared>, UrlPath(sha256): UrlPath<String>) -> Response {
    let Some(store) = api.scans.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scan store could not be opened (see the server log)",
        );
    };
    let sha256 = sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return error(
            StatusCode::BAD_REQUEST,
            "expected the package's SHA-256 (64 hex digits)",
        );
    }
    let key = sha256.clone();
    let got = blocking(move || {
        let s = store.lock().map_err(|_| "scan store unavailable".to_string())?;
        s.get(&key).map_err(|e| e.to_string())
    })
    .await;
    match got {
        Ok(Ok(Some(scan))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            scan.report,
        )
            .into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no stored scan with sha256 {sha256}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let etag = "\"abc\"";
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(none_match(&h, etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abd\""));
        assert!(!none_match(&h, etag));
    }

    #[test]
    fn upload_names_are_cleaned() {
        assert_eq!(clean_name("../../x/app.apk").as_deref(), Some("app.apk"));
        assert_eq!(clean_name("a\nb.ipa").as_deref(), Some("ab.ipa"));
        assert_eq!(clean_name("dir/"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Format::AppleMobileconfig),
            "application/x-apple-aspen-config"
        );
        assert_eq!(content_type(Format::AmapiPolicy), "application/json");
        assert_eq!(content_type(Format::AppLocker), "application/xml");
        assert!(content_type(Format::UnboundLocalZone).starts_with("text/plain"));
    }
}
