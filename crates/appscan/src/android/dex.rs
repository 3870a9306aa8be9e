//! Dalvik executable (DEX) reader: header, string table, type table, method
//! references and class definitions. No bytecode is decoded: class names,
//! strings and method references are what the analysis needs.
//!
//! Format: <https://source.android.com/docs/core/runtime/dex-format>.

use crate::error::ScanError;
use crate::limits::Limits;
use crate::reader::{checked_table, Bytes};

/// A parsed DEX file.
#[derive(Debug, Clone, Default)]
pub struct Dex {
    /// Format version from the magic (`035` … `041`).
    pub version: String,
    /// All strings of the string table, decoded from MUTF-8.
    pub strings: Vec<String>,
    /// Type descriptors of the type table (`Lcom/foo/Bar;`, `[I` …).
    pub types: Vec<String>,
    /// Indexes into `types` of the classes defined in this file.
    pub class_defs: Vec<u32>,
    /// Superclass type index of each class def (`u32::MAX` for none).
    pub superclasses: Vec<u32>,
    /// Method references: (class type index, method name string index).
    pub method_refs: Vec<(u16, u32)>,
}

impl Dex {
    /// Number of classes defined (`class_defs_size`).
    pub fn class_count(&self) -> usize {
        self.class_defs.len()
    }

    /// Names of the defined classes in dotted form (`com.foo.Bar`).
    pub fn defined_class_names(&self) -> impl Iterator<Item = String> + '_ {
        self.class_defs
            .iter()
            .filter_map(|&i| self.types.get(i as usize))
            .filter_map(|d| descriptor_to_dotted(d))
    }

    /// Names of every class type in the type table (defined or referenced), dotted.
    pub fn referenced_class_names(&self) -> impl Iterator<Item = String> + '_ {
        self.types.iter().filter_map(|d| descriptor_to_dotted(d))
    }

    /// Method references as (`Lcom/foo/Bar;`, `name`).
    pub fn method_ref_names(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.method_refs.iter().filter_map(|&(c, n)| {
            Some((
                self.types.get(c as usize)?.as_str(),
                self.strings.get(n as usize)?.as_str(),
            ))
        })
    }
}

/// `Lcom/foo/Bar;` → `com.foo.Bar`; arrays and primitives → `None`.
pub fn descriptor_to_dotted(d: &str) -> Option<String> {
    let inner = d.strip_prefix('L')?.strip_suffix(';')?;
    Some(inner.replace('/', "."))
}

/// Parses a DEX file. `entry` names it in errors.
pub fn parse_dex(data: &[u8], entry: &str, limits: &Limits) -> Result<Dex, ScanError> {
    let b = Bytes::new(data, entry, "DEX");
    let magic = b.slice(0, 8)?;
    if &magic[..4] != b"dex\n" || magic[7] != 0 {
        return Err(b.err(0, "bad magic (not a DEX file)"));
    }
    let version = String::from_utf8_lossy(&magic[4..7]).into_owned();
    let header_size = b.usize32(36)?;
    if header_size < 0x70 {
        return Err(b.err(36, format!("header size {header_size:#x} < 0x70")));
    }
    let endian = b.u32(40)?;
    if endian != 0x1234_5678 {
        return Err(b.err(40, format!("unsupported endian tag {endian:#x}")));
    }
    let table = |size_at: usize, elem: usize, what: &'static str| -> Result<(usize, usize), ScanError> {
        let count = b.usize32(size_at)?;
        let off = b.usize32(size_at + 4)?;
        if count == 0 {
            return Ok((0, 0));
        }
        let n = checked_table(&b, off, count, elem, limits.max_strings, what)?;
        Ok((n, off))
    };
    let (n_strings, strings_off) = table(56, 4, "string count")?;
    let (n_types, types_off) = table(64, 4, "type count")?;
    let (n_methods, methods_off) = table(88, 8, "method count")?;
    let (n_classes, classes_off) = table(96, 32, "class count")?;

    let mut strings = Vec::with_capacity(n_strings);
    for i in 0..n_strings {
        let at = b.usize32(strings_off + i * 4)?;
        strings.push(read_string(&b, at)?);
    }
    let mut types = Vec::with_capacity(n_types);
    for i in 0..n_types {
        let si = b.u32(types_off + i * 4)?;
        let s = strings
            .get(si as usize)
            .ok_or_else(|| b.err(types_off + i * 4, format!("type {i} names string {si} of {n_strings}")))?;
        types.push(s.clone());
    }
    let mut method_refs = Vec::with_capacity(n_methods);
    for i in 0..n_methods {
        let at = methods_off + i * 8;
        let class = b.u16(at)?;
        let name = b.u32(at + 4)?;
        if class as usize >= n_types || name as usize >= n_strings {
            return Err(b.err(at, format!("method {i} refers past the type or string table")));
        }
        method_refs.push((class, name));
    }
    let mut class_defs = Vec::with_capacity(n_classes);
    let mut superclasses = Vec::with_capacity(n_classes);
    for i in 0..n_classes {
        let at = classes_off + i * 32;
        let class = b.u32(at)?;
        if class as usize >= n_types {
            return Err(b.err(at, format!("class def {i} names type {class} of {n_types}")));
        }
        class_defs.push(class);
        superclasses.push(b.u32(at + 8)?);
    }
    Ok(Dex {
        version,
        strings,
        types,
        class_defs,
        superclasses,
        method_refs,
    })
}

fn read_string(b: &Bytes<'_>, at: usize) -> Result<String, ScanError> {
    // uleb128 UTF-16 length (skipped: the NUL terminator is authoritative),
    // then MUTF-8 bytes up to a NUL.
    let mut pos = at;
    for _ in 0..5 {
        let byte = b.u8(pos)?;
        pos += 1;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let rest = b.data.get(pos..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| b.err(at, "string data without terminating NUL"))?;
    let bytes = &rest[..end];
    if bytes.is_ascii() {
        return Ok(String::from_utf8_lossy(bytes).into_owned());
    }
    Ok(decode_mutf8(bytes))
}

/// Modified UTF-8 (surrogates encoded separately, NUL as C0 80) → String.
pub(crate) fn decode_mutf8(bytes: &[u8]) -> String {
    let mut units: Vec<u16> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c < 0x80 {
            units.push(u16::from(c));
            i += 1;
        } else if c & 0xe0 == 0xc0 && i + 1 < bytes.len() {
            units.push((u16::from(c & 0x1f) << 6) | u16::from(bytes[i + 1] & 0x3f));
            i += 2;
        } else if c & 0xf0 == 0xe0 && i + 2 < bytes.len() {
            units.push(
                (u16::from(c & 0x0f) << 12) | (u16::from(bytes[i + 1] & 0x3f) << 6) | u16::from(bytes[i + 2] & 0x3f),
            );
            i += 3;
        } else {
            units.push(0xfffd);
            i += 1;
        }
    }
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutf8_decodes_surrogates_and_nul() {
        // U+1F600 as a CESU-8 surrogate pair, and NUL as C0 80.
        let s = decode_mutf8(&[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80, 0xc0, 0x80, b'a']);
        assert_eq!(s, "\u{1F600}\u{0}a");
    }

    #[test]
    fn descriptors() {
        assert_eq!(descriptor_to_dotted("Lcom/a/B;").as_deref(), Some("com.a.B"));
        assert_eq!(descriptor_to_dotted("[I"), None);
    }
}
