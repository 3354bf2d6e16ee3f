//! Verified views: read strings, bytes and scalars in place, by field name.

use core::fmt;
use core::marker::PhantomData;

use facet::Facet;

use super::decode::Walker;
use super::layout::{Field, Layout, Node, NodeId, Scalar, TableId};
use super::pc::Count;
use super::read::{Buf, TableRef};
use super::verify::verify;
use crate::{DecodeError, Limits, Payload};

/// A verified FlatBuffers message that owns its [`Payload`] and reads
/// fields in place: strings and byte vectors are borrowed from the buffer.
///
/// Creating the view verifies the buffer with the FlatBuffers verifier and
/// checks every value the owned decode would check (bools, chars, enum and
/// union indices, required fields, depth, trailing bytes), so a view exists
/// only for a buffer that [`FlatView::to_owned`] can decode, except for
/// checks the Rust type itself makes (its declared invariants).
///
/// Fields are looked up by name on the root table; a root that is not a
/// table (an integer, a string, a vector, an enum) is wrapped in a table
/// whose one field is `value`. Accessors return `None` when the field is
/// absent (an option that is `None`), when no field has that name, or when
/// the field is of another kind.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_codecs::flatbuffers::{self, FlatView};
/// use prism_codecs::{Limits, Payload};
///
/// #[derive(Facet, Debug, PartialEq)]
/// struct Upload {
///     id: u64,
///     name: String,
///     body: Vec<u8>,
///     note: Option<String>,
/// }
///
/// let msg = Upload { id: 7, name: "a.txt".into(), body: vec![1, 2, 3], note: None };
/// let payload = Payload::copy_from_slice(&flatbuffers::to_vec(&msg)?);
/// let view = FlatView::<Upload>::new(payload, &Limits::default())?;
/// assert_eq!(view.str("name"), Some("a.txt"));
/// assert_eq!(view.bytes("body"), Some(&[1u8, 2, 3][..]));
/// assert_eq!(view.scalar::<u64>("id"), Some(7));
/// assert_eq!(view.str("note"), None);
/// assert_eq!(view.to_owned()?, msg);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FlatView<T> {
    payload: Payload,
    layout: &'static Layout,
    root: usize,
    limits: Limits,
    _type: PhantomData<fn() -> T>,
}

impl<T: Facet<'static>> FlatView<T> {
    /// Verifies `payload` as an encoding of `T` and wraps it.
    ///
    /// # Errors
    ///
    /// Whatever [`from_slice_with`](super::from_slice_with) would fail with
    /// before building the value.
    pub fn new(payload: Payload, limits: &Limits) -> Result<Self, DecodeError> {
        let layout = Layout::for_shape(T::SHAPE)?;
        verify(layout, &payload, limits)?;
        Walker::new(layout, &payload, Count::default(), limits).run()?;
        let root = Buf(&payload).follow(0)?;
        Ok(FlatView {
            payload,
            layout,
            root,
            limits: *limits,
            _type: PhantomData,
        })
    }

    /// Decodes the viewed message into an owned `T`.
    ///
    /// # Errors
    ///
    /// Fails only when the type rejects the value (its declared invariants)
    /// or the decode breaks the limits the view was made with.
    pub fn to_owned(&self) -> Result<T, DecodeError> {
        super::decode_verified(self.layout, &self.payload, &self.limits)
    }
}

impl<T> FlatView<T> {
    /// The root table.
    pub fn root(&self) -> FlatTableRef<'_> {
        FlatTableRef {
            buf: &self.payload,
            layout: self.layout,
            table: self.layout.root,
            pos: self.root,
        }
    }

    /// The string field `name` of the root table, borrowed from the buffer.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.root().str(name)
    }

    /// The byte-vector field `name` of the root table, borrowed from the buffer.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.root().bytes(name)
    }

    /// The scalar field `name` of the root table. A scalar that is not an
    /// option reads as its default (zero) when absent, as FlatBuffers does.
    pub fn scalar<S: FlatScalar>(&self, name: &str) -> Option<S> {
        self.root().scalar(name)
    }

    /// The sub-table field `name` of the root table.
    pub fn table(&self, name: &str) -> Option<FlatTableRef<'_>> {
        self.root().table(name)
    }

    /// The enum (union) field `name` of the root table: the variant's name
    /// and its table.
    pub fn variant(&self, name: &str) -> Option<(&'static str, FlatTableRef<'_>)> {
        self.root().variant(name)
    }

    /// The verified bytes.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Gives the payload back.
    pub fn into_payload(self) -> Payload {
        self.payload
    }
}

impl<T> fmt::Debug for FlatView<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlatView")
            .field("type", &self.layout.type_path)
            .field("len", &self.payload.len())
            .finish()
    }
}

/// A table inside a verified [`FlatView`]: the same accessors, one level down.
#[derive(Clone, Copy)]
pub struct FlatTableRef<'a> {
    buf: &'a [u8],
    layout: &'static Layout,
    table: TableId,
    pos: usize,
}

