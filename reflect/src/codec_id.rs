//! The wire identity of a codec: a small integer both peers agree on.

use core::fmt;

/// Identifies a codec on the wire.
///
/// Ids below [`CodecId::USER_RANGE_START`] are reserved for Prism's built-in
/// codecs; user codecs take ids from the user range. The transport layer sees
/// a codec id only as an opaque integer in a frame header.
///
/// # Examples
///
/// ```
/// use prism_reflect::CodecId;
///
/// let id = CodecId::new(0x8001);
/// assert!(id.is_user());
/// assert!(!CodecId::POSTCARD.is_user());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CodecId(u16);

impl CodecId {
    /// postcard, compiled from facet shapes: the default codec.
    pub const POSTCARD: CodecId = CodecId(1);
    /// rkyv archives with validated zero-copy views.
    pub const RKYV: CodecId = CodecId(2);
    /// FlatBuffers tables laid out from facet shapes.
    pub const FLATBUFFERS: CodecId = CodecId(3);
    /// A typed header plus raw body segments.
    pub const FRAME: CodecId = CodecId(4);
    /// The first id of the range left to user codecs.
    pub const USER_RANGE_START: u16 = 0x8000;

    /// Wraps a raw codec id.
    pub const fn new(raw: u16) -> Self {
        CodecId(raw)
    }

    /// The raw id as it travels in frame headers.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether this id lies in the user range.
    pub const fn is_user(self) -> bool {
        self.0 >= Self::USER_RANGE_START
    }
}

impl fmt::Debug for CodecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodecId({:#06x})", self.0)
    }
}

impl fmt::Display for CodecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}
