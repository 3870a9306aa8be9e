//! Zeek logs: `dns`, `ssl`, `conn` and `http`, as TSV (read through the
//! `#separator` / `#set_separator` / `#empty_field` / `#unset_field` /
//! `#path` / `#fields` header) or as JSON lines.
//!
//! btest baselines mask times as `XXXXXXXXXX.XXXXXX`; such events get no
//! `@timestamp` and are counted in [`crate::ParseStats::masked_timestamps`].

use crate::error::{snippet, ErrorKind, LineError};
use crate::event::{DnsAnswer, DnsType, Event};
use crate::parse::{
    for_each_byte, infer_rtype, lower, normalize_name, parse_ip, parse_port, parse_u16, sep_positions, Filled, Outcome,
    SEP_SLACK,
};
use crate::time::Timestamp;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// The Zeek log stream, from `#path`, `_path`, a file name or the fields present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZeekLog {
    /// dns.log
    Dns,
    /// ssl.log
    Ssl,
    /// conn.log
    Conn,
    /// http.log
    Http,
    /// Any other stream (skipped).
    Other,
}

impl ZeekLog {
    /// Maps a `#path` / `_path` value (or file stem) to a stream.
    pub fn from_path(p: &str) -> ZeekLog {
        match p {
            "dns" => ZeekLog::Dns,
            "ssl" => ZeekLog::Ssl,
            "conn" => ZeekLog::Conn,
            "http" => ZeekLog::Http,
            _ => ZeekLog::Other,
        }
    }
    fn dataset(self) -> &'static str {
        match self {
            ZeekLog::Dns => "zeek.dns",
            ZeekLog::Ssl => "zeek.ssl",
            ZeekLog::Conn => "zeek.conn",
            ZeekLog::Http => "zeek.http",
            ZeekLog::Other => "zeek.other",
        }
    }
}

// Columns the parser uses; index into the per-line slot array.
const TS: usize = 0;
const ORIG_H: usize = 1;
const ORIG_P: usize = 2;
const RESP_H: usize = 3;
const RESP_P: usize = 4;
const PROTO: usize = 5;
const TRANS_ID: usize = 6;
const QUERY: usize = 7;
const QTYPE_NAME: usize = 8;
const RCODE_NAME: usize = 9;
const ANSWERS: usize = 10;
const SERVER_NAME: usize = 11;
const HOST: usize = 12;
const NSLOTS: usize = 13;
const NONE: u8 = u8::MAX;

fn slot_of(field: &str) -> u8 {
    (match field {
        "ts" => TS,
        "id.orig_h" => ORIG_H,
        "id.orig_p" => ORIG_P,
        "id.resp_h" => RESP_H,
        "id.resp_p" => RESP_P,
        "proto" => PROTO,
        "trans_id" => TRANS_ID,
        "query" => QUERY,
        "qtype_name" => QTYPE_NAME,
        "rcode_name" => RCODE_NAME,
        "answers" => ANSWERS,
        "server_name" => SERVER_NAME,
        "host" => HOST,
        _ => return NONE,
    }) as u8
}

/// State of a Zeek TSV file: what its header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeekTsvParser {
    sep: u8,
    set_sep: u8,
    empty: String,
    unset: String,
    log: Option<ZeekLog>,
    hint: Option<ZeekLog>,
    /// Column index → slot (NONE when unused). Empty until `#fields`.
    cols: Vec<u8>,
    /// The used columns, in order: (column index, slot).
    used: Vec<(usize, usize)>,
    /// The last server address read: logs repeat them.
    resp_memo: IpMemo,
}

/// The last address text parsed and its value. A memo, not state: any two
/// are equal, so parsers compare by their header alone.
#[derive(Debug, Clone)]
struct IpMemo {
    text: [u8; 48],
    len: usize,
    ip: Option<std::net::IpAddr>,
}

