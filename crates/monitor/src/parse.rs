//! Format parsers, one module per log format, plus the helpers they share.
//!
//! Each parser turns one line (`&str`, already checked to be UTF-8) into an
//! [`Outcome`]: an event borrowing from the line, or a counted skip. Failures
//! are [`LineError`]s that [`crate::Parser`] locates and counts.

pub mod adguard;
pub mod bind;
pub mod blocky;
pub mod dnsmasq;
pub mod pihole;
pub mod squid;
pub mod suricata;
pub(crate) mod syslog;
pub mod unbound;
pub mod zeek;

use crate::error::{snippet, ErrorKind, LineError};
use crate::event::Event;
use std::borrow::Cow;
use std::net::IpAddr;

/// What a parser made of one line.
#[derive(Debug)]
// Events are moved, not boxed: a Box would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Outcome<'a> {
    /// A normalised event.
    Event(Event<'a>),
    /// Not an event (comment, header, daemon housekeeping, unsupported record type).
    Skip(&'static str),
}

/// Options every parser may need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// Year for timestamps that omit it (syslog style).
    pub year: i32,
    /// Offset east of UTC (seconds) for timestamps written without one.
    pub utc_offset: i32,
}

/// Normalises a DNS name: lower-case, one trailing dot stripped (the root stays `.`).
/// Borrows unless a change is needed.
pub fn normalize_name(s: &str) -> Cow<'_, str> {
    let s = if s.len() > 1 {
        s.strip_suffix('.').unwrap_or(s)
    } else {
        s
    };
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Lower-cases a token (transport names, rcodes) borrowing when already lower-case.
pub(crate) fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Upper-cases a token (rcodes, record types) borrowing when already upper-case.
pub(crate) fn upper(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

pub(crate) fn parse_ip(field: &'static str, s: &str) -> Result<IpAddr, LineError> {
    if let Some(v4) = fast_ipv4(s.as_bytes()) {
        return Ok(IpAddr::V4(v4));
    }
    // Zone ids (fe80::1%eth0) are dropped: the address is what identity needs.
    let core = match memchr::memchr(b'%', s.as_bytes()) {
        Some(i) => &s[..i],
        None => s,
    };
    core.parse::<IpAddr>()
        .map_err(|_| LineError::new(field, ErrorKind::Ip, format!("not an IP address: {}", snippet(s))))
}

/// Dotted-quad fast path (no leading zeros beyond a single `0`, like std).
#[inline]
fn fast_ipv4(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, o) in octets.iter_mut().enumerate() {
        let start = i;
        let mut v: u16 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 4 {
            v = v * 10 + u16::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || len > 3 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *o = v as u8;
        if k < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == b.len()).then(|| std::net::Ipv4Addr::from(octets))
}

pub(crate) fn parse_port(field: &'static str, s: &str) -> Result<u16, LineError> {
    s.parse::<u16>()
        .map_err(|_| LineError::new(field, ErrorKind::Number, format!("not a port: {}", snippet(s))))
}

/// Splits `ip#port`, `ip/port`, `ip@port` (separator given) into its parts.
pub(crate) fn split_ip_port(field: &'static str, s: &str, sep: char) -> Result<(IpAddr, Option<u16>), LineError> {
    match s.rfind(sep) {
        Some(i) => Ok((parse_ip(field, &s[..i])?, Some(parse_port(field, &s[i + 1..])?))),
        None => Ok((parse_ip(field, s)?, None)),
    }
}

/// Splits at the first space: (token, rest-after-space). Rest is "" at end.
#[inline]
pub(crate) fn token(s: &str) -> (&str, &str) {
    match memchr::memchr(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// Record type of an answer value inferred from its text: A / AAAA for
/// addresses, otherwise `fallback`.
pub(crate) fn infer_rtype<'a>(data: &str, fallback: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    let b = data.as_bytes();
    if fast_ipv4(b).is_some() {
        return Some(Cow::Borrowed("A"));
    }
    if memchr::memchr(b':', b).is_some() && data.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some(Cow::Borrowed("AAAA"));
    }
    fallback
}

/// True for answers that mean "sinkholed": the unspecified or loopback address.
pub(crate) fn is_sinkhole(data: &str) -> bool {
    matches!(data, "0.0.0.0" | "::" | "127.0.0.1" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ipv4_matches_std() {
        for s in [
            "1.2.3.4",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.4 ",
            "a.b.c.d",
            "10.1.2.300",
        ] {
            assert_eq!(fast_ipv4(s.as_bytes()), s.parse().ok(), "{s}");
        }
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("WWW.TikTok.com."), "www.tiktok.com");
        assert!(matches!(normalize_name("a.b"), Cow::Borrowed(_)));
        assert_eq!(normalize_name("."), ".");
    }
}
