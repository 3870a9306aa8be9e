//! The EnforcementPlan as lookup tables for log detection: name → app
//! (exact names, every parent domain, wildcard patterns, CNAME targets) and
//! address → app (IP prefixes), answered per policy group.
//!
//! Built once per plan; lookups of names that match nothing do not allocate.

use std::collections::HashMap;
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
    rules: HashMap<u32, (Action, RuleReason)>,
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

/// Per prefix length (longest first): masked address → (prefix text, app).
type PrefixTable<A> = Vec<(u8, HashMap<A, Vec<(u32, String)>>)>;

#[derive(Debug, Clone, Copy)]
struct NameEntry {
    app: u32,
    exact: bool,
}

/// Lookup tables over one [`EnforcementPlan`].
#[derive(Debug, Clone)]
pub struct PlanIndex {
    apps: Vec<IndexedApp>,
    names: HashMap<Box<str>, Vec<NameEntry>>,
    patterns: Vec<(String, u32)>,
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
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

fn under(name: &str, domain: &str) -> bool {
    catalog::domain::is_subdomain_or_self(name, domain)
}

impl PlanIndex {
    /// Builds the tables for `plan`.
    pub fn new(plan: &EnforcementPlan) -> PlanIndex {
        let mut idx = PlanIndex {
            apps: Vec::with_capacity(plan.apps.len()),
            names: HashMap::new(),
            patterns: Vec::new(),
            v4: Vec::new(),
            v6: Vec::new(),
            groups: Vec::new(),
            default_group: 0,
            skipped_entries: Vec::new(),
        };
        let mut by_id: HashMap<&str, u32> = HashMap::new();
        let mut v4: HashMap<u8, HashMap<u32, Vec<(u32, String)>>> = HashMap::new();
        let mut v6: HashMap<u8, HashMap<u128, Vec<(u32, String)>>> = HashMap::new();
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
            });
            let domains = app.domains.iter().chain(&app.cname_targets);
            for (name, exact) in domains.map(|d| (d, false)).chain(app.exact.iter().map(|e| (e, true))) {
                let key = name.trim_end_matches('.').to_ascii_lowercase().into_boxed_str();
                idx.names.entry(key).or_default().push(NameEntry { app: i, exact });
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
            let rules = g
                .rules
                .iter()
                .filter_map(|r| by_id.get(r.app.as_str()).map(|&a| (a, (r.action, r.reason.clone()))))
                .collect();
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
        // (matched length, app) — larger length wins, then smaller app index
        let mut best: Option<(usize, u32, MatchVia, &str)> = None;
        let mut consider = |len: usize, app: u32, via: MatchVia, entry: &'p str| {
            if !group.rules.contains_key(&app) {
                return;
            }
            if self.apps[app as usize].except.iter().any(|e| under(name, e)) {
                return;
            }
            let better = match best {
                None => true,
                Some((l, a, _, _)) => len > l || (len == l && app < a),
            };
            if better {
                best = Some((len, app, via, entry));
            }
        };
        let mut suffix = name;
        loop {
            if let Some((key, entries)) = self.names.get_key_value(suffix) {
                for e in entries {
                    if e.exact && suffix.len() != name.len() {
                        continue;
                    }
                    let via = if e.exact { MatchVia::Exact } else { MatchVia::Domain };
                    consider(suffix.len(), e.app, via, key);
                }
            }
            match suffix.find('.') {
                Some(dot) => suffix = &suffix[dot + 1..],
                None => break,
            }
        }
        for (p, app) in &self.patterns {
            if catalog::domain::pattern_matches(p, name) {
                consider(name.len(), *app, MatchVia::Pattern, p);
            }
        }
        let (_, app, via, entry) = best?;
        if group.allow.iter().any(|a| under(name, a)) {
            return None;
        }
        let (action, reason) = group.rules.get(&app)?;
        Some(PlanMatch {
            app: &self.apps[app as usize],
            action: *action,
            reason,
            via,
            entry: entry.to_string(),
        })
    }

    /// The app an address belongs to (its `ip_prefixes`) for `group`. The
    /// longest prefix wins; ties: app id order.
    pub fn match_ip<'p>(&'p self, group: &'p IndexedGroup, ip: IpAddr) -> Option<PlanMatch<'p>> {
        let hits: Option<&Vec<(u32, String)>> = match canonical(ip) {
            IpAddr::V4(v4) => {
                let a = u32::from(v4);
                self.v4.iter().find_map(|(len, m)| {
                    m.get(&(a & v4_mask(*len)))
                        .filter(|hits| hits.iter().any(|(app, _)| group.rules.contains_key(app)))
                })
            }
            IpAddr::V6(v6) => {
                let a = u128::from(v6);
                self.v6.iter().find_map(|(len, m)| {
                    m.get(&(a & v6_mask(*len)))
                        .filter(|hits| hits.iter().any(|(app, _)| group.rules.contains_key(app)))
                })
            }
        };
        let (app, entry) = hits?
            .iter()
            .filter(|(app, _)| group.rules.contains_key(app))
            .min_by_key(|(app, _)| *app)?;
        let (action, reason) = group.rules.get(app)?;
        Some(PlanMatch {
            app: &self.apps[*app as usize],
            action: *action,
            reason,
            via: MatchVia::Prefix,
            entry: entry.clone(),
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
