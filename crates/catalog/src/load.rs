//! Reading catalog files: TOML → entries with their locations, merging an
//! overlay on top of the bundled catalog.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::model::{App, Category, Operator, OverlayMode, Restriction, Source};
use crate::{Catalog, Diagnostic, Snapshot};

/// One catalog file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    source: Vec<Spanned<Source>>,
    #[serde(default)]
    category: Vec<Spanned<Category>>,
    #[serde(default)]
    operator: Vec<Spanned<Operator>>,
    #[serde(default)]
    app: Vec<Spanned<App>>,
    #[serde(default)]
    restriction: Vec<Spanned<Restriction>>,
}

/// Where a catalog file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Compiled into the binary.
    Bundled,
    /// A user's overlay directory.
    Overlay,
}

/// A file's text, kept to point errors at lines.
#[derive(Debug, Clone)]
pub(crate) struct FileText {
    pub name: String,
    pub text: String,
}

/// Where an entry is written: a file and the byte offset of its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub file: usize,
    pub offset: usize,
}

/// The text of all files read, for locating errors.
#[derive(Debug, Clone, Default)]
pub(crate) struct Files {
    pub files: Vec<FileText>,
}

impl Files {
    /// Line (1-based) of a byte offset in a file.
    pub fn line(&self, file: usize, offset: usize) -> usize {
        let text = &self.files[file].text;
        let end = offset.min(text.len());
        text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// The span of an entry: from its offset to the next top-level `[[…]]`
    /// header (not `[[x.y]]`) or the end of the file.
    fn region(&self, place: Place) -> (usize, usize) {
        let text = &self.files[place.file].text;
        let start = place.offset.min(text.len());
        let mut pos = start;
        // skip the entry's own header line
        if let Some(nl) = text[pos..].find('\n') {
            pos += nl + 1;
        } else {
            return (start, text.len());
        }
        while pos < text.len() {
            let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
            let line = text[pos..line_end].trim_start();
            if let Some(rest) = line.strip_prefix("[[") {
                let name = rest.split("]]").next().unwrap_or("");
                if !name.contains('.') {
                    return (start, pos);
                }
            } else if line.starts_with('[') && !line.starts_with("[[") {
                let name = line.trim_start_matches('[').split(']').next().unwrap_or("");
                if !name.contains('.') {
                    return (start, pos);
                }
            }
            pos = line_end + 1;
        }
        (start, text.len())
    }

    /// Points at `needle` (a quoted value, a key) within an entry, falling
    /// back to the entry's first line.
    pub fn locate(&self, places: &[Place], needles: &[&str]) -> (String, usize) {
        for &place in places {
            let (start, end) = self.region(place);
            let text = &self.files[place.file].text[start..end];
            for needle in needles {
                if let Some(i) = text.find(needle) {
                    return (self.files[place.file].name.clone(), self.line(place.file, start + i));
                }
            }
        }
        match places.first() {
            Some(p) => (self.files[p.file].name.clone(), self.line(p.file, p.offset)),
            None => ("<catalog>".to_string(), 0),
        }
    }
}

/// Entries with the places they were written, before validation.
#[derive(Debug, Default, Clone)]
pub(crate) struct Places {
    pub sources: BTreeMap<String, Vec<Place>>,
    pub categories: BTreeMap<String, Vec<Place>>,
    pub operators: BTreeMap<String, Vec<Place>>,
    pub apps: BTreeMap<String, Vec<Place>>,
    pub restrictions: BTreeMap<String, Vec<Place>>,
}

/// Builds a catalog from files; collects every problem instead of stopping at the first.
pub(crate) fn build(inputs: &[(Origin, String, String)]) -> (Catalog, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut files = Files::default();
    let mut places = Places::default();
    let mut cat = Catalog::empty();

    let mut hasher = Sha256::new();
    let mut sorted: Vec<&(Origin, String, String)> = inputs.iter().collect();
    sorted.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut overlay_files = 0;
    for (origin, name, text) in &sorted {
        let tag = match origin {
            Origin::Bundled => "bundled",
            Origin::Overlay => {
                overlay_files += 1;
                "overlay"
            }
        };
        hasher.update(format!("{tag}/{name}\0{}\0", text.len()));
        hasher.update(text.as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    cat.snapshot = Snapshot {
        bundled_version: crate::BUNDLED_VERSION.to_string(),
        sha256: hex,
        files: inputs.len(),
        overlay_files,
    };

    for (origin, name, text) in sorted {
        let file = files.files.len();
        files.files.push(FileText {
            name: name.clone(),
            text: text.clone(),
        });
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let line = e.span().map_or(1, |s| files.line(file, s.start));
                let msg = e.message().trim().to_string();
                let field = field_of_toml_error(&msg);
                diags.push(Diagnostic {
                    file: name.clone(),
                    line,
                    field,
                    message: msg,
                });
                continue;
            }
        };
        let overlay = *origin == Origin::Overlay;
        merge(&mut cat, &mut places, &files, file, raw, overlay, &mut diags);
    }
    cat.files = files;
    cat.places = places;
    (cat, diags)
}

fn field_of_toml_error(msg: &str) -> String {
    // serde messages name the field in backticks: "unknown field `foo`", "missing field `sources`"
    msg.split('`').nth(1).map_or_else(|| "toml".to_string(), str::to_string)
}

macro_rules! merge_simple {
    ($items:expr, $map:expr, $places:expr, $files:expr, $file:expr, $overlay:expr, $diags:expr, $what:literal) => {
        for item in $items {
            let offset = item.span().start;
            let item = item.into_inner();
            let place = Place { file: $file, offset };
            let id = item.id.clone();
            if let Some(existing) = $map.get(&id) {
                if $overlay {
                    $places.insert(id.clone(), vec![place]);
                    $map.insert(id, item);
                } else if *existing != item {
                    $diags.push(Diagnostic {
                        file: $files.files[$file].name.clone(),
                        line: $files.line($file, offset),
                        field: "id".into(),
                        message: format!(concat!("duplicate ", $what, " id `{}` (first at {})"), id, {
                            let (f, l) = $files.locate(&$places[&id], &[]);
                            format!("{f}:{l}")
                        }),
                    });
                }
                continue;
            }
            $places.insert(id.clone(), vec![place]);
            $map.insert(id, item);
        }
    };
}

fn merge(
    cat: &mut Catalog,
    places: &mut Places,
    files: &Files,
    file: usize,
    raw: RawFile,
    overlay: bool,
    diags: &mut Vec<Diagnostic>,
) {
    merge_simple!(
        raw.source,
        cat.sources,
        places.sources,
        files,
        file,
        overlay,
        diags,
        "source"
    );
    merge_simple!(
        raw.category,
        cat.categories,
        places.categories,
        files,
        file,
        overlay,
        diags,
        "category"
    );
    merge_simple!(
        raw.operator,
        cat.operators,
        places.operators,
        files,
        file,
        overlay,
        diags,
        "operator"
    );
    merge_simple!(
        raw.restriction,
        cat.restrictions,
        places.restrictions,
        files,
        file,
        overlay,
        diags,
        "restriction"
    );
    for item in raw.app {
        let offset = item.span().start;
        let app = item.into_inner();
        let place = Place { file, offset };
        let line = files.line(file, offset);
        let name = files.files[file].name.clone();
        match cat.apps.get_mut(&app.id) {
            None => {
                if !overlay && app.overlay.is_some() {
                    diags.push(Diagnostic {
                        file: name,
                        line,
                        field: "overlay".into(),
                        message: "`overlay` is only for entries in a user's overlay directory".into(),
                    });
                }
                places.apps.insert(app.id.clone(), vec![place]);
                cat.apps.insert(app.id.clone(), app);
            }
            Some(existing) => {
                if !overlay {
                    let (f, l) = files.locate(&places.apps[&app.id], &[]);
                    diags.push(Diagnostic {
                        file: name,
                        line,
                        field: "id".into(),
                        message: format!("duplicate app id `{}` (first at {f}:{l})", app.id),
                    });
                    continue;
                }
                match app.overlay {
                    Some(OverlayMode::Replace) => {
                        places.apps.insert(app.id.clone(), vec![place]);
                        *existing = app;
                    }
                    Some(OverlayMode::Extend) => {
                        if let Some(list) = places.apps.get_mut(&app.id) {
                            list.push(place);
                        }
                        extend(existing, app);
                    }
                    None => diags.push(Diagnostic {
                        file: name,
                        line,
                        field: "overlay".into(),
                        message: format!(
                            "app `{}` is already in the catalog; set overlay = \"extend\" or overlay = \"replace\"",
                            app.id
                        ),
                    }),
                }
            }
        }
    }
}

fn extend(base: &mut App, add: App) {
    base.name = add.name;
    if add.description.is_some() {
        base.description = add.description;
    }
    if add.incidents_reviewed.is_some() {
        base.incidents_reviewed = add.incidents_reviewed;
    }
    for c in add.categories {
        if !base.categories.contains(&c) {
            base.categories.push(c);
        }
    }
    for r in add.related {
        if !base.related.contains(&r) {
            base.related.push(r);
        }
    }
    base.operators.extend(add.operators);
    base.identifiers.extend(add.identifiers);
    base.network.extend(add.network);
    base.data.extend(add.data);
    base.incidents.extend(add.incidents);
    base.malware.extend(add.malware);
    for f in add.factors {
        base.factors.retain(|b| b.id != f.id);
        base.factors.push(f);
    }
    base.factors.sort_by_key(|f| f.id);
    if add.bypass.is_some() {
        base.bypass = add.bypass;
    }
}
