//! Test support: where the shared corpus is, and skipping when it is absent.

use std::path::PathBuf;

/// `../shared` beside the workspace, or `$APPWARDEN_SHARED`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("APPWARDEN_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
    }
}

/// The APK corpus directory, or `None` (with a note on stderr) when it is
/// missing. With `APPWARDEN_REQUIRE_TOOLS=1` a missing corpus fails the test.
pub fn corpus_or_skip(test: &str) -> Option<PathBuf> {
    let dir = shared_dir().join("corpus/apk");
    if dir.join("GROUND_TRUTH.json").is_file() {
        return Some(dir);
    }
    let why = format!("{test}: skipped, {} not found (set APPWARDEN_SHARED)", dir.display());
    if std::env::var("APPWARDEN_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{why}; APPWARDEN_REQUIRE_TOOLS=1 makes this a failure");
    }
    eprintln!("{why}");
    None
}

/// Deterministic xorshift PRNG for mutation tests.
pub struct Rng(pub u64);

impl Rng {
    /// Next pseudo-random value.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A zip in memory from (name, bytes, deflate?) triples.
pub fn make_zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, deflate) in entries {
        let method = if *deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = SimpleFileOptions::default().compression_method(method);
        w.start_file(*name, opts).expect("start_file");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// Reads an entry of a zip held in memory.
pub fn read_entry(zip_bytes: &[u8], name: &str) -> Vec<u8> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("zip");
    let mut f = z.by_name(name).expect("entry");
    let mut out = Vec::new();
    f.read_to_end(&mut out).expect("read");
    out
}

