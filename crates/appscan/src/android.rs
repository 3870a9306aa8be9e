//! Android packages: APK, and XAPK/APKS split bundles (a zip of APKs).

pub mod api;
pub mod arsc;
pub mod axml;
pub mod dex;
pub mod manifest;
pub mod permissions;
pub mod signing;
pub(crate) mod string_pool;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::archive::Archive;
use crate::error::ScanError;
use crate::network::NetworkCollector;
use crate::trackers::TrackerEvidence;
use crate::ScanOptions;

use self::api::{ApiScanner, ApiUse};
use self::manifest::Manifest;
use self::signing::Signing;

/// Summary of one DEX file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DexSummary {
    /// Entry name (`classes2.dex`, or `split.apk!classes.dex`).
    pub name: String,
    /// Format version (`035` …).
    pub version: String,
    /// Classes defined.
    pub class_count: usize,
    /// Strings in the string table.
    pub string_count: usize,
    /// Method references.
    pub method_ref_count: usize,
}

/// The network security config, if the app ships one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkSecurityConfig {
    /// Entry holding it.
    pub entry: String,
    /// `<base-config cleartextTrafficPermitted="true">`.
    pub cleartext_permitted_base: bool,
    /// Domains of `<domain-config cleartextTrafficPermitted="true">`, sorted.
    pub cleartext_domains: Vec<String>,
    /// `<certificates src="user">` anywhere outside `<debug-overrides>`.
    pub trusts_user_certs: bool,
    /// Has `<pin-set>`.
    pub has_pinning: bool,
}

/// A nested APK of a split bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitApk {
    /// Entry name in the bundle.
    pub entry: String,
    /// `split` attribute of its manifest (`None` for the base).
    pub split: Option<String>,
    /// DEX files in it.
    pub dex_count: usize,
    /// Native libraries in it.
    pub native_lib_count: usize,
}

/// Everything read from an Android package.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AndroidReport {
    /// The base APK's manifest.
    pub manifest: Manifest,
    /// The base APK's signatures.
    pub signing: Signing,
    /// DEX files, in entry order (`classes.dex`, `classes2.dex`, …).
    pub dex: Vec<DexSummary>,
    /// Sum of classes over all DEX files.
    pub dex_class_count: usize,
    /// Sensitive API references.
    pub api_uses: Vec<ApiUse>,
    /// Native libraries per ABI (`arm64-v8a` → `["libfoo.so"]`), sorted.
    pub native_libs: BTreeMap<String, Vec<String>>,
    /// Nested `.apk`/`.jar`/`.dex` files outside the standard places (assets …), sorted.
    pub embedded_code: Vec<String>,
    /// Entries in the base APK.
    pub file_count: usize,
    /// Whether `res/xml/network_security_config.xml` exists.
    pub has_network_security_config_xml: bool,
    /// The parsed network security config, if found.
    pub network_security_config: Option<NetworkSecurityConfig>,
    /// Nested APKs when the input was a split bundle, sorted by entry.
    pub splits: Vec<SplitApk>,
    /// Non-fatal problems, sorted.
    pub warnings: Vec<String>,
}

/// Output of scanning Android content, before findings are derived.
pub(crate) struct AndroidScan {
    pub(crate) report: AndroidReport,
    pub(crate) evidence: TrackerEvidence,
    pub(crate) network: NetworkCollector,
    /// (class names in slash form, strings) for the εxodus reference matcher.
    pub(crate) exodus_input: Option<(Vec<String>, Vec<String>)>,
}

const TEXT_EXT: &[&str] = &[
    ".json",
    ".js",
    ".html",
    ".htm",
    ".txt",
    ".properties",
    ".cfg",
    ".conf",
    ".ini",
    ".yaml",
    ".yml",
    ".plist",
    ".csv",
];

