//! Mach-O reading (thin and fat) with `goblin`, plus the code-signature
//! SuperBlob (big-endian, parsed here) for embedded entitlements.

use serde::Serialize;

use goblin::mach::load_command::CommandVariant;
use goblin::mach::{Mach, MachO, SingleArch};

use crate::error::ScanError;
use crate::limits::Limits;

const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_EMBEDDED_ENTITLEMENTS: u32 = 0xfade_7171;
const MAX_SECTION_STRINGS: usize = 500_000;

/// Summary of one Mach-O file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MachOInfo {
    /// Entry name.
    pub entry: String,
    /// CPU types of the slices (`arm64`, `x86_64`, `0x…`).
    pub architectures: Vec<String>,
    /// Whether the (first) slice is FairPlay-encrypted (`cryptid != 0`).
    pub encrypted: bool,
    /// Whether it has an `LC_CODE_SIGNATURE`.
    pub code_signature: bool,
    /// Linked dylibs (`@rpath/FBSDKCoreKit.framework/FBSDKCoreKit`), sorted.
    pub linked_libraries: Vec<String>,
}

/// Strings pulled out of a Mach-O for analysis.
#[derive(Debug, Clone, Default)]
pub struct MachOStrings {
    /// C strings of `__TEXT,__cstring` (and `__oslogstring`).
    pub cstrings: Vec<String>,
    /// Objective-C class and method names (`__objc_classname`, `__objc_methname`).
    pub objc: Vec<String>,
    /// Objective-C class names only.
    pub objc_classes: Vec<String>,
    /// Symbol table names (imports included), without the leading `_`.
    pub symbols: Vec<String>,
    /// The entitlements XML plist from the code signature, if any.
    pub entitlements_xml: Option<Vec<u8>>,
}

fn cpu_name(cputype: u32) -> String {
    match cputype {
        0x0100_000c => "arm64".into(),
        0x0200_000c => "arm64_32".into(),
        12 => "arm".into(),
        0x0100_0007 => "x86_64".into(),
        7 => "x86".into(),
        other => format!("{other:#x}"),
    }
}

/// Parses a Mach-O (thin or fat). Only the first slice of a fat file is read
/// for strings: all slices of an app carry the same strings.
pub fn parse_macho(data: &[u8], entry: &str, limits: &Limits) -> Result<(MachOInfo, MachOStrings), ScanError> {
    let err = |reason: String| ScanError::malformed("Mach-O", entry, 0, reason);
    let mach = Mach::parse(data).map_err(|e| err(e.to_string()))?;
    let mut info = MachOInfo {
        entry: entry.to_string(),
        ..Default::default()
    };
    let (macho, base) = match mach {
        Mach::Binary(m) => {
            info.architectures.push(cpu_name(m.header.cputype));
            (m, 0usize)
        }
        Mach::Fat(fat) => {
            let arches = fat.arches().map_err(|e| err(e.to_string()))?;
            if arches.len() > 64 {
                return Err(ScanError::limit(
                    entry,
                    Some(0),
                    "fat slice count",
                    arches.len() as u64,
                    64,
                ));
            }
            let mut first = None;
            for (i, a) in arches.iter().enumerate() {
                info.architectures.push(cpu_name(a.cputype));
                if first.is_none() {
                    if let Ok(SingleArch::MachO(m)) = fat.get(i) {
                        first = Some((m, a.offset as usize));
                    }
                }
            }
            first.ok_or_else(|| err("fat file without a Mach-O slice".into()))?
        }
    };
    let strings = read_slice(&macho, data, base, entry, limits, &mut info)?;
    Ok((info, strings))
}

fn read_slice(
    m: &MachO<'_>,
    data: &[u8],
    base: usize,
    entry: &str,
    limits: &Limits,
    info: &mut MachOInfo,
) -> Result<MachOStrings, ScanError> {
    let mut out = MachOStrings::default();
    let mut libs: Vec<String> = m.libs.iter().filter(|l| **l != "self").map(|l| l.to_string()).collect();
    libs.sort();
    libs.dedup();
    info.linked_libraries = libs;
    for lc in &m.load_commands {
        match &lc.command {
            CommandVariant::CodeSignature(cs) => {
                info.code_signature = true;
                let start = base.saturating_add(cs.dataoff as usize);
                let end = start.saturating_add(cs.datasize as usize);
                if let Some(blob) = data.get(start..end) {
                    out.entitlements_xml = entitlements_from_superblob(blob, entry, start)?;
                }
            }
            CommandVariant::EncryptionInfo32(e) => info.encrypted |= e.cryptid != 0,
            CommandVariant::EncryptionInfo64(e) => info.encrypted |= e.cryptid != 0,
            _ => {}
        }
    }
    let mut budget = limits.max_strings.min(MAX_SECTION_STRINGS);
    for seg in m.segments.iter() {
        let Ok(sections) = seg.sections() else {
            continue;
        };
        for (sec, bytes) in sections {
            let name = sec.name().unwrap_or("");
            let target = match name {
                "__cstring" | "__oslogstring" => 0,
                "__objc_classname" => 1,
                "__objc_methname" => 2,
                _ => continue,
            };
            for s in bytes.split(|&c| c == 0).filter(|s| !s.is_empty()) {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                let s = String::from_utf8_lossy(s).into_owned();
                match target {
                    0 => out.cstrings.push(s),
                    1 => {
                        out.objc_classes.push(s.clone());
                        out.objc.push(s);
                    }
                    _ => out.objc.push(s),
                }
            }
        }
    }
    for sym in m.symbols().take(limits.max_strings.min(MAX_SECTION_STRINGS)) {
        let Ok((name, _)) = sym else { break };
        out.symbols.push(name.trim_start_matches('_').to_string());
    }
    Ok(out)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The entitlements plist from an embedded-signature SuperBlob.
pub(crate) fn entitlements_from_superblob(
    blob: &[u8],
    entry: &str,
    file_offset: usize,
) -> Result<Option<Vec<u8>>, ScanError> {
    let err =
        |off: usize, reason: &str| ScanError::malformed("code signature", entry, file_offset + off, reason.to_string());
    let magic = be32(blob, 0).ok_or_else(|| err(0, "truncated SuperBlob header"))?;
    if magic != CSMAGIC_EMBEDDED_SIGNATURE {
        return Ok(None);
    }
    let count = be32(blob, 8).ok_or_else(|| err(8, "truncated SuperBlob header"))? as usize;
    if count > 64 {
        return Err(err(8, "more than 64 blobs"));
    }
    for i in 0..count {
        let idx = 12 + i * 8;
        let off = be32(blob, idx + 4).ok_or_else(|| err(idx, "blob index past the end"))? as usize;
        let Some(bmagic) = be32(blob, off) else {
            return Err(err(off, "blob offset past the end"));
        };
        if bmagic == CSMAGIC_EMBEDDED_ENTITLEMENTS {
            let len = be32(blob, off + 4).ok_or_else(|| err(off, "truncated blob"))? as usize;
            let body = off
                .checked_add(len)
                .filter(|&e| len >= 8 && e <= blob.len())
                .map(|e| &blob[off + 8..e])
                .ok_or_else(|| err(off, "entitlements blob runs past the signature"))?;
            return Ok(Some(body.to_vec()));
        }
    }
    Ok(None)
}
