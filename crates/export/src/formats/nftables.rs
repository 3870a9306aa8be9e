//! nftables: a table `inet appwarden_GROUP` with interval sets of blocked and
//! log-only prefixes (IPv4 and IPv6) and `forward` / `output` chains that
//! drop blocked destinations and log log-only ones. The file deletes and
//! re-creates its own table, so `nft -f FILE` can be run again on change.
//! Names are not matched here (the DNS exports do that).

use ipnet::IpNet;

use super::Ctx;
use crate::ExportError;
use crate::names::Counts;

fn set(out: &mut String, name: &str, v6: bool, nets: &[IpNet]) {
    let ty = if v6 { "ipv6_addr" } else { "ipv4_addr" };
    out.push_str(&format!(
        "\tset {name} {{\n\t\ttype {ty}\n\t\tflags interval\n\t\tauto-merge\n"
    ));
    let els: Vec<String> = nets
        .iter()
        .filter(|n| matches!(n, IpNet::V6(_)) == v6)
        .map(ToString::to_string)
        .collect();
    if !els.is_empty() {
        out.push_str(&format!("\t\telements = {{ {} }}\n", els.join(", ")));
    }
    out.push_str("\t}\n");
}

/// The table name for a group.
pub(crate) fn table(group: &str) -> String {
    format!("appwarden_{}", group.replace('-', "_"))
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    }
    let t = table(&ctx.group.id);
    let mut body = format!("table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
    set(&mut body, "block_v4", false, &n.block_prefixes);
    set(&mut body, "block_v6", true, &n.block_prefixes);
    set(&mut body, "log_v4", false, &n.log_prefixes);
    set(&mut body, "log_v6", true, &n.log_prefixes);
    counts.written += n.block_prefixes.len() + n.log_prefixes.len();
    for (chain, hook) in [("forward", "forward"), ("output", "output")] {
        body.push_str(&format!(
            "\tchain {chain} {{\n\t\ttype filter hook {hook} priority 0; policy accept;\n\
             \t\tip daddr @log_v4 log prefix \"appwarden would-block: \" counter\n\
             \t\tip6 daddr @log_v6 log prefix \"appwarden would-block: \" counter\n\
             \t\tip daddr @block_v4 counter drop\n\
             \t\tip6 daddr @block_v6 counter drop\n\t}}\n"
        ));
    }
    body.push_str("}\n");
    let notes = [
        format!("load with  nft -f PATH  (re-runnable: it replaces table inet {t}); check with nft -c -f PATH"),
        "addresses only: domains, exact names and patterns are enforced by the DNS exports".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "# ") + &body).into_bytes())
}
