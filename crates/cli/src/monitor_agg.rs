//! `monitor scan`'s per-thread aggregation: one entry per (client, app).
//!
//! Every flagged event updates its (client, app) entry, and the entries are
//! accessed at random (hundreds of thousands of them on a big log), so what
//! an event touches is kept to one 64-byte table slot: a 24-byte key (the
//! client's address, or an interned device name, and the app) and the
//! counters and times. What only the first events of an entry need (who,
//! the plan's rule, the examples) lives apart, in insertion order.
//!
//! When a worker is done ([`monitor::Sink::finish`], on its own thread) the
//! entries are rendered (client as text) and sorted in report order, so the
//! parts of all workers and files are merged by one pass over sorted runs.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;

use monitor::plan_index::{FxBuildHasher, IndexedApp, IndexedGroup};
use monitor::{DetectionKind, Detector, Outcome, PlanIndex, Timestamp};

/// How many raw-event references a finding keeps.
pub(crate) const EXAMPLES: usize = 3;
/// How many located parse errors a file keeps as examples.
pub(crate) const ERROR_EXAMPLES: usize = 5;

/// Where a detection was: (index of the file in the command line, line number).
/// Orders "first" and "examples" the same however the work was split.
pub(crate) type Seq = (usize, u64);

/// The first [`EXAMPLES`] places, smallest first.
#[derive(Clone, Copy, Default)]
pub(crate) struct Firsts {
    pub(crate) at: [Seq; EXAMPLES],
    pub(crate) n: usize,
}

impl Firsts {
    fn push(&mut self, at: Seq) {
        if self.n < EXAMPLES {
            self.at[self.n] = at;
            self.n += 1;
        } else if at < self.at[EXAMPLES - 1] {
            self.at[EXAMPLES - 1] = at;
        } else {
            return;
        }
        self.at[..self.n].sort_unstable();
    }

    fn merge(&mut self, o: &Firsts) {
        for &at in &o.at[..o.n] {
            if !self.at[..self.n].contains(&at) {
                self.push(at);
            }
        }
    }

    /// The last of the examples once there are [`EXAMPLES`].
    fn full(&self) -> Option<Seq> {
        (self.n == EXAMPLES).then(|| self.at[EXAMPLES - 1])
    }
}

/// The first detection of a (client, app), which names the finding, and the examples.
pub(crate) struct First<'p> {
    pub(crate) at: Seq,
    pub(crate) source_ip: Option<IpAddr>,
    pub(crate) device: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) group: &'p IndexedGroup,
    pub(crate) app: Option<&'p IndexedApp>,
    pub(crate) kind: DetectionKind,
    pub(crate) reason: &'p policy::RuleReason,
    pub(crate) action: policy::Action,
    pub(crate) examples: Firsts,
}

/// Where a part goes in the report: by client text, then app id. The
/// client's first 32 bytes are held inline (zero-padded, big-endian), so
/// most comparisons do not follow the string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortKey {
    prefix: (u128, u128),
    len: usize,
    /// The app id's position among all app ids (equal ids, equal ranks).
    rank: u32,
}

impl SortKey {
    /// Report order; `clients` gives both client texts, needed only when both are longer than 32 bytes.
    fn cmp_with<'s>(&self, b: &SortKey, clients: impl FnOnce() -> (&'s str, &'s str)) -> Ordering {
        let a = self;
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| {
                // equal first 32 bytes (zero-padded): unless both are longer,
                // the shorter one is a prefix of the other
                if a.len > 32 && b.len > 32 {
                    let (x, y) = clients();
                    x.cmp(y)
                } else {
                    a.len.cmp(&b.len)
                }
            })
            .then(a.rank.cmp(&b.rank))
    }

    fn new(client: &str, rank: u32) -> SortKey {
        let mut p = [0u8; 32];
        let n = client.len().min(32);
        p[..n].copy_from_slice(&client.as_bytes()[..n]);
        let mut hi = [0u8; 16];
        let mut lo = [0u8; 16];
        hi.copy_from_slice(&p[..16]);
        lo.copy_from_slice(&p[16..]);
        SortKey {
            prefix: (u128::from_be_bytes(hi), u128::from_be_bytes(lo)),
            len: client.len(),
            rank,
        }
    }
}

