//! dnsmasq `log-queries` lines (also the base of Pi-hole's `pihole.log`).
//!
//! ```text
//! Nov 22 02:54:39 dnsmasq[29019]: query[A] www.tiktok.com from 127.0.0.1
//! Nov 22 02:54:39 dnsmasq[29019]: config www.tiktok.com is 0.0.0.0           (address=/…/ → blocked)
//! Nov 22 02:54:39 dnsmasq[29019]: forwarded dns.google to 127.0.0.1#5391     (skipped, counted)
//! Nov 22 02:54:39 dnsmasq[29019]: reply dns.google is 8.8.8.8
//! Nov 22 02:54:39 dnsmasq[29019]: reply error is REFUSED
//! Nov 22 02:54:40 dnsmasq[29019]: /etc/hosts printer.corp is 127.0.77.70      (hosts file: blocked if 0.0.0.0/::)
//! Nov 22 02:54:40 dnsmasq[29032]: 7 127.0.0.1/38284 reply dns.google is 8.8.4.4   (log-queries=extra)
//! ```
//!
//! Answer lines carry no client address in the plain form: the parser
//! remembers recent queries (by name; by dnsmasq's serial number with
//! `log-queries=extra`) to fill in the client and the question type.
//! The memory used is bounded ([`MAX_PENDING`] entries).

use crate::error::{ErrorKind, LineError};
use crate::event::{Action, DnsAnswer, DnsType, Event};
use crate::parse::syslog::{split_ident, SyslogClock};
use crate::parse::{infer_rtype, is_sinkhole, normalize_name, parse_ip, pihole, split_ip_port, token, Ctx, Outcome};
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

/// Most remembered in-flight queries before the oldest are dropped.
pub const MAX_PENDING: usize = 4096;

/// Which daemon wrote the log: plain dnsmasq or Pi-hole's FTL (dnsmasq fork).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Dnsmasq,
    Pihole,
}

#[derive(Debug, Clone)]
struct Pending {
    client: IpAddr,
    port: Option<u16>,
    qtype: String,
    name: String,
    serial: u64,
}

/// Per-file state of the dnsmasq / Pi-hole parser.
#[derive(Debug, Clone)]
pub struct DnsmasqParser {
    flavor: Flavor,
    clock: SyslogClock,
    by_serial: HashMap<u64, Pending>,
    by_name: HashMap<String, Pending>,
    last: Option<Pending>,
    next_serial: u64,
}

impl DnsmasqParser {
    pub(crate) fn new(ctx: &Ctx, flavor: Flavor) -> Self {
        DnsmasqParser {
            flavor,
            clock: SyslogClock::new(ctx),
            by_serial: HashMap::new(),
            by_name: HashMap::new(),
            last: None,
            next_serial: 0,
        }
    }

    fn names(&self) -> (&'static str, &'static str) {
        match self.flavor {
            Flavor::Dnsmasq => ("dnsmasq.query", "dnsmasq"),
            Flavor::Pihole => ("pihole.query", "pihole"),
        }
    }

