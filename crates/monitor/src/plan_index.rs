//! The EnforcementPlan as lookup tables for log detection: name → app
//! (exact names, every parent domain, wildcard patterns, CNAME targets) and
//! address → app (IP prefixes), answered per policy group.
//!
//! Built once per plan; lookups of names that match nothing do not allocate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use ipnet::IpNet;
use policy::{Action, EnforcementPlan, RuleReason};

/// An app or bypass method of the plan, as detection reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedApp {
    /// Catalog id (`tiktok`, `firefox-canary`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `true` for bypass methods (`kind = "bypass"` in the plan).
    pub bypass: bool,
    /// The bypass method (`canary`, `encrypted-dns`, …) for bypass entries.
    pub method: Option<&'static str>,
    /// The plan's categories, first is the primary one.
    pub categories: Vec<String>,
    except: Vec<String>,
    index: u32,
}

impl IndexedApp {
    /// Position in the plan's apps (id order): a small key for tables.
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// How a name or address matched an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchVia {
    /// `exact`: the name only.
    Exact,
    /// `domains` (or `cname_targets`): the name is this domain or below it.
    Domain,
    /// `patterns`: a wildcard pattern.
    Pattern,
    /// `ip_prefixes`: the address is in the prefix.
    Prefix,
}

/// A plan group's view: which apps it has rules for, which names it allows.
#[derive(Debug, Clone)]
pub struct IndexedGroup {
    /// Group id.
    pub id: String,
    /// The default group (clients no network names).
    pub default: bool,
    /// The group's bypass switches.
    pub bypass: policy::plan::BypassState,
    clients: Vec<IpNet>,
    /// app index → (action, reason)
    rules: Vec<Option<(Action, RuleReason)>>,
    /// custom allow + carve-outs: these names and their subdomains are never flagged.
    allow: Vec<String>,
}

/// The answer to a lookup: the app, the group's rule, and what matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMatch<'p> {
    /// The app or bypass method.
    pub app: &'p IndexedApp,
    /// The group's action for it.
    pub action: Action,
    /// Why the group has the rule.
    pub reason: &'p RuleReason,
    /// How it matched.
    pub via: MatchVia,
    /// The plan entry that matched: a domain, exact name, pattern or prefix.
    pub entry: String,
}

impl IndexedGroup {
    fn rule(&self, app: u32) -> Option<&(Action, RuleReason)> {
        self.rules.get(app as usize).and_then(Option::as_ref)
    }
    fn has_rule(&self, app: u32) -> bool {
        self.rule(app).is_some()
    }
}

/// A match that borrows the plan entry (what [`PlanIndex::match_name`] and
/// [`PlanIndex::match_ip`] return, before the entry is copied).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit<'p> {
    pub app: &'p IndexedApp,
    pub action: Action,
    pub reason: &'p RuleReason,
    pub via: MatchVia,
    pub entry: &'p str,
}

impl<'p> Hit<'p> {
    fn owned(self) -> PlanMatch<'p> {
        PlanMatch {
            app: self.app,
            action: self.action,
            reason: self.reason,
            via: self.via,
            entry: self.entry.to_string(),
        }
    }
}

/// FxHash (rustc's hasher) for small keys: names looked up in a table built
/// once from the plan, addresses, short ids. Not keyed: do not use it for
/// tables whose keys an attacker picks to make them collide on purpose
/// beyond what a report over their own log lines costs them.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

/// Builds [`FxHasher`]s (for `HashMap::with_hasher` / `default`).
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

type Fx = FxHasher;

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // splitmix64's finaliser: the table uses the low bits, which the
        // multiplications above leave poorly mixed
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// Per prefix length (longest first): masked address → (prefix text, app).
type PrefixTable<A> = Vec<(u8, FxMap<A, Vec<(u32, String)>>)>;

#[derive(Debug, Clone, Copy)]
struct NameEntry {
    app: u32,
    exact: bool,
}

