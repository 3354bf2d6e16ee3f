//! The shape walker: turns a `&'static Shape` into a [`Schema`].
//!
//! Named types (structs and enums) get a [`TypeDef`] slot keyed by shape
//! identity, and the slot is reserved *before* their fields are walked, so a
//! recursive type meets its own slot and emits a back-reference.

use std::any::TypeId;
use std::collections::HashMap;

use facet::{
    Def, EnumType, Field, FieldFlags, KnownPointer, PointerDef, PointerType, ScalarType, Shape,
    ShapeFlags, StructKind, StructType, Type, UserType,
};

use super::{FieldDef, Schema, Ty, TypeDef, TypeDefKind, VariantDef, VariantKind};
use crate::error::{ReflectError, Unsupported};

/// Builds the schema of `shape`.
pub(super) fn build(shape: &'static Shape) -> Result<Schema, ReflectError> {
    let mut walker = Walker {
        types: Vec::new(),
        seen: HashMap::new(),
        transparent: Vec::new(),
        at: vec![type_path(shape)],
    };
    let root = walker.ty(shape)?;
    Ok(Schema {
        root,
        types: walker.types,
    })
}

/// The display path of a shape: `module::Type<Args>`, or just the type name
/// for primitives and types without a module path.
pub(super) fn type_path(shape: &'static Shape) -> String {
    match shape.module_path {
        Some(module) => format!("{module}::{shape}"),
        None => shape.to_string(),
    }
}

struct Walker {
    types: Vec<TypeDef>,
    /// Shape identity -> def index. In-process only, never on the wire.
    seen: HashMap<TypeId, usize>,
    /// Transparent wrappers being unwrapped, to refuse self-containing ones.
    transparent: Vec<TypeId>,
    /// Breadcrumbs for error messages: the root type, then field names.
    at: Vec<String>,
}

impl Walker {
    fn ty(&mut self, shape: &'static Shape) -> Result<Ty, ReflectError> {
        if shape.proxy.is_some() {
            return Err(self.unsupported(shape, Unsupported::ContainerProxy));
        }
        if let Some(scalar) = shape.scalar_type() {
            return scalar_ty(scalar)
                .ok_or_else(|| self.unsupported(shape, Unsupported::UnknownScalar));
        }
        match shape.def {
            Def::Scalar => Err(self.unsupported(shape, Unsupported::UnknownScalar)),
            Def::Option(d) => Ok(Ty::Option(Box::new(self.ty(d.t)?))),
            Def::Result(d) => Ok(Ty::Result {
                ok: Box::new(self.ty(d.t)?),
                err: Box::new(self.ty(d.e)?),
            }),
            Def::List(d) => self.sequence(d.t),
            Def::Slice(d) => self.sequence(d.t),
            Def::Array(d) => Ok(Ty::Array {
                elem: Box::new(self.ty(d.t)?),
                len: d.n as u64,
            }),
            Def::Set(d) => Ok(Ty::Set(Box::new(self.ty(d.t)?))),
            Def::Map(d) => Ok(Ty::Map {
                key: Box::new(self.ty(d.k)?),
                value: Box::new(self.ty(d.v)?),
            }),
            Def::Pointer(d) => self.pointer(shape, d),
            Def::DynamicValue(_) => Err(self.unsupported(shape, Unsupported::DynamicValue)),
            Def::Undefined => self.by_type(shape),
            _ => Err(self.unsupported(
                shape,
                Unsupported::Other("this kind of shape is not supported"),
            )),
        }
    }

    /// `Vec<T>`, `Bytes`, `[T]`: a list, or `Bytes` when the items are `u8`.
    fn sequence(&mut self, item: &'static Shape) -> Result<Ty, ReflectError> {
        if item.scalar_type() == Some(ScalarType::U8) {
            return Ok(Ty::Bytes);
        }
        Ok(Ty::List(Box::new(self.ty(item)?)))
    }

    /// Owning and shared pointers are invisible on the wire.
    fn pointer(&mut self, shape: &'static Shape, def: PointerDef) -> Result<Ty, ReflectError> {
        use KnownPointer::{Arc, Box, Cow, ExclusiveReference, Rc, SharedReference};
        match (def.known, def.pointee) {
            (Some(Box | Rc | Arc | SharedReference | ExclusiveReference | Cow), Some(pointee)) => {
                self.ty(pointee)
            }
            (known, _) => {
                let kind = known.map_or_else(|| "unknown".to_owned(), |k| format!("{k:?}"));
                Err(self.unsupported(shape, Unsupported::Pointer { kind }))
            }
        }
    }

    fn by_type(&mut self, shape: &'static Shape) -> Result<Ty, ReflectError> {
        match shape.ty {
            Type::User(UserType::Struct(st)) if st.kind == StructKind::Tuple => {
                let items = self.fields(shape, st.fields)?;
                Ok(Ty::Tuple(items.into_iter().map(|f| f.ty).collect()))
            }
            Type::User(UserType::Struct(_)) if shape.inner.is_some() => self.transparent(shape),
            Type::User(UserType::Struct(st)) => self.named(shape, |w| w.struct_kind(shape, st)),
            Type::User(UserType::Enum(en)) => {
                if shape.flags.contains(ShapeFlags::UNTAGGED) {
                    return Err(self.unsupported(shape, Unsupported::UntaggedEnum));
                }
                if shape.flags.contains(ShapeFlags::NUMERIC) {
                    return Err(self.unsupported(shape, Unsupported::NumericEnum));
                }
                self.named(shape, |w| w.enum_kind(shape, en))
            }
            Type::User(UserType::Union(_)) => Err(self.unsupported(shape, Unsupported::Union)),
            Type::Pointer(PointerType::Reference(r)) => self.ty(r.target),
            _ => Err(self.unsupported(shape, Unsupported::Opaque)),
        }
    }

