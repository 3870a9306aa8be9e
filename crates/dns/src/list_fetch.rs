//! Lists downloaded from URLs (`[[dns.lists]] url = "https://…"`): kept
//! under `DATA_DIR/lists/` so a restart works offline, downloaded again
//! every `refresh` with a conditional GET (`If-None-Match` /
//! `If-Modified-Since`), size-limited. A failed download keeps the previous
//! copy (logged and counted); a download with new content triggers the same
//! reload as SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use sha2::Digest as _;

use crate::config::{DnsConfig, ListSource};
use crate::http_client::{self, HttpUrl, Target};
use crate::resolver::Resolver;
use crate::tls::{ClientTls, alpn};

/// How long one download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed.
const MAX_REDIRECTS: usize = 3;
/// After a failed download, the next try comes after at most this.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

fn stem(data_dir: &Path, url: &str) -> PathBuf {
    let digest = sha2::Sha256::digest(url.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    data_dir.join("lists").join(hex)
}

/// Where the downloaded copy of `url` is kept.
pub fn cache_path(data_dir: &Path, url: &str) -> PathBuf {
    stem(data_dir, url).with_extension("list")
}

fn meta_path(data_dir: &Path, url: &str) -> PathBuf {
    stem(data_dir, url).with_extension("meta")
}

/// What the last download said, for the conditional GET.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Meta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// When the copy was last confirmed current (Unix seconds).
    checked: u64,
}

impl Meta {
    fn read(path: &Path) -> Meta {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut m = Meta::default();
        for line in text.lines() {
            match line.split_once(": ") {
                Some(("url", v)) => m.url = v.to_string(),
                Some(("etag", v)) => m.etag = Some(v.to_string()),
                Some(("last-modified", v)) => m.last_modified = Some(v.to_string()),
                Some(("checked", v)) => m.checked = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        m
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut text = format!("url: {}\nchecked: {}\n", self.url, self.checked);
        for (k, v) in [("etag", &self.etag), ("last-modified", &self.last_modified)] {
            if let Some(v) = v {
                text.push_str(&format!("{k}: {v}\n"));
            }
        }
        write_atomically(path, text.as_bytes())
    }
}

fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The result of one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// 304 Not Modified.
    NotModified,
    /// 200 with the same content as the kept copy.
    Unchanged,
    /// New content, now kept.
    Changed,
}

/// Downloads lists into the data directory.
#[derive(Debug, Clone)]
pub struct ListFetcher {
    tls: Arc<ClientTls>,
    data_dir: PathBuf,
    max_bytes: usize,
}

impl ListFetcher {
    /// A fetcher keeping copies under `data_dir/lists/`, refusing bodies over `max_bytes`.
    pub fn new(tls: Arc<ClientTls>, data_dir: &Path, max_bytes: usize) -> ListFetcher {
        ListFetcher {
            tls,
            data_dir: data_dir.to_path_buf(),
            max_bytes,
        }
    }

    /// Downloads `url` once (conditionally when a copy is kept) and keeps a new copy.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        tokio::time::timeout(FETCH_TIMEOUT, self.fetch_inner(url))
            .await
            .map_err(|_| format!("no complete answer within {FETCH_TIMEOUT:?}"))?
    }

