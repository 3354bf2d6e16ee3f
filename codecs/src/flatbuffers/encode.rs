//! Encoding: the value's postcard bytes, read through the layout, rebuilt as
//! a FlatBuffers buffer.
//!
//! The value itself is read by the crate's postcard plan (compiled from the
//! same facet shape, cached, no reflection per call); this pass only walks
//! the postcard bytes and the layout side by side. FlatBuffers wants every
//! child (string, vector, sub-table) written before the table that points at
//! it, and postcard gives fields in order, so each table's fields are read
//! first, their children built as they come, and the table closed last.

use ::flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};

use super::layout::{Layout, Node, NodeId, Scalar, TableId, TableKind, UnionId};
use super::pc::{PcReader, compare_keys};
use crate::{EncodeError, Limits};

type Result<T> = core::result::Result<T, EncodeError>;

/// The largest buffer FlatBuffers' 32-bit offsets can address.
const MAX_BUFFER: usize = (1 << 31) - 1;

/// One field's value, ready to be pushed into its table.
enum Val {
    /// An absent option.
    Absent,
    /// A scalar's raw bits.
    Scalar(Scalar, u64),
    /// A `u128`/`i128` struct: low and high halves.
    Wide(u64, u64),
    /// An offset to a string, vector or table already in the buffer.
    Offset(u32),
    /// A union: its type and its table.
    Union(u8, u32),
}

pub(super) struct Encoder<'a> {
    layout: &'static Layout,
    r: PcReader<'a>,
    fbb: FlatBufferBuilder<'static>,
    depth_left: usize,
    max_depth: usize,
}

fn codec(message: impl Into<String>) -> EncodeError {
    EncodeError::Codec {
        codec: "flatbuffers",
        message: message.into(),
    }
}

/// The postcard bytes did not match the layout: a bug or a type whose
/// schema and postcard form disagree, never user input.
fn mismatch(layout: &Layout, at: usize) -> EncodeError {
    codec(format!(
        "the postcard form of `{}` does not match its FlatBuffers layout at byte {at}",
        layout.type_path
    ))
}

/// Encodes the value whose postcard bytes are `postcard` into a finished
/// FlatBuffers buffer.
pub(super) fn transcode(
    layout: &'static Layout,
    postcard: &[u8],
    limits: &Limits,
) -> Result<(Vec<u8>, usize)> {
    let mut enc = Encoder {
        layout,
        r: PcReader::new(postcard),
        fbb: FlatBufferBuilder::with_capacity(postcard.len().saturating_mul(2).clamp(64, 1 << 20)),
        depth_left: limits.max_depth(),
        max_depth: limits.max_depth(),
    };
    let root = enc.table(layout.root)?;
    if enc.r.remaining() != 0 {
        return Err(mismatch(layout, enc.r.pos()));
    }
    enc.room(16)?;
    enc.fbb
        .finish_minimal(WIPOffset::<UnionWIPOffset>::new(root));
    Ok(enc.fbb.collapse())
}

