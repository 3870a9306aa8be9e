//! appwarden's risk model: per-organisation profiles, the F1–F9 factor
//! rubric, gates, the weighted score and level, decisions, exceptions, and an
//! explanation of every result. Pure: no I/O beyond reading a profile file.
//!
//! The model is documented in `docs/risk-model.md`; results are stamped with
//! [`MODEL_VERSION`], the catalog snapshot and the profile version, and the
//! same inputs give byte-identical JSON.

#![forbid(unsafe_code)]

mod assess;
mod exception;
mod explain;
mod profile;

pub use assess::{
    Assessment, Context, DecidedBy, Decision, EvidenceRef, ExtraEvidence, FactorResult, GateHit, GateKind, Level,
    OrgContext, Stamp,
};
pub use exception::{Exception, ExceptionResult, ExceptionStatus};
pub use profile::{Profile, Weights};

/// The TOML text of a bundled profile, as (id, text).
pub fn profile_source(id: &str) -> Option<(&'static str, &'static str)> {
    profile::BUNDLED.iter().find(|(i, _)| *i == id).copied()
}

/// Version of the risk model: bump when the rubric, formulas or derivations change.
pub const MODEL_VERSION: &str = "appwarden-risk/1";

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RiskError {
    /// No bundled profile has that name, and it is not a file.
    #[error("unknown profile `{name}` (bundled: {known}; or give a path to a .toml file)")]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// Bundled ids.
        known: String,
    },
    /// A profile file is malformed.
    #[error("profile {name}: {message}")]
    InvalidProfile {
        /// File or profile name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A profile file could not be read.
    #[error("reading {path}: {message}")]
    Io {
        /// Path.
        path: String,
        /// Error.
        message: String,
    },
}
