//! Deterministic-PRNG mutation of real and sample lines, fed to every parser:
//! nothing may panic, and every line is accounted for (event, skip or error).

use crate::samples;
use crate::support::{corpus, opts};
use monitor::{Format, Parser};

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[&[u8]] = &[
    b" ",
    b"\t",
    b"#",
    b"/",
    b":",
    b".",
    b"-",
    b"(",
    b")",
    b"\"",
    b"\\x",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"@",
    b"\xff",
    b"\xc3",
    b"0",
    b"99999999999999999999",
    b"XXXXXXXXXX",
    b"(empty)",
    b"NXDOMAIN",
    b" is ",
];

fn mutate(rng: &mut Rng, line: &[u8]) -> Vec<u8> {
    let mut v = line.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let cut = rng.below(v.len() + 1);
                v.truncate(cut);
            }
            2 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(16)).min(v.len());
                v.drain(a..b);
            }
            3 => {
                let i = rng.below(v.len() + 1);
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, ins.iter().copied());
            }
            4 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(32)).min(v.len());
                let chunk = v[a..b].to_vec();
                let i = rng.below(v.len() + 1);
                v.splice(i..i, chunk);
            }
            5 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = (rng.next() & 0xff) as u8;
            }
            _ => {}
        }
    }
    v
}

fn seeds() -> Vec<(Format, Vec<Vec<u8>>)> {
    let lines = |s: &str| s.lines().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>();
    let mut out = vec![
        (Format::Pihole, lines(samples::PIHOLE)),
        (Format::Blocky, lines(samples::BLOCKY)),
        (Format::SuricataEve, lines(samples::EVE)),
        (Format::BindQuery, lines(samples::BIND_RPZ)),
    ];
    if let Some(c) = corpus() {
        let files = [
            ("generated/bind/bind-9.18-query.classic.log", Format::BindQuery),
            ("generated/bind/bind-9.18-query.iso8601-utc.log", Format::BindQuery),
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
            ("zeek/ssl.known-certs.tsv.log", Format::ZeekTsv),
            ("zeek/dns.docs-examples.json", Format::ZeekJson),
            ("zeek/ssl.docs-examples.json", Format::ZeekJson),
        ];
        for (rel, f) in files {
            let data = std::fs::read(c.join(rel)).expect("read");
            out.push((f, data.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()));
        }
    }
    out
}

#[test]
fn mutated_lines_never_panic_and_are_accounted_for() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (format, lines) in seeds() {
        let mut p = Parser::new(format, &opts());
        let mut returned = 0u64;
        let mut fed = 0u64;
        for round in 0..40 {
            for (i, l) in lines.iter().enumerate() {
                // Keep headers mostly intact so the data lines behind them are reached.
                let m = if l.starts_with(b"#") && round % 8 != 0 {
                    l.clone()
                } else {
                    mutate(&mut rng, l)
                };
                fed += 1;
                if p.parse_line(&m, i as u64 + 1, 0).is_some() {
                    returned += 1;
                }
            }
        }
        let st = p.stats();
        assert_eq!(st.lines, fed);
        assert_eq!(st.events + st.error_count() + st.skipped_count(), fed, "{format}");
        assert_eq!(st.events + st.error_count(), returned, "{format}");
        assert!(st.error_count() > 0, "{format}: mutations should produce some errors");
    }
}
