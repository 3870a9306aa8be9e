//! Auto-detection on every corpus file and on the hand-written samples.

use crate::samples;
use crate::support::corpus;
use monitor::{detect, Format};

fn head(path: &std::path::Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("read corpus file");
    data.split(|b| *b == b'\n').take(12).map(<[u8]>::to_vec).collect()
}

#[test]
fn detects_every_corpus_log() {
    let Some(c) = corpus() else { return };
    let cases = [
        ("generated/bind/bind-9.18-query.classic.log", Format::BindQuery),
        ("generated/bind/bind-9.18-query.iso8601-utc.log", Format::BindQuery),
        (
            "generated/bind/bind-9.18-query.stderr-noCategory.log",
            Format::BindQuery,
        ),
        (
            "generated/unbound/unbound-1.17-log-queries-replies.epoch.log",
            Format::Unbound,
        ),
        (
            "generated/unbound/unbound-1.17-log-queries-replies.tagged-ascii.log",
            Format::Unbound,
        ),
        ("generated/dnsmasq/dnsmasq-2.90-log-queries.log", Format::Dnsmasq),
        ("generated/dnsmasq/dnsmasq-2.90-log-queries-extra.log", Format::Dnsmasq),
        ("generated/squid/squid-5.7-access.native.log", Format::SquidNative),
        ("generated/squid/squid-5.7-access.combined.log", Format::SquidCombined),
        ("misc/adguardhome-querylog.excerpt.json", Format::AdGuard),
        ("suricata/eve.surevego-dns-v1-http-alert.json", Format::SuricataEve),
        ("zeek/dns.opt-basic.tsv.log", Format::ZeekTsv),
        ("zeek/conn.opt-basic.tsv.log", Format::ZeekTsv),
        ("zeek/ssl.tls13-ech.tsv.log", Format::ZeekTsv),
        ("zeek/ssl.known-certs.tsv.log", Format::ZeekTsv),
        ("zeek/dns.docs-examples.json", Format::ZeekJson),
        ("zeek/conn.docs-examples.json", Format::ZeekJson),
        ("zeek/conn.from-ssl-docs-examples.json", Format::ZeekJson),
        ("zeek/ssl.docs-examples.json", Format::ZeekJson),
    ];
    for (rel, want) in cases {
        let path = c.join(rel);
        // With and without the file name: content alone must decide.
        assert_eq!(detect(&head(&path), Some(rel)), Some(want), "{rel}");
        assert_eq!(detect(&head(&path), None), Some(want), "{rel} (no name)");
    }
    // Every log file in the corpus is covered above.
    let mut n = 0;
    for sub in [
        "generated/bind",
        "generated/unbound",
        "generated/dnsmasq",
        "generated/squid",
        "misc",
        "suricata",
        "zeek",
    ] {
        for f in std::fs::read_dir(c.join(sub)).expect("dir").flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") || name.ends_with(".json") {
                n += 1;
            }
        }
    }
    assert_eq!(n, cases.len());
}

#[test]
fn detects_samples_and_name_hints() {
    let lines = |s: &str| s.lines().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>();
    assert_eq!(detect(&lines(samples::PIHOLE), None), Some(Format::Pihole));
    assert_eq!(detect(&lines(samples::BLOCKY), None), Some(Format::Blocky));
    assert_eq!(detect(&lines(samples::EVE), None), Some(Format::SuricataEve));
    assert_eq!(detect(&lines(samples::BIND_RPZ), None), Some(Format::BindQuery));
    // Pi-hole's log with only dnsmasq-shaped lines: the file name decides.
    let plain = "Jan 10 10:00:01 dnsmasq[812]: query[A] a.example from 192.168.1.2";
    assert_eq!(
        detect(&[plain], Some("/var/log/pihole/pihole.log")),
        Some(Format::Pihole)
    );
    assert_eq!(detect(&[plain], Some("/var/log/dnsmasq.log")), Some(Format::Dnsmasq));
    assert_eq!(detect(&["lease 192.168.1.50 {"], None), Some(Format::DhcpdLeases));
    assert_eq!(
        detect(
            &["1795320000 aa:bb:cc:dd:ee:ff 192.168.1.50 laptop 01:aa:bb:cc:dd:ee:ff"],
            None
        ),
        Some(Format::DnsmasqLeases)
    );
    assert_eq!(detect(&["garbage", ""], None), None);
}
