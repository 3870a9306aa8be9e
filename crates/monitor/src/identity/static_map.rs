//! The static identity map: CSV lines `ip_or_mac,device,user` (user optional),
//! `#` comments, an optional header line.

use crate::error::{snippet, ErrorKind, LineError};
use crate::format::Format;
use crate::identity::{read_lines, Mac, ReadResult};
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
pub fn read<R: BufRead>(r: R) -> ReadResult<StaticEntry> {
    read_lines(r, Format::StaticMap, Some("static_map.other"), |line, line_no, _| {
        parse_line(line, line_no)
    })
    .0
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
