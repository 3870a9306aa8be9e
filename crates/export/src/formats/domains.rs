//! A plain list: one domain per line (the name and its subdomains), then the
//! exact names in their own commented section.

use super::{Ctx, comment_list};
use crate::ExportError;
use crate::names::Counts;

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    ctx.omit_log(&mut n, counts, true);
    let commented = ctx.fold_patterns(&mut n, counts);
    let mut body = String::new();
    for d in n.block_domains.keys() {
        body.push_str(d);
        body.push('\n');
        counts.written += 1;
    }
    if !n.block_exact.is_empty() {
        body.push_str("# exact names (block this name only, not its subdomains):\n");
        for d in n.block_exact.keys() {
            body.push_str(d);
            body.push('\n');
            counts.written += 1;
        }
    }
    comment_list(
        &mut body,
        "# ",
        "patterns ('*' = one or more characters within a label):",
        &commented,
    );
    let exceptions: Vec<String> = n.exceptions.iter().cloned().collect();
    counts.exceptions_unexpressed += exceptions.len();
    comment_list(
        &mut body,
        "# ",
        "allowed below a listed domain (custom.allow, not expressible here):",
        &exceptions,
    );
    let notes = ["each line blocks the name and its subdomains; lines starting with # are comments".to_string()];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
