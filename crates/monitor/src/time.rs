//! Timestamps: a UTC instant with nanosecond precision, and the small civil-date
//! parsers the log formats need (no time-zone database: log times without an
//! offset are read in the fixed offset given by [`crate::ParseOptions`]).

use serde::{Serialize, Serializer};
use std::fmt;

/// A UTC instant, nanoseconds since the Unix epoch. Serialises as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const NANOS: i64 = 1_000_000_000;

impl Timestamp {
    /// The instant `nanos` nanoseconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// The instant `secs` seconds after the epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(NANOS))
    }

    /// Nanoseconds since the epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(NANOS)
    }

    /// This instant moved by `secs` seconds.
    pub const fn add_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(NANOS)))
    }

    /// Builds an instant from a civil date and time read in a fixed UTC offset.
    /// Returns `None` for an impossible date or time.
    pub fn from_civil(c: Civil, offset_secs: i32) -> Option<Self> {
        if !(1..=12).contains(&c.month)
            || c.day == 0
            || c.day > days_in_month(c.year, c.month)
            || c.hour > 23
            || c.minute > 59
            || c.second > 60
            || c.nanos >= 1_000_000_000
        {
            return None;
        }
        let days = days_from_civil(c.year, c.month, c.day);
        let secs = days * 86_400 + i64::from(c.hour) * 3600 + i64::from(c.minute) * 60 + i64::from(c.second)
            - i64::from(offset_secs);
        Some(Timestamp(secs.checked_mul(NANOS)?.checked_add(i64::from(c.nanos))?))
    }

    /// Parses a decimal epoch such as `1795316102.232` (at most 9 fraction digits).
    pub fn parse_epoch(s: &str) -> Option<Self> {
        let (int, frac) = match s.bytes().position(|b| b == b'.') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        };
        let neg = int.starts_with('-');
        let digits = if neg { &int[1..] } else { int };
        if digits.is_empty() || digits.len() > 12 {
            return None;
        }
        let secs = parse_u64(digits)? as i64;
        let nanos = parse_frac(frac)?;
        let total = secs.checked_mul(NANOS)?.checked_add(i64::from(nanos))?;
        Some(Timestamp(if neg { -total } else { total }))
    }

    /// Parses RFC 3339 / ISO 8601: `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM|±HHMM]`.
    /// Without an offset, `default_offset` seconds east of UTC is assumed.
    pub fn parse_rfc3339(s: &str, default_offset: i32) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
            return None;
        }
        let year = parse_u64(&s[0..4])? as i32;
        let month = parse_2(&b[5..7])?;
        let day = parse_2(&b[8..10])?;
        let (hour, minute, second) = parse_hms(&b[11..19])?;
        let mut rest = &s[19..];
        let mut nanos = 0;
        if let Some(r) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
            let end = r.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(r.len());
            nanos = parse_frac(&r[..end])?;
            rest = &r[end..];
        }
        let offset = if rest.is_empty() {
            default_offset
        } else if rest == "Z" || rest == "z" {
            0
        } else {
            parse_offset(rest)?
        };
        Timestamp::from_civil(
            Civil {
                year,
                month,
                day,
                hour,
                minute,
                second,
                nanos,
            },
            offset,
        )
    }

    /// Splits into (year, month, day, hour, minute, second, nanos) in UTC.
    pub fn to_civil(self) -> Civil {
        let secs = self.0.div_euclid(NANOS);
        let nanos = self.0.rem_euclid(NANOS) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (sod / 3600) as u8,
            minute: ((sod % 3600) / 60) as u8,
            second: (sod % 60) as u8,
            nanos,
        }
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with the shortest of 0, 3, 6 or 9 fraction digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.to_civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )?;
        if c.nanos != 0 {
            if c.nanos % 1_000_000 == 0 {
                write!(f, ".{:03}", c.nanos / 1_000_000)?;
            } else if c.nanos % 1000 == 0 {
                write!(f, ".{:06}", c.nanos / 1000)?;
            } else {
                write!(f, ".{:09}", c.nanos)?;
            }
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A civil (calendar) date and time, the parts of a timestamp as logs write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Proleptic Gregorian year.
    pub year: i32,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=60 (a leap second is accepted and folds into the next minute).
    pub second: u8,
    /// 0..1e9.
    pub nanos: u32,
}

