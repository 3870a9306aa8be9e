//! `/etc/hosts` lines. A hosts file matches exact names only, so a domain
//! rule blocks the listed name but not its subdomains (said in the header).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Ctx, Effective, comment_list};
use crate::ExportError;
use crate::names::Counts;

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    ctx.omit_log(&mut n, counts, true);
    let commented = ctx.fold_patterns(&mut n, counts);
    let mut body = String::new();
    let mut all: Vec<(&String, crate::names::Answer)> = n
        .block_domains
        .iter()
        .chain(n.block_exact.iter())
        .map(|(k, v)| (k, *v))
        .collect();
    all.sort();
    for (name, a) in all {
        let (v4, v6) = match ctx.effective(a) {
            Effective::Ip(v4, v6) => (v4, v6),
            _ => (Ipv4Addr::UNSPECIFIED, Some(Ipv6Addr::UNSPECIFIED)),
        };
        body.push_str(&format!("{v4} {name}\n"));
        if let Some(v6) = v6 {
            body.push_str(&format!("{v6} {name}\n"));
        }
        counts.written += 1;
    }
    comment_list(
        &mut body,
        "# ",
        "patterns (not expressible in a hosts file):",
        &commented,
    );
    let notes = [
        "hosts files match exact names only: subdomains of the listed names are NOT blocked; prefer a DNS format"
            .to_string(),
        "NXDOMAIN cannot be expressed: blocked names answer 0.0.0.0 and ::".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
