//! ISC dhcpd's `dhcpd.leases`: `lease <ip> { … }` blocks, appended as
//! leases change (a later block for the same binding supersedes an earlier one).
//!
//! ```text
//! lease 192.168.1.50 {
//!   starts 4 2026/11/22 02:00:00;      # UTC, or `starts epoch 1795312800;` with db-time-format local
//!   ends 4 2026/11/22 14:00:00;        # or `ends never;`
//!   binding state active;
//!   hardware ethernet aa:bb:cc:dd:ee:ff;
//!   client-hostname "laptop-7";
//! }
//! ```
//!
//! Bindings in state `active`, `expired` or `released` (or with no state)
//! become leases; `free`, `abandoned` and `backup` ones describe a pool
//! address nobody holds and are skipped. Other top-level blocks
//! (`failover peer`, `host`, `ia-na` …) are skipped.

use crate::error::{snippet, ErrorKind, LineError};
use crate::format::Format;
use crate::identity::{read_lines, Lease, Mac, ReadResult};
use crate::time::{parse_hms, parse_u64, Civil, Timestamp};
use std::io::BufRead;
use std::net::IpAddr;

#[derive(Default)]
struct Partial {
    ip: Option<IpAddr>,
    mac: Option<Mac>,
    hostname: Option<String>,
    starts: Option<Timestamp>,
    ends: Option<Timestamp>,
    state: Option<String>,
    line_no: u64,
    offset: u64,
    bad: bool,
}

/// Streaming reader state, fed one line at a time.
#[derive(Default)]
pub(crate) struct DhcpdReader {
    depth: u32,
    cur: Option<Partial>,
}

impl DhcpdReader {
    /// Feeds one line; returns a finished lease, nothing, or an error.
    pub(crate) fn feed(&mut self, raw: &[u8], line_no: u64, offset: u64) -> Result<Option<Lease>, LineError> {
        let text = std::str::from_utf8(raw).map_err(|_| {
            if let Some(c) = &mut self.cur {
                c.bad = true;
            }
            LineError::new("line", ErrorKind::Utf8, "invalid UTF-8")
        })?;
        let text = strip_comment(text).trim();
        if text.is_empty() {
            return Ok(None);
        }
        if self.cur.is_none() {
            if self.depth == 0 {
                if let Some(rest) = text.strip_prefix("lease ") {
                    let ip_txt = rest.trim_end_matches('{').trim();
                    let mut p = Partial {
                        line_no,
                        offset,
                        ..Partial::default()
                    };
                    if !text.ends_with('{') {
                        return Err(LineError::new(
                            "lease",
                            ErrorKind::Syntax,
                            "expected `{` after the address",
                        ));
                    }
                    self.depth = 1;
                    match ip_txt.parse::<IpAddr>() {
                        Ok(ip) => p.ip = Some(ip),
                        Err(_) => {
                            p.bad = true;
                            self.cur = Some(p);
                            return Err(LineError::new(
                                "lease",
                                ErrorKind::Ip,
                                format!("bad address {}", snippet(ip_txt)),
                            ));
                        }
                    }
                    self.cur = Some(p);
                    return Ok(None);
                }
            }
            // Any other block or statement: track braces only.
            self.track_braces(text);
            return Ok(None);
        }
        // Inside a lease block.
        if text.ends_with('{') {
            self.depth += 1;
            return Ok(None);
        }
        if text == "}" {
            self.depth = self.depth.saturating_sub(1);
            if self.depth == 0 {
                let Some(p) = self.cur.take() else {
                    return Ok(None);
                };
                return Ok(finish(p));
            }
            return Ok(None);
        }
        if self.depth > 1 {
            return Ok(None);
        }
        let stmt = text.trim_end_matches(';').trim();
        let res = self.statement(stmt);
        if res.is_err() {
            if let Some(c) = &mut self.cur {
                c.bad = true;
            }
        }
        res.map(|_| None)
    }

