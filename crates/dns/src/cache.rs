//! The answer cache: upstream responses in wire form, keyed by lowercase
//! name, type, class and the EDNS/DO/CD bits; served with the message id
//! and the client's question case patched in and TTLs aged. Positive and
//! negative (RFC 2308) caching, bounded in bytes (second-chance eviction),
//! optional serve-stale (RFC 8767) and prefetch of names about to expire.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::wire::{self, Query, rcode, rtype};

/// Cache settings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Memory budget for cached answers, in MiB. Default 64; 0 disables the cache.
    pub max_mib: usize,
    /// Lowest TTL kept (seconds). Default 0.
    pub min_ttl: u32,
    /// Highest TTL kept (seconds). Default 86400.
    pub max_ttl: u32,
    /// Highest TTL for negative answers (seconds). Default 3600.
    pub max_negative_ttl: u32,
    /// Serve expired answers for up to this many seconds while refreshing (RFC 8767). Default 0 (off).
    pub serve_stale_secs: u32,
    /// Refresh popular names shortly before they expire. Default false.
    pub prefetch: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_mib: 64,
            min_ttl: 0,
            max_ttl: 86400,
            max_negative_ttl: 3600,
            serve_stale_secs: 0,
            prefetch: false,
        }
    }
}

/// Cache key: lowercase wire name, type, class, and the EDNS/DO/CD bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    name: Box<[u8]>,
    qtype: u16,
    qclass: u16,
    /// bit 0: EDNS present, 1: DO, 2: CD
    flags: u8,
}

fn hash_key<H: Hasher>(name: &[u8], qtype: u16, qclass: u16, flags: u8, state: &mut H) {
    state.write(name);
    state.write_u16(qtype);
    state.write_u16(qclass);
    state.write_u8(flags);
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(&self.name, self.qtype, self.qclass, self.flags, state);
    }
}

/// A borrowed cache key (lookups without allocating).
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    name: &'a [u8],
    qtype: u16,
    qclass: u16,
    flags: u8,
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key(self.name, self.qtype, self.qclass, self.flags, state);
    }
}

impl KeyRef<'_> {
    fn hash64(&self) -> u64 {
        FxBuildHasher.hash_one(self)
    }
}

fn flags_of(q: &Query<'_>) -> u8 {
    u8::from(q.edns.is_some()) | (u8::from(q.edns.is_some_and(|e| e.do_bit)) << 1) | (u8::from(q.cd) << 2)
}

impl<'a> KeyRef<'a> {
    /// The key for `q`, its lowercase name written into `buf`.
    pub fn of(q: &Query<'_>, buf: &'a mut [u8; 256]) -> KeyRef<'a> {
        let n = q.qname_wire.len().min(256);
        for (d, s) in buf.iter_mut().zip(&q.qname_wire[..n]) {
            *d = s.to_ascii_lowercase();
        }
        KeyRef {
            name: &buf[..n],
            qtype: q.qtype,
            qclass: q.qclass,
            flags: flags_of(q),
        }
    }

    /// The key for `q` from its name already lowercased in wire form
    /// (see [`wire::name_forms`]).
    pub fn lowered(name: &'a [u8], q: &Query<'_>) -> KeyRef<'a> {
        KeyRef {
            name,
            qtype: q.qtype,
            qclass: q.qclass,
            flags: flags_of(q),
        }
    }

    /// An owned key.
    pub fn to_owned(self) -> CacheKey {
        CacheKey {
            name: self.name.into(),
            qtype: self.qtype,
            qclass: self.qclass,
            flags: self.flags,
        }
    }
}

impl CacheKey {
    /// The key for a query.
    pub fn of(q: &Query<'_>) -> CacheKey {
        let mut buf = [0u8; 256];
        KeyRef::of(q, &mut buf).to_owned()
    }

    /// The borrowed form.
    pub fn as_key_ref(&self) -> KeyRef<'_> {
        KeyRef {
            name: &self.name,
            qtype: self.qtype,
            qclass: self.qclass,
            flags: self.flags,
        }
    }
}

