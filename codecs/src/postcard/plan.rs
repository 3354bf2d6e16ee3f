//! Compiling a facet shape into a postcard plan: a flat table of nodes that
//! the encoder and decoder walk without consulting the shape again.
//!
//! Recursive types are safe: a user type gets its node index before its
//! fields are compiled, so a self-reference becomes a back-reference.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use facet::{
    ConstTypeId, Def, DefaultInPlaceFn, EnumRepr, FieldFlags, ListDef, MapDef, OptionDef,
    PointerDef, ResultDef, ScalarType, SetDef, Shape, Type, UserType,
};

use crate::PlanError;

/// Index of a node in a [`Plan`].
pub(super) type NodeId = u32;

/// A postcard plan for one root type, compiled once from its facet shape and
/// cached for the life of the process.
///
/// Obtain one with [`Plan::for_shape`]; the codec's `to_vec` / `from_slice`
/// functions do so for you.
pub struct Plan {
    pub(super) nodes: Box<[Node]>,
    /// Fewest bytes the wire form of each node can take, by node index.
    pub(super) min_wire: Box<[usize]>,
    pub(super) root: NodeId,
    pub(super) shape: &'static Shape,
    /// The length of the last message encoded with this plan: `to_vec`
    /// reserves it up front so a steady stream of similar messages encodes
    /// with one allocation each.
    pub(super) size_hint: AtomicUsize,
}

impl core::fmt::Debug for Plan {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plan")
            .field("type", &type_path(self.shape))
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl Plan {
    /// The plan for `shape`, compiled on first use and cached.
    ///
    /// # Errors
    ///
    /// Fails when the shape (or a type nested in it) cannot be carried by
    /// postcard: opaque types, unions, untagged enums, unsized pointees, …
    #[inline]
    pub fn for_shape(shape: &'static Shape) -> Result<&'static Plan, PlanError> {
        super::cache::plan_for(shape)
    }

    /// Compiles a plan without caching it.
    pub(super) fn compile(shape: &'static Shape) -> Result<Plan, PlanError> {
        let mut builder = Builder {
            nodes: Vec::new(),
            seen: HashMap::new(),
        };
        let root = builder.node(shape)?;
        let min_wire = min_wire_sizes(&builder.nodes);
        Ok(Plan {
            nodes: builder.nodes.into_boxed_slice(),
            min_wire,
            root,
            shape,
            size_hint: AtomicUsize::new(0),
        })
    }

    /// The root type this plan encodes.
    pub fn shape(&self) -> &'static Shape {
        self.shape
    }

    #[inline]
    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }
}

/// How one type is carried on the wire.
pub(super) enum Node {
    /// Nothing on the wire: `()`, unit structs, `PhantomData`.
    Unit,
    Scalar(Scalar),
    /// An owned `String`.
    String,
    /// A borrowed `&str`: encode only.
    Str,
    /// `Cow<'_, str>`: decodes as `Cow::Owned`.
    CowStr,
    /// `Vec<u8>`: length prefix and raw bytes.
    VecU8,
    /// `bytes::Bytes`: decodes as a slice of the payload when it can.
    Bytes,
    /// `bytes::BytesMut`.
    BytesMut,
    Struct(StructPlan),
    Enum(EnumPlan),
    Option {
        def: OptionDef,
        inner: Slot,
    },
    Result {
        def: ResultDef,
        ok: Slot,
        err: Slot,
    },
    List {
        def: ListDef,
        elem: Slot,
        shape: &'static Shape,
    },
    Array {
        len: usize,
        elem: Slot,
    },
    Map {
        def: MapDef,
        key: Slot,
        value: Slot,
        shape: &'static Shape,
    },
    Set {
        def: SetDef,
        elem: Slot,
        shape: &'static Shape,
    },
    Pointer {
        def: PointerDef,
        pointee: Slot,
        shape: &'static Shape,
    },
    /// Placeholder while a user type's fields compile.
    Pending,
}

/// A fixed-width or varint scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scalar {
    Bool,
    U8,
    U16,
    U32,
    U64,
    U128,
    Usize,
    I8,
    I16,
    I32,
    I64,
    I128,
    Isize,
    F32,
    F64,
    Char,
}

