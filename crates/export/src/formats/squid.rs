//! Squid ACLs: `dstdomain .NAME` matches a name and its subdomains, `NAME`
//! the name only, `dstdom_regex` the patterns; `http_access deny` with the
//! allow exceptions negated. Log-only names get an `access_log` of their own.
//! Include before the site's own `http_access allow` lines.

use super::{Ctx, pattern_regex};
use crate::ExportError;
use crate::names::Counts;

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    } else {
        counts.log_only_omitted += n.log_prefixes.len();
        n.log_prefixes.clear();
    }
    let g = ctx.group.id.as_str();
    let mut body = String::new();
    let acl = |body: &mut String, name: &str, kind: &str, value: &str| {
        body.push_str(&format!("acl appwarden_{g}_{name} {kind} {value}\n"));
    };
    let block = !n.block_domains.is_empty() || !n.block_exact.is_empty();
    for d in n.block_domains.keys() {
        acl(&mut body, "block", "dstdomain", &format!(".{d}"));
        counts.written += 1;
    }
    for d in n.block_exact.keys() {
        acl(&mut body, "block", "dstdomain", d);
        counts.written += 1;
    }
    for p in &n.block_patterns {
        acl(&mut body, "block_re", "dstdom_regex -i", &pattern_regex(p));
        counts.written += 1;
    }
    for a in &n.exceptions {
        acl(&mut body, "allow", "dstdomain", &format!(".{a}"));
        counts.exceptions += 1;
    }
    let unless = if n.exceptions.is_empty() {
        String::new()
    } else {
        format!(" !appwarden_{g}_allow")
    };
    if block {
        body.push_str(&format!("http_access deny appwarden_{g}_block{unless}\n"));
    }
    if !n.block_patterns.is_empty() {
        body.push_str(&format!("http_access deny appwarden_{g}_block_re{unless}\n"));
    }
    let has_log = !n.log_domains.is_empty() || !n.log_exact.is_empty() || !n.log_patterns.is_empty();
    let mut parts = Vec::new();
    for d in &n.log_domains {
        acl(&mut body, "log_dom", "dstdomain", &format!(".{d}"));
        counts.written += 1;
    }
    for d in &n.log_exact {
        acl(&mut body, "log_dom", "dstdomain", d);
        counts.written += 1;
    }
    if !n.log_domains.is_empty() || !n.log_exact.is_empty() {
        parts.push(format!("appwarden_{g}_log_dom"));
    }
    for p in &n.log_patterns {
        acl(&mut body, "log_re", "dstdom_regex -i", &pattern_regex(p));
        counts.written += 1;
    }
    if !n.log_patterns.is_empty() {
        parts.push(format!("appwarden_{g}_log_re"));
    }
    if has_log {
        acl(&mut body, "log", "any-of", &parts.join(" "));
        body.push_str(&format!(
            "access_log stdio:/var/log/squid/appwarden-{g}-would-block.log logformat=squid appwarden_{g}_log\n"
        ));
    }
    let notes = [
        "include in squid.conf before your http_access allow lines:  include PATH ; check with squid -k parse"
            .to_string(),
        "log-only names are logged to /var/log/squid/appwarden-GROUP-would-block.log and not denied".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
