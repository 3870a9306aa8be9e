//! The DNS wire format on the hot path: reading a query's header and
//! question, walking a response's records, and writing synthesized answers,
//! without decoding a whole message. Anything unusual (several questions,
//! compressed query names, non-QUERY opcodes) is reported as [`Unusual`]
//! and handled by the slow path through `hickory-proto`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Record types the fast path knows by number.
pub mod rtype {
    /// A.
    pub const A: u16 = 1;
    /// NS.
    pub const NS: u16 = 2;
    /// CNAME.
    pub const CNAME: u16 = 5;
    /// SOA.
    pub const SOA: u16 = 6;
    /// AAAA.
    pub const AAAA: u16 = 28;
    /// OPT (EDNS).
    pub const OPT: u16 = 41;
    /// SVCB.
    pub const SVCB: u16 = 64;
    /// HTTPS.
    pub const HTTPS: u16 = 65;
    /// ANY.
    pub const ANY: u16 = 255;
    /// HINFO (RFC 8482 answer to ANY).
    pub const HINFO: u16 = 13;
}

/// Response codes.
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// Format error.
    pub const FORMERR: u8 = 1;
    /// Server failure.
    pub const SERVFAIL: u8 = 2;
    /// Name does not exist.
    pub const NXDOMAIN: u8 = 3;
    /// Not implemented.
    pub const NOTIMP: u8 = 4;
    /// Refused.
    pub const REFUSED: u8 = 5;
}

/// Why a packet is not a plain query the fast path can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusual {
    /// Shorter than a header, or a length field runs past the end: drop it.
    Truncated,
    /// It is a response (QR set): drop it.
    NotAQuery,
    /// Opcode other than QUERY.
    Opcode(u8),
    /// Not exactly one question.
    QuestionCount(u16),
    /// A label is longer than 63 octets, a name longer than 255, or a compression pointer in the question.
    BadName,
    /// Answer/authority records, or additional records other than one OPT.
    ExtraRecords,
}

/// EDNS(0) options of a query (RFC 6891).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size.
    pub udp_size: u16,
    /// DNSSEC OK bit.
    pub do_bit: bool,
    /// EDNS version (only 0 is understood).
    pub version: u8,
}

/// A parsed query: borrowed from the packet.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The packet.
    pub packet: &'a [u8],
    /// Message id.
    pub id: u16,
    /// Recursion desired.
    pub rd: bool,
    /// Checking disabled.
    pub cd: bool,
    /// Authentic data requested.
    pub ad: bool,
    /// The question name in wire form, as sent (case preserved), with its final zero octet.
    pub qname_wire: &'a [u8],
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// Offset just past the question.
    pub question_end: usize,
    /// EDNS, if an OPT record was sent.
    pub edns: Option<Edns>,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}

/// Parses a query's header, question and optional OPT record.
pub fn parse_query(packet: &[u8]) -> Result<Query<'_>, Unusual> {
    if packet.len() < 12 {
        return Err(Unusual::Truncated);
    }
    let flags = u16_at(packet, 2).ok_or(Unusual::Truncated)?;
    if flags & 0x8000 != 0 {
        return Err(Unusual::NotAQuery);
    }
    let opcode = ((flags >> 11) & 0x0f) as u8;
    if opcode != 0 {
        return Err(Unusual::Opcode(opcode));
    }
    let qd = u16_at(packet, 4).ok_or(Unusual::Truncated)?;
    if qd != 1 {
        return Err(Unusual::QuestionCount(qd));
    }
    let an = u16_at(packet, 6).ok_or(Unusual::Truncated)?;
    let ns = u16_at(packet, 8).ok_or(Unusual::Truncated)?;
    let ar = u16_at(packet, 10).ok_or(Unusual::Truncated)?;
    if an != 0 || ns != 0 || ar > 1 {
        return Err(Unusual::ExtraRecords);
    }
    let mut i = 12;
    loop {
        let len = *packet.get(i).ok_or(Unusual::Truncated)? as usize;
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 != 0 || len > 63 {
            return Err(Unusual::BadName);
        }
        i += 1 + len;
        if i - 12 > 255 {
            return Err(Unusual::BadName);
        }
    }
    if i > packet.len() {
        return Err(Unusual::Truncated);
    }
    let qname_wire = &packet[12..i];
    let qtype = u16_at(packet, i).ok_or(Unusual::Truncated)?;
    let qclass = u16_at(packet, i + 2).ok_or(Unusual::Truncated)?;
    let question_end = i + 4;
    let mut edns = None;
    if ar == 1 {
        // OPT: root name (0), type 41, class = udp size, ttl = ext rcode|version|DO|Z, rdlen, rdata
        let j = question_end;
        if packet.get(j) != Some(&0) || u16_at(packet, j + 1) != Some(rtype::OPT) {
            return Err(Unusual::ExtraRecords);
        }
        let udp_size = u16_at(packet, j + 3).ok_or(Unusual::Truncated)?;
        let ttl = u32_at(packet, j + 5).ok_or(Unusual::Truncated)?;
        let rdlen = u16_at(packet, j + 9).ok_or(Unusual::Truncated)? as usize;
        if j + 11 + rdlen > packet.len() {
            return Err(Unusual::Truncated);
        }
        edns = Some(Edns {
            udp_size,
            do_bit: ttl & 0x8000 != 0,
            version: ((ttl >> 16) & 0xff) as u8,
        });
    }
    Ok(Query {
        packet,
        id: u16_at(packet, 0).unwrap_or(0),
        rd: flags & 0x0100 != 0,
        cd: flags & 0x0010 != 0,
        ad: flags & 0x0020 != 0,
        qname_wire,
        qtype,
        qclass,
        question_end,
        edns,
    })
}

