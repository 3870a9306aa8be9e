//! iOS packages (IPA: a zip with `Payload/<Name>.app/`).

pub mod macho;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use plist::Value;
use serde::Serialize;

use crate::archive::Archive;
use crate::error::{Location, ScanError};
use crate::network::NetworkCollector;
use crate::trackers::TrackerEvidence;
use crate::ScanOptions;

use self::macho::MachOInfo;

/// Everything read from an IPA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IosReport {
    /// `Payload/<Name>.app/`.
    pub app_dir: String,
    /// `CFBundleIdentifier`.
    pub bundle_id: Option<String>,
    /// `CFBundleName` (or `CFBundleDisplayName`).
    pub bundle_name: Option<String>,
    /// `CFBundleShortVersionString`.
    pub short_version: Option<String>,
    /// `CFBundleVersion`.
    pub build_version: Option<String>,
    /// `MinimumOSVersion`.
    pub minimum_os: Option<String>,
    /// `CFBundleExecutable`.
    pub executable: Option<String>,
    /// `NS*UsageDescription` keys → the text shown to the user.
    pub usage_descriptions: BTreeMap<String, String>,
    /// App Transport Security exceptions, one line each
    /// (`NSAllowsArbitraryLoads=true`, `example.com: NSExceptionAllowsInsecureHTTPLoads=true`).
    pub ats_exceptions: Vec<String>,
    /// URL schemes the app handles (`CFBundleURLTypes`).
    pub url_schemes: Vec<String>,
    /// `LSApplicationQueriesSchemes`: schemes of other apps it probes for.
    pub queried_schemes: Vec<String>,
    /// Entitlements (key → compact value), merged from all sources.
    pub entitlements: BTreeMap<String, String>,
    /// Where entitlements came from (code signature, `.entitlements`, provisioning profile).
    pub entitlement_sources: Vec<String>,
    /// Embedded frameworks and dylibs (`FBSDKCoreKit`, `libswiftCore.dylib`), sorted.
    pub frameworks: Vec<String>,
    /// The main executable and framework binaries.
    pub binaries: Vec<MachOInfo>,
    /// Notable symbols/selectors/classes seen in the binaries
    /// (`advertisingIdentifier`, `UIPasteboard`, `dlopen` …), sorted.
    pub sensitive_symbols: Vec<String>,
    /// Non-fatal problems.
    pub warnings: Vec<String>,
}

pub(crate) struct IosScan {
    pub(crate) report: IosReport,
    pub(crate) evidence: TrackerEvidence,
    pub(crate) network: NetworkCollector,
}

const SENSITIVE: &[&str] = &[
    "advertisingIdentifier",
    "identifierForVendor",
    "ASIdentifierManager",
    "UIPasteboard",
    "generalPasteboard",
    "dlopen",
    "JSContext",
    "CLLocationManager",
    "CNContactStore",
    "AVCaptureDevice",
    "PHPhotoLibrary",
    "requestTrackingAuthorization",
];

/// iOS SDK name prefixes (framework or Objective-C class) → εxodus tracker name.
/// εxodus signatures are Android packages; this table bridges to the same ids.
pub const IOS_SDKS: &[(&str, &str)] = &[
    ("AppsFlyer", "AppsFlyer"),
    ("FBAudienceNetwork", "Facebook Audience"),
    ("FBSDKCoreKit", "Facebook Analytics"),
    ("FBSDKAppEvents", "Facebook Analytics"),
    ("FBSDKLoginKit", "Facebook Login"),
    ("FBSDKShareKit", "Facebook Share"),
    ("FirebaseAnalytics", "Google Firebase Analytics"),
    ("FIRAnalytics", "Google Firebase Analytics"),
    ("GoogleMobileAds", "Google AdMob"),
    ("GADMobileAds", "Google AdMob"),
    ("FirebaseCrashlytics", "Google CrashLytics"),
    ("Crashlytics", "Google CrashLytics"),
    ("AdjustSdk", "Adjust"),
    ("Adjust", "Adjust"),
    ("Branch", "Branch"),
    ("Flurry", "Flurry"),
    ("Mixpanel", "MixPanel"),
    ("Amplitude", "Amplitude"),
    ("UnityAds", "Unity3d Ads"),
    ("AppLovinSDK", "AppLovin (MAX and SparkLabs)"),
    ("ALSdk", "AppLovin (MAX and SparkLabs)"),
    ("Bugsnag", "Bugsnag"),
    ("Sentry", "Sentry"),
    ("OneSignal", "OneSignal"),
    ("Segment", "Segment"),
    ("BUAdSDK", "Pangle"),
    ("PAGAdSDK", "Pangle"),
    ("Appboy", "Braze (formerly Appboy)"),
    ("BrazeKit", "Braze (formerly Appboy)"),
    ("KochavaTracker", "Kochava"),
    ("Singular", "Singular"),
    ("CleverTap", "CleverTap"),
    ("IronSource", "ironSource"),
    ("Chartboost", "ChartBoost"),
    ("VungleSDK", "Vungle"),
    ("InMobiSDK", "Inmobi"),
    ("UMCommon", "Umeng Analytics"),
    ("UMAnalytics", "Umeng Analytics"),
    ("Tapjoy", "Tapjoy"),
    ("Localytics", "Localytics"),
    ("Instabug", "Instabug"),
    ("NewRelic", "New Relic"),
];

