//! AXML golden pairs: `axml_testdata/<sha>.bin` decodes to `<sha>.xml`.
//!
//! Normalisation: both sides are compared line by line after trimming
//! leading/trailing whitespace and dropping empty lines, so indentation and
//! the final newline do not matter; everything else (element order,
//! attribute order, prefixes, value rendering) must be identical.

use crate::support::corpus_or_skip;

fn normalise(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn axml_golden_pairs_decode_to_expected_xml() {
    let Some(dir) = corpus_or_skip("axml_golden_pairs_decode_to_expected_xml") else {
        return;
    };
    let dir = dir.join("axml_testdata");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for bin in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "bin")) {
        let xml = std::fs::read_to_string(bin.with_extension("xml")).unwrap();
        let data = std::fs::read(bin).unwrap();
        let root = appscan::android::axml::parse_axml(&data, &bin.display().to_string(), &Default::default())
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let got = normalise(&root.to_xml());
        let want = normalise(&xml);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{} line {}", bin.display(), i + 1);
        }
        assert_eq!(got.len(), want.len(), "{} line count", bin.display());
        n += 1;
    }
    assert!(n >= 2, "expected golden pairs in {}", dir.display());
}