impl Default for IpMemo {
    fn default() -> Self {
        IpMemo {
            text: [0; 48],
            len: 0,
            ip: None,
        }
    }
}

impl PartialEq for IpMemo {
    fn eq(&self, _: &IpMemo) -> bool {
        true
    }
}

impl Eq for IpMemo {}

impl IpMemo {
    /// `parse_ip(field, s)`, remembered.
    fn parse(&mut self, field: &'static str, s: &str) -> Result<std::net::IpAddr, LineError> {
        if let Some(ip) = self.ip {
            if self.text.get(..self.len) == Some(s.as_bytes()) {
                return Ok(ip);
            }
        }
        let ip = parse_ip(field, s)?;
        if let Some(t) = self.text.get_mut(..s.len()) {
            t.copy_from_slice(s.as_bytes());
            self.len = s.len();
            self.ip = Some(ip);
        }
        Ok(ip)
    }
}

/// Lines of up to this many fields take the fast path of [`ZeekTsvParser::fields`].
const MAXF: usize = 40;

impl ZeekTsvParser {
    pub(crate) fn new(hint: Option<ZeekLog>) -> Self {
        ZeekTsvParser {
            sep: b'\t',
            set_sep: b',',
            empty: "(empty)".into(),
            unset: "-".into(),
            log: None,
            hint,
            cols: Vec::new(),
            used: Vec::new(),
            resp_memo: IpMemo::default(),
        }
    }

