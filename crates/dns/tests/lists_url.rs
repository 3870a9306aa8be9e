//! Lists from URLs: downloaded from a loopback HTTP server, enforced,
//! downloaded again with a conditional GET (ETag → 304 leaves the rules
//! alone), reloaded when the content changes, kept when the server is gone,
//! and loaded from the kept copy after a restart; the size limit.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dns::cache::{Cache, CacheConfig};
use dns::config::{DnsConfig, ListConfig};
use dns::list_fetch::{Fetched, ListFetcher};
use dns::resolver::{Resolver, ResolverOptions};
use dns::server::{ServeOptions, Server, build_state, load_lists};
use dns::tls::ClientTls;
use dns::upstream::{UpstreamSpec, Upstreams};
use dns::wire::BlockedAnswer;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use store::EventSink;
use support::{Upstream, ask, wait_until};

/// A loopback HTTP/1.1 server for one list, with an ETag per version.
struct ListServer {
    addr: SocketAddr,
    body: Arc<Mutex<(u64, String)>>,
    ok: Arc<AtomicU64>,
    not_modified: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ListServer {
    fn start(body: &str) -> ListServer {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let addr = l.local_addr().expect("addr");
        let body = Arc::new(Mutex::new((1, body.to_string())));
        let (ok, not_modified, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (b, o, n, s) = (body.clone(), ok.clone(), not_modified.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => req.extend_from_slice(&buf[..k]),
                    }
                }
                let req = String::from_utf8_lossy(&req).to_ascii_lowercase();
                let (version, text) = b.lock().expect("body").clone();
                let etag = format!("\"v{version}\"");
                let resp = if req.contains(&format!("if-none-match: {etag}")) {
                    n.fetch_add(1, Ordering::SeqCst);
                    format!("HTTP/1.1 304 Not Modified\r\netag: {etag}\r\nconnection: close\r\n\r\n")
                } else {
                    o.fetch_add(1, Ordering::SeqCst);
                    format!(
                        "HTTP/1.1 200 OK\r\netag: {etag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    )
                };
                let _ = c.write_all(resp.as_bytes());
            }
        });
        ListServer {
            addr,
            body,
            ok,
            not_modified,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, text: &str) {
        let mut b = self.body.lock().expect("body");
        *b = (b.0 + 1, text.to_string());
    }

    fn url(&self) -> String {
        format!("http://{}/blocklist.txt", self.addr)
    }

