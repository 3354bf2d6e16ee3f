//! Compiling a type's wire schema into a FlatBuffers layout: tables with
//! numbered slots, unions, enums and the wrapper tables FlatBuffers needs
//! where a Rust type has no direct form (a vector of vectors, an option of an
//! option, a root that is not a table).
//!
//! The layout is compiled from [`prism_reflect::Schema`], the same wire
//! description that postcard follows, once per type, and cached. Encoding,
//! verification, decoding, views and the `.fbs` text all read this one
//! layout, so they cannot disagree.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use facet::{ConstTypeId, Shape};
use prism_reflect::{Schema, Ty, TypeDefKind, VariantKind};

use super::names::{KEYWORDS, is_identifier, namespace, plan_error, sanitize, type_name};
use crate::PlanError;

pub(super) type NodeId = usize;
pub(super) type TableId = usize;
pub(super) type UnionId = usize;
pub(super) type EnumId = usize;

/// Most slots one table may have: keeps every table's inline size and
/// vtable far below FlatBuffers' 64 KiB limits.
const MAX_SLOTS: usize = 2048;

/// A scalar as it sits in a table slot or a vector element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scalar {
    Bool,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
    /// A Rust `char`, stored as its code point in a `uint`.
    Char,
}

impl Scalar {
    /// A number per kind, for the sealed trait behind
    /// [`FlatScalar`](super::FlatScalar).
    pub(super) const fn tag(self) -> u8 {
        self as u8
    }

    pub(super) const fn size(self) -> usize {
        match self {
            Scalar::Bool | Scalar::U8 | Scalar::I8 => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 | Scalar::F32 | Scalar::Char => 4,
            Scalar::U64 | Scalar::I64 | Scalar::F64 => 8,
        }
    }

    pub(super) const fn fbs(self) -> &'static str {
        match self {
            Scalar::Bool => "bool",
            Scalar::U8 => "ubyte",
            Scalar::I8 => "byte",
            Scalar::U16 => "ushort",
            Scalar::I16 => "short",
            Scalar::U32 | Scalar::Char => "uint",
            Scalar::I32 => "int",
            Scalar::U64 => "ulong",
            Scalar::I64 => "long",
            Scalar::F32 => "float",
            Scalar::F64 => "double",
        }
    }
}

/// How one wire type is laid out.
#[derive(Clone, Debug)]
pub(super) enum Node {
    /// Inline scalar.
    Scalar(Scalar),
    /// `u128` / `i128`: an inline struct of two 64-bit halves, low half first.
    Wide { signed: bool },
    /// A field-less Rust enum: a FlatBuffers `enum` of `ubyte` (or `ushort`
    /// past 256 variants) holding the variant index.
    Enum(EnumId),
    /// `string`.
    String,
    /// `[ubyte]`.
    Bytes,
    /// A vector; `elem` is always a kind a vector can hold directly (scalar,
    /// wide struct, enum, string or table). `len` is set for Rust arrays;
    /// `sort_by` for sets and maps, whose elements are written in key order.
    Vector {
        elem: NodeId,
        len: Option<u64>,
        sort_by: Option<NodeId>,
    },
    /// A table.
    Table(TableId),
    /// A union: a `_type` slot then a table slot. Only ever a table field.
    Union(UnionId),
    /// Presence: the absent slot is `None`. The inner node is never an option.
    Option(NodeId),
}

impl Node {
    /// Bytes the node takes inline in a vector, when a vector can hold it directly.
    pub(super) fn elem_size(&self, layout: &Layout) -> Option<usize> {
        match self {
            Node::Scalar(s) => Some(s.size()),
            Node::Wide { .. } => Some(16),
            Node::Enum(e) => Some(layout.enums[*e].repr.size()),
            Node::String | Node::Table(_) => Some(4),
            _ => None,
        }
    }
}

/// Why a table exists: decides only how depth is counted and how it is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TableKind {
    /// A Rust struct, tuple struct, unit struct or tuple: counts one level of depth.
    Struct,
    /// `()`, a one-field wrapper, a map entry, an enum variant's body or the
    /// root wrapper: adds no depth of its own.
    Plain,
}