/// A nested value: its node, and the shape that says how to lay it out and drop it.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) node: NodeId,
    /// The node's scalar kind when it is a scalar, so the hot loops encode
    /// and decode it inline instead of dispatching on the node.
    pub(super) leaf: Option<Scalar>,
    pub(super) shape: &'static Shape,
    pub(super) size: usize,
    pub(super) align: usize,
}

pub(super) struct Field {
    pub(super) offset: usize,
    pub(super) slot: Slot,
}

/// A field left off the wire and filled with its default on decode.
pub(super) struct Skipped {
    pub(super) offset: usize,
    pub(super) shape: &'static Shape,
    pub(super) custom: Option<DefaultInPlaceFn>,
}

pub(super) struct StructPlan {
    pub(super) type_path: &'static str,
    /// Set when the type declares invariants that a decoded value must pass.
    pub(super) invariants: Option<&'static Shape>,
    pub(super) fields: Box<[Field]>,
    pub(super) skipped: Box<[Skipped]>,
}

pub(super) struct EnumPlan {
    pub(super) type_path: &'static str,
    /// Set when the type declares invariants that a decoded value must pass.
    pub(super) invariants: Option<&'static Shape>,
    pub(super) tag: Tag,
    pub(super) variants: Box<[VariantPlan]>,
}

pub(super) struct VariantPlan {
    pub(super) discriminant: i64,
    pub(super) fields: Box<[Field]>,
    pub(super) skipped: Box<[Skipped]>,
}

/// Width and signedness of an enum's in-memory discriminant.
#[derive(Clone, Copy, Debug)]
pub(super) enum Tag {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
}

/// A variant's or struct's fields: those on the wire, then those skipped.
type FieldLists = (Box<[Field]>, Box<[Skipped]>);

struct Builder {
    nodes: Vec<Node>,
    seen: HashMap<ConstTypeId, NodeId>,
}

fn type_path(shape: &'static Shape) -> String {
    match shape.module_path {
        Some(module) => format!("{module}::{shape}"),
        None => shape.to_string(),
    }
}

fn unsupported(shape: &'static Shape, reason: &'static str) -> PlanError {
    PlanError {
        codec: "postcard",
        type_path: type_path(shape),
        reason,
    }
}

