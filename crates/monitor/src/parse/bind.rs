//! BIND 9 query log (`category queries`, `query-errors`, `rpz`, `security`).
//!
//! Handles the `print-time` forms (`22-Nov-2026 02:54:51.317`, ISO 8601 with
//! or without `Z`/offset, none, or a syslog prefix), with or without
//! `print-category` / `print-severity`, with or without the `@0x…` client
//! pointer and a `view NAME:` part:
//!
//! ```text
//! 22-Nov-2026 02:54:51.317 queries: info: client @0x7f.. 127.0.0.1#59579 (www.tiktok.com): query: www.tiktok.com IN A +E(0)K (127.0.0.1)
//! … query-errors: info: client @0x.. 127.0.0.1#54937 (x.net): query failed (REFUSED) for x.net/IN/A at query.c:5708
//! … rpz: info: client @0x.. 203.0.113.5#5353 (www.tiktok.com): rpz QNAME NXDOMAIN rewrite www.tiktok.com/A/IN via www.tiktok.com.rpz.local
//! ```

use crate::error::{ErrorKind, LineError};
use crate::event::{Action, DnsType, Event};
use crate::parse::syslog::{split_ident, SyslogClock};
use crate::parse::{normalize_name, parse_ip, split_ip_port, token, Ctx, Filled};
use crate::time::{month_from_abbr, parse_2, parse_hms, split_frac, Civil, Timestamp};
use std::borrow::Cow;

/// Per-file state of the BIND parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindParser {
    clock: SyslogClock,
}

impl BindParser {
    pub(crate) fn new(ctx: &Ctx) -> Self {
        BindParser {
            clock: SyslogClock::new(ctx),
        }
    }

    /// Parses one line into `ev` (reset first; its content is unspecified
    /// unless the line is an event).
    pub(crate) fn parse_into<'a>(&mut self, line: &'a str, ctx: &Ctx, ev: &mut Event<'a>) -> Result<Filled, LineError> {
        let (ts, rest) = self.timestamp(line, ctx)?;
        let Some(ci) = find_short(rest.as_bytes(), b"client ") else {
            return Ok(Filled::Skip("bind.other"));
        };
        let mut s = &rest[ci + 7..];
        if s.starts_with('@') {
            s = token(s).1;
        }
        // `IP#port (name): msg` or `IP#port: msg`
        let addr_end = s
            .bytes()
            .position(|b| b == b' ' || b == b':')
            .ok_or_else(|| LineError::truncated("source.ip"))?;
        let (ip, port) = split_ip_port("source.ip", &s[..addr_end], '#')?;
        s = &s[addr_end..];
        if let Some(r) = s.strip_prefix(" (") {
            let close = find_short(r.as_bytes(), b"): ").ok_or_else(|| LineError::truncated("message"))?;
            s = &r[close + 3..];
        } else if let Some(r) = s.strip_prefix(": ") {
            s = r;
        } else {
            return Err(LineError::truncated("message"));
        }
        if let Some(r) = s.strip_prefix("view ") {
            let colon = r.find(": ").ok_or_else(|| LineError::truncated("message"))?;
            s = &r[colon + 2..];
        }

        ev.reset("bind.query", "dns", "bind");
        ev.timestamp = ts;
        ev.source_ip = Some(ip);
        ev.source_port = port;

