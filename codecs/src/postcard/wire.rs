//! postcard's primitive encodings: LEB128 varints, zigzag signed integers,
//! and a bounds-checked reader that never panics.

use bytes::BytesMut;

use crate::DecodeError;

/// Appends bytes to the output, writing small values straight into its
/// spare capacity so each one costs a capacity check and a store.
pub(super) struct Sink<'a> {
    out: &'a mut BytesMut,
}

impl<'a> Sink<'a> {
    pub(super) fn new(out: &'a mut BytesMut) -> Self {
        Sink { out }
    }

    /// Bytes written so far (including what the output held before).
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.out.len()
    }

    #[inline]
    pub(super) fn put_u8(&mut self, byte: u8) {
        self.out.reserve(1);
        self.out.spare_capacity_mut()[0].write(byte);
        let len = self.out.len() + 1;
        // SAFETY: the byte at `len - 1` was written just above, inside the
        // capacity `reserve` guaranteed.
        unsafe { self.out.set_len(len) };
    }

    #[inline]
    pub(super) fn put_slice(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    #[inline]
    pub(super) fn put_varint_u64(&mut self, mut value: u64) {
        if value < 0x80 {
            return self.put_u8(value as u8);
        }
        self.out.reserve(10);
        let spare = self.out.spare_capacity_mut();
        let mut n = 0;
        while value >= 0x80 {
            spare[n].write(value as u8 | 0x80);
            value >>= 7;
            n += 1;
        }
        spare[n].write(value as u8);
        let len = self.out.len() + n + 1;
        // SAFETY: `n + 1` bytes of spare capacity were written just above.
        unsafe { self.out.set_len(len) };
    }

    pub(super) fn put_varint_u128(&mut self, mut value: u128) {
        self.out.reserve(19);
        let spare = self.out.spare_capacity_mut();
        let mut n = 0;
        while value >= 0x80 {
            spare[n].write(value as u8 | 0x80);
            value >>= 7;
            n += 1;
        }
        spare[n].write(value as u8);
        let len = self.out.len() + n + 1;
        // SAFETY: `n + 1` bytes of spare capacity were written just above.
        unsafe { self.out.set_len(len) };
    }

    /// A length prefix and the bytes it counts.
    #[inline]
    pub(super) fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_varint_u64(bytes.len() as u64);
        self.put_slice(bytes);
    }
}

pub(super) fn zigzag_i64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub(super) fn zigzag_i128(value: i128) -> u128 {
    ((value << 1) ^ (value >> 127)) as u128
}

pub(super) fn unzigzag_i64(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

pub(super) fn unzigzag_i128(value: u128) -> i128 {
    ((value >> 1) as i128) ^ -((value & 1) as i128)
}

/// A cursor over untrusted input. Every read is bounds-checked.
pub(super) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Reader { input, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    #[inline]
    pub(super) fn byte(&mut self, type_path: &'static str) -> Result<u8, DecodeError> {
        match self.input.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(DecodeError::UnexpectedEof {
                at: self.pos,
                type_path,
            }),
        }
    }

    #[inline]
    pub(super) fn take(
        &mut self,
        n: usize,
        type_path: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEof {
                at: self.input.len(),
                type_path,
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.input[start..self.pos])
    }

    #[inline]
    pub(super) fn array<const N: usize>(
        &mut self,
        type_path: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, type_path)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// A varint of at most `max_bits` (≤ 64) significant bits.
    pub(super) fn varint(
        &mut self,
        max_bits: u32,
        type_path: &'static str,
    ) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value: u64 = 0;
        let mut shift: u32 = 0;
        loop {
            let byte = self.byte(type_path)?;
            let low = u64::from(byte & 0x7f);
            let fits =
                shift < max_bits && (max_bits - shift >= 7 || low >> (max_bits - shift) == 0);
            if !fits {
                return Err(DecodeError::MalformedVarint {
                    at: start,
                    type_path,
                });
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// A varint of at most 128 significant bits.
    pub(super) fn varint_u128(&mut self, type_path: &'static str) -> Result<u128, DecodeError> {
        let start = self.pos;
        let mut value: u128 = 0;
        let mut shift: u32 = 0;
        loop {
            let byte = self.byte(type_path)?;
            let low = u128::from(byte & 0x7f);
            let fits = shift < 128 && (128 - shift >= 7 || low >> (128 - shift) == 0);
            if !fits {
                return Err(DecodeError::MalformedVarint {
                    at: start,
                    type_path,
                });
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// A length prefix, checked against the input left: `min_each` is the
    /// fewest bytes one element takes, so `len * min_each` must fit.
    pub(super) fn len(
        &mut self,
        min_each: usize,
        type_path: &'static str,
    ) -> Result<usize, DecodeError> {
        let at = self.pos;
        let len = self.varint(64, type_path)?;
        let remaining = self.remaining();
        let fits = match usize::try_from(len) {
            Ok(n) => n
                .checked_mul(min_each)
                .is_some_and(|need| need <= remaining),
            Err(_) => false,
        };
        if !fits {
            return Err(DecodeError::LengthOutOfBounds {
                len,
                remaining,
                at,
                type_path,
            });
        }
        Ok(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_u64(v: u64) {
        let mut out = BytesMut::new();
        Sink::new(&mut out).put_varint_u64(v);
        assert_eq!(Reader::new(&out).varint(64, "u64").unwrap(), v);
    }

    #[test]
    fn varints_round_trip_at_their_limits() {
        for v in [0, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX] {
            roundtrip_u64(v);
        }
        for v in [0u128, 1, u64::MAX as u128 + 1, u128::MAX] {
            let mut out = BytesMut::new();
            Sink::new(&mut out).put_varint_u128(v);
            assert_eq!(Reader::new(&out).varint_u128("u128").unwrap(), v);
        }
    }

    #[test]
    fn overlong_varints_are_rejected() {
        // u16::MAX + 1 does not fit 16 bits.
        assert!(Reader::new(&[0x80, 0x80, 0x04]).varint(16, "u16").is_err());
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0x03]).varint(16, "u16").unwrap(),
            0xffff
        );
        // Eleven bytes is too long for a u64.
        let long = [0x80u8; 10].iter().copied().chain([1]).collect::<Vec<_>>();
        assert!(Reader::new(&long).varint(64, "u64").is_err());
        // The tenth byte of a u64 may only carry one bit.
        let mut max = [0xffu8; 10];
        max[9] = 0x01;
        assert_eq!(Reader::new(&max).varint(64, "u64").unwrap(), u64::MAX);
        max[9] = 0x02;
        assert!(Reader::new(&max).varint(64, "u64").is_err());
        assert!(Reader::new(&[0x80]).varint(64, "u64").is_err());
    }

    #[test]
    fn zigzag_is_postcards() {
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag_i64(zigzag_i64(v)), v);
        }
        assert_eq!(zigzag_i64(-1), 1);
        assert_eq!(zigzag_i64(1), 2);
        for v in [0i128, -1, i128::MIN, i128::MAX] {
            assert_eq!(unzigzag_i128(zigzag_i128(v)), v);
        }
    }

    #[test]
    fn lengths_are_bounded_by_input() {
        assert!(Reader::new(&[5, 1, 2]).len(1, "vec").is_err());
        assert_eq!(Reader::new(&[2, 1, 2]).len(1, "vec").unwrap(), 2);
        assert!(Reader::new(&[2, 1, 2]).len(2, "vec").is_err());
        assert_eq!(Reader::new(&[200, 1]).len(0, "vec").unwrap(), 200);
    }
}
