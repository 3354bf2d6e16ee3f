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
/// use prism_core::CodecId;
///
/// let id = CodecId::new(0x8001);
/// assert!(id.is_user());
/// assert_eq!(id.to_string(), "0x8001");
/// assert!(!CodecId::POSTCARD.is_user());
/// assert_eq!(CodecId::POSTCARD.to_string(), "postcard");
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
    pub const SEGMENTS: CodecId = CodecId(4);
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

    /// The name of a built-in codec (`postcard`, `rkyv`, `flatbuffers`,
    /// `segments`); `None` for other ids.
    pub const fn builtin_name(self) -> Option<&'static str> {
        match self {
            CodecId::POSTCARD => Some("postcard"),
            CodecId::RKYV => Some("rkyv"),
            CodecId::FLATBUFFERS => Some("flatbuffers"),
            CodecId::SEGMENTS => Some("segments"),
            _ => None,
        }
    }
}

impl fmt::Debug for CodecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodecId({:#06x})", self.0)
    }
}

/// A built-in codec's name, or the id in hex (`0x8001`) for others.
impl fmt::Display for CodecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.builtin_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}
