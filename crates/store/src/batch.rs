//! The query log's on-disk batch encoding.
//!
//! A batch holds up to a few thousand events as one BLOB: a string table
//! (group, qname, rule, app, category and upstream values, each stored once)
//! followed by the events, every field a varint or a string-table index.
//! Encoding costs about as much as building the event; SQLite then stores
//! one row per batch instead of one per query.
//!
//! ```text
//! batch   = version(1) base_ms(varint) nstrings(varint) string* nevents(varint) event*
//! string  = len(varint) utf8
//! event   = dt_ms(varint) ipver(1: 4|6) addr(4|16) group(vs) qname(vs) qtype(varint)
//!           decision(1) reason(1, 0=none) rule(vs+1) app(vs+1) category(vs+1)
//!           rcode(1) upstream(vs+1) latency_us(varint) flags(1: bit0 cache hit, bits1-2 transport)
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::{MatchReason, QueryDecision, QueryEvent, Transport};

const VERSION: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Builds one batch.
#[derive(Default)]
pub struct BatchEncoder {
    /// The string table as it is written (length varint, bytes), in id order.
    strtab: Vec<u8>,
    nstrings: u32,
    /// Each string once: (offset of its bytes in `strtab`, length, id).
    index: HashTable<(u32, u32, u32)>,
    hasher: FxBuildHasher,
    events: Vec<u8>,
    count: u32,
    base_ms: u64,
    last_ms: u64,
    clients: FxHashMap<IpAddr, u32>,
    apps: FxHashMap<Arc<str>, u32>,
    /// The last few shared strings seen in this batch, with their ids.
    recent_arcs: [Option<(Arc<str>, u32)>; 4],
    /// The client of the latest events and how many in a row, not yet in `clients`
    /// (queries come in runs from one client; the map is touched once per run).
    run: Option<(IpAddr, u32)>,
}

impl BatchEncoder {
    /// The id of `s` in this batch's string table, adding it if new (no allocation per string).
    fn sid(&mut self, s: &str) -> u32 {
        self.sid_bytes(s.as_bytes())
    }

    /// [`BatchEncoder::sid`] for a shared string (group, app, category,
    /// upstream): the last few are remembered by address, so the same `Arc`
    /// is not hashed again for every event.
    fn sid_arc(&mut self, s: &Arc<str>) -> u32 {
        if let Some((_, id)) = self.recent_arcs.iter().flatten().find(|(a, _)| Arc::ptr_eq(a, s)) {
            return *id;
        }
        let id = self.sid_bytes(s.as_bytes());
        self.recent_arcs.rotate_right(1);
        // the clone keeps the string alive, so its address cannot be reused by another while remembered
        self.recent_arcs[0] = Some((s.clone(), id));
        id
    }

    fn opt_arc(&mut self, s: Option<&Arc<str>>) -> u64 {
        s.map_or(0, |s| u64::from(self.sid_arc(s)) + 1)
    }

    fn sid_bytes(&mut self, s: &[u8]) -> u32 {
        let h = self.hasher.hash_one(s);
        let tab = &self.strtab;
        if let Some(&(_, _, id)) = self.index.find(h, |&(o, l, _)| &tab[o as usize..(o + l) as usize] == s) {
            return id;
        }
        let id = self.nstrings;
        self.nstrings += 1;
        put_varint(&mut self.strtab, s.len() as u64);
        let off = self.strtab.len() as u32;
        self.strtab.extend_from_slice(s);
        let (tab, hasher) = (&self.strtab, &self.hasher);
        self.index.insert_unique(h, (off, s.len() as u32, id), |&(o, l, _)| {
            hasher.hash_one(&tab[o as usize..(o + l) as usize])
        });
        id
    }

    fn opt(&mut self, s: Option<&str>) -> u64 {
        s.map_or(0, |s| u64::from(self.sid(s)) + 1)
    }