impl Builder {
    fn push(&mut self, node: Node) -> Result<NodeId, PlanError> {
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| PlanError {
            codec: "postcard",
            type_path: String::from("<plan>"),
            reason: "too many nested types",
        })?;
        self.nodes.push(node);
        Ok(id)
    }

    fn slot(&mut self, shape: &'static Shape) -> Result<Slot, PlanError> {
        let layout = shape
            .layout
            .sized_layout()
            .map_err(|_| unsupported(shape, "unsized types cannot be carried by value"))?;
        let node = self.node(shape)?;
        let leaf = match self.nodes[node as usize] {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        };
        Ok(Slot {
            node,
            leaf,
            shape,
            size: layout.size(),
            align: layout.align(),
        })
    }

    fn node(&mut self, shape: &'static Shape) -> Result<NodeId, PlanError> {
        if let Some(&id) = self.seen.get(&shape.id) {
            return Ok(id);
        }
        if shape.proxy.is_some() || shape.opaque_adapter.is_some() {
            return Err(unsupported(shape, "container proxies are not supported"));
        }
        if let Some(node) = leaf(shape) {
            let id = self.push(node)?;
            self.seen.insert(shape.id, id);
            return Ok(id);
        }
        // Register before compiling children so recursive types terminate.
        let id = self.push(Node::Pending)?;
        self.seen.insert(shape.id, id);
        let node = self.compound(shape)?;
        self.nodes[id as usize] = node;
        Ok(id)
    }

    fn compound(&mut self, shape: &'static Shape) -> Result<Node, PlanError> {
        match shape.def {
            Def::Option(def) => {
                return Ok(Node::Option {
                    def,
                    inner: self.slot(def.t)?,
                });
            }
            Def::Result(def) => {
                return Ok(Node::Result {
                    def,
                    ok: self.slot(def.t)?,
                    err: self.slot(def.e)?,
                });
            }
            Def::List(def) => {
                if def.init_in_place_with_capacity().is_none() {
                    return Err(unsupported(shape, "list type cannot be built in place"));
                }
                return Ok(Node::List {
                    def,
                    elem: self.slot(def.t)?,
                    shape,
                });
            }
            Def::Array(def) => {
                return Ok(Node::Array {
                    len: def.n,
                    elem: self.slot(def.t)?,
                });
            }
            Def::Map(def) => {
                if def.vtable.iter_vtable.init_with_value.is_none() {
                    return Err(unsupported(shape, "map type cannot be iterated"));
                }
                return Ok(Node::Map {
                    def,
                    key: self.slot(def.k)?,
                    value: self.slot(def.v)?,
                    shape,
                });
            }
            Def::Set(def) => {
                if def.vtable.iter_vtable.init_with_value.is_none() {
                    return Err(unsupported(shape, "set type cannot be iterated"));
                }
                return Ok(Node::Set {
                    def,
                    elem: self.slot(def.t)?,
                    shape,
                });
            }
            Def::Pointer(def) => {
                let Some(pointee) = def.pointee() else {
                    return Err(unsupported(shape, "opaque pointer"));
                };
                if def.vtable.borrow_fn.is_none() {
                    return Err(unsupported(shape, "pointer cannot be borrowed"));
                }
                return Ok(Node::Pointer {
                    def,
                    pointee: self.slot(pointee)?,
                    shape,
                });
            }
            _ => {}
        }
        match shape.ty {
            Type::User(UserType::Struct(st)) => {
                let (fields, skipped) = self.fields(shape, st.fields)?;
                Ok(Node::Struct(StructPlan {
                    type_path: shape.type_identifier,
                    invariants: has_invariants(shape).then_some(shape),
                    fields,
                    skipped,
                }))
            }
            Type::User(UserType::Enum(en)) => {
                if shape.is_untagged() {
                    return Err(unsupported(shape, "untagged enums carry no variant index"));
                }
                let tag = match en.enum_repr {
                    EnumRepr::U8 => Tag::U8,
                    EnumRepr::U16 => Tag::U16,
                    EnumRepr::U32 => Tag::U32,
                    EnumRepr::U64 | EnumRepr::USize if usize::BITS == 64 => Tag::U64,
                    EnumRepr::USize => Tag::U32,
                    EnumRepr::I8 => Tag::I8,
                    EnumRepr::I16 => Tag::I16,
                    EnumRepr::I32 => Tag::I32,
                    EnumRepr::I64 | EnumRepr::ISize if usize::BITS == 64 => Tag::I64,
                    EnumRepr::ISize => Tag::I32,
                    _ => {
                        return Err(unsupported(
                            shape,
                            "enums need an explicit integer repr such as #[repr(u8)]",
                        ));
                    }
                };
                let mut variants = Vec::with_capacity(en.variants.len());
                for variant in en.variants {
                    let Some(discriminant) = variant.discriminant else {
                        return Err(unsupported(shape, "enum variant has no known discriminant"));
                    };
                    let (fields, skipped) = self.fields(shape, variant.data.fields)?;
                    variants.push(VariantPlan {
                        discriminant,
                        fields,
                        skipped,
                    });
                }
                Ok(Node::Enum(EnumPlan {
                    type_path: shape.type_identifier,
                    invariants: has_invariants(shape).then_some(shape),
                    tag,
                    variants: variants.into_boxed_slice(),
                }))
            }
            _ => Err(unsupported(shape, "no postcard mapping for this type")),
        }
    }

    fn fields(
        &mut self,
        owner: &'static Shape,
        fields: &'static [facet::Field],
    ) -> Result<FieldLists, PlanError> {
        let mut wire = Vec::with_capacity(fields.len());
        let mut skipped = Vec::new();
        for field in fields {
            if field.is_flattened() {
                return Err(unsupported(owner, "flattened fields are not supported"));
            }
            if field.has_any_proxy() {
                return Err(unsupported(owner, "field proxies are not supported"));
            }
            let shape = field.shape();
            if field.flags.contains(FieldFlags::SKIP) {
                let custom = match field.default {
                    Some(facet::DefaultSource::Custom(f)) => Some(f),
                    _ => None,
                };
                if custom.is_none() && !has_default(shape) {
                    return Err(unsupported(owner, "a skipped field needs a default value"));
                }
                skipped.push(Skipped {
                    offset: field.offset,
                    shape,
                    custom,
                });
                continue;
            }
            wire.push(Field {
                offset: field.offset,
                slot: self.slot(shape)?,
            });
        }
        Ok((wire.into_boxed_slice(), skipped.into_boxed_slice()))
    }
}