    async fn fetch_inner(&self, url: &str) -> Result<Fetched, String> {
        let cache = cache_path(&self.data_dir, url);
        let meta_file = meta_path(&self.data_dir, url);
        let kept = std::fs::read(&cache).ok();
        let mut meta = Meta::read(&meta_file);
        if kept.is_none() || meta.url != url {
            meta = Meta::default();
        }
        let mut target = HttpUrl::parse(url)?;
        let mut redirects = 0;
        let resp = loop {
            let tls = match target.https {
                true => Some((
                    self.tls.config(&[alpn::H2, alpn::HTTP11]).map_err(|e| e.to_string())?,
                    target.server_name(),
                )),
                false => None,
            };
            let mut sender = http_client::connect(Target {
                host: &target.host,
                port: target.port,
                tls,
            })
            .await
            .map_err(|e| format!("connecting to {}:{}: {e}", target.host, target.port))?;
            let mut req = hyper::Request::get(target.path.as_str())
                .header(header::USER_AGENT, concat!("appwarden/", env!("CARGO_PKG_VERSION")))
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            let h = req.headers_mut();
            if let Some(v) = meta.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(header::IF_NONE_MATCH, v);
            }
            if let Some(v) = meta
                .last_modified
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                h.insert(header::IF_MODIFIED_SINCE, v);
            }
            let resp = sender
                .send(req, target.https, &target.authority())
                .await
                .map_err(|e| e.to_string())?;
            if resp.status().is_redirection() && resp.status() != StatusCode::NOT_MODIFIED {
                let loc = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("HTTP {} without a location", resp.status()))?;
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(format!("more than {MAX_REDIRECTS} redirects"));
                }
                target = if loc.starts_with('/') {
                    HttpUrl {
                        path: loc.to_string(),
                        ..target
                    }
                } else {
                    HttpUrl::parse(loc)?
                };
                continue;
            }
            break resp;
        };
        let header_text = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, last_modified) = (header_text(header::ETAG), header_text(header::LAST_MODIFIED));
        let status = resp.status();
        let outcome = if status == StatusCode::NOT_MODIFIED && kept.is_some() {
            Fetched::NotModified
        } else if status == StatusCode::OK {
            let declared = resp
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > self.max_bytes as u64) {
                return Err(format!("list larger than the limit of {} bytes", self.max_bytes));
            }
            let body = http_client::read_body(resp, self.max_bytes)
                .await
                .map_err(|e| e.to_string())?;
            if kept.as_deref() == Some(&body[..]) {
                Fetched::Unchanged
            } else {
                write_atomically(&cache, &body).map_err(|e| format!("{}: {e}", cache.display()))?;
                Fetched::Changed
            }
        } else {
            return Err(format!("HTTP {status}"));
        };
        let meta = Meta {
            url: url.to_string(),
            etag: etag.or(meta.etag.filter(|_| outcome == Fetched::NotModified)),
            last_modified: last_modified.or(meta.last_modified.filter(|_| outcome == Fetched::NotModified)),
            checked: now_unix(),
        };
        if let Err(e) = meta.write(&meta_file) {
            tracing::warn!(file = %meta_file.display(), error = %e, "list download state not saved");
        }
        Ok(outcome)
    }

    /// How long until `url` is due, given its refresh interval: at once
    /// without a kept copy, else what is left of `every` since the last check.
    pub fn due_in(&self, url: &str, every: Duration) -> Duration {
        if !cache_path(&self.data_dir, url).exists() {
            return Duration::ZERO;
        }
        let meta = Meta::read(&meta_path(&self.data_dir, url));
        if meta.url != url {
            return Duration::ZERO;
        }
        let age = Duration::from_secs(now_unix().saturating_sub(meta.checked));
        every.saturating_sub(age)
    }
}

/// What a reload calls: rebuilds the rules from the policy and the kept lists.
type OnChange = dyn Fn() -> Result<(), String> + Send + Sync;

/// The downloads of a configuration's URL lists, each on its own
/// schedule. [`ListRefresh::update`] starts the downloads a reloaded
/// configuration adds and stops the ones it drops, so a list URL added to
/// the policy takes effect on SIGHUP or `POST /api/reload`, no restart.
pub struct ListRefresh {
    rt: tokio::runtime::Handle,
    resolver: Arc<Resolver>,
    fetcher: Arc<ListFetcher>,
    on_change: Arc<OnChange>,
    /// Running downloads by (URL, refresh interval).
    tasks: std::sync::Mutex<std::collections::HashMap<(String, Duration), tokio::task::JoinHandle<()>>>,
}

