//! Zeek logs: `dns`, `ssl`, `conn` and `http`, as TSV (read through the
//! `#separator` / `#set_separator` / `#empty_field` / `#unset_field` /
//! `#path` / `#fields` header) or as JSON lines.
//!
//! btest baselines mask times as `XXXXXXXXXX.XXXXXX`; such events get no
//! `@timestamp` and are counted in [`crate::ParseStats::masked_timestamps`].

use crate::error::{snippet, ErrorKind, LineError};
use crate::event::{DnsAnswer, DnsType, Event};
use crate::parse::{for_each_byte, infer_rtype, lower, normalize_name, parse_ip, parse_port, Outcome};
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
}

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
        }
    }

    pub(crate) fn parse<'a>(&mut self, line: &'a str) -> Result<Outcome<'a>, LineError> {
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
            return Ok(Outcome::Skip("zeek.other_log"));
        }
        let mut v: [&str; NSLOTS] = [""; NSLOTS];
        let mut have = [false; NSLOTS];
        let b = line.as_bytes();
        let mut start = 0;
        let mut col = 0usize;
        let cols = &self.cols[..];
        let ncols = cols.len();
        // the separator is ASCII (the header's value is one byte of a UTF-8 string): slicing is safe
        let mut field_end = |end: usize| {
            if let Some(&slot) = cols.get(col) {
                if slot != NONE {
                    v[slot as usize] = &line[start..end];
                    have[slot as usize] = true;
                }
            }
            col += 1;
            start = end + 1;
        };
        for_each_byte(b, self.sep, &mut field_end);
        field_end(b.len());
        if col != ncols {
            return Err(LineError::new(
                "#fields",
                ErrorKind::FieldCount,
                format!("{col} fields, header has {ncols}"),
            ));
        }
        let get = |i: usize| -> Option<&'a str> {
            let s = v[i];
            if !have[i] || s == self.unset {
                None
            } else {
                Some(s)
            }
        };
        let mut ev = Event::new(log.dataset(), "ids", "zeek");
        if let Some(ts) = get(TS) {
            ev.timestamp = zeek_ts_text(ts)?;
        }
        if let Some(s) = get(ORIG_H) {
            ev.source_ip = Some(parse_ip("id.orig_h", s)?);
        }
        if let Some(s) = get(ORIG_P) {
            ev.source_port = Some(parse_port("id.orig_p", s)?);
        }
        if let Some(s) = get(RESP_H) {
            ev.destination_ip = Some(parse_ip("id.resp_h", s)?);
        }
        if let Some(s) = get(RESP_P) {
            ev.destination_port = Some(parse_port("id.resp_p", s)?);
        }
        ev.transport = get(PROTO).map(lower);
        match log {
            ZeekLog::Dns => {
                if let Some(s) = get(TRANS_ID) {
                    ev.dns_id = Some(s.parse().map_err(|_| {
                        LineError::new("trans_id", ErrorKind::Number, format!("bad id {}", snippet(s)))
                    })?);
                }
                ev.dns_question_name = get(QUERY).map(|q| unescape_name(q));
                ev.dns_question_type = get(QTYPE_NAME).map(Cow::Borrowed);
                ev.dns_response_code = get(RCODE_NAME).map(Cow::Borrowed);
                ev.dns_type = Some(if ev.dns_response_code.is_some() {
                    DnsType::Answer
                } else {
                    DnsType::Query
                });
                if let Some(a) = get(ANSWERS) {
                    if a != self.empty {
                        for item in a.split(|c: char| c as u32 == u32::from(self.set_sep)) {
                            let data = unescape(item);
                            let rtype = answer_type(&data, ev.dns_question_type.as_deref());
                            ev.dns_answers.push(DnsAnswer { data, rtype });
                        }
                    }
                }
            }
            ZeekLog::Ssl => ev.tls_server_name = get(SERVER_NAME).map(|s| unescape_name(s)),
            ZeekLog::Http => ev.url_domain = get(HOST).map(|h| host_only(h)),
            ZeekLog::Conn | ZeekLog::Other => {}
        }
        Ok(Outcome::Event(ev))
    }

    pub(crate) fn header<'a>(&mut self, line: &'a str) -> Result<Outcome<'a>, LineError> {
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
            return Ok(Outcome::Skip("zeek.header"));
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
                if self.cols.is_empty() {
                    return Err(LineError::new("#fields", ErrorKind::Header, "empty #fields"));
                }
            }
            _ => {}
        }
        Ok(Outcome::Skip("zeek.header"))
    }
}

/// Zeek TSV time: epoch seconds with fraction; `XXXXXXXXXX.XXXXXX` (btest) → None.
fn zeek_ts_text(s: &str) -> Result<Option<Timestamp>, LineError> {
    if s.bytes().all(|b| b == b'X' || b == b'.') {
        return Ok(None);
    }
    Timestamp::parse_epoch(s)
        .map(Some)
        .ok_or_else(|| LineError::new("ts", ErrorKind::Timestamp, format!("bad time {}", snippet(s))))
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

fn unescape_name(s: &str) -> Cow<'_, str> {
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
fn answer_type<'a>(data: &str, qtype: Option<&str>) -> Option<Cow<'a, str>> {
    let fallback = match qtype {
        Some("A" | "AAAA" | "HTTPS" | "SVCB") => Some(Cow::Borrowed("CNAME")),
        Some(q) => Some(Cow::Owned(q.to_owned())),
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
                    let rtype = answer_type(&data, ev.dns_question_type.as_deref());
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