/// Writes the dotted, lowercase form of a wire name into `out` (cleared
/// first) and returns whether the name can be matched against rules (no
/// label holds a `.` or a byte outside printable ASCII, which are written
/// as `?`). The root is "".
pub fn dotted_lower(wire: &[u8], out: &mut String) -> bool {
    let mut key = [0u8; MAX_NAME];
    name_forms(wire, &mut key, out).1
}

/// Longest wire name a query may carry (RFC 1035: 255 octets), plus room for one more.
pub const MAX_NAME: usize = 256;

/// Both forms of a query name in one pass: the lowercase wire form (the
/// cache key) into `key`, returning its length (at most [`MAX_NAME`]), and
/// the dotted lowercase form into `dotted` with its "matchable" flag, as
/// [`dotted_lower`] describes.
pub fn name_forms(wire: &[u8], key: &mut [u8; MAX_NAME], dotted: &mut String) -> (usize, bool) {
    dotted.clear();
    let n = wire.len().min(MAX_NAME);
    // length octets are below 64, so lowercasing leaves them alone
    for (d, s) in key.iter_mut().zip(&wire[..n]) {
        *d = s.to_ascii_lowercase();
    }
    let lowered = &key[..n];
    // lengths come from the wire as sent (a malformed length octet of 64 or
    // more would not survive lowercasing)
    let raw = &wire[..n];
    let mut i = 0;
    let end = loop {
        let Some(&len) = raw.get(i) else {
            break i;
        };
        if len == 0 {
            break i;
        }
        let next = i + 1 + usize::from(len);
        if next > n {
            // a label running past the end: the careful path
            return (n, dotted_slow(raw, dotted));
        }
        i = next;
    };
    if end == 0 {
        return (n, true);
    }
    // the dotted form is the wire form without its first length octet, the
    // other length octets turned into dots; written into the string's own buffer
    let mut text = std::mem::take(dotted).into_bytes();
    text.extend_from_slice(&lowered[1..end]);
    let plain = |b: &u8| b != &b'.' && (0x21..0x7f).contains(b);
    let mut matchable = true;
    let mut i = 0;
    while i < end {
        // the label at raw[i + 1..] is at text[i..]
        let len = usize::from(raw[i]);
        let label = &mut text[i..i + len];
        if !label.iter().all(plain) {
            matchable = false;
            for b in label.iter_mut().filter(|b| !plain(b)) {
                *b = b'?';
            }
        }
        if i > 0 {
            text[i - 1] = b'.';
        }
        i += 1 + len;
    }
    // every byte is printable ASCII now
    *dotted = String::from_utf8(text).unwrap_or_default();
    (n, matchable)
}

/// [`name_forms`]' dotted form byte by byte, for names whose last label
/// runs past the end (a label that does not fit is left out).
fn dotted_slow(raw: &[u8], dotted: &mut String) -> bool {
    let mut matchable = true;
    let mut i = 0;
    while let Some(&len) = raw.get(i) {
        let len = usize::from(len);
        if len == 0 {
            break;
        }
        if i > 0 {
            dotted.push('.');
        }
        for &b in raw.get(i + 1..i + 1 + len).unwrap_or(&[]) {
            let b = b.to_ascii_lowercase();
            let plain = b != b'.' && (0x21..0x7f).contains(&b);
            matchable &= plain;
            dotted.push(if plain { char::from(b) } else { '?' });
        }
        i += 1 + len;
    }
    matchable
}

