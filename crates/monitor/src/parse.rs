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

/// What a parser that fills an event in place made of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// The event was filled.
    Event,
    /// Not an event (the event's content is unspecified).
    Skip(&'static str),
}

impl<'a> Outcome<'a> {
    /// Moves an event into `slot` (for parsers that build their own).
    pub(crate) fn fill(self, slot: &mut Event<'a>) -> Filled {
        match self {
            Outcome::Event(ev) => {
                *slot = ev;
                Filled::Event
            }
            Outcome::Skip(why) => Filled::Skip(why),
        }
    }
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

/// Calls `f` with the index of every `sep` byte of `b`, in order. Eight
/// bytes at a time (SWAR): cheaper than one `memchr` call per field when
/// fields are short, as in Zeek TSV.
#[inline]
pub(crate) fn for_each_byte(b: &[u8], sep: u8, mut f: impl FnMut(usize)) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pat = LO * u64::from(sep);
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ pat;
        // the high bit of each byte of x that is zero, exactly (no borrow between bytes)
        let mut m = !(((x & HI7) + HI7) | x) & !HI7;
        while m != 0 {
            f(base + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
        base += 8;
    }
    for (i, &c) in chunks.remainder().iter().enumerate() {
        if c == sep {
            f(base + i);
        }
    }
}

/// Room [`sep_positions`] may use beyond the positions asked for.
pub(crate) const SEP_SLACK: usize = 8;

/// Writes the positions of the first `need` `sep` bytes of `b` to `out`
/// (which should hold `need + SEP_SLACK`) and returns how many `sep` bytes
/// `b` has in all. Eight bytes at a time; past the `need`th separator they
/// are only counted.
#[inline]
pub(crate) fn sep_positions(b: &[u8], sep: u8, out: &mut [u32], need: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pat = LO * u64::from(sep);
    let mut n = 0usize;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0u32;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ pat;
        let mut m = !(((x & HI7) + HI7) | x) & !HI7;
        if n < need {
            while m != 0 {
                if let Some(o) = out.get_mut(n) {
                    *o = base + m.trailing_zeros() / 8;
                }
                n += 1;
                m &= m - 1;
            }
        } else {
            n += m.count_ones() as usize;
        }
        base += 8;
    }
    for (i, &c) in chunks.remainder().iter().enumerate() {
        if c == sep {
            if n < need {
                if let Some(o) = out.get_mut(n) {
                    *o = base + i as u32;
                }
            }
            n += 1;
        }
    }
    n
}