impl<'a> FlatTableRef<'a> {
    /// The FlatBuffers name of this table's type, as in the exported `.fbs`.
    pub fn type_name(&self) -> &'static str {
        &self.layout.tables[self.table].name
    }

    /// The names of this table's fields, in slot order.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + use<> {
        let layout: &'static Layout = self.layout;
        layout.tables[self.table]
            .fields
            .iter()
            .map(|f| f.name.as_str())
    }

    fn tref(&self) -> Option<TableRef> {
        Buf(self.buf).table(self.pos).ok()
    }

    /// The field, its node with any option unwrapped, and where its inline
    /// part sits when present.
    fn locate(&self, name: &str) -> Option<(&'static Field, NodeId, Option<usize>)> {
        let layout: &'static Layout = self.layout;
        let field = layout.tables[self.table].field(name)?;
        let node = match layout.node(field.node) {
            Node::Option(inner) => *inner,
            _ => field.node,
        };
        let at = Buf(self.buf).field(&self.tref()?, field.voffset()).ok()?;
        Some((field, node, at))
    }

    /// The string field `name`, borrowed from the buffer.
    pub fn str(&self, name: &str) -> Option<&'a str> {
        let (_, node, at) = self.locate(name)?;
        if !matches!(self.layout.node(node), Node::String) {
            return None;
        }
        let buf = Buf(self.buf);
        let bytes = buf.bytes(buf.follow(at?).ok()?).ok()?;
        core::str::from_utf8(bytes).ok()
    }

    /// The byte-vector field `name`, borrowed from the buffer.
    pub fn bytes(&self, name: &str) -> Option<&'a [u8]> {
        let (_, node, at) = self.locate(name)?;
        let layout = self.layout;
        let is_bytes = match layout.node(node) {
            Node::Bytes => true,
            // `[u8; N]` is a vector of `ubyte` too.
            Node::Vector { elem, .. } => matches!(layout.node(*elem), Node::Scalar(Scalar::U8)),
            _ => false,
        };
        if !is_bytes {
            return None;
        }
        let buf = Buf(self.buf);
        buf.bytes(buf.follow(at?).ok()?).ok()
    }

    /// The scalar field `name`. A scalar that is not an option reads as its
    /// default (zero) when absent, as FlatBuffers does.
    pub fn scalar<S: FlatScalar>(&self, name: &str) -> Option<S> {
        let (field, node, at) = self.locate(name)?;
        let Node::Scalar(kind) = *self.layout.node(node) else {
            return None;
        };
        if kind.tag() != S::TAG {
            return None;
        }
        let bits = match at {
            Some(at) => Buf(self.buf).scalar_at(at, kind.size()).ok()?,
            None if matches!(self.layout.node(field.node), Node::Option(_)) => return None,
            None => 0,
        };
        S::from_bits(bits)
    }

    /// The sub-table field `name`.
    pub fn table(&self, name: &str) -> Option<FlatTableRef<'a>> {
        let (_, node, at) = self.locate(name)?;
        let Node::Table(table) = *self.layout.node(node) else {
            return None;
        };
        Some(FlatTableRef {
            buf: self.buf,
            layout: self.layout,
            table,
            pos: Buf(self.buf).follow(at?).ok()?,
        })
    }

    /// The enum field `name` (a union): the variant's name and its table,
    /// whose fields are the variant's (`f0`, `f1`, … for tuple variants).
    pub fn variant(&self, name: &str) -> Option<(&'static str, FlatTableRef<'a>)> {
        let (field, node, type_at) = self.locate(name)?;
        let layout: &'static Layout = self.layout;
        let Node::Union(u) = *layout.node(node) else {
            return None;
        };
        let buf = Buf(self.buf);
        let ty = buf.u8_at(type_at?).ok()?;
        let (variant, table) = layout.unions[u]
            .variants
            .get(usize::from(ty).checked_sub(1)?)?;
        let value_at = buf.field(&self.tref()?, field.voffset() + 2).ok()??;
        Some((
            variant.as_str(),
            FlatTableRef {
                buf: self.buf,
                layout,
                table: *table,
                pos: buf.follow(value_at).ok()?,
            },
        ))
    }
}

impl fmt::Debug for FlatTableRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlatTableRef")
            .field("type", &self.type_name())
            .field("pos", &self.pos)
            .finish()
    }
}

mod sealed {
    pub trait Sealed: Sized {
        /// The scalar kind, as [`Scalar::tag`](super::Scalar::tag) numbers it.
        const TAG: u8;
        fn from_bits(bits: u64) -> Option<Self>;
    }
}

/// A scalar a [`FlatView`] can read: `bool`, the integers up to 64 bits,
/// `f32`, `f64` and `char`. (`usize`/`isize` fields read as `u64`/`i64`.)
///
/// Sealed: implemented for exactly these types.
pub trait FlatScalar: sealed::Sealed {}

macro_rules! flat_scalar {
    ($($t:ty => $kind:ident, |$b:ident| $conv:expr;)*) => {$(
        impl sealed::Sealed for $t {
            const TAG: u8 = Scalar::$kind.tag();
            fn from_bits($b: u64) -> Option<Self> {
                $conv
            }
        }
        impl FlatScalar for $t {}
    )*};
}

flat_scalar! {
    bool => Bool, |b| match b { 0 => Some(false), 1 => Some(true), _ => None };
    u8 => U8, |b| Some(b as u8);
    i8 => I8, |b| Some(b as u8 as i8);
    u16 => U16, |b| Some(b as u16);
    i16 => I16, |b| Some(b as u16 as i16);
    u32 => U32, |b| Some(b as u32);
    i32 => I32, |b| Some(b as u32 as i32);
    u64 => U64, |b| Some(b);
    i64 => I64, |b| Some(b as i64);
    f32 => F32, |b| Some(f32::from_bits(b as u32));
    f64 => F64, |b| Some(f64::from_bits(b));
    char => Char, |b| char::from_u32(b as u32);
}
