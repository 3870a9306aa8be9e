//! Minimal `resources.arsc` reader: enough to resolve a `@0x7fTTEEEE`
//! reference to its string value in the default configuration (app label,
//! version name written as a resource).
//!
//! Format: `RES_TABLE_TYPE` → global string pool, then packages; each package
//! holds type/key string pools, type specs and `RES_TABLE_TYPE_TYPE` chunks
//! (one per type and configuration) with entry offsets and `Res_value`s.

use std::collections::HashMap;

use crate::android::string_pool::StringPool;
use crate::error::ScanError;
use crate::limits::Limits;
use crate::reader::{checked_table, Bytes};

const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_TABLE_TYPE: u16 = 0x0002;
const RES_TABLE_PACKAGE_TYPE: u16 = 0x0200;
const RES_TABLE_TYPE_TYPE: u16 = 0x0201;
const NO_ENTRY: u32 = 0xffff_ffff;
const FLAG_COMPLEX: u16 = 0x0001;
const FLAG_SPARSE: u8 = 0x01;
const FLAG_OFFSET16: u8 = 0x02;

/// A value found for a resource id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Value {
    data_type: u8,
    data: u32,
    /// True when the entry's configuration has no language/region (the default).
    default_config: bool,
}

/// Resource id → simple values, plus the global string pool.
#[derive(Debug, Default)]
pub struct ResourceTable {
    strings: StringPool,
    values: HashMap<u32, Value>,
}

impl ResourceTable {
    /// Parses a resource table. `entry` names it in errors.
    pub fn parse(data: &[u8], entry: &str, limits: &Limits) -> Result<ResourceTable, ScanError> {
        let b = Bytes::new(data, entry, "ARSC");
        if b.u16(0)? != RES_TABLE_TYPE {
            return Err(b.err(0, "not a resource table"));
        }
        let header = b.u16(2)? as usize;
        let end = data.len();
        let mut t = ResourceTable::default();
        let mut pos = header.max(8);
        let mut chunks = 0usize;
        while pos + 8 <= end {
            let (ty, hdr, size) = chunk(&b, pos)?;
            match ty {
                RES_STRING_POOL_TYPE if t.strings.strings.is_empty() => {
                    t.strings = StringPool::parse(&b, pos, size, limits.max_strings)?;
                }
                RES_TABLE_PACKAGE_TYPE => {
                    let id = b.u32(pos + 8)?;
                    let mut p = pos + hdr;
                    while p + 8 <= pos + size {
                        let (cty, chdr, csize) = chunk(&b, p)?;
                        if cty == RES_TABLE_TYPE_TYPE {
                            t.read_type(&b, id, p, chdr, csize, limits)?;
                        }
                        p += csize;
                        chunks += 1;
                        if chunks > 1_000_000 {
                            return Err(b.err(p, "more than a million chunks"));
                        }
                    }
                }
                _ => {}
            }
            pos += size;
        }
        Ok(t)
    }

    fn read_type(
        &mut self,
        b: &Bytes<'_>,
        package: u32,
        pos: usize,
        hdr: usize,
        size: usize,
        limits: &Limits,
    ) -> Result<(), ScanError> {
        let type_id = u32::from(b.u8(pos + 8)?);
        let flags = b.u8(pos + 9)?;
        let count = b.usize32(pos + 12)?;
        let entries_start = b.usize32(pos + 16)?;
        // ResTable_config starts at pos + 20; language and country at +8..+12 of it.
        let config_size = b.usize32(pos + 20)?;
        let default_config = config_size < 12 || b.u32(pos + 28)? == 0;
        let offsets_at = pos + hdr;
        let sparse = flags & FLAG_SPARSE != 0;
        let off16 = flags & FLAG_OFFSET16 != 0;
        let elem = if off16 { 2 } else { 4 };
        checked_table(b, offsets_at, count, elem, limits.max_strings, "entry count")?;
        let entries_at = pos.saturating_add(entries_start);
        for i in 0..count {
            let (index, off) = if sparse {
                let v = b.u32(offsets_at + i * 4)?;
                (v & 0xffff, ((v >> 16) as usize) * 4)
            } else if off16 {
                let v = b.u16(offsets_at + i * 2)?;
                if v == 0xffff {
                    continue;
                }
                (i as u32, v as usize * 4)
            } else {
                let v = b.u32(offsets_at + i * 4)?;
                if v == NO_ENTRY {
                    continue;
                }
                (i as u32, v as usize)
            };
            let at = entries_at.saturating_add(off);
            if at + 8 > pos + size {
                continue; // outside this chunk: ignore, as Android would fail only on use
            }
            let entry_size = b.u16(at)? as usize;
            let entry_flags = b.u16(at + 2)?;
            if entry_flags & FLAG_COMPLEX != 0 {
                continue; // bags (styles, arrays) are not needed
            }
            let v = at + entry_size;
            let data_type = b.u8(v + 3)?;
            let data = b.u32(v + 4)?;
            let id = (package << 24) | (type_id << 16) | index;
            let value = Value {
                data_type,
                data,
                default_config,
            };
            match self.values.get(&id) {
                Some(old) if old.default_config || !default_config => {}
                _ => {
                    self.values.insert(id, value);
                }
            }
        }
        Ok(())
    }

    /// The string a resource id resolves to (following up to 8 references).
    pub fn resolve_string(&self, mut id: u32) -> Option<String> {
        for _ in 0..8 {
            let v = self.values.get(&id)?;
            match v.data_type {
                0x03 => return self.strings.get(v.data).map(str::to_string),
                0x01 => id = v.data,
                0x10 => return Some((v.data as i32).to_string()),
                _ => return None,
            }
        }
        None
    }

    /// Number of simple values read.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value was read.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn chunk(b: &Bytes<'_>, pos: usize) -> Result<(u16, usize, usize), ScanError> {
    let ty = b.u16(pos)?;
    let hdr = b.u16(pos + 2)? as usize;
    let size = b.usize32(pos + 4)?;
    if hdr < 8 || size < hdr || pos.checked_add(size).is_none_or(|e| e > b.len()) {
        return Err(b.err(
            pos,
            format!("chunk {ty:#06x} with header {hdr} and size {size} does not fit"),
        ));
    }
    Ok((ty, hdr, size))
}
