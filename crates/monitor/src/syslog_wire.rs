//! Syslog messages as they arrive over the network: RFC 5424 and RFC 3164
//! headers, and RFC 6587 framing on TCP (octet counting or one message per
//! line).
//!
//! A received message is turned back into the line the daemon would have
//! written to a file ([`SyslogMessage::to_log_line`]), so the file parsers
//! read it unchanged; [`format_for_app`] picks the parser from the sender's
//! app name (`named` → BIND, `squid` → Squid, …).
//!
//! ```
//! use monitor::syslog_wire::{parse, Rfc};
//! let m = parse(b"<30>1 2026-11-22T02:54:51.317Z ns1 named 812 - - client @0x1 203.0.113.7#5353 (x.org): query: x.org IN A +").unwrap();
//! assert_eq!((m.rfc, m.app_name, m.severity), (Rfc::Rfc5424, Some("named"), 6));
//! assert_eq!(m.to_log_line(None), "2026-11-22T02:54:51.317Z ns1 named[812]: client @0x1 203.0.113.7#5353 (x.org): query: x.org IN A +");
//! ```

use crate::format::Format;

/// Which header the message had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc {
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    Rfc5424,
    /// `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG` (BSD syslog).
    Rfc3164,
}

/// One parsed syslog message, borrowing from the datagram or frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// Header kind.
    pub rfc: Rfc,
    /// Facility (0–23).
    pub facility: u8,
    /// Severity (0 emergency … 7 debug).
    pub severity: u8,
    /// The timestamp as sent (RFC 3339 or `Mmm dd hh:mm:ss`), if any.
    pub timestamp: Option<&'a str>,
    /// Sending host, if any.
    pub hostname: Option<&'a str>,
    /// App name / tag (`named`, `dnsmasq`, `squid`).
    pub app_name: Option<&'a str>,
    /// Process id, if any.
    pub procid: Option<&'a str>,
    /// RFC 5424 MSGID, if any.
    pub msgid: Option<&'a str>,
    /// RFC 5424 structured data, verbatim, if any.
    pub structured_data: Option<&'a str>,
    /// The message (a UTF-8 byte-order mark removed).
    pub msg: &'a str,
}

/// Why a message could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syslog message, byte {offset}: {message}")]
pub struct SyslogError {
    /// Byte offset in the message.
    pub offset: usize,
    /// What is wrong.
    pub message: &'static str,
}

fn err(offset: usize, message: &'static str) -> SyslogError {
    SyslogError { offset, message }
}

fn nil(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// Parses one message (a UDP datagram or a TCP frame; trailing `\r`, `\n`
/// and NUL are ignored). A message without `<PRI>` is read as RFC 3164 with
/// priority 13 (user.notice), as RFC 3164 §4.3.3 says a relay should.
pub fn parse(bytes: &[u8]) -> Result<SyslogMessage<'_>, SyslogError> {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    let text = std::str::from_utf8(&bytes[..end]).map_err(|e| err(e.valid_up_to(), "invalid UTF-8"))?;
    let (pri, mut pos) = if let Some(r) = text.strip_prefix('<') {
        let close = r
            .find('>')
            .filter(|&c| (1..=3).contains(&c))
            .ok_or_else(|| err(0, "bad PRI"))?;
        let digits = &r[..close];
        if !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0')) {
            return Err(err(1, "PRI is not a number"));
        }
        let pri: u16 = digits.parse().map_err(|_| err(1, "PRI is not a number"))?;
        if pri > 191 {
            return Err(err(1, "PRI above 191"));
        }
        (pri, close + 2)
    } else {
        (13, 0)
    };
    let (facility, severity) = ((pri / 8) as u8, (pri % 8) as u8);
    let rest = &text[pos..];
    if let Some(after) = rest.strip_prefix("1 ") {
        pos += 2;
        return parse_5424(after, pos, facility, severity);
    }
    Ok(parse_3164(rest, facility, severity))
}

