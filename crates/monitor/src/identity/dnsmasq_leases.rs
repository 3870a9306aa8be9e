//! dnsmasq's lease file: `<expiry epoch> <mac|iaid> <ip> <hostname|*> <client-id|*>`
//! per line, a `duid …` line before the DHCPv6 leases. Expiry `0` is an
//! infinite lease. The file records only the end of a lease: the start is
//! taken as `expiry - assumed_lease_secs`.

use crate::error::{snippet, ErrorKind, LineError};
use crate::format::Format;
use crate::identity::{read_lines, Lease, Mac, ReadResult};
use crate::time::Timestamp;
use std::io::BufRead;
use std::net::IpAddr;

/// dnsmasq's default lease time (1 h), the usual `assumed_lease_secs`.
pub const DEFAULT_LEASE_SECS: i64 = 3600;

/// Reads a whole lease file. I/O errors end the read and are reported as an error record.
pub fn read<R: BufRead>(r: R, assumed_lease_secs: i64) -> ReadResult<Lease> {
    read_lines(
        r,
        Format::DnsmasqLeases,
        Some("dnsmasq_leases.other"),
        |line, line_no, _| parse_line(line, assumed_lease_secs, line_no),
    )
    .0
}

/// Parses one line; `Ok(None)` for blank and `duid` lines.
pub(crate) fn parse_line(raw: &[u8], assumed_lease_secs: i64, line_no: u64) -> Result<Option<Lease>, LineError> {
    let text = std::str::from_utf8(raw).map_err(|_| LineError::new("line", ErrorKind::Utf8, "invalid UTF-8"))?;
    let text = text.trim();
    if text.is_empty() || text.starts_with("duid ") || text.starts_with('#') {
        return Ok(None);
    }
    let f: Vec<&str> = text.split_ascii_whitespace().collect();
    if f.len() < 4 || f.len() > 5 {
        return Err(LineError::new(
            "line",
            ErrorKind::FieldCount,
            format!("{} fields, want 4 or 5", f.len()),
        ));
    }
    let expiry: i64 = f[0]
        .parse()
        .map_err(|_| LineError::new("expiry", ErrorKind::Timestamp, format!("bad expiry {}", snippet(f[0]))))?;
    if !(0..=253_402_300_799).contains(&expiry) {
        return Err(LineError::new("expiry", ErrorKind::Timestamp, "expiry out of range"));
    }
    let ip: IpAddr = f[2]
        .parse()
        .map_err(|_| LineError::new("ip", ErrorKind::Ip, format!("bad address {}", snippet(f[2]))))?;
    let mac = f[1].parse::<Mac>().ok();
    if mac.is_none() && ip.is_ipv4() {
        return Err(LineError::new(
            "mac",
            ErrorKind::Syntax,
            format!("bad MAC {}", snippet(f[1])),
        ));
    }
    let (starts, ends) = if expiry == 0 {
        (None, None)
    } else {
        let end = Timestamp::from_unix_secs(expiry);
        (Some(end.add_secs(-assumed_lease_secs.max(0))), Some(end))
    };
    Ok(Some(Lease {
        ip,
        mac,
        hostname: (f[3] != "*").then(|| f[3].to_owned()),
        starts,
        ends,
        line_no,
    }))
}
