//! Tracker detection with the εxodus/ETIP signatures (`data/trackers.json`,
//! ODbL 1.0, attribution in `data/README.md`).
//!
//! Two matchers live here:
//! - [`TrackerDb::match_evidence`], appscan's matcher: code signatures are
//!   split on `|` into package prefixes and matched *anchored* at the start
//!   of a class name on a package/class boundary, against defined classes,
//!   referenced classes, class-like strings and manifest names; network
//!   signatures are matched against extracted host names on a label boundary.
//!   Each match records how it matched and a confidence.
//! - [`TrackerDb::match_exodus_reference`], εxodus' own method (unanchored
//!   regex search over class names in slash form, network signature over
//!   strings), kept to compare the two (see `docs/appscan.md`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

const TRACKERS_JSON: &str = include_str!("../data/trackers.json");

/// How a tracker signature matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMethod {
    /// A class of the SDK is defined in the app's code.
    ClassDefined,
    /// The app's code references a class of the SDK (it may be absent).
    ClassReferenced,
    /// A component or `<meta-data>` name in the manifest is in the SDK's package.
    ManifestEntry,
    /// A string in the code names a class of the SDK (reflection, config).
    String,
    /// A host name embedded in code or resources matches the network signature.
    Domain,
    /// An iOS framework bundle name or Objective-C class name matches.
    Framework,
}

/// How sure the match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Only a string or only a domain matched.
    Low,
    /// Referenced but not defined, or manifest/domain without code.
    Medium,
    /// SDK classes are defined in the app (or a framework is bundled).
    High,
}

/// One tracker found in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackerMatch {
    /// εxodus tracker id.
    pub id: u32,
    /// Tracker name.
    pub name: String,
    /// εxodus categories (Analytics, Advertisement, …), sorted.
    pub categories: Vec<String>,
    /// Vendor website.
    pub website: String,
    /// Every way it matched, sorted.
    pub methods: Vec<MatchMethod>,
    /// Confidence derived from the methods.
    pub confidence: Confidence,
    /// Up to five matched names (classes, hosts …), sorted.
    pub examples: Vec<String>,
}

/// What the matcher looks at, collected by the Android and iOS scanners.
#[derive(Debug, Default, Clone)]
pub struct TrackerEvidence {
    /// Defined class names, dotted.
    pub defined_classes: BTreeSet<String>,
    /// Referenced (type table) class names, dotted.
    pub referenced_classes: BTreeSet<String>,
    /// Strings that look like dotted class or package names.
    pub class_like_strings: BTreeSet<String>,
    /// Manifest component and meta-data names.
    pub manifest_names: BTreeSet<String>,
    /// Host names.
    pub domains: BTreeSet<String>,
    /// iOS framework bundle names (`FBSDKCoreKit`) and Objective-C class names.
    pub frameworks: BTreeSet<String>,
    /// iOS SDKs recognised by name: (εxodus tracker name, framework or class seen).
    pub ios_sdks: BTreeSet<(String, String)>,
}

#[derive(Deserialize)]
struct RawDb {
    trackers: BTreeMap<String, RawTracker>,
}

#[derive(Deserialize)]
struct RawTracker {
    id: u32,
    name: String,
    #[serde(default)]
    code_signature: String,
    #[serde(default)]
    network_signature: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    categories: Vec<String>,
}

/// A compiled tracker signature.
#[derive(Debug)]
pub struct Tracker {
    /// εxodus id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// Categories.
    pub categories: Vec<String>,
    /// Website.
    pub website: String,
    /// The raw code signature.
    pub code_signature: String,
    /// The raw network signature.
    pub network_signature: String,
    /// Dotted package/class prefixes from the code signature.
    pub prefixes: Vec<String>,
    code_re: Option<Regex>,
    net_re: Option<Regex>,
}

/// The compiled signature database.
#[derive(Debug)]
pub struct TrackerDb {
    /// All trackers, by id.
    pub trackers: Vec<Tracker>,
    prefix_index: HashMap<String, Vec<usize>>,
}

