//! Unbound `log-queries`, `log-replies` and `log-local-actions` lines, with the
//! epoch (`[1795316078] unbound[29014:0] info: …`) or `log-time-ascii` /
//! syslog prefixes, and with or without `log-tag-queryreply` (`query:` /
//! `reply:` instead of `info:`):
//!
//! ```text
//! … info: 127.0.0.1 www.tiktok.com. A IN                                 (query)
//! … info: 127.0.0.1 www.tiktok.com. A IN NOERROR 0.000350 0 59           (reply: rcode, time, cached, size)
//! … info: tiktokv.com. always_nxdomain 127.0.0.1@46760 api.tiktokv.com. A IN   (local action)
//! ```
//!
//! A reply that follows a blocking local action for the same client and name
//! is marked blocked too.

use crate::error::{ErrorKind, LineError};
use crate::event::{Action, DnsType, Event};
use crate::parse::syslog::SyslogClock;
use crate::parse::{normalize_name, parse_ip, split_ip_port, token, Ctx, Outcome};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::net::IpAddr;

/// Per-file state of the Unbound parser.
#[derive(Debug, Clone)]
pub struct UnboundParser {
    clock: SyslogClock,
    /// The last blocking local action: (client, lower-cased name).
    last_block: Option<(IpAddr, String, String)>,
}

const LEVELS: [&str; 7] = ["info:", "query:", "reply:", "notice:", "warning:", "error:", "debug:"];

impl UnboundParser {
    pub(crate) fn new(ctx: &Ctx) -> Self {
        UnboundParser {
            clock: SyslogClock::new(ctx),
            last_block: None,
        }
    }

    pub(crate) fn parse<'a>(&mut self, line: &'a str, ctx: &Ctx) -> Result<Outcome<'a>, LineError> {
        let (ts, rest) = if let Some(r) = line.strip_prefix('[') {
            let close = r.find("] ").ok_or_else(|| LineError::truncated("timestamp"))?;
            let ts = Timestamp::parse_epoch(&r[..close])
                .ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad epoch"))?;
            (ts, &r[close + 2..])
        } else {
            self.clock.parse(line, ctx)?
        };
        // Find the level tag within the first few tokens.
        let mut s = rest;
        let mut level = "";
        for _ in 0..4 {
            let (t, r) = token(s);
            if LEVELS.contains(&t) {
                level = t;
                s = r;
                break;
            }
            s = r;
            if s.is_empty() {
                break;
            }
        }
        match level {
            "info:" | "query:" | "reply:" => {}
            "" => {
                return Err(LineError::new(
                    "log.level",
                    ErrorKind::Syntax,
                    "no `info:`/`query:`/`reply:` tag",
                ))
            }
            _ => return Ok(Outcome::Skip("unbound.other")),
        }
        let mut toks: [&str; 9] = [""; 9];
        let mut n = 0;
        for t in s.split(' ').filter(|t| !t.is_empty()) {
            if n == toks.len() {
                n += 1;
                break;
            }
            toks[n] = t;
            n += 1;
        }
        let first_is_ip = toks[0].parse::<IpAddr>().is_ok();
        let mut ev = Event::new("unbound.query", "dns", "unbound");
        ev.timestamp = Some(ts);
        if first_is_ip {
            let is_reply = level == "reply:" || (level != "query:" && n == 8);
            let want = if is_reply { 8 } else { 4 };
            if n != want {
                return Err(LineError::new(
                    "message",
                    ErrorKind::FieldCount,
                    format!(
                        "{} line with {n} fields, want {want}",
                        if is_reply { "reply" } else { "query" }
                    ),
                ));
            }
            ev.source_ip = Some(parse_ip("source.ip", toks[0])?);
            ev.dns_question_name = Some(normalize_name(toks[1]));
            ev.dns_question_type = Some(Cow::Borrowed(toks[2]));
            if is_reply {
                self.reply(&mut ev, &toks)?;
            } else {
                ev.dns_type = Some(DnsType::Query);
            }
            return Ok(Outcome::Event(ev));
        }
        if n == 6 && toks[2].contains('@') {
            let Some(action) = local_action(toks[1]) else {
                return Ok(Outcome::Skip("unbound.other"));
            };
            let (ip, port) = split_ip_port("source.ip", toks[2], '@')?;
            ev.dataset = "unbound.local_action";
            ev.dns_type = Some(DnsType::Answer);
            ev.source_ip = Some(ip);
            ev.source_port = port;
            ev.dns_question_name = Some(normalize_name(toks[3]));
            ev.dns_question_type = Some(Cow::Borrowed(toks[4]));
            ev.action = action;
            ev.rule_name = Some(Cow::Owned(format!("{} {}", normalize_name(toks[0]), toks[1])));
            if action == Action::Blocked {
                let name = normalize_name(toks[3]).into_owned();
                self.last_block = Some((ip, name, toks[4].to_owned()));
            }
            return Ok(Outcome::Event(ev));
        }
        Ok(Outcome::Skip("unbound.other"))
    }

    fn reply<'a>(&mut self, ev: &mut Event<'a>, toks: &[&'a str; 9]) -> Result<(), LineError> {
        ev.dns_type = Some(DnsType::Answer);
        ev.dns_response_code = Some(Cow::Borrowed(toks[4]));
        if toks[5].parse::<f64>().is_err() || toks[6].parse::<u8>().is_err() || toks[7].parse::<u32>().is_err() {
            return Err(LineError::new(
                "message",
                ErrorKind::Number,
                "reply time/cached/size not numeric",
            ));
        }
        ev.action = Action::Allowed;
        if let Some((ip, name, qtype)) = &self.last_block {
            if Some(*ip) == ev.source_ip
                && ev.dns_question_name.as_deref() == Some(name.as_str())
                && ev.dns_question_type.as_deref() == Some(qtype.as_str())
            {
                ev.action = Action::Blocked;
                ev.rule_name = Some(Cow::Borrowed("local-zone"));
                self.last_block = None;
            }
        }
        Ok(())
    }
}

/// Maps an Unbound local-zone type to the action it means for the client.
fn local_action(kind: &str) -> Option<Action> {
    Some(match kind {
        "always_nxdomain" | "always_refuse" | "always_null" | "always_nodata" | "refuse" | "deny" | "static"
        | "redirect" | "inform_deny" | "inform_redirect" => Action::Blocked,
        "always_transparent" | "transparent" | "typetransparent" | "inform" => Action::Allowed,
        _ => return None,
    })
}
