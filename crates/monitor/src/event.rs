//! The normalised event every parser produces, with ECS-style field names.

use crate::time::Timestamp;
use serde::Serialize;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// What the sensor did with the request, as far as its log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// Answered or forwarded normally.
    Allowed,
    /// Refused, sinkholed, rewritten by policy, or denied by the proxy.
    Blocked,
    /// The log does not say (passive sensors, query-only lines).
    #[default]
    Unknown,
}

/// Whether a DNS event records the question or the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DnsType {
    /// The client's query.
    Query,
    /// The server's answer (or the outcome of the query).
    Answer,
}

/// One resource record of a DNS answer (`dns.answers[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer<'a> {
    /// Record data as text: an address, a target name, …
    pub data: Cow<'a, str>,
    /// Record type (`A`, `AAAA`, `CNAME`, …) when known.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub rtype: Option<Cow<'a, str>>,
}

impl DnsAnswer<'_> {
    /// Detaches the answer from the line buffer it borrows from.
    pub fn into_owned(self) -> DnsAnswer<'static> {
        DnsAnswer {
            data: Cow::Owned(self.data.into_owned()),
            rtype: own(self.rtype),
        }
    }
}

/// Where the raw record lives, so an alert can link back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Origin {
    /// File the line came from, when the reader was told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's first byte in the file.
    pub offset: u64,
}

/// A normalised network/DNS/proxy event. Borrows from the line it was parsed
/// from; call [`Event::into_owned`] to keep it beyond the next line.
///
/// Serialises (serde) to flat ECS-style keys: `@timestamp`, `source.ip`,
/// `dns.question.name`, … Empty fields are omitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Event<'a> {
    /// When the sensor saw it. `None` only when the log masks it (Zeek btest baselines).
    #[serde(rename = "@timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// `<product>.<log>`, e.g. `zeek.dns`, `bind.query`, `squid.access`.
    #[serde(rename = "event.dataset")]
    pub dataset: &'static str,
    /// allowed / blocked / unknown.
    #[serde(rename = "event.action")]
    pub action: Action,
    /// The client (the DNS client, the TLS client, the proxy user).
    #[serde(rename = "source.ip", skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    /// Client port.
    #[serde(rename = "source.port", skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    /// The server / upstream / resolver address.
    #[serde(rename = "destination.ip", skip_serializing_if = "Option::is_none")]
    pub destination_ip: Option<IpAddr>,
    /// Server port (from the flow, or the proxy's CONNECT host:port).
    #[serde(rename = "destination.port", skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
    /// Device identity, filled by [`crate::IdentityResolver::enrich`].
    #[serde(rename = "device.id", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Cow<'a, str>>,
    /// Client host name when the log or the identity data names it.
    #[serde(rename = "host.name", skip_serializing_if = "Option::is_none")]
    pub host_name: Option<Cow<'a, str>>,
    /// User, from the proxy log or the identity data.
    #[serde(rename = "user.name", skip_serializing_if = "Option::is_none")]
    pub user_name: Option<Cow<'a, str>>,
    /// query / answer for DNS events.
    #[serde(rename = "dns.type", skip_serializing_if = "Option::is_none")]
    pub dns_type: Option<DnsType>,
    /// DNS message id when logged.
    #[serde(rename = "dns.id", skip_serializing_if = "Option::is_none")]
    pub dns_id: Option<u16>,
    /// Lower-cased, no trailing dot.
    #[serde(rename = "dns.question.name", skip_serializing_if = "Option::is_none")]
    pub dns_question_name: Option<Cow<'a, str>>,
    /// `A`, `AAAA`, `HTTPS`, …
    #[serde(rename = "dns.question.type", skip_serializing_if = "Option::is_none")]
    pub dns_question_type: Option<Cow<'a, str>>,
    /// Answer records.
    #[serde(rename = "dns.answers", skip_serializing_if = "Vec::is_empty")]
    pub dns_answers: Vec<DnsAnswer<'a>>,
    /// `NOERROR`, `NXDOMAIN`, `REFUSED`, …
    #[serde(rename = "dns.response_code", skip_serializing_if = "Option::is_none")]
    pub dns_response_code: Option<Cow<'a, str>>,
    /// TLS SNI.
    #[serde(rename = "tls.client.server_name", skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<Cow<'a, str>>,
    /// Host of a proxied or HTTP request (lower-cased).
    #[serde(rename = "url.domain", skip_serializing_if = "Option::is_none")]
    pub url_domain: Option<Cow<'a, str>>,
    /// The URL (or CONNECT target) as logged.
    #[serde(rename = "url.original", skip_serializing_if = "Option::is_none")]
    pub url_original: Option<Cow<'a, str>>,
    /// HTTP status from a proxy/HTTP log.
    #[serde(rename = "http.response.status_code", skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// `udp`, `tcp`, … lower-cased.
    #[serde(rename = "network.transport", skip_serializing_if = "Option::is_none")]
    pub transport: Option<Cow<'a, str>>,
    /// What decided the action: the filter rule, local-zone, list or proxy code.
    #[serde(rename = "rule.name", skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<Cow<'a, str>>,
    /// The sensor's kind: `dns`, `ids`, `proxy`.
    #[serde(rename = "observer.type")]
    pub observer_type: &'static str,
    /// The sensor's product: `bind`, `unbound`, `zeek`, …
    #[serde(rename = "observer.product")]
    pub observer_product: &'static str,
    /// Reference to the raw record (file, line, byte offset).
    #[serde(rename = "event.original")]
    pub original: Origin,
}