    /// Stops listening: connections are refused from now on.
    fn shut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ListServer {
    fn drop(&mut self) {
        self.shut();
    }
}

const POLICY: &str = r#"
[organisation]
name = "Test"
profile = "bank"
jurisdiction = "DE"
"#;

fn data_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("appwarden-lists-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A resolver whose rules are the test policy plus `cfg`'s lists as kept under `data`.
fn start(up: &Upstream, cfg: &DnsConfig, data: &Path) -> Server {
    start_with_refresh(up, cfg, data, Arc::new(std::sync::Mutex::new(cfg.clone()))).0
}

/// [`start`], the reload reading the lists of whatever `current` holds
/// then (as the CLI re-reads the policy), and the downloads' handle.
fn start_with_refresh(
    up: &Upstream,
    cfg: &DnsConfig,
    data: &Path,
    current: Arc<std::sync::Mutex<DnsConfig>>,
) -> (Server, dns::list_fetch::ListRefresh) {
    let policy = policy::Policy::parse(POLICY, "test.toml", None, None).expect("policy");
    let plan = policy.plan(catalog::Day::new(2026, 11, 22).expect("day"));
    let lists = load_lists(&cfg.lists, None, Some(data));
    let resolver = Arc::new(Resolver::new(
        build_state(&plan, &lists, 1),
        Cache::new(CacheConfig {
            max_mib: 0,
            ..CacheConfig::default()
        }),
        Upstreams::new(
            vec![UpstreamSpec::Plain(up.addr)],
            Duration::from_millis(400),
            Duration::from_millis(900),
        ),
        EventSink::disabled(),
        ResolverOptions {
            blocked: BlockedAnswer::Nxdomain,
            blocked_ttl: 60,
            edns_udp_size: 1232,
            rate_limit_qps: 0,
        },
    ));
    let server = Server::start(
        resolver.clone(),
        &ServeOptions {
            listen: vec!["127.0.0.1:0".parse().expect("addr")],
            udp_workers: 1,
            async_workers: 1,
            tcp_idle: Duration::from_secs(2),
            tcp_max_connections: 16,
            encrypted: None,
        },
    )
    .expect("server");
    // the reload the CLI does on SIGHUP: rules rebuilt from the policy and the kept lists
    let (data2, generation) = (data.to_path_buf(), Arc::new(AtomicU64::new(1)));
    let r = resolver.clone();
    let refresh = dns::list_fetch::spawn_refresh(server.runtime().handle(), &r, cfg, data, move || {
        let g = generation.fetch_add(1, Ordering::SeqCst) + 1;
        let lists = current.lock().map(|c| c.lists.clone()).unwrap_or_default();
        resolver.reload(build_state(&plan, &load_lists(&lists, None, Some(&data2)), g));
        Ok(())
    });
    (server, refresh)
}

/// A URL list added to the configuration on a reload is downloaded and
/// enforced without a restart; one taken out stops being downloaded.
#[test]
fn a_url_list_added_on_reload_is_downloaded_without_a_restart() {
    let up = Upstream::start();
    let http = ListServer::start("0.0.0.0 added.example.test\n");
    let data = data_dir("added");
    let none = DnsConfig::default();
    let current = Arc::new(std::sync::Mutex::new(none.clone()));
    let (server, refresh) = start_with_refresh(&up, &none, &data, current.clone());
    assert_eq!(refresh.running(), 0);
    assert!(!blocked(&server, "added.example.test."));
    let mut list = ListConfig::file(PathBuf::new());
    list.path = None;
    list.url = Some(http.url());
    list.refresh = Some("200ms".into());
    let with = DnsConfig {
        lists: vec![list],
        ..DnsConfig::default()
    };
    // the reload: the new configuration, then the downloads told about it
    *current.lock().expect("lock") = with.clone();
    assert_eq!(refresh.update(&with), 1);
    assert!(
        wait_until(Duration::from_secs(5), || blocked(&server, "added.example.test.")),
        "the added list is downloaded and enforced"
    );
    let asked = || http.ok.load(Ordering::SeqCst) + http.not_modified.load(Ordering::SeqCst);
    assert!(
        wait_until(Duration::from_secs(5), || asked() >= 3),
        "refreshed every 200 ms"
    );
    assert_eq!(
        refresh.update(&with),
        1,
        "an unchanged configuration starts nothing new"
    );
    assert_eq!(refresh.update(&none), 0, "a list taken out stops");
    // a request already under way may still land
    std::thread::sleep(Duration::from_millis(100));
    let after = asked();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(asked(), after, "no more downloads");
    let _ = std::fs::remove_dir_all(&data);
}

fn blocked(server: &Server, name: &str) -> bool {
    ask(server.addrs[0], name, RecordType::A).metadata.response_code == ResponseCode::NXDomain
}

#[test]
fn a_url_list_is_enforced_refreshed_and_kept_when_the_server_is_gone() {
    let up = Upstream::start();
    let mut http = ListServer::start("0.0.0.0 first.example.test\n");
    let data = data_dir("refresh");
    let mut list = ListConfig::file(PathBuf::new());
    list.path = None;
    list.url = Some(http.url());
    list.refresh = Some("200ms".into());
    let cfg = DnsConfig {
        lists: vec![list],
        ..DnsConfig::default()
    };

    let server = start(&up, &cfg, &data);
    assert!(
        wait_until(Duration::from_secs(5), || blocked(&server, "first.example.test.")),
        "the downloaded list is enforced"
    );
    let r = server.resolver().clone();
    assert!(!blocked(&server, "second.example.test."));
    // unchanged: conditional GETs answered 304, no reload
    let generation = r.state().generation;
    assert!(
        wait_until(Duration::from_secs(5), || http.not_modified.load(Ordering::SeqCst) >= 2),
        "If-None-Match sent"
    );
    assert_eq!(http.ok.load(Ordering::SeqCst), 1, "one full download");
    assert_eq!(r.state().generation, generation, "a 304 does not reload");

    // new content: downloaded and swapped in
    http.set("0.0.0.0 second.example.test\n");
    assert!(
        wait_until(Duration::from_secs(5), || blocked(&server, "second.example.test.")),
        "the changed list is enforced"
    );
    assert!(!blocked(&server, "first.example.test."));
    assert_eq!(r.state().generation, generation + 1);

    // the server goes away: failures are counted, the rules stay
    http.shut();
    assert!(
        wait_until(Duration::from_secs(5), || r
            .metrics
            .list_download_failures
            .load(Ordering::SeqCst)
            >= 1),
        "failed downloads counted"
    );
    assert!(blocked(&server, "second.example.test."));
    assert!(dns::metrics::render_prometheus(&r).contains("appwarden_list_download_failures_total "));
    server.stop();

    // a restart while the server is still gone: the kept copy is enforced at once
    let again = start(&up, &cfg, &data);
    assert!(blocked(&again, "second.example.test."));
    assert!(!blocked(&again, "first.example.test."));
    again.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_download_over_the_size_limit_keeps_the_previous_copy() {
    let http = ListServer::start("0.0.0.0 small.example.test\n");
    let data = data_dir("limit");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fetcher = ListFetcher::new(Arc::new(ClientTls::default()), &data, 100);
    let url = http.url();
    assert_eq!(rt.block_on(fetcher.fetch(&url)), Ok(Fetched::Changed));
    assert_eq!(rt.block_on(fetcher.fetch(&url)), Ok(Fetched::NotModified));
    http.set(&"0.0.0.0 big.example.test\n".repeat(50));
    let err = rt.block_on(fetcher.fetch(&url)).expect_err("over the limit");
    assert!(err.contains("limit"), "{err}");
    let kept = std::fs::read_to_string(dns::list_fetch::cache_path(&data, &url)).expect("kept copy");
    assert_eq!(kept, "0.0.0.0 small.example.test\n");
    // a URL nothing listens on: an error, nothing written
    let dead = ListFetcher::new(Arc::new(ClientTls::default()), &data, 100);
    assert!(rt.block_on(dead.fetch("http://127.0.0.1:1/x")).is_err());
    assert!(!dns::list_fetch::cache_path(&data, "http://127.0.0.1:1/x").exists());
    let _ = std::fs::remove_dir_all(&data);
}