/// Appends the lowercase wire form of a name (for cache keys).
pub fn lower_wire_into(wire: &[u8], out: &mut Vec<u8>) {
    out.extend(wire.iter().map(u8::to_ascii_lowercase));
}

/// Encodes a dotted name (no trailing dot) in wire form; `None` if a label is empty or too long.
pub fn encode_name(dotted: &str, out: &mut Vec<u8>) -> Option<()> {
    if !dotted.is_empty() {
        for label in dotted.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    Some(())
}

/// Reads a possibly compressed name starting at `at` into dotted lowercase
/// form. Returns the offset after the name in the record (not after a
/// pointer's target). Bounded: at most 128 pointer hops and 255 octets.
pub fn read_name(msg: &[u8], at: usize, out: &mut String) -> Option<usize> {
    out.clear();
    let mut i = at;
    let mut end = None;
    let mut hops = 0;
    let mut total = 0usize;
    loop {
        let len = *msg.get(i)? as usize;
        if len & 0xc0 == 0xc0 {
            let target = ((len & 0x3f) << 8) | *msg.get(i + 1)? as usize;
            if end.is_none() {
                end = Some(i + 2);
            }
            hops += 1;
            if hops > 128 || target >= msg.len() {
                return None;
            }
            i = target;
            continue;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        if len == 0 {
            return Some(end.unwrap_or(i + 1));
        }
        total += len + 1;
        if total > 255 {
            return None;
        }
        if !out.is_empty() {
            out.push('.');
        }
        for &b in msg.get(i + 1..i + 1 + len)? {
            out.push(if (0x21..0x7f).contains(&b) && b != b'.' {
                b.to_ascii_lowercase() as char
            } else {
                '?'
            });
        }
        i += 1 + len;
    }
}

fn skip_name(msg: &[u8], mut i: usize) -> Option<usize> {
    let mut n = 0;
    loop {
        let len = *msg.get(i)? as usize;
        if len & 0xc0 == 0xc0 {
            msg.get(i + 1)?;
            return Some(i + 2);
        }
        if len & 0xc0 != 0 {
            return None;
        }
        if len == 0 {
            return Some(i + 1);
        }
        i += 1 + len;
        n += 1;
        if n > 128 {
            return None;
        }
    }
}

/// One resource record found while walking a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    /// Section: 0 answer, 1 authority, 2 additional.
    pub section: u8,
    /// Offset of the owner name.
    pub name_at: usize,
    /// Type.
    pub rtype: u16,
    /// Offset of the TTL field.
    pub ttl_at: usize,
    /// TTL.
    pub ttl: u32,
    /// Offset of the rdata.
    pub rdata_at: usize,
    /// Length of the rdata.
    pub rdata_len: usize,
}

/// A response's header facts and records.
#[derive(Debug, Clone, Default)]
pub struct ResponseShape {
    /// Response code (low 4 bits).
    pub rcode: u8,
    /// Truncated flag.
    pub tc: bool,
    /// Offset after the question section.
    pub question_end: usize,
    /// Records in order.
    pub records: Vec<RecordRef>,
}

/// Walks a response: header, question, and every record's position. `None`
/// for a malformed message.
pub fn walk_response(msg: &[u8]) -> Option<ResponseShape> {
    if msg.len() < 12 {
        return None;
    }
    let flags = u16_at(msg, 2)?;
    let qd = u16_at(msg, 4)? as usize;
    let counts = [
        u16_at(msg, 6)? as usize,
        u16_at(msg, 8)? as usize,
        u16_at(msg, 10)? as usize,
    ];
    if qd > 1 || counts.iter().sum::<usize>() > 4096 {
        return None;
    }
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(msg, i)? + 4;
    }
    if i > msg.len() {
        return None;
    }
    let question_end = i;
    let mut records = Vec::with_capacity(counts.iter().sum());
    for (section, &n) in counts.iter().enumerate() {
        for _ in 0..n {
            let name_at = i;
            i = skip_name(msg, i)?;
            let rtype = u16_at(msg, i)?;
            let ttl_at = i + 4;
            let ttl = u32_at(msg, ttl_at)?;
            let rdata_len = u16_at(msg, i + 8)? as usize;
            let rdata_at = i + 10;
            if rdata_at + rdata_len > msg.len() {
                return None;
            }
            records.push(RecordRef {
                section: section as u8,
                name_at,
                rtype,
                ttl_at,
                ttl,
                rdata_at,
                rdata_len,
            });
            i = rdata_at + rdata_len;
        }
    }
    Some(ResponseShape {
        rcode: (flags & 0x0f) as u8,
        tc: flags & 0x0200 != 0,
        question_end,
        records,
    })
}

