//! Hostile packages: every case must end in a clear error (with a location
//! where there is one), never a panic, and within the limits.

use appscan::{scan_bytes, Limits, ScanError, ScanOptions};

use crate::support::{axml_manifest, make_zip};

fn opts_with(limits: Limits) -> ScanOptions {
    ScanOptions {
        limits,
        ..ScanOptions::default()
    }
}

#[test]
fn minimal_hand_built_apk_scans() {
    let manifest = axml_manifest("com.example.min", &["android.permission.CAMERA"]);
    let apk = make_zip(&[("AndroidManifest.xml", &manifest, true)]);
    let r = scan_bytes(&apk, Some("min.apk"), &ScanOptions::default()).unwrap();
    let m = &r.android.unwrap().manifest;
    assert_eq!(m.package.as_deref(), Some("com.example.min"));
    assert_eq!(m.version_code.as_deref(), Some("1"));
    assert_eq!(m.permissions, vec!["android.permission.CAMERA"]);
    assert!(m.requested_permissions[0].info.dangerous);
}

#[test]
fn zip_bomb_by_ratio_is_refused() {
    let manifest = axml_manifest("com.example.bomb", &[]);
    let zeros = vec![0u8; 8 << 20];
    let apk = make_zip(&[("AndroidManifest.xml", &manifest, true), ("classes.dex", &zeros, true)]);
    assert!(apk.len() < 100_000, "deflate packs zeros ~1000:1");
    let err = scan_bytes(&apk, None, &ScanOptions::default()).unwrap_err();
    match &err {
        ScanError::LimitExceeded { location, what, .. } => {
            assert_eq!(location.entry, "classes.dex");
            assert_eq!(*what, "compression ratio");
        }
        other => panic!("expected a limit error, got {other}"),
    }
}

