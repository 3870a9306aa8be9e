//! Static analysis of Android (APK, XAPK/APKS split bundles) and iOS (IPA)
//! packages for appwarden.
//!
//! [`scan_path`] / [`scan_bytes`] read a package and return a [`ScanReport`]:
//! manifest or Info.plist facts, signatures, code facts (DEX classes, strings,
//! sensitive API references; Mach-O strings and entitlements), embedded network
//! indicators, trackers (εxodus signatures), [`Finding`]s and
//! [`FactorSuggestion`]s for the risk factors F1–F5 (rubric in `docs/appscan.md`).
//!
//! Hostile input gives a [`ScanError`] with its location, never a panic;
//! memory and time are bounded by [`Limits`].
//!
//! ```no_run
//! let report = appscan::scan_path("app.apk".as_ref(), &appscan::ScanOptions::default())?;
//! println!("{}", serde_json::to_string_pretty(&report).unwrap());
//! # Ok::<(), appscan::ScanError>(())
//! ```
#![forbid(unsafe_code)]

pub mod android;
mod archive;
pub mod error;
pub mod findings;
pub mod ios;
pub mod limits;
pub mod network;
mod reader;
pub mod trackers;

use std::cell::Cell;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::android::AndroidReport;
pub use crate::error::{Location, ScanError};
pub use crate::findings::{FactorSuggestion, Finding, Severity};
pub use crate::ios::IosReport;
pub use crate::limits::Limits;
pub use crate::network::NetworkIndicators;
pub use crate::trackers::{Confidence, MatchMethod, TrackerDb, TrackerMatch};

/// `appwarden-appscan <version>`, the tool name cited in evidence.
pub const TOOL: &str = concat!("appwarden-appscan ", env!("CARGO_PKG_VERSION"));

/// What to analyse.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOptions {
    /// Resource caps.
    pub limits: Limits,
    /// Read code (DEX files; Mach-O binaries are always read for entitlements). Default true.
    pub code: bool,
    /// Extract URLs, domains and IPs. Default true.
    pub network: bool,
    /// Also look for URLs in small text assets and in native libraries
    /// (one ABI). Default true.
    pub resources: bool,
    /// Match trackers. Default true.
    pub trackers: bool,
    /// Also run the εxodus reference matcher (for comparison; slower). Default false.
    pub exodus_reference: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            limits: Limits::default(),
            code: true,
            network: true,
            resources: true,
            trackers: true,
            exodus_reference: false,
        }
    }
}

/// Which kind of package was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// A single APK.
    Apk,
    /// A zip of APKs (.xapk, .apks, .apkm).
    AndroidBundle,
    /// An iOS IPA.
    Ipa,
}

/// The input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputInfo {
    /// File name, if known.
    pub file_name: Option<String>,
    /// SHA-256 of the whole file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Package kind.
    pub kind: PackageKind,
}

/// The result of a scan. Field order and collection order are stable, so the
/// JSON of two scans of the same file is byte-identical.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// `appwarden-appscan <version>`.
    pub tool: String,
    /// The input.
    pub input: InputInfo,
    /// Android facts, for APKs and bundles.
    pub android: Option<AndroidReport>,
    /// iOS facts, for IPAs.
    pub ios: Option<IosReport>,
    /// URLs, domains and IPs in code and resources.
    pub network: NetworkIndicators,
    /// Trackers found, sorted by εxodus id.
    pub trackers: Vec<TrackerMatch>,
    /// εxodus reference matcher result (id → (code, network)), when asked for.
    pub exodus_reference: Option<std::collections::BTreeMap<u32, (bool, bool)>>,
    /// Findings, sorted by factor then id.
    pub findings: Vec<Finding>,
    /// Suggested scores for F1–F5.
    pub factors: Vec<FactorSuggestion>,
}

/// Scans the package at `path` (type detected from content, not the extension).
pub fn scan_path(path: &Path, opts: &ScanOptions) -> Result<ScanReport, ScanError> {
    let io = |e| ScanError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > opts.limits.max_input_bytes {
        return Err(ScanError::InputTooLarge {
            size,
            limit: opts.limits.max_input_bytes,
        });
    }
    let data = std::fs::read(path).map_err(io)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    scan_bytes(&data, name.as_deref(), opts)
}

/// Scans a package held in memory.
pub fn scan_bytes(data: &[u8], file_name: Option<&str>, opts: &ScanOptions) -> Result<ScanReport, ScanError> {
    if data.len() as u64 > opts.limits.max_input_bytes {
        return Err(ScanError::InputTooLarge {
            size: data.len() as u64,
            limit: opts.limits.max_input_bytes,
        });
    }
    let sha256 = android::signing::hex(&Sha256::digest(data));
    let source = format!("static analysis of {sha256}, {TOOL}");
    let spent = Cell::new(0u64);
    let is_ipa = {
        let probe = archive::Archive::open(data, "", &opts.limits, &spent)?;
        probe
            .names()
            .iter()
            .any(|n| n.starts_with("Payload/") && n.contains(".app/"))
            && !probe.contains("AndroidManifest.xml")
    };
    let db = TrackerDb::embedded();
    if is_ipa {
        let s = ios::scan(data, opts, &spent)?;
        let network = s.network.finish();
        let mut evidence = s.evidence;
        evidence.domains = network.domains.iter().cloned().collect();
        let trackers = if opts.trackers {
            db.match_evidence(&evidence)
        } else {
            Vec::new()
        };
        let findings = findings::ios_findings(&s.report, &network, &trackers);
        let factors = findings::suggest_factors(&findings, &trackers, &source);
        return Ok(ScanReport {
            tool: TOOL.to_string(),
            input: InputInfo {
                file_name: file_name.map(str::to_string),
                sha256,
                size: data.len() as u64,
                kind: PackageKind::Ipa,
            },
            android: None,
            ios: Some(s.report),
            network,
            trackers,
            exodus_reference: None,
            findings,
            factors,
        });
    }
    let s = android::scan(data, opts, &spent)?;
    let kind = if s.report.splits.is_empty() {
        PackageKind::Apk
    } else {
        PackageKind::AndroidBundle
    };
    let network = s.network.finish();
    let mut evidence = s.evidence;
    evidence.domains = network.domains.iter().cloned().collect();
    let trackers = if opts.trackers {
        db.match_evidence(&evidence)
    } else {
        Vec::new()
    };
    let exodus_reference = s.exodus_input.map(|(classes, strings)| {
        db.match_exodus_reference(classes.iter().map(String::as_str), strings.iter().map(String::as_str))
    });
    let findings = findings::android_findings(&s.report, &network, &trackers);
    let factors = findings::suggest_factors(&findings, &trackers, &source);
    Ok(ScanReport {
        tool: TOOL.to_string(),
        input: InputInfo {
            file_name: file_name.map(str::to_string),
            sha256,
            size: data.len() as u64,
            kind,
        },
        android: Some(s.report),
        ios: None,
        network,
        trackers,
        exodus_reference,
        findings,
        factors,
    })
}