    /// `#[repr(transparent)]` / `#[facet(transparent)]` newtypes are their inner type.
    fn transparent(&mut self, shape: &'static Shape) -> Result<Ty, ReflectError> {
        let id = shape.id.get();
        if self.transparent.contains(&id) {
            return Err(self.unsupported(shape, Unsupported::RecursiveTransparent));
        }
        let Some(inner) = shape.inner else {
            return Err(self.unsupported(shape, Unsupported::Opaque));
        };
        self.transparent.push(id);
        let ty = self.ty(inner);
        self.transparent.pop();
        ty
    }

    /// Reserves the def slot first, then fills it: recursion meets the slot.
    fn named(
        &mut self,
        shape: &'static Shape,
        body: impl FnOnce(&mut Self) -> Result<TypeDefKind, ReflectError>,
    ) -> Result<Ty, ReflectError> {
        let id = shape.id.get();
        if let Some(&index) = self.seen.get(&id) {
            return Ok(Ty::Named(index));
        }
        let index = self.types.len();
        self.seen.insert(id, index);
        self.types.push(TypeDef {
            path: type_path(shape),
            kind: TypeDefKind::UnitStruct,
            doc: doc_lines(shape.doc),
        });
        let kind = body(self)?;
        self.types[index].kind = kind;
        Ok(Ty::Named(index))
    }

    fn struct_kind(
        &mut self,
        shape: &'static Shape,
        st: StructType,
    ) -> Result<TypeDefKind, ReflectError> {
        let fields = self.fields(shape, st.fields)?;
        Ok(match st.kind {
            StructKind::Unit => TypeDefKind::UnitStruct,
            StructKind::TupleStruct | StructKind::Tuple => TypeDefKind::TupleStruct { fields },
            StructKind::Struct => TypeDefKind::Struct { fields },
        })
    }

    fn enum_kind(
        &mut self,
        shape: &'static Shape,
        en: EnumType,
    ) -> Result<TypeDefKind, ReflectError> {
        let mut variants = Vec::with_capacity(en.variants.len());
        for (index, variant) in en.variants.iter().enumerate() {
            let name = variant.effective_name();
            self.at.push(format!("::{name}"));
            let fields = self.fields(shape, variant.data.fields)?;
            self.at.pop();
            let index = u32::try_from(index)
                .map_err(|_| self.unsupported(shape, Unsupported::Other("too many variants")))?;
            variants.push(VariantDef {
                index,
                name: name.to_owned(),
                kind: match variant.data.kind {
                    StructKind::Unit => VariantKind::Unit,
                    StructKind::TupleStruct | StructKind::Tuple => VariantKind::Tuple,
                    StructKind::Struct => VariantKind::Struct,
                },
                fields,
                doc: doc_lines(variant.doc),
            });
        }
        Ok(TypeDefKind::Enum { variants })
    }

    /// The fields that reach the wire: skipped ones are left out.
    fn fields(
        &mut self,
        owner: &'static Shape,
        fields: &'static [Field],
    ) -> Result<Vec<FieldDef>, ReflectError> {
        let mut out = Vec::with_capacity(fields.len());
        for field in fields {
            if field.flags.contains(FieldFlags::SKIP)
                || field.flags.contains(FieldFlags::SKIP_SERIALIZING)
            {
                continue;
            }
            let name = field.effective_name();
            if field.proxy.is_some() {
                let field = name.to_owned();
                return Err(self.unsupported(owner, Unsupported::FieldProxy { field }));
            }
            if field.is_flattened() {
                let field = name.to_owned();
                return Err(self.unsupported(owner, Unsupported::FlattenedField { field }));
            }
            self.at.push(format!(".{name}"));
            let ty = self.ty(field.shape.get())?;
            self.at.pop();
            out.push(FieldDef {
                name: name.to_owned(),
                ty,
                doc: doc_lines(field.doc),
            });
        }
        Ok(out)
    }

    fn unsupported(&self, shape: &'static Shape, reason: Unsupported) -> ReflectError {
        ReflectError::Unsupported {
            type_path: type_path(shape),
            at: self.at.concat(),
            reason,
        }
    }
}

/// The wire type of a scalar facet recognises, if it has a fixed wire form.
fn scalar_ty(scalar: ScalarType) -> Option<Ty> {
    Some(match scalar {
        ScalarType::Unit => Ty::Unit,
        ScalarType::Bool => Ty::Bool,
        ScalarType::Char => Ty::Char,
        ScalarType::Str | ScalarType::String | ScalarType::CowStr => Ty::String,
        ScalarType::F32 => Ty::F32,
        ScalarType::F64 => Ty::F64,
        ScalarType::U8 => Ty::U8,
        ScalarType::U16 => Ty::U16,
        ScalarType::U32 => Ty::U32,
        ScalarType::U64 | ScalarType::USize => Ty::U64,
        ScalarType::U128 => Ty::U128,
        ScalarType::I8 => Ty::I8,
        ScalarType::I16 => Ty::I16,
        ScalarType::I32 => Ty::I32,
        ScalarType::I64 | ScalarType::ISize => Ty::I64,
        ScalarType::I128 => Ty::I128,
        _ => return None,
    })
}

/// facet keeps the space after `///`; drop one leading space.
fn doc_lines(doc: &'static [&'static str]) -> Vec<String> {
    doc.iter()
        .map(|line| line.strip_prefix(' ').unwrap_or(line).to_owned())
        .collect()
}

#[cfg(test)]
mod tests;
