//! Suricata rules (5.0+): `dns.query` and `tls.sni` with `dotprefix` +
//! `endswith` for a name and its subdomains, `bsize` for an exact name,
//! `pcre` for patterns. Blocked names are `drop` (an alert in IDS mode, a
//! drop in IPS mode), log-only names `alert`, allow exceptions `pass` (pass
//! rules are applied first by Suricata's default action order).
//!
//! Signature ids are stable per rule: `sid_base + SHA-256(rule key) mod 10^7`,
//! probing forward on a collision, so adding one name does not renumber others.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::{Ctx, pattern_regex};
use crate::ExportError;
use crate::names::Counts;

struct Sids {
    base: u32,
    used: BTreeSet<u32>,
}

impl Sids {
    fn next(&mut self, key: &str) -> u32 {
        let h = Sha256::digest(key.as_bytes());
        let mut off = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % 10_000_000;
        loop {
            let sid = self.base.saturating_add(off);
            if self.used.insert(sid) {
                return sid;
            }
            off = (off + 1) % 10_000_000;
        }
    }
}

#[derive(Clone, Copy)]
enum Match<'a> {
    Domain(&'a str),
    Exact(&'a str),
    Pattern(&'a str),
}

fn options(m: Match<'_>) -> String {
    match m {
        Match::Domain(d) => format!("dotprefix; content:\".{d}\"; nocase; endswith;"),
        Match::Exact(d) => format!("bsize:{}; content:\"{d}\"; nocase;", d.len()),
        Match::Pattern(p) => {
            let tail = crate::names::pattern_tail(p);
            format!(
                "content:\".{tail}\"; nocase; endswith; pcre:\"/{}/i\";",
                pattern_regex(p)
            )
        }
    }
}

fn label(m: Match<'_>) -> (&str, &'static str) {
    match m {
        Match::Domain(d) => (d, "domain"),
        Match::Exact(d) => (d, "exact"),
        Match::Pattern(p) => (p, "pattern"),
    }
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    }
    let g = &ctx.group.id;
    let mut sids = Sids {
        base: ctx.opts.suricata_sid_base,
        used: BTreeSet::new(),
    };
    let mut body = String::new();
    let mut emit = |body: &mut String, action: &str, what: &str, m: Match<'_>| {
        let (name, kind) = label(m);
        for (proto, buffer, tag) in [("dns", "dns.query", "DNS"), ("tls", "tls.sni", "TLS SNI")] {
            let sid = sids.next(&format!("{g}|{action}|{kind}|{name}|{proto}"));
            body.push_str(&format!(
                "{action} {proto} any any -> any any (msg:\"appwarden {g} {what} {name} ({tag})\"; {buffer}; {} classtype:policy-violation; sid:{sid}; rev:1;)\n",
                options(m)
            ));
        }
    };
    for a in &n.exceptions {
        emit(&mut body, "pass", "allow", Match::Domain(a));
        counts.exceptions += 1;
    }
    for d in n.block_domains.keys() {
        emit(&mut body, "drop", "block", Match::Domain(d));
        counts.written += 1;
    }
    for d in n.block_exact.keys() {
        emit(&mut body, "drop", "block", Match::Exact(d));
        counts.written += 1;
    }
    for p in &n.block_patterns {
        emit(&mut body, "drop", "block", Match::Pattern(p));
        counts.written += 1;
    }
    for d in &n.log_domains {
        emit(&mut body, "alert", "log-only", Match::Domain(d));
        counts.written += 1;
    }
    for d in &n.log_exact {
        emit(&mut body, "alert", "log-only", Match::Exact(d));
        counts.written += 1;
    }
    for p in &n.log_patterns {
        emit(&mut body, "alert", "log-only", Match::Pattern(p));
        counts.written += 1;
    }
    for (action, what, nets) in [
        ("drop", "block", &n.block_prefixes),
        ("alert", "log-only", &n.log_prefixes),
    ] {
        if nets.is_empty() {
            continue;
        }
        let list: Vec<String> = nets.iter().map(ToString::to_string).collect();
        let sid = sids.next(&format!("{g}|{action}|prefixes"));
        body.push_str(&format!(
            "{action} ip $HOME_NET any -> [{}] any (msg:\"appwarden {g} {what} app address\"; classtype:policy-violation; sid:{sid}; rev:1;)\n",
            list.join(",")
        ));
        counts.written += nets.len();
    }
    let notes = [
        "add to suricata.yaml rule-files; check with  suricata -T -S PATH".to_string(),
        "drop acts only in IPS mode (NFQ / af-packet inline); in IDS mode it alerts".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