    fn track_braces(&mut self, text: &str) {
        for b in text.bytes() {
            match b {
                b'{' => self.depth += 1,
                b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn statement(&mut self, stmt: &str) -> Result<(), LineError> {
        let Some(p) = self.cur.as_mut() else {
            return Ok(());
        };
        if let Some(v) = stmt.strip_prefix("starts ") {
            p.starts = Some(
                lease_time("starts", v)?
                    .ok_or_else(|| LineError::new("starts", ErrorKind::Timestamp, "`never` is not a start"))?,
            );
        } else if let Some(v) = stmt.strip_prefix("ends ") {
            p.ends = lease_time("ends", v)?;
        } else if let Some(v) = stmt.strip_prefix("binding state ") {
            p.state = Some(v.trim().to_owned());
        } else if let Some(v) = stmt.strip_prefix("hardware ethernet ") {
            p.mac = Some(v.trim().parse().map_err(|_| {
                LineError::new(
                    "hardware ethernet",
                    ErrorKind::Syntax,
                    format!("bad MAC {}", snippet(v)),
                )
            })?);
        } else if let Some(v) = stmt.strip_prefix("client-hostname ") {
            p.hostname = Some(v.trim().trim_matches('"').to_owned());
        }
        Ok(())
    }

    /// Called at end of input: an unterminated lease is an error.
    pub(crate) fn finish(&mut self) -> Option<LineError> {
        let p = self.cur.take()?;
        (!p.bad).then(|| {
            LineError::new(
                "lease",
                ErrorKind::Truncated,
                format!("lease block from line {} not closed", p.line_no),
            )
        })
    }
}

fn finish(p: Partial) -> Option<Lease> {
    if p.bad {
        return None;
    }
    let ip = p.ip?;
    match p.state.as_deref() {
        None | Some("active" | "expired" | "released") => {}
        Some(_) => return None,
    }
    let _ = p.offset;
    Some(Lease {
        ip,
        mac: p.mac,
        hostname: p.hostname,
        starts: p.starts,
        ends: p.ends,
        line_no: p.line_no,
    })
}

fn strip_comment(s: &str) -> &str {
    // Comments start with '#' outside quotes; host names never contain '#'.
    match s.find('#') {
        Some(i) if !s[..i].contains('"') || s[..i].matches('"').count() % 2 == 0 => &s[..i],
        _ => s,
    }
}

/// `4 2026/11/22 02:00:00` (UTC), `epoch 1795312800`, or `never` (→ None).
fn lease_time(field: &'static str, v: &str) -> Result<Option<Timestamp>, LineError> {
    let v = v.trim();
    if v == "never" {
        return Ok(None);
    }
    let bad = || LineError::new(field, ErrorKind::Timestamp, format!("bad time {}", snippet(v)));
    if let Some(e) = v.strip_prefix("epoch ") {
        let secs = parse_u64(e.trim()).ok_or_else(bad)?;
        return Ok(Some(Timestamp::from_unix_secs(secs as i64)));
    }
    let mut parts = v.split_ascii_whitespace();
    let _weekday = parts.next().ok_or_else(bad)?;
    let date = parts.next().ok_or_else(bad)?;
    let time = parts.next().ok_or_else(bad)?;
    let mut d = date.split('/');
    let year = parse_u64(d.next().ok_or_else(bad)?).ok_or_else(bad)? as i32;
    let month = parse_u64(d.next().ok_or_else(bad)?).ok_or_else(bad)? as u8;
    let day = parse_u64(d.next().ok_or_else(bad)?).ok_or_else(bad)? as u8;
    let (hour, minute, second) = parse_hms(time.as_bytes()).ok_or_else(bad)?;
    Timestamp::from_civil(
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos: 0,
        },
        0,
    )
    .map(Some)
    .ok_or_else(bad)
}

/// Reads a whole `dhcpd.leases` file, line by line.
pub fn read<R: BufRead>(r: R) -> ReadResult<Lease> {
    let mut st = DhcpdReader::default();
    let (mut out, line_no, offset) = read_lines(r, Format::DhcpdLeases, None, |line, line_no, offset| {
        st.feed(line, line_no, offset)
    });
    if let Some(e) = st.finish() {
        let e = e.at(Format::DhcpdLeases, line_no, offset);
        out.stats.record_error(&e);
        out.errors.push(e);
    }
    out
}