pub(crate) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

/// Parses a run of ASCII digits (at most 19) as u64.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for c in s.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

fn parse_frac(s: &str) -> Option<u32> {
    if s.len() > 9 {
        // Keep nanosecond precision, ignore the rest, but it must still be digits.
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        return parse_frac(&s[..9]);
    }
    if s.is_empty() {
        return Some(0);
    }
    let v = parse_u64(s)? as u32;
    Some(v * 10u32.pow(9 - s.len() as u32))
}

pub(crate) fn parse_2(b: &[u8]) -> Option<u8> {
    match b {
        [a, c] if a.is_ascii_digit() && c.is_ascii_digit() => Some((a - b'0') * 10 + (c - b'0')),
        _ => None,
    }
}

/// `HH:MM:SS` (exactly 8 bytes).
pub(crate) fn parse_hms(b: &[u8]) -> Option<(u8, u8, u8)> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    Some((parse_2(&b[0..2])?, parse_2(&b[3..5])?, parse_2(&b[6..8])?))
}

/// `+HH:MM`, `-HHMM`, `+HH` → seconds east of UTC.
pub(crate) fn parse_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match b.len() {
        3 => (parse_2(&b[1..3])?, 0),
        5 => (parse_2(&b[1..3])?, parse_2(&b[3..5])?),
        6 if b[3] == b':' => (parse_2(&b[1..3])?, parse_2(&b[4..6])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (i32::from(h) * 3600 + i32::from(m) * 60))
}

/// English month abbreviation (`Jan`..`Dec`, case-insensitive) → 1..=12.
pub(crate) fn month_from_abbr(b: &[u8]) -> Option<u8> {
    if b.len() != 3 {
        return None;
    }
    let k = [
        b[0].to_ascii_lowercase(),
        b[1].to_ascii_lowercase(),
        b[2].to_ascii_lowercase(),
    ];
    Some(match &k {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// `.123` style fraction after a time, as nanoseconds; returns the rest.
pub(crate) fn split_frac(s: &str) -> Option<(u32, &str)> {
    if let Some(r) = s.strip_prefix('.') {
        let end = r.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(r.len());
        Some((parse_frac(&r[..end])?, &r[end..]))
    } else {
        Some((0, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 365, 10_957, 20_779, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rfc3339_forms() {
        let t = Timestamp::parse_rfc3339("2026-11-22T02:54:51.317Z", 0).expect("valid time");
        assert_eq!(t.to_string(), "2026-11-22T02:54:51.317Z");
        let t2 = Timestamp::parse_rfc3339("2020-11-25T18:55:56.519796+03:00", 0).expect("valid time");
        assert_eq!(t2.to_string(), "2020-11-25T15:55:56.519796Z");
        let t3 = Timestamp::parse_rfc3339("2017-01-30T16:12:26.985026+0100", 0).expect("valid time");
        assert_eq!(t3.to_string(), "2017-01-30T15:12:26.985026Z");
        assert!(Timestamp::parse_rfc3339("2026-13-22T02:54:51Z", 0).is_none());
        assert!(Timestamp::parse_rfc3339("2026-02-30T02:54:51Z", 0).is_none());
    }

    #[test]
    fn epoch_forms() {
        let t = Timestamp::parse_epoch("1795316102.232").expect("valid epoch");
        assert_eq!(t.unix_nanos(), 1_795_316_102_232_000_000);
        assert_eq!(t.to_string(), "2026-11-22T02:55:02.232Z");
        assert!(Timestamp::parse_epoch("XXXXXXXXXX.XXXXXX").is_none());
        assert!(Timestamp::parse_epoch("").is_none());
    }
}
