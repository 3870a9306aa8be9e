//! Blocky's CSV query log (`queryLog.type: csv` / `csv-client`): one
//! tab-separated record per line, written by Go's `encoding/csv` (fields
//! with tabs or quotes are double-quoted):
//!
//! ```text
//! time (2006-01-02 15:04:05, local) · client IP · client names ("; "-joined) · duration ms ·
//! reason · question name · answer ("A (1.2.3.4), CNAME (x.)") · response code ·
//! response type (RESOLVED, CACHED, BLOCKED, …) · question type · [blocky instance]
//! ```
//!
//! Response type `BLOCKED` means `blocked`; the reason (e.g. `BLOCKED (ads)`) becomes `rule.name`.

use crate::error::{snippet, ErrorKind, LineError};
use crate::event::{Action, DnsAnswer, DnsType, Event};
use crate::parse::{normalize_name, parse_ip, Ctx, Outcome};
use crate::time::Timestamp;
use std::borrow::Cow;

/// Splits one record on tabs, honouring Go csv quoting. Fields borrow unless
/// they contained doubled quotes.
fn fields(line: &str) -> Result<Vec<Cow<'_, str>>, LineError> {
    let mut out = Vec::with_capacity(11);
    let mut rest = line;
    loop {
        if let Some(r) = rest.strip_prefix('"') {
            let mut val = String::new();
            let mut i = 0;
            let b = r.as_bytes();
            let mut closed = None;
            while i < b.len() {
                if b[i] == b'"' {
                    if b.get(i + 1) == Some(&b'"') {
                        val.push('"');
                        i += 2;
                        continue;
                    }
                    closed = Some(i);
                    break;
                }
                let ch_len = r[i..].chars().next().map_or(1, char::len_utf8);
                val.push_str(&r[i..i + ch_len]);
                i += ch_len;
            }
            let end = closed.ok_or_else(|| LineError::new("csv", ErrorKind::Syntax, "unterminated quoted field"))?;
            out.push(Cow::Owned(val));
            let after = &r[end + 1..];
            if after.is_empty() {
                break;
            }
            rest = after
                .strip_prefix('\t')
                .ok_or_else(|| LineError::new("csv", ErrorKind::Syntax, "text after a closing quote"))?;
        } else {
            match memchr::memchr(b'\t', rest.as_bytes()) {
                Some(i) => {
                    out.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + 1..];
                }
                None => {
                    out.push(Cow::Borrowed(rest));
                    break;
                }
            }
        }
    }
    Ok(out)
}

pub(crate) fn parse<'a>(line: &'a str, ctx: &Ctx) -> Result<Outcome<'a>, LineError> {
    let mut f = fields(line)?;
    if f.len() != 10 && f.len() != 11 {
        return Err(LineError::new(
            "csv",
            ErrorKind::FieldCount,
            format!("{} fields, want 10 or 11", f.len()),
        ));
    }
    let mut ev = Event::new("blocky.query", "dns", "blocky");
    ev.timestamp = Some(
        Timestamp::parse_rfc3339(&f[0], ctx.utc_offset)
            .ok_or_else(|| LineError::new("time", ErrorKind::Timestamp, format!("bad time {}", snippet(&f[0]))))?,
    );
    ev.source_ip = Some(parse_ip("client.ip", &f[1])?);
    let names = std::mem::take(&mut f[2]);
    if !names.is_empty() && names != "-" {
        ev.host_name = Some(match names {
            Cow::Borrowed(b) => Cow::Borrowed(b.split("; ").next().unwrap_or(b)),
            Cow::Owned(o) => Cow::Owned(o.split("; ").next().unwrap_or("").to_owned()),
        });
    }
    f[3].parse::<i64>().map_err(|_| {
        LineError::new(
            "duration",
            ErrorKind::Number,
            format!("bad duration {}", snippet(&f[3])),
        )
    })?;
    let reason = std::mem::take(&mut f[4]);
    let qname = std::mem::take(&mut f[5]);
    if qname.is_empty() {
        return Err(LineError::truncated("question"));
    }
    ev.dns_question_name = Some(match qname {
        Cow::Borrowed(b) => normalize_name(b),
        Cow::Owned(o) => Cow::Owned(normalize_name(&o).into_owned()),
    });
    let answer = std::mem::take(&mut f[6]);
    let rcode = std::mem::take(&mut f[7]);
    let rtype = std::mem::take(&mut f[8]);
    let qtype = std::mem::take(&mut f[9]);
    ev.dns_type = Some(DnsType::Answer);
    ev.dns_response_code = (!rcode.is_empty()).then_some(rcode);
    ev.dns_question_type = (!qtype.is_empty()).then_some(qtype);
    answers(&mut ev, answer);
    ev.action = match rtype.as_ref() {
        "BLOCKED" => Action::Blocked,
        "" => Action::Unknown,
        _ => Action::Allowed,
    };
    if !reason.is_empty() {
        ev.rule_name = Some(reason);
    }
    Ok(Outcome::Event(ev))
}

/// `A (1.2.3.4), CNAME (x.example.)` → answers.
fn answers<'a>(ev: &mut Event<'a>, answer: Cow<'a, str>) {
    let push = |item: &str| -> Option<(String, String)> {
        let (t, rest) = item.trim().split_once(" (")?;
        let data = rest.strip_suffix(')')?;
        Some((t.to_owned(), data.to_owned()))
    };
    for item in answer.split(", ") {
        if let Some((t, data)) = push(item) {
            let data = if t == "CNAME" || t == "PTR" {
                normalize_name(&data).into_owned()
            } else {
                data
            };
            ev.dns_answers.push(DnsAnswer {
                data: Cow::Owned(data),
                rtype: Some(Cow::Owned(t)),
            });
        }
    }
}
