//! Name and address matching: which rule, if any, a query name, a CNAME
//! target or an answer address hits, per client group.
//!
//! Names live in one arena indexed by a hash table (no allocation per name),
//! so a million-domain list costs tens of megabytes, not hundreds. Each
//! name points at a deduplicated [`Entry`]: a bit per group that blocks it,
//! a bit per group that only logs it, and the rule it came from.

use std::net::IpAddr;
use std::sync::Arc;

use catalog::domain::pattern_matches;
use hashbrown::HashTable;
use ipnet::IpNet;
use policy::{Action, EnforcementPlan, RuleReason};
use rustc_hash::FxHashMap;

use crate::wire::BlockedAnswer;

/// At most this many groups (one bit each).
pub const MAX_GROUPS: usize = 64;

/// Where a rule came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuleSource {
    /// An app in the plan (decision, category or override).
    App {
        /// App id.
        app: Arc<str>,
        /// First category.
        category: Arc<str>,
        /// Why the group has the rule (`decision`, `category`, `override`).
        why: &'static str,
    },
    /// A bypass method.
    Bypass {
        /// Catalog id of the bypass entry.
        app: Arc<str>,
        /// Method (`canary`, `private-relay`, `ddr`, `encrypted-dns`, …).
        method: &'static str,
    },
    /// A group's custom deny rule.
    Custom,
    /// An external list.
    List(Arc<str>),
}

impl RuleSource {
    /// App (or bypass entry) id, if any.
    pub fn app(&self) -> Option<&str> {
        match self {
            RuleSource::App { app, .. } | RuleSource::Bypass { app, .. } => Some(app),
            _ => None,
        }
    }

    /// Whether this is a bypass rule.
    pub fn is_bypass(&self) -> bool {
        matches!(self, RuleSource::Bypass { .. })
    }
}

/// A rule: its source and, for bypass names, a fixed answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Where it came from.
    pub source: RuleSource,
    /// Answer override (canary → NXDOMAIN, DDR → NODATA); `None` = the group's blocked answer.
    pub answer: Option<BlockedAnswer>,
}

/// Per-group bits for one name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Entry {
    block: u64,
    log: u64,
    allow: u64,
    rule: u32,
}

/// What a lookup found for one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No rule.
    Pass,
    /// An allow rule (custom allow or carve-out) matched: wins over blocks.
    Allowed,
    /// Block; rule index; labels of the matching rule's name (for the SOA owner).
    Block(u32, u8),
    /// Log only ("would block").
    Log(u32, u8),
}

/// Value bits of a [`NameTable`] node: the domain rule's entry id in the low bits.
const ENTRY_MASK: u32 = (1 << 28) - 1;
/// No domain rule at this node (it is the parent of rule names, or carries only exact/pattern rules).
const NO_ENTRY: u32 = ENTRY_MASK;
/// Patterns are indexed under this node's name.
const HAS_PATTERNS: u32 = 1 << 28;
/// An exact-name rule names this node.
const HAS_EXACT: u32 = 1 << 29;
/// Another name in the table has the same 32-bit hash: compare bytes before trusting this node.
const COLLIDES: u32 = 1 << 30;

/// Hash state after the labels of a suffix, mixed in from the top label down
/// (`com`, then `tiktok` for `tiktok.com`), so walking a name's suffixes
/// hashes each byte once.
fn mix_label(h: u64, label: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = (h ^ label.len() as u64).wrapping_mul(K);
    let mut chunks = label.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(26) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    let r = rest.len();
    // the last 1–7 bytes as one word from two overlapping reads that cover
    // them all (the length is already mixed in); no byte-wise copy
    let w = match r {
        0 => return h,
        1 => u64::from(rest[0]),
        2 | 3 => {
            u64::from(u16::from_le_bytes([rest[0], rest[1]]))
                | u64::from(u16::from_le_bytes([rest[r - 2], rest[r - 1]])) << 16
        }
        _ => {
            u64::from(u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]))
                | u64::from(u32::from_le_bytes([rest[r - 4], rest[r - 3], rest[r - 2], rest[r - 1]])) << 32
        }
    };
    (h.rotate_left(26) ^ w).wrapping_mul(K)
}

/// The 32-bit hash of a suffix from its state (a folded multiply mixes all
/// 64 bits into the ones kept).
fn finish_hash(h: u64) -> u32 {
    let x = u128::from(h) * u128::from(0x9e37_79b9_7f4a_7c15u64);
    let h32 = (((x as u64) ^ ((x >> 64) as u64)) >> 32) as u32;
    #[cfg(test)]
    if tests::NARROW_HASH.with(std::cell::Cell::get) {
        // tests: 256 hash values, so the few test names collide with each other and the plan's
        return h32 & 0xff;
    }
    h32
}

