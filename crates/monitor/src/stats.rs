//! Counters for one parse run: lines, events, skips by reason, errors by format and kind.

use crate::error::{ErrorKind, ParseError};
use crate::format::Format;
use std::collections::BTreeMap;

/// Counts kept by a [`crate::Parser`]. Cheap to update; read at any time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseStats {
    /// Lines seen (including blank, comment and skipped lines).
    pub lines: u64,
    /// Bytes seen, including newlines.
    pub bytes: u64,
    /// Events produced.
    pub events: u64,
    /// Lines deliberately not turned into events, by reason (`comment`,
    /// `suricata.flow`, `dnsmasq.forwarded`, …).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Bad lines by format and kind.
    pub errors: BTreeMap<(Format, ErrorKind), u64>,
    /// Events whose timestamp the log masked (Zeek btest `XXXXXXXXXX.XXXXXX`).
    pub masked_timestamps: u64,
}

impl ParseStats {
    /// Total bad lines.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Bad lines of one kind, across formats.
    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.errors
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// Total skipped lines.
    pub fn skipped_count(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub(crate) fn record_error(&mut self, e: &ParseError) {
        *self.errors.entry((e.format, e.kind)).or_insert(0) += 1;
    }

    pub(crate) fn record_skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Adds another run's counts to these.
    pub fn merge(&mut self, other: &ParseStats) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.events += other.events;
        self.masked_timestamps += other.masked_timestamps;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k).or_insert(0) += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(*k).or_insert(0) += v;
        }
    }
}
