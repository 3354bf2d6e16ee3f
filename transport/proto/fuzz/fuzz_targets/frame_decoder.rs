//! Cuts frames out of arbitrary bytes with `FrameDecoder`, fed in chunks
//! of arbitrary sizes, as a link reading a socket does.
//!
//! Input layout: byte 0 gives how many chunk-size bytes follow (1 to 8);
//! those bytes are used cyclically (0 = 1 byte, 1..=191 = that many bytes,
//! 192..=255 = 1 to 64 KiB); the rest is the byte stream.
//!
//! Checks, besides "never panics":
//! - every frame is well-formed: its payload is one segment no longer than
//!   the decoder's maximum;
//! - re-encoding a frame with `encode_frame` gives exactly the bytes it
//!   was cut from (padding must be zero, so it cannot differ) and decodes
//!   to the same frame, consuming the whole encoding;
//! - chunking changes nothing: the frames and the error (if any) are those
//!   of decoding the whole stream at once.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use prism_proto::frame::{Frame, FrameDecoder, FrameError, encode_frame, wire_len};

fn chunk_size(b: u8) -> usize {
    match b {
        0 => 1,
        1..=191 => usize::from(b),
        _ => usize::from(b - 191) * 1024,
    }
}

/// Re-encodes `frame`, cut from `original` (which starts at its header),
/// and decodes it again.
fn check_frame(decoder: &FrameDecoder, frame: &Frame, original: &[u8]) {
    let len = frame.payload.len();
    assert!(
        len <= decoder.max_payload() as usize,
        "payload over the limit"
    );
    assert_eq!(frame.payload.segment_count(), 1);

    let mut out = BytesMut::new();
    encode_frame(frame, &mut out);
    assert_eq!(out.len(), wire_len(len));
    assert!(original.len() >= out.len());
    assert_eq!(
        &out[..],
        &original[..out.len()],
        "re-encoded header, payload or padding differs"
    );
    let mut fresh = FrameDecoder::new(decoder.max_payload());
    let again = fresh
        .decode(&mut out)
        .expect("our encoding has a valid header")
        .expect("our encoding is a whole frame");
    assert_eq!(&again, frame);
    assert!(
        out.is_empty(),
        "{} bytes left after our own frame",
        out.len()
    );
}

/// Decodes the whole stream at once.
fn at_once(stream: &[u8]) -> (Vec<Frame>, Option<FrameError>) {
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::from(stream);
    let mut frames = Vec::new();
    loop {
        let start = stream.len() - buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => {
                check_frame(&decoder, &frame, &stream[start..]);
                frames.push(frame);
            }
            Ok(None) => return (frames, None),
            Err(error) => return (frames, Some(error)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let k = (usize::from(first) & 7) + 1;
    if rest.len() < k {
        return;
    }
    let (sizes, stream) = rest.split_at(k);

    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut error = None;
    let mut fed = 0;
    let mut i = 0;
    'feed: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.payload.len() <= decoder.max_payload() as usize);
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
        if fed == stream.len() {
            break;
        }
        let end = (fed + chunk_size(sizes[i % k])).min(stream.len());
        i += 1;
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
    }

    let (expected, expected_error) = at_once(stream);
    assert_eq!(frames, expected, "chunked decoding differs");
    assert_eq!(error, expected_error, "chunked decoding fails differently");
});
