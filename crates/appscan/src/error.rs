//! The one error type of the crate.
//!
//! Every variant that comes from reading a file says where: the archive entry
//! (`AndroidManifest.xml`, `classes2.dex`, `Payload/X.app/X`) and, when the
//! problem is inside a binary structure, the byte offset in that entry.

use std::fmt;

/// Where in the package a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Archive entry name (`"<input>"` for the outer file itself). Nested
    /// entries are joined with `!`, e.g. `split_config.arm64.apk!AndroidManifest.xml`.
    pub entry: String,
    /// Byte offset inside that entry, when known.
    pub offset: Option<u64>,
}

impl Location {
    /// A location inside `entry` at `offset`.
    pub fn new(entry: impl Into<String>, offset: Option<u64>) -> Self {
        Location {
            entry: entry.into(),
            offset,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} @ offset {:#x}", self.entry, o),
            None => write!(f, "{}", self.entry),
        }
    }
}

/// Everything that can go wrong while scanning a package.
///
/// Scanning never panics on hostile input; it returns one of these instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// Reading the input file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that was read.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The input is larger than [`crate::Limits::max_input_bytes`].
    #[error("input is {size} bytes, more than the limit of {limit}")]
    InputTooLarge {
        /// Size of the input.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The file is not a zip archive, or its zip structure is broken.
    #[error("{location}: not a readable zip archive: {reason}")]
    Zip {
        /// Where.
        location: Location,
        /// What the zip reader said.
        reason: String,
    },
    /// The package type could not be recognised (no manifest, no Payload/).
    #[error("unrecognised package: {0}")]
    UnknownPackage(String),
    /// An entry name is unsafe (absolute, `..`, NUL, backslash traversal).
    #[error("{location}: unsafe entry name {name:?}")]
    PathTraversal {
        /// Where.
        location: Location,
        /// The offending name, lossily decoded.
        name: String,
    },
    /// A decompressed entry, or the sum of them, exceeded the configured cap,
    /// or an entry's compression ratio is that of a zip bomb.
    #[error("{location}: {what} exceeds the limit ({actual} > {limit})")]
    LimitExceeded {
        /// Where.
        location: Location,
        /// Which limit (e.g. "decompressed size", "entry count", "string count").
        what: &'static str,
        /// The value found (or declared).
        actual: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A binary structure (AXML, ARSC, DEX, signing block, PKCS#7, Mach-O) is malformed.
    #[error("{location}: malformed {format}: {reason}")]
    Malformed {
        /// Where.
        location: Location,
        /// Which format ("AXML", "DEX", "APK signing block", ...).
        format: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A property list could not be parsed.
    #[error("{location}: malformed property list: {reason}")]
    Plist {
        /// Where.
        location: Location,
        /// What the plist reader said.
        reason: String,
    },
}

impl ScanError {
    /// Shorthand for a [`ScanError::Malformed`].
    pub(crate) fn malformed(format: &'static str, entry: &str, offset: usize, reason: impl Into<String>) -> Self {
        ScanError::Malformed {
            location: Location::new(entry, Some(offset as u64)),
            format,
            reason: reason.into(),
        }
    }

    /// Shorthand for a [`ScanError::LimitExceeded`].
    pub(crate) fn limit(entry: &str, offset: Option<usize>, what: &'static str, actual: u64, limit: u64) -> Self {
        ScanError::LimitExceeded {
            location: Location::new(entry, offset.map(|o| o as u64)),
            what,
            actual,
            limit,
        }
    }

    /// The location the error refers to, if it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ScanError::Zip { location, .. }
            | ScanError::PathTraversal { location, .. }
            | ScanError::LimitExceeded { location, .. }
            | ScanError::Malformed { location, .. }
            | ScanError::Plist { location, .. } => Some(location),
            _ => None,
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = ScanError> = std::result::Result<T, E>;
