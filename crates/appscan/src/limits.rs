//! Resource caps that keep a scan of a hostile package bounded in memory and time.

use serde::Serialize;

/// Caps applied while scanning. The defaults fit real apps (a 200 MB game
/// APK with 30 DEX files passes) and stop zip bombs and absurd counts early.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// Largest input file accepted, in bytes. Default 1 GiB.
    pub max_input_bytes: u64,
    /// Most entries an archive may have. Default 100 000.
    pub max_entries: usize,
    /// Largest decompressed size of one entry that is read, in bytes. Default 256 MiB.
    pub max_entry_bytes: u64,
    /// Largest sum of decompressed bytes read from one package. Default 1 GiB.
    pub max_total_bytes: u64,
    /// Highest decompressed/compressed ratio accepted for an entry larger than
    /// 1 MiB (deflate tops out near 1032:1; real APK entries stay below 100:1). Default 200.
    pub max_ratio: u64,
    /// Most strings read from one string pool (AXML, ARSC, DEX). Default 4 000 000.
    pub max_strings: usize,
    /// Most XML elements read from one binary XML document. Default 200 000.
    pub max_xml_nodes: usize,
    /// Most nested APKs read from a split bundle (.xapk/.apks). Default 64.
    pub max_nested_apks: usize,
    /// Most distinct strings kept for URL/domain extraction per package. Default 2 000 000.
    pub max_scanned_strings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 1 << 30,
            max_entries: 100_000,
            max_entry_bytes: 256 << 20,
            max_total_bytes: 1 << 30,
            max_ratio: 200,
            max_strings: 4_000_000,
            max_xml_nodes: 200_000,
            max_nested_apks: 64,
            max_scanned_strings: 2_000_000,
        }
    }
}
