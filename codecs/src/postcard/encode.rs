//! Walking a value through its plan and writing postcard bytes.
//!
//! Values are read straight from memory at the offsets the facet shape
//! records; containers are read through the vtables facet provides.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};
use facet::PtrConst;

use super::plan::{EnumPlan, Field, Node, NodeId, Plan, Scalar, Tag};
use super::wire::{put_varint_u64, put_varint_u128, zigzag_i64, zigzag_i128};
use crate::{EncodeError, PlanError};

pub(super) struct Encoder<'a> {
    plan: &'a Plan,
    out: &'a mut BytesMut,
    depth_left: usize,
    max_depth: usize,
}

impl<'a> Encoder<'a> {
    pub(super) fn new(plan: &'a Plan, out: &'a mut BytesMut, max_depth: usize) -> Self {
        Encoder {
            plan,
            out,
            depth_left: max_depth,
            max_depth,
        }
    }

    /// Encodes the plan's root value.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live, initialized value of the plan's root type.
    pub(super) unsafe fn root(&mut self, ptr: *const u8) -> Result<(), EncodeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.value(self.plan.root, ptr) }
    }

    fn enter(&mut self, type_path: &'static str) -> Result<(), EncodeError> {
        if self.depth_left == 0 {
            return Err(EncodeError::DepthLimitExceeded {
                limit: self.max_depth,
                type_path,
            });
        }
        self.depth_left -= 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth_left += 1;
    }

    fn put_bytes(&mut self, bytes: &[u8]) {
        put_varint_u64(self.out, bytes.len() as u64);
        self.out.put_slice(bytes);
    }

    /// # Safety
    ///
    /// `ptr` must point to a live, initialized value of node `id`'s type.
    unsafe fn value(&mut self, id: NodeId, ptr: *const u8) -> Result<(), EncodeError> {
        let plan = self.plan;
        let at = PtrConst::new(ptr);
        // SAFETY: each arm reads `ptr` as the exact type the
        // plan compiled for this node (checked by type id or by facet's
        // shape), or through the vtable facet supplies for that type.
        unsafe {
            match plan.node(id) {
                Node::Unit => {}
                Node::Scalar(s) => self.scalar(*s, ptr),
                Node::String => self.put_bytes((*ptr.cast::<String>()).as_bytes()),
                Node::Str => self.put_bytes((*ptr.cast::<&str>()).as_bytes()),
                Node::CowStr => self.put_bytes((*ptr.cast::<Cow<'_, str>>()).as_bytes()),
                Node::VecU8 => self.put_bytes(&*ptr.cast::<Vec<u8>>()),
                Node::Bytes => self.put_bytes(&*ptr.cast::<bytes::Bytes>()),
                Node::BytesMut => self.put_bytes(&*ptr.cast::<BytesMut>()),
                Node::Struct(st) => {
                    self.enter(st.type_path)?;
                    self.fields(&st.fields, ptr)?;
                    self.leave();
                }
                Node::Enum(en) => {
                    self.enter(en.type_path)?;
                    let index = variant_index(en, ptr)?;
                    put_varint_u64(self.out, index as u64);
                    self.fields(&en.variants[index].fields, ptr)?;
                    self.leave();
                }
                Node::Option { def, inner } => {
                    if (def.vtable.is_some)(at) {
                        self.enter("Option")?;
                        self.out.put_u8(1);
                        self.value(inner.node, (def.vtable.get_value)(at))?;
                        self.leave();
                    } else {
                        self.out.put_u8(0);
                    }
                }
                Node::Result { def, ok, err } => {
                    self.enter("Result")?;
                    if (def.vtable.is_ok)(at) {
                        self.out.put_u8(0);
                        self.value(ok.node, (def.vtable.get_ok)(at))?;
                    } else {
                        self.out.put_u8(1);
                        self.value(err.node, (def.vtable.get_err)(at))?;
                    }
                    self.leave();
                }
                Node::List { def, elem, shape } => {
                    self.enter(shape.type_identifier)?;
                    let len = (def.vtable.len)(at);
                    put_varint_u64(self.out, len as u64);
                    if let Some(as_ptr) = def.vtable.as_ptr {
                        let base = as_ptr(at).as_byte_ptr();
                        for i in 0..len {
                            self.value(elem.node, base.add(i * elem.size))?;
                        }
                    } else if let Some(iter) = def.iter_vtable() {
                        self.iterate(iter, at, |enc, item| {
                            enc.value(elem.node, item.as_byte_ptr())
                        })?;
                    } else {
                        return Err(PlanError {
                            codec: "postcard",
                            type_path: shape.to_string(),
                            reason: "list type cannot be read",
                        }
                        .into());
                    }
                    self.leave();
                }
                Node::Array { len, elem } => {
                    self.enter("array")?;
                    for i in 0..*len {
                        self.value(elem.node, ptr.add(i * elem.size))?;
                    }
                    self.leave();
                }
                Node::Map {
                    def,
                    key,
                    value,
                    shape,
                } => {
                    self.enter(shape.type_identifier)?;
                    put_varint_u64(self.out, (def.vtable.len)(at) as u64);
                    let vt = &def.vtable.iter_vtable;
                    let Some(init) = vt.init_with_value else {
                        return Err(PlanError {
                            codec: "postcard",
                            type_path: shape.to_string(),
                            reason: "map type cannot be iterated",
                        }
                        .into());
                    };
                    let iter = init(at);
                    let mut result = Ok(());
                    while let Some((k, v)) = (vt.next)(iter) {
                        result = self
                            .value(key.node, k.as_byte_ptr())
                            .and_then(|()| self.value(value.node, v.as_byte_ptr()));
                        if result.is_err() {
                            break;
                        }
                    }
                    (vt.dealloc)(iter);
                    result?;
                    self.leave();
                }
                Node::Set { def, elem, shape } => {
                    self.enter(shape.type_identifier)?;
                    put_varint_u64(self.out, (def.vtable.len)(at) as u64);
                    self.iterate(&def.vtable.iter_vtable, at, |enc, item| {
                        enc.value(elem.node, item.as_byte_ptr())
                    })?;
                    self.leave();
                }
                Node::Pointer {
                    def,
                    pointee,
                    shape,
                } => {
                    let Some(borrow) = def.vtable.borrow_fn else {
                        return Err(PlanError {
                            codec: "postcard",
                            type_path: shape.to_string(),
                            reason: "pointer cannot be borrowed",
                        }
                        .into());
                    };
                    self.value(pointee.node, borrow(at).as_byte_ptr())?;
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
    unsafe fn fields(&mut self, fields: &[Field], base: *const u8) -> Result<(), EncodeError> {
        for field in fields {
            // SAFETY: the offset comes from the shape of the value `base` points to.
            unsafe { self.value(field.slot.node, base.add(field.offset))? };
        }
        Ok(())
    }

    /// # Safety
    ///
    /// `at` must point to a live value that `iter` was made for.
    unsafe fn iterate(
        &mut self,
        iter: &facet::IterVTable<PtrConst>,
        at: PtrConst,
        mut each: impl FnMut(&mut Self, PtrConst) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
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
    unsafe fn scalar(&mut self, scalar: Scalar, ptr: *const u8) {
        // SAFETY: the plan chose `scalar` from this value's type id.
        unsafe {
            match scalar {
                Scalar::Bool => self.out.put_u8(u8::from(*ptr.cast::<bool>())),
                Scalar::U8 => self.out.put_u8(*ptr),
                Scalar::I8 => self.out.put_u8(*ptr),
                Scalar::U16 => put_varint_u64(self.out, u64::from(*ptr.cast::<u16>())),
                Scalar::U32 => put_varint_u64(self.out, u64::from(*ptr.cast::<u32>())),
                Scalar::U64 => put_varint_u64(self.out, *ptr.cast::<u64>()),
                Scalar::Usize => put_varint_u64(self.out, *ptr.cast::<usize>() as u64),
                Scalar::U128 => put_varint_u128(self.out, *ptr.cast::<u128>()),
                Scalar::I16 => put_varint_u64(self.out, zigzag_i64(i64::from(*ptr.cast::<i16>()))),
                Scalar::I32 => put_varint_u64(self.out, zigzag_i64(i64::from(*ptr.cast::<i32>()))),
                Scalar::I64 => put_varint_u64(self.out, zigzag_i64(*ptr.cast::<i64>())),
                Scalar::Isize => put_varint_u64(self.out, zigzag_i64(*ptr.cast::<isize>() as i64)),
                Scalar::I128 => put_varint_u128(self.out, zigzag_i128(*ptr.cast::<i128>())),
                Scalar::F32 => self.out.put_slice(&(*ptr.cast::<f32>()).to_le_bytes()),
                Scalar::F64 => self.out.put_slice(&(*ptr.cast::<f64>()).to_le_bytes()),
                Scalar::Char => {
                    let mut utf8 = [0u8; 4];
                    let s = (*ptr.cast::<char>()).encode_utf8(&mut utf8);
                    self.put_bytes(s.as_bytes());
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
unsafe fn variant_index(en: &EnumPlan, ptr: *const u8) -> Result<usize, EncodeError> {
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
pub(super) unsafe fn read_tag(tag: Tag, ptr: *const u8) -> i64 {
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
