//! Prism: low-latency RPC for internal Rust services.
//!
//! A service is a plain Rust trait; type-shape reflection ([`facet`]) turns
//! its types into schemas, fingerprints, operation ids and codec bindings;
//! each operation picks its codec; transports only move frames.
//!
//! This crate is the one dependency users need. Today it offers the
//! reflection layer ([`Schema`], [`fingerprint`], [`OpId`], descriptors) and
//! the codec layer ([`Codec`], [`Encode`], [`Decode`], [`Payload`], the
//! [`postcard`] codec compiled from facet shapes). The service macro,
//! sessions and transports arrive next (see the README's status table).
//!
//! Types derive [`Facet`] through this crate; tell the derive where facet
//! lives with `#[facet(crate = prism::facet)]` so no direct `facet`
//! dependency is needed:
//!
//! ```
//! use prism::Facet;
//!
//! #[derive(Facet, Debug, PartialEq)]
//! #[facet(crate = prism::facet)]
//! struct Point {
//!     x: i32,
//!     y: i32,
//! }
//!
//! let bytes = prism::postcard::to_vec(&Point { x: 1, y: 2 })?;
//! let back: Point = prism::postcard::from_slice(&bytes)?;
//! assert_eq!(back, Point { x: 1, y: 2 });
//! println!("{}", prism::Schema::of::<Point>()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// The reflection crate Prism builds on, re-exported so derives can name it
/// (`#[facet(crate = prism::facet)]`).
pub use facet;
#[doc(inline)]
pub use facet::Facet;

#[doc(inline)]
pub use prism_reflect::{
    CodecId, FieldDef, ManifestEntry, OpDescriptor, OpId, OpKind, OpTable, PermissionManifest,
    ReflectError, Schema, ServiceDescriptor, Ty, TypeDef, TypeDefKind, VariantDef, VariantKind,
    canonical_form, fingerprint,
};

#[doc(inline)]
pub use prism_codecs::{
    Capabilities, Codec, CodecInfo, CodecRegistry, Decode, DecodeError, Encode, EncodeBuf,
    EncodeError, Encoded, Limits, Payload, PlanError, Postcard, RegistryError, View, postcard,
};

// Keeps the README's Rust examples compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[allow(dead_code)]
struct ReadmeDoctests;
