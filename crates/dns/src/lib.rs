//! appwarden filtering resolver.
#![forbid(unsafe_code)]
pub mod matcher;
pub mod wire;
