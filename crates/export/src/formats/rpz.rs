//! Response-policy zone files (BIND, Unbound, PowerDNS Recursor: same zone
//! format, different loading instructions in the header).
//!
//! A domain rule is two triggers (`NAME` and `*.NAME`), an exact name one.
//! Actions: `CNAME .` = NXDOMAIN, `CNAME *.` = NODATA, `A`/`AAAA` = local
//! data, `CNAME rpz-passthru.` = answer normally and log the hit (log-only
//! names and allow exceptions). The serial is derived from the plan's
//! `as_of` and the zone content: `YYYYMMDD * 100 + (SHA-256(records) mod 100)`,
//! raised above `Options::previous_serial` when given.

use sha2::{Digest, Sha256};

use super::{Ctx, Effective, comment_list};
use crate::names::Counts;
use crate::{ExportError, Format};

fn records(out: &mut String, owner: &str, e: Effective) {
    match e {
        Effective::Nxdomain => out.push_str(&format!("{owner} CNAME .\n")),
        Effective::Nodata => out.push_str(&format!("{owner} CNAME *.\n")),
        Effective::Ip(v4, v6) => {
            out.push_str(&format!("{owner} A {v4}\n"));
            if let Some(v6) = v6 {
                out.push_str(&format!("{owner} AAAA {v6}\n"));
            }
        }
    }
}

/// The zone origin: the option or `rpz.appwarden.<group>`.
pub(crate) fn origin(ctx: &Ctx<'_>) -> Result<String, ExportError> {
    let z = match &ctx.opts.rpz_zone {
        Some(z) => z.trim_end_matches('.').to_string(),
        None => format!("rpz.appwarden.{}", ctx.group.id.replace('_', "-")),
    };
    catalog::domain::check_domain(&z).map_err(|reason| ExportError::InvalidOption {
        option: "rpz_zone",
        reason,
    })?;
    Ok(z)
}

/// Serial from the day and a hash of the records.
pub(crate) fn serial(ctx: &Ctx<'_>, records: &str) -> u32 {
    let day = ctx.plan.stamp.as_of.to_string().replace('-', "");
    let day: u32 = day.parse().unwrap_or(19700101);
    let h = Sha256::digest(records.as_bytes());
    let low = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % 100;
    let s = day.saturating_mul(100).saturating_add(low);
    match ctx.opts.previous_serial {
        Some(p) if p >= s => p.wrapping_add(1).max(1),
        _ => s,
    }
}

pub(crate) fn write(ctx: &Ctx<'_>, counts: &mut Counts) -> Result<Vec<u8>, ExportError> {
    let zone = origin(ctx)?;
    let mut n = ctx.names(counts);
    if !ctx.native_log() {
        ctx.omit_log(&mut n, counts, true);
    } else {
        counts.log_only_omitted += n.log_prefixes.len();
        n.log_prefixes.clear();
    }
    let commented = ctx.fold_patterns(&mut n, counts);
    let mut body = String::new();
    for (d, a) in &n.block_domains {
        let e = ctx.effective(*a);
        records(&mut body, d, e);
        records(&mut body, &format!("*.{d}"), e);
        counts.written += 1;
    }
    for (d, a) in &n.block_exact {
        records(&mut body, d, ctx.effective(*a));
        counts.written += 1;
    }
    if !n.log_domains.is_empty() || !n.log_exact.is_empty() {
        body.push_str("; log-only: answered normally, the policy hit is logged\n");
    }
    for d in &n.log_domains {
        body.push_str(&format!("{d} CNAME rpz-passthru.\n*.{d} CNAME rpz-passthru.\n"));
        counts.written += 1;
    }
    for d in &n.log_exact {
        body.push_str(&format!("{d} CNAME rpz-passthru.\n"));
        counts.written += 1;
    }
    if !n.exceptions.is_empty() {
        body.push_str("; custom.allow below blocked names: passthru\n");
    }
    for a in &n.exceptions {
        body.push_str(&format!("{a} CNAME rpz-passthru.\n*.{a} CNAME rpz-passthru.\n"));
        counts.exceptions += 1;
    }
    comment_list(
        &mut body,
        "; ",
        "patterns (RPZ wildcards cover whole labels only):",
        &commented,
    );
    let serial = serial(ctx, &body);
    let ttl = ctx.opts.ttl;
    let load = match ctx.format {
        Format::BindRpz => format!(
            "BIND: zone \"{zone}\" {{ type primary; file \"PATH\"; }}; options {{ response-policy {{ zone \"{zone}\" log yes; }}; }}; check: named-checkzone {zone} PATH"
        ),
        Format::UnboundRpz => format!(
            "Unbound: rpz: name: \"{zone}.\" zonefile: \"PATH\" rpz-log: yes rpz-log-name: \"appwarden\" (module-config: \"respip validator iterator\")"
        ),
        _ => format!(
            "PowerDNS Recursor: rpzFile(\"PATH\", {{policyName=\"appwarden\"}}) (recursor.conf lua-config-file); zone {zone}"
        ),
    };
    let notes = [
        load,
        format!("serial {serial} = as_of YYYYMMDD * 100 + SHA-256(records) mod 100, or previous serial + 1"),
    ];
    let mut out = ctx.header(counts, &notes, "; ");
    out.push_str(&format!(
        "$ORIGIN {zone}.\n$TTL {ttl}\n@ IN SOA localhost. hostmaster.localhost. {serial} 3600 600 86400 {ttl}\n@ IN NS localhost.\n"
    ));
    out.push_str(&body);
    Ok(out.into_bytes())
}
