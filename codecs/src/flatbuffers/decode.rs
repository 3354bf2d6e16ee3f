//! Decoding: a verified buffer, read through the layout, rewritten as the
//! postcard bytes of the same value, which the crate's postcard plan then
//! builds in place.
//!
//! The walk checks what the FlatBuffers verifier cannot know: bools are 0 or
//! 1, chars are Unicode scalar values, enum and union indices exist, array
//! lengths match, required fields are present. It counts depth like postcard
//! does, budgets its output against [`Limits::max_alloc`], and measures how
//! far the reachable objects extend, to find trailing bytes.

use super::layout::{Field, Layout, Node, NodeId, Scalar, TableId, TableKind};
use super::pc::{PcOut, zigzag};
use super::read::{Buf, TableRef};
use crate::{DecodeError, Limits};

type Result<T = ()> = core::result::Result<T, DecodeError>;

/// Whether `tail` bytes after the last reachable object, which ends at
/// `extent`, are the alignment padding a FlatBuffers builder writes: it
/// builds back to front, so the first object it places ends the buffer,
/// followed by the zeros that align that object (to 4, or to 8 for 8-byte
/// scalars) from the buffer's start. Any other tail is extra bytes.
fn is_builder_padding(extent: usize, tail: usize) -> bool {
    tail == 0 || tail == extent.wrapping_neg() % 4 || tail == extent.wrapping_neg() % 8
}

pub(super) struct Walker<'a, O> {
    layout: &'static Layout,
    buf: Buf<'a>,
    out: O,
    depth_left: usize,
    max_depth: usize,
    max_alloc: usize,
    /// The end of the furthest object reached so far.
    extent: usize,
    /// Cleared when a table holds fields this layout does not know: their
    /// objects are not walked, so the extent says nothing about the tail.
    extent_known: bool,
}

fn invalid(at: usize, type_path: &'static str, what: &'static str) -> DecodeError {
    DecodeError::InvalidValue {
        at,
        type_path,
        what,
    }
}

fn codec(message: String) -> DecodeError {
    DecodeError::Codec {
        codec: "flatbuffers",
        message,
    }
}

impl<'a, O: PcOut> Walker<'a, O> {
    pub(super) fn new(layout: &'static Layout, buf: &'a [u8], out: O, limits: &Limits) -> Self {
        Walker {
            layout,
            buf: Buf(buf),
            out,
            depth_left: limits.max_depth(),
            max_depth: limits.max_depth(),
            max_alloc: limits.max_alloc(),
            extent: 4,
            extent_known: true,
        }
    }

    /// Walks the whole buffer from its root table, then checks for trailing
    /// bytes, and returns the output.
    pub(super) fn run(mut self) -> Result<O> {
        let root = self.buf.follow(0)?;
        self.table(self.layout.root, root)?;
        let len = self.buf.len();
        if self.extent_known && self.extent < len {
            let tail = self.buf.slice(self.extent, len - self.extent)?;
            if !is_builder_padding(self.extent, tail.len()) || tail.iter().any(|&b| b != 0) {
                return Err(DecodeError::TrailingBytes {
                    remaining: tail.len(),
                    len,
                });
            }
        }
        Ok(self.out)
    }

    fn reach(&mut self, end: usize) {
        self.extent = self.extent.max(end);
    }

    fn enter(&mut self, at: usize) -> Result {
        if self.depth_left == 0 {
            return Err(DecodeError::DepthLimitExceeded {
                limit: self.max_depth,
                at,
            });
        }
        self.depth_left -= 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth_left += 1;
    }

    fn charge(&self, at: usize) -> Result {
        if self.out.len() > self.max_alloc {
            return Err(DecodeError::AllocLimitExceeded {
                limit: self.max_alloc,
                at,
            });
        }
        Ok(())
    }

    fn table(&mut self, t: TableId, pos: usize) -> Result {
        let layout = self.layout;
        let table = &layout.tables[t];
        let tref = self.buf.table(pos)?;
        self.reach(tref.pos + tref.inline_len);
        self.reach(tref.vtable + tref.vtable_len);
        if self.extent_known && self.buf.has_unknown_fields(&tref, table.slots)? {
            self.extent_known = false;
        }
        self.charge(pos)?;
        let counts = table.kind == TableKind::Struct;
        if counts {
            self.enter(pos)?;
        }
        for field in &table.fields {
            self.field(field, &tref)?;
        }
        if counts {
            self.leave();
        }
        Ok(())
    }

    fn field(&mut self, field: &Field, tref: &TableRef) -> Result {
        let layout = self.layout;
        let voff = field.voffset();
        match layout.node(field.node) {
            Node::Option(inner) => {
                let present = match layout.node(*inner) {
                    Node::Union(_) => match self.buf.field(tref, voff)? {
                        Some(at) => self.buf.u8_at(at)? != 0,
                        None => false,
                    },
                    _ => self.buf.field(tref, voff)?.is_some(),
                };
                if present {
                    self.out.byte(1);
                    self.enter(tref.pos)?;
                    self.present(*inner, field, tref)?;
                    self.leave();
                } else {
                    self.out.byte(0);
                }
                Ok(())
            }
            _ => self.present(field.node, field, tref),
        }
    }

