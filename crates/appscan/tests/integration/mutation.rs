//! Mutation sweeps: each reader gets many truncated and corrupted variants of
//! real inputs (deterministic PRNG, bounded count) and must not panic.

use appscan::Limits;

use crate::support::{axml_manifest, corpus_or_skip, macho, read_entry, Rng};

const ROUNDS: usize = 300;

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    match rng.below(4) {
        0 => v.truncate(rng.below(base.len().max(1))),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(v.len().max(1));
                if let Some(b) = v.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
        }
        2 => {
            // overwrite a u32 with an extreme value: counts, sizes, offsets
            if v.len() >= 4 {
                let i = rng.below(v.len() - 3) & !3;
                let val = [0u32, 0xffff_ffff, 0x7fff_ffff, 0x8000_0000, v.len() as u32][rng.below(5)];
                v[i..i + 4].copy_from_slice(&val.to_le_bytes());
            }
        }
        _ => {
            // duplicate a slice (shifts every later offset)
            let a = rng.below(v.len().max(1));
            let b = (a + rng.below(64)).min(v.len());
            let chunk = v[a..b].to_vec();
            v.splice(a..a, chunk);
        }
    }
    v
}

fn sweep(inputs: &[Vec<u8>], seed: u64, f: impl Fn(&[u8])) {
    let mut rng = Rng(seed);
    for input in inputs {
        f(input);
        for _ in 0..ROUNDS {
            f(&mutate(&mut rng, input));
        }
    }
}

#[test]
fn axml_reader_survives_mutations() {
    let mut inputs = vec![axml_manifest("com.example.m", &["android.permission.CAMERA"])];
    if let Some(dir) = corpus_or_skip("axml_reader_survives_mutations") {
        for e in std::fs::read_dir(dir.join("axml_testdata")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bin") {
                inputs.push(std::fs::read(p).unwrap());
            }
        }
    }
    let limits = Limits::default();
    sweep(&inputs, 0x5eed_0001, |d| {
        let _ = appscan::android::axml::parse_axml(d, "AndroidManifest.xml", &limits);
    });
}

#[test]
fn dex_reader_survives_mutations() {
    let Some(dir) = corpus_or_skip("dex_reader_survives_mutations") else {
        return;
    };
    let apk = std::fs::read(dir.join("io.appium.settings-8.0.10_settings_apk-debug.apk")).unwrap();
    // small DEX files of the corpus keep the sweep fast
    let inputs: Vec<Vec<u8>> = ["classes3.dex", "classes4.dex", "classes8.dex"]
        .iter()
        .map(|n| read_entry(&apk, n))
        .collect();
    let limits = Limits::default();
    sweep(&inputs, 0x5eed_0002, |d| {
        let _ = appscan::android::dex::parse_dex(d, "classes.dex", &limits);
    });
}

#[test]
fn macho_reader_survives_mutations() {
    let ent = b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>get-task-allow</key><true/></dict></plist>";
    let inputs = vec![
        macho(&["https://a.example.com", "dlopen"], &["FBSDKAppEvents"], Some(ent)),
        macho(&["x"], &[], None),
    ];
    let limits = Limits::default();
    sweep(&inputs, 0x5eed_0003, |d| {
        let _ = appscan::ios::macho::parse_macho(d, "Payload/X.app/X", &limits);
    });
}

#[test]
fn plist_reader_survives_mutations() {
    let xml = br#"<?xml version="1.0"?><plist version="1.0"><dict><key>CFBundleIdentifier</key><string>a.b</string><key>L</key><array><string>x</string><integer>3</integer></array></dict></plist>"#.to_vec();
    let v = appscan::ios::parse_plist(&xml, "x").unwrap();
    let mut bin = Vec::new();
    v.to_writer_binary(&mut bin).unwrap();
    sweep(&[xml, bin], 0x5eed_0004, |d| {
        let _ = appscan::ios::parse_plist(d, "Info.plist");
    });
}

#[test]
fn apk_scanner_survives_mutated_small_apk() {
    let Some(dir) = corpus_or_skip("apk_scanner_survives_mutated_small_apk") else {
        return;
    };
    let apk = std::fs::read(dir.join("io.appium.settings-8.0.10_settings_apk-debug.apk")).unwrap();
    let manifest = read_entry(&apk, "AndroidManifest.xml");
    // mutate the manifest inside a fresh zip, plus raw mutations of a tiny APK
    let mut rng = Rng(0x5eed_0005);
    let opts = appscan::ScanOptions::default();
    for _ in 0..100 {
        let m = mutate(&mut rng, &manifest);
        let z = crate::support::make_zip(&[("AndroidManifest.xml", &m, true)]);
        let _ = appscan::scan_bytes(&z, None, &opts);
        let _ = appscan::scan_bytes(&mutate(&mut rng, &z), None, &opts);
    }
}

#[test]
fn arsc_reader_survives_mutations() {
    let Some(dir) = corpus_or_skip("arsc_reader_survives_mutations") else {
        return;
    };
    let apk = std::fs::read(dir.join("uiautomator2-3.7.1_app-uiautomator.apk")).unwrap();
    let arsc = read_entry(&apk, "resources.arsc");
    let limits = Limits::default();
    let table = appscan::android::arsc::ResourceTable::parse(&arsc, "resources.arsc", &limits).unwrap();
    assert!(!table.is_empty());
    let mut rng = Rng(0x5eed_0006);
    for _ in 0..100 {
        let m = mutate(&mut rng, &arsc);
        if let Ok(t) = appscan::android::arsc::ResourceTable::parse(&m, "resources.arsc", &limits) {
            let _ = t.resolve_string(0x7f0e_0000);
        }
    }
}
