//! # alert — from detections to people
//!
//! The monitor flags events ([`monitor::Detection`]); this crate turns them
//! into alerts and delivers them:
//!
//! ```text
//! Detection ─► engine (fingerprint, group_by, group_wait / group_interval /
//!              repeat_interval, resolve) ─► route ─► Notification
//!          ─► outbox (store, written before sending) ─► dispatcher (retry
//!              with backoff) ─► Sink (webhook, Slack, Teams, Alertmanager,
//!              email, syslog / CEF)
//! ```
//!
//! [`model`] holds the types every part shares: [`Alert`], [`Notification`]
//! and the [`Sink`] trait.
#![forbid(unsafe_code)]

pub mod config;
pub mod engine;
pub mod model;
pub mod outbox;
pub mod pipeline;
pub mod sinks;

pub use config::{AlertsConfig, ConfigError, sinks_for};
pub use engine::{Engine, EngineConfig, Observation};
pub use model::{Alert, Counts, Labels, Notification, Sink, SinkError, SinkFuture, Status};
pub use pipeline::{IngestHandle, Pipeline, PipelineError, PipelineOptions};
