//! Behaviour in the real servers: each DNS export loaded into its server on
//! a loopback port, with a test upstream (dnsmasq) that answers every name
//! with 192.0.2.99 and `www.cdn-user.example` with a CNAME to a TikTok CDN
//! name; `dig` checks what is blocked and what is not. The nftables set is
//! loaded into a network namespace and probed with `nft get element`.

use std::net::Ipv4Addr;
use std::process::Command;

use export::{BlockedAnswer, Format, Options, render};

use crate::support::{self, ProcessGuard, TempDir, dig, free_port, require_tool, spawn, wait_for_dns};
use crate::tools;

/// The test upstream.
fn upstream(dir: &TempDir) -> Option<(ProcessGuard, u16)> {
    let tool = require_tool("dnsmasq")?;
    let port = free_port();
    let mut g = spawn(
        Command::new(tool).args([
            "-k",
            "-C",
            "/dev/null",
            &format!("--port={port}"),
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--pid-file=",
            "--address=/#/192.0.2.99",
            "--host-record=tiktokv.com.edgesuite.net,192.0.2.77",
            "--cname=www.cdn-user.example,tiktokv.com.edgesuite.net",
        ]),
        dir,
        "upstream",
    );
    wait_for_dns(port, "www.example.org", &mut g, dir, "upstream");
    Some((g, port))
}

fn assert_status(port: u16, name: &str, qtype: &str, want: &str, server: &str) {
    let (status, answers) = dig(port, name, qtype);
    assert_eq!(status, want, "{server}: {name} {qtype} -> {status} {answers:?}");
}

fn assert_nodata(port: u16, name: &str, server: &str) {
    let (status, answers) = dig(port, name, "A");
    assert!(
        status == "NOERROR" && answers.iter().all(|a| !a.contains("\tA\t")),
        "{server}: {name} should be NODATA, got {status} {answers:?}"
    );
}

fn assert_answer(port: u16, name: &str, ip: &str, server: &str) {
    let (status, answers) = dig(port, name, "A");
    assert!(
        status == "NOERROR" && answers.iter().any(|a| a.ends_with(ip)),
        "{server}: {name} should answer {ip}, got {status} {answers:?}"
    );
}

/// The checks every DNS server must pass with the sample plan's corporate group.
fn common_checks(port: u16, server: &str, nodata_ok: bool) {
    for blocked in [
        "tiktok.com",
        "www.tiktok.com",
        "a.b.tiktokv.com",
        "byteoversea.com",
        "tiktokv.com.edgesuite.net",
        "x.tiktokv.com.edgesuite.net",
        "bad-tracker.example",
        "use-application-dns.net",
        "mask.icloud.com",
    ] {
        assert_status(port, blocked, "A", "NXDOMAIN", server);
    }
    if nodata_ok {
        assert_nodata(port, "_dns.resolver.arpa", server);
    }
    for ordinary in [
        "www.example.org",
        "telegram.org",
        "business.tiktok.com",
        "www.business.tiktok.com",
        "nottiktok.com",
    ] {
        assert_answer(port, ordinary, "192.0.2.99", server);
    }
}

#[test]
fn unbound_local_zone_blocks_in_unbound() {
    let Some(tool) = require_tool("unbound") else {
        return;
    };
    let dir = TempDir::new("unbound-run");
    let Some((_up, up)) = upstream(&dir) else {
        return;
    };
    let plan = support::sample_plan();
    let inc = dir.write(
        "appwarden.conf",
        &render(&plan, Format::UnboundLocalZone, "corporate", &Options::default()).unwrap(),
    );
    let port = free_port();
    let conf = tools::unbound_server_conf(
        &dir,
        port,
        &format!(
            "  include: \"{}\"\nforward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@{up}\n",
            inc.display()
        ),
    );
    let mut s = spawn(Command::new(tool).arg("-d").arg("-c").arg(conf), &dir, "unbound");
    wait_for_dns(port, "www.example.org", &mut s, &dir, "unbound");
    common_checks(port, "unbound local-zone", true);
    let (st, ans) = dig(port, "www.cdn-user.example", "A");
    eprintln!(
        "unbound local-zone, CNAME into a blocked CDN name: {st} {ans:?} (local-zone does not look at CNAME targets)"
    );
}

#[test]
fn unbound_null_ip_answers_zero_address() {
    let Some(tool) = require_tool("unbound") else {
        return;
    };
    let dir = TempDir::new("unbound-null");
    let Some((_up, up)) = upstream(&dir) else {
        return;
    };
    let plan = support::sample_plan();
    let opts = Options {
        answer: BlockedAnswer::NullIp,
        ..Options::default()
    };
    let inc = dir.write(
        "appwarden.conf",
        &render(&plan, Format::UnboundLocalZone, "corporate", &opts).unwrap(),
    );
    let port = free_port();
    let conf = tools::unbound_server_conf(
        &dir,
        port,
        &format!(
            "  include: \"{}\"\nforward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@{up}\n",
            inc.display()
        ),
    );
    let mut s = spawn(Command::new(tool).arg("-d").arg("-c").arg(conf), &dir, "unbound");
    wait_for_dns(port, "www.example.org", &mut s, &dir, "unbound");
    assert_answer(port, "www.tiktok.com", "0.0.0.0", "unbound null-ip");
    // bypass names keep their own answer
    assert_status(port, "use-application-dns.net", "A", "NXDOMAIN", "unbound null-ip");
    assert_answer(port, "business.tiktok.com", "192.0.2.99", "unbound null-ip");
}

