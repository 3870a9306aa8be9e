//! The real tools as validators: each `check_*` loads one export into its
//! tool and panics when the tool refuses it; it returns `false` when the
//! tool is missing (skipped, see `support::require_tool`).

use std::path::PathBuf;
use std::process::Command;

use crate::support::{self, TempDir, free_port, require_python, require_tool, run_ok};

pub fn unbound_server_conf(dir: &TempDir, port: u16, body: &str) -> PathBuf {
    let conf = format!(
        "server:\n  chroot: \"\"\n  username: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  interface: 127.0.0.1\n  port: {port}\n  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  do-ip6: no\n  do-not-query-localhost: no\n  module-config: \"respip iterator\"\n  auto-trust-anchor-file: \"\"\n{body}",
        d = dir.0.display()
    );
    dir.write("unbound.conf", conf.as_bytes())
}

pub fn check_unbound(bytes: &[u8]) -> bool {
    let Some(tool) = require_tool("unbound-checkconf") else {
        return false;
    };
    let dir = TempDir::new("unbound");
    let inc = dir.write("appwarden.conf", bytes);
    let conf = unbound_server_conf(&dir, free_port(), &format!("  include: \"{}\"\n", inc.display()));
    run_ok(Command::new(tool).arg(conf), "unbound-checkconf");
    true
}

pub fn check_unbound_rpz(bytes: &[u8], zone: &str) -> bool {
    let Some(tool) = require_tool("unbound-checkconf") else {
        return false;
    };
    let dir = TempDir::new("unbound-rpz");
    let z = dir.write("appwarden.rpz", bytes);
    let conf = unbound_server_conf(
        &dir,
        free_port(),
        &format!(
            "rpz:\n  name: \"{zone}.\"\n  zonefile: \"{}\"\n  rpz-log: yes\n",
            z.display()
        ),
    );
    run_ok(Command::new(tool).arg(conf), "unbound-checkconf (rpz)");
    true
}

pub fn check_bind_zone(bytes: &[u8], zone: &str) -> bool {
    let Some(checkzone) = require_tool("named-checkzone") else {
        return false;
    };
    let Some(checkconf) = require_tool("named-checkconf") else {
        return false;
    };
    let dir = TempDir::new("bind");
    let z = dir.write("appwarden.rpz", bytes);
    run_ok(
        Command::new(checkzone).args([zone, &z.display().to_string()]),
        "named-checkzone",
    );
    let conf = bind_conf(&dir, free_port(), zone, &z, None);
    run_ok(Command::new(checkconf).args(["-z"]).arg(conf), "named-checkconf -z");
    true
}

pub fn bind_conf(dir: &TempDir, port: u16, zone: &str, file: &std::path::Path, upstream: Option<u16>) -> PathBuf {
    let fwd = match upstream {
        Some(p) => format!("forwarders {{ 127.0.0.1 port {p}; }};\n  forward only;\n"),
        None => String::new(),
    };
    let conf = format!(
        "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion yes;\n  allow-query {{ 127.0.0.1; }};\n  dnssec-validation no;\n  {fwd}  response-policy {{ zone \"{zone}\" log yes; }};\n}};\nzone \"{zone}\" {{ type primary; file \"{f}\"; allow-query {{ none; }}; }};\n",
        d = dir.0.display(),
        f = file.display()
    );
    dir.write("named.conf", conf.as_bytes())
}

pub fn check_dnsmasq(bytes: &[u8]) -> bool {
    let Some(tool) = require_tool("dnsmasq") else {
        return false;
    };
    let dir = TempDir::new("dnsmasq");
    let f = dir.write("appwarden.conf", bytes);
    let out = run_ok(Command::new(tool).arg("--test").arg("-C").arg(&f), "dnsmasq --test");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("syntax check OK"), "dnsmasq: {text}");
    true
}

pub fn check_squid(bytes: &[u8]) -> bool {
    let Some(tool) = require_tool("squid") else {
        return false;
    };
    let dir = TempDir::new("squid");
    let inc = dir.write("appwarden.conf", bytes);
    let conf = format!(
        "http_port 127.0.0.1:{}\ninclude {}\nhttp_access deny all\ncache deny all\ncache_log {d}/cache.log\npid_filename {d}/squid.pid\ncoredump_dir {d}\n",
        free_port(),
        inc.display(),
        d = dir.0.display()
    );
    let c = dir.write("squid.conf", conf.as_bytes());
    let out = run_ok(Command::new(tool).args(["-k", "parse", "-f"]).arg(&c), "squid -k parse");
    let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    for bad in ["FATAL", "ERROR", "WARNING"] {
        assert!(!text.contains(bad), "squid -k parse reported {bad}:\n{text}");
    }
    true
}