    /// Parses one line into `ev` (reset first; its content is unspecified
    /// unless the line is an event).
    pub(crate) fn parse_into<'a>(&mut self, line: &'a str, ev: &mut Event<'a>) -> Result<Filled, LineError> {
        if line.starts_with('#') {
            return self.header(line);
        }
        if self.cols.is_empty() {
            return Err(LineError::new(
                "#fields",
                ErrorKind::Header,
                "data line before the #fields header",
            ));
        }
        let log = self.log.or(self.hint).unwrap_or(ZeekLog::Other);
        if log == ZeekLog::Other {
            return Ok(Filled::Skip("zeek.other_log"));
        }
        let v = self.fields(line)?;
        ev.reset(log.dataset(), "ids", "zeek");
        if let Some(ts) = v[TS] {
            ev.timestamp = zeek_ts_text(ts)?;
        }
        if let Some(s) = v[ORIG_H] {
            ev.source_ip = Some(parse_ip("id.orig_h", s)?);
        }
        if let Some(s) = v[ORIG_P] {
            ev.source_port = Some(parse_port("id.orig_p", s)?);
        }
        if let Some(s) = v[RESP_H] {
            ev.destination_ip = Some(self.resp_memo.parse("id.resp_h", s)?);
        }
        if let Some(s) = v[RESP_P] {
            ev.destination_port = Some(parse_port("id.resp_p", s)?);
        }
        ev.transport = v[PROTO].map(lower);
        match log {
            ZeekLog::Dns => {
                if let Some(s) = v[TRANS_ID] {
                    ev.dns_id = Some(parse_u16(s).ok_or_else(|| {
                        LineError::new("trans_id", ErrorKind::Number, format!("bad id {}", snippet(s)))
                    })?);
                }
                ev.dns_question_name = v[QUERY].map(unescape_name);
                ev.dns_question_type = v[QTYPE_NAME].map(Cow::Borrowed);
                ev.dns_response_code = v[RCODE_NAME].map(Cow::Borrowed);
                ev.dns_type = Some(if ev.dns_response_code.is_some() {
                    DnsType::Answer
                } else {
                    DnsType::Query
                });
                if let Some(a) = v[ANSWERS] {
                    if a != self.empty {
                        // the set separator is ASCII too (as `a.split(set_sep as char)`)
                        let mut rest = a;
                        loop {
                            let (item, more) = match memchr::memchr(self.set_sep, rest.as_bytes()) {
                                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                                None => (rest, None),
                            };
                            let data = unescape(item);
                            let rtype = answer_type(&data, ev.dns_question_type.as_ref());
                            ev.dns_answers.push(DnsAnswer { data, rtype });
                            match more {
                                Some(m) => rest = m,
                                None => break,
                            }
                        }
                    }
                }
            }
            ZeekLog::Ssl => ev.tls_server_name = v[SERVER_NAME].map(unescape_name),
            ZeekLog::Http => ev.url_domain = v[HOST].map(host_only),
            ZeekLog::Conn | ZeekLog::Other => {}
        }
        Ok(Filled::Event)
    }

    /// The line's values by slot (`None` when unset), after checking the field count.
    #[inline]
    fn fields<'a>(&self, line: &'a str) -> Result<[Option<&'a str>; NSLOTS], LineError> {
        let mut v: [Option<&'a str>; NSLOTS] = [None; NSLOTS];
        let b = line.as_bytes();
        let ncols = self.cols.len();
        let unset = self.unset.as_bytes();
        let is_unset = |s: &str| match unset {
            [u] => s.len() == 1 && s.as_bytes()[0] == *u,
            u => s.as_bytes() == u,
        };
        let count_error = |n: usize| {
            LineError::new(
                "#fields",
                ErrorKind::FieldCount,
                format!("{n} fields, header has {ncols}"),
            )
        };
        // the separator is ASCII (the header's value is one byte of a UTF-8 string): slicing is safe
        if ncols <= MAXF && b.len() < u32::MAX as usize {
            // where the fields up to the last used one end, then only the used ones are looked at
            let need = self.used.last().map_or(0, |&(c, _)| c + 1);
            let mut ends = [0u32; MAXF + SEP_SLACK];
            let n = sep_positions(b, self.sep, &mut ends, need);
            if n + 1 != ncols {
                return Err(count_error(n + 1));
            }
            for &(col, slot) in &self.used {
                let start = if col == 0 { 0 } else { ends[col - 1] as usize + 1 };
                let end = if col == n { b.len() } else { ends[col] as usize };
                let s = &line[start..end];
                v[slot] = (!is_unset(s)).then_some(s);
            }
            return Ok(v);
        }
        let mut start = 0;
        let mut col = 0usize;
        let cols = &self.cols[..];
        let mut field_end = |end: usize| {
            if let Some(&slot) = cols.get(col) {
                if slot != NONE {
                    let s = &line[start..end];
                    v[slot as usize] = (!is_unset(s)).then_some(s);
                }
            }
            col += 1;
            start = end + 1;
        };
        for_each_byte(b, self.sep, &mut field_end);
        field_end(b.len());
        if col != ncols {
            return Err(count_error(col));
        }
        Ok(v)
    }

    pub(crate) fn header(&mut self, line: &str) -> Result<Filled, LineError> {
        // `#separator \x09` uses a space; the rest use the separator itself.
        if let Some(v) = line.strip_prefix("#separator ") {
            let bytes = unescape(v.trim());
            match bytes.as_bytes() {
                [b] => self.sep = *b,
                _ => {
                    return Err(LineError::new(
                        "#separator",
                        ErrorKind::Header,
                        "separator must be one byte",
                    ))
                }
            }
            return Ok(Filled::Skip("zeek.header"));
        }
        let body = &line[1..];
        let (key, val) = match memchr::memchr(self.sep, body.as_bytes()) {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, ""),
        };
        match key {
            "set_separator" => match unescape(val).as_bytes() {
                [b] => self.set_sep = *b,
                _ => {
                    return Err(LineError::new(
                        "#set_separator",
                        ErrorKind::Header,
                        "set separator must be one byte",
                    ))
                }
            },
            "empty_field" => self.empty = val.to_owned(),
            "unset_field" => self.unset = val.to_owned(),
            "path" => self.log = Some(ZeekLog::from_path(val)),
            "fields" => {
                self.cols = val.split(self.sep as char).map(slot_of).collect();
                self.used = (self.cols.iter().enumerate())
                    .filter(|(_, s)| **s != NONE)
                    .map(|(c, s)| (c, usize::from(*s)))
                    .collect();
                if self.cols.is_empty() {
                    return Err(LineError::new("#fields", ErrorKind::Header, "empty #fields"));
                }
            }
            _ => {}
        }
        Ok(Filled::Skip("zeek.header"))
    }
}

