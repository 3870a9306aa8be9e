//! A real Unbound follows appwarden's RPZ zone by zone transfer, and blocks a
//! name after a policy change (SIGHUP → higher serial → NOTIFY → transfer).
//! Everything stays on 127.0.0.1: Unbound forwards all other queries to
//! appwarden, which answers them (its upstream is a dead loopback port).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{tool} is required (APPWARDEN_REQUIRE_TOOLS=1); .ci/run installs it");
        }
        eprintln!("SKIP: {tool} not installed");
    }
    ok
}

fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let p = s.local_addr().expect("addr").port();
    // the TCP side must be free too
    std::net::TcpListener::bind(("127.0.0.1", p))
        .map(|_| p)
        .unwrap_or_else(|_| free_port())
}

fn dig(port: u16, name: &str, qtype: &str) -> String {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            name,
            qtype,
            "+time=2",
            "+tries=1",
        ])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

fn policy(dir: &Path, unbound_port: u16, deny: &str) {
    let text = format!(
        r#"[organisation]
name = "Transfer test"
profile = "bank"
jurisdiction = "DE"

[[group]]
id = "corporate"
default = true
clients = ["10.0.0.0/8"]
deny = [{deny}]

[[group]]
id = "resolvers"
clients = ["127.0.0.1/32"]
log_only = true

[dns]
upstream_timeout_ms = 200
deadline_ms = 400
transfer_notify = ["127.0.0.1:{unbound_port}"]

[dns.query_log]
enabled = false
"#
    );
    std::fs::write(dir.join("appwarden.toml"), text).expect("write policy");
}

#[test]
fn unbound_follows_the_rpz_zone_and_blocks_after_a_policy_change() {
    if !require("unbound") || !require("dig") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("appwarden-xfr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (aw_port, ub_port) = (free_port(), free_port());
    policy(&dir, ub_port, "");
    let aw = Kill(
        Command::new(env!("CARGO_BIN_EXE_appwarden"))
            .args(["dns", "-c"])
            .arg(dir.join("appwarden.toml"))
            .args([
                "--listen",
                &format!("127.0.0.1:{aw_port}"),
                "--upstream",
                "127.0.0.1:9",
                "--api",
                "off",
            ])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start appwarden"),
    );
    wait_for("appwarden's SOA", Duration::from_secs(20), || {
        dig(aw_port, "rpz.appwarden.corporate", "SOA").contains("status: NOERROR")
    });
    // AXFR straight from appwarden: SOA first and last, TikTok inside
    let axfr = dig(aw_port, "rpz.appwarden.corporate", "AXFR");
    assert!(
        axfr.contains("tiktok.com.rpz.appwarden.corporate."),
        "{}",
        &axfr[..axfr.len().min(2000)]
    );
    assert!(
        axfr.matches("\tSOA\t").count() >= 2,
        "AXFR starts and ends with the SOA"
    );

    let conf = format!(
        r#"server:
    interface: 127.0.0.1
    port: {ub_port}
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-not-query-localhost: no
    module-config: "respip iterator"
    access-control: 127.0.0.0/8 allow
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{aw_port}
rpz:
    name: "rpz.appwarden.corporate."
    primary: 127.0.0.1@{aw_port}
    allow-notify: 127.0.0.1
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("unbound.conf"), conf).expect("unbound.conf");
    let check = Command::new("unbound-checkconf")
        .arg(dir.join("unbound.conf"))
        .output()
        .expect("unbound-checkconf");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let _ub = Kill(
        Command::new("unbound")
            .args(["-d", "-c"])
            .arg(dir.join("unbound.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start unbound"),
    );
    // the zone arrives by transfer: TikTok is NXDOMAIN at Unbound (appwarden itself only logs for it)
    wait_for("Unbound to load the RPZ zone", Duration::from_secs(30), || {
        dig(ub_port, "www.tiktok.com", "A").contains("status: NXDOMAIN")
    });
    let before = dig(ub_port, "newblock.example.org", "A");
    assert!(!before.contains("status: NXDOMAIN"), "not blocked yet: {before}");

    // policy change + SIGHUP → higher serial, NOTIFY → Unbound transfers again
    policy(&dir, ub_port, "\"newblock.example.org\"");
    let hup = Command::new("kill")
        .args(["-HUP", &aw.0.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    wait_for(
        "Unbound to block the newly denied name",
        Duration::from_secs(30),
        || dig(ub_port, "newblock.example.org", "A").contains("status: NXDOMAIN"),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
