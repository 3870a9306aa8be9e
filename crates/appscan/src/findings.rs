//! Findings (what static analysis saw) and the factor suggestions derived from
//! them for the risk model (F1–F5). The rubric is written out in `docs/appscan.md`;
//! keep the two in step.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::android::api::Capability;
use crate::android::AndroidReport;
use crate::ios::IosReport;
use crate::network::NetworkIndicators;
use crate::trackers::{Confidence, TrackerMatch};

/// How much a finding matters on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Context only.
    Info,
    /// Worth noting.
    Low,
    /// A real weakness or capability.
    Medium,
    /// A strong signal.
    High,
}

/// One thing static analysis saw, tied to a risk factor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Risk factor it is evidence for (`F1` … `F5`).
    pub factor: &'static str,
    /// Stable identifier, e.g. `android.dynamic_code_loading`.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// One-line description.
    pub title: String,
    /// What was seen (APIs, permissions, entries), sorted, at most 20.
    pub evidence: Vec<String>,
}

/// A suggested score for one risk factor, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactorSuggestion {
    /// `F1` … `F5`.
    pub factor: &'static str,
    /// Suggested score, 0..=4.
    pub score: u8,
    /// Why, in one or two sentences.
    pub rationale: String,
    /// Ids of the findings behind the score, sorted.
    pub findings: Vec<String>,
    /// Source citation: `static analysis of <sha256>, appwarden-appscan <version>`.
    pub source: String,
    /// Whether static analysis covers the factor only in part (F1).
    pub partial: bool,
}

fn finding(
    factor: &'static str,
    id: &str,
    severity: Severity,
    title: &str,
    evidence: impl IntoIterator<Item = String>,
) -> Finding {
    let mut ev: Vec<String> = evidence.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    ev.truncate(20);
    Finding {
        factor,
        id: id.to_string(),
        severity,
        title: title.to_string(),
        evidence: ev,
    }
}

/// Dangerous-permission groups for F2.
const PERMISSION_GROUPS: &[(&str, &[&str])] = &[
    (
        "location",
        &[
            "ACCESS_FINE_LOCATION",
            "ACCESS_COARSE_LOCATION",
            "ACCESS_BACKGROUND_LOCATION",
        ],
    ),
    ("camera", &["CAMERA"]),
    ("microphone", &["RECORD_AUDIO"]),
    ("contacts", &["READ_CONTACTS", "WRITE_CONTACTS", "GET_ACCOUNTS"]),
    (
        "sms",
        &["READ_SMS", "SEND_SMS", "RECEIVE_SMS", "RECEIVE_MMS", "RECEIVE_WAP_PUSH"],
    ),
    (
        "call_log",
        &["READ_CALL_LOG", "WRITE_CALL_LOG", "PROCESS_OUTGOING_CALLS"],
    ),
    (
        "phone",
        &[
            "READ_PHONE_STATE",
            "READ_PHONE_NUMBERS",
            "CALL_PHONE",
            "ANSWER_PHONE_CALLS",
        ],
    ),
    ("calendar", &["READ_CALENDAR", "WRITE_CALENDAR"]),
    (
        "sensors",
        &["BODY_SENSORS", "BODY_SENSORS_BACKGROUND", "ACTIVITY_RECOGNITION"],
    ),
    (
        "storage",
        &[
            "READ_EXTERNAL_STORAGE",
            "WRITE_EXTERNAL_STORAGE",
            "MANAGE_EXTERNAL_STORAGE",
            "READ_MEDIA_IMAGES",
            "READ_MEDIA_VIDEO",
            "READ_MEDIA_AUDIO",
        ],
    ),
    (
        "nearby_devices",
        &[
            "BLUETOOTH_SCAN",
            "BLUETOOTH_CONNECT",
            "NEARBY_WIFI_DEVICES",
            "UWB_RANGING",
        ],
    ),
];

/// Permissions/bindings that give control over the device (F2 → 4).
const POWERFUL: &[(&str, &str)] = &[
    ("android.permission.BIND_ACCESSIBILITY_SERVICE", "accessibility service"),
    ("android.permission.BIND_DEVICE_ADMIN", "device administrator"),
    ("android.permission.BIND_VPN_SERVICE", "VPN service"),
    (
        "android.permission.BIND_NOTIFICATION_LISTENER_SERVICE",
        "notification listener",
    ),
    ("android.permission.BIND_INPUT_METHOD", "input method (keyboard)"),
    ("android.permission.SYSTEM_ALERT_WINDOW", "draw over other apps"),
    ("android.permission.WRITE_SECURE_SETTINGS", "write secure settings"),
    ("android.permission.REQUEST_INSTALL_PACKAGES", "install other packages"),
    ("android.permission.MANAGE_EXTERNAL_STORAGE", "all-files access"),
];

