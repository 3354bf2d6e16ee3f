//! The postcard side of the bridge: reading the postcard bytes the crate's
//! postcard plan writes for a value, and writing postcard bytes for its
//! decoder to build the value from.
//!
//! Both directions follow postcard's wire format: LEB128 varints, zigzag for
//! signed integers, `u8`/`i8`/`bool` as one byte, floats little-endian,
//! `char` as its UTF-8 bytes with a length prefix, and `u128`/`i128` as
//! 128-bit varints.

use core::cmp::Ordering;

use super::layout::{Layout, Node, NodeId, Scalar};

/// A bounds-checked cursor over postcard bytes. Every failure is `None`:
/// the caller names the error.
#[derive(Clone)]
pub(super) struct PcReader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> PcReader<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        PcReader { input, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn input(&self) -> &'a [u8] {
        self.input
    }

    /// Moves to `pos`, a position this reader has already passed.
    pub(super) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.input.len());
    }

    pub(super) fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        let b = *self.input.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.input.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    pub(super) fn varint(&mut self) -> Option<u64> {
        let v = self.varint_u128()?;
        u64::try_from(v).ok()
    }

    pub(super) fn varint_u128(&mut self) -> Option<u128> {
        let mut value = 0u128;
        for i in 0..19 {
            let b = self.byte()?;
            value |= u128::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// A length prefix then that many bytes.
    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.take(len)
    }

    /// One scalar, as the raw bits of its FlatBuffers form (sign-extended
    /// for signed integers, IEEE bits for floats, the code point for `char`).
    pub(super) fn scalar(&mut self, scalar: Scalar) -> Option<u64> {
        Some(match scalar {
            Scalar::Bool => match self.byte()? {
                b @ (0 | 1) => u64::from(b),
                _ => return None,
            },
            Scalar::U8 => u64::from(self.byte()?),
            Scalar::I8 => self.byte()? as i8 as i64 as u64,
            Scalar::U16 => u64::from(u16::try_from(self.varint()?).ok()?),
            Scalar::U32 => u64::from(u32::try_from(self.varint()?).ok()?),
            Scalar::U64 => self.varint()?,
            Scalar::I16 => i64::from(i16::try_from(unzigzag(self.varint()?)).ok()?) as u64,
            Scalar::I32 => i64::from(i32::try_from(unzigzag(self.varint()?)).ok()?) as u64,
            Scalar::I64 => unzigzag(self.varint()?) as u64,
            Scalar::F32 => u64::from(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            Scalar::F64 => u64::from_le_bytes(self.take(8)?.try_into().ok()?),
            Scalar::Char => {
                let text = core::str::from_utf8(self.bytes()?).ok()?;
                let mut chars = text.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                u64::from(u32::from(c))
            }
        })
    }

    /// A `u128` or `i128` as its raw 128 bits.
    pub(super) fn wide(&mut self, signed: bool) -> Option<u128> {
        let v = self.varint_u128()?;
        Some(if signed {
            (((v >> 1) as i128) ^ -((v & 1) as i128)) as u128
        } else {
            v
        })
    }
}

pub(super) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub(super) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Where the FlatBuffers-to-postcard walk writes: a real buffer when
/// decoding, a counter when a view only validates.
pub(super) trait PcOut {
    fn put(&mut self, bytes: &[u8]);
    fn len(&self) -> usize;

    fn byte(&mut self, b: u8) {
        self.put(&[b]);
    }

    fn varint_u128(&mut self, mut value: u128) {
        let mut buf = [0u8; 19];
        let mut n = 0;
        while value >= 0x80 {
            buf[n] = value as u8 | 0x80;
            value >>= 7;
            n += 1;
        }
        buf[n] = value as u8;
        self.put(&buf[..=n]);
    }

    fn varint(&mut self, value: u64) {
        self.varint_u128(u128::from(value));
    }

    /// A length prefix and the bytes it counts.
    fn prefixed(&mut self, bytes: &[u8]) {
        self.varint(bytes.len() as u64);
        self.put(bytes);
    }
}

impl PcOut for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Counts what would be written, for views that validate without decoding.
#[derive(Default)]
pub(super) struct Count(pub(super) usize);

impl PcOut for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    fn len(&self) -> usize {
        self.0
    }
}

/// Orders two encoded keys of a set or map, each given as the postcard bytes
/// starting at the key: numerically for numbers, bytewise for strings (as
/// FlatBuffers' `key` attribute does), and by their postcard bytes for
/// every other key type, which is deterministic if not meaningful.
pub(super) fn compare_keys(layout: &Layout, key: NodeId, a: &[u8], b: &[u8]) -> Ordering {
    let mut ra = PcReader::new(a);
    let mut rb = PcReader::new(b);
    let ordered = match layout.node(key) {
        Node::Scalar(s) => match (ra.scalar(*s), rb.scalar(*s)) {
            (Some(x), Some(y)) => Some(compare_scalar(*s, x, y)),
            _ => None,
        },
        Node::Enum(_) => match (ra.varint(), rb.varint()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
        Node::Wide { signed } => match (ra.wide(*signed), rb.wide(*signed)) {
            (Some(x), Some(y)) if *signed => Some((x as i128).cmp(&(y as i128))),
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
        Node::String => match (ra.bytes(), rb.bytes()) {
            (Some(x), Some(y)) => Some(x.cmp(y)),
            _ => None,
        },
        _ => None,
    };
    ordered.unwrap_or_else(|| a.cmp(b))
}

pub(super) fn compare_scalar(s: Scalar, x: u64, y: u64) -> Ordering {
    match s {
        Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 => (x as i64).cmp(&(y as i64)),
        Scalar::F32 => f32::from_bits(x as u32).total_cmp(&f32::from_bits(y as u32)),
        Scalar::F64 => f64::from_bits(x).total_cmp(&f64::from_bits(y)),
        _ => x.cmp(&y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u128, 1, 127, 128, 300, u64::MAX.into(), u128::MAX] {
            let mut out = Vec::new();
            out.varint_u128(v);
            assert_eq!(PcReader::new(&out).varint_u128(), Some(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn out_of_range_scalars_are_refused() {
        let mut out = Vec::new();
        out.varint(70_000);
        assert_eq!(PcReader::new(&out).scalar(Scalar::U16), None);
        assert_eq!(PcReader::new(&[2]).scalar(Scalar::Bool), None);
        assert_eq!(PcReader::new(&[0xff; 20]).varint_u128(), None);
    }
}
