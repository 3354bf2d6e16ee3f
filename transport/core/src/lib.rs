//! The vocabulary every Prism layer shares.
//!
//! Codecs, the sans-IO protocol, the transports and the runtime all speak
//! in these types, so a message or a reply has one shape from the codec
//! that made it to the caller that reads it:
//!
//! - [`Payload`]: the bytes of one message, as one or more segments that
//!   are never copied on the way; read as one 16-byte aligned slice when a
//!   codec needs it ([`aligned`] has the buffer helpers).
//! - [`CodecId`]: which codec made a payload, an opaque number to the
//!   transport.
//! - [`Code`] and [`Status`]: why a call failed, in the manner of gRPC.
//! - [`Response`] and [`Reply`]: how a call ended, from the handler's
//!   return to the caller's decode.
//! - [`Extensions`]: typed values a layer attaches to a connection or a call.
//! - [`Metadata`]: key–value pairs a caller sends beside a call's request
//!   (never credentials).
//!
//! This crate has no I/O, no async code and one dependency (`bytes`).

pub mod aligned;
mod code;
mod codec_id;
mod extensions;
mod metadata;
mod payload;
mod reply;
mod status;

#[doc(inline)]
pub use code::Code;
#[doc(inline)]
pub use codec_id::CodecId;
#[doc(inline)]
pub use extensions::Extensions;
#[doc(inline)]
pub use metadata::{MAX_KEY_LEN, MAX_METADATA_ENTRIES, MAX_METADATA_LEN, Metadata, MetadataError};
#[doc(inline)]
pub use payload::Payload;
#[doc(inline)]
pub use reply::{Reply, Response};
#[doc(inline)]
pub use status::Status;
