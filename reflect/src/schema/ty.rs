//! The data model of a wire schema: [`Ty`], [`TypeDef`] and their parts.

/// A wire-level type.
///
/// Rust types that look alike on the wire collapse to one `Ty` (every string
/// type is [`Ty::String`], every byte buffer is [`Ty::Bytes`], `Box<T>` is `T`).
/// `usize` and `isize` are folded into [`Ty::U64`] and [`Ty::I64`]: postcard
/// writes them as 64-bit varints, so a 32-bit and a 64-bit peer agree.
/// Structs and enums are [`Ty::Named`] references into
/// [`Schema::types`](super::Schema::types), which is what keeps recursive
/// types finite.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ty {
    /// `()`.
    Unit,
    /// `bool`.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64` and `usize`.
    U64,
    /// `u128`.
    U128,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64` and `isize`.
    I64,
    /// `i128`.
    I128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// UTF-8 text: `String`, `&str`, `Cow<str>`, `Box<str>`, `Arc<str>`.
    String,
    /// A byte buffer: `Vec<u8>`, `Bytes`, `BytesMut`, `&[u8]`, `Cow<[u8]>`.
    Bytes,
    /// `Option<T>`.
    Option(Box<Ty>),
    /// A variable-length sequence: `Vec<T>`, `&[T]`, `Box<[T]>`.
    List(Box<Ty>),
    /// A fixed-length array `[T; N]`.
    Array {
        /// The element type.
        elem: Box<Ty>,
        /// The number of elements.
        len: u64,
    },
    /// A map such as `HashMap<K, V>` or `BTreeMap<K, V>`.
    Map {
        /// The key type.
        key: Box<Ty>,
        /// The value type.
        value: Box<Ty>,
    },
    /// A set such as `HashSet<T>` or `BTreeSet<T>`.
    Set(Box<Ty>),
    /// A tuple `(A, B, …)` with at least one element.
    Tuple(Vec<Ty>),
    /// `Result<T, E>`.
    Result {
        /// The `Ok` type.
        ok: Box<Ty>,
        /// The `Err` type.
        err: Box<Ty>,
    },
    /// A struct or enum: an index into [`Schema::types`](super::Schema::types).
    Named(usize),
}

impl Ty {
    /// The lowercase keyword for this type's kind, as used in text and JSON
    /// (`"u32"`, `"list"`, `"ref"`, …).
    pub const fn kind_name(&self) -> &'static str {
        match self {
            Ty::Unit => "unit",
            Ty::Bool => "bool",
            Ty::U8 => "u8",
            Ty::U16 => "u16",
            Ty::U32 => "u32",
            Ty::U64 => "u64",
            Ty::U128 => "u128",
            Ty::I8 => "i8",
            Ty::I16 => "i16",
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::I128 => "i128",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
            Ty::Char => "char",
            Ty::String => "string",
            Ty::Bytes => "bytes",
            Ty::Option(_) => "option",
            Ty::List(_) => "list",
            Ty::Array { .. } => "array",
            Ty::Map { .. } => "map",
            Ty::Set(_) => "set",
            Ty::Tuple(_) => "tuple",
            Ty::Result { .. } => "result",
            Ty::Named(_) => "ref",
        }
    }
}

/// A named type: a struct or an enum.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TypeDef {
    /// The Rust path (`module::Type<Args>`), for display only: it is not part
    /// of the fingerprint, so renaming a type does not change the wire.
    pub path: String,
    /// What the type is made of.
    pub kind: TypeDefKind,
    /// Doc comment lines (empty unless facet's `doc` feature is on).
    pub doc: Vec<String>,
}

/// The body of a [`TypeDef`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeDefKind {
    /// `struct S { a: A, b: B }`.
    Struct {
        /// The fields on the wire, in declaration order.
        fields: Vec<FieldDef>,
    },
    /// `struct S(A, B);` — field names are `"0"`, `"1"`, ….
    TupleStruct {
        /// The fields on the wire, in declaration order.
        fields: Vec<FieldDef>,
    },
    /// `struct S;`.
    UnitStruct,
    /// An enum, encoded on the wire by variant index.
    Enum {
        /// The variants in declaration order.
        variants: Vec<VariantDef>,
    },
}

/// One field of a struct or enum variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FieldDef {
    /// The serialized name (`#[facet(rename)]` applied); `"0"`, `"1"`, … for
    /// tuple fields.
    pub name: String,
    /// The field's wire type.
    pub ty: Ty,
    /// Doc comment lines (empty unless facet's `doc` feature is on).
    pub doc: Vec<String>,
}

/// One variant of an enum.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VariantDef {
    /// The position of the variant: what postcard writes on the wire.
    pub index: u32,
    /// The serialized name (`#[facet(rename)]` applied).
    pub name: String,
    /// Whether the variant is a unit, tuple or struct variant.
    pub kind: VariantKind,
    /// The variant's fields (empty for unit variants).
    pub fields: Vec<FieldDef>,
    /// Doc comment lines (empty unless facet's `doc` feature is on).
    pub doc: Vec<String>,
}

/// The field layout of an enum variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VariantKind {
    /// `V`.
    Unit,
    /// `V(A, B)`.
    Tuple,
    /// `V { a: A }`.
    Struct,
}

impl VariantKind {
    /// `"unit"`, `"tuple"` or `"struct"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            VariantKind::Unit => "unit",
            VariantKind::Tuple => "tuple",
            VariantKind::Struct => "struct",
        }
    }
}
