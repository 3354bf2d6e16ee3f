//! The JSON export of a [`Schema`], with a stable, versioned shape.
//!
//! ```text
//! schema  = { "version": 1, "root": ty, "types": [typedef, …] }
//! typedef = { "index": n, "name": "demo::Point", "doc": ["…"], "kind": "struct",
//!             "fields": [field, …] }                      // kind "struct" | "tuple_struct"
//!         | { …, "kind": "unit_struct" }
//!         | { …, "kind": "enum", "variants": [variant, …] }
//! variant = { "index": n, "name": "Rect", "kind": "unit" | "tuple" | "struct",
//!             "fields": [field, …], "doc": [] }
//! field   = { "name": "x", "type": ty, "doc": [] }        // tuple fields are "0", "1", …
//! ty      = { "kind": "unit" | "bool" | "u8" | "u16" | "u32" | "u64" | "u128"
//!                   | "i8" | "i16" | "i32" | "i64" | "i128" | "f32" | "f64"
//!                   | "char" | "string" | "bytes" }
//!         | { "kind": "option" | "list" | "set", "item": ty }
//!         | { "kind": "array", "item": ty, "len": n }
//!         | { "kind": "map", "key": ty, "value": ty }
//!         | { "kind": "tuple", "items": [ty, …] }
//!         | { "kind": "result", "ok": ty, "err": ty }
//!         | { "kind": "ref", "index": n, "name": "demo::Node" }
//! ```
//!
//! A new kind or key may be added without a version bump; a change to the
//! meaning of an existing one bumps [`SCHEMA_JSON_VERSION`].

use serde_json::{Value, json};

use super::{FieldDef, Schema, Ty, TypeDef, TypeDefKind};

/// The `"version"` written by [`Schema::to_json`].
pub const SCHEMA_JSON_VERSION: u64 = 1;

impl Schema {
    /// The schema as JSON, in the shape documented in this module.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_reflect::Schema;
    ///
    /// let json = Schema::of::<Vec<Option<u32>>>().unwrap().to_json();
    /// assert_eq!(
    ///     json,
    ///     serde_json::json!({
    ///         "version": 1,
    ///         "root": { "kind": "list", "item": { "kind": "option", "item": { "kind": "u32" } } },
    ///         "types": []
    ///     })
    /// );
    /// ```
    pub fn to_json(&self) -> Value {
        let types: Vec<Value> = self
            .types
            .iter()
            .enumerate()
            .map(|(index, def)| self.def_json(index, def))
            .collect();
        json!({
            "version": SCHEMA_JSON_VERSION,
            "root": self.ty_json(&self.root),
            "types": types,
        })
    }

    /// [`Schema::to_json`] as a compact string (keys sorted, deterministic).
    pub fn to_json_string(&self) -> String {
        self.to_json().to_string()
    }

    fn def_json(&self, index: usize, def: &TypeDef) -> Value {
        let mut out = json!({ "index": index, "name": def.path, "doc": def.doc });
        let kind = match &def.kind {
            TypeDefKind::Struct { fields } => {
                out["fields"] = self.fields_json(fields);
                "struct"
            }
            TypeDefKind::TupleStruct { fields } => {
                out["fields"] = self.fields_json(fields);
                "tuple_struct"
            }
            TypeDefKind::UnitStruct => "unit_struct",
            TypeDefKind::Enum { variants } => {
                let variants: Vec<Value> = variants
                    .iter()
                    .map(|v| {
                        json!({
                            "index": v.index,
                            "name": v.name,
                            "kind": v.kind.as_str(),
                            "fields": self.fields_json(&v.fields),
                            "doc": v.doc,
                        })
                    })
                    .collect();
                out["variants"] = Value::Array(variants);
                "enum"
            }
        };
        out["kind"] = Value::from(kind);
        out
    }

    fn fields_json(&self, fields: &[FieldDef]) -> Value {
        fields
            .iter()
            .map(|f| json!({ "name": f.name, "type": self.ty_json(&f.ty), "doc": f.doc }))
            .collect()
    }

    fn ty_json(&self, ty: &Ty) -> Value {
        let kind = ty.kind_name();
        match ty {
            Ty::Option(t) | Ty::List(t) | Ty::Set(t) => {
                json!({ "kind": kind, "item": self.ty_json(t) })
            }
            Ty::Array { elem, len } => {
                json!({ "kind": kind, "item": self.ty_json(elem), "len": len })
            }
            Ty::Map { key, value } => {
                json!({ "kind": kind, "key": self.ty_json(key), "value": self.ty_json(value) })
            }
            Ty::Tuple(items) => {
                let items: Vec<Value> = items.iter().map(|t| self.ty_json(t)).collect();
                json!({ "kind": kind, "items": items })
            }
            Ty::Result { ok, err } => {
                json!({ "kind": kind, "ok": self.ty_json(ok), "err": self.ty_json(err) })
            }
            Ty::Named(index) => {
                let name = self.get(*index).map(|d| d.path.as_str());
                json!({ "kind": kind, "index": index, "name": name })
            }
            _ => json!({ "kind": kind }),
        }
    }
}
