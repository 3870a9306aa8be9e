//! Suricata EVE JSON: `dns` (v1: one event per query/answer record; v2:
//! answers grouped in `answers` / `grouped`; v3, Suricata 8: `queries` /
//! `answers` arrays with `type` request/response), `tls` (SNI), `http`
//! (hostname). Other event types (`flow`, `alert`, `fileinfo`, `stats`, …)
//! are skipped and counted by type.
//!
//! For DNS answers the client is `source.*`: when Suricata logged the
//! packet direction (server port 53/853/5353 as `src_port`), source and
//! destination are swapped.

use crate::error::{ErrorKind, LineError};
use crate::event::{DnsAnswer, DnsType, Event};
use crate::parse::{lower, normalize_name, parse_ip, upper, Outcome};
use crate::time::Timestamp;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Deserialize)]
struct Eve<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
    src_port: Option<u16>,
    #[serde(borrow)]
    dest_ip: Option<Cow<'a, str>>,
    dest_port: Option<u16>,
    #[serde(borrow)]
    proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dns: Option<EveDns<'a>>,
    #[serde(borrow)]
    tls: Option<EveTls<'a>>,
    #[serde(borrow)]
    http: Option<EveHttp<'a>>,
}

#[derive(Deserialize)]
struct EveDns<'a> {
    version: Option<u8>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    id: Option<u16>,
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rcode: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rdata: Option<Loose<'a>>,
    #[serde(borrow)]
    queries: Option<Vec<EveQuery<'a>>>,
    #[serde(borrow)]
    answers: Option<Vec<EveAnswer<'a>>>,
    #[serde(borrow)]
    grouped: Option<BTreeMap<Cow<'a, str>, Vec<Loose<'a>>>>,
}

#[derive(Deserialize)]
struct EveQuery<'a> {
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct EveAnswer<'a> {
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rdata: Option<Loose<'a>>,
}

#[derive(Deserialize)]
struct EveTls<'a> {
    #[serde(borrow)]
    sni: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct EveHttp<'a> {
    #[serde(borrow)]
    hostname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
    status: Option<u16>,
}