const EVENT_ACTIONS: &[&str] = &[
    "android.intent.action.BOOT_COMPLETED",
    "android.intent.action.LOCKED_BOOT_COMPLETED",
    "android.intent.action.QUICKBOOT_POWERON",
    "android.intent.action.PACKAGE_ADDED",
    "android.intent.action.PACKAGE_REPLACED",
    "android.intent.action.PACKAGE_REMOVED",
    "android.intent.action.PACKAGE_INSTALL",
    "android.intent.action.MY_PACKAGE_REPLACED",
    "android.intent.action.USER_PRESENT",
    "android.provider.Telephony.SMS_RECEIVED",
    "android.intent.action.NEW_OUTGOING_CALL",
    "android.intent.action.PHONE_STATE",
];

/// Derives findings from an Android report.
pub fn android_findings(r: &AndroidReport, net: &NetworkIndicators, trackers: &[TrackerMatch]) -> Vec<Finding> {
    let m = &r.manifest;
    let mut out = Vec::new();
    let apis = |cap: Capability| -> Vec<String> {
        r.api_uses
            .iter()
            .filter(|u| u.capability == cap)
            .map(|u| u.api.clone())
            .collect()
    };
    let has_perm = |p: &str| m.requested_permissions.iter().any(|x| x.name == p);

    // --- F1: data collection breadth (partial) ---
    let ids = apis(Capability::DeviceIdentifiers);
    if !ids.is_empty() {
        out.push(finding(
            "F1",
            "android.device_identifiers",
            Severity::High,
            "code reads hardware/SIM identifiers (IMEI, MEID, IMSI, SIM serial, phone number)",
            ids,
        ));
    }
    let mut soft_ids = apis(Capability::AndroidId);
    soft_ids.extend(apis(Capability::MacAddress));
    if !soft_ids.is_empty() {
        out.push(finding(
            "F1",
            "android.soft_identifiers",
            Severity::Medium,
            "code reads ANDROID_ID or MAC addresses",
            soft_ids,
        ));
    }
    let mut installed = apis(Capability::InstalledApps);
    if has_perm("android.permission.QUERY_ALL_PACKAGES") {
        installed.push("android.permission.QUERY_ALL_PACKAGES".into());
    }
    if !installed.is_empty() {
        out.push(finding(
            "F1",
            "android.installed_apps",
            Severity::Medium,
            "enumerates installed apps",
            installed,
        ));
    }
    if !m.queries.is_empty() {
        out.push(finding(
            "F1",
            "android.package_visibility_queries",
            Severity::Info,
            "declares package-visibility <queries>",
            m.queries.iter().cloned(),
        ));
    }
    let clip = apis(Capability::ClipboardRead);
    if !clip.is_empty() {
        out.push(finding(
            "F1",
            "android.clipboard_read",
            Severity::Medium,
            "code reads the clipboard",
            clip,
        ));
    }
    let personal: Vec<String> = [
        "READ_SMS",
        "RECEIVE_SMS",
        "READ_CALL_LOG",
        "READ_CONTACTS",
        "GET_ACCOUNTS",
    ]
    .iter()
    .map(|p| format!("android.permission.{p}"))
    .filter(|p| has_perm(p))
    .collect();
    if !personal.is_empty() {
        out.push(finding(
            "F1",
            "android.personal_data_permissions",
            Severity::Medium,
            "requests access to messages, call log, contacts or accounts",
            personal,
        ));
    }

    // --- F2: capabilities ---
    let mut groups = Vec::new();
    for (g, perms) in PERMISSION_GROUPS {
        let hit: Vec<String> = perms
            .iter()
            .map(|p| format!("android.permission.{p}"))
            .filter(|p| has_perm(p))
            .collect();
        if !hit.is_empty() {
            groups.push(format!("{g}: {}", hit.join(", ")));
        }
    }
    if !groups.is_empty() {
        let sev = if groups.len() >= 5 {
            Severity::High
        } else if groups.len() >= 3 {
            Severity::Medium
        } else {
            Severity::Low
        };
        out.push(finding(
            "F2",
            "android.dangerous_permission_groups",
            sev,
            &format!("requests {} dangerous permission group(s)", groups.len()),
            groups,
        ));
    }
    let mut powerful: Vec<String> = Vec::new();
    for (p, what) in POWERFUL {
        if has_perm(p) || m.components.iter().any(|c| c.permission.as_deref() == Some(*p)) {
            powerful.push(format!("{what} ({p})"));
        }
    }
    powerful.extend(
        apis(Capability::AccessibilityService)
            .into_iter()
            .map(|a| format!("implements {a}")),
    );
    if !powerful.is_empty() {
        out.push(finding(
            "F2",
            "android.powerful_capabilities",
            Severity::High,
            "device-control capabilities (accessibility, device admin, VPN, overlay, keyboard …)",
            powerful,
        ));
    }
    let mut capture = apis(Capability::Location);
    capture.extend(apis(Capability::Contacts));
    capture.extend(apis(Capability::AudioVideoCapture));
    capture.extend(apis(Capability::Sms));
    if !capture.is_empty() {
        out.push(finding(
            "F2",
            "android.sensitive_api_use",
            Severity::Low,
            "code references location, contacts, capture or SMS APIs",
            capture,
        ));
    }
    let events: Vec<String> = m
        .components
        .iter()
        .filter(|c| c.kind == crate::android::manifest::ComponentKind::Receiver)
        .flat_map(|c| {
            c.actions
                .iter()
                .filter(|a| EVENT_ACTIONS.contains(&a.as_str()))
                .map(move |a| format!("{} <- {a}", c.name))
        })
        .collect();
    if !events.is_empty() {
        out.push(finding(
            "F2",
            "android.event_receivers",
            Severity::Low,
            "receivers for boot, install, SMS or call events (start without the user)",
            events,
        ));
    }

    // --- F3: trackers ---
    push_tracker_finding(&mut out, trackers);

    // --- F4: code integrity ---
    let dyn_load = apis(Capability::DynamicCodeLoading);
    if !dyn_load.is_empty() {
        out.push(finding(
            "F4",
            "android.dynamic_code_loading",
            Severity::High,
            "loads DEX code at run time (DexClassLoader/InMemoryDexClassLoader/DexFile)",
            dyn_load,
        ));
    }
    let exec = apis(Capability::RuntimeExec);
    if !exec.is_empty() {
        out.push(finding(
            "F4",
            "android.runtime_exec",
            Severity::Medium,
            "runs shell commands (Runtime.exec/ProcessBuilder)",
            exec,
        ));
    }
    let native_path = apis(Capability::NativeLoadFromPath);
    if !native_path.is_empty() {
        out.push(finding(
            "F4",
            "android.native_load_from_path",
            Severity::Medium,
            "loads native code from a file path (System.load)",
            native_path,
        ));
    }
    let mut install = apis(Capability::PackageInstall);
    if has_perm("android.permission.REQUEST_INSTALL_PACKAGES") {
        install.push("android.permission.REQUEST_INSTALL_PACKAGES".into());
    }
    if !install.is_empty() {
        out.push(finding(
            "F4",
            "android.installs_packages",
            Severity::Medium,
            "can install other packages outside the store",
            install,
        ));
    }
    if !r.embedded_code.is_empty() {
        out.push(finding(
            "F4",
            "android.embedded_code",
            Severity::Medium,
            "ships extra APK/JAR/DEX files outside the standard DEX slots",
            r.embedded_code.iter().cloned(),
        ));
    }
    let pcl = apis(Capability::PathClassLoader);
    let refl = apis(Capability::Reflection);
    if !pcl.is_empty() || !refl.is_empty() {
        out.push(finding(
            "F4",
            "android.reflection_or_classloader",
            Severity::Info,
            "uses reflection or PathClassLoader (common; hides call targets)",
            pcl.into_iter().chain(refl),
        ));
    }
    let code_urls: Vec<String> = net
        .urls
        .iter()
        .filter(|u| {
            let l = u.to_ascii_lowercase();
            let path = l.split(['?', '#']).next().unwrap_or("");
            path.ends_with(".dex") || path.ends_with(".jar") || path.ends_with(".apk")
        })
        .cloned()
        .collect();
    if !code_urls.is_empty() {
        out.push(finding(
            "F4",
            "android.code_download_urls",
            Severity::High,
            "embeds URLs of code files (.dex/.jar/.apk)",
            code_urls,
        ));
    }

    // --- F5: hygiene ---
    if m.debuggable {
        out.push(finding(
            "F5",
            "android.debuggable",
            Severity::High,
            "android:debuggable=\"true\" (a debug build)",
            ["application debuggable=true".to_string()],
        ));
    }
    if m.test_only {
        out.push(finding(
            "F5",
            "android.test_only",
            Severity::Medium,
            "android:testOnly=\"true\"",
            ["application testOnly=true".to_string()],
        ));
    }
    let debug_certs: Vec<String> = r
        .signing
        .certificates
        .iter()
        .filter(|c| c.debug_key || c.aosp_test_key)
        .map(|c| format!("{} ({})", c.subject, c.sha256))
        .collect();
    if !debug_certs.is_empty() {
        out.push(finding(
            "F5",
            "android.debug_certificate",
            Severity::High,
            "signed with the SDK debug key or a public AOSP test key",
            debug_certs,
        ));
    }
    if r.signing.certificates.is_empty() {
        out.push(finding(
            "F5",
            "android.unsigned",
            Severity::High,
            "no readable signer certificate",
            r.signing.warnings.iter().cloned(),
        ));
    }
    let target: u32 = m.target_sdk.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut cleartext = Vec::new();
    match m.uses_cleartext_traffic {
        Some(true) => cleartext.push("application usesCleartextTraffic=true".to_string()),
        None if target > 0 && target < 28 && r.network_security_config.is_none() => {
            cleartext.push(format!("targetSdk {target} < 28: cleartext allowed by default"))
        }
        _ => {}
    }
    if let Some(nsc) = &r.network_security_config {
        if nsc.cleartext_permitted_base {
            cleartext.push(format!("{}: base-config cleartextTrafficPermitted=true", nsc.entry));
        }
        cleartext.extend(
            nsc.cleartext_domains
                .iter()
                .map(|d| format!("cleartext permitted for {d}")),
        );
    }
    if !cleartext.is_empty() {
        let sev = if net.cleartext_urls.is_empty() {
            Severity::Medium
        } else {
            Severity::High
        };
        cleartext.extend(net.cleartext_urls.iter().take(10).cloned());
        out.push(finding(
            "F5",
            "android.cleartext_traffic",
            sev,
            "cleartext (http) traffic allowed",
            cleartext,
        ));
    }
    let mut weak_tls = apis(Capability::WeakTls);
    if r.network_security_config.as_ref().is_some_and(|n| n.trusts_user_certs) {
        weak_tls.push("network security config trusts user-installed CAs".into());
    }
    if !weak_tls.is_empty() {
        out.push(finding(
            "F5",
            "android.weak_tls",
            Severity::High,
            "TLS validation weakened",
            weak_tls,
        ));
    }
    if m.allow_backup != Some(false) {
        out.push(finding(
            "F5",
            "android.allow_backup",
            Severity::Low,
            "app data can be backed up (allowBackup not false)",
            [format!("allowBackup={:?}", m.allow_backup)],
        ));
    }
    let unprotected: Vec<String> = m
        .components
        .iter()
        .filter(|c| {
            c.exported && c.permission.is_none() && !c.actions.iter().any(|a| a == "android.intent.action.MAIN")
        })
        .map(|c| format!("{:?} {}", c.kind, c.name))
        .collect();
    if !unprotected.is_empty() {
        out.push(finding(
            "F5",
            "android.exported_unprotected_components",
            Severity::Low,
            &format!("{} exported component(s) without a permission", unprotected.len()),
            unprotected,
        ));
    }
    if r.signing.schemes.v1 && !r.signing.schemes.v2 && !r.signing.schemes.v3 && target >= 30 {
        out.push(finding(
            "F5",
            "android.v1_only_signature",
            Severity::Low,
            "only JAR (v1) signed while targeting API 30+",
            ["v1 only".to_string()],
        ));
    }
    let js = apis(Capability::WebViewJsBridge);
    if !js.is_empty() {
        out.push(finding(
            "F5",
            "android.webview_js_bridge",
            Severity::Info,
            "exposes Java objects to WebView JavaScript",
            js,
        ));
    }
    out.sort();
    out
}

