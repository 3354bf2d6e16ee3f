//! Frame payloads: one or more byte segments, never copied by the transport.

use bytes::Bytes;

/// A frame's payload.
///
/// Outgoing payloads may be several segments (a header the codec wrote plus
/// raw buffers it handed over); links write them with vectored I/O. Incoming
/// payloads are one segment that starts 16-byte aligned whenever the link
/// could arrange it.
///
/// `Debug` shows lengths only: payload bytes never reach logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body {
    first: Bytes,
    rest: Vec<Bytes>,
}

impl Body {
    /// An empty payload.
    pub const fn empty() -> Body {
        Body {
            first: Bytes::new(),
            rest: Vec::new(),
        }
    }

    /// A payload of several segments, in order.
    pub fn from_segments(first: Bytes, rest: Vec<Bytes>) -> Body {
        Body { first, rest }
    }

    /// Takes the payload apart: the first segment, then the rest in order.
    pub fn into_parts(self) -> (Bytes, Vec<Bytes>) {
        (self.first, self.rest)
    }

    /// The segments in order.
    pub fn segments(&self) -> impl Iterator<Item = &Bytes> {
        core::iter::once(&self.first).chain(self.rest.iter())
    }

    /// How many segments there are.
    pub fn segment_count(&self) -> usize {
        1 + self.rest.len()
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.first.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload as one buffer; copies only when there are several segments.
    pub fn into_contiguous(self) -> Bytes {
        if self.rest.is_empty() {
            return self.first;
        }
        let mut out = Vec::with_capacity(self.len());
        for segment in core::iter::once(&self.first).chain(self.rest.iter()) {
            out.extend_from_slice(segment);
        }
        Bytes::from(out)
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body {
            first: bytes,
            rest: Vec::new(),
        }
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(bytes))
    }
}

impl core::fmt::Debug for Body {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Body")
            .field("len", &self.len())
            .field("segments", &self.segment_count())
            .finish()
    }
}