        if let Some(q) = s.strip_prefix("query: ") {
            let (name, r) = token(q);
            let (_class, r) = token(r);
            let (qtype, r) = token(r);
            if name.is_empty() || qtype.is_empty() {
                return Err(LineError::truncated("dns.question.type"));
            }
            let (flags, r) = token(r);
            ev.dns_type = Some(DnsType::Query);
            ev.dns_question_name = Some(normalize_name(name));
            ev.dns_question_type = Some(Cow::Borrowed(qtype));
            ev.transport = Some(Cow::Borrowed(if flags.contains('T') { "tcp" } else { "udp" }));
            if let Some(d) = r.strip_prefix('(') {
                if let Some(end) = d.find(')') {
                    ev.destination_ip = Some(parse_ip("destination.ip", &d[..end])?);
                }
            }
            return Ok(Filled::Event);
        }
        if let Some(q) = s.strip_prefix("query failed (") {
            let close = q.find(')').ok_or_else(|| LineError::truncated("dns.response_code"))?;
            let rcode = &q[..close];
            let r = q[close + 1..]
                .strip_prefix(" for ")
                .ok_or_else(|| LineError::truncated("dns.question.name"))?;
            let (nct, _) = token(r);
            let (name, qtype) = split_name_class_type(nct)?;
            ev.dns_type = Some(DnsType::Answer);
            ev.dns_response_code = Some(Cow::Borrowed(rcode));
            ev.dns_question_name = Some(normalize_name(name));
            ev.dns_question_type = Some(Cow::Borrowed(qtype));
            return Ok(Filled::Event);
        }
        if let Some(r) = s.strip_prefix("rpz ") {
            // rpz QNAME NXDOMAIN rewrite name/TYPE/IN via owner
            let (_trigger, r) = token(r);
            let (policy, r) = token(r);
            let r = r
                .strip_prefix("rewrite ")
                .ok_or_else(|| LineError::new("rpz", ErrorKind::Syntax, "expected `rewrite` after the RPZ policy"))?;
            let (nct, r) = token(r);
            let (name, qtype) = split_name_type_class(nct)?;
            ev.dataset = "bind.rpz";
            ev.dns_type = Some(DnsType::Answer);
            ev.dns_question_name = Some(normalize_name(name));
            ev.dns_question_type = Some(Cow::Borrowed(qtype));
            ev.action = match policy {
                "PASSTHRU" => Action::Allowed,
                "DISABLED" => Action::Unknown,
                _ => Action::Blocked,
            };
            ev.dns_response_code = match policy {
                "NXDOMAIN" => Some(Cow::Borrowed("NXDOMAIN")),
                "NODATA" => Some(Cow::Borrowed("NOERROR")),
                _ => None,
            };
            let via = r.strip_prefix("via ").map(|v| token(v).0).unwrap_or("");
            ev.rule_name = Some(Cow::Borrowed(if via.is_empty() { policy } else { via }));
            return Ok(Filled::Event);
        }
        if let Some(r) = s.strip_prefix("query (") {
            // security: query (cache) 'name/A/IN' denied
            if s.ends_with("denied") {
                if let Some(q1) = r.find('\'') {
                    let inner = &r[q1 + 1..];
                    let q2 = inner
                        .find('\'')
                        .ok_or_else(|| LineError::truncated("dns.question.name"))?;
                    let (name, qtype) = split_name_type_class(&inner[..q2])?;
                    ev.dataset = "bind.security";
                    ev.dns_type = Some(DnsType::Answer);
                    ev.dns_question_name = Some(normalize_name(name));
                    ev.dns_question_type = Some(Cow::Borrowed(qtype));
                    ev.dns_response_code = Some(Cow::Borrowed("REFUSED"));
                    ev.action = Action::Blocked;
                    ev.rule_name = Some(Cow::Borrowed("acl"));
                    return Ok(Filled::Event);
                }
            }
        }
        Ok(Filled::Skip("bind.other"))
    }

    /// Reads whichever `print-time` form starts the line.
    fn timestamp<'a>(&mut self, line: &'a str, ctx: &Ctx) -> Result<(Option<Timestamp>, &'a str), LineError> {
        let b = line.as_bytes();
        match b.first() {
            Some(c) if c.is_ascii_digit() => {}
            Some(_) if b.len() > 4 && month_from_abbr(&b[..3]).is_some() && b[3] == b' ' => {
                let (ts, rest) = self.clock.parse(line, ctx)?;
                let rest = split_ident(rest).map(|(_, m)| m).unwrap_or(rest);
                return Ok((Some(ts), rest));
            }
            _ => return Ok((None, line)),
        }
        if b.len() > 11 && b[2] == b'-' && b[6] == b'-' {
            // 22-Nov-2026 02:54:51.317
            let bad = || LineError::new("timestamp", ErrorKind::Timestamp, "bad dd-Mon-yyyy time");
            if b.len() < 20 || b[11] != b' ' {
                return Err(bad());
            }
            let day = parse_2(&b[0..2]).ok_or_else(bad)?;
            let month = month_from_abbr(&b[3..6]).ok_or_else(bad)?;
            let year = crate::time::parse_u64(&line[7..11]).ok_or_else(bad)? as i32;
            let (hour, minute, second) = parse_hms(&b[12..20]).ok_or_else(bad)?;
            let (nanos, rest) = split_frac(&line[20..]).ok_or_else(bad)?;
            let ts = Timestamp::from_civil(
                Civil {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    nanos,
                },
                ctx.utc_offset,
            )
            .ok_or_else(bad)?;
            return Ok((Some(ts), rest.strip_prefix(' ').unwrap_or(rest)));
        }
        let (tok, rest) = token(line);
        let ts = Timestamp::parse_rfc3339(tok, ctx.utc_offset)
            .ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad ISO 8601 time"))?;
        Ok((Some(ts), rest))
    }
}

/// First index of `needle` in `hay`, for needles found near the start of a
/// short line: `memmem::find` would build a searcher per call.
fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = memchr::memchr(first, &hay[from..]) {
        let at = from + i;
        if hay[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `name/IN/A` → (name, A)
fn split_name_class_type(s: &str) -> Result<(&str, &str), LineError> {
    let mut it = s.rsplitn(3, '/');
    let qtype = it.next().unwrap_or("");
    let _class = it.next().ok_or_else(|| LineError::truncated("dns.question.type"))?;
    let name = it.next().ok_or_else(|| LineError::truncated("dns.question.name"))?;
    Ok((name, qtype))
}

/// `name/A/IN` → (name, A)
fn split_name_type_class(s: &str) -> Result<(&str, &str), LineError> {
    let mut it = s.rsplitn(3, '/');
    let _class = it.next().unwrap_or("");
    let qtype = it.next().ok_or_else(|| LineError::truncated("dns.question.type"))?;
    let name = it.next().ok_or_else(|| LineError::truncated("dns.question.name"))?;
    Ok((name, qtype))
}
