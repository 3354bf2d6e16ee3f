//! Prism reflection: turns [facet] shapes into wire-level metadata.
//!
//! - [`Schema`]: a language-neutral, recursion-safe description of a type
//!   (structs, enums, lists, maps, options, tuples, bytes, scalars), derived
//!   from its facet [`Shape`](facet::Shape), rendered as text or JSON.
//! - [`fingerprint`]: a stable 64-bit digest of a schema's canonical form;
//!   it changes when the wire meaning changes, not when a type is renamed.
//! - [`OpId`]: a `const` 64-bit id from `package.Service/method`.
//! - [`OpDescriptor`] / [`ServiceDescriptor`]: static op metadata built by
//!   the service macro; [`OpTable`] indexes it and rejects id collisions.
//! - [`PermissionManifest`]: every op with its permission, as JSON.
//!
//! This crate does no I/O and runs no async code.
//!
//! # Examples
//!
//! ```
//! use facet::Facet;
//! use prism_reflect::{Schema, fingerprint};
//!
//! /// A point on the plane.
//! #[derive(Facet)]
//! struct Point {
//!     x: i32,
//!     y: i32,
//! }
//!
//! let schema = Schema::of::<Point>()?;
//! println!("{schema}"); // struct <crate>::Point { x: i32, y: i32 }
//! assert!(schema.to_string().ends_with("Point { x: i32, y: i32 }"));
//!
//! let fp = fingerprint(<Point as Facet>::SHAPE)?;
//! assert_eq!(fp, schema.fingerprint());
//! # Ok::<(), prism_reflect::ReflectError>(())
//! ```

mod descriptor;
mod error;
mod fingerprint;
mod hash;
mod manifest;
mod op;
mod registry;
mod schema;
mod service;

#[doc(inline)]
pub use descriptor::{Access, OpDescriptor};
#[doc(inline)]
pub use error::{ReflectError, Unsupported};
#[doc(inline)]
pub use fingerprint::{FINGERPRINT_VERSION_TAG, canonical_form, fingerprint};
#[doc(inline)]
pub use hash::{Fnv1a64, fnv1a_64};
#[doc(inline)]
pub use manifest::{MANIFEST_JSON_VERSION, ManifestEntry, PermissionManifest};
#[doc(inline)]
pub use op::{OpId, OpKind};
#[doc(inline)]
pub use prism_core::CodecId;
#[doc(inline)]
pub use registry::OpTable;
#[doc(inline)]
pub use schema::{
    FieldDef, SCHEMA_JSON_VERSION, Schema, Ty, TypeDef, TypeDefKind, VariantDef, VariantKind,
};
#[doc(inline)]
pub use service::ServiceDescriptor;