/// The smallest TTL of a response's records (OPT excluded), for HTTP
/// caching of DoH answers; `None` without records or for a malformed message.
pub fn min_ttl(msg: &[u8]) -> Option<u32> {
    walk_response(msg)?
        .records
        .iter()
        .filter(|r| r.rtype != 41)
        .map(|r| r.ttl)
        .min()
}

/// What a blocked answer looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockedAnswer {
    /// NXDOMAIN with an SOA in the authority section (negative caching for `ttl`).
    Nxdomain,
    /// NOERROR with no answer and an SOA (NODATA).
    Nodata,
    /// `0.0.0.0` for A, `::` for AAAA, NODATA for other types.
    NullIp,
    /// REFUSED, no records.
    Refused,
    /// A fixed address (a block page) for A / AAAA, NODATA otherwise.
    Ip(Option<Ipv4Addr>, Option<Ipv6Addr>),
}

/// Builds a response header + the query's question (as sent) + optional OPT echo.
fn start_response(q: &Query<'_>, rcode: u8, aa: bool, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    let mut flags: u16 = 0x8000 | 0x0080; // QR, RA
    if q.rd {
        flags |= 0x0100;
    }
    if q.cd {
        flags |= 0x0010;
    }
    if aa {
        flags |= 0x0400;
    }
    flags |= u16::from(rcode & 0x0f);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&q.packet[12..q.question_end]);
}

