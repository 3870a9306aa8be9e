//! appwarden filtering resolver: listeners, matcher, upstreams, cache, QueryEvent.
//!
//! The query path is described in [`resolver`]; the wire-format fast path in
//! [`wire`]; rules in [`matcher`]; listeners in [`server`] and [`doh`];
//! upstreams (plain, DoT, DoH, health probes) in [`upstream`].

#![forbid(unsafe_code)]

pub mod cache;
pub mod config;
pub mod doh;
pub mod http_client;
pub mod list_fetch;
pub mod lists;
pub mod matcher;
pub mod metrics;
pub mod resolver;
pub mod server;
pub mod tls;
pub mod transfer;
pub mod upstream;
pub mod wire;
