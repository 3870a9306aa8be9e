//! Integration tests: one binary, a module per concern.
//!
//! Corpus tests read `../shared/corpus/logs` (or `$APPWARDEN_SHARED/corpus/logs`);
//! when it is missing they print why and pass, unless `APPWARDEN_REQUIRE_TOOLS=1`.

mod corpus;
mod detect;
mod detection;
mod identity;
mod malformed;
mod mutate;
mod reader;
mod samples;
mod scan;
mod support;
