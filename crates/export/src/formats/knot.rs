//! Knot Resolver 5 policy rules (Lua; load with `dofile('PATH')` or paste
//! into kresd.conf). Rules are evaluated in order and the first non-chain
//! action wins. Blocks are `policy.suffix` (a name and its subdomains) and
//! `policy.domains` (exact names); log-only names get a chain action that
//! logs and lets the query continue. Allow exceptions are not a `policy.PASS`
//! rule (that would also skip the site's own `policy.FORWARD` rule after
//! ours): every appwarden rule is wrapped so it does not match an allowed name.

use std::collections::BTreeMap;

use super::{Ctx, Effective, comment_list};
use crate::ExportError;
use crate::names::Counts;

fn action(e: Effective, ttl: u32) -> String {
    match e {
        Effective::Nxdomain => "policy.DENY".to_string(),
        Effective::Nodata => "policy.ANSWER({}, true)".to_string(),
        Effective::Ip(v4, v6) => {
            let mut s = format!("policy.ANSWER({{ [kres.type.A] = {{ rdata = kres.str2ip('{v4}'), ttl = {ttl} }}");
            if let Some(v6) = v6 {
                s.push_str(&format!(
                    ", [kres.type.AAAA] = {{ rdata = kres.str2ip('{v6}'), ttl = {ttl} }}"
                ));
            }
            s.push_str(" }, true)");
            s
        }
    }
}

fn rule(out: &mut String, matcher: &str, action: &str, names: &[&String]) {
    if names.is_empty() {
        return;
    }
    out.push_str(&format!(
        "policy.add(appwarden_unless_allowed(policy.{matcher}({action}, policy.todnames({{\n"
    ));
    for n in names {
        out.push_str(&format!("  '{n}',\n"));
    }
    out.push_str("}))))\n");
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
    body.push_str("local appwarden_allowed = policy.suffix(true, policy.todnames({\n");
    for a in &n.exceptions {
        body.push_str(&format!("  '{a}',\n"));
        counts.exceptions += 1;
    }
    body.push_str(
        "}))\nlocal function appwarden_unless_allowed(rule)\n  return function(req, query)\n    if appwarden_allowed(req, query) then return nil end\n    return rule(req, query)\n  end\nend\n",
    );
    for (matcher, map) in [("suffix", &n.block_domains), ("domains", &n.block_exact)] {
        let mut by_action: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for (d, a) in map {
            by_action.entry(action(ctx.effective(*a), ttl)).or_default().push(d);
            counts.written += 1;
        }
        for (act, names) in by_action {
            rule(&mut body, matcher, &act, &names);
        }
    }
    if !n.log_domains.is_empty() || !n.log_exact.is_empty() {
        body.push_str(
            "local ffi = require('ffi')\nlocal function appwarden_would_block(_, req)\n  log_notice(ffi.C.LOG_GRP_POLICY, 'appwarden log-only: would block %s', kres.dname2str(req:current().sname))\n  return nil -- chain: the query goes on normally\nend\n",
        );
        let d: Vec<&String> = n.log_domains.iter().collect();
        let e: Vec<&String> = n.log_exact.iter().collect();
        rule(&mut body, "suffix", "appwarden_would_block", &d);
        rule(&mut body, "domains", "appwarden_would_block", &e);
        counts.written += d.len() + e.len();
    }
    comment_list(
        &mut body,
        "-- ",
        "patterns (not written; the appwarden resolver enforces them):",
        &commented,
    );
    let notes = [
        "load in kresd.conf with  dofile('PATH')  before your policy.FORWARD rule (Knot Resolver 5.x); rules are checked in order, first match wins".to_string(),
        "policy rules look at the query name only, not at CNAME targets in answers".to_string(),
    ];
    Ok((ctx.header(counts, &notes, "-- ") + &body).into_bytes())
}