/// Starts one refresh task per `url` list of `cfg` on `rt`: downloads are
/// counted in `resolver`'s metrics, and `on_change` (the reload, run on a
/// blocking thread) follows every download with new content. Call
/// [`ListRefresh::update`] with each reloaded configuration. The size limit
/// (`list_max_mib`) is the one at start.
pub fn spawn_refresh<F>(
    rt: &tokio::runtime::Handle,
    resolver: &Arc<Resolver>,
    cfg: &DnsConfig,
    data_dir: &Path,
    on_change: F,
) -> ListRefresh
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    let fetcher = Arc::new(ListFetcher::new(
        resolver.upstreams().client_tls().clone(),
        data_dir,
        usize::try_from(cfg.list_max_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
    ));
    let refresh = ListRefresh {
        rt: rt.clone(),
        resolver: resolver.clone(),
        fetcher,
        on_change: Arc::new(on_change),
        tasks: std::sync::Mutex::new(std::collections::HashMap::new()),
    };
    refresh.update(cfg);
    refresh
}

impl ListRefresh {
    /// Makes the running downloads those of `cfg`'s URL lists: new ones
    /// start (a list never downloaded at once), dropped ones stop, and one
    /// whose interval changed restarts. Returns how many run.
    pub fn update(&self, cfg: &DnsConfig) -> usize {
        let mut wanted = std::collections::HashSet::new();
        for l in &cfg.lists {
            let Ok(ListSource::Url(url)) = l.source() else { continue };
            match l.refresh_interval() {
                Ok(every) => {
                    wanted.insert((url.to_string(), every));
                }
                Err(e) => tracing::error!(list = %url, error = %e, "list not refreshed"),
            }
        }
        let Ok(mut tasks) = self.tasks.lock() else {
            return 0;
        };
        tasks.retain(|key, task| {
            let keep = wanted.contains(key);
            if !keep {
                tracing::info!(list = %key.0, "list no longer configured; its downloads stop");
                task.abort();
            }
            keep
        });
        for key in wanted {
            if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(key) {
                let (url, every) = slot.key().clone();
                slot.insert(self.spawn(url, every));
            }
        }
        tasks.len()
    }

    /// URL lists being downloaded.
    pub fn running(&self) -> usize {
        self.tasks.lock().map_or(0, |t| t.len())
    }

    fn spawn(&self, url: String, every: Duration) -> tokio::task::JoinHandle<()> {
        let (fetcher, on_change, r) = (self.fetcher.clone(), self.on_change.clone(), self.resolver.clone());
        self.rt.spawn(async move {
            let mut wait = fetcher.due_in(&url, every);
            loop {
                tokio::time::sleep(wait).await;
                wait = every;
                match fetcher.fetch(&url).await {
                    Ok(Fetched::Changed) => {
                        r.metrics.list_downloads.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(list = %url, "list downloaded with new content; reloading");
                        let f = on_change.clone();
                        match tokio::task::spawn_blocking(move || f()).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                tracing::error!(list = %url, error = %e, "reload after a list download failed")
                            }
                            Err(e) => tracing::error!(list = %url, error = %e, "reload after a list download failed"),
                        }
                    }
                    Ok(f) => {
                        r.metrics.list_downloads.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(list = %url, outcome = ?f, "list unchanged");
                    }
                    Err(e) => {
                        r.metrics.list_download_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(list = %url, error = %e, "list download failed; keeping the previous copy");
                        wait = every.min(RETRY_AFTER_FAILURE);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        let dir = std::env::temp_dir().join(format!("appwarden-meta-{}", std::process::id()));
        let p = dir.join("x.meta");
        let m = Meta {
            url: "https://lists.example/a".into(),
            etag: Some("\"abc\"".into()),
            last_modified: None,
            checked: 42,
        };
        m.write(&p).expect("write");
        assert_eq!(Meta::read(&p), m);
        let _ = std::fs::remove_dir_all(dir);
        assert_ne!(
            cache_path(Path::new("/d"), "https://a/"),
            cache_path(Path::new("/d"), "https://b/")
        );
        assert!(cache_path(Path::new("/d"), "https://a/").starts_with("/d/lists"));
    }
}