impl Encoder<'_> {
    fn enter(&mut self) -> Result<()> {
        if self.depth_left == 0 {
            return Err(EncodeError::DepthLimitExceeded {
                limit: self.max_depth,
                type_path: "flatbuffers table",
            });
        }
        self.depth_left -= 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth_left += 1;
    }

    /// Fails before the buffer would outgrow FlatBuffers' 2 GiB address space.
    fn room(&self, more: usize) -> Result<()> {
        let used = self.fbb.unfinished_data().len();
        if used.saturating_add(more).saturating_add(64) > MAX_BUFFER {
            return Err(codec(
                "message exceeds the 2 GiB a FlatBuffers buffer can address",
            ));
        }
        Ok(())
    }

    fn bad(&self) -> EncodeError {
        mismatch(self.layout, self.r.pos())
    }

    fn val(&mut self, node: NodeId) -> Result<Val> {
        let layout = self.layout;
        match layout.node(node) {
            Node::Scalar(s) => {
                let bits = self.r.scalar(*s).ok_or_else(|| self.bad())?;
                Ok(Val::Scalar(*s, bits))
            }
            Node::Wide { signed } => {
                let v = self.r.wide(*signed).ok_or_else(|| self.bad())?;
                Ok(Val::Wide(v as u64, (v >> 64) as u64))
            }
            Node::Enum(e) => {
                let def = &layout.enums[*e];
                let index = self.r.varint().ok_or_else(|| self.bad())?;
                if index >= def.variants.len() as u64 {
                    return Err(self.bad());
                }
                Ok(Val::Scalar(def.repr, index))
            }
            Node::String => {
                let bytes = self.r.bytes().ok_or_else(|| self.bad())?;
                let text = core::str::from_utf8(bytes).map_err(|_| self.bad())?;
                self.room(text.len() + 8)?;
                Ok(Val::Offset(self.fbb.create_string(text).value()))
            }
            Node::Bytes => {
                let bytes = self.r.bytes().ok_or_else(|| self.bad())?;
                self.room(bytes.len() + 8)?;
                Ok(Val::Offset(self.fbb.create_vector(bytes).value()))
            }
            Node::Vector { elem, len, sort_by } => {
                self.enter()?;
                let offset = self.vector(*elem, *len, *sort_by)?;
                self.leave();
                Ok(Val::Offset(offset))
            }
            Node::Table(t) => self.table(*t).map(Val::Offset),
            Node::Union(u) => self.union(*u),
            Node::Option(inner) => match self.r.byte() {
                Some(0) => Ok(Val::Absent),
                Some(1) => {
                    self.enter()?;
                    let v = self.val(*inner)?;
                    self.leave();
                    Ok(v)
                }
                _ => Err(self.bad()),
            },
        }
    }

    /// Moves past one value of `node` without building anything.
    fn skip(&mut self, node: NodeId) -> Result<()> {
        let layout = self.layout;
        let ok = match layout.node(node) {
            Node::Scalar(s) => self.r.scalar(*s).is_some(),
            Node::Wide { signed } => self.r.wide(*signed).is_some(),
            Node::Enum(_) => self.r.varint().is_some(),
            Node::String | Node::Bytes => self.r.bytes().is_some(),
            Node::Vector { elem, len, .. } => {
                let count = match len {
                    Some(n) => *n,
                    None => self.r.varint().ok_or_else(|| self.bad())?,
                };
                self.enter()?;
                for _ in 0..count {
                    self.skip(*elem)?;
                }
                self.leave();
                true
            }
            Node::Table(t) => {
                let table = &layout.tables[*t];
                let counts = table.kind == TableKind::Struct;
                if counts {
                    self.enter()?;
                }
                for field in &table.fields {
                    self.skip(field.node)?;
                }
                if counts {
                    self.leave();
                }
                true
            }
            Node::Union(u) => {
                let index = self.r.varint().ok_or_else(|| self.bad())?;
                let variant = usize::try_from(index)
                    .ok()
                    .and_then(|i| layout.unions[*u].variants.get(i));
                let Some((_, table)) = variant else {
                    return Err(self.bad());
                };
                self.enter()?;
                for field in &layout.tables[*table].fields {
                    self.skip(field.node)?;
                }
                self.leave();
                true
            }
            Node::Option(inner) => match self.r.byte() {
                Some(0) => true,
                Some(1) => {
                    self.enter()?;
                    self.skip(*inner)?;
                    self.leave();
                    true
                }
                _ => false,
            },
        };
        if ok { Ok(()) } else { Err(self.bad()) }
    }

    fn union(&mut self, u: UnionId) -> Result<Val> {
        let def = &self.layout.unions[u];
        self.enter()?;
        let index = self.r.varint().ok_or_else(|| self.bad())?;
        let Some((_, table)) = usize::try_from(index)
            .ok()
            .and_then(|i| def.variants.get(i))
        else {
            return Err(self.bad());
        };
        let offset = self.table(*table)?;
        self.leave();
        // At most 255 variants (checked by the layout), so `index + 1` fits.
        Ok(Val::Union(index as u8 + 1, offset))
    }

    /// Reads a table's fields in order, building their children, then the table.
    fn table(&mut self, t: TableId) -> Result<u32> {
        let layout = self.layout;
        let table = &layout.tables[t];
        let counts = table.kind == TableKind::Struct;
        if counts {
            self.enter()?;
        }
        let mut vals = Vec::with_capacity(table.fields.len());
        for field in &table.fields {
            vals.push(self.val(field.node)?);
        }
        self.room(16 * usize::from(table.slots) + 16)?;
        let start = self.fbb.start_table();
        // Widest first, so fields pack without padding.
        for width in [8, 4, 2, 1] {
            for (field, val) in table.fields.iter().zip(&vals) {
                let voff = field.voffset();
                let optional = matches!(layout.node(field.node), Node::Option(_));
                match *val {
                    // FlatBuffers leaves scalars equal to their default (all
                    // bits zero, so -0.0 is kept) out; an optional scalar is
                    // written whenever it is present.
                    Val::Scalar(s, bits) if s.size() == width && (bits != 0 || optional) => {
                        push_scalar_slot(&mut self.fbb, voff, s, bits);
                    }
                    Val::Wide(lo, hi) if width == 8 => {
                        // Pushed back to front: `hi` then `lo`, both 8-aligned,
                        // leave `{ lo, hi }` in memory with the slot at `lo`.
                        self.fbb.push(hi);
                        self.fbb.push_slot_always(voff, lo);
                    }
                    Val::Offset(o) if width == 4 => {
                        self.fbb
                            .push_slot_always(voff, WIPOffset::<UnionWIPOffset>::new(o));
                    }
                    Val::Union(_, o) if width == 4 => {
                        self.fbb
                            .push_slot_always(voff + 2, WIPOffset::<UnionWIPOffset>::new(o));
                    }
                    Val::Union(ty, _) if width == 1 => {
                        self.fbb.push_slot_always(voff, ty);
                    }
                    _ => {}
                }
            }
        }
        let end = self.fbb.end_table(start);
        if counts {
            self.leave();
        }
        Ok(end.value())
    }

    fn vector(&mut self, elem: NodeId, len: Option<u64>, sort_by: Option<NodeId>) -> Result<u32> {
        let layout = self.layout;
        let count = match len {
            Some(n) => n,
            None => self.r.varint().ok_or_else(|| self.bad())?,
        };
        let count = usize::try_from(count).map_err(|_| self.bad())?;
        // The postcard bytes came from a real value, but do not trust a
        // length for an allocation beyond what the input could hold.
        let hint = count.min(self.r.remaining() + 1);
        let mut vals: Vec<Val> = Vec::with_capacity(hint);
        match sort_by {
            None => {
                for _ in 0..count {
                    vals.push(self.val(elem)?);
                }
            }
            Some(key) => {
                // Elements are built in key order, not just listed in it:
                // where each child lands in the buffer must not depend on
                // the order a hash map iterates in.
                let mut spans = Vec::with_capacity(hint);
                for _ in 0..count {
                    let start = self.r.pos();
                    self.skip(elem)?;
                    spans.push((start, self.r.pos()));
                }
                let end = self.r.pos();
                let input = self.r.input();
                spans.sort_by(|a, b| compare_keys(layout, key, &input[a.0..a.1], &input[b.0..b.1]));
                for (start, stop) in spans {
                    self.r.seek(start);
                    vals.push(self.val(elem)?);
                    if self.r.pos() != stop {
                        return Err(self.bad());
                    }
                }
                self.r.seek(end);
            }
        }
        let size = layout
            .node(elem)
            .elem_size(layout)
            .ok_or_else(|| self.bad())?;
        self.room(count.saturating_mul(size).saturating_add(16))?;
        match layout.node(elem) {
            Node::Scalar(s) => Ok(scalar_vector(&mut self.fbb, *s, &vals)),
            Node::Enum(e) => Ok(scalar_vector(&mut self.fbb, layout.enums[*e].repr, &vals)),
            Node::Wide { .. } => {
                self.fbb.start_vector::<u64>(2 * vals.len());
                for val in vals.iter().rev() {
                    if let Val::Wide(lo, hi) = *val {
                        self.fbb.push(hi);
                        self.fbb.push(lo);
                    }
                }
                Ok(self.fbb.end_vector::<u64>(vals.len()).value())
            }
            _ => {
                let offsets: Vec<WIPOffset<UnionWIPOffset>> = vals
                    .iter()
                    .map(|val| match *val {
                        Val::Offset(o) => WIPOffset::new(o),
                        _ => WIPOffset::new(0),
                    })
                    .collect();
                Ok(self.fbb.create_vector(&offsets).value())
            }
        }
    }
}