    pub(crate) fn parse<'a>(&mut self, line: &'a str, ctx: &Ctx) -> Result<Outcome<'a>, LineError> {
        let (ts, rest) = self.clock.parse(line, ctx)?;
        let (_ident, msg) =
            split_ident(rest).ok_or_else(|| LineError::new("process", ErrorKind::Syntax, "no `dnsmasq[pid]:` tag"))?;
        let (dataset, product) = self.names();
        let mut ev = Event::new(dataset, "dns", product);
        ev.timestamp = Some(ts);

        // log-queries=extra: "<serial> <ip>/<port> <message>"
        let mut msg = msg;
        let mut serial = None;
        let (t0, r0) = token(msg);
        if !t0.is_empty() && t0.bytes().all(|b| b.is_ascii_digit()) {
            let (t1, r1) = token(r0);
            if t1.contains('/') {
                let n: u64 = t0
                    .parse()
                    .map_err(|_| LineError::new("serial", ErrorKind::Number, "serial out of range"))?;
                let (ip, port) = split_ip_port("source.ip", t1, '/')?;
                serial = Some(n);
                ev.source_ip = Some(ip);
                ev.source_port = port;
                msg = r1;
            }
        }

        if let Some(q) = msg.strip_prefix("query[") {
            let close = q.find("] ").ok_or_else(|| LineError::truncated("dns.question.type"))?;
            let qtype = &q[..close];
            let (name, r) = token(&q[close + 2..]);
            let from = r
                .strip_prefix("from ")
                .ok_or_else(|| LineError::truncated("source.ip"))?;
            let client = parse_ip("source.ip", token(from).0)?;
            if name.is_empty() {
                return Err(LineError::truncated("dns.question.name"));
            }
            let qname = normalize_name(name);
            ev.dns_type = Some(DnsType::Query);
            ev.source_ip = Some(client);
            ev.dns_question_type = Some(Cow::Borrowed(qtype));
            self.next_serial += 1;
            let p = Pending {
                client,
                port: ev.source_port,
                qtype: qtype.to_owned(),
                name: qname.clone().into_owned(),
                serial: serial.unwrap_or(self.next_serial),
            };
            self.remember(serial, &qname, p);
            ev.dns_question_name = Some(qname);
            return Ok(Outcome::Event(ev));
        }
        if let Some(fwd) = msg.strip_prefix("forwarded ") {
            if serial.is_none() {
                // Keep the context for a following nameless `reply error is …`.
                let name = normalize_name(token(fwd).0);
                if let Some(p) = self.by_name.get(name.as_ref()) {
                    self.last = Some(p.clone());
                }
            }
            return Ok(Outcome::Skip("dnsmasq.forwarded"));
        }
        let Some(is_at) = memchr::memmem::rfind(msg.as_bytes(), b" is ") else {
            return Ok(Outcome::Skip(skip_reason(msg)));
        };
        let left = &msg[..is_at];
        let value = msg[is_at + 4..].trim_end();
        let (source, name) = match left.rfind(' ') {
            Some(i) => (&left[..i], &left[i + 1..]),
            None => return Ok(Outcome::Skip(skip_reason(msg))),
        };
        if source.is_empty() || name.is_empty() || value.is_empty() {
            return Err(LineError::truncated("dns.answers"));
        }
        ev.dns_type = Some(DnsType::Answer);

        // Context from the query this answers.
        let pending = if let Some(s) = serial {
            self.by_serial.get(&s).cloned()
        } else if source == "reply" && name == "error" {
            self.last.clone()
        } else {
            let n = normalize_name(name);
            self.by_name.get(n.as_ref()).cloned().or_else(|| self.last.clone())
        };
        if let Some(p) = &pending {
            if ev.source_ip.is_none() {
                ev.source_ip = Some(p.client);
                ev.source_port = p.port;
            }
            ev.dns_question_type = Some(Cow::Owned(p.qtype.clone()));
            if serial.is_none() {
                self.last = Some(p.clone());
            }
        }

        if source == "reply" && name == "error" {
            ev.dns_question_name = pending.map(|p| Cow::Owned(p.name));
            ev.dns_response_code = Some(Cow::Borrowed(value));
            ev.action = Action::Allowed;
            return Ok(Outcome::Event(ev));
        }
        ev.dns_question_name = Some(normalize_name(name));
        let mut sinkholed = false;
        match value {
            "NXDOMAIN" => ev.dns_response_code = Some(Cow::Borrowed("NXDOMAIN")),
            "NODATA" | "NODATA-IPv4" | "NODATA-IPv6" => ev.dns_response_code = Some(Cow::Borrowed("NOERROR")),
            v if v.starts_with('<') => {
                // <CNAME>, <HTTPS>, <SRV>…: the record exists, its data is not logged.
                ev.dns_response_code = Some(Cow::Borrowed("NOERROR"));
            }
            v => {
                sinkholed = is_sinkhole(v);
                ev.dns_response_code = Some(Cow::Borrowed("NOERROR"));
                let fallback = ev.dns_question_type.clone();
                ev.dns_answers.push(DnsAnswer {
                    data: Cow::Borrowed(v),
                    rtype: infer_rtype(v, fallback),
                });
            }
        }
        let negative = matches!(value, "NXDOMAIN" | "NODATA" | "NODATA-IPv4" | "NODATA-IPv6");
        ev.action = match source {
            "reply" | "cached" | "cached-stale" | "DHCP" => Action::Allowed,
            "config" => {
                if sinkholed || negative {
                    Action::Blocked
                } else {
                    Action::Allowed
                }
            }
            s if s.starts_with('/') => {
                if sinkholed {
                    Action::Blocked
                } else {
                    Action::Allowed
                }
            }
            s => match self.flavor {
                Flavor::Pihole => pihole::source_action(s),
                Flavor::Dnsmasq => Action::Unknown,
            },
        };
        if ev.action == Action::Blocked
            || source.starts_with('/')
            || self.flavor == Flavor::Pihole && source != "reply" && source != "cached"
        {
            ev.rule_name = Some(Cow::Borrowed(source));
        }
        Ok(Outcome::Event(ev))
    }

    fn remember(&mut self, serial: Option<u64>, name: &str, p: Pending) {
        match serial {
            Some(s) => {
                if self.by_serial.len() >= MAX_PENDING {
                    let keep_from = s.saturating_sub((MAX_PENDING / 2) as u64);
                    self.by_serial.retain(|k, _| *k >= keep_from);
                    if self.by_serial.len() >= MAX_PENDING {
                        self.by_serial.clear();
                    }
                }
                self.by_serial.insert(s, p);
            }
            None => {
                if self.by_name.len() >= MAX_PENDING {
                    let keep_from = p.serial.saturating_sub((MAX_PENDING / 2) as u64);
                    self.by_name.retain(|_, v| v.serial >= keep_from);
                }
                self.last = Some(p.clone());
                self.by_name.insert(name.to_owned(), p);
            }
        }
    }
}

fn skip_reason(msg: &str) -> &'static str {
    if msg.starts_with("DHCP") {
        "dnsmasq.dhcp"
    } else if msg.starts_with("dnssec-query") || msg.starts_with("validation") {
        "dnsmasq.dnssec"
    } else {
        "dnsmasq.other"
    }
}