fn parse_5424(mut s: &str, mut pos: usize, facility: u8, severity: u8) -> Result<SyslogMessage<'_>, SyslogError> {
    let ts_pos = pos;
    let mut fields = [""; 5];
    for (i, f) in fields.iter_mut().enumerate() {
        let sp = s.find(' ').ok_or_else(|| err(pos, HEADER_FIELDS[i]))?;
        if sp == 0 {
            return Err(err(pos, "empty header field"));
        }
        *f = &s[..sp];
        s = &s[sp + 1..];
        pos += sp + 1;
    }
    let [timestamp, hostname, app_name, procid, msgid] = fields;
    if timestamp != "-" && !timestamp.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err(err(ts_pos, "bad TIMESTAMP"));
    }
    let (sd, msg) = if let Some(r) = s.strip_prefix('-') {
        (None, r)
    } else if s.starts_with('[') {
        let len = sd_len(s).ok_or_else(|| err(pos, "bad STRUCTURED-DATA"))?;
        (Some(&s[..len]), &s[len..])
    } else {
        return Err(err(pos, "missing STRUCTURED-DATA"));
    };
    let msg = match msg.strip_prefix(' ') {
        Some(m) => m.strip_prefix('\u{feff}').unwrap_or(m),
        None if msg.is_empty() => "",
        None => return Err(err(pos, "no space before MSG")),
    };
    Ok(SyslogMessage {
        rfc: Rfc::Rfc5424,
        facility,
        severity,
        timestamp: nil(timestamp),
        hostname: nil(hostname),
        app_name: nil(app_name),
        procid: nil(procid),
        msgid: nil(msgid),
        structured_data: sd,
        msg,
    })
}

const HEADER_FIELDS: [&str; 5] = [
    "truncated before HOSTNAME",
    "truncated before APP-NAME",
    "truncated before PROCID",
    "truncated before MSGID",
    "truncated before STRUCTURED-DATA",
];

/// Length of the SD-ELEMENTs at the start of `s` (`[id k="v"]…`), honouring
/// `\"`, `\\` and `\]` inside values.
fn sd_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let mut in_value = false;
        loop {
            match *b.get(i)? {
                b'\\' if in_value => i += 2,
                b'"' => {
                    in_value = !in_value;
                    i += 1;
                }
                b']' if !in_value => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    Some(i)
}

fn parse_3164(s: &str, facility: u8, severity: u8) -> SyslogMessage<'_> {
    let b = s.as_bytes();
    // `Mmm dd hh:mm:ss ` (the day may be space-padded)
    let has_time = b.len() >= 16
        && crate::time::month_from_abbr(&b[0..3]).is_some()
        && b[3] == b' '
        && b[6] == b' '
        && b[9] == b':'
        && b[12] == b':'
        && b[15] == b' ';
    let (timestamp, mut rest) = if has_time {
        (Some(&s[..15]), &s[16..])
    } else {
        (None, s)
    };
    // HOST is present when the token after the time is not the tag (`tag:` / `tag[pid]:`)
    let mut hostname = None;
    let first = rest.split(' ').next().unwrap_or("");
    if has_time && !first.ends_with(':') && !first.is_empty() {
        let second = rest[first.len()..].trim_start().split(' ').next().unwrap_or("");
        if second.ends_with(':') {
            hostname = Some(first);
            rest = rest[first.len()..].trim_start();
        }
    }
    let tok = rest.split(' ').next().unwrap_or("");
    let (app_name, procid, msg) = match tok.strip_suffix(':') {
        Some(tag) if !tag.is_empty() && tag.len() <= 64 => {
            let msg = rest[tok.len()..].strip_prefix(' ').unwrap_or(&rest[tok.len()..]);
            match tag.split_once('[') {
                Some((name, pid)) => (Some(name), pid.strip_suffix(']'), msg),
                None => (Some(tag), None, msg),
            }
        }
        _ => (None, None, rest),
    };
    SyslogMessage {
        rfc: Rfc::Rfc3164,
        facility,
        severity,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid: None,
        structured_data: None,
        msg,
    }
}