#[derive(Clone, Debug)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) node: NodeId,
    /// The slot index: the field's vtable offset is `4 + 2 * slot`. A union
    /// takes `slot` (its `_type`) and `slot + 1` (its table).
    pub(super) slot: u16,
    /// A map entry's key that FlatBuffers can mark `(key)`: a scalar, enum
    /// or string, by which the entries are sorted.
    pub(super) key: bool,
    pub(super) doc: Vec<String>,
}

impl Field {
    pub(super) fn voffset(&self) -> u16 {
        voffset(self.slot)
    }
}

pub(super) const fn voffset(slot: u16) -> u16 {
    4 + 2 * slot
}

#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) name: String,
    pub(super) kind: TableKind,
    pub(super) fields: Vec<Field>,
    /// Slots in use, counting both slots of each union.
    pub(super) slots: u16,
    pub(super) doc: Vec<String>,
}

impl Table {
    pub(super) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub(super) struct Union {
    pub(super) name: String,
    /// Member aliases (the Rust variant names) and their tables; the union
    /// type of variant `i` is `i + 1`, as 0 means NONE.
    pub(super) variants: Vec<(String, TableId)>,
    pub(super) doc: Vec<String>,
}

#[derive(Clone, Debug)]
pub(super) struct EnumDef {
    pub(super) name: String,
    pub(super) repr: Scalar,
    pub(super) variants: Vec<String>,
    pub(super) doc: Vec<String>,
}

/// The FlatBuffers layout of one root type.
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) namespace: String,
    /// The Rust path of the root type, for messages and the `.fbs` header.
    pub(super) type_path: String,
    pub(super) nodes: Vec<Node>,
    pub(super) tables: Vec<Table>,
    pub(super) unions: Vec<Union>,
    pub(super) enums: Vec<EnumDef>,
    /// Names of the `u128` / `i128` structs, when used.
    pub(super) wide_names: [Option<String>; 2],
    pub(super) root: TableId,
}

impl Layout {
    /// The layout for `shape`, compiled on first use and cached for the life
    /// of the process.
    pub(super) fn for_shape(shape: &'static Shape) -> Result<&'static Layout, PlanError> {
        static CACHE: RwLock<Option<HashMap<ConstTypeId, &'static Layout>>> = RwLock::new(None);
        if let Some(layout) = CACHE
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|map| map.get(&shape.id))
        {
            return Ok(layout);
        }
        let mut cache = CACHE.write().unwrap_or_else(PoisonError::into_inner);
        let map = cache.get_or_insert_with(HashMap::new);
        if let Some(layout) = map.get(&shape.id) {
            return Ok(layout);
        }
        // One layout per type, like the `'static` shapes they come from.
        let layout: &'static Layout = Box::leak(Box::new(Layout::compile(shape)?));
        map.insert(shape.id, layout);
        Ok(layout)
    }

    fn compile(shape: &'static Shape) -> Result<Layout, PlanError> {
        let schema = Schema::from_shape(shape).map_err(plan_error)?;
        let type_path = match shape.module_path {
            Some(module) => format!("{module}::{shape}"),
            None => shape.to_string(),
        };
        let mut builder = Builder {
            schema: &schema,
            type_path: type_path.clone(),
            layout: Layout {
                namespace: namespace(shape.module_path),
                type_path,
                nodes: Vec::new(),
                tables: Vec::new(),
                unions: Vec::new(),
                enums: Vec::new(),
                wide_names: [None, None],
                root: 0,
            },
            by_ty: HashMap::new(),
            wrappers: HashMap::new(),
            names: HashSet::new(),
        };
        let root = builder.node(&schema.root)?;
        builder.layout.root = match builder.layout.nodes[root] {
            Node::Table(t) => t,
            _ => {
                let name = builder.name("Root");
                builder.table(
                    name,
                    TableKind::Plain,
                    vec![("value".to_owned(), root, Vec::new())],
                    Vec::new(),
                )?
            }
        };
        Ok(builder.layout)
    }

    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub(super) fn root_table(&self) -> &Table {
        &self.tables[self.root]
    }