/// Zeek TSV time: epoch seconds with fraction; `XXXXXXXXXX.XXXXXX` (btest) → None.
fn zeek_ts_text(s: &str) -> Result<Option<Timestamp>, LineError> {
    if let Some(t) = epoch_fast(s.as_bytes()) {
        return Ok(Some(t));
    }
    if s.bytes().all(|b| b == b'X' || b == b'.') {
        return Ok(None);
    }
    Timestamp::parse_epoch(s)
        .map(Some)
        .ok_or_else(|| LineError::new("ts", ErrorKind::Timestamp, format!("bad time {}", snippet(s))))
}

/// `Timestamp::parse_epoch` for the usual form, in one pass: 1–12 digits,
/// optionally `.` and up to 9 digits. `None` for anything else (then the
/// full parser decides).
#[inline]
fn epoch_fast(b: &[u8]) -> Option<Timestamp> {
    let mut secs: i64 = 0;
    let mut i = 0;
    // at most 13 digits are read (12 fit; a 13th means "not this form"), so no overflow
    while i < b.len() && i <= 12 && b[i].is_ascii_digit() {
        secs = secs * 10 + i64::from(b[i] - b'0');
        i += 1;
    }
    if i == 0 || i > 12 {
        return None;
    }
    let mut nanos: i64 = 0;
    if i < b.len() {
        if b[i] != b'.' {
            return None;
        }
        let frac = &b[i + 1..];
        if frac.len() > 9 {
            return None;
        }
        for &c in frac {
            if !c.is_ascii_digit() {
                return None;
            }
            nanos = nanos * 10 + i64::from(c - b'0');
        }
        nanos *= 10i64.pow(9 - frac.len() as u32);
    }
    Some(Timestamp::from_unix_nanos(
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)?,
    ))
}

/// Decodes Zeek's `\xHH` escapes (and `\\`), borrowing when there are none.
fn unescape(s: &str) -> Cow<'_, str> {
    // short fields: a plain loop beats a searcher
    if !s.bytes().any(|b| b == b'\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (b.get(i + 2).and_then(|c| hex(*c)), b.get(i + 3).and_then(|c| hex(*c))) {
                out.push((h * 16 + l) as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// No `\\` and no ASCII upper case in `b`, eight bytes at a time.
#[inline]
fn plain_name(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // a byte of `x` in 0x41..=0x5a (`A`..=`Z`), or equal to 0x5c (`\\`): exact
    // for every byte value (bytes with the high bit set are masked out)
    let flagged = |x: u64| {
        let low = x & LOW7;
        let upper = (LO * (127 + 0x5b) - low) & !x & (low + LO * (127 - 0x40)) & HI;
        let y = (x ^ (LO * 0x5c)) & LOW7;
        let backslash = !((y + LOW7) | x | LOW7) & HI;
        upper | backslash != 0
    };
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if flagged(u64::from_le_bytes(w)) {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&c| c == b'\\' || c.is_ascii_uppercase())
}

fn unescape_name(s: &str) -> Cow<'_, str> {
    // the common case in one pass: no escape, no upper case
    if plain_name(s.as_bytes()) {
        return Cow::Borrowed(if s.len() > 1 {
            s.strip_suffix('.').unwrap_or(s)
        } else {
            s
        });
    }
    match unescape(s) {
        Cow::Borrowed(b) => normalize_name(b),
        Cow::Owned(o) => Cow::Owned(normalize_name(&o).into_owned()),
    }
}

fn host_only(h: &str) -> Cow<'_, str> {
    let host = if h.starts_with('[') {
        h.trim_start_matches('[').split(']').next().unwrap_or(h)
    } else {
        match h.rsplit_once(':') {
            Some((a, p)) if !a.contains(':') && p.bytes().all(|c| c.is_ascii_digit()) => a,
            _ => h,
        }
    };
    normalize_name(host)
}

