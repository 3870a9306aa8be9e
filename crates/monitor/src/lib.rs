//! # monitor — log parsing and detection
//!
//! Turns the logs an organisation already has (BIND, Unbound, dnsmasq,
//! Pi-hole, AdGuard Home, Blocky, Zeek, Suricata, Squid) into one normalised
//! [`Event`] with ECS-style field names, and answers "which device/user had
//! this IP at that time" from DHCP leases and a static map
//! ([`IdentityResolver`]).
//!
//! Parsing is synchronous and pure: [`Parser::parse_line`] takes a line and
//! returns an event borrowing from it (no copy of names that are already
//! normalised), or a located, counted [`ParseError`]. [`EventReader`]
//! streams any `Read` with memory bounded by the longest line.
//!
//! ```
//! use monitor::{Format, ParseOptions, Parser};
//! let line = b"22-Nov-2026 02:54:51.317 queries: info: client @0x7f 203.0.113.7#59579 (WWW.TikTok.com): query: WWW.TikTok.com IN A +E(0)K (203.0.113.1)";
//! let mut p = Parser::new(Format::BindQuery, &ParseOptions::default());
//! let ev = p.parse_line(line, 1, 0).unwrap().unwrap();
//! assert_eq!(ev.dns_question_name.as_deref(), Some("www.tiktok.com"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod detection;
pub mod error;
pub mod event;
pub mod format;
pub mod identity;
pub mod parse;
pub mod parser;
pub mod plan_index;
pub mod scan;
pub mod stats;
pub mod syslog_wire;
pub mod tail;
pub mod time;

pub use detection::{Detection, DetectionKind, DetectionRef, Detector, Evidence, NameCache, Outcome};
pub use error::{Error, ErrorKind, ParseError};
pub use event::{Action, DnsAnswer, DnsType, Event, Origin};
pub use format::{detect, Format};
pub use identity::{Identity, IdentityResolver};
pub use parse::normalize_name;
pub use parse::zeek::ZeekLog;
pub use parser::{open_log, EventReader, ParseOptions, Parser, Step};
pub use plan_index::{MatchVia, PlanIndex, PlanMatch};
pub use scan::{scan_log, scan_reader, ScanOptions, Scanned, Sink};
pub use stats::ParseStats;
pub use time::Timestamp;