/// One (client, app) finding over part of the input, borrowing the plan.
pub(crate) struct Part<'p> {
    key: SortKey,
    pub(crate) client: String,
    pub(crate) blocked: u64,
    pub(crate) got_through: u64,
    pub(crate) unknown: u64,
    pub(crate) first_seen: Option<Timestamp>,
    pub(crate) last_seen: Option<Timestamp>,
    pub(crate) first: First<'p>,
}

impl<'p> Part<'p> {
    pub(crate) fn count(&self) -> u64 {
        self.blocked + self.got_through + self.unknown
    }

    /// Adds another part of the same (client, app); the earlier detection names it.
    pub(crate) fn merge(&mut self, mut o: Part<'p>) {
        if o.first.at < self.first.at {
            std::mem::swap(&mut self.first, &mut o.first);
        }
        self.blocked += o.blocked;
        self.got_through += o.got_through;
        self.unknown += o.unknown;
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = max_opt(self.last_seen, o.last_seen);
        self.first.examples.merge(&o.first.examples);
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What a worker found in one file, in report order: the entries' keys
/// sorted, the rest where the worker left it. A [`Part`] is built from an
/// entry only when the merge takes it, so a finished worker does not hold
/// every entry twice.
pub(crate) struct Run<'p> {
    /// (key, entry), in report order.
    order: Vec<(SortKey, u32)>,
    /// By entry: where its client's text is in `text`, the counters, the first detection.
    spans: Vec<(usize, usize)>,
    hots: Vec<Hot>,
    cold: Vec<Option<Cold<'p>>>,
    /// The clients' texts, one after the other.
    text: String,
    /// The sink's interned device and user names.
    strs: Vec<String>,
    next: usize,
    file: usize,
}

impl<'p> Run<'p> {
    /// The next entry's key and index.
    fn head(&self) -> Option<(&SortKey, usize)> {
        let (key, i) = self.order.get(self.next)?;
        Some((key, *i as usize))
    }

    /// Whether this run's next entry comes before `other`'s.
    fn before(&self, other: &Run<'_>) -> bool {
        match (self.head(), other.head()) {
            (Some((a, i)), Some((b, j))) => a.cmp_with(b, || (self.client(i), other.client(j))) == Ordering::Less,
            (a, _) => a.is_some(),
        }
    }

    /// Whether this run's next entry is the (client, app) of `p`.
    fn next_is(&self, p: &Part<'_>) -> bool {
        self.head()
            .is_some_and(|(k, i)| k.cmp_with(&p.key, || (self.client(i), &p.client)) == Ordering::Equal)
    }

    fn client(&self, i: usize) -> &str {
        self.spans
            .get(i)
            .and_then(|&(start, len)| self.text.get(start..start + len))
            .unwrap_or("")
    }

    fn text(&self, id: Option<u32>) -> Option<String> {
        id.and_then(|i| self.strs.get(i as usize)).cloned()
    }

    /// The next entry as a part (without its client text unless `client`).
    fn take(&mut self, client: bool) -> Option<Part<'p>> {
        let &(key, i) = self.order.get(self.next)?;
        self.next += 1;
        let i = i as usize;
        let c = self.cold.get_mut(i)?.take()?;
        let h = self.hots.get(i).copied().unwrap_or_default();
        let (first_seen, last_seen) = if h.first <= h.last {
            (
                Some(Timestamp::from_unix_nanos(h.first)),
                Some(Timestamp::from_unix_nanos(h.last)),
            )
        } else {
            (None, None)
        };
        Some(Part {
            key,
            client: if client {
                self.client(i).to_string()
            } else {
                String::new()
            },
            blocked: c.spill[0] + u64::from(h.counts[0]),
            got_through: c.spill[1] + u64::from(h.counts[1]),
            unknown: c.spill[2] + u64::from(h.counts[2]),
            first_seen,
            last_seen,
            first: First {
                at: (self.file, c.origin.line),
                source_ip: c.origin.source_ip,
                device: self.text(c.origin.device),
                user: self.text(c.origin.user),
                group: c.origin.group,
                app: c.origin.app,
                kind: c.origin.kind,
                reason: c.origin.reason,
                action: c.origin.action,
                examples: c.examples,
            },
        })
    }
}

