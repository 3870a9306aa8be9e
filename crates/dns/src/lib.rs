//! appwarden filtering resolver: listeners, matcher, upstreams, cache, QueryEvent.
//!
//! The query path is described in [`resolver`]; the wire-format fast path in
//! [`wire`]; rules in [`matcher`].

#![forbid(unsafe_code)]

pub mod cache;
pub mod config;
pub mod lists;
pub mod matcher;
pub mod metrics;
pub mod resolver;
pub mod server;
pub mod transfer;
pub mod upstream;
pub mod wire;