/// Reads only the manifest of the APK at `path`: the zip central directory and
/// `AndroidManifest.xml` are read, nothing else (no hashing, no signatures,
/// no code). The fast path for "what app is this"; [`crate::scan_path`] does
/// the full analysis.
pub fn read_manifest(path: &std::path::Path, limits: &crate::Limits) -> Result<Manifest, ScanError> {
    let io = |e| ScanError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let m = match crate::archive::read_single_entry(&mut file, "AndroidManifest.xml", limits)? {
        crate::archive::Single::Found(m) => m,
        crate::archive::Single::Absent => {
            return Err(ScanError::UnknownPackage(
                "no AndroidManifest.xml (a split bundle or not an APK)".into(),
            ))
        }
        crate::archive::Single::Fallback => {
            let spent = Cell::new(0);
            let file = std::fs::File::open(path).map_err(io)?;
            let mut a = Archive::from_reader(std::io::BufReader::new(file), "", limits, &spent)?;
            if !a.contains("AndroidManifest.xml") {
                return Err(ScanError::UnknownPackage(
                    "no AndroidManifest.xml (a split bundle or not an APK)".into(),
                ));
            }
            a.read("AndroidManifest.xml")?
        }
    };
    let root = axml::parse_axml(&m, "AndroidManifest.xml", limits)?;
    Ok(Manifest::from_root(&root))
}

/// Scans a bundle or an APK held in `data`.
pub(crate) fn scan(data: &[u8], opts: &ScanOptions, spent: &Cell<u64>) -> Result<AndroidScan, ScanError> {
    let mut outer = Archive::open(data, "", &opts.limits, spent)?;
    if outer.contains("AndroidManifest.xml") {
        let mut st = State::new(opts);
        scan_apk(&mut outer, data, "", true, &mut st)?;
        return Ok(st.finish());
    }
    // A split bundle: every *.apk entry at any depth-1 path.
    let apks: Vec<String> = outer.names().iter().filter(|n| n.ends_with(".apk")).cloned().collect();
    if apks.is_empty() {
        return Err(ScanError::UnknownPackage(
            "zip has neither AndroidManifest.xml nor nested .apk files".into(),
        ));
    }
    if apks.len() > opts.limits.max_nested_apks {
        return Err(ScanError::limit(
            "<input>",
            None,
            "nested APK count",
            apks.len() as u64,
            opts.limits.max_nested_apks as u64,
        ));
    }
    let mut st = State::new(opts);
    let mut base_found = false;
    // Read all nested APKs; the base is the one whose manifest has no `split`.
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    for name in &apks {
        nested.push((name.clone(), outer.read(name)?));
    }
    // Base first: prefer base.apk / <package>.apk, decided by the manifest.
    let mut order: Vec<(bool, usize)> = Vec::new();
    for (i, (name, bytes)) in nested.iter().enumerate() {
        let prefix = format!("{name}!");
        let mut a = Archive::open(bytes, &prefix, &opts.limits, spent)?;
        let is_base = if a.contains("AndroidManifest.xml") {
            let m = a.read("AndroidManifest.xml")?;
            let root = axml::parse_axml(&m, &a.loc("AndroidManifest.xml"), &opts.limits)?;
            root.attr("split", false).is_none()
        } else {
            false
        };
        order.push((!is_base, i));
    }
    order.sort();
    for (not_base, i) in order {
        let (name, bytes) = &nested[i];
        let prefix = format!("{name}!");
        let mut a = Archive::open(bytes, &prefix, &opts.limits, spent)?;
        let primary = !not_base && !base_found;
        base_found |= primary;
        scan_apk(&mut a, bytes, &prefix, primary, &mut st)?;
    }
    if !base_found {
        st.report.warnings.push("no base APK found in the bundle".into());
    }
    Ok(st.finish())
}

struct State<'o> {
    opts: &'o ScanOptions,
    report: AndroidReport,
    evidence: TrackerEvidence,
    network: NetworkCollector,
    api: ApiScanner,
    exodus_classes: BTreeSet<String>,
    exodus_strings: BTreeSet<String>,
    scanned_strings: usize,
    lib_abi_scanned: Option<String>,
}