impl SyslogMessage<'_> {
    /// The line as the daemon writes it to a file: `TIME HOST APP[PID]: MSG`.
    /// `received` (RFC 3339) stands in for a missing timestamp.
    pub fn to_log_line(&self, received: Option<&str>) -> String {
        let mut line = String::with_capacity(self.msg.len() + 64);
        if let Some(t) = self.timestamp.or(received) {
            line.push_str(t);
            line.push(' ');
        }
        if let Some(h) = self.hostname {
            line.push_str(h);
            line.push(' ');
        }
        if let Some(a) = self.app_name {
            line.push_str(a);
            if let Some(p) = self.procid {
                line.push('[');
                line.push_str(p);
                line.push(']');
            }
            line.push_str(": ");
        }
        line.push_str(self.msg);
        line
    }

    /// What the file parsers should read: the rebuilt line for formats whose
    /// files carry a syslog prefix (BIND, Unbound, dnsmasq, Pi-hole), the bare
    /// message for the others (Suricata EVE, Zeek JSON, Squid, AdGuard, Blocky).
    pub fn line_for(&self, format: Format, received: Option<&str>) -> String {
        match format {
            Format::BindQuery | Format::Unbound | Format::Dnsmasq | Format::Pihole => self.to_log_line(received),
            _ => self.msg.to_string(),
        }
    }
}

/// The log format a sender's app name implies, if it is one appwarden reads.
pub fn format_for_app(app: &str) -> Option<Format> {
    let a = app.to_ascii_lowercase();
    Some(match a.as_str() {
        "named" | "bind" | "bind9" | "named-pkcs11" => Format::BindQuery,
        "unbound" => Format::Unbound,
        "dnsmasq" => Format::Dnsmasq,
        "pihole-ftl" | "pihole" => Format::Pihole,
        "squid" | "squid-access" => Format::SquidNative,
        "suricata" => Format::SuricataEve,
        "zeek" | "bro" => Format::ZeekJson,
        "adguardhome" | "adguard" => Format::AdGuard,
        "blocky" => Format::Blocky,
        _ => return None,
    })
}

/// Splits a TCP byte stream into syslog messages (RFC 6587): octet counting
/// (`LEN SP MSG`) when a frame starts with a digit, otherwise one message per
/// `\n`. Frames longer than the limit are an error; with octet counting the
/// stream cannot be resynchronised after one, so the connection should close.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    max: usize,
}

/// A framing error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The octet count is not a number or is too large.
    #[error("bad octet count")]
    BadCount,
    /// A frame exceeded the limit.
    #[error("frame longer than {0} bytes")]
    TooLong(usize),
}

