//! Android permission classification from the embedded AOSP tables
//! (`data/android_permissions_api29.json` plus `data/android_permissions_additions.json`
//! for API 30–34; sources in `data/README.md`).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const API29: &str = include_str!("../../data/android_permissions_api29.json");
const ADDITIONS: &str = include_str!("../../data/android_permissions_additions.json");

/// Where a permission's protection level came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionSource {
    /// AOSP framework manifest, API 29.
    Aosp29,
    /// Android reference, API 30–34 additions.
    AospAdditions,
    /// Declared by the app itself with `<permission>`.
    DeclaredByApp,
    /// Not known to the tables (another app's or vendor permission).
    Unknown,
}

/// Classification of one permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PermissionInfo {
    /// Protection level as in the framework manifest, e.g. `dangerous|instant`.
    pub protection_level: Option<String>,
    /// True when the base level is `dangerous` (runtime permission).
    pub dangerous: bool,
    /// True for `signature`/`privileged` levels a store app cannot get.
    pub signature_or_privileged: bool,
    /// Where the level came from.
    pub source: PermissionSource,
}

#[derive(Deserialize)]
struct Table {
    permissions: HashMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    protection_level: String,
}

fn tables() -> &'static (HashMap<String, String>, HashMap<String, String>) {
    static T: OnceLock<(HashMap<String, String>, HashMap<String, String>)> = OnceLock::new();
    T.get_or_init(|| {
        let load = |s: &str| -> HashMap<String, String> {
            serde_json::from_str::<Table>(s)
                .map(|t| {
                    t.permissions
                        .into_iter()
                        .map(|(k, v)| (k, v.protection_level))
                        .collect()
                })
                .unwrap_or_default()
        };
        (load(API29), load(ADDITIONS))
    })
}

/// Classifies `name`; `declared_by_app` when the manifest declares it itself.
pub fn classify(name: &str, declared_by_app: bool) -> PermissionInfo {
    let (api29, additions) = tables();
    let (level, source) = if let Some(l) = api29.get(name) {
        (Some(l.clone()), PermissionSource::Aosp29)
    } else if let Some(l) = additions.get(name) {
        (Some(l.clone()), PermissionSource::AospAdditions)
    } else if declared_by_app {
        (None, PermissionSource::DeclaredByApp)
    } else {
        (None, PermissionSource::Unknown)
    };
    let base = level.as_deref().and_then(|l| l.split('|').next()).unwrap_or("");
    PermissionInfo {
        dangerous: base == "dangerous",
        signature_or_privileged: base == "signature" || base == "signatureOrSystem",
        protection_level: level,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_load_and_classify() {
        assert!(classify("android.permission.CAMERA", false).dangerous);
        assert!(classify("android.permission.POST_NOTIFICATIONS", false).dangerous);
        assert!(!classify("android.permission.INTERNET", false).dangerous);
        assert!(classify("android.permission.WRITE_SECURE_SETTINGS", false).signature_or_privileged);
        assert_eq!(classify("com.example.X", true).source, PermissionSource::DeclaredByApp);
        assert_eq!(classify("com.example.Y", false).source, PermissionSource::Unknown);
    }
}