/// The table hash for a stored 32-bit hash: hashbrown takes the probe
/// position from the low bits and its 7-bit tag from the top ones, so both
/// come from the 32 bits the slot keeps, and a resize never reads a name.
fn table_hash(h32: u32) -> u64 {
    let h = u64::from(h32);
    h | (h << 32)
}

/// Calls `f(start, labels, hash)` for each suffix of `name` from the top
/// label down (`com`, `tiktok.com`, `www.tiktok.com`); stops when `f`
/// returns false.
fn walk_suffixes(name: &[u8], mut f: impl FnMut(usize, u8, u32) -> bool) {
    let mut end = name.len();
    let mut h = 0u64;
    let mut labels = 0u8;
    loop {
        let start = name[..end].iter().rposition(|&b| b == b'.').map_or(0, |i| i + 1);
        h = mix_label(h, &name[start..end]);
        labels = labels.saturating_add(1);
        if !f(start, labels, finish_hash(h)) || start == 0 {
            return;
        }
        end = start - 1;
    }
}

/// Every rule name, and every parent of one, in one arena indexed by a hash
/// table (no allocation per name). Because the parents are there, a lookup
/// walks a query name from the top label down and stops at the first suffix
/// the table does not hold: nothing below it can match. An allowed name
/// usually costs two probes (`org`, then `example.org` is missing), whatever
/// its length.
///
/// Slots keep each name's 32-bit hash. A lookup trusts a hash match without
/// reading the name for parent-only nodes (a false match there only walks
/// one level further, where the next suffix must match too); nodes that
/// carry a rule, and every node whose hash another name shares, are
/// confirmed byte for byte.
#[derive(Default)]
struct NameTable {
    arena: Vec<u8>,
    /// (arena offset, value: entry id and flag bits, 32-bit hash)
    table: HashTable<(u32, u32, u32)>,
}

impl NameTable {
    fn name_at(arena: &[u8], off: u32) -> &[u8] {
        let off = off as usize;
        let len = arena[off] as usize;
        &arena[off + 1..off + 1 + len]
    }

    /// The node (arena offset, value) of `name`, whose hash is `h32`.
    fn find(&self, h32: u32, name: &[u8]) -> Option<(u32, u32)> {
        let &(off, value, _) = self.table.find(table_hash(h32), |s| s.2 == h32)?;
        if value == NO_ENTRY {
            return Some((off, value));
        }
        if Self::name_at(&self.arena, off) == name {
            return Some((off, value));
        }
        // a name sharing the hash came first in the probe sequence
        self.table
            .find(table_hash(h32), |s| {
                s.2 == h32 && Self::name_at(&self.arena, s.0) == name
            })
            .map(|s| (s.0, s.1))
    }

    /// The node of `name` (at most 255 bytes), created with its parents as
    /// needed; `f` maps its value to the new one. Returns the node's arena offset.
    fn upsert(&mut self, name: &[u8], f: impl FnOnce(u32) -> u32) -> u32 {
        let mut f = Some(f);
        let mut node = 0;
        walk_suffixes(name, |start, _, h32| {
            let suffix = &name[start..];
            let last = start == 0;
            let arena = &self.arena;
            let hash = table_hash(h32);
            if let Some(slot) = self
                .table
                .find_mut(hash, |s| s.2 == h32 && Self::name_at(arena, s.0) == suffix)
            {
                if last && let Some(f) = f.take() {
                    slot.1 = f(slot.1);
                }
                node = slot.0;
                return true;
            }
            let mut flags = 0;
            for s in self.table.iter_hash_mut(hash) {
                if s.2 == h32 {
                    s.1 |= COLLIDES;
                    flags = COLLIDES;
                }
            }
            let off = self.arena.len() as u32;
            self.arena.push(suffix.len() as u8);
            self.arena.extend_from_slice(suffix);
            let value = match f.take_if(|_| last) {
                Some(f) => f(NO_ENTRY),
                None => NO_ENTRY,
            };
            self.table
                .insert_unique(hash, (off, value | flags, h32), |s| table_hash(s.2));
            node = off;
            true
        });
        node
    }

    /// Makes room for `n` more names.
    fn reserve(&mut self, n: usize) {
        self.table.reserve(n, |s| table_hash(s.2));
    }

    fn shrink(&mut self) {
        self.arena.shrink_to_fit();
        self.table.shrink_to_fit(|s| table_hash(s.2));
    }
}

/// The 32-bit hash of a whole name (the last step of [`walk_suffixes`]).
fn name_hash(name: &[u8]) -> u32 {
    let mut out = 0;
    walk_suffixes(name, |start, _, h32| {
        if start == 0 {
            out = h32;
        }
        true
    });
    out
}