impl Framer {
    /// A framer accepting frames of up to `max` bytes.
    pub fn new(max: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            start: 0,
            max,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        let avail = &self.buf[self.start..];
        let first = *avail.first()?;
        if first.is_ascii_digit() {
            let Some(sp) = avail.iter().take(11).position(|&b| b == b' ') else {
                return if avail.len() > 10 || !avail.iter().all(u8::is_ascii_digit) {
                    Some(Err(FrameError::BadCount))
                } else {
                    None
                };
            };
            let Some(len) = std::str::from_utf8(&avail[..sp])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                return Some(Err(FrameError::BadCount));
            };
            if len > self.max {
                return Some(Err(FrameError::TooLong(self.max)));
            }
            if avail.len() < sp + 1 + len {
                return None;
            }
            let s = self.start + sp + 1;
            self.start = s + len;
            return Some(Ok(&self.buf[s..s + len]));
        }
        match memchr::memchr(b'\n', avail) {
            Some(nl) => {
                let s = self.start;
                self.start += nl + 1;
                Some(Ok(&self.buf[s..s + nl]))
            }
            None if avail.len() > self.max => {
                // resynchronise at the next newline
                self.start = self.buf.len();
                Some(Err(FrameError::TooLong(self.max)))
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5424_with_structured_data_and_bom() {
        let m = parse(
            "<165>1 2026-11-22T02:54:51Z h app 1 ID47 [ex@32473 a=\"x\\]y\"][b c=\"d\"] \u{feff}hello\n".as_bytes(),
        )
        .expect("parse");
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.structured_data, Some("[ex@32473 a=\"x\\]y\"][b c=\"d\"]"));
        assert_eq!(m.msgid, Some("ID47"));
        assert_eq!(m.msg, "hello");
    }

    #[test]
    fn rfc5424_nil_values() {
        let m = parse(b"<14>1 - - - - - -").expect("parse");
        assert_eq!((m.timestamp, m.hostname, m.app_name, m.msg), (None, None, None, ""));
        assert_eq!(m.to_log_line(Some("2026-11-22T00:00:00Z")), "2026-11-22T00:00:00Z ");
    }

    #[test]
    fn rfc3164_with_and_without_host() {
        let m = parse(b"<30>Nov 22 02:54:36 gw dnsmasq[512]: query[A] www.tiktok.com from 203.0.113.7").expect("parse");
        assert_eq!(
            (m.rfc, m.hostname, m.app_name, m.procid),
            (Rfc::Rfc3164, Some("gw"), Some("dnsmasq"), Some("512"))
        );
        assert_eq!(m.msg, "query[A] www.tiktok.com from 203.0.113.7");
        assert_eq!(
            m.line_for(Format::Dnsmasq, None),
            "Nov 22 02:54:36 gw dnsmasq[512]: query[A] www.tiktok.com from 203.0.113.7"
        );
        let m = parse(b"<30>Nov  2 02:54:36 squid: 1.0 5 203.0.113.7 TCP_TUNNEL/200").expect("parse");
        assert_eq!((m.hostname, m.app_name), (None, Some("squid")));
        assert_eq!(
            m.line_for(Format::SquidNative, None),
            "1.0 5 203.0.113.7 TCP_TUNNEL/200"
        );
        let m = parse(b"no header at all").expect("parse");
        assert_eq!((m.facility, m.severity, m.msg), (1, 5, "no header at all"));
    }

    #[test]
    fn bad_messages_are_located_errors() {
        for (input, at) in [
            (&b"<999>1 x"[..], 1),
            (b"<1x>hi", 1),
            (b"<>hi", 0),
            (b"<13>1 2026-11-22T00:00:00Z host", 27),
            (b"<13>1 2026-11-22T00:00:00Z h a p m [unterminated a=\"b\"", 35),
            (b"<13>1 2026-11-22T00:00:00Z h a p m x", 35),
            (b"<13>1 bad h a p m -", 6),
        ] {
            let e = parse(input).expect_err(&String::from_utf8_lossy(input));
            assert_eq!(e.offset, at, "{e} for {}", String::from_utf8_lossy(input));
        }
        assert!(parse(&[b'<', b'1', b'>', 0xff]).is_err());
    }

    #[test]
    fn app_names_pick_parsers() {
        assert_eq!(format_for_app("named"), Some(Format::BindQuery));
        assert_eq!(format_for_app("Suricata"), Some(Format::SuricataEve));
        assert_eq!(format_for_app("sshd"), None);
    }

    #[test]
    fn octet_counting_and_newline_framing() {
        let mut f = Framer::new(100);
        f.push(b"5 hello11 <13>hi\nthere");
        assert_eq!(f.next_frame(), Some(Ok(&b"hello"[..])));
        assert_eq!(f.next_frame(), Some(Ok(&b"<13>hi\nther"[..])));
        assert_eq!(f.next_frame(), None);
        f.push(b"\n<13>line two\n");
        assert_eq!(f.next_frame(), Some(Ok(&b"e"[..])));
        assert_eq!(f.next_frame(), Some(Ok(&b"<13>line two"[..])));
        assert_eq!(f.next_frame(), None);
        f.push(b"1");
        assert_eq!(f.next_frame(), None, "an octet count may arrive in pieces");
        f.push(b"1 <13>abcdefg");
        assert_eq!(f.next_frame(), Some(Ok(&b"<13>abcdefg"[..])));
        f.push(b"999 x");
        assert_eq!(f.next_frame(), Some(Err(FrameError::TooLong(100))));
        let mut f = Framer::new(100);
        f.push(b"12345678901234 x");
        assert_eq!(f.next_frame(), Some(Err(FrameError::BadCount)));
        let mut f = Framer::new(4);
        f.push(b"<13>long line without end");
        assert_eq!(f.next_frame(), Some(Err(FrameError::TooLong(4))));
    }
}
