//! Reading postcard bytes through a plan and building the value in place.
//!
//! Every function here either fully initializes its destination and returns
//! `Ok`, or leaves it uninitialized (dropping whatever it had built) and
//! returns `Err`. No input makes it panic: every length is checked against
//! the input left, nesting against the depth limit, and allocation against
//! the budget.

use std::borrow::Cow;

use bytes::Bytes;
use bytes::BytesMut;
use facet::{ListDef, MapDef, OptionDef, PtrConst, PtrMut, PtrUninit, ResultDef, SetDef, Shape};

use super::plan::{EnumPlan, Field, Node, NodeId, Plan, Scalar, Skipped, Slot, StructPlan, Tag};
use super::scratch::with_scratch;
use super::wire::{Reader, unzigzag_i64, unzigzag_i128};
use crate::{DecodeError, Limits, PlanError};

type Result<T = ()> = core::result::Result<T, DecodeError>;

/// A `Bytes` field this long or longer, and at least half its message, is
/// a slice of the received payload instead of a copy (see
/// [`from_bytes`](super::from_bytes)): half a stream link's 64 KiB receive
/// buffer, so a kept field never holds more than twice its size.
pub const SHARE_BYTES_AT: usize = 32 * 1024;

/// Lists whose elements take no wire bytes (`Vec<()>`) are capped, since no
/// input length bounds them.
const MAX_ZERO_WIRE_LEN: usize = 1 << 20;

