//! Schema fingerprints: a stable 64-bit digest of what a type means on the wire.
//!
//! A fingerprint is FNV-1a 64 of the schema's **canonical form**, a byte
//! string that starts with the version tag `prism-fp/1\0`, then encodes the
//! root type, the number of named types, and each named type in index order
//! (first-visit order of the walk). All integers are `u64` little-endian,
//! strings are a length then UTF-8 bytes:
//!
//! ```text
//! canonical = "prism-fp/1\0" ty(root) u64(count) def*
//! ty        = 0x01 unit | 0x02 bool | 0x03 u8 | 0x04 u16 | 0x05 u32 | 0x06 u64
//!           | 0x07 u128 | 0x08 i8 | 0x09 i16 | 0x0a i32 | 0x0b i64 | 0x0c i128
//!           | 0x0d f32 | 0x0e f64 | 0x0f char | 0x10 string | 0x11 bytes
//!           | 0x20 option ty | 0x21 list ty | 0x22 array ty u64(len)
//!           | 0x23 map ty ty | 0x24 set ty | 0x25 tuple u64(n) ty*
//!           | 0x26 result ty ty | 0x30 ref u64(index)
//! def       = 0x40 struct fields | 0x41 tuple_struct fields | 0x42 unit_struct
//!           | 0x43 enum u64(n) (u64(index) str(name) kind fields)*
//! kind      = 0x00 unit | 0x01 tuple | 0x02 struct
//! fields    = u64(n) (str(name) ty)*
//! ```
//!
//! Field names and order, field types, variant names, order and kinds,
//! container kinds and array lengths are part of it; Rust type names, module
//! paths and doc comments are not, so renaming or moving a type keeps its
//! fingerprint. The form is conservative: a type used twice is one shared
//! definition, while two distinct but identical types are two, so
//! fingerprints can differ for some wire-compatible refactorings, never
//! agree for incompatible ones (up to hash collisions). Any change to this
//! encoding must bump the version tag.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use facet::Shape;

use crate::hash::{Fnv1a64, fnv1a_64};
use crate::schema::{FieldDef, Schema, Ty, TypeDefKind, VariantKind};
use crate::{OpKind, ReflectError};

/// The version tag every canonical form starts with.
pub const FINGERPRINT_VERSION_TAG: &[u8] = b"prism-fp/1\0";

/// The fingerprint of the type described by `shape`.
///
/// Computed once per type and cached for the life of the process.
///
/// # Errors
///
/// [`ReflectError::Unsupported`] when the type has no wire schema.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_reflect::fingerprint;
/// use std::sync::Arc;
///
/// let plain = fingerprint(<String as Facet>::SHAPE).unwrap();
/// assert_eq!(plain, fingerprint(<Arc<str> as Facet>::SHAPE).unwrap());
/// assert_ne!(plain, fingerprint(<Vec<u8> as Facet>::SHAPE).unwrap());
/// ```
pub fn fingerprint(shape: &'static Shape) -> Result<u64, ReflectError> {
    static CACHE: LazyLock<Mutex<HashMap<TypeId, u64>>> = LazyLock::new(Default::default);
    let key = shape.id.get();
    if let Some(&fp) = CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(fp);
    }
    // Computed outside the lock: the walk may be long and is idempotent.
    let fp = Schema::from_shape(shape)?.fingerprint();
    CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, fp);
    Ok(fp)
}

impl Schema {
    /// FNV-1a 64 of [`canonical_form`]`(self)`; not cached.
    pub fn fingerprint(&self) -> u64 {
        fnv1a_64(&canonical_form(self))
    }
}

