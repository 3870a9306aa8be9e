//! `ResStringPool` chunks, shared by binary XML (AXML) and the resource table (ARSC).

use crate::error::ScanError;
use crate::reader::{checked_table, Bytes};

const UTF8_FLAG: u32 = 1 << 8;

/// A decoded string pool. Strings that cannot be decoded (bad offsets inside a
/// hostile pool) are kept as empty strings, as Android's lenient reader does,
/// so indexes stay aligned.
#[derive(Debug, Default, Clone)]
pub(crate) struct StringPool {
    pub(crate) strings: Vec<String>,
}

impl StringPool {
    /// Parses the pool whose chunk starts at `start` and is `size` bytes long.
    pub(crate) fn parse(b: &Bytes<'_>, start: usize, size: usize, max_strings: usize) -> Result<StringPool, ScanError> {
        let header_size = b.u16(start + 2)? as usize;
        let count = b.usize32(start + 8)?;
        let flags = b.u32(start + 16)?;
        let strings_start = b.usize32(start + 20)?;
        if header_size < 28 {
            return Err(b.err(start, format!("string pool header size {header_size} < 28")));
        }
        let offsets_at = start + header_size;
        checked_table(b, offsets_at, count, 4, max_strings, "string count")?;
        let chunk_end = start.saturating_add(size).min(b.len());
        let data_at = start.saturating_add(strings_start);
        let utf8 = flags & UTF8_FLAG != 0;
        let mut strings = Vec::with_capacity(count);
        for i in 0..count {
            let off = b.usize32(offsets_at + i * 4)?;
            let at = data_at.saturating_add(off);
            let s = if at >= chunk_end {
                String::new()
            } else if utf8 {
                decode_utf8(b.data, at, chunk_end).unwrap_or_default()
            } else {
                decode_utf16(b.data, at, chunk_end).unwrap_or_default()
            };
            strings.push(s);
        }
        Ok(StringPool { strings })
    }

    /// String `idx`, or `None` for the "no string" index 0xFFFFFFFF or out of range.
    pub(crate) fn get(&self, idx: u32) -> Option<&str> {
        self.strings.get(idx as usize).map(String::as_str)
    }
}

fn decode_utf8(data: &[u8], mut at: usize, end: usize) -> Option<String> {
    // UTF-16 length (skipped), then UTF-8 byte length; each 1 or 2 bytes.
    let (_, n) = len8(data, at)?;
    at += n;
    let (len, n) = len8(data, at)?;
    at += n;
    let bytes = data.get(at..at.checked_add(len)?.min(end))?;
    // Android writes modified UTF-8; lossy decoding keeps what is readable.
    Some(String::from_utf8_lossy(bytes).into_owned())
}

fn len8(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let b0 = *data.get(at)? as usize;
    if b0 & 0x80 != 0 {
        let b1 = *data.get(at + 1)? as usize;
        Some((((b0 & 0x7f) << 8) | b1, 2))
    } else {
        Some((b0, 1))
    }
}

fn decode_utf16(data: &[u8], mut at: usize, end: usize) -> Option<String> {
    let u = |i: usize| -> Option<usize> {
        let s = data.get(i..i + 2)?;
        Some(u16::from_le_bytes([s[0], s[1]]) as usize)
    };
    let mut len = u(at)?;
    at += 2;
    if len & 0x8000 != 0 {
        len = ((len & 0x7fff) << 16) | u(at)?;
        at += 2;
    }
    let byte_end = at.checked_add(len.checked_mul(2)?)?.min(end);
    let units: Vec<u16> = data
        .get(at..byte_end)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&c| c != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}
