//! The segments codec: a small typed header plus raw body segments, for
//! payloads that are mostly bytes (tensors, file chunks, sparse ranges).
//!
//! The header is encoded with postcard; the segments are `Bytes` that are
//! never concatenated: the encoder hands each one to the transport as its
//! own segment (written with vectored I/O, passed by reference count in
//! memory), and the decoder returns slices of the received buffer for
//! segments of at least [`SHARE_BYTES_AT`](crate::postcard::SHARE_BYTES_AT)
//! (32 KiB) and for the very buffers an in-process sender wrote; smaller
//! segments from a byte stream are copied (aligned), so keeping one does
//! not keep the receive buffer alive. A shared segment keeps the payload it
//! came in alive: copy it out to keep a small part of a large message.
//!
//! Layout (little-endian), with every segment starting 16-byte aligned when
//! the payload does:
//!
//! ```text
//! u32        header length in bytes (h)
//! u32        segment count (n)
//! u64 × n    segment lengths
//! h bytes    the header, postcard
//! padding    zeros up to a multiple of 16
//! for each segment: its bytes, then zeros up to a multiple of 16
//! ```
//!
//! Decoding checks every length against the payload and every padding
//! byte to be zero, and refuses bytes after the last segment's padding.
//!
//! Use [`Segmented<H>`] directly with the built-in [`Segments`] codec, or build
//! your own codec on [`write()`] and [`read()`] (see `examples/tensor_codec/`).
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use facet::Facet;
//! use prism_codecs::segments::{Segments, Segmented};
//! use prism_codecs::{Decode, Encode, EncodeBuf, Limits, Payload};
//!
//! #[derive(Facet, Debug, PartialEq)]
//! struct Chunk {
//!     file: String,
//!     offset: u64,
//! }
//!
//! let data = Bytes::from(vec![7u8; 4096]);
//! let message = Segmented { header: Chunk { file: "a.bin".into(), offset: 0 }, segments: vec![data.clone()] };
//! let mut buf = EncodeBuf::new();
//! Encode::<Segments>::encode(&message, &mut buf, &Limits::default())?;
//! let encoded = buf.finish();
//! // The data went out as its own segment, not copied.
//! assert!(encoded.segments().any(|s| s.as_ptr() == data.as_ptr()));
//!
//! let payload = Payload::new(encoded.into_bytes());
//! let back: Segmented<Chunk> = Decode::<Segments>::decode(&payload, &Limits::default())?;
//! assert_eq!(back, message);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod layout;

use bytes::{BufMut, Bytes};
use facet::Facet;
use prism_core::CodecId;
use prism_core::aligned::{ALIGN, padding};

use crate::{
    Capabilities, Codec, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Limits, Payload,
    postcard,
};

pub use layout::MAX_SEGMENTS;

/// The built-in segments codec marker: carries [`Segmented<H>`] messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Segments;

impl Codec for Segments {
    const ID: CodecId = CodecId::SEGMENTS;
    const NAME: &'static str = crate::codec::builtin_name(Self::ID);
    const CAPABILITIES: Capabilities = Capabilities::NONE.with_zero_copy(true);
}

/// A message of the segments codec: a typed header and raw segments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Facet)]
pub struct Segmented<H> {
    /// Small structured metadata: shapes, dtypes, offsets, ranges.
    pub header: H,
    /// The bulk bytes, carried as they are.
    pub segments: Vec<Bytes>,
}

impl<H: Facet<'static>> Encode<Segments> for Segmented<H> {
    fn encode(&self, out: &mut EncodeBuf, limits: &Limits) -> Result<(), EncodeError> {
        write(out, &self.header, &self.segments, limits)
    }
}

impl<H: Facet<'static>> Decode<Segments> for Segmented<H> {
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        let (header, segments) = read(payload, limits)?;
        Ok(Segmented { header, segments })
    }
}

const PAD: [u8; ALIGN] = [0; ALIGN];

/// Writes a header and segments in the segments layout; segments are handed
/// to `out` by reference count, never copied.
///
/// # Errors
///
/// Fails when the header cannot be encoded, there are more than
/// [`MAX_SEGMENTS`] segments, or a length does not fit the layout.
pub fn write<H: Facet<'static>>(
    out: &mut EncodeBuf,
    header: &H,
    segments: &[Bytes],
    limits: &Limits,
) -> Result<(), EncodeError> {
    let too_big = |what: &str| EncodeError::Codec {
        codec: "segments",
        message: format!("{what} does not fit the segments layout"),
    };
    if segments.len() > MAX_SEGMENTS {
        return Err(too_big("the segment count"));
    }
    let mut header_bytes = bytes::BytesMut::new();
    postcard::encode_into(header, &mut header_bytes, limits)?;
    let header_len = u32::try_from(header_bytes.len()).map_err(|_| too_big("the header"))?;
    let count = segments.len() as u32;

    let tail = out.tail();
    let prefix = 8 + 8 * segments.len() + header_bytes.len();
    tail.reserve(prefix + 15);
    tail.put_u32_le(header_len);
    tail.put_u32_le(count);
    for segment in segments {
        tail.put_u64_le(segment.len() as u64);
    }
    tail.put_slice(&header_bytes);
    tail.put_slice(&PAD[..padding(prefix)]);
    for segment in segments {
        out.push_segment(segment.clone());
        out.tail().put_slice(&PAD[..padding(segment.len())]);
    }
    Ok(())
}

/// Reads a header and segments written by [`write()`]. Segments of 32 KiB
/// or more are slices of the payload (and, from an in-process link, the
/// very buffers the sender wrote, whatever their size); smaller ones, and
/// one that straddles two received pieces, are copied (aligned). The header
/// is read in place.
///
/// # Errors
///
/// Fails on a truncated or inconsistent layout, trailing bytes, a header
/// that does not decode, or more segments than [`MAX_SEGMENTS`].
pub fn read<H: Facet<'static>>(
    payload: &Payload,
    limits: &Limits,
) -> Result<(H, Vec<Bytes>), DecodeError> {
    let layout = layout::Layout::parse(payload, limits)?;
    // Read in place: the header is decoded, never kept.
    let header_bytes = layout::borrow(payload, layout.header.clone());
    let header = postcard::from_slice_with(&header_bytes, limits)?;
    let segments = layout
        .segments
        .iter()
        .map(|range| layout.range(payload, range.clone()))
        .collect();
    Ok((header, segments))
}