fn has_invariants(shape: &'static Shape) -> bool {
    match shape.vtable {
        facet::VTableErased::Direct(vt) => vt.invariants.is_some(),
        facet::VTableErased::Indirect(vt) => vt.invariants.is_some(),
    }
}

fn has_default(shape: &'static Shape) -> bool {
    match shape.type_ops {
        Some(facet::TypeOps::Direct(ops)) => ops.default_in_place.is_some(),
        Some(facet::TypeOps::Indirect(ops)) => ops.default_in_place.is_some(),
        None => false,
    }
}

/// Nodes that need no children: scalars, strings and byte buffers.
fn leaf(shape: &'static Shape) -> Option<Node> {
    let id = shape.id;
    if id == <Vec<u8> as facet::Facet>::SHAPE.id {
        return Some(Node::VecU8);
    }
    if id == <bytes::Bytes as facet::Facet>::SHAPE.id {
        return Some(Node::Bytes);
    }
    if id == <bytes::BytesMut as facet::Facet>::SHAPE.id {
        return Some(Node::BytesMut);
    }
    if id == <core::marker::PhantomData<()> as facet::Facet>::SHAPE.id {
        return Some(Node::Unit);
    }
    let scalar = match shape.scalar_type()? {
        ScalarType::Unit => return Some(Node::Unit),
        ScalarType::String => return Some(Node::String),
        ScalarType::Str => return Some(Node::Str),
        ScalarType::CowStr => return Some(Node::CowStr),
        ScalarType::Bool => Scalar::Bool,
        ScalarType::Char => Scalar::Char,
        ScalarType::F32 => Scalar::F32,
        ScalarType::F64 => Scalar::F64,
        ScalarType::U8 => Scalar::U8,
        ScalarType::U16 => Scalar::U16,
        ScalarType::U32 => Scalar::U32,
        ScalarType::U64 => Scalar::U64,
        ScalarType::U128 => Scalar::U128,
        ScalarType::USize => Scalar::Usize,
        ScalarType::I8 => Scalar::I8,
        ScalarType::I16 => Scalar::I16,
        ScalarType::I32 => Scalar::I32,
        ScalarType::I64 => Scalar::I64,
        ScalarType::I128 => Scalar::I128,
        ScalarType::ISize => Scalar::Isize,
        _ => return None,
    };
    Some(Node::Scalar(scalar))
}

/// Fewest wire bytes of each node, by fixpoint over the (possibly cyclic) node graph.
fn min_wire_sizes(nodes: &[Node]) -> Box<[usize]> {
    let mut min = vec![usize::MAX; nodes.len()].into_boxed_slice();
    loop {
        let mut changed = false;
        for (i, node) in nodes.iter().enumerate() {
            let of = |slot: &Slot| min[slot.node as usize];
            let sum = |fields: &[Field]| {
                fields
                    .iter()
                    .fold(0usize, |acc, f| acc.saturating_add(of(&f.slot)))
            };
            let value = match node {
                Node::Unit => 0,
                Node::Scalar(s) => match s {
                    Scalar::F32 => 4,
                    Scalar::F64 => 8,
                    Scalar::Char => 2,
                    _ => 1,
                },
                Node::String
                | Node::Str
                | Node::CowStr
                | Node::VecU8
                | Node::Bytes
                | Node::BytesMut
                | Node::Option { .. }
                | Node::Result { .. }
                | Node::List { .. }
                | Node::Map { .. }
                | Node::Set { .. } => 1,
                Node::Struct(st) => sum(&st.fields),
                Node::Enum(en) => en
                    .variants
                    .iter()
                    .map(|v| sum(&v.fields))
                    .min()
                    .unwrap_or(0)
                    .saturating_add(1),
                Node::Array { len, elem } => of(elem).saturating_mul(*len),
                Node::Pointer { pointee, .. } => of(pointee),
                Node::Pending => 0,
            };
            if value < min[i] {
                min[i] = value;
                changed = true;
            }
        }
        if !changed {
            return min;
        }
    }
}