fn push_scalar_slot(fbb: &mut FlatBufferBuilder<'static>, voff: u16, s: Scalar, bits: u64) {
    match s {
        Scalar::Bool => fbb.push_slot_always(voff, bits != 0),
        Scalar::U8 => fbb.push_slot_always(voff, bits as u8),
        Scalar::I8 => fbb.push_slot_always(voff, bits as i8),
        Scalar::U16 => fbb.push_slot_always(voff, bits as u16),
        Scalar::I16 => fbb.push_slot_always(voff, bits as i16),
        Scalar::U32 | Scalar::Char => fbb.push_slot_always(voff, bits as u32),
        Scalar::I32 => fbb.push_slot_always(voff, bits as i32),
        Scalar::U64 => fbb.push_slot_always(voff, bits),
        Scalar::I64 => fbb.push_slot_always(voff, bits as i64),
        Scalar::F32 => fbb.push_slot_always(voff, f32::from_bits(bits as u32)),
        Scalar::F64 => fbb.push_slot_always(voff, f64::from_bits(bits)),
    }
}

/// A vector of scalars, written back to front.
fn scalar_vector(fbb: &mut FlatBufferBuilder<'static>, s: Scalar, vals: &[Val]) -> u32 {
    let bits = vals.iter().rev().map(|val| match *val {
        Val::Scalar(_, bits) => bits,
        _ => 0,
    });
    macro_rules! write {
        ($t:ty, $conv:expr) => {{
            fbb.start_vector::<$t>(vals.len());
            for b in bits {
                fbb.push::<$t>($conv(b));
            }
            fbb.end_vector::<$t>(vals.len()).value()
        }};
    }
    match s {
        Scalar::Bool => write!(bool, |b: u64| b != 0),
        Scalar::U8 => write!(u8, |b: u64| b as u8),
        Scalar::I8 => write!(i8, |b: u64| b as i8),
        Scalar::U16 => write!(u16, |b: u64| b as u16),
        Scalar::I16 => write!(i16, |b: u64| b as i16),
        Scalar::U32 | Scalar::Char => write!(u32, |b: u64| b as u32),
        Scalar::I32 => write!(i32, |b: u64| b as i32),
        Scalar::U64 => write!(u64, |b: u64| b),
        Scalar::I64 => write!(i64, |b: u64| b as i64),
        Scalar::F32 => write!(f32, |b: u64| f32::from_bits(b as u32)),
        Scalar::F64 => write!(f64, |b: u64| f64::from_bits(b)),
    }
}
