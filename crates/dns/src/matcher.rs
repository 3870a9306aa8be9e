//! Name and address matching: which rule, if any, a query name, a CNAME
//! target or an answer address hits, per client group.
//!
//! Names live in one arena indexed by a hash table (no allocation per name),
//! so a million-domain list costs tens of megabytes, not hundreds. Each
//! name points at a deduplicated [`Entry`]: a bit per group that blocks it,
//! a bit per group that only logs it, and the rule it came from.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use catalog::domain::pattern_matches;
use hashbrown::HashTable;
use ipnet::IpNet;
use policy::{Action, EnforcementPlan, RuleReason};
use rustc_hash::{FxBuildHasher, FxHashMap};

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

/// Names in one arena + hash index.
#[derive(Default)]
struct NameTable {
    arena: Vec<u8>,
    table: HashTable<(u32, u32)>,
    hasher: FxBuildHasher,
}

impl NameTable {
    fn name_at(&self, off: u32) -> &[u8] {
        let off = off as usize;
        let len = self.arena[off] as usize;
        &self.arena[off + 1..off + 1 + len]
    }

    fn get(&self, name: &str) -> Option<u32> {
        let h = self.hasher.hash_one(name.as_bytes());
        self.table
            .find(h, |&(off, _)| self.name_at(off) == name.as_bytes())
            .map(|&(_, e)| e)
    }

    fn upsert(&mut self, name: &str, f: impl FnOnce(Option<u32>) -> u32) {
        let h = self.hasher.hash_one(name.as_bytes());
        let arena = &self.arena;
        let at = |off: u32| {
            let off = off as usize;
            let len = arena[off] as usize;
            &arena[off + 1..off + 1 + len]
        };
        if let Some(slot) = self.table.find_mut(h, |&(off, _)| at(off) == name.as_bytes()) {
            slot.1 = f(Some(slot.1));
            return;
        }
        let off = self.arena.len() as u32;
        self.arena.push(name.len().min(255) as u8);
        self.arena.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
        let entry = f(None);
        let hasher = &self.hasher;
        let arena = &self.arena;
        self.table.insert_unique(h, (off, entry), |&(o, _)| {
            let o = o as usize;
            let len = arena[o] as usize;
            hasher.hash_one(&arena[o + 1..o + 1 + len])
        });
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn shrink(&mut self) {
        self.arena.shrink_to_fit();
        let hasher = &self.hasher;
        let arena = &self.arena;
        self.table.shrink_to_fit(|&(o, _)| {
            let o = o as usize;
            let len = arena[o] as usize;
            hasher.hash_one(&arena[o + 1..o + 1 + len])
        });
    }
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
    domains: NameTable,
    exact: NameTable,
    /// Patterns indexed by their fixed suffix (after the last wildcard label).
    patterns: FxHashMap<Box<str>, Vec<(Box<str>, u32)>>,
    entries: Vec<Entry>,
    entry_ids: FxHashMap<Entry, u32>,
    rules: Vec<Rule>,
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
                domains: NameTable::default(),
                exact: NameTable::default(),
                patterns: FxHashMap::default(),
                entries: Vec::new(),
                entry_ids: FxHashMap::default(),
                rules: Vec::new(),
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
        self.m.rules.push(rule.clone());
        self.m.rule_ids.insert(rule, id);
        id
    }

    fn entry_id(&mut self, e: Entry) -> u32 {
        if let Some(&id) = self.m.entry_ids.get(&e) {
            return id;
        }
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
        // one hash per name: new names take the precomputed entry, known ones merge
        let mut merge_from = None;
        let tab = match table {
            Table::Domains => &mut self.m.domains,
            Table::Exact => &mut self.m.exact,
        };
        tab.upsert(name, |old| match old {
            None => fresh_id,
            Some(o) => {
                merge_from = Some(o);
                o
            }
        });
        if let Some(old) = merge_from {
            let id = self.merge(Some(old), add);
            let tab = match table {
                Table::Domains => &mut self.m.domains,
                Table::Exact => &mut self.m.exact,
            };
            tab.upsert(name, |_| id);
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
        let fixed = labels[last_wild + 1..].join(".");
        self.m
            .patterns
            .entry(fixed.into_boxed_str())
            .or_default()
            .push((pattern.into(), id));
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
        self.m.domains.shrink();
        self.m.exact.shrink();
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

    /// Looks a name (dotted, lowercase) up for group `g`.
    pub fn check_name(&self, name: &str, g: usize) -> Verdict {
        let bit = 1u64 << g;
        let mut found: Option<(bool, u32, u8)> = None; // (is_block, rule, labels)
        let note = |e: &Entry, labels: u8, found: &mut Option<(bool, u32, u8)>| {
            if e.block & bit != 0 {
                if !found.is_some_and(|f| f.0) {
                    *found = Some((true, e.rule, labels));
                }
            } else if e.log & bit != 0 && found.is_none() {
                *found = Some((false, e.rule, labels));
            }
        };
        if let Some(id) = self.exact.get(name) {
            let e = &self.entries[id as usize];
            if e.allow & bit != 0 {
                return Verdict::Allowed;
            }
            note(e, labels(name), &mut found);
        }
        let mut suffix = name;
        loop {
            if let Some(id) = self.domains.get(suffix) {
                let e = &self.entries[id as usize];
                if e.allow & bit != 0 {
                    return Verdict::Allowed;
                }
                note(e, labels(suffix), &mut found);
            }
            if !self.patterns.is_empty()
                && let Some(list) = self.patterns.get(suffix)
            {
                for (pat, id) in list {
                    if pattern_matches(pat, name) {
                        note(&self.entries[*id as usize], labels(name), &mut found);
                    }
                }
            }
            match suffix.find('.') {
                Some(i) => suffix = &suffix[i + 1..],
                None => break,
            }
        }
        match found {
            None => Verdict::Pass,
            Some((true, r, l)) => Verdict::Block(r, l),
            Some((false, r, l)) => Verdict::Log(r, l),
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
            domains: self.domains.len(),
            exact: self.exact.len(),
            patterns: self.patterns.values().map(Vec::len).sum(),
            ip_ranges: self.v4.len() + self.v6.len(),
            groups: self.groups.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
