//! Bounded reading of zip containers (APK, XAPK/APKS bundles, IPA).
//!
//! Nothing is extracted to disk. Every read is capped by [`Limits`]: declared
//! and actual decompressed size per entry, the total over the package, the
//! compression ratio, and the entry count. Unsafe entry names (absolute,
//! `..`, NUL, drive letters) are rejected outright: no legitimate package has
//! them and they are the mark of a traversal attack on naive extractors.

use std::cell::Cell;
use std::io::{Cursor, Read, Seek};

use zip::ZipArchive;

use crate::error::{Location, ScanError};
use crate::limits::Limits;

/// A zip archive (in memory by default, or any seekable reader) with a read budget.
pub(crate) struct Archive<'a, R = Cursor<&'a [u8]>> {
    zip: ZipArchive<R>,
    /// Prefix for error locations (`""` for the outer file, `"base.apk!"` for nested).
    prefix: String,
    /// Sorted, de-duplicated entry names, built on first use.
    names: std::cell::OnceCell<Vec<String>>,
    limits: &'a Limits,
    spent: &'a Cell<u64>,
}

impl<'a> Archive<'a> {
    /// Opens `data` as a zip. `prefix` is prepended to entry names in errors;
    /// `spent` is the decompressed-bytes budget shared by a whole package.
    pub(crate) fn open(
        data: &'a [u8],
        prefix: &str,
        limits: &'a Limits,
        spent: &'a Cell<u64>,
    ) -> Result<Archive<'a>, ScanError> {
        Archive::from_reader(Cursor::new(data), prefix, limits, spent)
    }
}

impl<'a, R: Read + Seek> Archive<'a, R> {
    /// Opens a seekable reader as a zip (reads only the central directory).
    pub(crate) fn from_reader(
        reader: R,
        prefix: &str,
        limits: &'a Limits,
        spent: &'a Cell<u64>,
    ) -> Result<Archive<'a, R>, ScanError> {
        let whole = if prefix.is_empty() {
            "<input>".to_string()
        } else {
            prefix.trim_end_matches('!').to_string()
        };
        let zip = ZipArchive::new(reader).map_err(|e| ScanError::Zip {
            location: Location::new(whole.clone(), None),
            reason: e.to_string(),
        })?;
        if zip.len() > limits.max_entries {
            return Err(ScanError::limit(
                &whole,
                None,
                "entry count",
                zip.len() as u64,
                limits.max_entries as u64,
            ));
        }
        for raw in zip.file_names_raw() {
            if !is_safe_name_bytes(raw) {
                let name = String::from_utf8_lossy(raw).into_owned();
                return Err(ScanError::PathTraversal {
                    location: Location::new(format!("{prefix}{name}"), None),
                    name,
                });
            }
        }
        Ok(Archive {
            zip,
            prefix: prefix.to_string(),
            names: std::cell::OnceCell::new(),
            limits,
            spent,
        })
    }

    /// Entry names, sorted (directories included).
    pub(crate) fn names(&self) -> &[String] {
        self.names.get_or_init(|| {
            let mut v: Vec<String> = self
                .zip
                .file_names_raw()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect();
            v.sort();
            v.dedup();
            v
        })
    }

    /// Whether an entry exists.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// Declared decompressed size of an entry.
    pub(crate) fn size(&mut self, name: &str) -> Option<u64> {
        let i = self.zip.index_for_name(name)?;
        self.zip.by_index_raw(i).ok().map(|f| f.size())
    }

    /// The location string for an entry of this archive.
    pub(crate) fn loc(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// Reads a whole entry, enforcing the size, ratio and total caps.
    pub(crate) fn read(&mut self, name: &str) -> Result<Vec<u8>, ScanError> {
        let loc = self.loc(name);
        let zip_err = |e: zip::result::ZipError| ScanError::Zip {
            location: Location::new(loc.clone(), None),
            reason: e.to_string(),
        };
        let mut f = self.zip.by_name(name).map_err(zip_err)?;
        let declared = f.size();
        let compressed = f.compressed_size().max(1);
        let per_entry = self.limits.max_entry_bytes;
        if declared > per_entry {
            return Err(ScanError::limit(
                &loc,
                None,
                "declared decompressed size",
                declared,
                per_entry,
            ));
        }
        if declared > (1 << 20) && declared / compressed > self.limits.max_ratio {
            return Err(ScanError::limit(
                &loc,
                None,
                "compression ratio",
                declared / compressed,
                self.limits.max_ratio,
            ));
        }
        let left = self.limits.max_total_bytes.saturating_sub(self.spent.get());
        let cap = per_entry.min(left);
        let mut out = Vec::with_capacity(declared.min(cap) as usize);
        let n = (&mut f)
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| ScanError::Zip {
                location: Location::new(loc.clone(), Some(out.len() as u64)),
                reason: e.to_string(),
            })? as u64;
        self.spent.set(self.spent.get().saturating_add(n));
        if n > cap {
            let (what, limit) = if cap == per_entry {
                ("decompressed size", per_entry)
            } else {
                ("total decompressed size", self.limits.max_total_bytes)
            };
            return Err(ScanError::limit(&loc, None, what, n, limit));
        }
        Ok(out)
    }
}