fn set_counts(out: &mut [u8], an: u16, ns: u16, ar: u16) {
    out[6..8].copy_from_slice(&an.to_be_bytes());
    out[8..10].copy_from_slice(&ns.to_be_bytes());
    out[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// Appends an OPT record advertising `udp_size`, echoing DO.
pub fn push_opt(out: &mut Vec<u8>, udp_size: u16, do_bit: bool) {
    out.push(0);
    out.extend_from_slice(&rtype::OPT.to_be_bytes());
    out.extend_from_slice(&udp_size.to_be_bytes());
    out.extend_from_slice(&[0, 0, if do_bit { 0x80 } else { 0 }, 0]);
    out.extend_from_slice(&[0, 0]);
}

/// Offset (from the start of the message) of the question name's suffix that
/// has `labels_from_end` labels, as a compression pointer target.
fn suffix_offset(q: &Query<'_>, keep_labels: usize) -> usize {
    // count labels, then walk to the one that starts the suffix
    let mut n = 0;
    let mut i = 0;
    while let Some(&len) = q.qname_wire.get(i) {
        if len == 0 {
            break;
        }
        n += 1;
        i += 1 + len as usize;
    }
    let skip = n - keep_labels.min(n);
    let mut j = 0;
    for _ in 0..skip {
        j += 1 + q.qname_wire.get(j).copied().unwrap_or(0) as usize;
    }
    12 + j
}

/// Appends an SOA record owned by a suffix of the question name (the rule's
/// domain: `zone_labels` labels from the end), TTL and MINIMUM `ttl`.
fn push_soa(q: &Query<'_>, zone_labels: usize, ttl: u32, out: &mut Vec<u8>) {
    let owner = suffix_offset(q, zone_labels);
    out.extend_from_slice(&(0xc000u16 | owner as u16).to_be_bytes());
    out.extend_from_slice(&rtype::SOA.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let start = out.len();
    // MNAME blocked.appwarden.invalid, RNAME hostmaster.appwarden.invalid
    out.extend_from_slice(b"\x07blocked\x09appwarden\x07invalid\x00");
    out.extend_from_slice(b"\x0ahostmaster\x09appwarden\x07invalid\x00");
    for v in [1u32, 3600, 600, 86400, ttl] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let len = (out.len() - start) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}

/// Writes the answer to a blocked query. `zone_labels` is how many labels of
/// the rule's domain the question name ends with (the SOA owner).
pub fn blocked_response(q: &Query<'_>, mode: BlockedAnswer, zone_labels: usize, ttl: u32, out: &mut Vec<u8>) {
    let (rcode, answer): (u8, Option<Vec<u8>>) = match mode {
        BlockedAnswer::Nxdomain => (rcode::NXDOMAIN, None),
        BlockedAnswer::Nodata => (rcode::NOERROR, None),
        BlockedAnswer::Refused => (rcode::REFUSED, None),
        BlockedAnswer::NullIp => match q.qtype {
            rtype::A => (rcode::NOERROR, Some(vec![0, 0, 0, 0])),
            rtype::AAAA => (rcode::NOERROR, Some(vec![0; 16])),
            _ => (rcode::NOERROR, None),
        },
        BlockedAnswer::Ip(v4, v6) => match (q.qtype, v4, v6) {
            (rtype::A, Some(a), _) => (rcode::NOERROR, Some(a.octets().to_vec())),
            (rtype::AAAA, _, Some(a)) => (rcode::NOERROR, Some(a.octets().to_vec())),
            _ => (rcode::NOERROR, None),
        },
    };
    start_response(q, rcode, false, out);
    let mut an = 0;
    let mut ns = 0;
    if let Some(rdata) = answer {
        out.extend_from_slice(&0xc00cu16.to_be_bytes());
        out.extend_from_slice(&q.qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
        an = 1;
    } else if mode != BlockedAnswer::Refused {
        push_soa(q, zone_labels, ttl, out);
        ns = 1;
    }
    let mut ar = 0;
    if let Some(e) = q.edns {
        push_opt(out, 1232, e.do_bit);
        ar = 1;
    }
    set_counts(out, an, ns, ar);
}

/// Writes a bare response with `rcode` (SERVFAIL, FORMERR, NOTIMP, REFUSED).
pub fn error_response(q: &Query<'_>, rcode: u8, out: &mut Vec<u8>) {
    start_response(q, rcode, false, out);
    let mut ar = 0;
    if let Some(e) = q.edns {
        push_opt(out, 1232, e.do_bit);
        ar = 1;
    }
    set_counts(out, 0, 0, ar);
}

/// RFC 8482: a minimal answer to ANY — one synthesized HINFO "RFC8482".
pub fn any_response(q: &Query<'_>, ttl: u32, out: &mut Vec<u8>) {
    start_response(q, rcode::NOERROR, false, out);
    out.extend_from_slice(&0xc00cu16.to_be_bytes());
    out.extend_from_slice(&rtype::HINFO.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&9u16.to_be_bytes());
    out.extend_from_slice(b"\x07RFC8482\x00");
    let mut ar = 0;
    if let Some(e) = q.edns {
        push_opt(out, 1232, e.do_bit);
        ar = 1;
    }
    set_counts(out, 1, 0, ar);
}

/// Header-only error response for a packet whose question could not be read
/// (FORMERR), when at least the id is known. `None` if not even 12 octets.
pub fn formerr_for(packet: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let id = packet.get(0..2)?;
    let flags = u16_at(packet, 2)?;
    if flags & 0x8000 != 0 {
        return None; // never answer a response
    }
    out.clear();
    out.extend_from_slice(id);
    let opcode_rd = flags & 0x7900;
    out.extend_from_slice(&(0x8000 | opcode_rd | u16::from(rcode::FORMERR)).to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    Some(())
}

/// Truncates a response to fit `limit` octets over UDP: header + question
/// (+ OPT if the query had EDNS), TC set. Returns whether it truncated.
pub fn truncate_for_udp(resp: &mut Vec<u8>, q: &Query<'_>, limit: usize) -> bool {
    if resp.len() <= limit {
        return false;
    }
    resp.truncate(q.question_end.min(resp.len()));
    if resp.len() >= 4 {
        resp[2] |= 0x02; // TC
    }
    let ar = if let Some(e) = q.edns {
        push_opt(resp, 1232, e.do_bit);
        1
    } else {
        0
    };
    if resp.len() >= 12 {
        set_counts(resp, 0, 0, ar);
    }
    true
}

/// The UDP payload limit for answering `q` (RFC 6891: the requestor's size, at least 512, at most `cap`).
pub fn udp_limit(q: &Query<'_>, cap: u16) -> usize {
    match q.edns {
        Some(e) => usize::from(e.udp_size.clamp(512, cap.max(512))),
        None => 512,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, if edns { 1 } else { 0 }];
        encode_name(name, &mut p).expect("name");
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        if edns {
            push_opt(&mut p, 4096, true);
        }
        p
    }

    #[test]
    fn parses_a_plain_query() {
        let p = query("WwW.TikTok.com", rtype::AAAA, true);
        let q = parse_query(&p).expect("query");
        assert_eq!(q.id, 0x1234);
        assert!(q.rd);
        assert_eq!(q.qtype, rtype::AAAA);
        assert_eq!(
            q.edns,
            Some(Edns {
                udp_size: 4096,
                do_bit: true,
                version: 0
            })
        );
        let mut s = String::new();
        assert!(dotted_lower(q.qname_wire, &mut s));
        assert_eq!(s, "www.tiktok.com");
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(parse_query(&[0; 5]).err(), Some(Unusual::Truncated));
        let mut p = query("a.com", 1, false);
        p[2] |= 0x80;
        assert_eq!(parse_query(&p).err(), Some(Unusual::NotAQuery));
        let mut p = query("a.com", 1, false);
        p[12] = 0xc0; // compression pointer in the question
        assert_eq!(parse_query(&p).err(), Some(Unusual::BadName));
        let p = query("a.com", 1, false);
        for cut in 0..p.len() {
            let _ = parse_query(&p[..cut]);
        }
        // a compression loop in a response
        let mut r = vec![0, 0, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        let shape = walk_response(&r).expect("walkable");
        let mut s = String::new();
        assert_eq!(
            read_name(&r, shape.records[0].name_at, &mut s),
            None,
            "a pointer to itself is a loop"
        );
    }

    #[test]
    fn blocked_nxdomain_is_well_formed() {
        let p = query("www.tiktok.com", rtype::A, true);
        let q = parse_query(&p).expect("query");
        let mut out = Vec::new();
        blocked_response(&q, BlockedAnswer::Nxdomain, 2, 300, &mut out);
        let msg = hickory_proto::op::Message::from_vec(&out).expect("hickory parses it");
        assert_eq!(msg.metadata.response_code, hickory_proto::op::ResponseCode::NXDomain);
        assert_eq!(msg.metadata.id, 0x1234);
        let soa = &msg.authorities[0];
        assert_eq!(soa.name.to_ascii(), "tiktok.com.");
        assert_eq!(soa.ttl, 300);
        assert!(msg.edns.is_some());
    }

    #[test]
    fn null_ip_and_truncation() {
        let p = query("x.tiktok.com", rtype::AAAA, false);
        let q = parse_query(&p).expect("query");
        let mut out = Vec::new();
        blocked_response(&q, BlockedAnswer::NullIp, 2, 60, &mut out);
        let msg = hickory_proto::op::Message::from_vec(&out).expect("parses");
        assert_eq!(msg.answers.len(), 1);
        let mut big = out.clone();
        big.resize(600, 0);
        assert!(truncate_for_udp(&mut big, &q, 512));
        let msg = hickory_proto::op::Message::from_vec(&big).expect("parses");
        assert!(msg.metadata.truncation);
        assert!(msg.answers.is_empty());
    }

    /// The straightforward per-character form that `name_forms` replaced.
    fn dotted_reference(wire: &[u8], out: &mut String) -> bool {
        out.clear();
        let mut i = 0;
        let mut matchable = true;
        while let Some(&len) = wire.get(i) {
            let len = len as usize;
            if len == 0 {
                break;
            }
            if !out.is_empty() {
                out.push('.');
            }
            for &b in wire.get(i + 1..i + 1 + len).unwrap_or(&[]) {
                if b == b'.' || !(0x21..0x7f).contains(&b) {
                    matchable = false;
                    out.push('?');
                } else {
                    out.push(b.to_ascii_lowercase() as char);
                }
            }
            i += 1 + len;
        }
        matchable
    }

    proptest::proptest! {
        #[test]
        fn name_forms_match_the_reference(
            labels in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20), 0..12),
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            use_raw in proptest::prelude::any::<bool>(),
        ) {
            // well-formed names with arbitrary label bytes, or arbitrary bytes
            let wire: Vec<u8> = if use_raw {
                raw
            } else {
                let mut w = Vec::new();
                for l in &labels {
                    w.push(l.len() as u8);
                    w.extend_from_slice(l);
                }
                w.push(0);
                w
            };
            let wire = &wire[..wire.len().min(255)];
            let (mut want, mut got) = (String::new(), String::from("left over"));
            let want_ok = dotted_reference(wire, &mut want);
            let mut key = [0u8; MAX_NAME];
            let (n, ok) = name_forms(wire, &mut key, &mut got);
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(ok, want_ok);
            proptest::prop_assert_eq!(n, wire.len());
            let lower: Vec<u8> = wire.iter().map(u8::to_ascii_lowercase).collect();
            proptest::prop_assert_eq!(&key[..n], &lower[..]);
        }
    }
}
