//! Bounds-checked reads from a FlatBuffers buffer, in safe code.
//!
//! Buffers are verified before they are read, so these checks should never
//! fail; they are here so that a bug in verification (or in the layout that
//! drives it) becomes an error instead of undefined behaviour or a panic.
//! Nothing here needs the buffer to be aligned in memory.

use crate::DecodeError;

type Result<T> = core::result::Result<T, DecodeError>;

pub(super) fn out_of_bounds(at: usize) -> DecodeError {
    DecodeError::Codec {
        codec: "flatbuffers",
        message: format!("offset at byte {at} points outside the buffer"),
    }
}

/// A verified (or about to be read) FlatBuffers buffer.
#[derive(Clone, Copy)]
pub(super) struct Buf<'a>(pub(super) &'a [u8]);

/// A table's position and its vtable.
#[derive(Clone, Copy, Debug)]
pub(super) struct TableRef {
    pub(super) pos: usize,
    pub(super) vtable: usize,
    pub(super) vtable_len: usize,
    /// Bytes from `pos` that the table's inline fields take, as its vtable says.
    pub(super) inline_len: usize,
}

impl<'a> Buf<'a> {
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn slice(&self, at: usize, len: usize) -> Result<&'a [u8]> {
        at.checked_add(len)
            .and_then(|end| self.0.get(at..end))
            .ok_or_else(|| out_of_bounds(at))
    }

    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N]> {
        let bytes = self.slice(at, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(super) fn u8_at(&self, at: usize) -> Result<u8> {
        self.0.get(at).copied().ok_or_else(|| out_of_bounds(at))
    }

    pub(super) fn u16_at(&self, at: usize) -> Result<u16> {
        self.array(at).map(u16::from_le_bytes)
    }

    pub(super) fn u32_at(&self, at: usize) -> Result<u32> {
        self.array(at).map(u32::from_le_bytes)
    }

    pub(super) fn u64_at(&self, at: usize) -> Result<u64> {
        self.array(at).map(u64::from_le_bytes)
    }

    /// A scalar of `size` bytes, zero-extended into 64 bits.
    pub(super) fn scalar_at(&self, at: usize, size: usize) -> Result<u64> {
        Ok(match size {
            1 => u64::from(self.u8_at(at)?),
            2 => u64::from(self.u16_at(at)?),
            4 => u64::from(self.u32_at(at)?),
            _ => self.u64_at(at)?,
        })
    }

    /// Follows the forward offset stored at `at`.
    pub(super) fn follow(&self, at: usize) -> Result<usize> {
        let offset = self.u32_at(at)? as usize;
        match at.checked_add(offset) {
            Some(target) if target < self.0.len() => Ok(target),
            _ => Err(out_of_bounds(at)),
        }
    }

    /// A vector's element count and where its elements start.
    pub(super) fn vector(&self, at: usize, elem_size: usize) -> Result<(usize, usize)> {
        let len = self.u32_at(at)? as usize;
        let start = at + 4;
        self.slice(start, len.saturating_mul(elem_size))?;
        Ok((len, start))
    }

    /// The bytes of a string or `[ubyte]` at `at`.
    pub(super) fn bytes(&self, at: usize) -> Result<&'a [u8]> {
        let (len, start) = self.vector(at, 1)?;
        self.slice(start, len)
    }

    /// The table at `pos`.
    pub(super) fn table(&self, pos: usize) -> Result<TableRef> {
        let soffset = i32::from_le_bytes(self.array(pos)?);
        let vtable = if soffset >= 0 {
            pos.checked_sub(soffset.unsigned_abs() as usize)
        } else {
            pos.checked_add(soffset.unsigned_abs() as usize)
        }
        .ok_or_else(|| out_of_bounds(pos))?;
        let vtable_len = usize::from(self.u16_at(vtable)?);
        let inline_len = usize::from(self.u16_at(vtable + 2)?);
        if vtable_len < 4 || vtable_len % 2 != 0 {
            return Err(DecodeError::Codec {
                codec: "flatbuffers",
                message: format!("malformed vtable at byte {vtable}"),
            });
        }
        self.slice(vtable, vtable_len)?;
        if inline_len < 4 {
            return Err(DecodeError::Codec {
                codec: "flatbuffers",
                message: format!("table at byte {pos} claims less than its own header"),
            });
        }
        self.slice(pos, inline_len)?;
        Ok(TableRef {
            pos,
            vtable,
            vtable_len,
            inline_len,
        })
    }

    /// Where the field at vtable offset `voffset` sits, if present.
    pub(super) fn field(&self, table: &TableRef, voffset: u16) -> Result<Option<usize>> {
        let voffset = usize::from(voffset);
        if voffset + 2 > table.vtable_len {
            return Ok(None);
        }
        match self.u16_at(table.vtable + voffset)? {
            0 => Ok(None),
            off => Ok(Some(table.pos + usize::from(off))),
        }
    }

    /// Whether the vtable has present fields beyond the first `slots`:
    /// fields from a newer schema, which are skipped.
    pub(super) fn has_unknown_fields(&self, table: &TableRef, slots: u16) -> Result<bool> {
        let mut voffset = 4 + 2 * usize::from(slots);
        while voffset + 2 <= table.vtable_len {
            if self.u16_at(table.vtable + voffset)? != 0 {
                return Ok(true);
            }
            voffset += 2;
        }
        Ok(false)
    }
}