/// Scans an IPA held in `data`.
pub(crate) fn scan(data: &[u8], opts: &ScanOptions, spent: &Cell<u64>) -> Result<IosScan, ScanError> {
    let mut a = Archive::open(data, "", &opts.limits, spent)?;
    let names: Vec<String> = a.names().to_vec();
    let app_dir = names
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix("Payload/")?;
            let (dir, _) = rest.split_once(".app/")?;
            (!dir.contains('/')).then(|| format!("Payload/{dir}.app/"))
        })
        .min()
        .ok_or_else(|| ScanError::UnknownPackage("no Payload/<Name>.app/ in the zip".into()))?;
    let mut r = IosReport {
        app_dir: app_dir.clone(),
        ..Default::default()
    };
    let info_name = format!("{app_dir}Info.plist");
    if !a.contains(&info_name) {
        return Err(ScanError::UnknownPackage(format!("{info_name} missing")));
    }
    let info = parse_plist(&a.read(&info_name)?, &info_name)?;
    read_info_plist(&info, &mut r);

    let mut network = NetworkCollector::new(r.short_version.clone());
    let mut evidence = TrackerEvidence::default();
    let mut symbols = BTreeSet::new();

    // Frameworks.
    let fw_prefix = format!("{app_dir}Frameworks/");
    let mut frameworks = BTreeSet::new();
    for n in &names {
        if let Some(rest) = n.strip_prefix(&fw_prefix) {
            let first = rest.split('/').next().unwrap_or("");
            if let Some(fw) = first.strip_suffix(".framework") {
                frameworks.insert(fw.to_string());
            } else if first.ends_with(".dylib") {
                frameworks.insert(first.to_string());
            }
        }
    }
    r.frameworks = frameworks.iter().cloned().collect();

    // Binaries: main executable, then each framework's binary.
    let mut binaries: Vec<String> = Vec::new();
    if let Some(exe) = &r.executable {
        binaries.push(format!("{app_dir}{exe}"));
    }
    for fw in &frameworks {
        if fw.ends_with(".dylib") {
            binaries.push(format!("{fw_prefix}{fw}"));
        } else {
            binaries.push(format!("{fw_prefix}{fw}.framework/{fw}"));
        }
    }
    let mut objc_classes = BTreeSet::new();
    binaries.retain(|b| a.contains(b));
    for bin in &binaries {
        let bytes = a.read(bin)?;
        match macho::parse_macho(&bytes, bin, &opts.limits) {
            Ok((info, strings)) => {
                if let Some(ent) = &strings.entitlements_xml {
                    match parse_plist(ent, bin) {
                        Ok(v) => {
                            merge_entitlements(&v, &mut r.entitlements);
                            r.entitlement_sources.push(format!("{bin} (code signature)"));
                        }
                        Err(e) => r.warnings.push(e.to_string()),
                    }
                }
                for s in strings.cstrings.iter().chain(&strings.symbols).chain(&strings.objc) {
                    if let Some(k) = SENSITIVE.iter().find(|k| s.contains(*k)) {
                        symbols.insert((*k).to_string());
                    }
                    if opts.network {
                        network.add(s);
                    }
                }
                objc_classes.extend(strings.objc_classes.iter().cloned());
                r.binaries.push(info);
            }
            Err(e) => r.warnings.push(e.to_string()),
        }
    }
    // Entitlements files and the provisioning profile.
    for n in names.iter().filter(|n| n.starts_with(&app_dir)) {
        let is_xcent = n.ends_with(".entitlements") || n.ends_with(".xcent");
        let is_profile = n.ends_with("embedded.mobileprovision");
        if !(is_xcent || is_profile) {
            continue;
        }
        let bytes = a.read(n)?;
        let parsed = if is_profile {
            profile_plist(&bytes, n).and_then(|v| {
                v.as_dictionary()
                    .and_then(|d| d.get("Entitlements"))
                    .cloned()
                    .ok_or_else(|| ScanError::Plist {
                        location: Location::new(n.clone(), None),
                        reason: "profile has no Entitlements".into(),
                    })
            })
        } else {
            parse_plist(&bytes, n)
        };
        match parsed {
            Ok(v) => {
                merge_entitlements(&v, &mut r.entitlements);
                r.entitlement_sources.push(n.clone());
            }
            Err(e) => r.warnings.push(e.to_string()),
        }
    }
    r.entitlement_sources.sort();
    r.sensitive_symbols = symbols.into_iter().collect();
    r.warnings.sort();

    // Tracker evidence: frameworks and Objective-C classes through the SDK table.
    for name in frameworks.iter().chain(&objc_classes) {
        let bare = name.trim_end_matches(".dylib").trim_start_matches("lib");
        if let Some((_, tracker)) = IOS_SDKS.iter().find(|(p, _)| bare.starts_with(p)) {
            evidence.ios_sdks.insert(((*tracker).to_string(), name.clone()));
        }
        evidence.frameworks.insert(bare.to_string());
    }
    Ok(IosScan {
        report: r,
        evidence,
        network,
    })
}