impl<'o> State<'o> {
    fn new(opts: &'o ScanOptions) -> Self {
        State {
            opts,
            report: AndroidReport::default(),
            evidence: TrackerEvidence::default(),
            network: NetworkCollector::default(),
            api: ApiScanner::default(),
            exodus_classes: BTreeSet::new(),
            exodus_strings: BTreeSet::new(),
            scanned_strings: 0,
            lib_abi_scanned: None,
        }
    }

    fn add_string(&mut self, s: &str) {
        if self.scanned_strings >= self.opts.limits.max_scanned_strings {
            return;
        }
        self.scanned_strings += 1;
        if self.opts.network {
            self.network.add(s);
        }
        if self.opts.trackers && looks_like_class(s) {
            self.evidence
                .class_like_strings
                .insert(s.trim_end_matches(';').to_string());
        }
        if self.opts.exodus_reference {
            self.exodus_strings.insert(s.to_string());
        }
    }

    fn finish(mut self) -> AndroidScan {
        self.report.api_uses = self.api.finish();
        self.report.warnings.sort();
        self.report.warnings.dedup();
        self.report.embedded_code.sort();
        self.report.embedded_code.dedup();
        self.report.splits.sort_by(|a, b| a.entry.cmp(&b.entry));
        for v in self.report.native_libs.values_mut() {
            v.sort();
            v.dedup();
        }
        AndroidScan {
            report: self.report,
            evidence: self.evidence,
            network: self.network,
            exodus_input: self.opts.exodus_reference.then(|| {
                (
                    self.exodus_classes.into_iter().collect(),
                    self.exodus_strings.into_iter().collect(),
                )
            }),
        }
    }
}

fn looks_like_class(s: &str) -> bool {
    let s = s.strip_prefix('L').filter(|r| r.ends_with(';')).unwrap_or(s);
    s.len() > 5
        && s.len() < 200
        && (s.contains('.') || s.contains('/'))
        && !s.contains("..")
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$' | b'/' | b';'))
        && s.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
}