fn push_tracker_finding(out: &mut Vec<Finding>, trackers: &[TrackerMatch]) {
    let sure: Vec<&TrackerMatch> = trackers.iter().filter(|t| t.confidence >= Confidence::Medium).collect();
    if !sure.is_empty() {
        let sev = if sure.len() >= 4 {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(finding(
            "F3",
            "trackers.detected",
            sev,
            &format!("{} tracker SDK(s) detected (εxodus signatures)", sure.len()),
            sure.iter()
                .map(|t| format!("{} [{}] ({:?})", t.name, t.categories.join(", "), t.confidence)),
        ));
    }
    let weak: Vec<String> = trackers
        .iter()
        .filter(|t| t.confidence == Confidence::Low)
        .map(|t| format!("{} (low: {})", t.name, t.examples.join(", ")))
        .collect();
    if !weak.is_empty() {
        out.push(finding(
            "F3",
            "trackers.weak_signals",
            Severity::Info,
            "tracker names seen only in strings or hosts",
            weak,
        ));
    }
}

/// Derives findings from an iOS report.
pub fn ios_findings(r: &IosReport, net: &NetworkIndicators, trackers: &[TrackerMatch]) -> Vec<Finding> {
    let mut out = Vec::new();
    let usage = |keys: &[&str]| -> Vec<String> {
        r.usage_descriptions
            .keys()
            .filter(|k| keys.contains(&k.as_str()))
            .cloned()
            .collect()
    };
    // F1
    let mut ids: Vec<String> = r
        .frameworks
        .iter()
        .filter(|f| f.as_str() == "AdSupport" || f.as_str() == "AppTrackingTransparency")
        .map(|f| format!("framework {f}"))
        .collect();
    ids.extend(usage(&["NSUserTrackingUsageDescription"]));
    ids.extend(
        r.sensitive_symbols
            .iter()
            .filter(|s| s.contains("advertisingIdentifier") || s.contains("identifierForVendor"))
            .cloned(),
    );
    if !ids.is_empty() {
        out.push(finding(
            "F1",
            "ios.advertising_identifier",
            Severity::Medium,
            "uses the advertising identifier (IDFA) or app tracking",
            ids,
        ));
    }
    let clip: Vec<String> = r
        .sensitive_symbols
        .iter()
        .filter(|s| s.contains("UIPasteboard"))
        .cloned()
        .collect();
    if !clip.is_empty() {
        out.push(finding(
            "F1",
            "ios.clipboard",
            Severity::Medium,
            "references UIPasteboard",
            clip,
        ));
    }
    if r.queried_schemes.len() >= 20 {
        out.push(finding(
            "F1",
            "ios.app_discovery",
            Severity::Medium,
            &format!(
                "queries {} URL schemes (LSApplicationQueriesSchemes) to discover installed apps",
                r.queried_schemes.len()
            ),
            r.queried_schemes.iter().cloned(),
        ));
    }
    // F2
    let groups: Vec<String> = r.usage_descriptions.keys().cloned().collect();
    if !groups.is_empty() {
        let n = groups.len();
        let sev = if n >= 5 {
            Severity::High
        } else if n >= 3 {
            Severity::Medium
        } else {
            Severity::Low
        };
        out.push(finding(
            "F2",
            "ios.privacy_usage_descriptions",
            sev,
            &format!("declares {n} privacy-sensitive usage description(s)"),
            groups,
        ));
    }
    let powerful: Vec<String> = r
        .entitlements
        .keys()
        .filter(|k| {
            k.contains("networking.networkextension")
                || k.contains("developer.contacts")
                || k.contains("healthkit")
                || k.contains("family-controls")
        })
        .cloned()
        .collect();
    if !powerful.is_empty() {
        out.push(finding(
            "F2",
            "ios.powerful_entitlements",
            Severity::High,
            "entitlements for VPN/network extension, HealthKit or device control",
            powerful,
        ));
    }
    // F3
    push_tracker_finding(&mut out, trackers);
    // F4
    let dl: Vec<String> = r
        .sensitive_symbols
        .iter()
        .filter(|s| s.as_str() == "dlopen" || s.contains("JSContext"))
        .cloned()
        .collect();
    if !dl.is_empty() {
        out.push(finding(
            "F4",
            "ios.dynamic_code",
            Severity::Low,
            "references dlopen or JavaScriptCore (scriptable code paths)",
            dl,
        ));
    }
    // F5
    if r.entitlements.get("get-task-allow").map(String::as_str) == Some("true") {
        out.push(finding(
            "F5",
            "ios.get_task_allow",
            Severity::High,
            "get-task-allow entitlement (a development build)",
            ["get-task-allow=true".to_string()],
        ));
    }
    if !r.ats_exceptions.is_empty() {
        let arbitrary = r
            .ats_exceptions
            .iter()
            .any(|e| e.contains("NSAllowsArbitraryLoads=true"));
        out.push(finding(
            "F5",
            "ios.ats_exceptions",
            if arbitrary { Severity::High } else { Severity::Medium },
            "App Transport Security exceptions (cleartext or weak TLS allowed)",
            r.ats_exceptions.iter().cloned(),
        ));
    }
    if !net.cleartext_urls.is_empty() {
        out.push(finding(
            "F5",
            "ios.cleartext_urls",
            Severity::Low,
            "embeds http:// URLs",
            net.cleartext_urls.iter().take(20).cloned(),
        ));
    }
    out.sort();
    out
}

/// Scores the factors from findings (rubric in `docs/appscan.md`).
pub fn suggest_factors(findings: &[Finding], trackers: &[TrackerMatch], source: &str) -> Vec<FactorSuggestion> {
    let ids = |f: &str| -> Vec<&Finding> { findings.iter().filter(|x| x.factor == f).collect() };
    let has = |id: &str| findings.iter().any(|x| x.id.ends_with(id));
    let mk = |factor: &'static str, score: u8, rationale: String, partial: bool| FactorSuggestion {
        factor,
        score: score.min(4),
        rationale,
        findings: ids(factor)
            .iter()
            .map(|f| f.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        source: source.to_string(),
        partial,
    };
    let mut out = Vec::new();

    // F1: points per kind of collection, capped at 4.
    let f1 = ids("F1");
    let pts: u32 = f1
        .iter()
        .map(|f| match f.severity {
            Severity::High => 2,
            Severity::Medium => 1,
            _ => 0,
        })
        .sum();
    out.push(mk("F1", pts.min(4) as u8,
        format!("{} collection signal(s) in code/manifest (identifiers 2 points, other medium signals 1 point each); static analysis sees capability, not actual collection", f1.len()),
        true));

    // F2: dangerous groups and powerful capabilities.
    let groups = findings
        .iter()
        .find(|f| f.id.ends_with("dangerous_permission_groups") || f.id.ends_with("privacy_usage_descriptions"))
        .map_or(0, |f| f.evidence.len());
    let powerful = has("powerful_capabilities") || has("powerful_entitlements");
    let f2 = match (groups, powerful) {
        (g, true) if g >= 3 => 4,
        (_, true) => 3,
        (0, false) => 0,
        (1..=2, false) => 1,
        (3..=4, false) => 2,
        _ => 3,
    };
    out.push(mk(
        "F2",
        f2,
        format!("{groups} sensitive permission group(s); device-control capability: {powerful}"),
        false,
    ));

    // F3: trackers with at least medium confidence.
    let sure: Vec<&TrackerMatch> = trackers.iter().filter(|t| t.confidence >= Confidence::Medium).collect();
    let profiling = sure
        .iter()
        .filter(|t| t.categories.iter().any(|c| c == "Profiling"))
        .count();
    let f3 = match sure.len() {
        0 => 0,
        1 => 1,
        2..=3 => 2,
        4..=6 => 3,
        _ => 4,
    };
    let f3 = if profiling >= 2 { 4 } else { f3 };
    out.push(mk(
        "F3",
        f3,
        format!(
            "{} tracker SDK(s) at medium or high confidence, {profiling} with the Profiling category",
            sure.len()
        ),
        false,
    ));

    // F4: strongest code-integrity signal.
    let f4 = if has("dynamic_code_loading")
        && (has("runtime_exec") || has("code_download_urls") || has("installs_packages"))
    {
        4
    } else if has("dynamic_code_loading") || has("code_download_urls") {
        3
    } else if has("runtime_exec") || has("native_load_from_path") || has("installs_packages") || has("embedded_code") {
        2
    } else if has("reflection_or_classloader") || has("ios.dynamic_code") {
        1
    } else {
        0
    };
    out.push(mk("F4", f4, "dynamic code loading 3 (4 with exec, code-file URLs or package installs); exec, System.load, installs or embedded code 2; reflection only 1".into(), false));

    // F5: worst hygiene finding, +1 when two or more are high.
    let f5f = ids("F5");
    let worst = f5f.iter().map(|f| f.severity).max();
    let highs = f5f.iter().filter(|f| f.severity == Severity::High).count();
    let base: u8 = match worst {
        Some(Severity::High) => 3,
        Some(Severity::Medium) => 2,
        Some(Severity::Low) => 1,
        _ => 0,
    };
    let f5 = if highs >= 2 { base + 1 } else { base };
    out.push(mk(
        "F5",
        f5,
        format!("worst hygiene finding {worst:?}, {highs} high-severity finding(s)"),
        false,
    ));
    out
}