/// A JSON value kept when it is a string; numbers become text; objects
/// and arrays (SOA/SRV rdata) are ignored.
struct Loose<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Loose<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'a>, E> {
                Ok(Loose(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'a>, E> {
                Ok(Loose(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'a>, E> {
                Ok(Loose(Some(Cow::Owned(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose<'a>, E> {
                Ok(Loose(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose<'a>, E> {
                Ok(Loose(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose<'a>, E> {
                Ok(Loose(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'a>, E> {
                Ok(Loose(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose<'a>, E> {
                Ok(Loose(None))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Loose<'a>, M::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose(None))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Loose<'a>, S::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn is_dns_port(p: Option<u16>) -> bool {
    matches!(p, Some(53 | 853 | 5353 | 5355))
}

fn own_name(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(b) => normalize_name(b),
        Cow::Owned(o) => Cow::Owned(normalize_name(&o).into_owned()),
    }
}

fn own_upper(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(b) => upper(b),
        Cow::Owned(o) => Cow::Owned(o.to_ascii_uppercase()),
    }
}

pub(crate) fn parse(line: &str) -> Result<Outcome<'_>, LineError> {
    let e: Eve<'_> = serde_json::from_str(line).map_err(|e| LineError::new("json", ErrorKind::Json, format!("{e}")))?;
    let kind = e.event_type.as_deref().unwrap_or("");
    let dataset = match kind {
        "dns" => "suricata.dns",
        "tls" => "suricata.tls",
        "http" => "suricata.http",
        "" => return Err(LineError::new("event_type", ErrorKind::Json, "no event_type")),
        "flow" => return Ok(Outcome::Skip("suricata.flow")),
        "alert" => return Ok(Outcome::Skip("suricata.alert")),
        "fileinfo" => return Ok(Outcome::Skip("suricata.fileinfo")),
        "stats" => return Ok(Outcome::Skip("suricata.stats")),
        "anomaly" => return Ok(Outcome::Skip("suricata.anomaly")),
        "netflow" => return Ok(Outcome::Skip("suricata.netflow")),
        _ => return Ok(Outcome::Skip("suricata.other")),
    };
    let mut ev = Event::new(dataset, "ids", "suricata");
    let ts = e
        .timestamp
        .as_deref()
        .ok_or_else(|| LineError::truncated("timestamp"))?;
    ev.timestamp = Some(
        Timestamp::parse_rfc3339(ts, 0)
            .ok_or_else(|| LineError::new("timestamp", ErrorKind::Timestamp, "bad ISO 8601 time"))?,
    );
    if let Some(s) = &e.src_ip {
        ev.source_ip = Some(parse_ip("src_ip", s)?);
    }
    ev.source_port = e.src_port;
    if let Some(s) = &e.dest_ip {
        ev.destination_ip = Some(parse_ip("dest_ip", s)?);
    }
    ev.destination_port = e.dest_port;
    ev.transport = e.proto.map(|p| match p {
        Cow::Borrowed(b) => lower(b),
        Cow::Owned(o) => Cow::Owned(o.to_ascii_lowercase()),
    });
    match kind {
        "dns" => {
            let d = e
                .dns
                .ok_or_else(|| LineError::new("dns", ErrorKind::Json, "dns event without a dns object"))?;
            dns(&mut ev, d)?;
        }
        "tls" => ev.tls_server_name = e.tls.and_then(|t| t.sni).map(own_name),
        "http" => {
            if let Some(h) = e.http {
                ev.url_domain = h.hostname.map(own_name);
                ev.url_original = h.url;
                ev.http_status = h.status;
            }
        }
        _ => {}
    }
    Ok(Outcome::Event(ev))
}

fn dns<'a>(ev: &mut Event<'a>, d: EveDns<'a>) -> Result<(), LineError> {
    let kind = d.kind.as_deref().unwrap_or("");
    let is_answer = matches!(kind, "answer" | "response");
    if !is_answer && !matches!(kind, "query" | "request") {
        return Err(LineError::new(
            "dns.type",
            ErrorKind::Json,
            "dns.type is not query/answer/request/response",
        ));
    }
    ev.dns_type = Some(if is_answer { DnsType::Answer } else { DnsType::Query });
    ev.dns_id = d.id;
    if is_answer && is_dns_port(ev.source_port) && !is_dns_port(ev.destination_port) {
        std::mem::swap(&mut ev.source_ip, &mut ev.destination_ip);
        std::mem::swap(&mut ev.source_port, &mut ev.destination_port);
    }
    // v3 puts the question in `queries`; v1/v2 at the top level.
    let (name, qtype) = match d.queries.and_then(|q| q.into_iter().next()) {
        Some(q) => (q.rrname, q.rrtype),
        None => (d.rrname, d.rrtype.clone()),
    };
    ev.dns_question_name = name.map(own_name);
    ev.dns_response_code = d.rcode.map(own_upper);
    if d.version.unwrap_or(1) < 2 && is_answer {
        // v1: one record per event, in rrname/rrtype/rdata.
        if let Some(data) = d.rdata.and_then(|r| r.0) {
            ev.dns_answers.push(DnsAnswer {
                data,
                rtype: d.rrtype.clone(),
            });
        }
        ev.dns_question_type = d.rrtype;
        return Ok(());
    }
    ev.dns_question_type = qtype;
    if let Some(answers) = d.answers {
        for a in answers {
            if let Some(data) = a.rdata.and_then(|r| r.0) {
                ev.dns_answers.push(DnsAnswer { data, rtype: a.rrtype });
            }
        }
    } else if let Some(grouped) = d.grouped {
        for (rtype, items) in grouped {
            for data in items.into_iter().filter_map(|l| l.0) {
                ev.dns_answers.push(DnsAnswer {
                    data,
                    rtype: Some(rtype.clone()),
                });
            }
        }
    }
    Ok(())
}