#[test]
fn oversized_entry_is_refused() {
    let manifest = axml_manifest("com.example.big", &[]);
    let data: Vec<u8> = (0..(3u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let apk = make_zip(&[("AndroidManifest.xml", &manifest, true), ("classes.dex", &data, false)]);
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = scan_bytes(&apk, None, &opts_with(limits)).unwrap_err();
    assert!(matches!(err, ScanError::LimitExceeded { .. }), "{err}");
    assert_eq!(err.location().unwrap().entry, "classes.dex");
}

#[test]
fn lying_declared_size_is_capped() {
    // Deflated 4 MiB of zeros whose headers claim 100 bytes: the reader must
    // stop at the cap (or fail on the size mismatch), not grow without bound.
    let manifest = axml_manifest("com.example.liar", &[]);
    let zeros = vec![0u8; 4 << 20];
    let mut apk = make_zip(&[("AndroidManifest.xml", &manifest, true), ("classes.dex", &zeros, true)]);
    let find = |hay: &[u8], sig: &[u8]| -> Vec<usize> {
        hay.windows(sig.len())
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .map(|(i, _)| i)
            .collect()
    };
    for off in find(&apk, b"PK\x03\x04") {
        if apk[off + 30..].starts_with(b"classes.dex") {
            apk[off + 22..off + 26].copy_from_slice(&100u32.to_le_bytes());
        }
    }
    for off in find(&apk, b"PK\x01\x02") {
        if apk[off + 46..].starts_with(b"classes.dex") {
            apk[off + 24..off + 28].copy_from_slice(&100u32.to_le_bytes());
        }
    }
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        ..Limits::default()
    };
    match scan_bytes(&apk, None, &opts_with(limits)) {
        Ok(r) => panic!("lying entry accepted: {:?}", r.android.map(|a| a.dex)),
        Err(e) => assert_eq!(e.location().map(|l| l.entry.as_str()), Some("classes.dex"), "{e}"),
    }
}

#[test]
fn path_traversal_names_are_refused() {
    let manifest = axml_manifest("com.example.trav", &[]);
    for bad in ["../../etc/passwd", "/abs/path", "assets/../../x", "C:\\win.ini"] {
        let apk = make_zip(&[("AndroidManifest.xml", &manifest, true), (bad, b"x", false)]);
        let err = scan_bytes(&apk, None, &ScanOptions::default()).unwrap_err();
        assert!(matches!(err, ScanError::PathTraversal { .. }), "{bad}: {err}");
        assert_eq!(err.location().unwrap().entry, bad);
    }
}

#[test]
fn too_many_entries_are_refused() {
    let manifest = axml_manifest("com.example.many", &[]);
    let names: Vec<String> = (0..50).map(|i| format!("assets/f{i}")).collect();
    let mut entries: Vec<(&str, &[u8], bool)> = vec![("AndroidManifest.xml", &manifest, true)];
    entries.extend(names.iter().map(|n| (n.as_str(), &b"x"[..], false)));
    let apk = make_zip(&entries);
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let err = scan_bytes(&apk, None, &opts_with(limits)).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::LimitExceeded {
                what: "entry count",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn not_a_zip_is_an_error() {
    for data in [&b""[..], b"PK", b"hello world, not a zip at all", &[0xffu8; 4096]] {
        let err = scan_bytes(data, None, &ScanOptions::default()).unwrap_err();
        assert!(matches!(err, ScanError::Zip { .. }), "{err}");
    }
}

#[test]
fn garbage_manifest_is_malformed_with_location() {
    for data in [
        &b""[..],
        b"\x03\x00\x08\x00",
        b"<?xml version='1.0'?><manifest/>",
        &[
            0x03, 0, 8, 0, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0x1c, 0, 0xff, 0xff, 0xff, 0xff,
        ],
    ] {
        let apk = make_zip(&[("AndroidManifest.xml", data, true)]);
        let err = scan_bytes(&apk, None, &ScanOptions::default()).unwrap_err();
        assert!(matches!(err, ScanError::Malformed { format: "AXML", .. }), "{err}");
        assert_eq!(err.location().unwrap().entry, "AndroidManifest.xml");
    }
}

#[test]
fn truncated_manifest_is_an_error_or_partial_never_a_panic() {
    let manifest = axml_manifest(
        "com.example.trunc",
        &["android.permission.CAMERA", "android.permission.INTERNET"],
    );
    for cut in 0..manifest.len() {
        let _ = appscan::android::axml::parse_axml(&manifest[..cut], "AndroidManifest.xml", &Limits::default());
    }
}

#[test]
fn huge_declared_string_count_is_refused() {
    let mut m = axml_manifest("com.example.huge", &[]);
    // string pool stringCount at file offset 8 + 8
    m[16..20].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let err = appscan::android::axml::parse_axml(&m, "AndroidManifest.xml", &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::LimitExceeded {
                what: "string count",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.location().unwrap().offset, Some(8 + 28));
}

fn minimal_dex() -> Vec<u8> {
    let mut d = vec![0u8; 0x70];
    d[..8].copy_from_slice(b"dex\n035\0");
    d[32..36].copy_from_slice(&0x70u32.to_le_bytes());
    d[36..40].copy_from_slice(&0x70u32.to_le_bytes());
    d[40..44].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    d
}

#[test]
fn garbage_and_huge_dex_are_refused() {
    let limits = Limits::default();
    assert!(appscan::android::dex::parse_dex(b"dex\n035", "classes.dex", &limits).is_err());
    assert!(appscan::android::dex::parse_dex(&[0u8; 200], "classes.dex", &limits).is_err());
    let ok = appscan::android::dex::parse_dex(&minimal_dex(), "classes.dex", &limits).unwrap();
    assert_eq!(ok.class_count(), 0);
    // class_defs_size = 0x7fffffff at offset 0x70
    let mut d = minimal_dex();
    d[96..100].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    d[100..104].copy_from_slice(&0x70u32.to_le_bytes());
    let err = appscan::android::dex::parse_dex(&d, "classes2.dex", &limits).unwrap_err();
    assert!(
        matches!(err, ScanError::LimitExceeded { .. } | ScanError::Malformed { .. }),
        "{err}"
    );
    assert_eq!(err.location().unwrap().entry, "classes2.dex");
    // string table that fits the count limit but not the file
    let mut d = minimal_dex();
    d[56..60].copy_from_slice(&1000u32.to_le_bytes());
    d[60..64].copy_from_slice(&0x70u32.to_le_bytes());
    let err = appscan::android::dex::parse_dex(&d, "classes.dex", &limits).unwrap_err();
    assert!(matches!(err, ScanError::Malformed { format: "DEX", .. }), "{err}");
}

#[test]
fn garbage_dex_inside_an_apk_names_the_entry() {
    let manifest = axml_manifest("com.example.dex", &[]);
    let apk = make_zip(&[
        ("AndroidManifest.xml", &manifest, true),
        ("classes2.dex", b"dex\n035\0garbage", true),
    ]);
    let err = scan_bytes(&apk, None, &ScanOptions::default()).unwrap_err();
    assert_eq!(err.location().unwrap().entry, "classes2.dex", "{err}");
}

#[test]
fn garbage_macho_and_plist_are_errors() {
    let limits = Limits::default();
    for data in [
        &b""[..],
        b"\xcf\xfa\xed\xfe",
        &[
            0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
            0x7f, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        b"\xca\xfe\xba\xbe\x7f\xff\xff\xff",
    ] {
        assert!(appscan::ios::macho::parse_macho(data, "Payload/X.app/X", &limits).is_err());
    }
    for data in [&b""[..], b"bplist00", b"<?xml version=\"1.0\"?><plist><dict><key>a</key>", b"bplist00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"] {
        assert!(appscan::ios::parse_plist(data, "Payload/X.app/Info.plist").is_err());
    }
}

#[test]
fn bundle_with_garbage_nested_apk_names_the_nested_entry() {
    let manifest = axml_manifest("com.example.base", &[]);
    let base = make_zip(&[("AndroidManifest.xml", &manifest, true)]);
    let bundle = make_zip(&[
        ("base.apk", &base, false),
        ("split_config.arm64_v8a.apk", b"not a zip", false),
    ]);
    let err = scan_bytes(&bundle, Some("x.apks"), &ScanOptions::default()).unwrap_err();
    assert_eq!(err.location().unwrap().entry, "split_config.arm64_v8a.apk", "{err}");
}

#[test]
fn split_bundle_scans_base_and_splits() {
    let base_manifest = axml_manifest("com.example.split", &["android.permission.INTERNET"]);
    let base = make_zip(&[
        ("AndroidManifest.xml", &base_manifest, true),
        ("classes.dex", &minimal_dex(), true),
    ]);
    let split = make_zip(&[("lib/arm64-v8a/libfoo.so", b"\x7fELF https://cdn.example.net/x", true)]);
    let bundle = make_zip(&[
        ("manifest.json", b"{}", true),
        ("com.example.split.apk", &base, false),
        ("config.arm64_v8a.apk", &split, false),
    ]);
    let r = scan_bytes(&bundle, Some("x.xapk"), &ScanOptions::default()).unwrap();
    assert_eq!(r.input.kind, appscan::PackageKind::AndroidBundle);
    let a = r.android.unwrap();
    assert_eq!(a.manifest.package.as_deref(), Some("com.example.split"));
    assert_eq!(a.splits.len(), 2);
    assert_eq!(a.native_libs["arm64-v8a"], vec!["libfoo.so"]);
    assert_eq!(a.dex.len(), 1);
    assert_eq!(a.dex[0].name, "com.example.split.apk!classes.dex");
}

#[test]
fn read_manifest_fast_path_applies_the_same_rules() {
    let dir = std::env::temp_dir().join(format!("appscan-fast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = axml_manifest("com.example.fast", &["android.permission.INTERNET"]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ok.apk", make_zip(&[("AndroidManifest.xml", &manifest, true)])),
        (
            "trav.apk",
            make_zip(&[("AndroidManifest.xml", &manifest, true), ("../x", b"x", false)]),
        ),
        (
            "bomb.apk",
            make_zip(&[("AndroidManifest.xml", &vec![0u8; 8 << 20], true)]),
        ),
        ("none.apk", make_zip(&[("classes.dex", b"x", false)])),
        ("junk.apk", b"PK\x05\x06 this is not a zip".to_vec()),
    ];
    for (name, data) in &cases {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let limits = Limits::default();
    let read = |n: &str| appscan::android::read_manifest(&dir.join(n), &limits);
    assert_eq!(read("ok.apk").unwrap().package.as_deref(), Some("com.example.fast"));
    assert!(matches!(read("trav.apk"), Err(ScanError::PathTraversal { .. })));
    assert!(matches!(read("bomb.apk"), Err(ScanError::LimitExceeded { .. })));
    assert!(matches!(read("none.apk"), Err(ScanError::UnknownPackage(_))));
    assert!(read("junk.apk").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
