//! Test support: external tools (skip or require), temp dirs, processes
//! that are always killed, free loopback ports, and the plans the tests use.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use catalog::Day;
use policy::plan::EnforcementPlan;
use serde_json::json;

/// Whether a missing tool fails the test (`APPWARDEN_REQUIRE_TOOLS=1`).
pub fn tools_required() -> bool {
    std::env::var("APPWARDEN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Skips (returns false, with a reason on stderr) or panics when `why` holds.
pub fn skip(why: &str) -> bool {
    if tools_required() {
        panic!("APPWARDEN_REQUIRE_TOOLS=1 but {why}");
    }
    eprintln!("SKIP: {why}");
    false
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The tool's path, or `None` after printing why (panics when tools are required).
pub fn require_tool(tool: &str) -> Option<PathBuf> {
    match find_in_path(tool) {
        Some(p) => Some(p),
        None => {
            skip(&format!("`{tool}` is not installed (see ci-tools.sh)"));
            None
        }
    }
}

/// Whether we are root (needed for network namespaces).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Python with the validators' modules, or skip.
pub fn require_python(modules: &[&str]) -> Option<PathBuf> {
    let py = require_tool("python3")?;
    let code = format!("import {}", modules.join(", "));
    let ok = Command::new(&py)
        .args(["-c", &code])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        skip(&format!(
            "python3 lacks {modules:?} (pip install -r ../shared/tools/requirements.txt)"
        ));
        None
    }
}

/// The shared folder (`APPWARDEN_SHARED` or `../../../shared` from the crate).
pub fn shared() -> PathBuf {
    std::env::var_os("APPWARDEN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "appwarden-export-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    /// A path inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file inside and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, bytes).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) on drop.
pub struct ProcessGuard(pub Child);

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns a server with stdout/stderr to files in `dir`.
pub fn spawn(cmd: &mut Command, dir: &TempDir, tag: &str) -> ProcessGuard {
    let out = std::fs::File::create(dir.join(&format!("{tag}.out"))).expect("log");
    let err = std::fs::File::create(dir.join(&format!("{tag}.err"))).expect("log");
    ProcessGuard(
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn server"),
    )
}

/// Runs a command with a time limit; panics when it does not end. Output
/// goes to files (a pipe could fill up and stall the child).
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    static N: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir().join(format!(
        "appwarden-export-run-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let out_path = base.with_extension("out");
    let err_path = base.with_extension("err");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("out file"))
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            let _ = std::fs::remove_file(&out_path);
            let _ = std::fs::remove_file(&err_path);
            panic!("command timed out after {limit:?}: {cmd:?}\nstderr: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read(&out_path).unwrap_or_default();
    let stderr = std::fs::read(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Output { status, stdout, stderr }
}

/// Runs and asserts success, showing output otherwise.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = run(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A free UDP+TCP port on 127.0.0.1 (best effort).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = s.local_addr().expect("addr").port();
        drop(s);
        if port > 1024 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// `dig` answer: (status, answer lines).
pub fn dig(port: u16, name: &str, qtype: &str) -> (String, Vec<String>) {
    let out = run(
        Command::new("dig").args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+tries=1",
            "+time=2",
            "+noall",
            "+comments",
            "+answer",
            name,
            qtype,
        ]),
        Duration::from_secs(15),
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("NO-ANSWER")
        .to_string();
    let answers = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    (status, answers)
}

/// Waits until the server on `port` answers `name`.
pub fn wait_for_dns(port: u16, name: &str, server: &mut ProcessGuard, dir: &TempDir, tag: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(st)) = server.0.try_wait() {
            let err = std::fs::read_to_string(dir.join(&format!("{tag}.err"))).unwrap_or_default();
            let out = std::fs::read_to_string(dir.join(&format!("{tag}.out"))).unwrap_or_default();
            panic!("{tag} exited early ({st}):\n{err}\n{out}");
        }
        let (status, _) = dig(port, name, "A");
        if status != "NO-ANSWER" {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let err = std::fs::read_to_string(dir.join(&format!("{tag}.err"))).unwrap_or_default();
    panic!("{tag} did not answer on port {port}: {err}");
}

/// A plan from JSON (the documented shape; optional fields may be left out).
pub fn plan_from(value: serde_json::Value) -> EnforcementPlan {
    serde_json::from_value(value).expect("plan JSON")
}

/// The stamp of hand-made plans.
pub fn stamp_json() -> serde_json::Value {
    json!({
        "model_version": "appwarden-risk/1",
        "catalog_snapshot": "2026.11.22+sha256:test",
        "profile": "bank",
        "profile_version": "2026.11.1",
        "policy_version": "2026-11-22.1",
        "organisation": "Example Bank",
        "jurisdiction": "US",
        "as_of": "2026-11-22"
    })
}

/// An app entry.
pub fn app_json(name: &str, kind: &str) -> serde_json::Value {
    json!({
        "name": name, "kind": kind, "categories": [],
        "domains": [], "exact": [], "patterns": [], "cname_targets": [], "ip_prefixes": [],
        "identifiers": {}
    })
}

/// A group entry; rules as (app, action).
pub fn group_json(id: &str, kind: &str, default: bool, rules: &[(&str, &str)]) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = rules
        .iter()
        .map(
            |(app, action)| json!({ "app": app, "action": action, "reason": { "kind": "category", "detail": "test" } }),
        )
        .collect();
    json!({
        "id": id, "kind": kind, "default": default, "clients": [], "client_ids": [],
        "rules": rules, "sandbox_allow": [], "custom": { "allow": [], "deny": [] },
        "bypass": { "firefox_canary": true, "private_relay": true, "ddr": true, "encrypted_dns": true, "vpn": true, "proxy": true, "tor": true }
    })
}

/// The sample plan most tests use: TikTok blocked (domains, CNAME target,
/// a pattern, prefixes, identifiers), Telegram log-only, the canary, DDR and
/// Private Relay bypass names, Outlook allowed in the sandbox, an allow
/// exception below tiktok.com and a custom deny.
pub fn sample_plan() -> EnforcementPlan {
    let mut tiktok = app_json("TikTok", "app");
    tiktok["domains"] = json!(["byteoversea.com", "tiktok.com", "tiktokv.com"]);
    tiktok["cname_targets"] = json!(["tiktokv.com.edgesuite.net"]);
    tiktok["patterns"] = json!(["p16-tiktok-*.ibyteimg.com"]);
    tiktok["ip_prefixes"] = json!(["192.0.2.0/24", "2001:db8:1::/48"]);
    tiktok["identifiers"] = json!({
        "android": ["com.ss.android.ugc.trill", "com.zhiliaoapp.musically"],
        "ios-bundle-id": ["com.zhiliaoapp.musically"],
        "ios-app-store-id": ["835599320"],
        "windows-pfn": ["BytedancePte.Ltd.TikTok_6yccndn6064se"]
    });
    let mut telegram = app_json("Telegram", "app");
    telegram["domains"] = json!(["t.me", "telegram.org"]);
    telegram["ip_prefixes"] = json!(["198.51.100.0/24"]);
    telegram["identifiers"] = json!({ "android": ["org.telegram.messenger"] });
    let mut canary = app_json("Firefox DoH canary", "bypass");
    canary["exact"] = json!(["use-application-dns.net"]);
    canary["bypass"] = json!({ "method": "canary", "answer": "nxdomain" });
    let mut ddr = app_json("DDR", "bypass");
    ddr["exact"] = json!(["_dns.resolver.arpa"]);
    ddr["bypass"] = json!({ "method": "ddr", "answer": "nodata" });
    let mut relay = app_json("iCloud Private Relay", "bypass");
    relay["exact"] = json!(["mask-h2.icloud.com", "mask.icloud.com"]);
    relay["bypass"] = json!({ "method": "private-relay", "answer": "nxdomain" });
    let mut outlook = app_json("Outlook", "app");
    outlook["identifiers"] = json!({
        "android": ["com.microsoft.office.outlook"],
        "ios-bundle-id": ["com.microsoft.Office.Outlook"]
    });
    let mut corporate = group_json(
        "corporate",
        "corporate",
        true,
        &[
            ("ddr", "block"),
            ("firefox-canary", "block"),
            ("private-relay", "block"),
            ("telegram", "log_only"),
            ("tiktok", "block"),
        ],
    );
    corporate["sandbox_allow"] = json!(["outlook"]);
    corporate["custom"] = json!({ "allow": ["business.tiktok.com"], "deny": ["bad-tracker.example"] });
    let mut byod = group_json("byod", "byod", false, &[("telegram", "log_only"), ("tiktok", "block")]);
    byod["sandbox_allow"] = json!(["outlook"]);
    plan_from(json!({
        "plan_version": 1,
        "stamp": stamp_json(),
        "apps": {
            "tiktok": tiktok, "telegram": telegram, "firefox-canary": canary, "ddr": ddr,
            "private-relay": relay, "outlook": outlook
        },
        "groups": [corporate, byod]
    }))
}

/// The real plan (built-in policy on the bundled catalog), retrying while the
/// catalog is being edited; `None` (with a reason) when it stays invalid.
pub fn real_plan() -> Option<EnforcementPlan> {
    let mut last = String::new();
    for _ in 0..3 {
        match policy::Policy::builtin(None) {
            Ok(p) => return Some(p.plan(Day::new(2026, 11, 22).expect("day"))),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("SKIP: the bundled catalog does not load right now: {last}");
    None
}
