//! Bounds-checked little-endian reads over a byte slice.
//!
//! Every binary format reader in the crate goes through this so that a
//! truncated or lying structure becomes an error with an offset, never an
//! out-of-bounds panic.

use crate::error::ScanError;

/// A cursor-free view of one entry's bytes that knows its entry name and format.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) entry: &'a str,
    pub(crate) format: &'static str,
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8], entry: &'a str, format: &'static str) -> Self {
        Bytes { data, entry, format }
    }

    /// An error of this format at `offset`.
    pub(crate) fn err(&self, offset: usize, reason: impl Into<String>) -> ScanError {
        ScanError::malformed(self.format, self.entry, offset, reason)
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn slice(&self, offset: usize, len: usize) -> Result<&'a [u8], ScanError> {
        offset
            .checked_add(len)
            .and_then(|end| self.data.get(offset..end))
            .ok_or_else(|| {
                self.err(
                    offset,
                    format!(
                        "{len} bytes at offset {offset} run past the end ({} bytes)",
                        self.data.len()
                    ),
                )
            })
    }

    pub(crate) fn u8(&self, offset: usize) -> Result<u8, ScanError> {
        Ok(self.slice(offset, 1)?[0])
    }

    pub(crate) fn u16(&self, offset: usize) -> Result<u16, ScanError> {
        let s = self.slice(offset, 2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    pub(crate) fn u32(&self, offset: usize) -> Result<u32, ScanError> {
        let s = self.slice(offset, 4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub(crate) fn u64(&self, offset: usize) -> Result<u64, ScanError> {
        let s = self.slice(offset, 8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }

    /// A `u32` used as a size or offset, converted to `usize`.
    pub(crate) fn usize32(&self, offset: usize) -> Result<usize, ScanError> {
        Ok(self.u32(offset)? as usize)
    }
}

/// Checks that a declared count, each element `elem_size` bytes at `offset`,
/// fits in the data and under `max`; returns the count.
pub(crate) fn checked_table(
    b: &Bytes<'_>,
    offset: usize,
    count: usize,
    elem_size: usize,
    max: usize,
    what: &'static str,
) -> Result<usize, ScanError> {
    if count > max {
        return Err(ScanError::limit(b.entry, Some(offset), what, count as u64, max as u64));
    }
    let bytes = count
        .checked_mul(elem_size)
        .ok_or_else(|| b.err(offset, format!("{what} {count} overflows")))?;
    b.slice(offset, bytes)?;
    Ok(count)
}
