//! AdGuard Home `querylog.json` (one JSON object per line):
//!
//! ```text
//! {"IP":"127.0.0.1","T":"2020-11-25T18:55:56.519796+03:00","QH":"an.yandex.ru","QT":"A","QC":"IN","CP":"",
//!  "Answer":"Qz+BgAAB…","Result":{"IsFiltered":true,"Reason":3,"Rule":"||an.yandex.","FilterID":1},"Elapsed":837429}
//! ```
//!
//! `Answer` is the DNS response in wire format, base64: it is decoded with
//! hickory-proto to answer records and the response code. `Result.Reason`
//! 3–8 (block list, safe browsing, parental, invalid, safe search, blocked
//! service) or `IsFiltered` without a rewrite reason mean `blocked`.

use crate::error::{ErrorKind, LineError};
use crate::event::{Action, DnsAnswer, DnsType, Event};
use crate::parse::{normalize_name, parse_ip, Outcome};
use crate::time::Timestamp;
use base64::Engine as _;
use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "IP", borrow)]
    ip: Option<Cow<'a, str>>,
    #[serde(rename = "T", borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(rename = "QH", borrow)]
    qh: Option<Cow<'a, str>>,
    #[serde(rename = "QT", borrow)]
    qt: Option<Cow<'a, str>>,
    #[serde(rename = "CP", borrow)]
    cp: Option<Cow<'a, str>>,
    #[serde(rename = "ID", borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(rename = "Answer", borrow)]
    answer: Option<Cow<'a, str>>,
    #[serde(rename = "Result")]
    result: Option<FilterResult>,
}

#[derive(Deserialize, Default)]
struct FilterResult {
    #[serde(rename = "IsFiltered", default)]
    is_filtered: bool,
    #[serde(rename = "Reason", default)]
    reason: Option<serde_json::Value>,
    #[serde(rename = "Rule", default)]
    rule: Option<String>,
    #[serde(rename = "Rules", default)]
    rules: Option<Vec<RuleEntry>>,
    #[serde(rename = "ServiceName", default)]
    service: Option<String>,
}

#[derive(Deserialize)]
struct RuleEntry {
    #[serde(rename = "Text", default)]
    text: Option<String>,
}

/// AdGuard's `filtering.Reason` numbers (and names, for logs that write them).
fn reason_code(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => Some(match s.as_str() {
            "NotFilteredNotFound" => 0,
            "NotFilteredAllowList" | "NotFilteredWhiteList" => 1,
            "NotFilteredError" => 2,
            "FilteredBlockList" | "FilteredBlackList" => 3,
            "FilteredSafeBrowsing" => 4,
            "FilteredParental" => 5,
            "FilteredInvalid" => 6,
            "FilteredSafeSearch" => 7,
            "FilteredBlockedService" => 8,
            "Rewrite" | "Rewritten" => 9,
            "RewriteEtcHosts" | "RewrittenAutoHosts" => 10,
            "RewriteRule" | "RewrittenRule" => 11,
            _ => return None,
        }),
        _ => None,
    }
}

fn rcode_name(code: u16) -> Cow<'static, str> {
    Cow::Borrowed(match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        n => return Cow::Owned(format!("RCODE{n}")),
    })
}

pub(crate) fn parse(line: &str) -> Result<Outcome<'_>, LineError> {
    let e: Entry<'_> =
        serde_json::from_str(line).map_err(|e| LineError::new("json", ErrorKind::Json, format!("{e}")))?;
    let mut ev = Event::new("adguard.query", "dns", "adguard_home");
    let t = e.time.as_deref().ok_or_else(|| LineError::truncated("T"))?;
    ev.timestamp = Some(
        Timestamp::parse_rfc3339(t, 0).ok_or_else(|| LineError::new("T", ErrorKind::Timestamp, "bad RFC 3339 time"))?,
    );
    if let Some(ip) = &e.ip {
        ev.source_ip = Some(parse_ip("IP", ip)?);
    }
    let qh = e.qh.ok_or_else(|| LineError::truncated("QH"))?;
    ev.dns_question_name = Some(match qh {
        Cow::Borrowed(b) => normalize_name(b),
        Cow::Owned(o) => Cow::Owned(normalize_name(&o).into_owned()),
    });
    ev.dns_question_type = e.qt;
    ev.dns_type = Some(DnsType::Answer);
    ev.transport = e.cp.and_then(|cp| match cp.as_ref() {
        "" => None,
        "doh" => Some(Cow::Borrowed("doh")),
        "dot" => Some(Cow::Borrowed("dot")),
        "doq" => Some(Cow::Borrowed("doq")),
        _ => Some(cp),
    });
    if let Some(id) = e.client_id.filter(|s| !s.is_empty()) {
        ev.device_id = Some(id);
    }
    if let Some(b64) = e.answer.as_deref().filter(|s| !s.is_empty()) {
        let wire = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|err| LineError::new("Answer", ErrorKind::Base64, format!("{err}")))?;
        let msg =
            Message::from_vec(&wire).map_err(|err| LineError::new("Answer", ErrorKind::DnsWire, format!("{err}")))?;
        ev.dns_id = Some(msg.metadata.id);
        ev.dns_response_code = Some(rcode_name(u16::from(msg.metadata.response_code)));
        for r in &msg.answers {
            let data = match &r.data {
                RData::A(a) => a.0.to_string(),
                RData::AAAA(a) => a.0.to_string(),
                RData::CNAME(c) => normalize_name(&c.0.to_utf8()).into_owned(),
                RData::PTR(p) => normalize_name(&p.0.to_utf8()).into_owned(),
                other => other.to_string(),
            };
            ev.dns_answers.push(DnsAnswer {
                data: Cow::Owned(data),
                rtype: Some(Cow::Owned(r.record_type().to_string())),
            });
        }
    }
    let res = e.result.unwrap_or_default();
    let reason = res.reason.as_ref().and_then(reason_code);
    ev.action = match reason {
        Some(3..=8) => Action::Blocked,
        Some(9..=11) | Some(0..=2) => Action::Allowed,
        _ if res.is_filtered => Action::Blocked,
        _ => Action::Allowed,
    };
    let rule = res
        .rules
        .and_then(|r| r.into_iter().find_map(|x| x.text))
        .or(res.rule)
        .or(res.service);
    ev.rule_name = rule.filter(|r| !r.is_empty()).map(Cow::Owned);
    Ok(Outcome::Event(ev))
}