/// The versioned canonical byte form of `schema` that fingerprints hash.
///
/// # Examples
///
/// ```
/// use prism_reflect::{FINGERPRINT_VERSION_TAG, Schema, canonical_form};
///
/// let bytes = canonical_form(&Schema::of::<u32>().unwrap());
/// assert!(bytes.starts_with(FINGERPRINT_VERSION_TAG));
/// ```
pub fn canonical_form(schema: &Schema) -> Vec<u8> {
    let mut out = FINGERPRINT_VERSION_TAG.to_vec();
    write_ty(&mut out, &schema.root);
    write_len(&mut out, schema.types.len());
    for def in &schema.types {
        match &def.kind {
            TypeDefKind::Struct { fields } => {
                out.push(0x40);
                write_fields(&mut out, fields);
            }
            TypeDefKind::TupleStruct { fields } => {
                out.push(0x41);
                write_fields(&mut out, fields);
            }
            TypeDefKind::UnitStruct => out.push(0x42),
            TypeDefKind::Enum { variants } => {
                out.push(0x43);
                write_len(&mut out, variants.len());
                for v in variants {
                    write_u64(&mut out, u64::from(v.index));
                    write_str(&mut out, &v.name);
                    out.push(match v.kind {
                        VariantKind::Unit => 0x00,
                        VariantKind::Tuple => 0x01,
                        VariantKind::Struct => 0x02,
                    });
                    write_fields(&mut out, &v.fields);
                }
            }
        }
    }
    out
}

/// The fingerprint of an op: its kind and its request, response and error
/// fingerprints, under their own version tag.
pub(crate) fn op_fingerprint(kind: OpKind, request: u64, response: u64, error: Option<u64>) -> u64 {
    let mut h = Fnv1a64::new()
        .write(b"prism-op-fp/1\0")
        .write(&[kind.tag()])
        .write(&request.to_le_bytes())
        .write(&response.to_le_bytes());
    h = match error {
        Some(e) => h.write(&[1]).write(&e.to_le_bytes()),
        None => h.write(&[0]),
    };
    h.finish()
}

fn write_ty(out: &mut Vec<u8>, ty: &Ty) {
    let tag = match ty {
        Ty::Unit => 0x01,
        Ty::Bool => 0x02,
        Ty::U8 => 0x03,
        Ty::U16 => 0x04,
        Ty::U32 => 0x05,
        Ty::U64 => 0x06,
        Ty::U128 => 0x07,
        Ty::I8 => 0x08,
        Ty::I16 => 0x09,
        Ty::I32 => 0x0a,
        Ty::I64 => 0x0b,
        Ty::I128 => 0x0c,
        Ty::F32 => 0x0d,
        Ty::F64 => 0x0e,
        Ty::Char => 0x0f,
        Ty::String => 0x10,
        Ty::Bytes => 0x11,
        Ty::Option(_) => 0x20,
        Ty::List(_) => 0x21,
        Ty::Array { .. } => 0x22,
        Ty::Map { .. } => 0x23,
        Ty::Set(_) => 0x24,
        Ty::Tuple(_) => 0x25,
        Ty::Result { .. } => 0x26,
        Ty::Named(_) => 0x30,
    };
    out.push(tag);
    match ty {
        Ty::Option(t) | Ty::List(t) | Ty::Set(t) => write_ty(out, t),
        Ty::Array { elem, len } => {
            write_ty(out, elem);
            write_u64(out, *len);
        }
        Ty::Map { key: a, value: b } | Ty::Result { ok: a, err: b } => {
            write_ty(out, a);
            write_ty(out, b);
        }
        Ty::Tuple(items) => {
            write_len(out, items.len());
            items.iter().for_each(|t| write_ty(out, t));
        }
        Ty::Named(index) => write_len(out, *index),
        _ => {}
    }
}

fn write_fields(out: &mut Vec<u8>, fields: &[FieldDef]) {
    write_len(out, fields.len());
    for field in fields {
        write_str(out, &field.name);
        write_ty(out, &field.ty);
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn write_len(out: &mut Vec<u8>, n: usize) {
    write_u64(out, n as u64);
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

#[cfg(test)]
mod tests;
