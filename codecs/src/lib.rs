//! Prism codecs: one trait family, many wire formats.
//!
//! A codec is a marker type implementing [`Codec`]; values become encodable
//! with it through [`Encode`] / [`Decode`] (owned) and [`View`] (zero-copy).
//! Encoders write into an [`EncodeBuf`] whose segments reach the transport
//! without copies; decoders read a [`Payload`], which owns its bytes and
//! starts 16-byte aligned. Every decoder honours [`Limits`] and returns a
//! typed error on bad input, never a panic.
//!
//! The default codec, [`Postcard`], is compiled from facet shapes: a plan is
//! built once per type and cached, and encodes and decodes byte-for-byte like
//! `facet-postcard`.
//!
//! # Examples
//!
//! ```
//! use facet::Facet;
//! use prism_codecs::postcard;
//!
//! #[derive(Facet, Debug, PartialEq)]
//! struct Point {
//!     x: i32,
//!     y: i32,
//! }
//!
//! let bytes = postcard::to_vec(&Point { x: 1, y: -1 })?;
//! assert_eq!(bytes, [2, 1]);
//! let back: Point = postcard::from_slice(&bytes)?;
//! assert_eq!(back, Point { x: 1, y: -1 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod codec_set;
pub mod conformance;
mod encode_buf;
mod error;
pub mod flatbuffers;
mod limits;
#[allow(unsafe_code)] // Plans are run on raw pointers: see the module docs.
pub mod postcard;
mod registry;
pub mod rkyv;
pub mod segments;

#[doc(inline)]
pub use crate::flatbuffers::FlatBuffers;
#[doc(inline)]
pub use codec::{Capabilities, Codec, CodecInfo, Decode, Encode, View};
#[doc(inline)]
pub use codec_set::{CodecSet, DecodeAs, EncodeAs, names as codec_names};
#[doc(inline)]
pub use encode_buf::EncodeBuf;
#[doc(inline)]
pub use error::{DecodeError, EncodeError, PlanError, RegistryError};
#[doc(inline)]
pub use limits::Limits;
#[doc(inline)]
pub use postcard::Postcard;
#[doc(inline)]
pub use prism_core::CodecId;
#[doc(inline)]
pub use prism_core::Payload;
#[doc(inline)]
pub use registry::CodecRegistry;
#[doc(inline)]
pub use rkyv::{Archived, Rkyv};
#[doc(inline)]
pub use segments::{Segmented, Segments};

/// The codecs built into this version of Prism.
pub const BUILTIN_CODECS: &[CodecInfo] = &[
    CodecInfo {
        id: <Postcard as Codec>::ID,
        name: <Postcard as Codec>::NAME,
        capabilities: <Postcard as Codec>::CAPABILITIES,
    },
    CodecInfo {
        id: <Rkyv as Codec>::ID,
        name: <Rkyv as Codec>::NAME,
        capabilities: <Rkyv as Codec>::CAPABILITIES,
    },
    CodecInfo {
        id: <FlatBuffers as Codec>::ID,
        name: <FlatBuffers as Codec>::NAME,
        capabilities: <FlatBuffers as Codec>::CAPABILITIES,
    },
    CodecInfo {
        id: <segments::Segments as Codec>::ID,
        name: <segments::Segments as Codec>::NAME,
        capabilities: <segments::Segments as Codec>::CAPABILITIES,
    },
];