/// Names and addresses in an answer, for CNAME-chain and response-IP checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// CNAME targets in the answer section (dotted, lowercase).
    pub cnames: Vec<String>,
    /// A/AAAA addresses and HTTPS/SVCB ipv4hint/ipv6hint addresses.
    pub ips: Vec<IpAddr>,
}

impl Facts {
    /// Reads the facts out of a response.
    pub fn of(msg: &[u8], shape: &wire::ResponseShape) -> Facts {
        let mut f = Facts::default();
        let mut name = String::new();
        for r in shape.records.iter().filter(|r| r.section == 0) {
            let rdata = &msg[r.rdata_at..r.rdata_at + r.rdata_len];
            match r.rtype {
                rtype::CNAME if wire::read_name(msg, r.rdata_at, &mut name).is_some() => {
                    f.cnames.push(name.clone());
                }
                rtype::A if rdata.len() == 4 => {
                    f.ips.push(IpAddr::from([rdata[0], rdata[1], rdata[2], rdata[3]]));
                }
                rtype::AAAA if rdata.len() == 16 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(rdata);
                    f.ips.push(IpAddr::from(o));
                }
                rtype::HTTPS | rtype::SVCB => svcb_hints(rdata, &mut f.ips),
                _ => {}
            }
        }
        f
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.cnames.is_empty() && self.ips.is_empty()
    }
}

/// Addresses from an SVCB/HTTPS rdata's ipv4hint (key 4) and ipv6hint (key 6).
fn svcb_hints(rdata: &[u8], out: &mut Vec<IpAddr>) {
    // priority(2) target(uncompressed name) params…
    let mut i = 2;
    loop {
        let Some(&len) = rdata.get(i) else { return };
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return;
        }
        i += 1 + len as usize;
    }
    while i + 4 <= rdata.len() {
        let key = u16::from_be_bytes([rdata[i], rdata[i + 1]]);
        let len = u16::from_be_bytes([rdata[i + 2], rdata[i + 3]]) as usize;
        let Some(val) = rdata.get(i + 4..i + 4 + len) else {
            return;
        };
        match key {
            4 => out.extend(val.chunks_exact(4).map(|c| IpAddr::from([c[0], c[1], c[2], c[3]]))),
            6 => out.extend(val.chunks_exact(16).map(|c| {
                let mut o = [0u8; 16];
                o.copy_from_slice(c);
                IpAddr::from(o)
            })),
            _ => {}
        }
        i += 4 + len;
    }
}

/// One cached answer. Everything a hit reads sits in the slot itself or in
/// `data`, one allocation: the key's name, the response, then the offsets
/// of its TTL fields. A hit touches the table's control bytes, the slot and
/// `data`, and compares names only when the full 64-bit hashes agree.
struct Slot {
    hash: u64,
    /// name ++ response (id zeroed) ++ TTL offsets (u16 little-endian each)
    data: Box<[u8]>,
    name_len: u16,
    wire_len: u16,
    qtype: u16,
    qclass: u16,
    flags: u8,
    visited: bool,
    prefetching: bool,
    ttl: u32,
    hits: u32,
    stored: Instant,
    facts: Option<Arc<Facts>>,
    /// (matcher generation, groups checked, groups blocked)
    verdict: (u64, u64, u64),
}

impl Slot {
    fn is(&self, hash: u64, k: &KeyRef<'_>) -> bool {
        self.hash == hash
            && self.qtype == k.qtype
            && self.qclass == k.qclass
            && self.flags == k.flags
            && &self.data[..usize::from(self.name_len)] == k.name
    }

    fn wire(&self) -> &[u8] {
        let start = usize::from(self.name_len);
        &self.data[start..start + usize::from(self.wire_len)]
    }

    fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.data[usize::from(self.name_len) + usize::from(self.wire_len)..]
            .chunks_exact(2)
            .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
    }

    /// Bytes charged against the budget (the slot, its data, its queue key).
    fn bytes(&self) -> usize {
        self.data.len() + usize::from(self.name_len) + std::mem::size_of::<Slot>() + 48
    }
}

/// How a cached answer was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Within its TTL.
    Fresh,
    /// Within its TTL but due for a prefetch.
    Prefetch,
    /// Expired, served stale (RFC 8767): refresh it.
    Stale,
}

/// A cache hit, written into the caller's buffer.
pub struct Hit {
    /// How fresh.
    pub freshness: Freshness,
    /// Facts to check: None when there is nothing to check for this
    /// caller (no CNAME and no address rules, inspection not wanted, or the
    /// memo already says the answer passes).
    pub facts: Option<Arc<Facts>>,
    /// Memoised verdict for the asking group: Some(blocked?) if already checked at this generation.
    pub memo: Option<bool>,
    /// Response code of the cached answer.
    pub rcode: u8,
}

struct Inner {
    map: HashTable<Slot>,
    /// Insertion order for second-chance eviction: (hash, key).
    queue: VecDeque<(u64, CacheKey)>,
    bytes: usize,
}

impl Inner {
    fn find_mut(&mut self, hash: u64, k: &KeyRef<'_>) -> Option<&mut Slot> {
        self.map.find_mut(hash, |s| s.is(hash, k))
    }
}

/// What the caller will check in a hit's facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// Inspect the answer at all (false when an allow rule matched the name).
    pub inspect: bool,
    /// The asking group has address rules (else only CNAME targets matter).
    pub ip_rules: bool,
}

impl Wanted {
    /// Everything: CNAME targets and addresses.
    pub const ALL: Wanted = Wanted {
        inspect: true,
        ip_rules: true,
    };
}

/// The cache. Cheap to share (`Arc<Cache>`); one short lock per operation.
pub struct Cache {
    cfg: CacheConfig,
    inner: Mutex<Inner>,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries.
    pub entries: usize,
    /// Bytes accounted.
    pub bytes: usize,
}