impl TrackerDb {
    /// The database embedded in the crate, compiled once.
    pub fn embedded() -> &'static TrackerDb {
        static DB: OnceLock<TrackerDb> = OnceLock::new();
        DB.get_or_init(|| TrackerDb::from_json(TRACKERS_JSON).unwrap_or_else(|_| TrackerDb::empty()))
    }

    fn empty() -> TrackerDb {
        TrackerDb {
            trackers: Vec::new(),
            prefix_index: HashMap::new(),
        }
    }

    /// Compiles a database in the εxodus API format.
    pub fn from_json(json: &str) -> Result<TrackerDb, serde_json::Error> {
        let raw: RawDb = serde_json::from_str(json)?;
        let mut trackers: Vec<Tracker> = raw
            .trackers
            .into_values()
            .map(|t| {
                let code_ok = t.code_signature.len() > 3;
                let prefixes: Vec<String> = if code_ok {
                    t.code_signature
                        .split('|')
                        .map(|p| p.replace(['/', '\\'], ".").trim_end_matches('.').to_string())
                        .filter(|p| p.len() > 3)
                        .collect()
                } else {
                    Vec::new()
                };
                Tracker {
                    code_re: code_ok.then(|| Regex::new(&t.code_signature).ok()).flatten(),
                    net_re: (t.network_signature.len() > 3)
                        .then(|| Regex::new(&t.network_signature).ok())
                        .flatten(),
                    id: t.id,
                    name: t.name,
                    categories: t.categories,
                    website: t.website,
                    code_signature: t.code_signature,
                    network_signature: t.network_signature,
                    prefixes,
                }
            })
            .collect();
        trackers.sort_by_key(|t| t.id);
        let mut prefix_index: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in trackers.iter().enumerate() {
            for p in &t.prefixes {
                prefix_index.entry(p.clone()).or_default().push(i);
            }
        }
        Ok(TrackerDb { trackers, prefix_index })
    }

    /// Trackers whose prefixes cover `name` on a `.`/`$` boundary.
    fn lookup(&self, name: &str, out: &mut Vec<usize>) {
        let b = name.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if c == b'.' || c == b'$' {
                if let Some(v) = self.prefix_index.get(&name[..i]) {
                    out.extend(v);
                }
            }
        }
        if let Some(v) = self.prefix_index.get(name) {
            out.extend(v);
        }
    }

    /// appscan's matcher.
    pub fn match_evidence(&self, ev: &TrackerEvidence) -> Vec<TrackerMatch> {
        let mut hits: BTreeMap<usize, (BTreeSet<MatchMethod>, BTreeSet<String>)> = BTreeMap::new();
        let mut buf = Vec::new();
        let mut record = |buf: &mut Vec<usize>, method: MatchMethod, what: &str| {
            for &i in buf.iter() {
                let e = hits.entry(i).or_default();
                e.0.insert(method);
                if e.1.len() < 5 {
                    e.1.insert(what.to_string());
                }
            }
            buf.clear();
        };
        for (set, method) in [
            (&ev.defined_classes, MatchMethod::ClassDefined),
            (&ev.referenced_classes, MatchMethod::ClassReferenced),
            (&ev.class_like_strings, MatchMethod::String),
            (&ev.manifest_names, MatchMethod::ManifestEntry),
        ] {
            for name in set {
                self.lookup(name, &mut buf);
                record(&mut buf, method, name);
            }
        }
        for (tracker, seen) in &ev.ios_sdks {
            buf.extend(
                self.trackers
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| &t.name == tracker)
                    .map(|(i, _)| i),
            );
            record(&mut buf, MatchMethod::Framework, seen);
        }
        for host in &ev.domains {
            for (i, t) in self.trackers.iter().enumerate() {
                if let Some(re) = &t.net_re {
                    if re.find_iter(host).any(|m| {
                        (m.start() == 0 || host.as_bytes()[m.start() - 1] == b'.' || m.as_str().starts_with('.'))
                            && (m.end() == host.len() || matches!(host.as_bytes()[m.end()], b'.' | b'/'))
                    }) {
                        buf.push(i);
                    }
                }
            }
            record(&mut buf, MatchMethod::Domain, host);
        }
        hits.into_iter()
            .filter_map(|(i, (methods, examples))| {
                let t = self.trackers.get(i)?;
                let confidence = confidence(&methods);
                let mut categories = t.categories.clone();
                categories.sort();
                Some(TrackerMatch {
                    id: t.id,
                    name: t.name.clone(),
                    categories,
                    website: t.website.clone(),
                    methods: methods.into_iter().collect(),
                    confidence,
                    examples: examples.into_iter().collect(),
                })
            })
            .collect()
    }

    /// εxodus' method, for comparison: code signature regex searched in class
    /// names written in slash form (`com/foo/Bar`), network signature regex
    /// searched in every string. Returns tracker id → (code matched, network matched).
    pub fn match_exodus_reference<'a>(
        &self,
        classes_slash: impl IntoIterator<Item = &'a str> + Clone,
        strings: impl IntoIterator<Item = &'a str> + Clone,
    ) -> BTreeMap<u32, (bool, bool)> {
        let mut out = BTreeMap::new();
        for t in &self.trackers {
            let code = t
                .code_re
                .as_ref()
                .is_some_and(|re| classes_slash.clone().into_iter().any(|c| re.is_match(c)));
            let net = t
                .net_re
                .as_ref()
                .is_some_and(|re| strings.clone().into_iter().any(|s| re.is_match(s)));
            if code || net {
                out.insert(t.id, (code, net));
            }
        }
        out
    }
}

fn confidence(methods: &BTreeSet<MatchMethod>) -> Confidence {
    use MatchMethod::*;
    if methods.contains(&ClassDefined) || methods.contains(&Framework) {
        Confidence::High
    } else if methods.contains(&ClassReferenced)
        || methods.contains(&ManifestEntry)
        || (methods.contains(&Domain) && methods.contains(&String))
    {
        Confidence::Medium
    } else {
        Confidence::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_db_compiles_every_signature() {
        let db = TrackerDb::embedded();
        assert!(db.trackers.len() > 400);
        let code = db.trackers.iter().filter(|t| t.code_re.is_some()).count();
        let net = db.trackers.iter().filter(|t| t.net_re.is_some()).count();
        assert_eq!(code, 428);
        assert_eq!(net, 260);
    }

    #[test]
    fn anchored_prefix_matching() {
        let db = TrackerDb::embedded();
        let mut ev = TrackerEvidence::default();
        ev.defined_classes.insert("com.appsflyer.AppsFlyerLib".into());
        ev.referenced_classes.insert("com.appsflyer.AppsFlyerLib".into());
        ev.defined_classes.insert("xcom.appsflyer.Fake".into());
        ev.domains.insert("t.appsflyer.com".into());
        ev.domains.insert("notappsflyer.com".into());
        let m = db.match_evidence(&ev);
        let af: Vec<_> = m.iter().filter(|t| t.name.contains("AppsFlyer")).collect();
        assert_eq!(af.len(), 1);
        assert_eq!(af[0].confidence, Confidence::High);
        assert!(af[0].methods.contains(&MatchMethod::Domain));
        assert!(!af[0]
            .examples
            .iter()
            .any(|e| e.starts_with("xcom") || e.starts_with("not")));
    }
}
