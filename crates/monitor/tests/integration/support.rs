//! Shared test helpers: where the shared corpus is, and file parsing.

use monitor::{open_log, Event, Format, ParseError, ParseOptions, ParseStats};
use std::path::PathBuf;

/// `$APPWARDEN_SHARED` or `<crate>/../../../shared`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("APPWARDEN_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
    }
}

/// The log corpus, or `None` (with a note on stderr) when it is absent.
/// Panics instead when `APPWARDEN_REQUIRE_TOOLS=1`.
pub fn corpus() -> Option<PathBuf> {
    let dir = shared_dir().join("corpus/logs");
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!("corpus not found at {} (set APPWARDEN_SHARED)", dir.display());
    if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// Parsed file: owned events, errors, counters.
pub struct Parsed {
    pub events: Vec<Event<'static>>,
    pub errors: Vec<ParseError>,
    pub stats: ParseStats,
}

pub fn opts() -> ParseOptions {
    ParseOptions::default().with_year(2026)
}

/// Parses `rel` (relative to the corpus) with `format`.
pub fn parse_file(corpus: &std::path::Path, rel: &str, format: Format) -> Parsed {
    let path = corpus.join(rel);
    let mut r = open_log(&path, Some(format), &opts()).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in r.by_ref() {
        match item {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e),
        }
    }
    Parsed {
        events,
        errors,
        stats: r.stats().clone(),
    }
}

/// Parses an in-memory text.
pub fn parse_text(format: Format, text: &[u8]) -> Parsed {
    let mut p = monitor::Parser::new(format, &opts());
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for r in p.parse_all(text) {
        match r {
            Ok(e) => events.push(e.into_owned()),
            Err(e) => errors.push(e),
        }
    }
    Parsed {
        events,
        errors,
        stats: p.stats().clone(),
    }
}

pub fn qnames<'a>(events: &'a [Event<'_>]) -> Vec<&'a str> {
    events.iter().filter_map(|e| e.dns_question_name.as_deref()).collect()
}