fn scan_apk(
    a: &mut Archive<'_, std::io::Cursor<&[u8]>>,
    raw: &[u8],
    prefix: &str,
    primary: bool,
    st: &mut State<'_>,
) -> Result<(), ScanError> {
    let limits = &st.opts.limits;
    let names: Vec<String> = a.names().to_vec();
    let mut manifest = None;
    let mut split = None;
    if a.contains("AndroidManifest.xml") {
        let m = a.read("AndroidManifest.xml")?;
        let root = axml::parse_axml(&m, &a.loc("AndroidManifest.xml"), limits)?;
        split = root.attr("split", false).map(axml::AttrValue::render);
        manifest = Some(Manifest::from_root(&root));
    }
    let mut dex_count = 0;
    let mut lib_count = 0;

    if primary {
        let m = manifest.clone().unwrap_or_default();
        for n in m.components.iter().map(|c| &c.name).chain(&m.meta_data) {
            st.evidence.manifest_names.insert(n.clone());
        }
        if let Some(app) = &m.application_class {
            st.evidence.manifest_names.insert(app.clone());
        }
        let mut m = m;
        resolve_references(a, &mut m, limits, &mut st.report.warnings)?;
        st.network = NetworkCollector::new(m.version_name.clone());
        st.report.manifest = m;
        st.report.file_count = names.iter().filter(|n| !n.ends_with('/')).count();
        st.report.has_network_security_config_xml = a.contains("res/xml/network_security_config.xml");
        // v1 signature files.
        let mut v1 = Vec::new();
        for n in names.iter().filter(|n| is_v1_signature(n)) {
            v1.push((a.loc(n), a.read(n)?));
        }
        st.report.signing = signing::read_signing(raw, &v1);
        if st.report.manifest.network_security_config.is_some() {
            st.report.network_security_config = find_nsc(a, &names, limits)?;
        }
    }

    // DEX files: classes.dex, classes2.dex, … at the root (Android's order).
    let mut dex_names: Vec<&String> = names.iter().filter(|n| is_root_dex(n)).collect();
    dex_names.sort_by_key(|n| dex_ordinal(n));
    if st.opts.code {
        for n in dex_names {
            let bytes = a.read(n)?;
            let loc = a.loc(n);
            let dex = dex::parse_dex(&bytes, &loc, limits)?;
            dex_count += 1;
            st.report.dex_class_count += dex.class_count();
            st.report.dex.push(DexSummary {
                name: loc.clone(),
                version: dex.version.clone(),
                class_count: dex.class_count(),
                string_count: dex.strings.len(),
                method_ref_count: dex.method_refs.len(),
            });
            st.api.scan(&loc, &dex);
            if st.opts.trackers {
                st.evidence.defined_classes.extend(dex.defined_class_names());
                st.evidence.referenced_classes.extend(dex.referenced_class_names());
            }
            if st.opts.exodus_reference {
                st.exodus_classes.extend(
                    dex.types
                        .iter()
                        .filter_map(|t| t.strip_prefix('L').and_then(|t| t.strip_suffix(';')))
                        .map(str::to_string),
                );
            }
            for s in &dex.strings {
                st.add_string(s);
            }
        }
    }

    // Native libraries, embedded code, text assets.
    // Text assets: small files only (configs, JSON, JS), 4 MiB in all.
    let mut text_budget: u64 = 4 << 20;
    for n in &names {
        if let Some(rest) = n.strip_prefix("lib/") {
            if let Some((abi, file)) = rest.split_once('/') {
                if file.ends_with(".so") && !file.contains('/') {
                    lib_count += 1;
                    st.report
                        .native_libs
                        .entry(abi.to_string())
                        .or_default()
                        .push(file.to_string());
                }
            }
            continue;
        }
        let lower = n.to_ascii_lowercase();
        if (lower.ends_with(".apk") || lower.ends_with(".jar") || lower.ends_with(".dex") || lower.ends_with(".odex"))
            && !is_root_dex(n)
        {
            st.report.embedded_code.push(a.loc(n));
        }
        if st.opts.resources
            && (st.opts.network || st.opts.trackers)
            && a.size(n).is_some_and(|s| s <= 512 << 10)
            && (lower.starts_with("assets/") || lower.starts_with("res/raw/"))
            && TEXT_EXT.iter().any(|e| lower.ends_with(e))
            && text_budget > 0
        {
            let bytes = a.read(n)?;
            text_budget = text_budget.saturating_sub(bytes.len() as u64);
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines().take(200_000) {
                if line.contains("://") {
                    st.add_string(line);
                }
            }
        }
    }
    // URLs inside native code: one ABI is enough (all ABIs carry the same strings).
    if st.opts.network && st.opts.resources {
        let abi = ["arm64-v8a", "armeabi-v7a", "x86_64", "armeabi", "x86"]
            .into_iter()
            .find(|abi| names.iter().any(|n| n.starts_with(&format!("lib/{abi}/"))));
        if let Some(abi) = abi {
            if st.lib_abi_scanned.as_deref().is_none_or(|s| s == abi) {
                st.lib_abi_scanned = Some(abi.to_string());
                let mut budget: u64 = 32 << 20;
                let libs: Vec<String> = names
                    .iter()
                    .filter(|n| n.starts_with(&format!("lib/{abi}/")) && n.ends_with(".so"))
                    .cloned()
                    .collect();
                for n in libs {
                    if budget == 0 {
                        break;
                    }
                    let bytes = a.read(&n)?;
                    budget = budget.saturating_sub(bytes.len() as u64);
                    for s in printable_runs(&bytes, 8) {
                        if s.contains("://") {
                            st.add_string(s);
                        }
                    }
                }
            }
        }
    }
    if !prefix.is_empty() {
        st.report.splits.push(SplitApk {
            entry: prefix.trim_end_matches('!').to_string(),
            split,
            dex_count,
            native_lib_count: lib_count,
        });
    }
    Ok(())
}

