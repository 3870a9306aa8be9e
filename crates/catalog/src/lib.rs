//! appwarden's app intelligence: apps, their operators, identifiers per
//! platform, network footprint, collected data, incidents, government
//! restrictions and bypass methods — every claim with its sources.
//!
//! The catalog is bundled into the binary ([`Catalog::bundled`]) and can be
//! extended or overridden by a user's overlay directory ([`Catalog::load`]).
//! The file format is documented in `docs/catalog.md`.

#![forbid(unsafe_code)]

mod day;
pub mod domain;
mod load;
pub mod model;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use load::Origin;
pub use model::*;
pub use validate::{SECTORS, check_identifier, is_id, is_jurisdiction};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Version label of the bundled catalog; bump when its content changes.
pub const BUNDLED_VERSION: &str = "2026.11.22";

/// One problem found in a catalog file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct Diagnostic {
    /// File the problem is in.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Field concerned (`sources`, `network.domains`, …).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Errors from loading a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The catalog has problems; each names file, line and field.
    #[error("{} problem(s) in the catalog, first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Invalid(Vec<Diagnostic>),
}

/// Identifies exactly which catalog content an assessment used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Version label of the bundled catalog.
    pub bundled_version: String,
    /// SHA-256 over every file read (bundled and overlay), in a fixed order.
    pub sha256: String,
    /// Number of files read.
    pub files: usize,
    /// Of which from an overlay.
    pub overlay_files: usize,
}

impl Snapshot {
    /// Short form for headers: `2026.11.22+sha256:0123456789abcdef`.
    pub fn short(&self) -> String {
        format!(
            "{}+sha256:{}",
            self.bundled_version,
            &self.sha256[..self.sha256.len().min(16)]
        )
    }
}

/// The merged catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Sources by id.
    pub sources: BTreeMap<String, Source>,
    /// Categories by id.
    pub categories: BTreeMap<String, Category>,
    /// Operators by id.
    pub operators: BTreeMap<String, Operator>,
    /// Apps and bypass methods by id.
    pub apps: BTreeMap<String, App>,
    /// Government restrictions by id.
    pub restrictions: BTreeMap<String, Restriction>,
    /// What was read.
    pub snapshot: Snapshot,
    files: load::Files,
    places: load::Places,
}

impl Catalog {
    fn empty() -> Self {
        Catalog {
            sources: BTreeMap::new(),
            categories: BTreeMap::new(),
            operators: BTreeMap::new(),
            apps: BTreeMap::new(),
            restrictions: BTreeMap::new(),
            snapshot: Snapshot::default(),
            files: load::Files::default(),
            places: load::Places::default(),
        }
    }

    /// The files compiled into the binary, as (path under `crates/catalog/data/`, contents).
    pub fn bundled_files() -> &'static [(&'static str, &'static str)] {
        bundled::BUNDLED
    }

    fn bundled_inputs() -> Vec<(Origin, String, String)> {
        bundled::BUNDLED
            .iter()
            .map(|(p, t)| (Origin::Bundled, format!("crates/catalog/data/{p}"), (*t).to_string()))
            .collect()
    }

    /// The bundled catalog.
    pub fn bundled() -> Result<Catalog, LoadError> {
        Self::from_files(&Self::bundled_inputs())
    }

    /// The bundled catalog with a user's overlay directory on top, if given.
    pub fn load(overlay: Option<&Path>) -> Result<Catalog, LoadError> {
        let mut inputs = Self::bundled_inputs();
        if let Some(dir) = overlay {
            inputs.extend(read_dir(dir, Origin::Overlay)?);
        }
        Self::from_files(&inputs)
    }

    /// A catalog made only of the `*.toml` files under `dir` (no bundled content).
    pub fn load_standalone(dir: &Path) -> Result<Catalog, LoadError> {
        Self::from_files(&read_dir(dir, Origin::Bundled)?)
    }

    /// A catalog from in-memory files (origin, name used in errors, text).
    pub fn from_files(inputs: &[(Origin, String, String)]) -> Result<Catalog, LoadError> {
        let (cat, mut diags) = load::build(inputs);
        diags.extend(validate::check(&cat));
        if diags.is_empty() {
            Ok(cat)
        } else {
            diags.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            diags.dedup();
            Err(LoadError::Invalid(diags))
        }
    }

    /// An app or bypass entry by id.
    pub fn app(&self, id: &str) -> Option<&App> {
        self.apps.get(id)
    }

    /// Finds an app by id, case-insensitive name, or any platform identifier.
    pub fn find(&self, key: &str) -> Option<&App> {
        if let Some(app) = self.apps.get(key) {
            return Some(app);
        }
        let lower = key.to_lowercase();
        self.apps
            .values()
            .find(|a| a.name.to_lowercase() == lower || a.identifiers.iter().any(|i| i.value == key))
    }

    /// A source by id.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.get(id)
    }

    /// The confidence of a claim: its own, else the highest of its sources'.
    pub fn confidence(&self, own: Option<Confidence>, sources: &[String]) -> Confidence {
        own.unwrap_or_else(|| {
            sources
                .iter()
                .filter_map(|s| self.sources.get(s))
                .map(|s| s.confidence)
                .max()
                .unwrap_or(Confidence::Low)
        })
    }

    /// Restrictions that cover `app_id`.
    pub fn restrictions_for<'a>(&'a self, app_id: &'a str) -> impl Iterator<Item = &'a Restriction> + 'a {
        self.restrictions
            .values()
            .filter(move |r| r.apps.iter().any(|a| a == app_id))
    }

    /// Where an app is written, as `file:line`, for messages.
    pub fn location_of_app(&self, id: &str) -> Option<String> {
        let places = self.places.apps.get(id)?;
        let (f, l) = self.files.locate(places, &[]);
        Some(format!("{f}:{l}"))
    }
}

fn read_dir(dir: &Path, origin: Origin) -> Result<Vec<(Origin, String, String)>, LoadError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        out.push((origin, path.display().to_string(), text));
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}
