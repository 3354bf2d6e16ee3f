//! How session messages map onto frames; the table is in the
//! [`session`](super) module docs.
//!
//! Messages and reasons are cut to [`MAX_MESSAGE`] bytes (and to the peer's
//! `max_frame`) on a character boundary when sent, and read leniently
//! (invalid UTF-8 is replaced, at most [`MAX_MESSAGE`] bytes kept) since
//! they are for humans.

use std::time::Duration;

use web_time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use prism_core::{Code, CodecId, Payload, Response};

use super::{Accept, Hello};
use crate::frame::{Flags, Frame, FrameHeader, FrameKind};

/// Longest error message or GOAWAY reason sent or kept, in bytes.
pub(crate) const MAX_MESSAGE: usize = 4096;

/// Incoming deadlines further away than this are treated as no deadline.
pub(crate) const MAX_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

fn header(kind: FrameKind, channel: u32) -> FrameHeader {
    let mut header = FrameHeader::new(kind);
    header.channel = channel;
    header
}

pub(crate) fn hello(hello: &Hello) -> Frame {
    Frame::new(header(FrameKind::Hello, 0), Payload::new(hello.encode()))
}

pub(crate) fn accept(accept: &Accept) -> Frame {
    Frame::new(header(FrameKind::Accept, 0), Payload::new(accept.encode()))
}

/// A CALL; `metadata` is the encoded block (empty: none), sent before the
/// request in the same payload.
pub(crate) fn call(
    channel: u32,
    op: u64,
    codec: CodecId,
    deadline: Option<Duration>,
    payload: Payload,
    open: bool,
    metadata: Bytes,
) -> Frame {
    let mut h = header(FrameKind::Call, channel);
    h.op = op;
    h.codec = codec.get();
    h.aux = deadline.map_or(0, deadline_micros);
    if open {
        h.flags = Flags::OPEN;
    }
    if metadata.is_empty() {
        return Frame::new(h, payload);
    }
    h.flags = h.flags.with(Flags::METADATA);
    let payload = match payload.is_empty() {
        true => Payload::new(metadata),
        false => {
            let (first, rest) = payload.into_parts();
            let mut segments = Vec::with_capacity(rest.len() + 1);
            segments.push(first);
            segments.extend(rest);
            Payload::from_segments(metadata, segments)
        }
    };
    Frame::new(h, payload)
}

/// A DATAGRAM: one message of a datagram op.
pub(crate) fn datagram(op: u64, codec: CodecId, payload: Payload) -> Frame {
    let mut h = header(FrameKind::Datagram, 0);
    h.op = op;
    h.codec = codec.get();
    Frame::new(h, payload)
}

/// An AUTH: a client's proof numbered `seq`, or a server's answer to it
/// (`seq` 0: a request to re-authenticate).
pub(crate) fn auth(seq: u64, payload: Payload) -> Frame {
    let mut h = header(FrameKind::Auth, 0);
    h.aux = seq;
    Frame::new(h, payload)
}

/// A CREDIT granting `bytes` on `channel` (0: the connection).
pub(crate) fn credit(channel: u32, bytes: u64) -> Frame {
    let mut h = header(FrameKind::Credit, channel);
    h.aux = bytes;
    Frame::empty(h)
}

pub(crate) fn response(channel: u32, response: Response) -> Frame {
    let mut h = header(FrameKind::Response, channel);
    h.codec = response.codec.get();
    if response.app_error {
        h.flags = Flags::APP_ERROR;
    }
    Frame::new(h, response.payload)
}

/// An ERROR frame whose payload fits `max_payload` (the peer's `max_frame`).
pub(crate) fn error(channel: u32, code: Code, message: &str, max_payload: usize) -> Frame {
    let mut h = header(FrameKind::Error, channel);
    h.aux = code.as_u16().into();
    let message = truncate(message, MAX_MESSAGE.min(max_payload));
    Frame::new(h, Payload::new(Bytes::copy_from_slice(message.as_bytes())))
}

pub(crate) fn cancel(channel: u32, code: Code) -> Frame {
    let mut h = header(FrameKind::Cancel, channel);
    h.aux = code.as_u16().into();
    Frame::empty(h)
}

