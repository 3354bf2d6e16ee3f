//! Wire schemas: a language-neutral description of a type, derived from its
//! facet [`Shape`].
//!
//! A [`Schema`] is a root [`Ty`] plus a table of named [`TypeDef`]s (structs
//! and enums). It describes what goes on the wire, not how the Rust type is
//! spelled: string types collapse to [`Ty::String`], byte buffers to
//! [`Ty::Bytes`], smart pointers and transparent newtypes to what they hold,
//! and skipped fields are left out. It renders as text through `Display`
//! and as JSON through [`Schema::to_json`].

mod json;
mod render;
mod ty;
mod walk;

use facet::{Facet, Shape};

use crate::ReflectError;

pub use json::SCHEMA_JSON_VERSION;
pub use ty::{FieldDef, Ty, TypeDef, TypeDefKind, VariantDef, VariantKind};

/// The wire description of one type: a root [`Ty`] and the named types it
/// reaches.
///
/// Named types are numbered in first-visit order (depth first, fields in
/// declaration order), so the root struct or enum, if any, is `types[0]`.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_reflect::{Schema, Ty};
///
/// #[derive(Facet)]
/// struct Node {
///     label: String,
///     children: Vec<Node>,
/// }
///
/// let schema = Schema::of::<Node>().unwrap();
/// assert_eq!(schema.root, Ty::Named(0));
/// let text = schema.to_string();
/// assert!(text.starts_with("struct "));
/// assert!(text.contains("Node { label: string, children: list<"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Schema {
    /// The type itself.
    pub root: Ty,
    /// The named types, indexed by [`Ty::Named`].
    pub types: Vec<TypeDef>,
}

impl Schema {
    /// The schema of `T`.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when `T` reaches a shape with no wire
    /// description (see [`Schema::from_shape`]).
    pub fn of<'a, T: Facet<'a>>() -> Result<Schema, ReflectError> {
        Self::from_shape(T::SHAPE)
    }

    /// The schema of the type described by `shape`.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`], naming the offending type and where it
    /// was met, for opaque types, unions, dynamic values, untagged or numeric
    /// enums, proxies, flattened fields, and pointer kinds other than `Box`,
    /// `Rc`, `Arc`, `Cow`, `&T` and `&mut T`. Never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use facet::Facet;
    /// use prism_reflect::{Schema, Ty};
    ///
    /// let schema = Schema::from_shape(<Option<Box<str>> as Facet>::SHAPE).unwrap();
    /// assert_eq!(schema.root, Ty::Option(Box::new(Ty::String)));
    /// ```
    pub fn from_shape(shape: &'static Shape) -> Result<Schema, ReflectError> {
        walk::build(shape)
    }

    /// The named type `Ty::Named(index)` refers to.
    pub fn get(&self, index: usize) -> Option<&TypeDef> {
        self.types.get(index)
    }
}

#[cfg(test)]
mod tests;
