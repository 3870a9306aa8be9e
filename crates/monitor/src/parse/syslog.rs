//! The syslog-style prefix shared by dnsmasq, Pi-hole and Unbound lines:
//! `Nov 22 02:54:36 [host] ident[pid]: message`, or an RFC 3339 time in front.

use crate::error::{ErrorKind, LineError};
use crate::parse::{token, Ctx};
use crate::time::{month_from_abbr, parse_2, parse_hms, split_frac, Civil, Timestamp};

/// Reads `Mmm dd HH:MM:SS` times, which carry no year: starts from the
/// configured year and steps it forward when the month wraps December → January.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyslogClock {
    year: i32,
    last_month: u8,
}

impl SyslogClock {
    pub(crate) fn new(ctx: &Ctx) -> Self {
        SyslogClock {
            year: ctx.year,
            last_month: 0,
        }
    }

    /// Parses the leading timestamp; returns it and the text after the following space.
    pub(crate) fn parse<'a>(&mut self, line: &'a str, ctx: &Ctx) -> Result<(Timestamp, &'a str), LineError> {
        let b = line.as_bytes();
        if b.first().is_some_and(u8::is_ascii_digit) {
            let (tok, rest) = token(line);
            let ts = Timestamp::parse_rfc3339(tok, ctx.utc_offset)
                .ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad RFC 3339 time"))?;
            return Ok((ts, rest));
        }
        if b.len() < 16 {
            return Err(LineError::truncated("timestamp"));
        }
        let month =
            month_from_abbr(&b[0..3]).ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad month"))?;
        let day = match (b[4], b[5]) {
            (b' ', d) if d.is_ascii_digit() => d - b'0',
            _ => parse_2(&b[4..6]).ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad day"))?,
        };
        if b[3] != b' ' || b[6] != b' ' {
            return Err(LineError::new("timestamp", ErrorKind::Timestamp, "bad separator"));
        }
        let (hour, minute, second) =
            parse_hms(&b[7..15]).ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad time"))?;
        let (nanos, rest) =
            split_frac(&line[15..]).ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad fraction"))?;
        let rest = rest.strip_prefix(' ').ok_or_else(|| LineError::truncated("message"))?;
        if self.last_month == 12 && month == 1 {
            self.year += 1;
        }
        self.last_month = month;
        let ts = Timestamp::from_civil(
            Civil {
                year: self.year,
                month,
                day,
                hour,
                minute,
                second,
                nanos,
            },
            ctx.utc_offset,
        )
        .ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "impossible date"))?;
        Ok((ts, rest))
    }
}

/// Splits `[host] ident[pid]: message` into (ident without pid, message).
/// Returns `None` when no `ident:` token is found in the first two tokens.
pub(crate) fn split_ident(rest: &str) -> Option<(&str, &str)> {
    let (first, after_first) = token(rest);
    if let Some(id) = first.strip_suffix(':') {
        return Some((strip_pid(id), after_first));
    }
    let (second, after_second) = token(after_first);
    let id = second.strip_suffix(':')?;
    Some((strip_pid(id), after_second))
}

fn strip_pid(id: &str) -> &str {
    match id.find('[') {
        Some(i) => &id[..i],
        None => id,
    }
}