/// A network namespace deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new() -> Option<Netns> {
        if !support::is_root() {
            support::skip("network namespaces need root");
            return None;
        }
        require_tool("ip")?;
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "awx{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let out = support::run(
            Command::new("ip").args(["netns", "add", &name]),
            std::time::Duration::from_secs(10),
        );
        if !out.status.success() {
            support::skip(&format!(
                "cannot create a network namespace: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            return None;
        }
        Some(Netns(name))
    }

    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        support::run(
            Command::new("ip").args(["netns", "exec", &self.0]).args(args),
            std::time::Duration::from_secs(30),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

pub fn check_nft(bytes: &[u8]) -> bool {
    if require_tool("nft").is_none() {
        return false;
    }
    let Some(ns) = Netns::new() else { return false };
    let dir = TempDir::new("nft");
    let f = dir.write("appwarden.nft", bytes);
    let path = f.display().to_string();
    let out = ns.exec(&["nft", "-c", "-f", &path]);
    assert!(out.status.success(), "nft -c: {}", String::from_utf8_lossy(&out.stderr));
    // and load it for real, twice (the file must be re-runnable)
    for _ in 0..2 {
        let out = ns.exec(&["nft", "-f", &path]);
        assert!(out.status.success(), "nft -f: {}", String::from_utf8_lossy(&out.stderr));
    }
    true
}

pub fn check_ipset(bytes: &[u8]) -> bool {
    if require_tool("ipset").is_none() {
        return false;
    }
    let Some(ns) = Netns::new() else { return false };
    let dir = TempDir::new("ipset");
    let f = dir.write("appwarden.ipset", bytes);
    let script = format!("ipset restore -exist < '{}'", f.display());
    let out = ns.exec(&["sh", "-c", &script]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if err.contains("Kernel error") || err.contains("kernel") {
            support::skip(&format!("ipset: no kernel support here: {err}"));
            return false;
        }
        panic!("ipset restore: {err}");
    }
    true
}

pub fn check_kresd(bytes: &[u8]) -> Option<(crate::support::ProcessGuard, u16, TempDir)> {
    kresd_with(bytes, "")
}

/// Starts kresd with the export and `extra` config after it.
pub fn kresd_with(bytes: &[u8], extra: &str) -> Option<(crate::support::ProcessGuard, u16, TempDir)> {
    let tool = require_tool("kresd")?;
    let dir = TempDir::new("kresd");
    let f = dir.write("appwarden.lua", bytes);
    let port = free_port();
    let conf = format!(
        "net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\ncache.size = 10 * MB\nmodules = {{ 'hints > iterate' }}\nhints['www.ok.example'] = '192.0.2.10'\ndofile('{}')\n{extra}\n",
        f.display()
    );
    let c = dir.write("kresd.conf", conf.as_bytes());
    std::fs::create_dir_all(dir.join("run")).expect("rundir");
    let mut server = support::spawn(
        Command::new(tool).arg("-n").arg("-c").arg(&c).arg(dir.join("run")),
        &dir,
        "kresd",
    );
    support::wait_for_dns(port, "www.ok.example", &mut server, &dir, "kresd");
    Some((server, port, dir))
}

pub fn check_plist(bytes: &[u8]) -> bool {
    let dir = TempDir::new("plist");
    let f = dir.write("p.mobileconfig", bytes);
    let mut ran = false;
    if let Some(tool) = require_tool("plistutil") {
        let bin = dir.join("p.bin");
        let back = dir.join("p.xml");
        run_ok(
            Command::new(&tool)
                .arg("-i")
                .arg(&f)
                .arg("-o")
                .arg(&bin)
                .args(["-f", "bin"]),
            "plistutil to bin",
        );
        run_ok(
            Command::new(&tool)
                .arg("-i")
                .arg(&bin)
                .arg("-o")
                .arg(&back)
                .args(["-f", "xml"]),
            "plistutil to xml",
        );
        ran = true;
    }
    if let Some(py) = require_python(&["yaml"]) {
        let tools = support::shared().join("tools/apple_profile.py");
        let schema = support::shared().join("data/apple-device-management-subset");
        run_ok(
            Command::new(py).arg(tools).arg("validate").arg(schema).arg(&f),
            "apple_profile.py validate",
        );
        ran = true;
    }
    ran
}

pub fn check_amapi(bytes: &[u8]) -> bool {
    let Some(py) = require_python(&["jsonschema"]) else {
        return false;
    };
    let dir = TempDir::new("amapi");
    let f = dir.write("policy.json", bytes);
    run_ok(
        Command::new(py)
            .arg(support::shared().join("tools/amapi_validate.py"))
            .arg(support::shared().join("data/androidmanagement.v1.json"))
            .arg(&f)
            .arg("Policy"),
        "amapi_validate.py",
    );
    true
}

pub fn check_graph(bytes: &[u8]) -> bool {
    let Some(py) = require_python(&["msgraph_beta", "kiota_serialization_json"]) else {
        return false;
    };
    let dir = TempDir::new("graph");
    let f = dir.write("policy.json", bytes);
    run_ok(
        Command::new(py)
            .arg(support::shared().join("tools/graph_validate.py"))
            .arg("beta")
            .arg(&f),
        "graph_validate.py beta",
    );
    true
}

/// Well-formed XML, and the same element/attribute structure as the corpus example.
pub fn check_applocker(bytes: &[u8]) -> bool {
    let Some(py) = require_tool("python3") else {
        return false;
    };
    let dir = TempDir::new("applocker");
    let f = dir.write("applocker.xml", bytes);
    let corpus = support::shared().join("corpus/mdm/windows_applocker_appx_block_tiktok.xml");
    let script = r#"
import sys, xml.etree.ElementTree as ET
def shape(e, out, path=""):
    p = path + "/" + e.tag
    out.add((p, tuple(sorted(e.attrib))))
    for c in e: shape(c, out, p)
    return out
mine = ET.parse(sys.argv[1]).getroot()
ref = ET.parse(sys.argv[2]).getroot()
a, b = shape(mine, set()), shape(ref, set())
extra = a - b
if extra: sys.exit("structure not in the corpus example: %r" % sorted(extra))
for r in mine.iter("FilePublisherRule"):
    assert r.get("Action") in ("Allow", "Deny"), r.attrib
"#;
    run_ok(
        Command::new(py).arg("-c").arg(script).arg(&f).arg(corpus),
        "AppLocker XML check",
    );
    true
}
