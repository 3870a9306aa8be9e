//! dnsmasq: `address=/NAME/` blocks a name and its subdomains (NXDOMAIN
//! without an address, the address otherwise); `host-record=` answers one
//! exact name; `server=/NAME/#` sends an allowed name below a blocked one to
//! the normal upstream servers (the longest matching domain wins).

use super::{Ctx, Effective, comment_list};
use crate::ExportError;
use crate::names::Counts;

fn address_lines(out: &mut String, name: &str, e: Effective) {
    match e {
        Effective::Nxdomain | Effective::Nodata => out.push_str(&format!("address=/{name}/\n")),
        Effective::Ip(v4, v6) => {
            out.push_str(&format!("address=/{name}/{v4}\n"));
            if let Some(v6) = v6 {
                out.push_str(&format!("address=/{name}/{v6}\n"));
            }
        }
    }
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    ctx.omit_log(&mut n, counts, true);
    let commented = ctx.fold_patterns(&mut n, counts);
    let mut body = String::new();
    for (d, a) in &n.block_domains {
        address_lines(&mut body, d, ctx.effective(*a));
        counts.written += 1;
    }
    for (d, a) in &n.block_exact {
        match ctx.effective(*a) {
            Effective::Ip(v4, v6) => match v6 {
                Some(v6) => body.push_str(&format!("host-record={d},{v4},{v6}\n")),
                None => body.push_str(&format!("host-record={d},{v4}\n")),
            },
            e => {
                counts.exact_widened += 1;
                address_lines(&mut body, d, e);
            }
        }
        counts.written += 1;
    }
    for a in &n.exceptions {
        body.push_str(&format!("server=/{a}/#\n"));
        counts.exceptions += 1;
    }
    comment_list(
        &mut body,
        "# ",
        "patterns (dnsmasq has no wildcards inside labels):",
        &commented,
    );
    let notes = [
        "load with conf-file=PATH (or drop into conf-dir); check with dnsmasq --test -C PATH".to_string(),
        "NODATA cannot be expressed: those names answer NXDOMAIN".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
