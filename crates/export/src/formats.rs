//! One writer per format, and what they share: the compiled names of the
//! group, the effective answer of a name, regex forms of names and patterns.

mod adblock;
mod amapi;
mod apple;
mod applocker;
mod dnsmasq;
mod domains;
mod hosts;
mod intune;
mod iptables;
mod knot;
mod nftables;
mod pihole;
mod rpz;
mod squid;
mod suricata;
mod unbound;
mod zeek;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use catalog::domain::{check_block_rule, is_subdomain_or_self};
use policy::plan::{EnforcementPlan, PlanGroup};

use crate::names::{self, Answer, Counts, GroupNames};
use crate::{BlockedAnswer, ExportError, Format, LogOnlyMode, Options, PatternFallback, header};

/// Everything a writer gets.
pub(crate) struct Ctx<'a> {
    pub plan: &'a EnforcementPlan,
    pub group: &'a PlanGroup,
    pub opts: &'a Options,
    pub format: Format,
}

/// A name's answer after the group's blocked-answer option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effective {
    Nxdomain,
    Nodata,
    Ip(Ipv4Addr, Option<Ipv6Addr>),
}

impl Ctx<'_> {
    /// The group's names: log-only rules folded in or dropped per options.
    pub fn names(&self, counts: &mut Counts) -> GroupNames {
        let enforce = self.opts.log_only == LogOnlyMode::Enforce;
        let mut n = names::compile(self.plan, self.group, enforce);
        if self.opts.log_only == LogOnlyMode::Omit {
            counts.log_only_omitted +=
                n.log_domains.len() + n.log_exact.len() + n.log_patterns.len() + n.log_prefixes.len();
            n.log_domains.clear();
            n.log_exact.clear();
            n.log_patterns.clear();
            n.log_prefixes.clear();
        }
        counts.invalid += n.counts.invalid;
        counts.allowed += n.counts.allowed;
        n
    }

    /// Whether log-only rules should be written natively (the format must be able to).
    pub fn native_log(&self) -> bool {
        self.opts.log_only == LogOnlyMode::Native
    }

    /// Counts log-only names as omitted (for formats that cannot log without blocking).
    pub fn omit_log(&self, n: &mut GroupNames, counts: &mut Counts, with_prefixes: bool) {
        counts.log_only_omitted += n.log_domains.len() + n.log_exact.len() + n.log_patterns.len();
        n.log_domains.clear();
        n.log_exact.clear();
        n.log_patterns.clear();
        if with_prefixes {
            counts.log_only_omitted += n.log_prefixes.len();
            n.log_prefixes.clear();
        }
    }

    /// The effective answer for a name's answer.
    pub fn effective(&self, a: Answer) -> Effective {
        match a {
            Answer::Nxdomain => Effective::Nxdomain,
            Answer::Nodata => Effective::Nodata,
            Answer::Blocked => match self.opts.answer {
                BlockedAnswer::Nxdomain => Effective::Nxdomain,
                BlockedAnswer::Nodata => Effective::Nodata,
                BlockedAnswer::NullIp => Effective::Ip(Ipv4Addr::UNSPECIFIED, Some(Ipv6Addr::UNSPECIFIED)),
                BlockedAnswer::Ip { v4, v6 } => Effective::Ip(v4, v6),
            },
        }
    }

    /// For formats without wildcard patterns: widen them into blocked
    /// domains (option `Widen`) or return them to be listed as comments.
    /// Log-only patterns are widened into log-only domains likewise.
    pub fn fold_patterns(&self, n: &mut GroupNames, counts: &mut Counts) -> Vec<String> {
        let mut commented = Vec::new();
        let block: Vec<String> = std::mem::take(&mut n.block_patterns).into_iter().collect();
        let log: Vec<String> = std::mem::take(&mut n.log_patterns).into_iter().collect();
        for (p, is_log) in block
            .into_iter()
            .map(|p| (p, false))
            .chain(log.into_iter().map(|p| (p, true)))
        {
            let tail = names::pattern_tail(&p).to_string();
            if self.opts.patterns == PatternFallback::Widen && check_block_rule(&tail).is_ok() {
                counts.patterns_widened += 1;
                let covered = n.block_domains.keys().any(|d| is_subdomain_or_self(&tail, d));
                if is_log {
                    if !covered {
                        n.log_domains.insert(tail);
                    }
                } else if !covered {
                    n.block_domains.insert(tail.clone(), Answer::Blocked);
                    let snapshot: BTreeSet<String> = n.block_domains.keys().cloned().collect();
                    n.block_domains.retain(|d, a| {
                        *a != Answer::Blocked || !snapshot.iter().any(|s| s != d && is_subdomain_or_self(d, s))
                    });
                    n.block_exact
                        .retain(|e, a| *a != Answer::Blocked || !is_subdomain_or_self(e, &tail));
                    n.log_domains.retain(|d| !is_subdomain_or_self(d, &tail));
                    n.log_exact.retain(|d| !is_subdomain_or_self(d, &tail));
                }
            } else {
                counts.patterns_unexpressed += 1;
                commented.push(if is_log { format!("{p} (log-only)") } else { p });
            }
        }
        commented
    }

    /// The header as comment lines.
    pub fn header(&self, counts: &Counts, notes: &[String], prefix: &str) -> String {
        header::comment(self.plan, self.format, &self.group.id, counts, notes, prefix)
    }

    /// The header as one line of text (for descriptions).
    pub fn header_text(&self, counts: &Counts, notes: &[String]) -> String {
        header::lines(self.plan, self.format, &self.group.id, counts, notes).join(" | ")
    }
}

