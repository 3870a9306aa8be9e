//! Device identity: who had an IP address at a given time.
//!
//! Sources: a static CSV map (`ip_or_mac,device,user`), dnsmasq's
//! `dnsmasq.leases` and ISC dhcpd's `dhcpd.leases`. The readers follow the
//! log parsers' discipline: a bad record is a located [`crate::ParseError`],
//! counted, and the rest of the file is still read.

pub mod dhcpd_leases;
pub mod dnsmasq_leases;
pub mod resolver;
pub mod static_map;

pub use resolver::{Identity, IdentityResolver, IdentitySource};

use crate::error::{ErrorKind, LineError, ParseError};
use crate::format::Format;
use crate::stats::ParseStats;
use crate::time::Timestamp;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A 48-bit hardware address. Parses `aa:bb:cc:dd:ee:ff`, `aa-bb-…` and
/// `aabb.ccdd.eeff`; displays lower-case with colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let hex: Vec<u8> = s.bytes().filter(|b| !matches!(b, b':' | b'-' | b'.')).collect();
        let seps = s.len() - hex.len();
        if hex.len() != 12 || !(seps == 5 || seps == 2 || seps == 0) {
            return Err(());
        }
        let mut out = [0u8; 6];
        for (i, pair) in hex.chunks(2).enumerate() {
            let h = (pair[0] as char).to_digit(16).ok_or(())?;
            let l = (pair[1] as char).to_digit(16).ok_or(())?;
            out[i] = (h * 16 + l) as u8;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One DHCP binding: `ip` belonged to `mac` / `hostname` from `starts` to `ends`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Lease {
    /// The leased address.
    pub ip: IpAddr,
    /// The client's hardware address (absent for DHCPv6 IAIDs).
    pub mac: Option<Mac>,
    /// The host name the client sent.
    pub hostname: Option<String>,
    /// Start of the binding (`None`: unknown, treated as "always before").
    pub starts: Option<Timestamp>,
    /// End of the binding (`None`: never expires).
    pub ends: Option<Timestamp>,
    /// Line of the record in its file.
    pub line_no: u64,
}

impl Lease {
    /// Whether the binding covers instant `t`.
    pub fn covers(&self, t: Timestamp) -> bool {
        self.starts.is_none_or(|s| s <= t) && self.ends.is_none_or(|e| t < e)
    }
}

/// What a lease or map reader returns: the good records, the bad ones, the counts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadResult<T> {
    /// Records read.
    pub records: Vec<T>,
    /// Bad records, located.
    pub errors: Vec<ParseError>,
    /// Counters.
    pub stats: ParseStats,
}

/// Reads `r` line by line for a reader of `format`: counts lines and bytes,
/// keeps what `parse(line, line_no, offset)` returns, and locates and counts its
/// errors; lines it passes over (`Ok(None)`) are counted under `skip` when given.
/// An I/O error is recorded and ends the read. Returns the result and the
/// last line number and byte offset reached.
pub(crate) fn read_lines<R: std::io::BufRead, T>(
    mut r: R,
    format: Format,
    skip: Option<&'static str>,
    mut parse: impl FnMut(&[u8], u64, u64) -> Result<Option<T>, LineError>,
) -> (ReadResult<T>, u64, u64) {
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
                match parse(&buf, line_no, offset) {
                    Ok(Some(rec)) => {
                        out.stats.events += 1;
                        out.records.push(rec);
                    }
                    Ok(None) => {
                        if let Some(key) = skip {
                            out.stats.record_skip(key);
                        }
                    }
                    Err(e) => {
                        let e = e.at(format, line_no, offset);
                        out.stats.record_error(&e);
                        out.errors.push(e);
                    }
                }
                offset += n as u64;
            }
            Err(e) => {
                let e = LineError::new("input", ErrorKind::Io, e.to_string()).at(format, line_no + 1, offset);
                out.stats.record_error(&e);
                out.errors.push(e);
                break;
            }
        }
    }
    (out, line_no, offset)
}

impl<T> Default for ReadResult<T> {
    fn default() -> Self {
        ReadResult {
            records: Vec::new(),
            errors: Vec::new(),
            stats: ParseStats::default(),
        }
    }
}