impl Cache {
    /// A cache with `cfg`.
    pub fn new(cfg: CacheConfig) -> Cache {
        Cache {
            cfg,
            inner: Mutex::new(Inner {
                map: HashTable::new(),
                queue: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    fn budget(&self) -> usize {
        self.cfg.max_mib.saturating_mul(1024 * 1024)
    }

    /// Looks `q` up; on a hit writes the response for `q` into `out`.
    pub fn get(&self, key: KeyRef<'_>, q: &Query<'_>, generation: u64, group: usize, out: &mut Vec<u8>) -> Option<Hit> {
        self.get_at(Instant::now(), key, q, generation, group, Wanted::ALL, out)
    }

    /// [`Cache::get`] with the time of the query's arrival (read once per
    /// batch of datagrams) and what the caller will inspect: the facts are
    /// handed out (a reference count taken) only when there is something to
    /// check.
    #[allow(clippy::too_many_arguments)]
    pub fn get_at(
        &self,
        now: Instant,
        key: KeyRef<'_>,
        q: &Query<'_>,
        generation: u64,
        group: usize,
        wanted: Wanted,
        out: &mut Vec<u8>,
    ) -> Option<Hit> {
        if self.cfg.max_mib == 0 {
            return None;
        }
        let hash = key.hash64();
        let mut inner = self.inner.lock().ok()?;
        let e = inner.find_mut(hash, &key)?;
        let age = now.saturating_duration_since(e.stored).as_secs() as u32;
        let (freshness, age_for_ttl) = if age < e.ttl {
            let left = e.ttl - age;
            if self.cfg.prefetch && !e.prefetching && e.hits >= 2 && e.ttl >= 10 && left * 10 <= e.ttl {
                e.prefetching = true;
                (Freshness::Prefetch, age)
            } else {
                (Freshness::Fresh, age)
            }
        } else if self.cfg.serve_stale_secs > 0 && age < e.ttl.saturating_add(self.cfg.serve_stale_secs) {
            // RFC 8767: stale answers carry TTL 30
            (Freshness::Stale, u32::MAX)
        } else {
            return None;
        };
        e.visited = true;
        e.hits = e.hits.saturating_add(1);
        out.clear();
        out.extend_from_slice(e.wire());
        // id, then the client's question (same length: same name modulo case)
        out[0..2].copy_from_slice(&q.id.to_be_bytes());
        let qlen = q.question_end.min(out.len()).min(q.packet.len());
        out[12..qlen].copy_from_slice(&q.packet[12..qlen]);
        // RD as asked
        if q.rd {
            out[2] |= 0x01;
        } else {
            out[2] &= !0x01;
        }
        for off in e.ttl_offsets() {
            let Some(field) = out.get_mut(off..off + 4) else {
                continue;
            };
            let ttl = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
            let aged = if age_for_ttl == u32::MAX {
                30
            } else {
                ttl.saturating_sub(age_for_ttl)
            };
            field.copy_from_slice(&aged.to_be_bytes());
        }
        let bit = 1u64 << group;
        let memo = if e.verdict.0 == generation && e.verdict.1 & bit != 0 {
            Some(e.verdict.2 & bit != 0)
        } else {
            None
        };
        let facts = match &e.facts {
            Some(f) if wanted.inspect && memo != Some(false) && (wanted.ip_rules || !f.cnames.is_empty()) => {
                Some(Arc::clone(f))
            }
            _ => None,
        };
        let rcode = out.get(3).map_or(0, |b| b & 0x0f);
        Some(Hit {
            freshness,
            facts,
            memo,
            rcode,
        })
    }

    /// Remembers the response-inspection verdict of `group` at `generation`.
    pub fn memo(&self, key: KeyRef<'_>, generation: u64, group: usize, blocked: bool) {
        let hash = key.hash64();
        if let Ok(mut inner) = self.inner.lock()
            && let Some(e) = inner.find_mut(hash, &key)
        {
            if e.verdict.0 != generation {
                e.verdict = (generation, 0, 0);
            }
            let bit = 1u64 << group;
            e.verdict.1 |= bit;
            if blocked {
                e.verdict.2 |= bit;
            }
        }
    }

    /// The TTL to cache a response for, or None if it must not be cached.
    fn ttl_of(&self, msg: &[u8], shape: &wire::ResponseShape) -> Option<u32> {
        if shape.tc {
            return None;
        }
        let answers = shape.records.iter().filter(|r| r.section == 0 && r.rtype != rtype::OPT);
        let negative =
            shape.rcode == rcode::NXDOMAIN || (shape.rcode == rcode::NOERROR && answers.clone().next().is_none());
        if shape.rcode != rcode::NOERROR && shape.rcode != rcode::NXDOMAIN {
            return None;
        }
        if negative {
            // RFC 2308: min(SOA TTL, SOA MINIMUM); no SOA, no caching
            let soa = shape.records.iter().find(|r| r.section == 1 && r.rtype == rtype::SOA)?;
            let min_field = soa.rdata_at + soa.rdata_len - 4;
            let minimum = u32::from_be_bytes(msg.get(min_field..min_field + 4)?.try_into().ok()?);
            return Some(
                soa.ttl
                    .min(minimum)
                    .min(self.cfg.max_negative_ttl)
                    .max(self.cfg.min_ttl),
            );
        }
        let ttl = answers.map(|r| r.ttl).min()?;
        Some(ttl.clamp(self.cfg.min_ttl, self.cfg.max_ttl.max(self.cfg.min_ttl)))
    }

    /// Stores a response. Returns the facts for inspection.
    pub fn put(&self, key: CacheKey, msg: &[u8], shape: &wire::ResponseShape) {
        if self.cfg.max_mib == 0 {
            return;
        }
        let Some(ttl) = self.ttl_of(msg, shape) else {
            return;
        };
        if ttl == 0 {
            return;
        }
        if key.name.len() > 256 || msg.len() > usize::from(u16::MAX) {
            return;
        }
        let facts = Facts::of(msg, shape);
        let mut data = Vec::with_capacity(key.name.len() + msg.len() + shape.records.len() * 2);
        data.extend_from_slice(&key.name);
        data.extend_from_slice(msg);
        for r in shape.records.iter().filter(|r| r.rtype != rtype::OPT) {
            // a TTL field lies inside the message, so its offset fits 16 bits
            data.extend_from_slice(&(r.ttl_at as u16).to_le_bytes());
        }
        let name_len = key.name.len();
        data[name_len] = 0;
        data[name_len + 1] = 0;
        let kr = key.as_key_ref();
        let hash = kr.hash64();
        let slot = Slot {
            hash,
            data: data.into_boxed_slice(),
            name_len: name_len as u16,
            wire_len: msg.len() as u16,
            qtype: key.qtype,
            qclass: key.qclass,
            flags: key.flags,
            visited: false,
            prefetching: false,
            ttl,
            hits: 0,
            stored: Instant::now(),
            facts: if facts.is_empty() { None } else { Some(Arc::new(facts)) },
            verdict: (0, 0, 0),
        };
        let budget = self.budget();
        let size = slot.bytes();
        if size > budget {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let inner = &mut *inner;
        if let Some(old) = inner.find_mut(hash, &kr) {
            let old_size = old.bytes();
            *old = slot;
            inner.bytes = inner.bytes - old_size + size;
        } else {
            inner.map.insert_unique(hash, slot, |s| s.hash);
            inner.queue.push_back((hash, key));
            inner.bytes += size;
        }
        // second-chance eviction
        let mut guard = inner.queue.len() * 2 + 8;
        while inner.bytes > budget && guard > 0 {
            guard -= 1;
            let Some((h, k)) = inner.queue.pop_front() else {
                break;
            };
            let kr = k.as_key_ref();
            let Ok(entry) = inner.map.find_entry(h, |s| s.is(h, &kr)) else {
                continue;
            };
            if entry.get().visited {
                entry.into_mut().visited = false;
                inner.queue.push_back((h, k));
            } else {
                let (gone, _) = entry.remove();
                inner.bytes -= gone.bytes();
            }
        }
    }

    /// Entries and bytes.
    pub fn stats(&self) -> CacheStats {
        self.inner
            .lock()
            .map(|i| CacheStats {
                entries: i.map.len(),
                bytes: i.bytes,
            })
            .unwrap_or_default()
    }

    /// Drops every entry (e.g. after a policy change that affects answers).
    pub fn clear(&self) {
        if let Ok(mut i) = self.inner.lock() {
            i.map.clear();
            i.queue.clear();
            i.bytes = 0;
        }
    }

    /// Drops entries expired for longer than the serve-stale window.
    pub fn sweep(&self) {
        let window = Duration::from_secs(u64::from(self.cfg.serve_stale_secs));
        if let Ok(mut inner) = self.inner.lock() {
            let now = Instant::now();
            let mut freed = 0;
            inner.map.retain(|e| {
                let keep = now.saturating_duration_since(e.stored) < Duration::from_secs(u64::from(e.ttl)) + window;
                if !keep {
                    freed += e.bytes();
                }
                keep
            });
            inner.bytes -= freed;
            let Inner { map, queue, .. } = &mut *inner;
            queue.retain(|(h, k)| {
                let kr = k.as_key_ref();
                map.find(*h, |s| s.is(*h, &kr)).is_some()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode};
    use hickory_proto::rr::{Name, RData, Record, rdata};

    fn query(name: &str) -> Vec<u8> {
        let mut p = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        wire::encode_name(name, &mut p).expect("name");
        p.extend_from_slice(&[0, 1, 0, 1]);
        p
    }

    fn answer(name: &str, ttl: u32) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        let n = Name::from_ascii(name).expect("name");
        m.add_query(hickory_proto::op::Query::query(
            n.clone(),
            hickory_proto::rr::RecordType::A,
        ));
        let cname = Name::from_ascii("edge.tiktokv.com.edgesuite.net.").expect("name");
        m.add_answer(Record::from_rdata(n, ttl, RData::CNAME(rdata::CNAME(cname.clone()))));
        m.add_answer(Record::from_rdata(
            cname,
            ttl + 100,
            RData::A(rdata::A::new(192, 0, 2, 7)),
        ));
        m.to_vec().expect("encode")
    }

    #[test]
    fn serves_with_id_case_and_facts() {
        let cache = Cache::new(CacheConfig::default());
        let resp = answer("www.example.com.", 300);
        let shape = wire::walk_response(&resp).expect("walk");
        let qp = query("www.example.com");
        let q = wire::parse_query(&qp).expect("q");
        cache.put(CacheKey::of(&q), &resp, &shape);
        let qp2 = query("WWW.Example.COM");
        let q2 = wire::parse_query(&qp2).expect("q");
        let mut out = Vec::new();
        let hit = cache
            .get(CacheKey::of(&q2).as_key_ref(), &q2, 1, 0, &mut out)
            .expect("hit");
        assert_eq!(hit.freshness, Freshness::Fresh);
        assert_eq!(&out[0..2], &[0xab, 0xcd]);
        assert_eq!(
            &out[12..q2.question_end],
            &qp2[12..q2.question_end],
            "client's 0x20 case echoed"
        );
        let facts = hit.facts.expect("facts");
        assert_eq!(facts.cnames, vec!["edge.tiktokv.com.edgesuite.net".to_string()]);
        assert_eq!(facts.ips, vec!["192.0.2.7".parse::<IpAddr>().expect("ip")]);
        let m = Message::from_vec(&out).expect("valid message");
        assert!(m.answers.iter().all(|r| r.ttl <= 400));
        assert!(hit.memo.is_none());
        cache.memo(CacheKey::of(&q2).as_key_ref(), 1, 0, true);
        let hit = cache
            .get(CacheKey::of(&q2).as_key_ref(), &q2, 1, 0, &mut out)
            .expect("hit");
        assert_eq!(hit.memo, Some(true));
        assert!(
            cache
                .get(CacheKey::of(&q2).as_key_ref(), &q2, 2, 0, &mut out)
                .expect("hit")
                .memo
                .is_none(),
            "new generation"
        );
    }

    #[test]
    fn respects_the_byte_budget() {
        let cache = Cache::new(CacheConfig {
            max_mib: 1,
            ..CacheConfig::default()
        });
        for i in 0..20_000 {
            let name = format!("n{i}.example.com.");
            let resp = answer(&name, 300);
            let shape = wire::walk_response(&resp).expect("walk");
            let qp = query(name.trim_end_matches('.'));
            let q = wire::parse_query(&qp).expect("q");
            cache.put(CacheKey::of(&q), &resp, &shape);
        }
        let s = cache.stats();
        assert!(s.bytes <= 1024 * 1024, "{s:?}");
        assert!(s.entries > 1000, "{s:?}");
    }

    fn put_name(cache: &Cache, name: &str, ttl: u32) {
        let resp = answer(&format!("{name}."), ttl);
        let shape = wire::walk_response(&resp).expect("walk");
        let qp = query(name);
        cache.put(CacheKey::of(&wire::parse_query(&qp).expect("q")), &resp, &shape);
    }

    fn hit(cache: &Cache, name: &str, wanted: Wanted) -> Option<Hit> {
        let qp = query(name);
        let q = wire::parse_query(&qp).expect("q");
        let key = CacheKey::of(&q);
        let mut out = Vec::new();
        cache.get_at(Instant::now(), key.as_key_ref(), &q, 1, 0, wanted, &mut out)
    }

    /// Facts are handed out only to a caller that will check them.
    #[test]
    fn facts_only_when_something_will_be_checked() {
        let cache = Cache::new(CacheConfig::default());
        put_name(&cache, "www.example.com", 300);
        let none = Wanted {
            inspect: false,
            ip_rules: true,
        };
        assert!(
            hit(&cache, "www.example.com", none).expect("hit").facts.is_none(),
            "allowed by rule"
        );
        // the answer has a CNAME, so it is checked even without address rules
        let names_only = Wanted {
            inspect: true,
            ip_rules: false,
        };
        assert!(hit(&cache, "www.example.com", names_only).expect("hit").facts.is_some());
        let qp = query("www.example.com");
        let key = CacheKey::of(&wire::parse_query(&qp).expect("q"));
        cache.memo(key.as_key_ref(), 1, 0, false);
        let passed = hit(&cache, "www.example.com", Wanted::ALL).expect("hit");
        assert_eq!(passed.memo, Some(false));
        assert!(passed.facts.is_none(), "memo says it passes");
        cache.memo(key.as_key_ref(), 1, 0, true);
        let blocked = hit(&cache, "www.example.com", Wanted::ALL).expect("hit");
        assert!(blocked.facts.is_some(), "a blocked memo is re-inspected for its rule");
    }

    /// Storing a name again replaces it without double-counting its bytes;
    /// names differing only in type or case stay apart or together as they should.
    #[test]
    fn replacing_keeps_the_accounting() {
        let cache = Cache::new(CacheConfig::default());
        put_name(&cache, "a.example.com", 300);
        let one = cache.stats();
        put_name(&cache, "A.Example.com", 300);
        assert_eq!(cache.stats(), one, "same name in another case is the same entry");
        put_name(&cache, "b.example.com", 300);
        assert_eq!(cache.stats().entries, 2);
        assert!(hit(&cache, "a.example.COM", Wanted::ALL).is_some());
        assert!(hit(&cache, "c.example.com", Wanted::ALL).is_none());
        let mut aaaa = query("a.example.com");
        let n = aaaa.len();
        aaaa[n - 3] = 28;
        let q = wire::parse_query(&aaaa).expect("q");
        let mut out = Vec::new();
        assert!(
            cache.get(CacheKey::of(&q).as_key_ref(), &q, 1, 0, &mut out).is_none(),
            "other type"
        );
        cache.clear();
        assert_eq!(cache.stats(), CacheStats::default());
    }

    /// Second chance: a name read since it was stored survives the next
    /// eviction round; names nobody asked for go first.
    #[test]
    fn eviction_spares_names_in_use() {
        let cache = Cache::new(CacheConfig {
            max_mib: 1,
            ..CacheConfig::default()
        });
        put_name(&cache, "keep.example.com", 300);
        for i in 0..20_000 {
            put_name(&cache, &format!("n{i}.example.com"), 300);
            if i % 50 == 0 {
                assert!(hit(&cache, "keep.example.com", Wanted::ALL).is_some(), "evicted at {i}");
            }
        }
        assert!(
            hit(&cache, "n0.example.com", Wanted::ALL).is_none(),
            "an unread early name went"
        );
        assert!(cache.stats().bytes <= 1024 * 1024);
    }

    #[test]
    fn negative_answers_use_the_soa_minimum() {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
        let n = Name::from_ascii("nope.example.com.").expect("name");
        m.add_query(hickory_proto::op::Query::query(n, hickory_proto::rr::RecordType::A));
        let zone = Name::from_ascii("example.com.").expect("name");
        let soa = rdata::SOA::new(zone.clone(), zone.clone(), 1, 2, 3, 4, 60);
        m.add_authority(Record::from_rdata(zone, 900, RData::SOA(soa)));
        let resp = m.to_vec().expect("encode");
        let shape = wire::walk_response(&resp).expect("walk");
        let cache = Cache::new(CacheConfig::default());
        assert_eq!(cache.ttl_of(&resp, &shape), Some(60));
    }
}