    /// The type name a field of this node is declared with in `.fbs`.
    pub(super) fn fbs_type(&self, id: NodeId) -> String {
        match &self.nodes[id] {
            Node::Scalar(s) => s.fbs().to_owned(),
            Node::Wide { signed } => self.wide_names[usize::from(*signed)]
                .clone()
                .unwrap_or_default(),
            Node::Enum(e) => self.enums[*e].name.clone(),
            Node::String => "string".to_owned(),
            Node::Bytes => "[ubyte]".to_owned(),
            Node::Vector { elem, .. } => format!("[{}]", self.fbs_type(*elem)),
            Node::Table(t) => self.tables[*t].name.clone(),
            Node::Union(u) => self.unions[*u].name.clone(),
            Node::Option(inner) => self.fbs_type(*inner),
        }
    }
}

/// A field under construction: name, node, doc.
type FieldSpec = (String, NodeId, Vec<String>);

struct Builder<'s> {
    schema: &'s Schema,
    type_path: String,
    layout: Layout,
    /// Every wire type compiles to one node; named types get theirs before
    /// their fields compile, so recursion meets a back-reference.
    by_ty: HashMap<Ty, NodeId>,
    /// Node -> the one-field table that wraps it.
    wrappers: HashMap<NodeId, NodeId>,
    names: HashSet<String>,
}

