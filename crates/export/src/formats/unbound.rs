//! Unbound `local-zone:` lines for inclusion inside `server:`. A local zone
//! covers its name and everything below it, and the most specific zone wins,
//! so an allow exception is an `always_transparent` zone below a blocked one
//! and log-only names are `inform` zones (answered normally, logged).

use super::{Ctx, Effective, comment_list};
use crate::ExportError;
use crate::names::Counts;

fn zone(out: &mut String, name: &str, e: Effective, ttl: u32, exact: bool) {
    match e {
        Effective::Nxdomain => out.push_str(&format!("local-zone: \"{name}.\" always_nxdomain\n")),
        Effective::Nodata => out.push_str(&format!("local-zone: \"{name}.\" always_nodata\n")),
        Effective::Ip(v4, v6) => {
            // redirect: the name and all below answer the zone apex's data;
            // transparent + data: only the name itself.
            let kind = if exact { "transparent" } else { "redirect" };
            out.push_str(&format!("local-zone: \"{name}.\" {kind}\n"));
            out.push_str(&format!("local-data: \"{name}. {ttl} IN A {v4}\"\n"));
            if let Some(v6) = v6 {
                out.push_str(&format!("local-data: \"{name}. {ttl} IN AAAA {v6}\"\n"));
            }
        }
    }
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    } else {
        counts.log_only_omitted += n.log_prefixes.len();
        n.log_prefixes.clear();
    }
    let commented = ctx.fold_patterns(&mut n, counts);
    let ttl = ctx.opts.ttl;
    let mut body = String::new();
    for (d, a) in &n.block_domains {
        zone(&mut body, d, ctx.effective(*a), ttl, false);
        counts.written += 1;
    }
    for (d, a) in &n.block_exact {
        let e = ctx.effective(*a);
        if !matches!(e, Effective::Ip(..)) {
            counts.exact_widened += 1;
        }
        zone(&mut body, d, e, ttl, true);
        counts.written += 1;
    }
    for d in n.log_domains.iter().chain(n.log_exact.iter()) {
        body.push_str(&format!("local-zone: \"{d}.\" inform\n"));
        counts.written += 1;
    }
    if !n.log_exact.is_empty() {
        counts.exact_widened += n.log_exact.len();
    }
    for a in &n.exceptions {
        body.push_str(&format!("local-zone: \"{a}.\" always_transparent\n"));
        counts.exceptions += 1;
    }
    comment_list(
        &mut body,
        "# ",
        "patterns (local-zone has no wildcards; use the RPZ export or the appwarden resolver):",
        &commented,
    );
    let notes = [
        "include inside server: with  include: \"PATH\"; check with unbound-checkconf".to_string(),
        "log-only names are inform zones: answered normally, the query is logged (verbosity 1+)".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
