//! iptables + ipset: an `ipset restore` file with `hash:net` sets of blocked
//! and log-only prefixes (IPv4 and IPv6); the iptables / ip6tables rules
//! that use them are in the header. Set names are `aw-GROUP-b4` etc. (a hash
//! of the group id when it is too long: ipset names have at most 31 characters).

use ipnet::IpNet;
use sha2::{Digest, Sha256};

use super::Ctx;
use crate::names::Counts;
use crate::{ExportError, hex};

/// The set name prefix for a group.
pub(crate) fn set_prefix(group: &str) -> String {
    if group.len() <= 24 {
        format!("aw-{group}")
    } else {
        format!("aw-{}", &hex(&Sha256::digest(group.as_bytes()))[..12])
    }
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    }
    let p = set_prefix(&ctx.group.id);
    let mut body = String::new();
    let sets = [
        ("b4", "inet", false, &n.block_prefixes),
        ("b6", "inet6", true, &n.block_prefixes),
        ("l4", "inet", false, &n.log_prefixes),
        ("l6", "inet6", true, &n.log_prefixes),
    ];
    for (suffix, family, v6, nets) in sets {
        let name = format!("{p}-{suffix}");
        body.push_str(&format!(
            "create {name} hash:net family {family} -exist\nflush {name}\n"
        ));
        for net in nets.iter().filter(|x| matches!(x, IpNet::V6(_)) == v6) {
            body.push_str(&format!("add {name} {net}\n"));
            counts.written += 1;
        }
    }
    let notes = [
        "load with  ipset restore -exist < PATH  then add the rules once:".to_string(),
        format!(
            "iptables  -I FORWARD -m set --match-set {p}-b4 dst -j DROP ; iptables  -I OUTPUT -m set --match-set {p}-b4 dst -j DROP"
        ),
        format!(
            "ip6tables -I FORWARD -m set --match-set {p}-b6 dst -j DROP ; ip6tables -I OUTPUT -m set --match-set {p}-b6 dst -j DROP"
        ),
        format!(
            "iptables  -I FORWARD -m set --match-set {p}-l4 dst -j LOG --log-prefix appwarden-would-block: (ip6tables likewise with {p}-l6)"
        ),
        "addresses only: domains are enforced by the DNS exports".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
