//! Errors at the crate boundary: a bad line is a [`ParseError`] (counted, never
//! fatal); I/O failures and unreadable identity files are [`Error`].

use crate::format::Format;
use std::borrow::Cow;

/// What was wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The line ends before a required field.
    #[error("truncated")]
    Truncated,
    /// Wrong number of columns for the header or format.
    #[error("wrong field count")]
    FieldCount,
    /// A timestamp that does not parse or is impossible.
    #[error("bad timestamp")]
    Timestamp,
    /// An IP address that does not parse.
    #[error("bad IP address")]
    Ip,
    /// A number or port that does not parse or is out of range.
    #[error("bad number")]
    Number,
    /// Base64 that does not decode.
    #[error("bad base64")]
    Base64,
    /// A DNS wire message that does not decode.
    #[error("bad DNS message")]
    DnsWire,
    /// Bytes that are not UTF-8.
    #[error("not UTF-8")]
    Utf8,
    /// JSON that does not parse, or has the wrong shape.
    #[error("bad JSON")]
    Json,
    /// Text that is not in the expected shape.
    #[error("syntax")]
    Syntax,
    /// A header (Zeek `#fields`, CSV header) missing or inconsistent.
    #[error("bad header")]
    Header,
    /// A line longer than the reader's limit; skipped to the next newline.
    #[error("line too long")]
    LineTooLong,
    /// Reading the input failed; the reader stops.
    #[error("I/O")]
    Io,
}

/// One bad record: where it is and which field was wrong. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} line {line_no} (byte {byte_offset}): field `{field}`: {kind}: {message}")]
#[non_exhaustive]
pub struct ParseError {
    /// The format being parsed.
    pub format: Format,
    /// 1-based line number.
    pub line_no: u64,
    /// Byte offset of the line in the input.
    pub byte_offset: u64,
    /// The field that failed (`timestamp`, `source.ip`, `Answer`, …).
    pub field: &'static str,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Human-readable detail (never contains the whole line).
    pub message: String,
}

/// Errors that end an operation: I/O, or a file that cannot be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record error escalated by the caller (e.g. a strict mode).
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// A field-level failure inside a format parser, before it is given a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    pub field: &'static str,
    pub kind: ErrorKind,
    pub message: Cow<'static, str>,
}

impl LineError {
    pub(crate) fn new(field: &'static str, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        LineError {
            field,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn truncated(field: &'static str) -> Self {
        LineError::new(field, ErrorKind::Truncated, "line ends before this field")
    }

    pub(crate) fn at(self, format: Format, line_no: u64, byte_offset: u64) -> ParseError {
        ParseError {
            format,
            line_no,
            byte_offset,
            field: self.field,
            kind: self.kind,
            message: self.message.into_owned(),
        }
    }
}

/// Shows at most 40 bytes of an offending value in a message.
pub(crate) fn snippet(s: &str) -> String {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() {
        format!("{:?}…", &s[..end])
    } else {
        format!("{s:?}")
    }
}
