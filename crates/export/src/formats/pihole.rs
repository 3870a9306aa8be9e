//! Pi-hole regex deny list (POSIX ERE, one per line): plain gravity lists
//! match exact names only, so a name and its subdomains need a regex.
//! Import with `pihole --regex` (v5) / `pihole deny --regex` (v6) or the web
//! interface (Domains → RegEx filter). Allow exceptions go to Pi-hole's allow
//! regex list; they are listed as comments.

use super::{Ctx, comment_list, domain_regex, exact_regex, pattern_regex};
use crate::ExportError;
use crate::names::Counts;

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    ctx.omit_log(&mut n, counts, true);
    let mut body = String::new();
    for d in n.block_domains.keys() {
        body.push_str(&domain_regex(d));
        body.push('\n');
        counts.written += 1;
    }
    for d in n.block_exact.keys() {
        body.push_str(&exact_regex(d));
        body.push('\n');
        counts.written += 1;
    }
    for p in &n.block_patterns {
        body.push_str(&pattern_regex(p));
        body.push('\n');
        counts.written += 1;
    }
    let allow: Vec<String> = n.exceptions.iter().map(|a| domain_regex(a)).collect();
    counts.exceptions_unexpressed += allow.len();
    comment_list(
        &mut body,
        "# ",
        "add these to the allow regex list (pihole allow --regex / --white-regex):",
        &allow,
    );
    let notes = ["one POSIX extended regex per line; lines starting with # are comments".to_string()];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