/// Reorders `a`, `b` and `c` in place so that entry k is the one that was
/// at `from[k]` (`from` is a permutation of their indices), by following
/// its cycles.
fn permute<A, B, C>(from: &[u32], a: &mut [A], b: &mut [B], c: &mut [C]) {
    let mut done = vec![false; from.len()];
    for start in 0..from.len() {
        let mut k = start;
        while !done[k] {
            done[k] = true;
            let src = from[k] as usize;
            if src == start {
                break;
            }
            a.swap(k, src);
            b.swap(k, src);
            c.swap(k, src);
            k = src;
        }
    }
}

/// Merges runs, each in report order, into one part per (client, app), in
/// report order.
pub(crate) struct MergeRuns<'p> {
    runs: Vec<Run<'p>>,
}

impl<'p> MergeRuns<'p> {
    pub(crate) fn new(runs: Vec<Run<'p>>) -> Self {
        MergeRuns { runs }
    }
}

impl<'p> Iterator for MergeRuns<'p> {
    type Item = Part<'p>;

    fn next(&mut self) -> Option<Part<'p>> {
        let mut best: Option<usize> = None;
        for i in 0..self.runs.len() {
            if best.is_none_or(|b| self.runs[i].before(&self.runs[b])) && self.runs[i].head().is_some() {
                best = Some(i);
            }
        }
        let mut cur = self.runs.get_mut(best?)?.take(true)?;
        // every run is sorted: the other parts of this one are next in theirs
        for r in &mut self.runs {
            while r.next_is(&cur) {
                match r.take(false) {
                    Some(p) => cur.merge(p),
                    None => break,
                }
            }
        }
        Some(cur)
    }
}

/// Ranks of app ids in id order, by app index, and the rank of the port-853 rule.
pub(crate) fn app_ranks(index: &PlanIndex) -> (Vec<u32>, u32) {
    let mut ids: Vec<&str> = index
        .apps()
        .iter()
        .map(|a| a.id.as_str())
        .chain([monitor::detection::DOT_PORT_APP])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let rank = |id: &str| ids.binary_search(&id).unwrap_or(0) as u32;
    let ranks = index.apps().iter().map(|a| rank(&a.id)).collect();
    (ranks, rank(monitor::detection::DOT_PORT_APP))
}

const TAG_UNKNOWN: u32 = 1;
const TAG_DEVICE: u32 = 2;
const TAG_V4: u32 = 4;
const TAG_V6: u32 = 6;
/// App "index" of the port-853 rule.
const DOT_APP: u32 = u32::MAX;

/// A (client, app) in 24 bytes: the client's address (or interned device
/// name) and the app index. `tag` 0 marks an empty table slot.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct PairKey {
    addr: [u64; 2],
    app: u32,
    tag: u32,
}

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

impl PairKey {
    /// Folded multiplies: every bit of the key reaches the low bits (the slot).
    fn hash(&self) -> u64 {
        let a = fold(
            self.addr[0] ^ 0x243f_6a88_85a3_08d3,
            self.addr[1] ^ 0x1319_8a2e_0370_7344,
        );
        fold(
            a ^ (u64::from(self.app) << 32 | u64::from(self.tag)),
            0xa409_3822_299f_31d0,
        )
    }
}

