//! Zeek Intel framework file (tab-separated). `Intel::DOMAIN` indicators are
//! matched against names Zeek sees (DNS queries, HTTP Host, TLS SNI) exactly:
//! a domain rule matches the listed name, not its subdomains (said in the
//! header). Prefixes are `Intel::SUBNET`. All indicators only alert; the
//! action (block / log-only) is in `meta.desc`.

use super::{Ctx, comment_list};
use crate::ExportError;
use crate::names::Counts;

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    }
    let commented = ctx.fold_patterns(&mut n, counts);
    let g = &ctx.group.id;
    let mut rows = String::new();
    let mut row = |ind: &str, ty: &str, desc: &str| {
        rows.push_str(&format!("{ind}\tIntel::{ty}\tappwarden-{g}\t{desc}\n"));
    };
    for d in n.block_domains.keys() {
        row(d, "DOMAIN", "block (domain and subdomains)");
        counts.written += 1;
    }
    for d in n.block_exact.keys() {
        row(d, "DOMAIN", "block (exact name)");
        counts.written += 1;
    }
    for d in &n.log_domains {
        row(d, "DOMAIN", "log-only (domain and subdomains)");
        counts.written += 1;
    }
    for d in &n.log_exact {
        row(d, "DOMAIN", "log-only (exact name)");
        counts.written += 1;
    }
    for net in &n.block_prefixes {
        row(&net.to_string(), "SUBNET", "block");
        counts.written += 1;
    }
    for net in &n.log_prefixes {
        row(&net.to_string(), "SUBNET", "log-only");
        counts.written += 1;
    }
    let mut tail = String::new();
    comment_list(&mut tail, "# ", "patterns (Zeek Intel has no wildcards):", &commented);
    let notes = [
        "load with  redef Intel::read_files += { \"PATH\" };  and  @load frameworks/intel/seen".to_string(),
        "Intel::DOMAIN matches the listed name exactly: subdomains of a domain rule are not matched".to_string(),
    ];
    let out = format!(
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n{}{}{}",
        ctx.header(counts, &notes, "# "),
        rows,
        tail
    );
    Ok(out.into_bytes())
}