/// A client group as the resolver sees it.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    /// Id.
    pub id: Arc<str>,
    /// Source networks.
    pub clients: Vec<IpNet>,
    /// Client ids (DoH path, DoT SNI).
    pub client_ids: Vec<String>,
}

/// The compiled matcher for every group.
pub struct Matcher {
    groups: Vec<GroupInfo>,
    default_group: usize,
    /// Domain rules, exact names and pattern suffixes, with their parents.
    names: NameTable,
    /// Exact-name entries by node (arena offset).
    exact: FxHashMap<u32, u32>,
    /// Patterns by the node of their fixed suffix (after the last wildcard label).
    patterns: FxHashMap<u32, Vec<(Box<str>, u32)>>,
    /// Names with a domain rule, and with an exact rule.
    domain_count: usize,
    exact_count: usize,
    entries: Vec<Entry>,
    entry_ids: FxHashMap<Entry, u32>,
    rules: Vec<Rule>,
    /// Each rule's category as events carry it (`social-video`, `canary`, `custom`, `list:NAME`).
    rule_categories: Vec<Arc<str>>,
    rule_ids: FxHashMap<Rule, u32>,
    v4: Vec<(u32, u32, u32)>,
    v6: Vec<(u128, u128, u32)>,
    /// Bits of groups with any IP rule (answers need checking only then).
    ip_groups: u64,
}

/// Counts of what a matcher holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatcherStats {
    /// Domain rules (with subdomains).
    pub domains: usize,
    /// Exact names.
    pub exact: usize,
    /// Patterns.
    pub patterns: usize,
    /// IP ranges.
    pub ip_ranges: usize,
    /// Groups.
    pub groups: usize,
}

fn labels(name: &str) -> u8 {
    if name.is_empty() {
        0
    } else {
        (name.bytes().filter(|&b| b == b'.').count() + 1).min(255) as u8
    }
}

/// Builds a [`Matcher`].
pub struct MatcherBuilder {
    m: Matcher,
}

impl MatcherBuilder {
    /// Starts with the plan's groups.
    pub fn new(plan: &EnforcementPlan) -> MatcherBuilder {
        let groups: Vec<GroupInfo> = plan
            .groups
            .iter()
            .take(MAX_GROUPS)
            .map(|g| GroupInfo {
                id: Arc::from(g.id.as_str()),
                clients: g
                    .clients
                    .iter()
                    .filter_map(|c| {
                        c.parse::<IpNet>()
                            .ok()
                            .or_else(|| c.parse::<IpAddr>().ok().map(IpNet::from))
                    })
                    .collect(),
                client_ids: g.client_ids.clone(),
            })
            .collect();
        let default_group = plan.groups.iter().position(|g| g.default).unwrap_or(0);
        let mut b = MatcherBuilder {
            m: Matcher {
                groups,
                default_group,
                names: NameTable::default(),
                exact: FxHashMap::default(),
                patterns: FxHashMap::default(),
                domain_count: 0,
                exact_count: 0,
                entries: Vec::new(),
                entry_ids: FxHashMap::default(),
                rules: Vec::new(),
                rule_categories: Vec::new(),
                rule_ids: FxHashMap::default(),
                v4: Vec::new(),
                v6: Vec::new(),
                ip_groups: 0,
            },
        };
        b.add_plan(plan);
        b
    }

    fn rule_id(&mut self, rule: Rule) -> u32 {
        if let Some(&id) = self.m.rule_ids.get(&rule) {
            return id;
        }
        let id = self.m.rules.len() as u32;
        self.m.rule_categories.push(match &rule.source {
            RuleSource::App { category, .. } => category.clone(),
            RuleSource::Bypass { method, .. } => Arc::from(*method),
            RuleSource::Custom => Arc::from("custom"),
            RuleSource::List(name) => Arc::from(format!("list:{name}")),
        });
        self.m.rules.push(rule.clone());
        self.m.rule_ids.insert(rule, id);
        id
    }

    fn entry_id(&mut self, e: Entry) -> u32 {
        if let Some(&id) = self.m.entry_ids.get(&e) {
            return id;
        }
        // entries are distinct (groups × rule) combinations: far fewer than the id space
        assert!(self.m.entries.len() < NO_ENTRY as usize, "matcher entries exhausted");
        let id = self.m.entries.len() as u32;
        self.m.entries.push(e);
        self.m.entry_ids.insert(e, id);
        id
    }

