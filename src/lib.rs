//! Prism: low-latency RPC for internal Rust services.
//!
//! A service is a plain async Rust trait under [`#[prism::service]`](service).
//! Type-shape reflection ([`facet`]) turns its types into schemas,
//! fingerprints, op ids and codec bindings; each op is encoded with its
//! codec (postcard, compiled from facet shapes, by default); and the
//! transports underneath (in-memory, TCP, Unix) only move frames.
//!
//! ```no_run
//! use prism::{Channel, Facet, Server};
//!
//! #[derive(Facet, Debug)]
//! #[facet(crate = prism::facet)]
//! #[repr(u8)]
//! pub enum DivError {
//!     DivideByZero,
//! }
//!
//! #[prism::service(package = "demo")]
//! pub trait Calc {
//!     /// Adds two numbers.
//!     async fn add(&self, a: i64, b: i64) -> i64;
//!     /// Divides, failing on zero.
//!     async fn div(&self, a: i64, b: i64) -> Result<i64, DivError>;
//! }
//!
//! struct MyCalc;
//!
//! impl Calc for MyCalc {
//!     async fn add(&self, a: i64, b: i64) -> i64 {
//!         a + b
//!     }
//!     async fn div(&self, a: i64, b: i64) -> Result<i64, DivError> {
//!         a.checked_div(b).ok_or(DivError::DivideByZero)
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = Server::builder()
//!     .add_service(CalcServer::new(MyCalc))
//!     .allow_plaintext()
//!     .build()?;
//! tokio::spawn(async move { server.serve_tcp(listener).await });
//!
//! let channel = Channel::builder().allow_plaintext().connect_tcp(addr).await?;
//! let calc = CalcClient::new(channel);
//! assert_eq!(calc.add(2, 3).await?, 5);
//! assert!(calc.div(1, 0).await?.is_err());
//! # Ok(()) }
//! # fn main() {} // services are declared at module level, not in a function
//! ```
//!
//! Types derive [`Facet`] through this crate: `#[facet(crate = prism::facet)]`
//! tells the derive where facet lives, so no direct `facet` dependency is needed.

mod checks;
mod client;
mod context;
mod error;
mod response;
mod server;
mod status;

/// The reflection crate Prism builds on, re-exported so derives can name it
/// (`#[facet(crate = prism::facet)]`).
pub use facet;
#[doc(inline)]
pub use facet::Facet;
/// The rkyv crate behind the rkyv codec, re-exported so derives can name it
/// (`#[derive(prism::rkyv::Archive, ..)] #[rkyv(crate = prism::rkyv)]`).
pub use rkyv;

#[doc(inline)]
pub use prism_macros::service;

#[doc(inline)]
pub use client::{CallFuture, Channel, ChannelBuilder, UnaryCall};
#[doc(inline)]
pub use context::Context;
#[doc(inline)]
pub use error::{BuildError, ConnectError, ServeError};
#[doc(inline)]
pub use response::{Fallible, FromReply, IntoReply, Plain, Viewed};
#[doc(inline)]
pub use server::{Server, ServerBuilder};
#[doc(inline)]
pub use status::{Code, Status};

#[doc(inline)]
pub use prism_reflect::{
    CodecId, FieldDef, ManifestEntry, OpDescriptor, OpId, OpKind, OpTable, PermissionManifest,
    ReflectError, Schema, ServiceDescriptor, Ty, TypeDef, TypeDefKind, VariantDef, VariantKind,
    canonical_form, fingerprint,
};

#[doc(inline)]
pub use prism_codecs::{
    Archived, Capabilities, Codec, CodecInfo, CodecRegistry, CodecSet, Decode, DecodeAs,
    DecodeError, Encode, EncodeAs, EncodeBuf, EncodeError, Encoded, FlatBuffers, Frame, Framed,
    Limits, Payload, PlanError, Postcard, RegistryError, Rkyv, View, flatbuffers, frame, postcard,
};

/// Transports: links, session settings, and the in-memory pair.
pub mod transport {
    #[doc(inline)]
    pub use prism_transport::session::SessionConfig;
    #[doc(inline)]
    pub use prism_transport::{Link, LinkInfo, LinkKind, SecurityProperties};
}

/// The in-memory transport: a connected pair of links in one process.
/// Payloads pass by reference count, never copied.
pub mod mem {
    #[doc(inline)]
    pub use prism_transport::mem::{MemLink, pair};
}

/// Items the `#[prism::service]` macro expands to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::checks::{CarriedBy, ViewedBy, carried_by, viewed_by};
    pub use crate::server::{Dispatch, Dispatched, Incoming, unary, unary_view, unknown_op};
    pub use ::facet;
    pub use ::rkyv;
    pub use std::sync::Arc;
}

// Keeps the README's Rust examples compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[allow(dead_code)]
struct ReadmeDoctests;
