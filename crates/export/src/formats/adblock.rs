//! AdGuard Home / adblock-style DNS filter list: `||NAME^` blocks a name and
//! its subdomains, `|NAME^` the name only, `/REGEX/` a pattern, and
//! `@@||NAME^` is an allow exception. The answer is the server's blocking
//! mode (AdGuard Home: Settings → DNS → Blocking mode).

use super::{Ctx, pattern_regex};
use crate::ExportError;
use crate::names::Counts;

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    ctx.omit_log(&mut n, counts, true);
    let mut body = String::new();
    for d in n.block_domains.keys() {
        body.push_str(&format!("||{d}^\n"));
        counts.written += 1;
    }
    for d in n.block_exact.keys() {
        body.push_str(&format!("|{d}^\n"));
        counts.written += 1;
    }
    for p in &n.block_patterns {
        body.push_str(&format!("/{}/\n", pattern_regex(p)));
        counts.written += 1;
    }
    for a in &n.exceptions {
        body.push_str(&format!("@@||{a}^\n"));
        counts.exceptions += 1;
    }
    let notes = [
        "AdGuard Home: Filters -> DNS blocklists -> Add blocklist (file path or URL); the answer is the server's blocking mode (set it to NXDOMAIN)".to_string(),
        "IP prefixes are not written: use the nftables or iptables export".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "! ") + &body).into_bytes())
}