impl Builder<'_> {
    fn error(&self, reason: &'static str) -> PlanError {
        self.error_in(&self.type_path, reason)
    }

    fn error_in(&self, type_path: &str, reason: &'static str) -> PlanError {
        PlanError {
            codec: "flatbuffers",
            type_path: type_path.to_owned(),
            reason,
        }
    }

    /// A fresh, unique type name based on `base`.
    fn name(&mut self, base: &str) -> String {
        let base = sanitize(base);
        let base = if KEYWORDS.contains(&base.as_str()) {
            format!("{base}_")
        } else {
            base
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.layout.nodes.push(node);
        self.layout.nodes.len() - 1
    }

    fn node(&mut self, ty: &Ty) -> Result<NodeId, PlanError> {
        if let Some(&id) = self.by_ty.get(ty) {
            return Ok(id);
        }
        let id = match ty {
            Ty::Named(index) => return self.named(ty, *index),
            Ty::Unit => {
                let name = self.name("Unit");
                let t = self.table(name, TableKind::Plain, Vec::new(), Vec::new())?;
                self.push(Node::Table(t))
            }
            Ty::Bool => self.push(Node::Scalar(Scalar::Bool)),
            Ty::U8 => self.push(Node::Scalar(Scalar::U8)),
            Ty::U16 => self.push(Node::Scalar(Scalar::U16)),
            Ty::U32 => self.push(Node::Scalar(Scalar::U32)),
            Ty::U64 => self.push(Node::Scalar(Scalar::U64)),
            Ty::I8 => self.push(Node::Scalar(Scalar::I8)),
            Ty::I16 => self.push(Node::Scalar(Scalar::I16)),
            Ty::I32 => self.push(Node::Scalar(Scalar::I32)),
            Ty::I64 => self.push(Node::Scalar(Scalar::I64)),
            Ty::F32 => self.push(Node::Scalar(Scalar::F32)),
            Ty::F64 => self.push(Node::Scalar(Scalar::F64)),
            Ty::Char => self.push(Node::Scalar(Scalar::Char)),
            Ty::U128 | Ty::I128 => {
                let signed = matches!(ty, Ty::I128);
                let slot = usize::from(signed);
                if self.layout.wide_names[slot].is_none() {
                    let name = self.name(if signed { "I128" } else { "U128" });
                    self.layout.wide_names[slot] = Some(name);
                }
                self.push(Node::Wide { signed })
            }
            Ty::String => self.push(Node::String),
            Ty::Bytes => self.push(Node::Bytes),
            Ty::Option(inner) => {
                let inner = self.node(inner)?;
                let inner = match self.layout.nodes[inner] {
                    // An option of an option needs a table to tell `Some(None)` from `None`.
                    Node::Option(_) => self.wrapper(inner)?,
                    _ => inner,
                };
                self.push(Node::Option(inner))
            }
            Ty::List(elem) => {
                let elem = self.node(elem)?;
                let elem = self.vector_elem(elem)?;
                self.push(Node::Vector {
                    elem,
                    len: None,
                    sort_by: None,
                })
            }
            Ty::Array { elem, len } => {
                let elem = self.node(elem)?;
                let elem = self.vector_elem(elem)?;
                self.push(Node::Vector {
                    elem,
                    len: Some(*len),
                    sort_by: None,
                })
            }
            Ty::Set(elem) => {
                let key = self.node(elem)?;
                let elem = self.vector_elem(key)?;
                self.push(Node::Vector {
                    elem,
                    len: None,
                    sort_by: Some(key),
                })
            }
            Ty::Map { key, value } => {
                let key_node = self.node(key)?;
                let value_node = self.node(value)?;
                let base = format!("{}Entry", self.mangle(ty));
                let name = self.name(&base);
                let fields = vec![
                    ("key".to_owned(), key_node, Vec::new()),
                    ("value".to_owned(), value_node, Vec::new()),
                ];
                let entry = self.table(name, TableKind::Plain, fields, Vec::new())?;
                self.layout.tables[entry].fields[0].key = matches!(
                    self.layout.nodes[key_node],
                    Node::Scalar(_) | Node::Enum(_) | Node::String
                );
                let elem = self.push(Node::Table(entry));
                self.push(Node::Vector {
                    elem,
                    len: None,
                    sort_by: Some(key_node),
                })
            }
            Ty::Tuple(items) => {
                let mut fields = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    fields.push((format!("f{i}"), self.node(item)?, Vec::new()));
                }
                let base = self.mangle(ty);
                let name = self.name(&base);
                let t = self.table(name, TableKind::Struct, fields, Vec::new())?;
                self.push(Node::Table(t))
            }
            Ty::Result { ok, err } => {
                let base = self.mangle(ty);
                let name = self.name(&base);
                let u = self.layout.unions.len();
                self.layout.unions.push(Union {
                    name: name.clone(),
                    variants: Vec::new(),
                    doc: Vec::new(),
                });
                for (variant, inner) in [("Ok", ok), ("Err", err)] {
                    let field = self.node(inner)?;
                    let table_name = self.name(&format!("{name}_{variant}"));
                    let fields = vec![("f0".to_owned(), field, Vec::new())];
                    let t = self.table(table_name, TableKind::Plain, fields, Vec::new())?;
                    self.layout.unions[u].variants.push((variant.to_owned(), t));
                }
                self.push(Node::Union(u))
            }
            _ => return Err(self.error("this wire type has no FlatBuffers mapping")),
        };
        self.by_ty.insert(ty.clone(), id);
        Ok(id)
    }

    /// A struct or enum of the schema: a table, a union or an enum.
    fn named(&mut self, ty: &Ty, index: usize) -> Result<NodeId, PlanError> {
        let schema = self.schema;
        let Some(def) = schema.get(index) else {
            return Err(self.error("schema refers to a type it does not define"));
        };
        let base = type_name(&def.path);
        match &def.kind {
            TypeDefKind::Struct { fields } | TypeDefKind::TupleStruct { fields } => {
                let tuple = matches!(def.kind, TypeDefKind::TupleStruct { .. });
                let name = self.name(&base);
                let t = self.reserve_table(name, TableKind::Struct, def.doc.clone());
                let id = self.push(Node::Table(t));
                self.by_ty.insert(ty.clone(), id);
                let mut specs = Vec::with_capacity(fields.len());
                for (i, field) in fields.iter().enumerate() {
                    let name = if tuple {
                        format!("f{i}")
                    } else {
                        field.name.clone()
                    };
                    specs.push((name, self.node(&field.ty)?, field.doc.clone()));
                }
                self.fill_table(&def.path, t, specs)?;
                Ok(id)
            }
            TypeDefKind::UnitStruct => {
                let name = self.name(&base);
                let t = self.table(name, TableKind::Struct, Vec::new(), def.doc.clone())?;
                let id = self.push(Node::Table(t));
                self.by_ty.insert(ty.clone(), id);
                Ok(id)
            }
            TypeDefKind::Enum { variants } => {
                if variants.is_empty() {
                    return Err(self.error_in(
                        &def.path,
                        "an enum without variants has no FlatBuffers form",
                    ));
                }
                let name = self.name(&base);
                if variants.iter().all(|v| v.kind == VariantKind::Unit) {
                    let repr = match variants.len() {
                        0..=256 => Scalar::U8,
                        257..=65536 => Scalar::U16,
                        _ => {
                            return Err(
                                self.error_in(&def.path, "an enum has more than 65536 variants")
                            );
                        }
                    };
                    for v in variants {
                        if !is_identifier(&v.name) {
                            return Err(self.error_in(
                                &def.path,
                                "a variant name is not a valid FlatBuffers identifier",
                            ));
                        }
                    }
                    let e = self.layout.enums.len();
                    self.layout.enums.push(EnumDef {
                        name,
                        repr,
                        variants: variants.iter().map(|v| v.name.clone()).collect(),
                        doc: def.doc.clone(),
                    });
                    let id = self.push(Node::Enum(e));
                    self.by_ty.insert(ty.clone(), id);
                    return Ok(id);
                }
                if variants.len() > 255 {
                    return Err(self.error_in(
                        &def.path,
                        "an enum with data has more than 255 variants, the most a union can hold",
                    ));
                }
                let u = self.layout.unions.len();
                self.layout.unions.push(Union {
                    name: name.clone(),
                    variants: Vec::new(),
                    doc: def.doc.clone(),
                });
                let id = self.push(Node::Union(u));
                self.by_ty.insert(ty.clone(), id);
                for variant in variants {
                    if !is_identifier(&variant.name) {
                        return Err(self.error_in(
                            &def.path,
                            "a variant name is not a valid FlatBuffers identifier",
                        ));
                    }
                    let table_name = self.name(&format!("{name}_{}", variant.name));
                    let t = self.reserve_table(table_name, TableKind::Plain, variant.doc.clone());
                    self.layout.unions[u]
                        .variants
                        .push((variant.name.clone(), t));
                    let mut specs = Vec::with_capacity(variant.fields.len());
                    for (i, field) in variant.fields.iter().enumerate() {
                        let name = match variant.kind {
                            VariantKind::Struct => field.name.clone(),
                            _ => format!("f{i}"),
                        };
                        specs.push((name, self.node(&field.ty)?, field.doc.clone()));
                    }
                    self.fill_table(&def.path, t, specs)?;
                }
                Ok(id)
            }
            _ => Err(self.error("this kind of named type has no FlatBuffers mapping")),
        }
    }

    /// The node to store as a vector element: the node itself when a vector
    /// can hold it, else a one-field table around it.
    fn vector_elem(&mut self, node: NodeId) -> Result<NodeId, PlanError> {
        match self.layout.nodes[node] {
            Node::Scalar(_) | Node::Wide { .. } | Node::Enum(_) | Node::String | Node::Table(_) => {
                Ok(node)
            }
            _ => self.wrapper(node),
        }
    }

    /// A table with one field, `value`, holding `node`.
    fn wrapper(&mut self, node: NodeId) -> Result<NodeId, PlanError> {
        if let Some(&id) = self.wrappers.get(&node) {
            return Ok(id);
        }
        let base = format!("{}Value", self.node_mangle(node));
        let name = self.name(&base);
        let fields = vec![("value".to_owned(), node, Vec::new())];
        let t = self.table(name, TableKind::Plain, fields, Vec::new())?;
        let id = self.push(Node::Table(t));
        self.wrappers.insert(node, id);
        Ok(id)
    }

    fn reserve_table(&mut self, name: String, kind: TableKind, doc: Vec<String>) -> TableId {
        self.layout.tables.push(Table {
            name,
            kind,
            fields: Vec::new(),
            slots: 0,
            doc,
        });
        self.layout.tables.len() - 1
    }

    fn table(
        &mut self,
        name: String,
        kind: TableKind,
        fields: Vec<FieldSpec>,
        doc: Vec<String>,
    ) -> Result<TableId, PlanError> {
        let t = self.reserve_table(name, kind, doc);
        let owner = self.type_path.clone();
        self.fill_table(&owner, t, fields)?;
        Ok(t)
    }

    /// Numbers a table's fields into slots and checks their names.
    fn fill_table(
        &mut self,
        owner: &str,
        t: TableId,
        specs: Vec<FieldSpec>,
    ) -> Result<(), PlanError> {
        let mut names = HashSet::new();
        let mut fields = Vec::with_capacity(specs.len());
        let mut slot = 0usize;
        for (name, node, doc) in specs {
            if !is_identifier(&name) {
                return Err(
                    self.error_in(owner, "a field name is not a valid FlatBuffers identifier")
                );
            }
            let is_union = match self.layout.nodes[node] {
                Node::Union(_) => true,
                Node::Option(inner) => matches!(self.layout.nodes[inner], Node::Union(_)),
                _ => false,
            };
            let type_field = is_union.then(|| format!("{name}_type"));
            if !names.insert(name.clone())
                || type_field
                    .as_ref()
                    .is_some_and(|n| !names.insert(n.clone()))
            {
                return Err(self.error_in(
                    owner,
                    "two fields share a name (an enum field `x` also claims `x_type`)",
                ));
            }
            let Ok(slot16) = u16::try_from(slot) else {
                return Err(self.error_in(owner, "a table has too many fields"));
            };
            fields.push(Field {
                name,
                node,
                slot: slot16,
                key: false,
                doc,
            });
            slot += if is_union { 2 } else { 1 };
            if slot > MAX_SLOTS {
                return Err(self.error_in(owner, "a table has more than 2048 FlatBuffers slots"));
            }
        }
        let table = &mut self.layout.tables[t];
        table.fields = fields;
        table.slots = slot as u16;
        Ok(())
    }

    /// A readable name fragment for a wire type, for synthesized table names.
    fn mangle(&self, ty: &Ty) -> String {
        match ty {
            Ty::Named(i) => self
                .schema
                .get(*i)
                .map_or_else(|| "Named".to_owned(), |d| type_name(&d.path)),
            Ty::Option(t) => format!("Option_{}", self.mangle(t)),
            Ty::List(t) => format!("Vec_{}", self.mangle(t)),
            Ty::Set(t) => format!("Set_{}", self.mangle(t)),
            Ty::Array { elem, len } => format!("Array{len}_{}", self.mangle(elem)),
            Ty::Map { key, value } => format!("Map_{}_{}", self.mangle(key), self.mangle(value)),
            Ty::Tuple(items) => {
                let parts: Vec<String> = items.iter().map(|t| self.mangle(t)).collect();
                format!("Tuple_{}", parts.join("_"))
            }
            Ty::Result { ok, err } => {
                format!("Result_{}_{}", self.mangle(ok), self.mangle(err))
            }
            other => {
                let kind = other.kind_name();
                let mut chars = kind.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_ascii_uppercase().to_string() + chars.as_str()
                })
            }
        }
    }

    /// The mangled name of the wire type a node was compiled from.
    fn node_mangle(&self, node: NodeId) -> String {
        self.by_ty
            .iter()
            .filter(|(_, id)| **id == node)
            .map(|(ty, _)| self.mangle(ty))
            .min()
            .unwrap_or_else(|| "Node".to_owned())
    }
}