/// Answers in Zeek are bare strings: addresses are A/AAAA; a name in an
/// address query is a CNAME; otherwise the question type.
fn answer_type<'a>(data: &str, qtype: Option<&Cow<'a, str>>) -> Option<Cow<'a, str>> {
    let fallback = match qtype.map(|q| (q.as_ref(), q)) {
        Some(("A" | "AAAA" | "HTTPS" | "SVCB", _)) => Some(Cow::Borrowed("CNAME")),
        Some((_, q)) => Some(q.clone()),
        None => None,
    };
    infer_rtype(data, fallback)
}

/// A JSON-lines Zeek log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeekJsonParser {
    hint: Option<ZeekLog>,
}

#[derive(Deserialize)]
struct ZeekRecord<'a> {
    ts: Option<ZeekTs>,
    #[serde(rename = "_path", borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(rename = "id.orig_h", borrow)]
    orig_h: Option<Cow<'a, str>>,
    #[serde(rename = "id.orig_p")]
    orig_p: Option<u16>,
    #[serde(rename = "id.resp_h", borrow)]
    resp_h: Option<Cow<'a, str>>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<u16>,
    #[serde(borrow)]
    proto: Option<Cow<'a, str>>,
    trans_id: Option<u16>,
    #[serde(borrow)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow)]
    qtype_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rcode_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    answers: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    server_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cipher: Option<Cow<'a, str>>,
    #[serde(borrow)]
    conn_state: Option<Cow<'a, str>>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
}

impl ZeekJsonParser {
    pub(crate) fn new(hint: Option<ZeekLog>) -> Self {
        ZeekJsonParser { hint }
    }

    pub(crate) fn parse<'a>(&mut self, line: &'a str) -> Result<Outcome<'a>, LineError> {
        let r: ZeekRecord<'a> =
            serde_json::from_str(line).map_err(|e| LineError::new("json", ErrorKind::Json, format!("{e}")))?;
        let log = match (&r.path, self.hint) {
            (Some(p), _) => ZeekLog::from_path(p),
            (None, Some(h)) => h,
            (None, None) => {
                if r.query.is_some() || r.qtype_name.is_some() {
                    ZeekLog::Dns
                } else if r.server_name.is_some() || r.cipher.is_some() {
                    ZeekLog::Ssl
                } else if r.method.is_some() || r.host.is_some() {
                    ZeekLog::Http
                } else if r.conn_state.is_some() {
                    ZeekLog::Conn
                } else {
                    ZeekLog::Other
                }
            }
        };
        if log == ZeekLog::Other {
            return Ok(Outcome::Skip("zeek.other_log"));
        }
        let mut ev = Event::new(log.dataset(), "ids", "zeek");
        ev.timestamp = r.ts.and_then(|t| t.0);
        if let Some(s) = &r.orig_h {
            ev.source_ip = Some(parse_ip("id.orig_h", s)?);
        }
        ev.source_port = r.orig_p;
        if let Some(s) = &r.resp_h {
            ev.destination_ip = Some(parse_ip("id.resp_h", s)?);
        }
        ev.destination_port = r.resp_p;
        ev.transport = r.proto.map(|p| match p {
            Cow::Borrowed(b) => lower(b),
            Cow::Owned(o) => Cow::Owned(o.to_ascii_lowercase()),
        });
        match log {
            ZeekLog::Dns => {
                ev.dns_id = r.trans_id;
                ev.dns_question_name = r.query.map(own_name);
                ev.dns_question_type = r.qtype_name;
                ev.dns_response_code = r.rcode_name;
                ev.dns_type = Some(if ev.dns_response_code.is_some() {
                    DnsType::Answer
                } else {
                    DnsType::Query
                });
                for data in r.answers.unwrap_or_default() {
                    let rtype = answer_type(&data, ev.dns_question_type.as_ref());
                    ev.dns_answers.push(DnsAnswer { data, rtype });
                }
            }
            ZeekLog::Ssl => ev.tls_server_name = r.server_name.map(own_name),
            ZeekLog::Http => {
                ev.url_domain = r.host.map(|h| match h {
                    Cow::Borrowed(b) => host_only(b),
                    Cow::Owned(o) => Cow::Owned(host_only(&o).into_owned()),
                })
            }
            ZeekLog::Conn | ZeekLog::Other => {}
        }
        Ok(Outcome::Event(ev))
    }
}

