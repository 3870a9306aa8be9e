//! The static identity map: CSV lines `ip_or_mac,device,user` (user optional),
//! `#` comments, an optional header line.

use crate::error::{snippet, ErrorKind, LineError};
use crate::format::Format;
use crate::identity::{Mac, ReadResult};
use serde::Serialize;
use std::io::BufRead;
use std::net::IpAddr;

/// What a static entry is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum StaticKey {
    /// A fixed address.
    Ip(IpAddr),
    /// A hardware address (resolved through the DHCP leases).
    Mac(Mac),
}

/// One row of the static map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StaticEntry {
    /// IP or MAC.
    pub key: StaticKey,
    /// Device name / asset id.
    pub device: Option<String>,
    /// The device's user.
    pub user: Option<String>,
    /// Line in the file.
    pub line_no: u64,
}

/// Reads the whole map.
pub fn read<R: BufRead>(mut r: R) -> ReadResult<StaticEntry> {
    let mut out = ReadResult::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut offset = 0u64;
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                line_no += 1;
                out.stats.lines += 1;
                out.stats.bytes += n as u64;
                match parse_line(&buf, line_no) {
                    Ok(Some(e)) => {
                        out.stats.events += 1;
                        out.records.push(e);
                    }
                    Ok(None) => out.stats.record_skip("static_map.other"),
                    Err(e) => {
                        let e = e.at(Format::StaticMap, line_no, offset);
                        out.stats.record_error(&e);
                        out.errors.push(e);
                    }
                }
                offset += n as u64;
            }
            Err(e) => {
                let e =
                    LineError::new("input", ErrorKind::Io, e.to_string()).at(Format::StaticMap, line_no + 1, offset);
                out.stats.record_error(&e);
                out.errors.push(e);
                break;
            }
        }
    }
    out
}

pub(crate) fn parse_line(raw: &[u8], line_no: u64) -> Result<Option<StaticEntry>, LineError> {
    let text = std::str::from_utf8(raw).map_err(|_| LineError::new("line", ErrorKind::Utf8, "invalid UTF-8"))?;
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let f: Vec<&str> = text.split(',').map(|s| s.trim().trim_matches('"')).collect();
    if f.len() < 2 || f.len() > 3 {
        return Err(LineError::new(
            "line",
            ErrorKind::FieldCount,
            format!("{} fields, want ip_or_mac,device[,user]", f.len()),
        ));
    }
    let key = if let Ok(ip) = f[0].parse::<IpAddr>() {
        StaticKey::Ip(ip)
    } else if let Ok(m) = f[0].parse::<Mac>() {
        StaticKey::Mac(m)
    } else if line_no == 1 {
        return Ok(None); // header
    } else {
        return Err(LineError::new(
            "ip_or_mac",
            ErrorKind::Ip,
            format!("neither IP nor MAC: {}", snippet(f[0])),
        ));
    };
    let opt = |s: &str| (!s.is_empty() && s != "-").then(|| s.to_owned());
    Ok(Some(StaticEntry {
        key,
        device: opt(f[1]),
        user: f.get(2).and_then(|s| opt(s)),
        line_no,
    }))
}