    /// Events so far.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds an event.
    pub fn push(&mut self, e: &QueryEvent) {
        if self.count == 0 {
            self.base_ms = e.time_ms;
            self.last_ms = e.time_ms;
        }
        self.last_ms = self.last_ms.max(e.time_ms);
        match &mut self.run {
            Some((c, n)) if *c == e.client => *n += 1,
            run => {
                if let Some((c, n)) = run.replace((e.client, 1)) {
                    *self.clients.entry(c).or_insert(0) += n;
                }
            }
        }
        if let Some(a) = &e.app {
            *self.apps.entry(a.clone()).or_insert(0) += 1;
        }
        let g = self.sid_arc(&e.group);
        let q = self.sid(&e.qname);
        let rule = self.opt(e.rule.as_deref());
        let app = self.opt_arc(e.app.as_ref());
        let cat = self.opt_arc(e.category.as_ref());
        let up = self.opt_arc(e.upstream.as_ref());
        let out = &mut self.events;
        put_varint(out, e.time_ms.saturating_sub(self.base_ms));
        match e.client {
            IpAddr::V4(a) => {
                out.push(4);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.push(6);
                out.extend_from_slice(&a.octets());
            }
        }
        put_varint(out, u64::from(g));
        put_varint(out, u64::from(q));
        put_varint(out, u64::from(e.qtype));
        out.push(match e.decision {
            QueryDecision::Allowed => 0,
            QueryDecision::Blocked => 1,
            QueryDecision::WouldBlock => 2,
        });
        out.push(match e.reason {
            None => 0,
            Some(MatchReason::Name) => 1,
            Some(MatchReason::Cname) => 2,
            Some(MatchReason::Ip) => 3,
            Some(MatchReason::Bypass) => 4,
            Some(MatchReason::AllowRule) => 5,
        });
        put_varint(out, rule);
        put_varint(out, app);
        put_varint(out, cat);
        out.push(e.rcode);
        put_varint(out, up);
        put_varint(out, u64::from(e.latency_us));
        let transport = match e.transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
            Transport::Https => 3,
        };
        out.push(u8::from(e.cache_hit) | (transport << 1));
        self.count += 1;
    }

    /// Finishes: (first_ms, last_ms, count, blob, per-client counts, per-app counts). Resets the encoder.
    pub fn finish(&mut self) -> EncodedBatch {
        if let Some((c, n)) = self.run.take() {
            *self.clients.entry(c).or_insert(0) += n;
        }
        let mut blob = Vec::with_capacity(self.events.len() + self.strtab.len() + 32);
        blob.push(VERSION);
        put_varint(&mut blob, self.base_ms);
        put_varint(&mut blob, u64::from(self.nstrings));
        blob.extend_from_slice(&self.strtab);
        put_varint(&mut blob, u64::from(self.count));
        blob.extend_from_slice(&self.events);
        let batch = EncodedBatch {
            first_ms: self.base_ms,
            last_ms: self.last_ms,
            count: self.count,
            blob,
            clients: self.clients.drain().collect(),
            apps: self.apps.drain().collect(),
        };
        self.strtab.clear();
        self.nstrings = 0;
        self.index.clear();
        // ids are per batch
        self.recent_arcs = Default::default();
        self.events.clear();
        self.count = 0;
        batch
    }
}

/// A batch ready to store.
pub struct EncodedBatch {
    /// Earliest event time (ms).
    pub first_ms: u64,
    /// Latest event time (ms).
    pub last_ms: u64,
    /// Events.
    pub count: u32,
    /// The encoded events.
    pub blob: Vec<u8>,
    /// Events per client.
    pub clients: Vec<(IpAddr, u32)>,
    /// Events per app.
    pub apps: Vec<(Arc<str>, u32)>,
}