impl<'a> Event<'a> {
    /// An empty event from the given sensor; parsers fill in the rest.
    pub fn new(dataset: &'static str, observer_type: &'static str, observer_product: &'static str) -> Self {
        Event {
            timestamp: None,
            dataset,
            action: Action::Unknown,
            source_ip: None,
            source_port: None,
            destination_ip: None,
            destination_port: None,
            device_id: None,
            host_name: None,
            user_name: None,
            dns_type: None,
            dns_id: None,
            dns_question_name: None,
            dns_question_type: None,
            dns_answers: Vec::new(),
            dns_response_code: None,
            tls_server_name: None,
            url_domain: None,
            url_original: None,
            http_status: None,
            transport: None,
            rule_name: None,
            observer_type,
            observer_product,
            original: Origin::default(),
        }
    }

    /// Makes this an empty event from the given sensor, as [`Event::new`],
    /// keeping the answers' allocation and the origin's file (for parsers
    /// that fill one event per line in place).
    pub(crate) fn reset(&mut self, dataset: &'static str, observer_type: &'static str, observer_product: &'static str) {
        // field by field, in place (every field is named: a new one must be reset here too)
        let Event {
            timestamp,
            dataset: ds,
            action,
            source_ip,
            source_port,
            destination_ip,
            destination_port,
            device_id,
            host_name,
            user_name,
            dns_type,
            dns_id,
            dns_question_name,
            dns_question_type,
            dns_answers,
            dns_response_code,
            tls_server_name,
            url_domain,
            url_original,
            http_status,
            transport,
            rule_name,
            observer_type: ot,
            observer_product: op,
            original: Origin { file: _, line, offset },
        } = self;
        *timestamp = None;
        *ds = dataset;
        *action = Action::Unknown;
        *source_ip = None;
        *source_port = None;
        *destination_ip = None;
        *destination_port = None;
        for c in [
            device_id,
            host_name,
            user_name,
            dns_question_name,
            dns_question_type,
            dns_response_code,
            tls_server_name,
            url_domain,
            url_original,
            transport,
            rule_name,
        ] {
            *c = None;
        }
        *dns_type = None;
        *dns_id = None;
        dns_answers.clear();
        *http_status = None;
        *ot = observer_type;
        *op = observer_product;
        *line = 0;
        *offset = 0;
    }

    /// Copies every borrowed field so the event outlives the line buffer.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            timestamp: self.timestamp,
            dataset: self.dataset,
            action: self.action,
            source_ip: self.source_ip,
            source_port: self.source_port,
            destination_ip: self.destination_ip,
            destination_port: self.destination_port,
            device_id: own(self.device_id),
            host_name: own(self.host_name),
            user_name: own(self.user_name),
            dns_type: self.dns_type,
            dns_id: self.dns_id,
            dns_question_name: own(self.dns_question_name),
            dns_question_type: own(self.dns_question_type),
            dns_answers: self.dns_answers.into_iter().map(DnsAnswer::into_owned).collect(),
            dns_response_code: own(self.dns_response_code),
            tls_server_name: own(self.tls_server_name),
            url_domain: own(self.url_domain),
            url_original: own(self.url_original),
            http_status: self.http_status,
            transport: own(self.transport),
            rule_name: own(self.rule_name),
            observer_type: self.observer_type,
            observer_product: self.observer_product,
            original: self.original,
        }
    }

    /// Every domain name the event carries (question, CNAME-like answers, SNI,
    /// URL host), for matching against a blocked-domain index.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.dns_question_name
            .as_deref()
            .into_iter()
            .chain(self.tls_server_name.as_deref())
            .chain(self.url_domain.as_deref())
            .chain(
                self.dns_answers
                    .iter()
                    .filter(|a| a.data.parse::<IpAddr>().is_err())
                    .map(|a| a.data.as_ref()),
            )
    }
}

fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    c.map(|c| Cow::Owned(c.into_owned()))
}
