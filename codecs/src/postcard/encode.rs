//! Walking a value through its plan and writing postcard bytes.
//!
//! Values are read straight from memory at the offsets the facet shape
//! records; containers are read through the vtables facet provides. Scalar
//! fields and elements are written inline by the loops over them; only
//! compound values recurse, each kind in a function of its own so a level
//! of nesting costs little stack even in debug builds.

use std::borrow::Cow;

use bytes::BytesMut;
use facet::{ListDef, MapDef, OptionDef, PtrConst, ResultDef, SetDef, Shape};

use super::SHARE_BYTES_AT;
use super::plan::{EnumPlan, Field, Node, NodeId, Plan, Scalar, Slot, StructPlan, Tag};
use super::wire::{Sink, zigzag_i64, zigzag_i128};
use crate::{EncodeError, PlanError};

pub(super) struct Encoder<'a> {
    plan: &'a Plan,
    out: Sink<'a>,
    /// Where large `Bytes` fields go instead of being copied, when the
    /// caller can send segments: each with the output length at which its
    /// bytes belong (after its length prefix).
    shared: Option<&'a mut Vec<(usize, bytes::Bytes)>>,
    depth_left: usize,
    max_depth: usize,
}

type Result<T = ()> = core::result::Result<T, EncodeError>;

fn unsupported(shape: &'static Shape, reason: &'static str) -> EncodeError {
    EncodeError::Unsupported(PlanError {
        codec: "postcard",
        type_path: shape.to_string(),
        reason,
    })
}

impl<'a> Encoder<'a> {
    /// An encoder appending to `out`; `Bytes` fields of at least
    /// [`SHARE_BYTES_AT`] bytes are listed in `shared` (by reference count)
    /// instead of copied, when given.
    pub(super) fn new(
        plan: &'a Plan,
        out: &'a mut BytesMut,
        shared: Option<&'a mut Vec<(usize, bytes::Bytes)>>,
        max_depth: usize,
    ) -> Self {
        Encoder {
            plan,
            out: Sink::new(out),
            shared,
            depth_left: max_depth,
            max_depth,
        }
    }

    /// Encodes the plan's root value.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live, initialized value of the plan's root type.
    pub(super) unsafe fn root(&mut self, ptr: *const u8) -> Result {
        // SAFETY: forwarded from the caller.
        unsafe { self.value(self.plan.root, ptr) }
    }

    #[inline]
    fn enter(&mut self, type_path: &'static str) -> Result {
        if self.depth_left == 0 {
            return Err(EncodeError::DepthLimitExceeded {
                limit: self.max_depth,
                type_path,
            });
        }
        self.depth_left -= 1;
        Ok(())
    }

    #[inline]
    fn leave(&mut self) {
        self.depth_left += 1;
    }

    /// # Safety
    ///
    /// `ptr` must point to a live value of the slot's type.
    #[inline]
    unsafe fn slot(&mut self, slot: &Slot, ptr: *const u8) -> Result {
        // SAFETY: forwarded from the caller.
        unsafe {
            match slot.leaf {
                Some(scalar) => {
                    self.scalar(scalar, ptr);
                    Ok(())
                }
                None => self.value(slot.node, ptr),
            }
        }
    }

    /// A `Bytes` field: its length prefix, then its bytes, copied, or
    /// when large and the caller takes segments, shared.
    fn bytes(&mut self, bytes: &bytes::Bytes) {
        match self.shared.as_deref_mut() {
            Some(shared) if bytes.len() >= SHARE_BYTES_AT => {
                self.out.put_varint_u64(bytes.len() as u64);
                shared.push((self.out.len(), bytes.clone()));
            }
            _ => self.out.put_bytes(bytes),
        }
    }