/// Parses an XML or binary property list.
pub fn parse_plist(data: &[u8], entry: &str) -> Result<Value, ScanError> {
    Value::from_reader(std::io::Cursor::new(data)).map_err(|e| ScanError::Plist {
        location: Location::new(entry, None),
        reason: e.to_string(),
    })
}

/// The XML plist inside a CMS-signed `embedded.mobileprovision`.
fn profile_plist(data: &[u8], entry: &str) -> Result<Value, ScanError> {
    let find = |needle: &[u8]| data.windows(needle.len()).position(|w| w == needle);
    let start = find(b"<?xml");
    let end = find(b"</plist>");
    match (start, end) {
        (Some(s), Some(e)) if e > s => parse_plist(&data[s..e + 8], entry),
        _ => Err(ScanError::Plist {
            location: Location::new(entry, None),
            reason: "no XML plist inside the provisioning profile".into(),
        }),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::Boolean(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(compact).collect::<Vec<_>>().join(", ")),
        Value::Dictionary(d) => format!(
            "{{{}}}",
            d.iter()
                .map(|(k, v)| format!("{k}: {}", compact(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Data(d) => format!("<{} bytes>", d.len()),
        Value::Date(d) => d.to_xml_format(),
        _ => String::new(),
    }
}

fn merge_entitlements(v: &Value, out: &mut BTreeMap<String, String>) {
    if let Some(d) = v.as_dictionary() {
        for (k, val) in d {
            out.insert(k.clone(), compact(val));
        }
    }
}

fn read_info_plist(v: &Value, r: &mut IosReport) {
    let Some(d) = v.as_dictionary() else {
        r.warnings.push("Info.plist is not a dictionary".into());
        return;
    };
    let s = |k: &str| d.get(k).and_then(Value::as_string).map(str::to_string);
    r.bundle_id = s("CFBundleIdentifier");
    r.bundle_name = s("CFBundleDisplayName").or_else(|| s("CFBundleName"));
    r.short_version = s("CFBundleShortVersionString");
    r.build_version = s("CFBundleVersion");
    r.minimum_os = s("MinimumOSVersion");
    r.executable = s("CFBundleExecutable").filter(|e| crate::archive::is_safe_name(e) && !e.contains('/'));
    for (k, val) in d {
        if k.starts_with("NS") && k.ends_with("UsageDescription") {
            r.usage_descriptions.insert(k.clone(), compact(val));
        }
    }
    if let Some(ats) = d.get("NSAppTransportSecurity").and_then(Value::as_dictionary) {
        for (k, val) in ats {
            if k == "NSExceptionDomains" {
                if let Some(domains) = val.as_dictionary() {
                    for (dom, cfg) in domains {
                        if let Some(cfg) = cfg.as_dictionary() {
                            for (ck, cv) in cfg {
                                r.ats_exceptions.push(format!("{dom}: {ck}={}", compact(cv)));
                            }
                        }
                    }
                }
            } else {
                r.ats_exceptions.push(format!("{k}={}", compact(val)));
            }
        }
    }
    r.ats_exceptions.sort();
    let mut schemes = BTreeSet::new();
    if let Some(types) = d.get("CFBundleURLTypes").and_then(Value::as_array) {
        for t in types {
            if let Some(list) = t
                .as_dictionary()
                .and_then(|t| t.get("CFBundleURLSchemes"))
                .and_then(Value::as_array)
            {
                schemes.extend(list.iter().filter_map(Value::as_string).map(str::to_string));
            }
        }
    }
    r.url_schemes = schemes.into_iter().collect();
    let mut q: BTreeSet<String> = BTreeSet::new();
    if let Some(list) = d.get("LSApplicationQueriesSchemes").and_then(Value::as_array) {
        q.extend(list.iter().filter_map(Value::as_string).map(str::to_string));
    }
    r.queried_schemes = q.into_iter().collect();
}