/// A minimal binary AndroidManifest: `<manifest package=PKG android:versionCode=1>`
/// with one `<uses-permission android:name=PERM>` per permission.
pub fn axml_manifest(package: &str, permissions: &[&str]) -> Vec<u8> {
    const ANDROID: &str = "http://schemas.android.com/apk/res/android";
    // String pool: 0 "name", 1 "versionCode", 2 "android", 3 ANDROID, 4 "manifest",
    // 5 "package", 6 PKG, 7 "uses-permission", 8.. permissions.
    let mut strings: Vec<String> = ["name", "versionCode", "android", ANDROID, "manifest", "package"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    strings.push(package.to_string());
    strings.push("uses-permission".to_string());
    strings.extend(permissions.iter().map(|s| s.to_string()));
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for s in &strings {
        offsets.push(data.len() as u32);
        data.push(s.chars().count() as u8);
        data.push(s.len() as u8);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    while data.len() % 4 != 0 {
        data.push(0);
    }
    let mut pool = Vec::new();
    let header = 28u32;
    let strings_start = header + 4 * strings.len() as u32;
    let size = strings_start + data.len() as u32;
    pool.extend_from_slice(&1u16.to_le_bytes());
    pool.extend_from_slice(&(header as u16).to_le_bytes());
    pool.extend_from_slice(&size.to_le_bytes());
    pool.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    pool.extend_from_slice(&0u32.to_le_bytes());
    pool.extend_from_slice(&(1u32 << 8).to_le_bytes()); // UTF-8
    pool.extend_from_slice(&strings_start.to_le_bytes());
    pool.extend_from_slice(&0u32.to_le_bytes());
    for o in offsets {
        pool.extend_from_slice(&o.to_le_bytes());
    }
    pool.extend_from_slice(&data);

    // Resource map: string 0 → android:name, 1 → android:versionCode.
    let mut resmap = Vec::new();
    resmap.extend_from_slice(&0x0180u16.to_le_bytes());
    resmap.extend_from_slice(&8u16.to_le_bytes());
    resmap.extend_from_slice(&16u32.to_le_bytes());
    resmap.extend_from_slice(&0x0101_0003u32.to_le_bytes());
    resmap.extend_from_slice(&0x0101_021bu32.to_le_bytes());

    fn node(ty: u16, ext: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(&(16 + ext.len() as u32).to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes()); // line
        v.extend_from_slice(&u32::MAX.to_le_bytes()); // comment
        v.extend_from_slice(ext);
        v
    }
    fn attr(ns: u32, name: u32, raw: u32, ty: u8, data: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [ns, name, raw] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&8u16.to_le_bytes());
        v.push(0);
        v.push(ty);
        v.extend_from_slice(&data.to_le_bytes());
        v
    }
    fn start(name: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut ext = Vec::new();
        ext.extend_from_slice(&u32::MAX.to_le_bytes());
        ext.extend_from_slice(&name.to_le_bytes());
        ext.extend_from_slice(&20u16.to_le_bytes());
        ext.extend_from_slice(&20u16.to_le_bytes());
        ext.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        ext.extend_from_slice(&[0u8; 6]);
        for a in attrs {
            ext.extend_from_slice(a);
        }
        node(0x0102, &ext)
    }
    fn end(name: u32) -> Vec<u8> {
        let mut ext = Vec::new();
        ext.extend_from_slice(&u32::MAX.to_le_bytes());
        ext.extend_from_slice(&name.to_le_bytes());
        node(0x0103, &ext)
    }
    let ns = {
        let mut e = Vec::new();
        e.extend_from_slice(&2u32.to_le_bytes());
        e.extend_from_slice(&3u32.to_le_bytes());
        e
    };
    let mut body = Vec::new();
    body.extend(node(0x0100, &ns));
    body.extend(start(
        4,
        &[attr(3, 1, u32::MAX, 0x10, 1), attr(u32::MAX, 5, 6, 0x03, 6)],
    ));
    for i in 0..permissions.len() as u32 {
        body.extend(start(7, &[attr(3, 0, 8 + i, 0x03, 8 + i)]));
        body.extend(end(7));
    }
    body.extend(end(4));
    body.extend(node(0x0101, &ns));

    let total = 8 + pool.len() + resmap.len() + body.len();
    let mut out = Vec::new();
    out.extend_from_slice(&3u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend(pool);
    out.extend(resmap);
    out.extend(body);
    out
}

/// A small 64-bit arm64 Mach-O with a `__TEXT,__cstring` section holding
/// `strings`, an `__objc_classname` section holding `classes`, and, when given,
/// a code signature SuperBlob carrying `entitlements` (an XML plist).
pub fn macho(strings: &[&str], classes: &[&str], entitlements: Option<&[u8]>) -> Vec<u8> {
    let section = |name: &str, data_off: u32, size: u32| {
        let mut s = Vec::new();
        let mut n = [0u8; 16];
        n[..name.len()].copy_from_slice(name.as_bytes());
        s.extend_from_slice(&n);
        let mut seg = [0u8; 16];
        seg[..6].copy_from_slice(b"__TEXT");
        s.extend_from_slice(&seg);
        s.extend_from_slice(&u64::from(data_off).to_le_bytes()); // addr
        s.extend_from_slice(&u64::from(size).to_le_bytes());
        s.extend_from_slice(&data_off.to_le_bytes());
        s.extend_from_slice(&0u32.to_le_bytes()); // align
        s.extend_from_slice(&0u32.to_le_bytes()); // reloff
        s.extend_from_slice(&0u32.to_le_bytes()); // nreloc
        s.extend_from_slice(&2u32.to_le_bytes()); // S_CSTRING_LITERALS
        s.extend_from_slice(&[0u8; 12]);
        s
    };
    let cstr: Vec<u8> = strings.iter().flat_map(|s| s.bytes().chain([0])).collect();
    let cls: Vec<u8> = classes.iter().flat_map(|s| s.bytes().chain([0])).collect();
    let ncmds = if entitlements.is_some() { 2 } else { 1 };
    let seg_size = 72 + 2 * 80;
    let cmds_size = seg_size + if entitlements.is_some() { 16 } else { 0 };
    let data_start = 32 + cmds_size as u32;
    let cstr_off = data_start;
    let cls_off = cstr_off + cstr.len() as u32;
    let text_end = cls_off + cls.len() as u32;
    let sig_off = (text_end + 15) & !15;

    let mut out = Vec::new();
    out.extend_from_slice(&0xfeed_facfu32.to_le_bytes());
    out.extend_from_slice(&0x0100_000cu32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes()); // MH_EXECUTE
    out.extend_from_slice(&(ncmds as u32).to_le_bytes());
    out.extend_from_slice(&(cmds_size as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    // LC_SEGMENT_64 __TEXT
    out.extend_from_slice(&0x19u32.to_le_bytes());
    out.extend_from_slice(&(seg_size as u32).to_le_bytes());
    let mut segname = [0u8; 16];
    segname[..6].copy_from_slice(b"__TEXT");
    out.extend_from_slice(&segname);
    out.extend_from_slice(&0u64.to_le_bytes()); // vmaddr
    out.extend_from_slice(&u64::from(text_end).to_le_bytes()); // vmsize
    out.extend_from_slice(&0u64.to_le_bytes()); // fileoff
    out.extend_from_slice(&u64::from(text_end).to_le_bytes()); // filesize
    out.extend_from_slice(&5u32.to_le_bytes());
    out.extend_from_slice(&5u32.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes()); // nsects
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend(section("__cstring", cstr_off, cstr.len() as u32));
    out.extend(section("__objc_classname", cls_off, cls.len() as u32));
    let mut sig = Vec::new();
    if let Some(ent) = entitlements {
        let blob_len = 8 + ent.len() as u32;
        let super_len = 12 + 8 + blob_len;
        sig.extend_from_slice(&0xfade_0cc0u32.to_be_bytes());
        sig.extend_from_slice(&super_len.to_be_bytes());
        sig.extend_from_slice(&1u32.to_be_bytes());
        sig.extend_from_slice(&5u32.to_be_bytes()); // CSSLOT_ENTITLEMENTS
        sig.extend_from_slice(&20u32.to_be_bytes());
        sig.extend_from_slice(&0xfade_7171u32.to_be_bytes());
        sig.extend_from_slice(&blob_len.to_be_bytes());
        sig.extend_from_slice(ent);
        out.extend_from_slice(&0x1du32.to_le_bytes());
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&sig_off.to_le_bytes());
        out.extend_from_slice(&(sig.len() as u32).to_le_bytes());
    }
    assert_eq!(out.len() as u32, data_start);
    out.extend(cstr);
    out.extend(cls);
    out.resize(sig_off as usize, 0);
    out.extend(sig);
    out
}