pub(crate) fn ping(kind: FrameKind, id: u64) -> Frame {
    let mut h = header(kind, 0);
    h.aux = id;
    Frame::empty(h)
}

/// A GOAWAY frame whose payload fits `max_payload` if at all possible.
pub(crate) fn goaway(last: u32, code: Code, reason: &str, max_payload: usize) -> Frame {
    let mut h = header(FrameKind::GoAway, 0);
    h.aux = last.into();
    let reason = truncate(reason, MAX_MESSAGE.min(max_payload.saturating_sub(2)));
    let mut payload = BytesMut::with_capacity(2 + reason.len());
    payload.put_u16_le(code.as_u16());
    payload.put_slice(reason.as_bytes());
    Frame::new(h, Payload::new(payload.freeze()))
}

/// Splits a GOAWAY payload into its code and reason.
pub(crate) fn parse_goaway(payload: &Payload) -> Option<(Code, String)> {
    let (code, reason) = payload.as_bytes().split_first_chunk::<2>()?;
    Some((Code::from_u16(u16::from_le_bytes(*code)), text(reason)))
}

/// An ERROR payload as a message.
pub(crate) fn parse_message(payload: &Payload) -> String {
    text(payload.as_bytes())
}

/// A status code carried in `aux`; out-of-range values are `UNKNOWN`.
pub(crate) fn code_from_aux(aux: u64) -> Code {
    u16::try_from(aux).map_or(Code::Unknown, Code::from_u16)
}

/// Human-readable bytes, lossily decoded and cut to [`MAX_MESSAGE`].
fn text(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_MESSAGE)];
    String::from_utf8_lossy(bytes).into_owned()
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A relative deadline in whole microseconds, rounded up, at least 1 (0
/// means none on the wire), saturating.
pub(crate) fn deadline_micros(deadline: Duration) -> u64 {
    let micros = deadline.as_nanos().div_ceil(1_000).max(1);
    u64::try_from(micros).unwrap_or(u64::MAX)
}

/// The absolute deadline of a call received at `now` with `aux` µs; `None`
/// for 0 or anything beyond [`MAX_DEADLINE`].
pub(crate) fn deadline_from_micros(now: Instant, aux: u64) -> Option<Instant> {
    let relative = Duration::from_micros(aux);
    if aux == 0 || relative > MAX_DEADLINE {
        return None;
    }
    now.checked_add(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
        let long = "ü".repeat(MAX_MESSAGE);
        let frame = error(1, Code::Internal, &long, usize::MAX);
        assert!(frame.payload.len() <= MAX_MESSAGE);
        assert_eq!(error(1, Code::Internal, &long, 5).payload.len(), 4);
        assert_eq!(goaway(1, Code::Internal, &long, 5).payload.len(), 4);
        assert_eq!(goaway(1, Code::Internal, &long, 1).payload.len(), 2);
        assert!(std::str::from_utf8(&frame.payload.into_bytes()).is_ok());
    }

    #[test]
    fn deadlines_round_trip_through_micros() {
        assert_eq!(deadline_micros(Duration::ZERO), 1);
        assert_eq!(deadline_micros(Duration::from_nanos(1_001)), 2);
        assert_eq!(deadline_micros(Duration::MAX), u64::MAX);
        let now = Instant::now();
        assert_eq!(deadline_from_micros(now, 0), None);
        assert_eq!(deadline_from_micros(now, u64::MAX), None);
        assert_eq!(
            deadline_from_micros(now, 5),
            Some(now + Duration::from_micros(5))
        );
    }

    #[test]
    fn goaway_payload_round_trips() {
        let frame = goaway(7, Code::Unavailable, "draining", usize::MAX);
        assert_eq!(frame.header.aux, 7);
        let parsed = parse_goaway(&frame.payload);
        assert_eq!(parsed, Some((Code::Unavailable, "draining".to_owned())));
        assert_eq!(parse_goaway(&Payload::from(&b"x"[..])), None);
        assert_eq!(code_from_aux(1 << 20), Code::Unknown);
    }
}