pub(super) struct Decoder<'a> {
    plan: &'a Plan,
    r: Reader<'a>,
    /// The input as shared bytes, when it has one: `Bytes` fields become
    /// slices of it instead of copies.
    src: Option<&'a Bytes>,
    depth_left: usize,
    max_depth: usize,
    budget_left: usize,
    max_alloc: usize,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(
        plan: &'a Plan,
        input: &'a [u8],
        src: Option<&'a Bytes>,
        limits: &Limits,
    ) -> Self {
        Decoder {
            plan,
            r: Reader::new(input),
            src,
            depth_left: limits.max_depth(),
            max_depth: limits.max_depth(),
            budget_left: limits.max_alloc(),
            max_alloc: limits.max_alloc(),
        }
    }

    pub(super) fn remaining(&self) -> usize {
        self.r.remaining()
    }

    /// Decodes the plan's root value into `dst`.
    ///
    /// # Safety
    ///
    /// `dst` must be valid for writes of the root type and aligned for it.
    pub(super) unsafe fn root(&mut self, dst: *mut u8) -> Result {
        // SAFETY: forwarded from the caller.
        unsafe { self.value(self.plan.root, dst) }
    }

    fn enter(&mut self) -> Result {
        if self.depth_left == 0 {
            return Err(DecodeError::DepthLimitExceeded {
                limit: self.max_depth,
                at: self.r.pos(),
            });
        }
        self.depth_left -= 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth_left += 1;
    }

    #[inline]
    fn charge(&mut self, bytes: usize) -> Result {
        match self.budget_left.checked_sub(bytes) {
            Some(left) => {
                self.budget_left = left;
                Ok(())
            }
            None => Err(DecodeError::AllocLimitExceeded {
                limit: self.max_alloc,
                at: self.r.pos(),
            }),
        }
    }

    #[inline]
    fn bytes(&mut self, type_path: &'static str) -> Result<&'a [u8]> {
        let len = self.r.len(1, type_path)?;
        self.charge(len)?;
        self.r.take(len, type_path)
    }

    #[inline]
    fn str(&mut self, type_path: &'static str) -> Result<&'a str> {
        let at = self.r.pos();
        let bytes = self.bytes(type_path)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { at })
    }

    /// The number of elements of a collection whose elements each take at
    /// least `min_each` wire bytes and `size` bytes in memory.
    fn collection_len(
        &mut self,
        min_each: usize,
        size: usize,
        type_path: &'static str,
    ) -> Result<usize> {
        let at = self.r.pos();
        let len = self.r.len(min_each, type_path)?;
        if min_each == 0 && len > MAX_ZERO_WIRE_LEN {
            return Err(DecodeError::LengthOutOfBounds {
                len: len as u64,
                remaining: self.r.remaining(),
                at,
                type_path,
            });
        }
        self.charge(len.saturating_mul(size.max(1)))?;
        Ok(len)
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the slot's type and aligned for it.
    /// On `Ok` it holds a value; on `Err` it holds nothing that needs dropping.
    #[inline]
    unsafe fn slot(&mut self, slot: &Slot, dst: *mut u8) -> Result {
        // SAFETY: forwarded from the caller.
        unsafe {
            match slot.leaf {
                Some(scalar) => self.scalar(scalar, dst),
                None => self.value(slot.node, dst),
            }
        }
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of node `id`'s type and aligned for it.
    /// On `Ok` it holds a value; on `Err` it holds nothing that needs dropping.
    unsafe fn value(&mut self, id: NodeId, dst: *mut u8) -> Result {
        let plan = self.plan;
        // SAFETY: each arm writes `dst` as the exact type the plan compiled
        // for this node (checked by type id or by facet's shape), or hands it
        // to the function for that kind of node.
        unsafe {
            match plan.node(id) {
                Node::Unit => {}
                Node::Scalar(s) => self.scalar(*s, dst)?,
                Node::String => {
                    let s = self.str("String")?;
                    dst.cast::<String>().write(String::from(s));
                }
                Node::CowStr => {
                    let s = self.str("Cow<str>")?;
                    dst.cast::<Cow<'static, str>>()
                        .write(Cow::Owned(String::from(s)));
                }
                Node::Str => {
                    return Err(PlanError {
                        codec: "postcard",
                        type_path: String::from("&str"),
                        reason: "a borrowed string cannot be decoded into an owned value; use String",
                    }
                    .into());
                }
                Node::VecU8 => {
                    let b = self.bytes("Vec<u8>")?;
                    dst.cast::<Vec<u8>>().write(b.to_vec());
                }
                Node::Bytes => {
                    let b = self.bytes("Bytes")?;
                    let value = match self.src {
                        Some(src) if b.len() >= SHARE_BYTES_AT && b.len() * 2 >= src.len() => {
                            src.slice_ref(b)
                        }
                        _ => Bytes::copy_from_slice(b),
                    };
                    dst.cast::<Bytes>().write(value);
                }
                Node::BytesMut => {
                    let b = self.bytes("BytesMut")?;
                    dst.cast::<BytesMut>().write(BytesMut::from(b));
                }
                Node::Struct(st) => self.structure(st, dst)?,
                Node::Enum(en) => self.enumeration(en, dst)?,
                Node::Option { def, inner } => self.option(def, inner, dst)?,
                Node::Result { def, ok, err } => self.result(def, ok, err, dst)?,
                Node::List { def, elem, shape } => self.list(def, elem, shape, dst)?,
                Node::Array { len, elem } => self.array(*len, elem, dst)?,
                Node::Map {
                    def,
                    key,
                    value,
                    shape,
                } => self.map(def, key, value, shape, dst)?,
                Node::Set { def, elem, shape } => self.set(def, elem, shape, dst)?,
                Node::Pointer {
                    def,
                    pointee,
                    shape,
                } => {
                    let Some(new_into) = def.vtable.new_into_fn else {
                        return Err(cannot_build(shape).into());
                    };
                    self.boxed(pointee, |value| {
                        new_into(PtrUninit::new(dst), PtrMut::new(value));
                    })?;
                }
                Node::Pending => {
                    return Err(DecodeError::Codec {
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
    /// `dst` must be valid for writes of the struct `st` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn structure(&mut self, st: &StructPlan, dst: *mut u8) -> Result {
        self.enter()?;
        // SAFETY: forwarded from the caller.
        unsafe {
            self.fields(&st.fields, &st.skipped, dst)?;
            check_invariants(st.invariants, st.type_path, dst, self.r.pos())?;
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the enum `en` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn enumeration(&mut self, en: &EnumPlan, dst: *mut u8) -> Result {
        self.enter()?;
        let at = self.r.pos();
        let index = self.r.varint(32, en.type_path)?;
        let Some(variant) = en.variants.get(index as usize) else {
            return Err(DecodeError::UnknownVariant {
                index,
                at,
                type_path: en.type_path,
            });
        };
        // SAFETY: the variant's field offsets are relative to the enum's
        // start, and its tag is written once the fields are in place.
        unsafe {
            self.fields(&variant.fields, &variant.skipped, dst)?;
            write_tag(en.tag, dst, variant.discriminant);
            check_invariants(en.invariants, en.type_path, dst, self.r.pos())?;
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the `Option` that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn option(&mut self, def: &OptionDef, inner: &Slot, dst: *mut u8) -> Result {
        let at = self.r.pos();
        // SAFETY: facet's option vtable for this very type; `init_some`
        // moves the decoded value out of the scratch storage.
        unsafe {
            match self.r.byte("Option")? {
                0 => {
                    (def.vtable.init_none)(PtrUninit::new(dst));
                }
                1 => {
                    self.enter()?;
                    self.boxed(inner, |value| {
                        (def.vtable.init_some)(PtrUninit::new(dst), PtrMut::new(value));
                    })?;
                    self.leave();
                }
                _ => {
                    return Err(DecodeError::InvalidValue {
                        at,
                        type_path: "Option",
                        what: "option tag is neither 0 nor 1",
                    });
                }
            }
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the `Result` that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn result(&mut self, def: &ResultDef, ok: &Slot, err: &Slot, dst: *mut u8) -> Result {
        let at = self.r.pos();
        self.enter()?;
        // SAFETY: facet's result vtable for this very type; `init_ok` and
        // `init_err` move the decoded value out of the scratch storage.
        unsafe {
            match self.r.varint(32, "Result")? {
                0 => self.boxed(ok, |value| {
                    (def.vtable.init_ok)(PtrUninit::new(dst), PtrMut::new(value));
                })?,
                1 => self.boxed(err, |value| {
                    (def.vtable.init_err)(PtrUninit::new(dst), PtrMut::new(value));
                })?,
                index => {
                    return Err(DecodeError::UnknownVariant {
                        index,
                        at,
                        type_path: "Result",
                    });
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the list that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn list(
        &mut self,
        def: &ListDef,
        elem: &Slot,
        shape: &'static Shape,
        dst: *mut u8,
    ) -> Result {
        self.enter()?;
        let min_each = self.plan.min_wire[elem.node as usize];
        let len = self.collection_len(min_each, elem.size, shape.type_identifier)?;
        let init = def
            .init_in_place_with_capacity()
            .ok_or_else(|| cannot_build(shape))?;
        // SAFETY: facet's list vtable for this very type. The list is made
        // with capacity `len`, so its buffer never moves while it is filled;
        // on error its length is set to the elements built, and it is dropped.
        unsafe {
            let list = init(PtrUninit::new(dst), len);
            match (def.as_mut_ptr_typed(), def.set_len()) {
                (Some(as_mut_ptr), Some(set_len)) => {
                    let base = as_mut_ptr(list);
                    for i in 0..len {
                        if let Err(e) = self.slot(elem, base.add(i * elem.size)) {
                            set_len(list, i);
                            drop_value(shape, dst);
                            return Err(e);
                        }
                    }
                    set_len(list, len);
                }
                _ => {
                    let Some(push) = def.push() else {
                        drop_value(shape, dst);
                        return Err(cannot_build(shape).into());
                    };
                    for _ in 0..len {
                        if let Err(e) = self.boxed(elem, |value| push(list, PtrMut::new(value))) {
                            drop_value(shape, dst);
                            return Err(e);
                        }
                    }
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of `[T; len]` where `T` is the slot's type.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn array(&mut self, len: usize, elem: &Slot, dst: *mut u8) -> Result {
        self.enter()?;
        for i in 0..len {
            // SAFETY: array elements are contiguous with a stride of the
            // element size; on error the elements built so far are dropped.
            unsafe {
                if let Err(e) = self.slot(elem, dst.add(i * elem.size)) {
                    for j in 0..i {
                        self.drop_slot(elem, dst.add(j * elem.size));
                    }
                    return Err(e);
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the map that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn map(
        &mut self,
        def: &MapDef,
        key: &Slot,
        value: &Slot,
        shape: &'static Shape,
        dst: *mut u8,
    ) -> Result {
        self.enter()?;
        let min_each = self.plan.min_wire[key.node as usize]
            .saturating_add(self.plan.min_wire[value.node as usize]);
        let len = self.collection_len(min_each, key.size + value.size, shape.type_identifier)?;
        // SAFETY: facet's map vtable for this very type; `insert` moves the
        // key and value out of their scratch storage; on error the key built
        // so far and the map are dropped.
        unsafe {
            let map = (def.vtable.init_in_place_with_capacity)(PtrUninit::new(dst), len);
            for _ in 0..len {
                let entry = with_scratch(key.size, key.align, |k| {
                    self.slot(key, k)?;
                    let entry = with_scratch(value.size, value.align, |v| {
                        self.slot(value, v)?;
                        (def.vtable.insert)(map, PtrMut::new(k), PtrMut::new(v));
                        Ok(())
                    });
                    if entry.is_err() {
                        self.drop_slot(key, k);
                    }
                    entry
                });
                if let Err(e) = entry {
                    drop_value(shape, dst);
                    return Err(e);
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the set that `def` describes.
    #[cfg_attr(debug_assertions, inline(never))]
    unsafe fn set(
        &mut self,
        def: &SetDef,
        elem: &Slot,
        shape: &'static Shape,
        dst: *mut u8,
    ) -> Result {
        self.enter()?;
        let min_each = self.plan.min_wire[elem.node as usize];
        let len = self.collection_len(min_each, elem.size, shape.type_identifier)?;
        // SAFETY: facet's set vtable for this very type; `insert` moves the
        // element out of its scratch storage; on error the set is dropped.
        unsafe {
            let set = (def.vtable.init_in_place_with_capacity)(PtrUninit::new(dst), len);
            for _ in 0..len {
                let inserted = self.boxed(elem, |v| {
                    (def.vtable.insert)(set, PtrMut::new(v));
                });
                if let Err(e) = inserted {
                    drop_value(shape, dst);
                    return Err(e);
                }
            }
        }
        self.leave();
        Ok(())
    }

    /// Drops a decoded value of `slot`'s type in place.
    ///
    /// # Safety
    ///
    /// `ptr` must hold a live value of the slot's type, not used again.
    unsafe fn drop_slot(&self, slot: &Slot, ptr: *mut u8) {
        // SAFETY: forwarded from the caller. facet gives `Bytes` and
        // `BytesMut` no drop glue of their own, so they are dropped by type.
        unsafe {
            match self.plan.node(slot.node) {
                Node::Bytes => core::ptr::drop_in_place(ptr.cast::<Bytes>()),
                Node::BytesMut => core::ptr::drop_in_place(ptr.cast::<BytesMut>()),
                _ => drop_value(slot.shape, ptr),
            }
        }
    }

    /// Decodes one value of `slot` into scratch storage and hands it to
    /// `consume`, which must move it out.
    ///
    /// # Safety
    ///
    /// `consume` must take ownership of the value behind the pointer.
    unsafe fn boxed<R>(&mut self, slot: &Slot, consume: impl FnOnce(*mut u8) -> R) -> Result<R> {
        with_scratch(slot.size, slot.align, |tmp| {
            // SAFETY: `tmp` is fresh storage sized and aligned for the slot's type.
            unsafe { self.slot(slot, tmp) }.map(|()| consume(tmp))
        })
    }

    /// Decodes wire fields in order, then fills skipped fields with defaults.
    ///
    /// # Safety
    ///
    /// `base` must be valid for writes of the type these fields belong to.
    #[inline]
    unsafe fn fields(&mut self, fields: &[Field], skipped: &[Skipped], base: *mut u8) -> Result {
        for (i, field) in fields.iter().enumerate() {
            // SAFETY: the offset comes from the shape of the type at `base`.
            if let Err(e) = unsafe { self.slot(&field.slot, base.add(field.offset)) } {
                for done in &fields[..i] {
                    // SAFETY: fields before `i` were initialized above.
                    unsafe { self.drop_slot(&done.slot, base.add(done.offset)) };
                }
                return Err(e);
            }
        }
        for field in skipped {
            // SAFETY: the plan only admits skipped fields that have a default.
            unsafe {
                let at = PtrUninit::new(base.add(field.offset));
                match field.custom {
                    Some(default) => {
                        default(at);
                    }
                    None => {
                        field.shape.call_default_in_place(at);
                    }
                }
            }
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `dst` must be valid for writes of the scalar's type.
    #[inline]
    unsafe fn scalar(&mut self, scalar: Scalar, dst: *mut u8) -> Result {
        let r = &mut self.r;
        let at = r.pos();
        // SAFETY: the plan chose `scalar` from the destination's type id.
        unsafe {
            match scalar {
                Scalar::Bool => match r.byte("bool")? {
                    0 => dst.cast::<bool>().write(false),
                    1 => dst.cast::<bool>().write(true),
                    _ => {
                        return Err(DecodeError::InvalidValue {
                            at,
                            type_path: "bool",
                            what: "a bool is neither 0 nor 1",
                        });
                    }
                },
                Scalar::U8 => dst.write(r.byte("u8")?),
                Scalar::I8 => dst.cast::<i8>().write(r.byte("i8")? as i8),
                Scalar::U16 => dst.cast::<u16>().write(r.varint(16, "u16")? as u16),
                Scalar::U32 => dst.cast::<u32>().write(r.varint(32, "u32")? as u32),
                Scalar::U64 => dst.cast::<u64>().write(r.varint(64, "u64")?),
                Scalar::Usize => {
                    let v = r.varint(64, "usize")?;
                    let v = usize::try_from(v).map_err(|_| DecodeError::InvalidValue {
                        at,
                        type_path: "usize",
                        what: "value does not fit this platform's usize",
                    })?;
                    dst.cast::<usize>().write(v);
                }
                Scalar::U128 => dst.cast::<u128>().write(r.varint_u128("u128")?),
                Scalar::I16 => dst
                    .cast::<i16>()
                    .write(unzigzag_i64(r.varint(16, "i16")?) as i16),
                Scalar::I32 => dst
                    .cast::<i32>()
                    .write(unzigzag_i64(r.varint(32, "i32")?) as i32),
                Scalar::I64 => dst.cast::<i64>().write(unzigzag_i64(r.varint(64, "i64")?)),
                Scalar::Isize => {
                    let v = unzigzag_i64(r.varint(64, "isize")?);
                    let v = isize::try_from(v).map_err(|_| DecodeError::InvalidValue {
                        at,
                        type_path: "isize",
                        what: "value does not fit this platform's isize",
                    })?;
                    dst.cast::<isize>().write(v);
                }
                Scalar::I128 => dst
                    .cast::<i128>()
                    .write(unzigzag_i128(r.varint_u128("i128")?)),
                Scalar::F32 => dst.cast::<f32>().write(f32::from_le_bytes(r.array("f32")?)),
                Scalar::F64 => dst.cast::<f64>().write(f64::from_le_bytes(r.array("f64")?)),
                Scalar::Char => dst.cast::<char>().write(decode_char(r)?),
            }
        }
        Ok(())
    }
}

/// Runs a type's declared invariants on a freshly decoded value, dropping it
/// when they fail. The invariant's own message is not kept: it may quote
/// payload data.
///
/// # Safety
///
/// `dst` must hold a live value of `shape`'s type.
unsafe fn check_invariants(
    shape: Option<&'static Shape>,
    type_path: &'static str,
    dst: *mut u8,
    at: usize,
) -> Result {
    let Some(shape) = shape else { return Ok(()) };
    // SAFETY: forwarded from the caller.
    match unsafe { shape.call_invariants(PtrConst::new(dst)) } {
        Some(Err(_)) => {
            // SAFETY: the value is live and is not used again.
            unsafe { drop_value(shape, dst) };
            Err(DecodeError::InvalidValue {
                at,
                type_path,
                what: "the type's invariants do not hold",
            })
        }
        _ => Ok(()),
    }
}

#[cold]
fn decode_char(r: &mut Reader<'_>) -> Result<char> {
    let at = r.pos();
    let len = r.len(1, "char")?;
    let bytes = r.take(len, "char")?;
    let mut chars = core::str::from_utf8(bytes).ok().map(str::chars);
    match chars.as_mut().map(|c| (c.next(), c.next())) {
        Some((Some(c), None)) => Ok(c),
        _ => Err(DecodeError::InvalidValue {
            at,
            type_path: "char",
            what: "not exactly one utf-8 encoded character",
        }),
    }
}

fn cannot_build(shape: &'static Shape) -> PlanError {
    PlanError {
        codec: "postcard",
        type_path: shape.to_string(),
        reason: "this container cannot be built from decoded parts",
    }
}

/// Drops the value of `shape` at `ptr` in place.
///
/// # Safety
///
/// `ptr` must point to a live value of `shape`'s type, which must not be used again.
pub(super) unsafe fn drop_value(shape: &'static Shape, ptr: *mut u8) {
    // SAFETY: forwarded from the caller. A shape without type ops has no drop glue.
    unsafe {
        shape.call_drop_in_place(PtrMut::new(ptr));
    }
}

/// # Safety
///
/// `dst` must point to an enum whose discriminant is a `tag` at offset 0.
unsafe fn write_tag(tag: Tag, dst: *mut u8, discriminant: i64) {
    // SAFETY: forwarded from the caller; enum values are aligned for their tag.
    unsafe {
        match tag {
            Tag::U8 => dst.write(discriminant as u8),
            Tag::U16 => dst.cast::<u16>().write(discriminant as u16),
            Tag::U32 => dst.cast::<u32>().write(discriminant as u32),
            Tag::U64 => dst.cast::<u64>().write(discriminant as u64),
            Tag::I8 => dst.cast::<i8>().write(discriminant as i8),
            Tag::I16 => dst.cast::<i16>().write(discriminant as i16),
            Tag::I32 => dst.cast::<i32>().write(discriminant as i32),
            Tag::I64 => dst.cast::<i64>().write(discriminant),
        }
    }
}
