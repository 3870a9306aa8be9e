//! filtering resolver
pub mod wire;
