//! The catalog parser on damaged input: every bundled file truncated at many
//! points and with bytes flipped, deterministically. It must return a
//! result or located diagnostics, never panic. (`fuzz/` explores further.)

use catalog::{Catalog, LoadError, Origin};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn check(name: &str, text: String) {
    match Catalog::from_files(&[(Origin::Overlay, name.to_string(), text)]) {
        Ok(_) => {}
        Err(LoadError::Invalid(d)) => {
            assert!(!d.is_empty());
            for x in d {
                assert!(x.line >= 1 || x.file == "<catalog>", "{x}");
            }
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn damaged_catalog_files_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let noise: &[&str] = &[
        "\"",
        "[[",
        "]]",
        "=",
        "\n",
        "\u{0}",
        "é",
        "[[app.network]]\n",
        "sources = []\n",
        "9999-99-99",
        "\\u",
        "#",
    ];
    for (path, text) in Catalog::bundled_files() {
        // truncations at char boundaries
        for _ in 0..8 {
            let mut cut = (rng.next() as usize) % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            check(path, text[..cut].to_string());
        }
        // insertions of TOML-significant noise
        for _ in 0..8 {
            let mut at = (rng.next() as usize) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let n = noise[(rng.next() as usize) % noise.len()];
            check(path, format!("{}{n}{}", &text[..at], &text[at..]));
        }
    }
}
