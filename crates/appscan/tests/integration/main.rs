//! Integration tests, one binary: corpus ground truth, AXML golden files,
//! IPA fixtures built on the fly, hostile inputs and mutation sweeps.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod axml_golden;
mod corpus;
mod hostile;
mod ipa;
mod mutation;