/// [`is_safe_name`] on raw bytes, without allocating.
fn is_safe_name_bytes(b: &[u8]) -> bool {
    if b.is_empty() || b.contains(&0) || b[0] == b'/' || b[0] == b'\\' {
        return false;
    }
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return false;
    }
    // Fast path: most names have no ".." at all.
    if !b.windows(2).any(|w| w == b"..") {
        return true;
    }
    !b.split(|&c| c == b'/' || c == b'\\').any(|c| c == b"..")
}

/// False for names that would escape an extraction directory.
pub(crate) fn is_safe_name(name: &str) -> bool {
    if name.is_empty() || name.contains('\0') {
        return false;
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return false;
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return false;
    }
    !name.split(['/', '\\']).any(|c| c == "..")
}

/// Result of [`read_single_entry`].
pub(crate) enum Single {
    /// The entry's decompressed bytes.
    Found(Vec<u8>),
    /// No such entry.
    Absent,
    /// The archive needs the full zip reader (zip64, unusual method …).
    Fallback,
}

/// Reads one entry from a zip file by walking its central directory directly,
/// without building an index of every entry (the "what app is this" fast
/// path). Every name is still checked for traversal, and the entry count and
/// size caps apply. Zip64, encrypted or unusual archives return
/// [`Single::Fallback`] so that the caller uses the full zip reader.
pub(crate) fn read_single_entry(file: &mut std::fs::File, target: &str, limits: &Limits) -> Result<Single, ScanError> {
    use std::io::SeekFrom;
    let zerr = |offset: Option<u64>, reason: &str| ScanError::Zip {
        location: Location::new("<input>", offset),
        reason: reason.to_string(),
    };
    let io = |e: std::io::Error| ScanError::Zip {
        location: Location::new("<input>", None),
        reason: e.to_string(),
    };
    let len = file.metadata().map_err(io)?.len();
    if len < 22 {
        return Err(zerr(None, "too short for a zip"));
    }
    let tail_len = len.min(22 + 0xffff);
    let tail_start = len - tail_len;
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(tail_start)).map_err(io)?;
    file.read_exact(&mut tail).map_err(io)?;
    let le16 =
        |b: &[u8], at: usize| -> Option<usize> { Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]) as usize) };
    let le32 = |b: &[u8], at: usize| -> Option<u64> {
        let s = b.get(at..at + 4)?;
        Some(u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
    };
    let Some(eocd) = (0..=tail.len() - 22)
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
    else {
        return Err(zerr(None, "no end of central directory record"));
    };
    let (Some(entries), Some(cd_size), Some(cd_off)) =
        (le16(&tail, eocd + 10), le32(&tail, eocd + 12), le32(&tail, eocd + 16))
    else {
        return Err(zerr(Some(tail_start + eocd as u64), "truncated end record"));
    };
    if entries == 0xffff || cd_size == 0xffff_ffff || cd_off == 0xffff_ffff {
        return Ok(Single::Fallback); // zip64
    }
    if entries > limits.max_entries {
        return Err(ScanError::limit(
            "<input>",
            None,
            "entry count",
            entries as u64,
            limits.max_entries as u64,
        ));
    }
    if cd_off.checked_add(cd_size).is_none_or(|e| e > len) || cd_size > (64 << 20) {
        return Ok(Single::Fallback); // let the full reader decide (prefixed data, self-extractors …)
    }
    let mut cd = vec![0u8; cd_size as usize];
    file.seek(SeekFrom::Start(cd_off)).map_err(io)?;
    file.read_exact(&mut cd).map_err(io)?;
    let mut pos = 0usize;
    let mut found = None;
    for _ in 0..entries {
        if le32(&cd, pos) != Some(0x0201_4b50) {
            return Ok(Single::Fallback);
        }
        let (Some(flags), Some(method), Some(csize), Some(usize_), Some(n), Some(e), Some(c), Some(local)) = (
            le16(&cd, pos + 8),
            le16(&cd, pos + 10),
            le32(&cd, pos + 20),
            le32(&cd, pos + 24),
            le16(&cd, pos + 28),
            le16(&cd, pos + 30),
            le16(&cd, pos + 32),
            le32(&cd, pos + 42),
        ) else {
            return Ok(Single::Fallback);
        };
        let Some(name) = cd.get(pos + 46..pos + 46 + n) else {
            return Ok(Single::Fallback);
        };
        if !is_safe_name_bytes(name) {
            let name = String::from_utf8_lossy(name).into_owned();
            return Err(ScanError::PathTraversal {
                location: Location::new(name.clone(), None),
                name,
            });
        }
        if name == target.as_bytes() && found.is_none() {
            found = Some((flags, method, csize, usize_, local));
        }
        pos += 46 + n + e + c;
    }
    let Some((flags, method, csize, declared, local)) = found else {
        return Ok(Single::Absent);
    };
    if flags & 1 != 0 || !(method == 0 || method == 8) {
        return Ok(Single::Fallback); // encrypted or another codec
    }
    if declared > limits.max_entry_bytes {
        return Err(ScanError::limit(
            target,
            None,
            "declared decompressed size",
            declared,
            limits.max_entry_bytes,
        ));
    }
    if declared > (1 << 20) && declared / csize.max(1) > limits.max_ratio {
        return Err(ScanError::limit(
            target,
            None,
            "compression ratio",
            declared / csize.max(1),
            limits.max_ratio,
        ));
    }
    let mut lh = [0u8; 30];
    file.seek(SeekFrom::Start(local)).map_err(io)?;
    file.read_exact(&mut lh).map_err(io)?;
    if lh[..4] != [0x50, 0x4b, 0x03, 0x04] {
        return Ok(Single::Fallback);
    }
    let data_at =
        local + 30 + u64::from(u16::from_le_bytes([lh[26], lh[27]])) + u64::from(u16::from_le_bytes([lh[28], lh[29]]));
    if data_at.checked_add(csize).is_none_or(|e| e > len) {
        return Err(zerr(Some(data_at), "entry data runs past the end of the file"));
    }
    file.seek(SeekFrom::Start(data_at)).map_err(io)?;
    let raw = (&mut *file).take(csize);
    let cap = limits.max_entry_bytes;
    let mut out = Vec::with_capacity(declared.min(cap) as usize);
    let n = if method == 0 {
        raw.take(cap + 1).read_to_end(&mut out)
    } else {
        flate2::read::DeflateDecoder::new(raw)
            .take(cap + 1)
            .read_to_end(&mut out)
    }
    .map_err(|e| ScanError::Zip {
        location: Location::new(target, Some(out.len() as u64)),
        reason: e.to_string(),
    })? as u64;
    if n > cap {
        return Err(ScanError::limit(target, None, "decompressed size", n, cap));
    }
    Ok(Single::Found(out))
}

#[cfg(test)]
mod tests {
    use super::is_safe_name;

    #[test]
    fn traversal_names_are_unsafe() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "C:\\x", "a\\..\\b", "a\0b", ""] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
        for good in [
            "AndroidManifest.xml",
            "lib/arm64-v8a/libx.so",
            "a/..b/c",
            "Payload/X.app/X",
        ] {
            assert!(is_safe_name(good), "{good:?}");
        }
    }
}