#[derive(Debug, Clone, Default)]
struct NameSlot {
    entries: Vec<NameEntry>,
    /// Patterns ending in `.<this name>` (indices into `patterns`).
    patterns: Vec<usize>,
}

/// Lookup tables over one [`EnforcementPlan`].
#[derive(Debug, Clone)]
pub struct PlanIndex {
    apps: Vec<IndexedApp>,
    /// Plan names (domains, exact names, CNAME targets), the domains that
    /// patterns end in, and every parent domain of those (empty slots), so a
    /// walk over a name's parent domains from the top stops at the first
    /// one not in the table.
    names: FxMap<Box<str>, NameSlot>,
    patterns: Vec<(String, u32)>,
    /// Patterns without a literal domain at their end, tried on every name.
    pattern_rest: Vec<usize>,
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
    /// Every prefix as a merged, sorted address range: most addresses are in
    /// none, which a binary search tells before the per-length lookups.
    v4_ranges: Vec<(u32, u32)>,
    v6_ranges: Vec<(u128, u128)>,
    groups: Vec<IndexedGroup>,
    default_group: usize,
    /// Prefixes or client networks in the plan that did not parse (skipped).
    pub skipped_entries: Vec<String>,
}

fn v4_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn v6_mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// IPv4-mapped IPv6 addresses are looked up as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// Sorted, merged inclusive ranges.
fn merged_ranges<A: Ord + Copy>(it: impl Iterator<Item = (A, A)>) -> Vec<(A, A)> {
    let mut v: Vec<(A, A)> = it.collect();
    v.sort();
    let mut out: Vec<(A, A)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Whether `a` is in one of the sorted, disjoint ranges.
fn in_ranges<A: Ord + Copy>(ranges: &[(A, A)], a: A) -> bool {
    let i = ranges.partition_point(|(lo, _)| *lo <= a);
    i > 0 && a <= ranges[i - 1].1
}

fn under(name: &str, domain: &str) -> bool {
    catalog::domain::is_subdomain_or_self(name, domain)
}

impl PlanIndex {
    /// Builds the tables for `plan`.
    pub fn new(plan: &EnforcementPlan) -> PlanIndex {
        let mut idx = PlanIndex {
            apps: Vec::with_capacity(plan.apps.len()),
            names: FxMap::default(),
            patterns: Vec::new(),
            pattern_rest: Vec::new(),
            v4: Vec::new(),
            v6: Vec::new(),
            v4_ranges: Vec::new(),
            v6_ranges: Vec::new(),
            groups: Vec::new(),
            default_group: 0,
            skipped_entries: Vec::new(),
        };
        let mut by_id: HashMap<&str, u32> = HashMap::new();
        let mut v4: HashMap<u8, FxMap<u32, Vec<(u32, String)>>> = HashMap::new();
        let mut v6: HashMap<u8, FxMap<u128, Vec<(u32, String)>>> = HashMap::new();
        // plan.apps is a BTreeMap: app indices follow id order, which breaks ties.
        for (i, (id, app)) in plan.apps.iter().enumerate() {
            let i = i as u32;
            by_id.insert(id.as_str(), i);
            idx.apps.push(IndexedApp {
                id: id.clone(),
                name: app.name.clone(),
                bypass: app.kind == catalog::AppKind::Bypass,
                method: app.bypass.as_ref().map(|b| b.method.as_str()),
                categories: app.categories.clone(),
                except: app.except.iter().map(|s| s.to_ascii_lowercase()).collect(),
                index: i,
            });
            let domains = app.domains.iter().chain(&app.cname_targets);
            for (name, exact) in domains.map(|d| (d, false)).chain(app.exact.iter().map(|e| (e, true))) {
                let key = name.trim_end_matches('.').to_ascii_lowercase().into_boxed_str();
                idx.names
                    .entry(key)
                    .or_default()
                    .entries
                    .push(NameEntry { app: i, exact });
            }
            for p in &app.patterns {
                idx.patterns.push((p.trim_end_matches('.').to_ascii_lowercase(), i));
            }
            for p in &app.ip_prefixes {
                match parse_net(p) {
                    Some(IpNet::V4(n)) => v4
                        .entry(n.prefix_len())
                        .or_default()
                        .entry(u32::from(n.network()))
                        .or_default()
                        .push((i, p.clone())),
                    Some(IpNet::V6(n)) => v6
                        .entry(n.prefix_len())
                        .or_default()
                        .entry(u128::from(n.network()))
                        .or_default()
                        .push((i, p.clone())),
                    None => idx.skipped_entries.push(format!("{id}: ip prefix `{p}`")),
                }
            }
        }
        for (i, (p, _)) in idx.patterns.iter().enumerate() {
            // `a-*.b.example` → every match ends with `.b.example`: bucket `b.example`
            let tail = p.rsplit('*').next().unwrap_or("");
            match tail.split_once('.') {
                Some((_, domain)) if !domain.is_empty() && !domain.contains('*') => {
                    idx.names.entry(domain.into()).or_default().patterns.push(i)
                }
                _ => idx.pattern_rest.push(i),
            }
        }
        let parents: Vec<Box<str>> = idx
            .names
            .keys()
            .flat_map(|k| k.match_indices('.').map(move |(d, _)| Box::from(&k[d + 1..])))
            .collect();
        for p in parents {
            idx.names.entry(p).or_default();
        }
        idx.v4_ranges = merged_ranges(
            v4.iter()
                .flat_map(|(len, m)| m.keys().map(move |a| (*a, *a | !v4_mask(*len)))),
        );
        idx.v6_ranges = merged_ranges(
            v6.iter()
                .flat_map(|(len, m)| m.keys().map(move |a| (*a, *a | !v6_mask(*len)))),
        );
        idx.v4 = v4.into_iter().collect();
        idx.v4.sort_by_key(|t| std::cmp::Reverse(t.0));
        idx.v6 = v6.into_iter().collect();
        idx.v6.sort_by_key(|t| std::cmp::Reverse(t.0));
        for (gi, g) in plan.groups.iter().enumerate() {
            if g.default {
                idx.default_group = gi;
            }
            let mut clients = Vec::new();
            for c in &g.clients {
                match parse_net(c) {
                    Some(n) => clients.push(n),
                    None => idx.skipped_entries.push(format!("group {}: client `{c}`", g.id)),
                }
            }
            let mut rules = vec![None; idx.apps.len()];
            for r in &g.rules {
                if let Some(&a) = by_id.get(r.app.as_str()) {
                    rules[a as usize] = Some((r.action, r.reason.clone()));
                }
            }
            let allow = g
                .custom
                .allow
                .iter()
                .chain(&g.carve_outs)
                .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            idx.groups.push(IndexedGroup {
                id: g.id.clone(),
                default: g.default,
                bypass: g.bypass.clone(),
                clients,
                rules,
                allow,
            });
        }
        idx
    }

    /// The apps and bypass methods, in id order ([`IndexedApp::index`] is the position).
    pub fn apps(&self) -> &[IndexedApp] {
        &self.apps
    }

    /// The groups, in the plan's order.
    pub fn groups(&self) -> &[IndexedGroup] {
        &self.groups
    }

    /// The group of a client: the group whose `clients` networks contain
    /// `ip` (the most specific network wins; on a tie the earlier group),
    /// else the default group. `None` when the plan has no groups.
    pub fn group_for(&self, ip: Option<IpAddr>) -> Option<&IndexedGroup> {
        let mut best: Option<(u8, usize)> = None;
        if let Some(ip) = ip.map(canonical) {
            for (i, g) in self.groups.iter().enumerate() {
                for n in &g.clients {
                    if n.contains(&ip) && best.is_none_or(|(len, _)| n.prefix_len() > len) {
                        best = Some((n.prefix_len(), i));
                    }
                }
            }
        }
        self.groups.get(best.map_or(self.default_group, |(_, i)| i))
    }

    /// The app a name belongs to for `group`, if the group has a rule for it.
    /// The most specific match wins (longest matched name; ties: app id
    /// order); names under the group's custom allow list or carve-outs and
    /// the app's own `except` names are not matched. `name` may carry a
    /// trailing dot and upper case.
    pub fn match_name<'p>(&'p self, group: &'p IndexedGroup, name: &str) -> Option<PlanMatch<'p>> {
        self.name_hit(group, name).map(Hit::owned)
    }

    /// [`PlanIndex::match_name`] without copying the entry.
    pub(crate) fn name_hit<'p>(&'p self, group: &'p IndexedGroup, name: &str) -> Option<Hit<'p>> {
        let name = name.trim_end_matches('.');
        if name.is_empty() {
            return None;
        }
        let lowered;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            lowered.as_str()
        } else {
            name
        };
        let usable = |app: u32| group.has_rule(app) && !self.apps[app as usize].except.iter().any(|e| under(name, e));
        // (matched length, app) — larger length wins, then smaller app index
        let mut best: Option<(usize, u32, MatchVia, &'p str)> = None;
        let mut consider = |len: usize, app: u32, via: MatchVia, entry: &'p str| {
            let better = match best {
                None => true,
                Some((l, a, _, _)) => len > l || (len == l && app < a),
            };
            if better && usable(app) {
                best = Some((len, app, via, entry));
            }
        };
        // the pattern that would win: smallest app, then first in plan order
        let mut pattern: Option<(u32, usize)> = None;
        let mut try_pattern = |i: usize| {
            let (p, app) = &self.patterns[i];
            if pattern.is_none_or(|(a, j)| (*app, i) < (a, j)) && catalog::domain::pattern_matches(p, name) {
                pattern = Some((*app, i));
            }
        };
        // parent domains from the top (`com`, `tiktok.com`, `www.tiktok.com`)
        let b = name.as_bytes();
        let mut end = b.len();
        loop {
            let start = memchr::memrchr(b'.', &b[..end]).map_or(0, |d| d + 1);
            let suffix = &name[start..];
            let Some((key, slot)) = self.names.get_key_value(suffix) else {
                break;
            };
            for e in &slot.entries {
                if e.exact && start != 0 {
                    continue;
                }
                let via = if e.exact { MatchVia::Exact } else { MatchVia::Domain };
                consider(suffix.len(), e.app, via, key);
            }
            for &i in &slot.patterns {
                if usable(self.patterns[i].1) {
                    try_pattern(i);
                }
            }
            if start == 0 {
                break;
            }
            end = start - 1;
        }
        for &i in &self.pattern_rest {
            if usable(self.patterns[i].1) {
                try_pattern(i);
            }
        }
        if let Some((app, i)) = pattern {
            consider(name.len(), app, MatchVia::Pattern, &self.patterns[i].0);
        }
        let (_, app, via, entry) = best?;
        if group.allow.iter().any(|a| under(name, a)) {
            return None;
        }
        let (action, reason) = group.rule(app)?;
        Some(Hit {
            app: &self.apps[app as usize],
            action: *action,
            reason,
            via,
            entry,
        })
    }

    /// The app an address belongs to (its `ip_prefixes`) for `group`. The
    /// longest prefix wins; ties: app id order.
    pub fn match_ip<'p>(&'p self, group: &'p IndexedGroup, ip: IpAddr) -> Option<PlanMatch<'p>> {
        self.ip_hit(group, ip).map(Hit::owned)
    }

    /// [`PlanIndex::match_ip`] without copying the entry.
    pub(crate) fn ip_hit<'p>(&'p self, group: &'p IndexedGroup, ip: IpAddr) -> Option<Hit<'p>> {
        let ruled = |hits: &&Vec<(u32, String)>| hits.iter().any(|(app, _)| group.has_rule(*app));
        let hits: Option<&Vec<(u32, String)>> = match canonical(ip) {
            IpAddr::V4(v4) => {
                let a = u32::from(v4);
                if !in_ranges(&self.v4_ranges, a) {
                    return None;
                }
                self.v4
                    .iter()
                    .find_map(|(len, m)| m.get(&(a & v4_mask(*len))).filter(ruled))
            }
            IpAddr::V6(v6) => {
                let a = u128::from(v6);
                if !in_ranges(&self.v6_ranges, a) {
                    return None;
                }
                self.v6
                    .iter()
                    .find_map(|(len, m)| m.get(&(a & v6_mask(*len))).filter(ruled))
            }
        };
        let (app, entry) = hits?
            .iter()
            .filter(|(app, _)| group.has_rule(*app))
            .min_by_key(|(app, _)| *app)?;
        let (action, reason) = group.rule(*app)?;
        Some(Hit {
            app: &self.apps[*app as usize],
            action: *action,
            reason,
            via: MatchVia::Prefix,
            entry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::plan::{BypassState, Custom, PlanApp, PlanBypass, PlanGroup, PlanStamp, Rule};
    use std::collections::BTreeMap;

    fn app(name: &str, kind: catalog::AppKind, domains: &[&str], exact: &[&str], patterns: &[&str]) -> PlanApp {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        PlanApp {
            name: name.into(),
            kind,
            categories: vec!["social-video".into()],
            decision: None,
            decided_by: None,
            score: None,
            level: None,
            bypass: None,
            domains: v(domains),
            exact: v(exact),
            patterns: v(patterns),
            cname_targets: Vec::new(),
            ip_prefixes: Vec::new(),
            except: Vec::new(),
            identifiers: BTreeMap::new(),
        }
    }

    fn rule(app: &str, action: Action) -> Rule {
        Rule {
            app: app.into(),
            action,
            reason: RuleReason::Category("social-video".into()),
        }
    }

    fn group(id: &str, default: bool, clients: &[&str], rules: Vec<Rule>) -> PlanGroup {
        PlanGroup {
            id: id.into(),
            kind: policy::GroupKind::Corporate,
            default,
            clients: clients.iter().map(|s| s.to_string()).collect(),
            client_ids: Vec::new(),
            rules,
            sandbox_allow: Vec::new(),
            custom: Custom::default(),
            carve_outs: Vec::new(),
            bypass: BypassState {
                firefox_canary: true,
                private_relay: true,
                ddr: true,
                encrypted_dns: true,
                vpn: true,
                proxy: true,
                tor: true,
            },
        }
    }

    fn plan() -> EnforcementPlan {
        let mut apps = BTreeMap::new();
        let mut tiktok = app(
            "TikTok",
            catalog::AppKind::App,
            &["tiktok.com", "tiktokv.com"],
            &[],
            &["p16-tiktok-*.ibyteimg.com"],
        );
        tiktok.cname_targets = vec!["tiktokv.com.edgesuite.net".into()];
        tiktok.except = vec!["legal.tiktok.com".into()];
        apps.insert("tiktok".to_string(), tiktok);
        let mut canary = app(
            "Firefox DoH canary",
            catalog::AppKind::Bypass,
            &[],
            &["use-application-dns.net"],
            &[],
        );
        canary.bypass = Some(PlanBypass {
            method: catalog::BypassMethod::Canary,
            answer: catalog::BypassAnswer::Nxdomain,
        });
        apps.insert("firefox-canary".to_string(), canary);
        let mut google = app("Google DoH", catalog::AppKind::Bypass, &["dns.google"], &[], &[]);
        google.ip_prefixes = vec!["8.8.8.8/32".into(), "2001:4860:4860::8888/128".into()];
        apps.insert("doh-google".to_string(), google);
        let mut list = app("DoH list", catalog::AppKind::Bypass, &[], &["dns.google"], &[]);
        list.ip_prefixes = vec!["8.8.0.0/16".into()];
        apps.insert("encrypted-dns-list".to_string(), list);
        let mut corporate = group(
            "corporate",
            true,
            &[],
            vec![
                rule("doh-google", Action::Block),
                rule("encrypted-dns-list", Action::Block),
                rule("firefox-canary", Action::Block),
                rule("tiktok", Action::Block),
            ],
        );
        corporate.custom.allow = vec!["allowed.tiktok.com".into()];
        let guest = group(
            "guest",
            false,
            &["192.168.0.0/16", "2001:db8::/32"],
            vec![
                rule("tiktok", Action::LogOnly),
                rule("encrypted-dns-list", Action::Block),
            ],
        );
        let lab = group("lab", false, &["192.168.7.0/24"], vec![]);
        EnforcementPlan {
            plan_version: policy::PLAN_VERSION,
            stamp: PlanStamp {
                model_version: String::new(),
                catalog_snapshot: String::new(),
                profile: String::new(),
                profile_version: String::new(),
                policy_version: String::new(),
                organisation: String::new(),
                jurisdiction: String::new(),
                as_of: catalog::Day::new(2026, 11, 22).unwrap_or_else(catalog::Day::today_utc),
            },
            apps,
            groups: vec![corporate, guest, lab],
        }
    }

    fn app_of(idx: &PlanIndex, g: &str, name: &str) -> Option<String> {
        let group = idx.groups().iter().find(|x| x.id == g)?;
        idx.match_name(group, name).map(|m| m.app.id.clone())
    }

    #[test]
    fn domains_match_themselves_and_subdomains_only() {
        let idx = PlanIndex::new(&plan());
        assert_eq!(app_of(&idx, "corporate", "tiktok.com").as_deref(), Some("tiktok"));
        assert_eq!(app_of(&idx, "corporate", "www.tiktok.com").as_deref(), Some("tiktok"));
        assert_eq!(
            app_of(&idx, "corporate", "api16-normal-c-useast1a.tiktokv.com").as_deref(),
            Some("tiktok")
        );
        assert_eq!(app_of(&idx, "corporate", "WWW.TikTok.COM.").as_deref(), Some("tiktok"));
        assert_eq!(app_of(&idx, "corporate", "nottiktok.com"), None);
        assert_eq!(app_of(&idx, "corporate", "tiktok.com.evil.example"), None);
        assert_eq!(app_of(&idx, "corporate", "com"), None);
        // CNAME targets match like domains
        assert_eq!(
            app_of(&idx, "corporate", "a.tiktokv.com.edgesuite.net").as_deref(),
            Some("tiktok")
        );
        assert_eq!(app_of(&idx, "corporate", "edgesuite.net"), None);
        let m = idx
            .match_name(&idx.groups()[0], "m.tiktok.com")
            .expect("m.tiktok.com matches");
        assert_eq!(
            (m.via, m.entry.as_str(), m.action),
            (MatchVia::Domain, "tiktok.com", Action::Block)
        );
    }

    #[test]
    fn exact_names_do_not_cover_subdomains() {
        let idx = PlanIndex::new(&plan());
        let m = idx
            .match_name(&idx.groups()[0], "use-application-dns.net")
            .expect("canary matches");
        assert_eq!((m.app.id.as_str(), m.via), ("firefox-canary", MatchVia::Exact));
        assert!(m.app.bypass);
        assert_eq!(m.app.method, Some("canary"));
        assert_eq!(app_of(&idx, "corporate", "x.use-application-dns.net"), None);
        assert_eq!(app_of(&idx, "corporate", "application-dns.net"), None);
    }

    #[test]
    fn patterns_match_one_label_wildcards() {
        let idx = PlanIndex::new(&plan());
        let m = idx
            .match_name(&idx.groups()[0], "p16-tiktok-va.ibyteimg.com")
            .expect("pattern matches");
        assert_eq!((m.app.id.as_str(), m.via), ("tiktok", MatchVia::Pattern));
        assert_eq!(app_of(&idx, "corporate", "p16-tiktok-.ibyteimg.com"), None);
        assert_eq!(app_of(&idx, "corporate", "p16-tiktok-a.b.ibyteimg.com"), None);
        assert_eq!(app_of(&idx, "corporate", "ibyteimg.com"), None);
    }

    #[test]
    fn ties_go_to_the_first_app_id_and_allow_lists_win() {
        let idx = PlanIndex::new(&plan());
        // dns.google is a domain of doh-google and an exact name of encrypted-dns-list
        assert_eq!(app_of(&idx, "corporate", "dns.google").as_deref(), Some("doh-google"));
        // below it only the domain rule applies
        assert_eq!(app_of(&idx, "corporate", "x.dns.google").as_deref(), Some("doh-google"));
        // custom allow and the app's except names are not flagged
        assert_eq!(app_of(&idx, "corporate", "allowed.tiktok.com"), None);
        assert_eq!(app_of(&idx, "corporate", "a.allowed.tiktok.com"), None);
        assert_eq!(app_of(&idx, "corporate", "legal.tiktok.com"), None);
    }

    #[test]
    fn ip_prefixes_longest_first_per_group() {
        let idx = PlanIndex::new(&plan());
        let corp = &idx.groups()[0];
        let guest = &idx.groups()[1];
        let at = |g, ip: &str| {
            ip.parse::<IpAddr>()
                .ok()
                .and_then(|ip| idx.match_ip(g, ip))
                .map(|m| (m.app.id.clone(), m.entry))
        };
        assert_eq!(at(corp, "8.8.8.8"), Some(("doh-google".into(), "8.8.8.8/32".into())));
        assert_eq!(
            at(corp, "8.8.4.4"),
            Some(("encrypted-dns-list".into(), "8.8.0.0/16".into()))
        );
        assert_eq!(
            at(corp, "::ffff:8.8.8.8"),
            Some(("doh-google".into(), "8.8.8.8/32".into()))
        );
        assert_eq!(
            at(corp, "2001:4860:4860::8888"),
            Some(("doh-google".into(), "2001:4860:4860::8888/128".into()))
        );
        assert_eq!(at(corp, "8.9.8.8"), None);
        assert_eq!(at(corp, "2001:4860:4860::8844"), None);
        // guest has no rule for doh-google: the /16 of the list app answers
        assert_eq!(
            at(guest, "8.8.8.8"),
            Some(("encrypted-dns-list".into(), "8.8.0.0/16".into()))
        );
    }

    #[test]
    fn groups_by_most_specific_client_network_and_their_rules_differ() {
        let idx = PlanIndex::new(&plan());
        let gid = |ip: &str| idx.group_for(ip.parse().ok()).map(|g| g.id.clone());
        assert_eq!(gid("10.1.2.3").as_deref(), Some("corporate"));
        assert_eq!(gid("192.168.1.9").as_deref(), Some("guest"));
        assert_eq!(gid("192.168.7.9").as_deref(), Some("lab"));
        assert_eq!(gid("2001:db8::1").as_deref(), Some("guest"));
        assert_eq!(idx.group_for(None).map(|g| g.id.as_str()), Some("corporate"));
        // per-group actions
        let guest = &idx.groups()[1];
        let m = idx.match_name(guest, "www.tiktok.com").expect("guest logs tiktok");
        assert_eq!(m.action, Action::LogOnly);
        assert_eq!(app_of(&idx, "guest", "use-application-dns.net"), None);
        // the lab group has no rules at all
        assert_eq!(app_of(&idx, "lab", "www.tiktok.com"), None);
        // dns.google in guest: only the exact list rule applies
        assert_eq!(
            app_of(&idx, "guest", "dns.google").as_deref(),
            Some("encrypted-dns-list")
        );
        assert_eq!(app_of(&idx, "guest", "x.dns.google"), None);
    }

    #[test]
    fn unknown_names_are_not_flagged() {
        let idx = PlanIndex::new(&plan());
        for n in [
            "www.example.org",
            "example.org",
            "printer.corp.example",
            "",
            ".",
            "net",
            "google",
        ] {
            assert_eq!(app_of(&idx, "corporate", n), None, "{n}");
        }
    }
}