fn own_name(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(b) => normalize_name(b),
        Cow::Owned(o) => Cow::Owned(normalize_name(&o).into_owned()),
    }
}

/// Zeek JSON `ts`: epoch number (default) or ISO 8601 string (`JSON::TS_ISO8601`).
struct ZeekTs(Option<Timestamp>);

impl<'de> Deserialize<'de> for ZeekTs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ZeekTs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an epoch number or an ISO 8601 string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ZeekTs, E> {
                if !v.is_finite() || v.abs() > 1e11 {
                    return Err(E::custom("ts out of range"));
                }
                let micros = (v * 1e6).round() as i64;
                // 1e10 s passes the range check but 1e19 ns does not fit an i64 (found by fuzzing)
                let nanos = micros.checked_mul(1000).ok_or_else(|| E::custom("ts out of range"))?;
                Ok(ZeekTs(Some(Timestamp::from_unix_nanos(nanos))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ZeekTs, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ZeekTs, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ZeekTs, E> {
                if v.bytes().all(|b| b == b'X' || b == b'.') {
                    return Ok(ZeekTs(None));
                }
                Timestamp::parse_rfc3339(v, 0)
                    .or_else(|| Timestamp::parse_epoch(v))
                    .map(|t| ZeekTs(Some(t)))
                    .ok_or_else(|| E::custom("bad ts string"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    #[test]
    fn plain_name_matches_a_plain_scan() {
        let slow = |b: &[u8]| !b.iter().any(|&c| c == b'\\' || c.is_ascii_uppercase());
        // every byte value at every position of a 17-byte string, over a few fillers
        for filler in [b'a', b'.', b'0', 0xff, 0x80, 0x00, b'[', b'@', b'Z' + 1] {
            for pos in 0..17 {
                for v in 0..=255u8 {
                    let mut s = vec![filler; 17];
                    s[pos] = v;
                    assert_eq!(plain_name(&s), slow(&s), "{s:?}");
                    assert_eq!(plain_name(&s[..pos + 1]), slow(&s[..pos + 1]), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn epoch_fast_agrees_with_parse_epoch() {
        for s in [
            "1795316000.001344",
            "1795316000",
            "1795316000.",
            "0.5",
            "1.123456789",
            "1.1234567891",
            "999999999999.999999999",
            "9223372036.854775807",
            "9223372037.0",
            "1234567890123.0",
            // more digits than any integer holds: no overflow, the full parser decides
            "99999999999999999999999999999999.5",
            "-1.5",
            ".5",
            "1e5",
            "12:00",
            "",
            "1..2",
            "١٢",
        ] {
            if let Some(t) = epoch_fast(s.as_bytes()) {
                assert_eq!(Some(t), Timestamp::parse_epoch(s), "{s}");
            }
        }
        assert!(epoch_fast(b"1795316000.001344").is_some());
        assert!(epoch_fast(b"9223372037.0").is_none());
    }
}