/// What every detection of a (client, app) updates.
#[derive(Clone, Copy, Default)]
struct Hot {
    /// Earliest / latest event time in nanoseconds; none seen while `first > last`.
    first: i64,
    last: i64,
    /// The line of the last example once there are [`EXAMPLES`]; 0 before.
    ex_last: u64,
    /// blocked, got through, unknown (the rest is in [`Cold::spill`]).
    counts: [u32; 3],
    /// Index into the sink's [`Cold`] entries.
    cold: u32,
}

/// One table slot: the key and what every detection updates, in one cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot {
    key: PairKey,
    hot: Hot,
}

/// Open addressing with linear probing over 64-byte slots: a lookup reads
/// one cache line (rarely the next), and a batch of lookups can be started
/// together ([`Table::touch`]), so their memory latencies overlap.
struct Table {
    slots: Vec<Slot>,
    len: usize,
}

impl Table {
    fn new() -> Table {
        Table {
            slots: vec![Slot::default(); 1024],
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Reads the home slot of `hash` (to have it in cache when it is needed).
    fn touch(&self, hash: u64) -> u32 {
        self.slots[hash as usize & self.mask()].key.tag
    }

    /// Room for `n` more entries without growing (load ≤ 3/4).
    fn reserve(&mut self, n: usize) {
        while (self.len + n) * 4 > self.slots.len() * 3 {
            let n = self.slots.len() * 2;
            let old = std::mem::replace(&mut self.slots, vec![Slot::default(); n]);
            let mask = self.mask();
            for s in old.into_iter().filter(|s| s.key.tag != 0) {
                let mut i = s.key.hash() as usize & mask;
                while self.slots[i].key.tag != 0 {
                    i = (i + 1) & mask;
                }
                self.slots[i] = s;
            }
        }
    }

    /// The slot of `key`, and whether it was empty (then it is claimed for
    /// `key` with a zeroed [`Hot`]). Needs room ([`Table::reserve`]).
    fn find_or_claim(&mut self, key: &PairKey, hash: u64) -> (usize, bool) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let s = &mut self.slots[i];
            if s.key == *key {
                return (i, false);
            }
            if s.key.tag == 0 {
                s.key = *key;
                self.len += 1;
                return (i, true);
            }
            i = (i + 1) & mask;
        }
    }
}

/// Where a detection came from and what it matched: kept for the first
/// detection of a (client, app), carried by every pending one.
#[derive(Clone, Copy)]
struct Origin<'p> {
    /// Line (the file is the sink's).
    line: u64,
    source_ip: Option<IpAddr>,
    /// Interned device and user names.
    device: Option<u32>,
    user: Option<u32>,
    group: &'p IndexedGroup,
    app: Option<&'p IndexedApp>,
    kind: DetectionKind,
    reason: &'p policy::RuleReason,
    action: policy::Action,
}

/// What only the first detections of a (client, app) touch.
struct Cold<'p> {
    /// The first detection.
    origin: Origin<'p>,
    examples: Firsts,
    /// Counts beyond `u32::MAX`.
    spill: [u64; 3],
}

/// A detection waiting for its batch.
struct Pending<'p> {
    key: PairKey,
    hash: u64,
    outcome: usize,
    time: Option<i64>,
    origin: Origin<'p>,
}

/// Detections are applied to the table in batches of this many, in order.
const BATCH: usize = 32;

/// What one worker makes of its part of a file: findings, counts, the first errors.
pub(crate) struct ScanSink<'p, 'd> {
    detector: &'p Detector<'d>,
    ranks: &'p [u32],
    dot_rank: u32,
    since: Option<Timestamp>,
    file: usize,
    table: Table,
    cold: Vec<Cold<'p>>,
    pending: Vec<Pending<'p>>,
    /// Examples for entries already in the table: (slot, cold entry, line), per batch.
    examples: Vec<(usize, u32, u64)>,
    /// Device and user names, interned.
    strs: Vec<String>,
    str_ids: HashMap<String, u32, FxBuildHasher>,
    names: monitor::NameCache<'p>,
    pub(crate) flagged: u64,
    pub(crate) before: u64,
    /// The first errors by line: (line, example text).
    pub(crate) errors: Vec<(u64, String)>,
    /// What the sink found, in report order (one run per finish).
    pub(crate) runs: Vec<Run<'p>>,
}

