//! Cutting frames out of a byte stream without blocking.

use bytes::{Buf, BytesMut};

use prism_core::Payload;

use super::{DEFAULT_MAX_FRAME, FRAME_ALIGN, Frame, FrameError, FrameHeader, HEADER_LEN, padding};

/// Cuts frames from the front of a receive buffer.
///
/// [`FrameDecoder::decode`] returns `Ok(None)` when the buffer does not yet
/// hold a whole frame ("need more bytes"), a frame when it does, and a typed
/// error for a header no valid peer sends. Payloads are split off the buffer
/// without copying; since frames are padded to 16 bytes, a buffer that
/// starts aligned yields aligned payloads.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use prism_proto::frame::{Frame, FrameDecoder, FrameHeader, FrameKind, encode_frame};
///
/// let mut wire = BytesMut::new();
/// let mut header = FrameHeader::new(FrameKind::Ping);
/// header.aux = 7;
/// encode_frame(&Frame::new(header, b"hi"[..].into()), &mut wire);
///
/// let mut decoder = FrameDecoder::default();
/// let mut partial = wire.split_to(10);
/// assert!(decoder.decode(&mut partial).unwrap().is_none()); // need more bytes
/// partial.unsplit(wire);
/// let frame = decoder.decode(&mut partial).unwrap().unwrap();
/// assert_eq!(frame.header.aux, 7);
/// assert_eq!(frame.payload.into_bytes(), &b"hi"[..]);
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_payload: u32,
    /// The header of a frame whose payload has not fully arrived.
    pending: Option<(FrameHeader, u32)>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder that refuses payloads longer than `max_payload` bytes.
    pub fn new(max_payload: u32) -> Self {
        FrameDecoder {
            max_payload,
            pending: None,
        }
    }

    /// The largest payload accepted.
    pub fn max_payload(&self) -> u32 {
        self.max_payload
    }

    /// The header and payload length of the frame at the front of `buf`,
    /// once its header has arrived. Links use it to read a large payload
    /// straight into a buffer of its own.
    ///
    /// # Errors
    ///
    /// Fails on an invalid header.
    pub fn peek_header(
        &mut self,
        buf: &BytesMut,
    ) -> Result<Option<(FrameHeader, u32)>, FrameError> {
        if let Some(pending) = self.pending {
            return Ok(Some(pending));
        }
        let Some(bytes) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let parsed = FrameHeader::decode(bytes, self.max_payload)?;
        self.pending = Some(parsed);
        Ok(Some(parsed))
    }

    /// Takes one whole frame off the front of `buf`, if there is one.
    ///
    /// # Errors
    ///
    /// Fails on an invalid header or padding that is not zero; the stream
    /// cannot be resynchronized after that, so the connection should close.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some((header, len)) = self.peek_header(buf)? else {
            return Ok(None);
        };
        let len = len as usize;
        let total = HEADER_LEN + len + padding(len);
        if buf.len() < total {
            // No `reserve` here: growing the buffer is the caller's call. A
            // `BytesMut` that reallocates loses the 16-byte alignment links
            // arrange, and a large payload is better read into its own
            // buffer (see `peek_header`) than into this one.
            return Ok(None);
        }
        check_padding(header, &buf[HEADER_LEN + len..total])?;
        self.pending = None;
        buf.advance(HEADER_LEN);
        let mut frame = buf.split_to(len + padding(len));
        frame.truncate(len);
        Ok(Some(Frame::new(header, Payload::new(frame.freeze()))))
    }

    /// Completes a frame whose header [`FrameDecoder::peek_header`] returned
    /// and whose payload the link read into buffers of its own: `padded`
    /// is the payload followed by its padding, in one segment or several
    /// (the header is consumed from the stream already). `None` when no
    /// header was peeked or `padded` is not the payload's length with its
    /// padding.
    ///
    /// # Errors
    ///
    /// Fails when the padding is not zero.
    pub fn finish_with_payload(&mut self, padded: Payload) -> Result<Option<Frame>, FrameError> {
        let Some((header, len)) = self.pending else {
            return Ok(None);
        };
        let len = len as usize;
        if padded.len() != len + padding(len) {
            return Ok(None);
        }
        let (mut first, mut rest) = padded.into_parts();
        // The padding ends the last segment (or the last few): checked,
        // then cut off.
        let mut pad = padding(len);
        while pad > 0 {
            let last = rest.last_mut().unwrap_or(&mut first);
            let keep = last.len().saturating_sub(pad);
            check_padding(header, &last[keep..])?;
            pad -= last.len() - keep;
            last.truncate(keep);
            if keep == 0 && rest.pop().is_none() {
                break;
            }
        }
        self.pending = None;
        let payload = Payload::from_segments(first, rest);
        Ok(Some(Frame::new(header, payload)))
    }
}

/// Padding carries nothing and must be zero: a sender that puts data
/// there is broken or smuggling.
fn check_padding(header: FrameHeader, padding: &[u8]) -> Result<(), FrameError> {
    if padding.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(FrameError::PaddingNotZero { kind: header.kind })
    }
}

/// Appends a frame (header, payload, padding) to `out` as one contiguous run.
///
/// Links that write large payloads without copying use
/// [`FrameHeader::encode`] and [`padding`] directly instead.
pub fn encode_frame(frame: &Frame, out: &mut BytesMut) {
    let len = frame.payload.len();
    out.reserve(HEADER_LEN + len + padding(len));
    out.extend_from_slice(&frame.header.encode(len as u32));
    for segment in frame.payload.segments() {
        out.extend_from_slice(segment);
    }
    out.extend_from_slice(&[0u8; FRAME_ALIGN][..padding(len)]);
}