#[test]
fn unbound_rpz_blocks_in_unbound() {
    let Some(tool) = require_tool("unbound") else {
        return;
    };
    let dir = TempDir::new("unbound-rpz-run");
    let Some((_up, up)) = upstream(&dir) else {
        return;
    };
    let plan = support::sample_plan();
    let z = dir.write(
        "appwarden.rpz",
        &render(&plan, Format::UnboundRpz, "corporate", &Options::default()).unwrap(),
    );
    let port = free_port();
    let conf = tools::unbound_server_conf(
        &dir,
        port,
        &format!(
            "forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@{up}\nrpz:\n  name: \"rpz.appwarden.corporate.\"\n  zonefile: \"{}\"\n  rpz-log: yes\n",
            z.display()
        ),
    );
    let mut s = spawn(Command::new(tool).arg("-d").arg("-c").arg(conf), &dir, "unbound");
    wait_for_dns(port, "www.example.org", &mut s, &dir, "unbound");
    common_checks(port, "unbound rpz", true);
    let (st, ans) = dig(port, "www.cdn-user.example", "A");
    eprintln!("unbound rpz, CNAME into a blocked CDN name: {st} {ans:?}");
}

#[test]
fn bind_rpz_blocks_in_named() {
    let Some(tool) = require_tool("named") else {
        return;
    };
    let dir = TempDir::new("named-run");
    let Some((_up, up)) = upstream(&dir) else {
        return;
    };
    let plan = support::sample_plan();
    let z = dir.write(
        "appwarden.rpz",
        &render(&plan, Format::BindRpz, "corporate", &Options::default()).unwrap(),
    );
    let port = free_port();
    let conf = tools::bind_conf(&dir, port, "rpz.appwarden.corporate", &z, Some(up));
    // no rndc channel
    let text = std::fs::read_to_string(&conf).unwrap() + "controls { };\n";
    std::fs::write(&conf, text).unwrap();
    let mut s = spawn(Command::new(tool).args(["-g", "-4", "-c"]).arg(&conf), &dir, "named");
    wait_for_dns(port, "www.example.org", &mut s, &dir, "named");
    common_checks(port, "named rpz", true);
    // BIND applies QNAME triggers to every name of a CNAME chain.
    assert_status(
        port,
        "www.cdn-user.example",
        "A",
        "NXDOMAIN",
        "named rpz (CNAME target)",
    );
}

#[test]
fn dnsmasq_blocks_in_dnsmasq() {
    let Some(tool) = require_tool("dnsmasq") else {
        return;
    };
    let dir = TempDir::new("dnsmasq-run");
    let Some((_up, up)) = upstream(&dir) else {
        return;
    };
    let plan = support::sample_plan();
    let f = dir.write(
        "appwarden.conf",
        &render(&plan, Format::Dnsmasq, "corporate", &Options::default()).unwrap(),
    );
    let port = free_port();
    let mut s = spawn(
        Command::new(tool)
            .args([
                "-k",
                "-C",
                "/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--pid-file=",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--server=127.0.0.1#{up}"))
            .arg(format!("--conf-file={}", f.display())),
        &dir,
        "dnsmasq",
    );
    wait_for_dns(port, "www.example.org", &mut s, &dir, "dnsmasq");
    common_checks(port, "dnsmasq", false);
    // NODATA is not expressible: DDR answers NXDOMAIN
    assert_status(port, "_dns.resolver.arpa", "A", "NXDOMAIN", "dnsmasq");
    let custom = Options {
        answer: BlockedAnswer::Ip {
            v4: Ipv4Addr::new(192, 0, 2, 53),
            v6: None,
        },
        ..Options::default()
    };
    let text = String::from_utf8(render(&plan, Format::Dnsmasq, "corporate", &custom).unwrap()).unwrap();
    assert!(text.contains("address=/tiktok.com/192.0.2.53"));
}

#[test]
fn knot_policy_blocks_in_kresd() {
    let dir = TempDir::new("kresd-up");
    let Some((_up, up)) = upstream(&dir) else {
        return;
    };
    let plan = support::sample_plan();
    let bytes = render(&plan, Format::KnotPolicy, "corporate", &Options::default()).unwrap();
    let extra = format!("trust_anchors.remove('.')\npolicy.add(policy.all(policy.FORWARD('127.0.0.1@{up}')))\n");
    let Some((_server, port, _dir)) = tools::kresd_with(&bytes, &extra) else {
        return;
    };
    common_checks(port, "kresd", true);
}

#[test]
fn nftables_sets_hold_the_prefixes() {
    if require_tool("nft").is_none() {
        return;
    }
    let Some(ns) = tools::Netns::new() else {
        return;
    };
    let dir = TempDir::new("nft-run");
    let plan = support::sample_plan();
    let f = dir.write(
        "appwarden.nft",
        &render(&plan, Format::Nftables, "corporate", &Options::default()).unwrap(),
    );
    let out = ns.exec(&["nft", "-f", &f.display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let has = |set: &str, el: &str| {
        ns.exec(&[
            "nft",
            "get",
            "element",
            "inet",
            "appwarden_corporate",
            set,
            &format!("{{ {el} }}"),
        ])
        .status
        .success()
    };
    assert!(has("block_v4", "192.0.2.5"));
    assert!(has("block_v6", "2001:db8:1::1"));
    assert!(has("log_v4", "198.51.100.7"));
    assert!(!has("block_v4", "203.0.113.1"));
    assert!(!has("block_v4", "198.51.100.7"), "log-only prefixes are not dropped");
}
