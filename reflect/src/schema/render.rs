//! The text rendering of a [`Schema`]: a small, deterministic IDL.
//!
//! One line per item. When the root is not itself a named type, the first
//! line is `root <ty>`; then every named type follows in index order (so a
//! named root comes first):
//!
//! ```text
//! struct demo::Point { x: i32, y: i32 }
//! struct demo::Meters(f64)
//! struct demo::Marker
//! enum demo::Shape { 0: Circle(f64), 1: Rect { w: f64, h: f64 }, 2: Empty }
//! ```
//!
//! Types are written `string`, `bytes`, `option<T>`, `list<T>`, `set<T>`,
//! `map<K, V>`, `result<T, E>`, `[T; N]`, `(A, B)`, `()` and by path for
//! named types. Doc comments are written as `///` lines above their type.

use core::fmt;

use super::{FieldDef, Schema, Ty, TypeDef, TypeDefKind, VariantKind};

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if !matches!(self.root, Ty::Named(_)) {
            write!(f, "root {}", TyText(self, &self.root))?;
            first = false;
        }
        for def in &self.types {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write_def(f, self, def)?;
        }
        Ok(())
    }
}

fn write_def(f: &mut fmt::Formatter<'_>, schema: &Schema, def: &TypeDef) -> fmt::Result {
    for line in &def.doc {
        writeln!(f, "///{}{line}", if line.is_empty() { "" } else { " " })?;
    }
    match &def.kind {
        TypeDefKind::Struct { fields } => {
            write!(f, "struct {} ", def.path)?;
            write_named_fields(f, schema, fields)
        }
        TypeDefKind::TupleStruct { fields } => {
            write!(f, "struct {}", def.path)?;
            write_tuple_fields(f, schema, fields)
        }
        TypeDefKind::UnitStruct => write!(f, "struct {}", def.path),
        TypeDefKind::Enum { variants } => {
            write!(f, "enum {} {{", def.path)?;
            for (i, v) in variants.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                write!(f, "{sep}{}: {}", v.index, v.name)?;
                match v.kind {
                    VariantKind::Unit => {}
                    VariantKind::Tuple => write_tuple_fields(f, schema, &v.fields)?,
                    VariantKind::Struct => {
                        f.write_str(" ")?;
                        write_named_fields(f, schema, &v.fields)?;
                    }
                }
            }
            f.write_str(if variants.is_empty() { "}" } else { " }" })
        }
    }
}

fn write_named_fields(
    f: &mut fmt::Formatter<'_>,
    schema: &Schema,
    fields: &[FieldDef],
) -> fmt::Result {
    if fields.is_empty() {
        return f.write_str("{}");
    }
    f.write_str("{")?;
    for (i, field) in fields.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        write!(f, "{sep}{}: {}", field.name, TyText(schema, &field.ty))?;
    }
    f.write_str(" }")
}

fn write_tuple_fields(
    f: &mut fmt::Formatter<'_>,
    schema: &Schema,
    fields: &[FieldDef],
) -> fmt::Result {
    f.write_str("(")?;
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", TyText(schema, &field.ty))?;
    }
    f.write_str(")")
}

/// A `Ty` rendered with the names of the schema it belongs to.
struct TyText<'a>(&'a Schema, &'a Ty);

impl fmt::Display for TyText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let TyText(schema, ty) = *self;
        let sub = |ty| TyText(schema, ty);
        match ty {
            Ty::Unit => f.write_str("()"),
            Ty::Option(t) => write!(f, "option<{}>", sub(t)),
            Ty::List(t) => write!(f, "list<{}>", sub(t)),
            Ty::Set(t) => write!(f, "set<{}>", sub(t)),
            Ty::Array { elem, len } => write!(f, "[{}; {len}]", sub(elem)),
            Ty::Map { key, value } => write!(f, "map<{}, {}>", sub(key), sub(value)),
            Ty::Result { ok, err } => write!(f, "result<{}, {}>", sub(ok), sub(err)),
            Ty::Tuple(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", sub(item))?;
                }
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Ty::Named(index) => match schema.get(*index) {
                Some(def) => f.write_str(&def.path),
                None => write!(f, "#{index}"),
            },
            scalar => f.write_str(scalar.kind_name()),
        }
    }
}