    fn merge(&mut self, old: Option<u32>, add: Entry) -> u32 {
        let mut e = old.map(|i| self.m.entries[i as usize]).unwrap_or_default();
        if e.block == 0 && e.log == 0 {
            e.rule = add.rule;
        } else if add.block & !e.block != 0 && e.block == 0 {
            // a block rule names the entry over a log-only one
            e.rule = add.rule;
        }
        e.block |= add.block;
        e.log |= add.log;
        e.allow |= add.allow;
        self.entry_id(e)
    }

    fn add_name(&mut self, table: Table, name: &str, add: Entry, fresh_id: u32) {
        let name = name.trim_end_matches('.');
        let lowered;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            lowered.as_str()
        } else {
            name
        };
        if name.is_empty() || name.len() > 253 {
            return;
        }
        match table {
            Table::Domains => {
                // one walk per name: new names take the precomputed entry, known ones merge
                let mut merge_from = None;
                let mut fresh = false;
                let node = self.m.names.upsert(name.as_bytes(), |v| {
                    let old = v & ENTRY_MASK;
                    if old == NO_ENTRY {
                        fresh = true;
                        (v & !ENTRY_MASK) | fresh_id
                    } else {
                        merge_from = Some(old);
                        v
                    }
                });
                self.m.domain_count += usize::from(fresh);
                if let Some(old) = merge_from {
                    let id = self.merge(Some(old), add);
                    self.set_value(name, node, |v| (v & !ENTRY_MASK) | id);
                }
            }
            Table::Exact => {
                let node = self.m.names.upsert(name.as_bytes(), |v| v | HAS_EXACT);
                let id = match self.m.exact.get(&node) {
                    Some(&old) => self.merge(Some(old), add),
                    None => {
                        self.m.exact_count += 1;
                        fresh_id
                    }
                };
                self.m.exact.insert(node, id);
            }
        }
    }

    /// Rewrites the value of the node of `name` (which exists, at `node`).
    fn set_value(&mut self, name: &str, node: u32, f: impl FnOnce(u32) -> u32) {
        let t = &mut self.m.names;
        if let Some(slot) = t
            .table
            .find_mut(table_hash(name_hash(name.as_bytes())), |s| s.0 == node)
        {
            slot.1 = f(slot.1);
        }
    }

    /// Adds many domain rules sharing one rule and masks (external lists).
    pub fn add_domains<'n>(
        &mut self,
        names: impl IntoIterator<Item = &'n str>,
        block: u64,
        log: u64,
        allow: u64,
        rule: Rule,
    ) {
        let rule = self.rule_id(rule);
        let add = Entry {
            block,
            log,
            allow,
            rule,
        };
        let fresh = self.entry_id(add);
        let names = names.into_iter();
        self.m.names.reserve(names.size_hint().0);
        for name in names {
            self.add_name(Table::Domains, name, add, fresh);
        }
    }

    /// Adds a domain rule (name and subdomains) for the groups in `block`/`log`/`allow` masks.
    pub fn add_domain(&mut self, name: &str, block: u64, log: u64, allow: u64, rule: Rule) {
        let rule = self.rule_id(rule);
        let add = Entry {
            block,
            log,
            allow,
            rule,
        };
        let fresh = self.merge(None, add);
        self.add_name(Table::Domains, name, add, fresh);
    }

    /// Adds an exact-name rule.
    pub fn add_exact(&mut self, name: &str, block: u64, log: u64, rule: Rule) {
        let rule = self.rule_id(rule);
        let add = Entry {
            block,
            log,
            allow: 0,
            rule,
        };
        let fresh = self.merge(None, add);
        self.add_name(Table::Exact, name, add, fresh);
    }

    /// Adds a wildcard pattern.
    pub fn add_pattern(&mut self, pattern: &str, block: u64, log: u64, rule: Rule) {
        let rule = self.rule_id(rule);
        let id = self.merge(
            None,
            Entry {
                block,
                log,
                allow: 0,
                rule,
            },
        );
        let labels: Vec<&str> = pattern.split('.').collect();
        let last_wild = labels.iter().rposition(|l| l.contains('*')).unwrap_or(0);
        let fixed = labels[last_wild + 1..].join(".").to_ascii_lowercase();
        if fixed.is_empty() || fixed.len() > 253 {
            // a wildcard in the last label: no suffix to index it under, as before
            return;
        }
        let node = self.m.names.upsert(fixed.as_bytes(), |v| v | HAS_PATTERNS);
        self.m.patterns.entry(node).or_default().push((pattern.into(), id));
    }

    /// Adds an IP prefix rule.
    pub fn add_prefix(&mut self, net: IpNet, block: u64, log: u64, rule: Rule) {
        let rule = self.rule_id(rule);
        let id = self.merge(
            None,
            Entry {
                block,
                log,
                allow: 0,
                rule,
            },
        );
        self.m.ip_groups |= block | log;
        match net {
            IpNet::V4(n) => self.m.v4.push((u32::from(n.network()), u32::from(n.broadcast()), id)),
            IpNet::V6(n) => self.m.v6.push((u128::from(n.network()), u128::from(n.broadcast()), id)),
        }
    }

    fn add_plan(&mut self, plan: &EnforcementPlan) {
        for (gi, g) in plan.groups.iter().enumerate().take(MAX_GROUPS) {
            let bit = 1u64 << gi;
            for r in &g.rules {
                let Some(app) = plan.apps.get(&r.app) else {
                    continue;
                };
                let (block, log) = match r.action {
                    Action::Block => (bit, 0),
                    Action::LogOnly => (0, bit),
                };
                let source = match &r.reason {
                    RuleReason::Bypass(m) => RuleSource::Bypass {
                        app: Arc::from(r.app.as_str()),
                        method: m.as_str(),
                    },
                    other => RuleSource::App {
                        app: Arc::from(r.app.as_str()),
                        category: Arc::from(app.categories.first().map(String::as_str).unwrap_or("")),
                        why: match other {
                            RuleReason::Decision(_) => "decision",
                            RuleReason::Category(_) => "category",
                            RuleReason::Override(_) => "override",
                            RuleReason::Bypass(_) => "bypass",
                        },
                    },
                };
                let answer = app.bypass.as_ref().and_then(|b| match b.answer {
                    catalog::BypassAnswer::Nxdomain => Some(BlockedAnswer::Nxdomain),
                    catalog::BypassAnswer::Nodata => Some(BlockedAnswer::Nodata),
                    catalog::BypassAnswer::Blocked => None,
                });
                let rule = Rule { source, answer };
                for d in app.domains.iter().chain(&app.cname_targets) {
                    self.add_domain(d, block, log, 0, rule.clone());
                }
                for d in &app.exact {
                    self.add_exact(d, block, log, rule.clone());
                }
                for p in &app.patterns {
                    self.add_pattern(p, block, log, rule.clone());
                }
                for p in &app.ip_prefixes {
                    if let Ok(net) = p.parse::<IpNet>() {
                        self.add_prefix(net, block, log, rule.clone());
                    }
                }
            }
            let custom = Rule {
                source: RuleSource::Custom,
                answer: None,
            };
            for d in &g.custom.deny {
                self.add_domain(d, bit, 0, 0, custom.clone());
            }
            for d in g.custom.allow.iter().chain(&g.carve_outs) {
                self.add_domain(d, 0, 0, bit, custom.clone());
            }
        }
    }

    /// Bits of the groups named (all groups when `names` is empty).
    pub fn group_mask(&self, names: &[String]) -> u64 {
        let mut mask = 0;
        for (i, g) in self.m.groups.iter().enumerate() {
            if names.is_empty() || names.iter().any(|n| **n == *g.id) {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// Finishes: sorts ranges, releases spare capacity.
    pub fn build(mut self) -> Matcher {
        self.m.v4.sort_unstable();
        self.m.v6.sort_unstable();
        self.m.names.shrink();
        self.m.entry_ids = FxHashMap::default();
        self.m.rule_ids = FxHashMap::default();
        self.m
    }
}

#[derive(Clone, Copy)]
enum Table {
    Domains,
    Exact,
}

impl Matcher {
    /// Groups, in plan order.
    pub fn groups(&self) -> &[GroupInfo] {
        &self.groups
    }

    /// The group a client falls into: the most specific matching network, else the default group.
    pub fn group_for(&self, ip: IpAddr) -> usize {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let mut best: Option<(u8, usize)> = None;
        for (i, g) in self.groups.iter().enumerate() {
            for n in &g.clients {
                if n.contains(&ip) && best.is_none_or(|(len, _)| n.prefix_len() > len) {
                    best = Some((n.prefix_len(), i));
                }
            }
        }
        best.map_or(self.default_group, |(_, i)| i)
    }

    /// The group with client id `id` (DoH path, DoT SNI), if any.
    pub fn group_for_client_id(&self, id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.client_ids.iter().any(|c| c == id))
    }

    /// A rule by index.
    pub fn rule(&self, id: u32) -> &Rule {
        &self.rules[id as usize]
    }

    /// A rule's category as query events carry it: the app's first category,
    /// the bypass method, `custom`, or `list:NAME`.
    pub fn rule_category(&self, id: u32) -> &Arc<str> {
        &self.rule_categories[id as usize]
    }

    /// Looks a name (dotted, lowercase) up for group `g`.
    ///
    /// Any allow rule on the name or a parent wins. Otherwise the most
    /// specific block wins, else the most specific log-only rule, where
    /// specificity runs: exact name, then per suffix from the longest, the
    /// domain rule before that suffix's patterns.
    pub fn check_name(&self, name: &str, g: usize) -> Verdict {
        let bit = 1u64 << g;
        let full = labels(name);
        // (rank, rule, labels); a higher rank is more specific; ties keep the first seen
        let mut block: Option<(u32, u32, u8)> = None;
        let mut log: Option<(u32, u32, u8)> = None;
        let mut allowed = false;
        let mut note = |e: &Entry, rank: u32, labels: u8| {
            if e.allow & bit != 0 {
                allowed = true;
            }
            if e.block & bit != 0 {
                if block.is_none_or(|b| rank > b.0) {
                    block = Some((rank, e.rule, labels));
                }
            } else if e.log & bit != 0 && log.is_none_or(|l| rank > l.0) {
                log = Some((rank, e.rule, labels));
            }
        };
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > 255 {
            return Verdict::Pass;
        }
        walk_suffixes(bytes, |start, level, hash| {
            let Some((node, value)) = self.names.find(hash, &bytes[start..]) else {
                return false; // no rule names this suffix or anything below it
            };
            let level = u32::from(level);
            let entry = value & ENTRY_MASK;
            if entry != NO_ENTRY {
                note(&self.entries[entry as usize], level * 2 + 1, level.min(255) as u8);
            }
            if value & HAS_PATTERNS != 0
                && let Some(list) = self.patterns.get(&node)
            {
                for (pat, id) in list {
                    if pattern_matches(pat, name) {
                        note(&self.entries[*id as usize], level * 2, full);
                    }
                }
            }
            if start == 0
                && value & HAS_EXACT != 0
                && let Some(&id) = self.exact.get(&node)
            {
                note(&self.entries[id as usize], u32::MAX, full);
            }
            true
        });
        if allowed {
            return Verdict::Allowed;
        }
        match (block, log) {
            (Some((_, r, l)), _) => Verdict::Block(r, l),
            (None, Some((_, r, l))) => Verdict::Log(r, l),
            (None, None) => Verdict::Pass,
        }
    }

    /// Whether any group's IP rules need answers checked for group `g`.
    pub fn has_ip_rules(&self, g: usize) -> bool {
        self.ip_groups & (1 << g) != 0
    }

    /// The entry of the most recent range (in sort order, within 64) that contains `x` and has a rule for `bit`.
    fn range_hit<T: Ord + Copy>(&self, ranges: &[(T, T, u32)], x: T, bit: u64) -> Option<u32> {
        let idx = ranges.partition_point(|r| r.0 <= x);
        ranges[..idx]
            .iter()
            .rev()
            .take(64)
            .find(|r| r.1 >= x && (self.entries[r.2 as usize].block | self.entries[r.2 as usize].log) & bit != 0)
            .map(|r| r.2)
    }

    /// Looks an answer address up for group `g`.
    pub fn check_ip(&self, ip: IpAddr, g: usize) -> Verdict {
        let bit = 1u64 << g;
        let hit = match ip {
            IpAddr::V4(a) => self.range_hit(&self.v4, u32::from(a), bit),
            IpAddr::V6(a) => self.range_hit(&self.v6, u128::from(a), bit),
        };
        match hit {
            None => Verdict::Pass,
            Some(id) => {
                let e = &self.entries[id as usize];
                if e.block & bit != 0 {
                    Verdict::Block(e.rule, 0)
                } else {
                    Verdict::Log(e.rule, 0)
                }
            }
        }
    }

    /// What it holds.
    pub fn stats(&self) -> MatcherStats {
        MatcherStats {
            domains: self.domain_count,
            exact: self.exact_count,
            patterns: self.patterns.values().map(Vec::len).sum(),
            ip_ranges: self.v4.len() + self.v6.len(),
            groups: self.groups.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    thread_local! {
        /// Narrows name hashes to two bits on this thread (collision handling under test).
        pub(super) static NARROW_HASH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn plan() -> EnforcementPlan {
        policy::Policy::builtin(None)
            .expect("builtin")
            .plan(catalog::Day::new(2026, 11, 22).expect("day"))
    }

    #[test]
    fn blocks_tiktok_and_subdomains_not_lookalikes() {
        let m = MatcherBuilder::new(&plan()).build();
        let g = m.group_for("10.1.2.3".parse().expect("ip"));
        assert!(matches!(m.check_name("www.tiktok.com", g), Verdict::Block(_, 2)));
        assert!(matches!(m.check_name("tiktokv.eu", g), Verdict::Block(..)));
        assert_eq!(m.check_name("nottiktok.com", g), Verdict::Pass);
        assert_eq!(m.check_name("example.org", g), Verdict::Pass);
        match m.check_name("p16-tiktok-va.ibyteimg.com", g) {
            Verdict::Block(r, _) => assert_eq!(m.rule(r).source.app(), Some("tiktok")),
            other => panic!("pattern not matched: {other:?}"),
        }
    }

    #[test]
    fn bypass_names_carry_their_answers() {
        let m = MatcherBuilder::new(&plan()).build();
        let Verdict::Block(r, _) = m.check_name("use-application-dns.net", 0) else {
            panic!("canary not blocked")
        };
        assert_eq!(m.rule(r).answer, Some(BlockedAnswer::Nxdomain));
        assert!(m.rule(r).source.is_bypass());
        let Verdict::Block(r, _) = m.check_name("_dns.resolver.arpa", 0) else {
            panic!("ddr not blocked")
        };
        assert_eq!(m.rule(r).answer, Some(BlockedAnswer::Nodata));
        // exact only: a subdomain of the canary is not the canary
        assert_eq!(m.check_name("x.use-application-dns.net", 0), Verdict::Pass);
    }

    #[test]
    fn allow_beats_block_and_groups_differ() {
        let p = plan();
        let mut b = MatcherBuilder::new(&p);
        let corp = b.group_mask(&["corporate".into()]);
        let rule = Rule {
            source: RuleSource::Custom,
            answer: None,
        };
        b.add_domain("www.tiktok.com", 0, 0, corp, rule.clone());
        b.add_prefix("192.0.2.0/24".parse().expect("net"), corp, 0, rule);
        let m = b.build();
        let guest = m.groups().iter().position(|g| &*g.id == "guest").expect("guest");
        assert_eq!(m.check_name("www.tiktok.com", 0), Verdict::Allowed);
        assert_eq!(m.check_name("a.www.tiktok.com", 0), Verdict::Allowed);
        assert!(matches!(m.check_name("www.tiktok.com", guest), Verdict::Block(..)));
        assert!(matches!(
            m.check_ip("192.0.2.9".parse().expect("ip"), 0),
            Verdict::Block(..)
        ));
        assert_eq!(m.check_ip("192.0.3.9".parse().expect("ip"), 0), Verdict::Pass);
        assert_eq!(m.check_ip("192.0.2.9".parse().expect("ip"), guest), Verdict::Pass);
    }

    /// What a rule under test is.
    #[derive(Clone, Debug)]
    enum Kind {
        Domain,
        Exact,
        Pattern,
    }

    fn label() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::sample::select(vec!["a", "b", "www", "cdn", "x-y", "aaaaaaaaaaaaaaaaaa"]).prop_map(String::from)
    }

    fn name_in(tld: &'static str) -> impl proptest::strategy::Strategy<Value = String> {
        proptest::collection::vec(label(), 0..4).prop_map(move |mut l| {
            l.push(tld.to_string());
            l.join(".")
        })
    }

    fn rule_strategy() -> impl proptest::strategy::Strategy<Value = (Kind, String, u64, u64, u64)> {
        use proptest::prelude::*;
        (
            prop_oneof![Just(Kind::Domain), Just(Kind::Exact), Just(Kind::Pattern)],
            name_in("zz"),
            0u64..8,
            0u64..8,
            0u64..8,
            0usize..3,
        )
            .prop_map(|(kind, name, block, log, allow, wild)| {
                let name = match kind {
                    // a wildcard in one label of the name, never the last
                    Kind::Pattern => {
                        let mut l: Vec<String> = name.split('.').map(String::from).collect();
                        let at = wild % l.len().max(1);
                        if at + 1 < l.len() {
                            l[at] = format!("{}*", &l[at][..l[at].len().min(1)]);
                        } else {
                            l.insert(0, "*".into());
                        }
                        l.join(".")
                    }
                    _ => name,
                };
                (kind, name, block, log, allow)
            })
    }

    /// The lookup as first written: exact name, then every suffix from the
    /// longest, its domain rule before its patterns; any allow wins, else the
    /// first block, else the first log rule.
    fn reference(rules: &[(Kind, String, u64, u64, u64)], name: &str, g: usize) -> Verdict {
        let bit = 1u64 << g;
        let merge = |e: &mut Option<Entry>, add: Entry| {
            let mut m = e.unwrap_or_default();
            if m.block == 0 && (m.log == 0 || add.block != 0) {
                m.rule = add.rule;
            }
            m.block |= add.block;
            m.log |= add.log;
            m.allow |= add.allow;
            *e = Some(m);
        };
        let mut domains: std::collections::HashMap<&str, Option<Entry>> = std::collections::HashMap::new();
        let mut exact: std::collections::HashMap<&str, Option<Entry>> = std::collections::HashMap::new();
        let mut patterns: Vec<(&str, String, Entry)> = Vec::new();
        for (i, (kind, n, block, log, allow)) in rules.iter().enumerate() {
            let e = Entry {
                block: *block,
                log: *log,
                allow: if matches!(kind, Kind::Domain) { *allow } else { 0 },
                rule: i as u32,
            };
            match kind {
                Kind::Domain => merge(domains.entry(n).or_default(), e),
                Kind::Exact => merge(exact.entry(n).or_default(), e),
                Kind::Pattern => {
                    let l: Vec<&str> = n.split('.').collect();
                    let w = l.iter().rposition(|x| x.contains('*')).unwrap_or(0);
                    patterns.push((n, l[w + 1..].join("."), e));
                }
            }
        }
        let mut order: Vec<(Entry, u8)> = Vec::new();
        if let Some(Some(e)) = exact.get(name) {
            order.push((*e, labels(name)));
        }
        let mut suffix = name;
        loop {
            if let Some(Some(e)) = domains.get(suffix) {
                order.push((*e, labels(suffix)));
            }
            for (p, fixed, e) in &patterns {
                if fixed == suffix && pattern_matches(p, name) {
                    order.push((*e, labels(name)));
                }
            }
            match suffix.find('.') {
                Some(i) => suffix = &suffix[i + 1..],
                None => break,
            }
        }
        if order.iter().any(|(e, _)| e.allow & bit != 0) {
            return Verdict::Allowed;
        }
        if let Some((e, l)) = order.iter().find(|(e, _)| e.block & bit != 0) {
            return Verdict::Block(e.rule, *l);
        }
        if let Some((e, l)) = order.iter().find(|(e, _)| e.log & bit != 0) {
            return Verdict::Log(e.rule, *l);
        }
        Verdict::Pass
    }

    proptest::proptest! {
        // each case compiles the built-in plan; with narrowed hashes that is slow in a debug build
        #![proptest_config(proptest::test_runner::Config::with_cases(96))]

        /// The top-down walk finds what the straightforward lookup finds.
        #[test]
        fn walk_agrees_with_reference(
            rules in proptest::collection::vec(rule_strategy(), 1..24),
            names in proptest::collection::vec(name_in("zz"), 1..16),
            narrow in proptest::bool::ANY,
        ) {
            NARROW_HASH.with(|n| n.set(narrow));
            static PLAN: std::sync::OnceLock<EnforcementPlan> = std::sync::OnceLock::new();
            let mut b = MatcherBuilder::new(PLAN.get_or_init(plan));
            // rule ids in this matcher follow the rules' positions: one distinct list name each
            let ids: Vec<u32> = (0..rules.len())
                .map(|i| b.rule_id(Rule { source: RuleSource::List(Arc::from(format!("t{i}"))), answer: None }))
                .collect();
            for (i, (kind, n, block, log, allow)) in rules.iter().enumerate() {
                let rule = b.m.rules[ids[i] as usize].clone();
                match kind {
                    Kind::Domain => b.add_domain(n, *block, *log, *allow, rule),
                    Kind::Exact => b.add_exact(n, *block, *log, rule),
                    Kind::Pattern => b.add_pattern(n, *block, *log, rule),
                }
            }
            let m = b.build();
            for name in names.iter().chain(rules.iter().map(|r| &r.1)) {
                let name = name.replace('*', "q");
                for g in 0..3 {
                    let want = match reference(&rules, &name, g) {
                        Verdict::Block(r, l) => Verdict::Block(ids[r as usize], l),
                        Verdict::Log(r, l) => Verdict::Log(ids[r as usize], l),
                        v => v,
                    };
                    proptest::prop_assert_eq!(m.check_name(&name, g), want, "name {} group {}", name, g);
                }
            }
        }
    }

    #[test]
    fn stats_count_rule_names_not_parents() {
        let p = plan();
        let before = MatcherBuilder::new(&p).build().stats();
        let mut b = MatcherBuilder::new(&p);
        let rule = Rule {
            source: RuleSource::Custom,
            answer: None,
        };
        b.add_domain("a.b.c.example.zz", 1, 0, 0, rule.clone());
        b.add_domain("a.b.c.example.zz", 2, 0, 0, rule.clone());
        b.add_exact("b.c.example.zz", 1, 0, rule);
        let after = b.build().stats();
        assert_eq!(after.domains, before.domains + 1);
        assert_eq!(after.exact, before.exact + 1);
    }
}
