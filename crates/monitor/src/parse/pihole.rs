//! Pi-hole's `pihole.log`: dnsmasq `log-queries` lines written by pihole-FTL,
//! plus its own answer sources:
//!
//! ```text
//! Jan 10 10:00:01 dnsmasq[812]: gravity blocked tiktokv.com is 0.0.0.0
//! Jan 10 10:00:02 dnsmasq[812]: regex blacklisted ads.example is 0.0.0.0
//! Jan 10 10:00:03 dnsmasq[812]: exactly blacklisted www.tiktok.com is ::
//! Jan 10 10:00:04 dnsmasq[812]: special domain use-application-dns.net is NXDOMAIN
//! ```
//!
//! Parsing is shared with [`crate::parse::dnsmasq`]; this module decides what
//! Pi-hole's answer sources mean.

use crate::event::Action;

/// The action a Pi-hole answer source (the words before the name) stands for.
pub fn source_action(source: &str) -> Action {
    let s = source.to_ascii_lowercase();
    if s.contains("blocked")
        || s.contains("blacklisted")
        || s.contains("denied")
        || s.contains("special domain")
        || s.contains("private relay")
    {
        Action::Blocked
    } else if s.contains("whitelisted") || s.contains("allowed") || s.contains("hostname") {
        Action::Allowed
    } else {
        Action::Unknown
    }
}