impl<'p, 'd> ScanSink<'p, 'd> {
    pub(crate) fn new(
        detector: &'p Detector<'d>,
        (ranks, dot_rank): (&'p [u32], u32),
        since: Option<Timestamp>,
        file: usize,
    ) -> Self {
        ScanSink {
            detector,
            ranks,
            dot_rank,
            since,
            file,
            table: Table::new(),
            cold: Vec::new(),
            pending: Vec::with_capacity(BATCH),
            examples: Vec::with_capacity(BATCH),
            strs: Vec::new(),
            str_ids: HashMap::default(),
            names: monitor::NameCache::new(),
            flagged: 0,
            before: 0,
            errors: Vec::new(),
            runs: Vec::new(),
        }
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.str_ids.get(name) {
            return id;
        }
        let id = self.strs.len() as u32;
        self.strs.push(name.to_string());
        self.str_ids.insert(name.to_string(), id);
        id
    }

    /// Appends the client's text (device name, else address, else `-`).
    fn client_text(&self, k: &PairKey, out: &mut String) {
        use std::fmt::Write as _;
        let _ = match k.tag {
            TAG_DEVICE => {
                out.push_str(self.strs.get(k.addr[0] as usize).map_or("", String::as_str));
                Ok(())
            }
            TAG_V4 => write!(out, "{}", std::net::Ipv4Addr::from(k.addr[0] as u32)),
            TAG_V6 => write!(
                out,
                "{}",
                std::net::Ipv6Addr::from(u128::from(k.addr[0]) << 64 | u128::from(k.addr[1]))
            ),
            _ => {
                out.push('-');
                Ok(())
            }
        };
    }

    /// Applies the pending detections, in order. Their slots are read first,
    /// all together, so the cache misses of a batch overlap instead of
    /// coming one after the other; the same for the examples' entries.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.table.reserve(self.pending.len());
        let mut acc = 0u32;
        for p in &self.pending {
            acc = acc.wrapping_add(self.table.touch(p.hash));
        }
        std::hint::black_box(acc);
        for p in self.pending.drain(..) {
            let (slot, new) = self.table.find_or_claim(&p.key, p.hash);
            let at = (self.file, p.origin.line);
            if new {
                let mut examples = Firsts::default();
                examples.push(at);
                self.table.slots[slot].hot = Hot {
                    first: i64::MAX,
                    last: i64::MIN,
                    ex_last: 0,
                    counts: [0; 3],
                    cold: self.cold.len() as u32,
                };
                self.cold.push(Cold {
                    origin: p.origin,
                    examples,
                    spill: [0; 3],
                });
            }
            let hot = &mut self.table.slots[slot].hot;
            if hot.counts[p.outcome] == u32::MAX {
                if let Some(c) = self.cold.get_mut(hot.cold as usize) {
                    c.spill[p.outcome] += u64::from(u32::MAX);
                }
                hot.counts[p.outcome] = 0;
            }
            hot.counts[p.outcome] += 1;
            if let Some(t) = p.time {
                hot.first = hot.first.min(t);
                hot.last = hot.last.max(t);
            }
            if !new && (hot.ex_last == 0 || p.origin.line < hot.ex_last) {
                self.examples.push((slot, hot.cold, p.origin.line));
            }
        }
        let mut acc = 0u64;
        for &(_, c, _) in &self.examples {
            acc = acc.wrapping_add(self.cold.get(c as usize).map_or(0, |c| c.origin.line));
        }
        std::hint::black_box(acc);
        for (slot, c, line) in self.examples.drain(..) {
            let Some(c) = self.cold.get_mut(c as usize) else {
                continue;
            };
            c.examples.push((self.file, line));
            if let Some((_, l)) = c.examples.full() {
                self.table.slots[slot].hot.ex_last = l;
            }
        }
    }
}