    /// # Safety
    ///
    /// `ptr` must point to a live, initialized value of node `id`'s type.
    unsafe fn value(&mut self, id: NodeId, ptr: *const u8) -> Result {
        let plan = self.plan;
        // SAFETY: each arm reads `ptr` as the exact type the plan compiled
        // for this node (checked by type id or by facet's shape), or hands
        // it to the function for that kind of node.
        unsafe {
            match plan.node(id) {
                Node::Unit => {}
                Node::Scalar(s) => self.scalar(*s, ptr),
                Node::String => self.out.put_bytes((*ptr.cast::<String>()).as_bytes()),
                Node::Str => self.out.put_bytes((*ptr.cast::<&str>()).as_bytes()),
                Node::CowStr => self.out.put_bytes((*ptr.cast::<Cow<'_, str>>()).as_bytes()),
                Node::VecU8 => self.out.put_bytes(&*ptr.cast::<Vec<u8>>()),
                Node::Bytes => self.bytes(&*ptr.cast::<bytes::Bytes>()),
                Node::BytesMut => self.out.put_bytes(&*ptr.cast::<BytesMut>()),
                Node::Struct(st) => self.structure(st, ptr)?,
                Node::Enum(en) => self.enumeration(en, ptr)?,
                Node::Option { def, inner } => self.option(def, inner, ptr)?,
                Node::Result { def, ok, err } => self.result(def, ok, err, ptr)?,
                Node::List { def, elem, shape } => self.list(def, elem, shape, ptr)?,
                Node::Array { len, elem } => self.array(*len, elem, ptr)?,
                Node::Map {
                    def,
                    key,
                    value,
                    shape,
                } => self.map(def, key, value, shape, ptr)?,
                Node::Set { def, elem, shape } => self.set(def, elem, shape, ptr)?,
                Node::Pointer {
                    def,
                    pointee,
                    shape,
                } => {
                    let Some(borrow) = def.vtable.borrow_fn else {
                        return Err(unsupported(shape, "pointer cannot be borrowed"));
                    };
                    self.slot(pointee, borrow(PtrConst::new(ptr)).as_byte_ptr())?;
                }
                Node::Pending => {
                    return Err(EncodeError::Codec {
                        codec: "postcard",
                        message: String::from("plan node was never compiled"),
                    });
                }
            }
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `base` must point to a live value that has these fields at these offsets.
    #[inline]
    unsafe fn fields(&mut self, fields: &[Field], base: *const u8) -> Result {
        for field in fields {
            // SAFETY: the offset comes from the shape of the value `base` points to.
            unsafe { self.slot(&field.slot, base.add(field.offset))? };
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live value of the struct `st` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn structure(&mut self, st: &StructPlan, ptr: *const u8) -> Result {
        self.enter(st.type_path)?;
        // SAFETY: forwarded from the caller.
        unsafe { self.fields(&st.fields, ptr)? };
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live value of the enum `en` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn enumeration(&mut self, en: &EnumPlan, ptr: *const u8) -> Result {
        self.enter(en.type_path)?;
        // SAFETY: forwarded from the caller.
        let index = unsafe { variant_index(en, ptr)? };
        self.out.put_varint_u64(index as u64);
        // SAFETY: the variant's field offsets are relative to the enum's start.
        unsafe { self.fields(&en.variants[index].fields, ptr)? };
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live `Option` that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn option(&mut self, def: &OptionDef, inner: &Slot, ptr: *const u8) -> Result {
        let at = PtrConst::new(ptr);
        // SAFETY: facet's option vtable for this very type.
        unsafe {
            if (def.vtable.is_some)(at) {
                self.enter("Option")?;
                self.out.put_u8(1);
                self.slot(inner, (def.vtable.get_value)(at))?;
                self.leave();
            } else {
                self.out.put_u8(0);
            }
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live `Result` that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn result(&mut self, def: &ResultDef, ok: &Slot, err: &Slot, ptr: *const u8) -> Result {
        let at = PtrConst::new(ptr);
        self.enter("Result")?;
        // SAFETY: facet's result vtable for this very type.
        unsafe {
            if (def.vtable.is_ok)(at) {
                self.out.put_u8(0);
                self.slot(ok, (def.vtable.get_ok)(at))?;
            } else {
                self.out.put_u8(1);
                self.slot(err, (def.vtable.get_err)(at))?;
            }
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live list that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn list(
        &mut self,
        def: &ListDef,
        elem: &Slot,
        shape: &'static Shape,
        ptr: *const u8,
    ) -> Result {
        let at = PtrConst::new(ptr);
        self.enter(shape.type_identifier)?;
        // SAFETY: facet's list vtable for this very type; elements are
        // contiguous with a stride of the element size.
        unsafe {
            let len = (def.vtable.len)(at);
            self.out.put_varint_u64(len as u64);
            if let Some(as_ptr) = def.vtable.as_ptr {
                let base = as_ptr(at).as_byte_ptr();
                match elem.leaf {
                    Some(scalar) => {
                        for i in 0..len {
                            self.scalar(scalar, base.add(i * elem.size));
                        }
                    }
                    None => {
                        for i in 0..len {
                            self.value(elem.node, base.add(i * elem.size))?;
                        }
                    }
                }
            } else if let Some(iter) = def.iter_vtable() {
                self.iterate(iter, at, |enc, item| enc.slot(elem, item.as_byte_ptr()))?;
            } else {
                return Err(unsupported(shape, "list type cannot be read"));
            }
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live `[T; len]` whose `T` is the slot's type.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn array(&mut self, len: usize, elem: &Slot, ptr: *const u8) -> Result {
        self.enter("array")?;
        for i in 0..len {
            // SAFETY: array elements are contiguous with a stride of the element size.
            unsafe { self.slot(elem, ptr.add(i * elem.size))? };
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live map that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn map(
        &mut self,
        def: &MapDef,
        key: &Slot,
        value: &Slot,
        shape: &'static Shape,
        ptr: *const u8,
    ) -> Result {
        let at = PtrConst::new(ptr);
        self.enter(shape.type_identifier)?;
        let vt = &def.vtable.iter_vtable;
        let Some(init) = vt.init_with_value else {
            return Err(unsupported(shape, "map type cannot be iterated"));
        };
        // SAFETY: the iterator is made from, used with and freed by the
        // vtable of the map `at` points to, which outlives this call.
        unsafe {
            self.out.put_varint_u64((def.vtable.len)(at) as u64);
            let iter = init(at);
            let mut result = Ok(());
            while let Some((k, v)) = (vt.next)(iter) {
                result = self
                    .slot(key, k.as_byte_ptr())
                    .and_then(|()| self.slot(value, v.as_byte_ptr()));
                if result.is_err() {
                    break;
                }
            }
            (vt.dealloc)(iter);
            result?;
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `ptr` must point to a live set that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn set(
        &mut self,
        def: &SetDef,
        elem: &Slot,
        shape: &'static Shape,
        ptr: *const u8,
    ) -> Result {
        let at = PtrConst::new(ptr);
        self.enter(shape.type_identifier)?;
        // SAFETY: facet's set vtable for this very type.
        unsafe {
            self.out.put_varint_u64((def.vtable.len)(at) as u64);
            self.iterate(&def.vtable.iter_vtable, at, |enc, item| {
                enc.slot(elem, item.as_byte_ptr())
            })?;
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `at` must point to a live value that `iter` was made for.
    unsafe fn iterate(
        &mut self,
        iter: &facet::IterVTable<PtrConst>,
        at: PtrConst,
        mut each: impl FnMut(&mut Self, PtrConst) -> Result,
    ) -> Result {
        let Some(init) = iter.init_with_value else {
            return Err(EncodeError::Codec {
                codec: "postcard",
                message: String::from("collection cannot be iterated"),
            });
        };
        // SAFETY: the iterator is created from, used on and freed with the
        // vtable of the collection `at` points to, which outlives this call.
        unsafe {
            let state = init(at);
            let mut result = Ok(());
            while let Some(item) = (iter.next)(state) {
                result = each(self, item);
                if result.is_err() {
                    break;
                }
            }
            (iter.dealloc)(state);
            result
        }
    }

    /// # Safety
    ///
    /// `ptr` must point to a live value of the scalar's type.
    #[inline]
    unsafe fn scalar(&mut self, scalar: Scalar, ptr: *const u8) {
        let out = &mut self.out;
        // SAFETY: the plan chose `scalar` from this value's type id.
        unsafe {
            match scalar {
                Scalar::Bool => out.put_u8(u8::from(*ptr.cast::<bool>())),
                Scalar::U8 | Scalar::I8 => out.put_u8(*ptr),
                Scalar::U16 => out.put_varint_u64(u64::from(*ptr.cast::<u16>())),
                Scalar::U32 => out.put_varint_u64(u64::from(*ptr.cast::<u32>())),
                Scalar::U64 => out.put_varint_u64(*ptr.cast::<u64>()),
                Scalar::Usize => out.put_varint_u64(*ptr.cast::<usize>() as u64),
                Scalar::U128 => out.put_varint_u128(*ptr.cast::<u128>()),
                Scalar::I16 => out.put_varint_u64(zigzag_i64(i64::from(*ptr.cast::<i16>()))),
                Scalar::I32 => out.put_varint_u64(zigzag_i64(i64::from(*ptr.cast::<i32>()))),
                Scalar::I64 => out.put_varint_u64(zigzag_i64(*ptr.cast::<i64>())),
                Scalar::Isize => out.put_varint_u64(zigzag_i64(*ptr.cast::<isize>() as i64)),
                Scalar::I128 => out.put_varint_u128(zigzag_i128(*ptr.cast::<i128>())),
                Scalar::F32 => out.put_slice(&(*ptr.cast::<f32>()).to_le_bytes()),
                Scalar::F64 => out.put_slice(&(*ptr.cast::<f64>()).to_le_bytes()),
                Scalar::Char => {
                    let mut utf8 = [0u8; 4];
                    out.put_bytes((*ptr.cast::<char>()).encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
    }
}

/// Reads an enum's discriminant and finds the variant's wire index.
///
/// # Safety
///
/// `ptr` must point to a live value of the enum `en` describes.
unsafe fn variant_index(en: &EnumPlan, ptr: *const u8) -> Result<usize> {
    // SAFETY: an enum with an explicit integer repr stores its discriminant
    // at offset 0 with that integer's width.
    let discriminant = unsafe { read_tag(en.tag, ptr) };
    en.variants
        .iter()
        .position(|v| v.discriminant == discriminant)
        .ok_or_else(|| EncodeError::Codec {
            codec: "postcard",
            message: format!(
                "`{}` holds a discriminant no variant declares",
                en.type_path
            ),
        })
}

/// # Safety
///
/// `ptr` must point to an enum whose discriminant is a `tag` at offset 0.
unsafe fn read_tag(tag: Tag, ptr: *const u8) -> i64 {
    // SAFETY: forwarded from the caller; enum values are aligned for their tag.
    unsafe {
        match tag {
            Tag::U8 => i64::from(*ptr),
            Tag::U16 => i64::from(*ptr.cast::<u16>()),
            Tag::U32 => i64::from(*ptr.cast::<u32>()),
            Tag::U64 => *ptr.cast::<u64>() as i64,
            Tag::I8 => i64::from(*ptr.cast::<i8>()),
            Tag::I16 => i64::from(*ptr.cast::<i16>()),
            Tag::I32 => i64::from(*ptr.cast::<i32>()),
            Tag::I64 => *ptr.cast::<i64>(),
        }
    }
}