    /// A field's value, which may still be absent if it is a scalar (then
    /// it has its default) or missing (an error).
    fn present(&mut self, node: NodeId, field: &Field, tref: &TableRef) -> Result {
        let layout = self.layout;
        let voff = field.voffset();
        if let Node::Union(u) = layout.node(node) {
            let ty = match self.buf.field(tref, voff)? {
                Some(at) => self.buf.u8_at(at)?,
                None => 0,
            };
            let value_at = self.buf.field(tref, voff + 2)?;
            let (Some(at), true) = (value_at, ty != 0) else {
                return Err(self.missing(field, tref.pos));
            };
            let def = &layout.unions[*u];
            let Some((_, table)) = def.variants.get(usize::from(ty) - 1) else {
                return Err(DecodeError::UnknownVariant {
                    index: u64::from(ty),
                    at,
                    type_path: "flatbuffers union",
                });
            };
            self.enter(at)?;
            self.out.varint(u64::from(ty) - 1);
            let target = self.buf.follow(at)?;
            self.table(*table, target)?;
            self.leave();
            return Ok(());
        }
        match self.buf.field(tref, voff)? {
            Some(at) => self.value_at(node, at),
            None => match layout.node(node) {
                Node::Scalar(s) => self.scalar(*s, 0, tref.pos),
                Node::Enum(_) => {
                    self.out.varint(0);
                    Ok(())
                }
                Node::Wide { .. } => {
                    self.out.varint(0);
                    Ok(())
                }
                _ => Err(self.missing(field, tref.pos)),
            },
        }
    }

    fn missing(&self, field: &Field, at: usize) -> DecodeError {
        codec(format!(
            "required field `{}` of the table at byte {at} is missing",
            field.name
        ))
    }

    /// The value whose inline part (a scalar, or an offset) is at `at`.
    fn value_at(&mut self, node: NodeId, at: usize) -> Result {
        let layout = self.layout;
        match layout.node(node) {
            Node::Scalar(s) => {
                let bits = self.buf.scalar_at(at, s.size())?;
                self.scalar(*s, bits, at)
            }
            Node::Enum(e) => {
                let def = &layout.enums[*e];
                let index = self.buf.scalar_at(at, def.repr.size())?;
                if index >= def.variants.len() as u64 {
                    return Err(DecodeError::UnknownVariant {
                        index,
                        at,
                        type_path: "flatbuffers enum",
                    });
                }
                self.out.varint(index);
                Ok(())
            }
            Node::Wide { signed } => {
                let lo = self.buf.u64_at(at)?;
                let hi = self.buf.u64_at(at + 8)?;
                let v = u128::from(lo) | (u128::from(hi) << 64);
                let v = if *signed {
                    let v = v as i128;
                    ((v << 1) ^ (v >> 127)) as u128
                } else {
                    v
                };
                self.out.varint_u128(v);
                Ok(())
            }
            Node::String => {
                let target = self.buf.follow(at)?;
                let bytes = self.buf.bytes(target)?;
                self.reach(target + 4 + bytes.len() + 1);
                if core::str::from_utf8(bytes).is_err() {
                    return Err(DecodeError::InvalidUtf8 { at: target });
                }
                self.out.prefixed(bytes);
                self.charge(target)
            }
            Node::Bytes => {
                let target = self.buf.follow(at)?;
                let bytes = self.buf.bytes(target)?;
                self.reach(target + 4 + bytes.len());
                self.out.prefixed(bytes);
                self.charge(target)
            }
            Node::Vector { elem, len, .. } => {
                let target = self.buf.follow(at)?;
                let size = layout
                    .node(*elem)
                    .elem_size(layout)
                    .ok_or_else(|| codec(format!("vector at byte {target} has no element size")))?;
                let (count, start) = self.buf.vector(target, size)?;
                self.reach(start + count * size);
                match len {
                    Some(n) if *n != count as u64 => {
                        return Err(invalid(
                            target,
                            "array",
                            "vector length differs from the array's length",
                        ));
                    }
                    Some(_) => {}
                    None => self.out.varint(count as u64),
                }
                self.enter(target)?;
                for i in 0..count {
                    self.value_at(*elem, start + i * size)?;
                }
                self.leave();
                self.charge(target)
            }
            Node::Table(t) => {
                let target = self.buf.follow(at)?;
                self.table(*t, target)
            }
            Node::Union(_) | Node::Option(_) => Err(codec(format!(
                "layout of `{}` puts an option or union outside a table field",
                layout.type_path
            ))),
        }
    }

    fn scalar(&mut self, s: Scalar, bits: u64, at: usize) -> Result {
        let out = &mut self.out;
        match s {
            Scalar::Bool => match bits {
                0 | 1 => out.byte(bits as u8),
                _ => return Err(invalid(at, "bool", "a bool is neither 0 nor 1")),
            },
            Scalar::U8 | Scalar::I8 => out.byte(bits as u8),
            Scalar::U16 | Scalar::U32 | Scalar::U64 => out.varint(bits),
            Scalar::I16 => out.varint(zigzag(i64::from(bits as u16 as i16))),
            Scalar::I32 => out.varint(zigzag(i64::from(bits as u32 as i32))),
            Scalar::I64 => out.varint(zigzag(bits as i64)),
            Scalar::F32 => out.put(&(bits as u32).to_le_bytes()),
            Scalar::F64 => out.put(&bits.to_le_bytes()),
            Scalar::Char => {
                let Some(c) = char::from_u32(bits as u32) else {
                    return Err(invalid(at, "char", "not a Unicode scalar value"));
                };
                let mut utf8 = [0u8; 4];
                out.prefixed(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
        Ok(())
    }
}