impl<'p> monitor::Sink for ScanSink<'p, '_> {
    fn event(&mut self, ev: &monitor::Event<'_>) {
        if let (Some(s), Some(t)) = (self.since, ev.timestamp) {
            if t < s {
                self.before += 1;
                return;
            }
        }
        let Some(d) = self.detector.detect_cached(ev, &mut self.names) else {
            return;
        };
        self.flagged += 1;
        let (device, user) = self.detector.device_user(ev);
        let device = device.map(|d| self.intern(&d));
        let user = user.map(|u| self.intern(&u));
        let app = d.app.map_or(DOT_APP, |a| a.index());
        let key = match (device, ev.source_ip) {
            (Some(id), _) => PairKey {
                addr: [u64::from(id), 0],
                app,
                tag: TAG_DEVICE,
            },
            (None, Some(IpAddr::V4(v4))) => PairKey {
                addr: [u64::from(u32::from(v4)), 0],
                app,
                tag: TAG_V4,
            },
            (None, Some(IpAddr::V6(v6))) => {
                let bits = u128::from(v6);
                PairKey {
                    addr: [(bits >> 64) as u64, bits as u64],
                    app,
                    tag: TAG_V6,
                }
            }
            (None, None) => PairKey {
                addr: [0, 0],
                app,
                tag: TAG_UNKNOWN,
            },
        };
        self.pending.push(Pending {
            hash: key.hash(),
            key,
            outcome: match d.outcome {
                Outcome::Blocked => 0,
                Outcome::GotThrough => 1,
                Outcome::Unknown => 2,
            },
            time: ev.timestamp.map(Timestamp::unix_nanos),
            origin: Origin {
                line: ev.original.line,
                source_ip: ev.source_ip,
                device,
                user,
                group: d.group,
                app: d.app,
                kind: d.kind(),
                reason: d.reason,
                action: d.action,
            },
        });
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    fn error(&mut self, e: monitor::ParseError) {
        if self.errors.len() < ERROR_EXAMPLES || self.errors.last().is_some_and(|(l, _)| e.line_no < *l) {
            self.errors.push((e.line_no, crate::monitor_cmd::error_example(&e)));
            self.errors.sort_by_key(|(l, _)| *l);
            self.errors.truncate(ERROR_EXAMPLES);
        }
    }

    /// Renders the clients and sorts the entries in report order (on the worker's thread).
    fn finish(&mut self) {
        self.flush();
        if self.table.len == 0 {
            return;
        }
        let table = std::mem::replace(&mut self.table, Table::new());
        let n = self.cold.len();
        let mut order: Vec<(SortKey, u32)> = Vec::with_capacity(n);
        // the clients' texts in one string (no allocation per entry)
        let mut text = String::with_capacity(n * 16);
        let mut spans = vec![(0usize, 0usize); n];
        let mut hots = vec![Hot::default(); n];
        for s in table.slots.into_iter().filter(|s| s.key.tag != 0) {
            let i = s.hot.cold as usize;
            let start = text.len();
            self.client_text(&s.key, &mut text);
            let rank = if s.key.app == DOT_APP {
                self.dot_rank
            } else {
                self.ranks.get(s.key.app as usize).copied().unwrap_or(0)
            };
            order.push((SortKey::new(&text[start..], rank), s.hot.cold));
            if let (Some(c), Some(h)) = (spans.get_mut(i), hots.get_mut(i)) {
                *c = (start, text.len() - start);
                *h = s.hot;
            }
        }
        let client = |i: u32| {
            let (start, len) = spans[i as usize];
            &text[start..start + len]
        };
        order.sort_unstable_by(|(a, i), (b, j)| a.cmp_with(b, || (client(*i), client(*j))));
        let mut cold: Vec<Option<Cold<'p>>> = std::mem::take(&mut self.cold).into_iter().map(Some).collect();
        if order.len() == n {
            // the entries in report order, moved in place: the merge (on one
            // thread) then reads them one after the other
            let from: Vec<u32> = order.iter().map(|&(_, i)| i).collect();
            permute(&from, &mut spans, &mut hots, &mut cold);
            for (k, o) in order.iter_mut().enumerate() {
                o.1 = k as u32;
            }
        }
        self.str_ids.clear();
        self.runs.push(Run {
            order,
            spans,
            text,
            hots,
            cold,
            strs: std::mem::take(&mut self.strs),
            next: 0,
            file: self.file,
        });
    }

    fn merge(&mut self, mut other: Self) {
        self.finish();
        other.finish();
        self.flagged += other.flagged;
        self.before += other.before;
        self.errors.extend(other.errors);
        self.errors.sort_by_key(|(l, _)| *l);
        self.errors.truncate(ERROR_EXAMPLES);
        self.runs.append(&mut other.runs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inline prefix, length and rank order clients as their text, then apps by rank.
    #[test]
    fn sort_keys_order_as_the_text() {
        let long = "a-device-name-longer-than-thirty-two-bytes";
        let clients: Vec<String> = [
            "",
            "-",
            "198.18.0.1",
            "198.18.0.10",
            "198.18.10.0",
            "198.18.2.0",
            "fe80::1",
            "a",
            "a\0",
            "a\0\0",
            "ab",
            "Zürich",
            "z",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain((0..4).map(|i| format!("{long}{i}")))
        .chain([
            long.to_string(),
            format!("{long}\0"),
            long[..32].to_string(),
            format!("{}\0", &long[..32]),
        ])
        .collect();
        for a in &clients {
            for b in &clients {
                for (ra, rb) in [(0, 0), (0, 1), (1, 0)] {
                    let want = a.cmp(b).then(ra.cmp(&rb));
                    let got = SortKey::new(a, ra).cmp_with(&SortKey::new(b, rb), || (a.as_str(), b.as_str()));
                    assert_eq!(got, want, "{a:?} {b:?} {ra} {rb}");
                }
            }
        }
    }

    #[test]
    fn permute_moves_each_entry_where_it_is_asked_for() {
        let mut state = 5u64;
        for n in [0usize, 1, 2, 3, 10, 1000] {
            // a random permutation (Fisher–Yates)
            let mut from: Vec<u32> = (0..n as u32).collect();
            for i in (1..n).rev() {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                from.swap(i, (state >> 33) as usize % (i + 1));
            }
            let mut a: Vec<u32> = (0..n as u32).collect();
            let mut b: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            let mut c: Vec<Option<u64>> = (0..n as u64).map(Some).collect();
            permute(&from, &mut a, &mut b, &mut c);
            assert_eq!(a, from);
            assert_eq!(b, from.iter().map(|i| i.to_string()).collect::<Vec<_>>());
            assert_eq!(c, from.iter().map(|&i| Some(u64::from(i))).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_table_finds_what_it_holds_as_it_grows() {
        let mut t = Table::new();
        let key = |i: u64| PairKey {
            addr: [i % 1000, i / 1000],
            app: (i % 3) as u32,
            tag: if i % 2 == 0 { TAG_V4 } else { TAG_V6 },
        };
        for round in 0..2 {
            for i in 0..50_000u64 {
                t.reserve(1);
                let k = key(i);
                let (slot, new) = t.find_or_claim(&k, k.hash());
                assert_eq!(new, round == 0, "{i}");
                if new {
                    t.slots[slot].hot.cold = i as u32;
                }
                assert_eq!(t.slots[slot].hot.cold, i as u32);
            }
        }
        assert_eq!(t.len, 50_000);
        assert!(t.len * 4 <= t.slots.len() * 3);
    }
}