/// Resolves `@7f…` references in the label and version name through
/// `resources.arsc`; a broken table is a warning, not a failure.
fn resolve_references(
    a: &mut Archive<'_, std::io::Cursor<&[u8]>>,
    m: &mut Manifest,
    limits: &crate::Limits,
    warnings: &mut Vec<String>,
) -> Result<(), ScanError> {
    let as_ref = |v: &Option<String>| {
        v.as_deref()
            .and_then(|s| s.strip_prefix('@'))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let (label, version) = (as_ref(&m.app_name), as_ref(&m.version_name));
    if (label.is_none() && version.is_none()) || !a.contains("resources.arsc") {
        return Ok(());
    }
    let data = a.read("resources.arsc")?;
    match arsc::ResourceTable::parse(&data, &a.loc("resources.arsc"), limits) {
        Ok(table) => {
            if let Some(s) = label.and_then(|id| table.resolve_string(id)) {
                m.app_name = Some(s);
            }
            if let Some(s) = version.and_then(|id| table.resolve_string(id)) {
                m.version_name = Some(s);
            }
        }
        Err(e) => warnings.push(e.to_string()),
    }
    Ok(())
}

/// Printable ASCII runs of at least `min` bytes.
pub(crate) fn printable_runs(data: &[u8], min: usize) -> impl Iterator<Item = &str> {
    data.split(|&c| !(0x20..0x7f).contains(&c))
        .filter(move |r| r.len() >= min)
        .filter_map(|r| std::str::from_utf8(r).ok())
}

fn is_v1_signature(n: &str) -> bool {
    n.strip_prefix("META-INF/").is_some_and(|r| {
        !r.contains('/') && {
            let u = r.to_ascii_uppercase();
            u.ends_with(".RSA") || u.ends_with(".DSA") || u.ends_with(".EC")
        }
    })
}

fn is_root_dex(n: &str) -> bool {
    n.strip_prefix("classes")
        .and_then(|r| r.strip_suffix(".dex"))
        .is_some_and(|d| d.is_empty() || d.bytes().all(|c| c.is_ascii_digit()))
}

fn dex_ordinal(n: &str) -> u64 {
    n.strip_prefix("classes")
        .and_then(|r| r.strip_suffix(".dex"))
        .map(|d| if d.is_empty() { 1 } else { d.parse().unwrap_or(u64::MAX) })
        .unwrap_or(u64::MAX)
}

fn find_nsc(
    a: &mut Archive<'_, std::io::Cursor<&[u8]>>,
    names: &[String],
    limits: &crate::Limits,
) -> Result<Option<NetworkSecurityConfig>, ScanError> {
    // Without resolving the resource id, look for the compiled XML whose root
    // is <network-security-config>: res/xml* first, then any small res/*.xml.
    let mut candidates: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("res/xml") && n.ends_with(".xml"))
        .collect();
    candidates.extend(
        names
            .iter()
            .filter(|n| n.starts_with("res/") && !n.starts_with("res/xml") && n.ends_with(".xml")),
    );
    for n in candidates.into_iter().take(5000) {
        let bytes = a.read(n)?;
        let Ok(root) = axml::parse_axml(&bytes, &a.loc(n), limits) else {
            continue;
        };
        if root.name != "network-security-config" {
            continue;
        }
        let mut nsc = NetworkSecurityConfig {
            entry: a.loc(n),
            ..Default::default()
        };
        let permitted = |e: &axml::XmlElement| e.attr_str("cleartextTrafficPermitted").as_deref() == Some("true");
        for c in &root.children {
            match c.name.as_str() {
                "base-config" => {
                    nsc.cleartext_permitted_base |= permitted(c);
                }
                "domain-config" if permitted(c) => {
                    for d in c.children_named("domain") {
                        nsc.cleartext_domains.push(d.text.trim().to_string());
                    }
                }
                _ => {}
            }
            if c.name != "debug-overrides" {
                let mut certs = Vec::new();
                c.descendants_named("certificates", &mut certs);
                nsc.trusts_user_certs |= certs.iter().any(|e| e.attr_str("src").as_deref() == Some("user"));
                let mut pins = Vec::new();
                c.descendants_named("pin-set", &mut pins);
                nsc.has_pinning |= !pins.is_empty();
            }
        }
        nsc.cleartext_domains.sort();
        nsc.cleartext_domains.dedup();
        return Ok(Some(nsc));
    }
    Ok(None)
}