/// Decodes a batch; `None` if it is damaged (a damaged batch never stops reading others).
pub fn decode(blob: &[u8]) -> Option<Vec<QueryEvent>> {
    let mut i = 0;
    if *blob.first()? != VERSION {
        return None;
    }
    i += 1;
    let base = get_varint(blob, &mut i)?;
    let n = get_varint(blob, &mut i)? as usize;
    if n > blob.len() {
        return None;
    }
    let mut strings: Vec<Arc<str>> = Vec::with_capacity(n);
    for _ in 0..n {
        let len = get_varint(blob, &mut i)? as usize;
        let s = std::str::from_utf8(blob.get(i..i.checked_add(len)?)?).ok()?;
        strings.push(Arc::from(s));
        i += len;
    }
    let count = get_varint(blob, &mut i)? as usize;
    if count > blob.len() {
        return None;
    }
    let s = |idx: u64| strings.get(idx as usize).cloned();
    let opt = |idx: u64| {
        if idx == 0 {
            Some(None)
        } else {
            strings.get(idx as usize - 1).cloned().map(Some)
        }
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let time_ms = base.checked_add(get_varint(blob, &mut i)?)?;
        let client = match *blob.get(i)? {
            4 => {
                let o: [u8; 4] = blob.get(i + 1..i + 5)?.try_into().ok()?;
                i += 5;
                IpAddr::from(o)
            }
            6 => {
                let o: [u8; 16] = blob.get(i + 1..i + 17)?.try_into().ok()?;
                i += 17;
                IpAddr::from(o)
            }
            _ => return None,
        };
        let group = s(get_varint(blob, &mut i)?)?;
        let qname = s(get_varint(blob, &mut i)?)?.to_string();
        let qtype = u16::try_from(get_varint(blob, &mut i)?).ok()?;
        let decision = match *blob.get(i)? {
            0 => QueryDecision::Allowed,
            1 => QueryDecision::Blocked,
            2 => QueryDecision::WouldBlock,
            _ => return None,
        };
        let reason = match *blob.get(i + 1)? {
            0 => None,
            1 => Some(MatchReason::Name),
            2 => Some(MatchReason::Cname),
            3 => Some(MatchReason::Ip),
            4 => Some(MatchReason::Bypass),
            5 => Some(MatchReason::AllowRule),
            _ => return None,
        };
        i += 2;
        let rule = opt(get_varint(blob, &mut i)?)?.map(|r| r.to_string());
        let app = opt(get_varint(blob, &mut i)?)?;
        let category = opt(get_varint(blob, &mut i)?)?;
        let rcode = *blob.get(i)?;
        i += 1;
        let upstream = opt(get_varint(blob, &mut i)?)?;
        let latency_us = u32::try_from(get_varint(blob, &mut i)?).ok()?;
        let flags = *blob.get(i)?;
        i += 1;
        let transport = match (flags >> 1) & 3 {
            0 => Transport::Udp,
            1 => Transport::Tcp,
            2 => Transport::Tls,
            _ => Transport::Https,
        };
        out.push(QueryEvent {
            time_ms,
            client,
            group,
            qname,
            qtype,
            decision,
            reason,
            rule,
            app,
            category,
            rcode,
            upstream,
            latency_us,
            cache_hit: flags & 1 != 0,
            transport,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event(i: u64) -> QueryEvent {
        QueryEvent {
            time_ms: 1_800_000_000_000 + i,
            client: if i % 2 == 0 {
                IpAddr::from([192, 0, 2, (i % 250) as u8])
            } else {
                "2001:db8::7".parse().expect("ip")
            },
            group: "corporate".into(),
            qname: format!("n{}.tiktok.com", i % 7),
            qtype: 28,
            decision: if i % 3 == 0 {
                QueryDecision::Blocked
            } else {
                QueryDecision::Allowed
            },
            reason: (i % 3 == 0).then_some(MatchReason::Cname),
            rule: (i % 3 == 0).then(|| "cname:v16.tiktokv.com.edgesuite.net".to_string()),
            app: (i % 3 == 0).then(|| Arc::from("tiktok")),
            category: (i % 3 == 0).then(|| Arc::from("social-video")),
            rcode: 3,
            upstream: (i % 5 == 0).then(|| Arc::from("198.51.100.53:53")),
            latency_us: (i * 977) as u32,
            cache_hit: i % 4 == 0,
            transport: if i % 2 == 0 { Transport::Udp } else { Transport::Https },
        }
    }

    #[test]
    fn round_trips() {
        let mut enc = BatchEncoder::default();
        let events: Vec<QueryEvent> = (0..500).map(event).collect();
        for e in &events {
            enc.push(e);
        }
        let b = enc.finish();
        assert_eq!(b.count, 500);
        assert_eq!(decode(&b.blob).expect("decodes"), events);
        assert!(b.blob.len() < 500 * 30, "compact: {} bytes", b.blob.len());
        assert!(enc.is_empty());
    }

    /// Per-client counts are right whether a client's queries come in runs
    /// or interleaved, and across batches.
    #[test]
    fn counts_clients_in_runs_and_interleaved() {
        let ips: Vec<IpAddr> = ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
            .iter()
            .map(|s| s.parse().expect("ip"))
            .collect();
        let mut enc = BatchEncoder::default();
        let mut x: u32 = 3;
        for round in 0..3 {
            let mut want: std::collections::HashMap<IpAddr, u32> = Default::default();
            for i in 0..300u64 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                // runs of random length from random clients
                let c = ips[if round == 0 {
                    (i % 3) as usize
                } else {
                    ((x >> 20) % 3) as usize
                }];
                let run = if round == 2 { 1 + (x >> 8) % 5 } else { 1 };
                for _ in 0..run {
                    enc.push(&QueryEvent { client: c, ..event(i) });
                    *want.entry(c).or_insert(0) += 1;
                }
            }
            let mut got: std::collections::HashMap<IpAddr, u32> = Default::default();
            for (c, n) in enc.finish().clients {
                assert!(got.insert(c, n).is_none(), "one row per client");
            }
            assert_eq!(got, want, "round {round}");
        }
    }

    #[test]
    fn shared_strings_are_interned_per_batch() {
        // the same Arcs across batches, and more distinct Arcs than the encoder remembers
        let groups: Vec<Arc<str>> = ["corporate", "byod", "guest", "lab", "kiosk", "staff"]
            .into_iter()
            .map(Arc::from)
            .collect();
        let ups: Vec<Arc<str>> = vec![Arc::from("198.51.100.53:53"), Arc::from("198.51.100.54:53")];
        let mut enc = BatchEncoder::default();
        for round in 0..3u64 {
            let events: Vec<QueryEvent> = (0..40u64)
                .map(|i| {
                    let j = i + round * 7;
                    QueryEvent {
                        group: groups[(j % 6) as usize].clone(),
                        upstream: Some(ups[(j % 2) as usize].clone()),
                        // equal text in a different Arc
                        category: Some(Arc::from(if j % 2 == 0 { "social-video" } else { "messaging" })),
                        ..event(j)
                    }
                })
                .collect();
            // a batch that starts with strings the previous batch ended with
            for e in &events {
                enc.push(e);
            }
            let b = enc.finish();
            assert_eq!(decode(&b.blob).expect("decodes"), events, "round {round}");
        }
    }

    #[test]
    fn damaged_batches_are_refused_not_panicked_on() {
        let mut enc = BatchEncoder::default();
        for i in 0..50 {
            enc.push(&event(i));
        }
        let blob = enc.finish().blob;
        for cut in 0..blob.len() {
            let _ = decode(&blob[..cut]);
        }
        let mut x: u32 = 7;
        for _ in 0..2000 {
            let mut b = blob.clone();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = (x as usize >> 8) % b.len();
            b[at] ^= (x >> 3) as u8 | 1;
            let _ = decode(&b);
        }
    }
}