/// An anchored POSIX-ERE / PCRE regex for a pattern (`*` = one or more non-dot characters).
pub(crate) fn pattern_regex(p: &str) -> String {
    let mut s = String::from("^");
    for c in p.chars() {
        match c {
            '*' => s.push_str("[^.]+"),
            '.' => s.push_str("\\."),
            c => s.push(c),
        }
    }
    s.push('$');
    s
}

/// An anchored regex for a name and its subdomains.
pub(crate) fn domain_regex(d: &str) -> String {
    format!("(^|\\.){}$", d.replace('.', "\\."))
}

/// An anchored regex for exactly one name.
pub(crate) fn exact_regex(d: &str) -> String {
    format!("^{}$", d.replace('.', "\\."))
}

/// Dispatches to the writer.
pub(crate) fn render(
    plan: &EnforcementPlan,
    group: &PlanGroup,
    format: Format,
    opts: &Options,
    counts: &mut Counts,
) -> Result<Vec<u8>, ExportError> {
    let ctx = Ctx {
        plan,
        group,
        opts,
        format,
    };
    match format {
        Format::Hosts => hosts::write(&ctx, counts),
        Format::Domains => domains::write(&ctx, counts),
        Format::Dnsmasq => dnsmasq::write(&ctx, counts),
        Format::UnboundLocalZone => unbound::write(&ctx, counts),
        Format::UnboundRpz | Format::BindRpz | Format::PowerdnsRpz => rpz::write(&ctx, counts),
        Format::KnotPolicy => knot::write(&ctx, counts),
        Format::Adblock => adblock::write(&ctx, counts),
        Format::Pihole => pihole::write(&ctx, counts),
        Format::Squid => squid::write(&ctx, counts),
        Format::Nftables => nftables::write(&ctx, counts),
        Format::Iptables => iptables::write(&ctx, counts),
        Format::Suricata => suricata::write(&ctx, counts),
        Format::ZeekIntel => zeek::write(&ctx, counts),
        Format::AppleMobileconfig => apple::write(&ctx, counts),
        Format::AmapiPolicy => amapi::write(&ctx, counts),
        Format::IntuneGraph => intune::write_graph(&ctx, counts),
        Format::IntuneCsv => intune::write_csv(&ctx, counts),
        Format::AppLocker => applocker::write(&ctx, counts),
    }
}

/// Appends commented patterns / exceptions to a body.
pub(crate) fn comment_list(out: &mut String, prefix: &str, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(prefix);
    out.push_str(title);
    out.push('\n');
    for i in items {
        out.push_str(prefix);
        out.push_str("  ");
        out.push_str(i);
        out.push('\n');
    }
}
