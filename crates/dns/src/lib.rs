//! appwarden filtering resolver.
#![forbid(unsafe_code)]
pub mod cache;
pub mod lists;
pub mod matcher;
pub mod wire;