/// `s.parse::<IpAddr>().ok()`, with fast paths for dotted quads and
/// The value of an ASCII hex digit.
#[inline]
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// IPv6 without an embedded IPv4 part.
#[inline]
pub(crate) fn ip_addr(s: &str) -> Option<IpAddr> {
    if let Some(v4) = fast_ipv4(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    // anything else that parses is IPv6, which has a colon
    memchr::memchr(b':', s.as_bytes())?;
    ipv6(s).map(IpAddr::V6)
}

/// `s.parse::<Ipv6Addr>().ok()`: std's grammar (groups of 1–4 hex digits,
/// one `::`), done here unless there is a `.` (an embedded IPv4 address:
/// left to std).
fn ipv6(s: &str) -> Option<std::net::Ipv6Addr> {
    let b = s.as_bytes();
    if b.len() > 39 {
        return s.parse().ok();
    }
    // the grammar below has no `.`: a text it rejects that has one is left to std
    ipv6_plain(b).or_else(|| if b.contains(&b'.') { s.parse().ok() } else { None })
}

/// IPv6 without an embedded IPv4 part.
fn ipv6_plain(b: &[u8]) -> Option<std::net::Ipv6Addr> {
    /// Reads up to `limit` `:`-separated groups from `*i`; returns how many.
    fn groups(b: &[u8], i: &mut usize, out: &mut [u16]) -> usize {
        for (n, slot) in out.iter_mut().enumerate() {
            let mut j = *i;
            if n > 0 {
                if b.get(j) != Some(&b':') {
                    return n;
                }
                j += 1;
            }
            let mut v: u16 = 0;
            let mut digits = 0;
            while digits < 4 {
                let Some(d) = b.get(j).and_then(|c| hex_digit(*c)) else {
                    break;
                };
                v = (v << 4) | u16::from(d);
                j += 1;
                digits += 1;
            }
            if digits == 0 {
                return n;
            }
            *slot = v;
            *i = j;
        }
        out.len()
    }
    let mut i = 0;
    let mut head = [0u16; 8];
    let n = groups(b, &mut i, &mut head);
    if n < 8 {
        if b.get(i..i + 2) != Some(b"::") {
            return None;
        }
        i += 2;
        let mut tail = [0u16; 7];
        let limit = 8 - (n + 1);
        let t = groups(b, &mut i, &mut tail[..limit]);
        head[8 - t..].copy_from_slice(&tail[..t]);
    }
    (i == b.len()).then(|| std::net::Ipv6Addr::from(head))
}

pub(crate) fn parse_ip(field: &'static str, s: &str) -> Result<IpAddr, LineError> {
    // what `ip_addr` does, without trying the dotted quad twice
    if let Some(v4) = fast_ipv4(s.as_bytes()) {
        return Ok(IpAddr::V4(v4));
    }
    if memchr::memchr(b':', s.as_bytes()).is_some() {
        if let Some(v6) = ipv6(s) {
            return Ok(IpAddr::V6(v6));
        }
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
    let mut k = 0usize;
    let mut v: u32 = 0;
    let mut digits = 0u32;
    for &c in b {
        if c == b'.' {
            if digits == 0 || k == 3 {
                return None;
            }
            octets[k] = v as u8;
            k += 1;
            v = 0;
            digits = 0;
        } else {
            let d = c.wrapping_sub(b'0');
            // a digit; no leading zero; at most 255 (so at most three digits)
            if d > 9 || (digits == 1 && v == 0) {
                return None;
            }
            v = v * 10 + u32::from(d);
            digits += 1;
            if v > 255 {
                return None;
            }
        }
    }
    if digits == 0 || k != 3 {
        return None;
    }
    octets[3] = v as u8;
    Some(std::net::Ipv4Addr::from(octets))
}

pub(crate) fn parse_port(field: &'static str, s: &str) -> Result<u16, LineError> {
    parse_u16(s).ok_or_else(|| LineError::new(field, ErrorKind::Number, format!("not a port: {}", snippet(s))))
}

/// `s.parse::<u16>().ok()`, with a fast path for up to five plain digits.
#[inline]
pub(crate) fn parse_u16(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 5 {
        let mut v = 0u32;
        let mut digits = true;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            digits &= d <= 9;
            v = v * 10 + u32::from(d);
        }
        if digits {
            return u16::try_from(v).ok();
        }
    }
    s.parse().ok()
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
    if memchr::memchr(b':', b).is_some() && ipv6(data).is_some() {
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

    const MUL: u64 = 6_364_136_223_846_793_005;

    /// One step of the generator the randomised tests use (deterministic runs).
    fn lcg(state: u64) -> u64 {
        state.wrapping_mul(MUL).wrapping_add(1_442_695_040_888_963_407)
    }

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
            "198.18.2.300",
        ] {
            assert_eq!(fast_ipv4(s.as_bytes()), s.parse().ok(), "{s}");
        }
        // and random strings over digits and dots
        let mut state = 9u64;
        for _ in 0..300_000 {
            state = lcg(state);
            let len = (state >> 60) as usize + 5;
            let mut r = state;
            let t: String = (0..len)
                .map(|_| {
                    r = r.wrapping_mul(MUL).wrapping_add(1);
                    b"0012345679..."[(r >> 59) as usize % 13] as char
                })
                .collect();
            assert_eq!(fast_ipv4(t.as_bytes()), t.parse().ok(), "{t}");
        }
    }

    #[test]
    fn byte_positions_match_a_plain_scan() {
        let lines: [&[u8]; 6] = [
            b"",
            b"\t",
            b"a\tb",
            b"1795316000.000000\tCabc\t198.18.2.3\t53\t\t\t-\t\xff\x80\t(empty)\t",
            b"\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t",
            b"no separators at all, but more than eight bytes \x89\x09\x08",
        ];
        for l in lines {
            for sep in [b'\t', b',', 0x89, 0] {
                let mut got = Vec::new();
                for_each_byte(l, sep, |i| got.push(i));
                let want: Vec<usize> = l
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == sep)
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(got, want, "{l:?} {sep}");
            }
        }
    }

    #[test]
    fn sep_positions_match_a_plain_scan() {
        let mut lines: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\t".to_vec(),
            b"a\tb".to_vec(),
            b"1795316000.000000\tCabc\t198.18.2.3\t53\t\t\t-\t\xff\x80\t(empty)\t".to_vec(),
            b"\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t".to_vec(),
            b"no separators at all, but more than eight bytes \x89\x09\x08".to_vec(),
        ];
        // and random lines over a small alphabet, dense in separators
        let mut state = 11u64;
        for _ in 0..5000 {
            state = lcg(state);
            let len = (state >> 57) as usize;
            let mut l = Vec::new();
            let mut r = state;
            for _ in 0..len {
                r = r.wrapping_mul(MUL).wrapping_add(1);
                l.push(b"\t\ta-,\x89"[(r >> 60) as usize % 6]);
            }
            lines.push(l);
        }
        for l in &lines {
            for sep in [b'\t', b',', 0x89, 0] {
                let want: Vec<u32> = (l.iter().enumerate())
                    .filter(|(_, c)| **c == sep)
                    .map(|(i, _)| i as u32)
                    .collect();
                for need in [0, 1, 3, 5, 24, 200] {
                    let mut out = vec![0u32; need + SEP_SLACK];
                    let n = sep_positions(l, sep, &mut out, need);
                    assert_eq!(n, want.len(), "{l:?} {sep}");
                    let k = need.min(n);
                    assert_eq!(&out[..k], &want[..k], "{l:?} {sep} {need}");
                }
            }
        }
    }

    #[test]
    fn ip_addr_matches_std() {
        let mut cases: Vec<String> = [
            "1.2.3.4",
            "01.2.3.4",
            "::1",
            "::",
            ":::",
            "fe80::1",
            "::ffff:1.2.3.4",
            "edge.example",
            "1.2.3",
            "",
            ":",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::2::3",
            "12345::",
            "fe80::217:f2ff:fed7:ab",
            "ff02::fb",
            "FE80::ABCD",
            "1:2:3:4:5:6:7",
            "1:",
            ":1",
            "1::",
            "0000:0000::0",
            "g::1",
            "1:2:3:4:5:6::7:8",
            "1::2:3:4:5:6:7:8",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // and many random strings over the IPv6 alphabet
        let alphabet = b"0123456789abcdefABCDEF::::.x";
        let mut state = 7u64;
        for _ in 0..200_000 {
            state = lcg(state);
            let len = (state >> 59) as usize + 2;
            let mut t = String::new();
            let mut r = state;
            for _ in 0..len {
                r = r.wrapping_mul(MUL).wrapping_add(1);
                t.push(alphabet[(r >> 58) as usize % alphabet.len()] as char);
            }
            cases.push(t);
        }
        for s in &cases {
            assert_eq!(ip_addr(s), s.parse::<IpAddr>().ok(), "{s}");
        }
    }

    #[test]
    fn parse_u16_matches_std() {
        let mut cases: Vec<String> = [
            "", "0", "53", "65535", "65536", "99999", "+53", "-1", "00053", "000053", "5a", " 5", "٣",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.extend((0..200_000u32).step_by(7).map(|n| n.to_string()));
        for s in &cases {
            assert_eq!(parse_u16(s), s.parse::<u16>().ok(), "{s}");
        }
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("WWW.TikTok.com."), "www.tiktok.com");
        assert!(matches!(normalize_name("a.b"), Cow::Borrowed(_)));
        assert_eq!(normalize_name("."), ".");
    }
}
