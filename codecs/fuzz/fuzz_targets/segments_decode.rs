//! Decodes arbitrary bytes as `Segmented<H>` messages with Prism's segments codec
//! (a postcard header plus raw segments), for several header types.
//!
//! For every header type: decoding never panics; the same bytes delivered
//! as several segments (as an in-process link hands them over) decode to
//! the same result as one contiguous buffer; whatever decodes re-encodes
//! through `Encode<Segments>` and decodes again to an equal value, both from
//! the contiguous encoding and from its segments as the encoder left them.
//! The header types are in `src/segments_types.rs`.

#![no_main]

use std::fmt::Debug;

use bytes::Bytes;
use facet::Facet;
use libfuzzer_sys::fuzz_target;
use prism_codecs::segments::{Segments, Segmented};
use prism_codecs::{Decode, Encode, EncodeBuf, Limits, Payload};
use prism_codecs_fuzz::segments_types::{Chunk, Expr};

fn decode<H: Facet<'static>>(payload: &Payload) -> Result<Segmented<H>, prism_codecs::DecodeError> {
    <Segmented<H> as Decode<Segments>>::decode(payload, &Limits::default())
}

/// `data` cut into pieces of 1, 2, 3, … bytes, as one payload.
fn segmented(data: &[u8]) -> Payload {
    let mut pieces = Vec::new();
    let (mut at, mut size) = (0, 1);
    while at < data.len() {
        let end = (at + size).min(data.len());
        pieces.push(Bytes::copy_from_slice(&data[at..end]));
        at = end;
        size += 1;
    }
    if pieces.is_empty() {
        return Payload::default();
    }
    let first = pieces.remove(0);
    Payload::from_segments(first, pieces)
}

fn check<H>(data: &[u8])
where
    H: Facet<'static> + PartialEq + Debug,
{
    let limits = Limits::default();
    let ours = decode::<H>(&Payload::copy_from_slice(data));
    match (decode::<H>(&segmented(data)), &ours) {
        (Ok(a), Ok(b)) => assert_eq!(&a, b, "segmented and contiguous decodes differ"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("segmented decode gave {a:?}, contiguous {b:?}"),
    }
    let Ok(value) = ours else { return };

    let mut buf = EncodeBuf::new();
    Encode::<Segments>::encode(&value, &mut buf, &limits).expect("re-encode what we decoded");
    let encoded = buf.finish();
    let contiguous = Payload::new(encoded.clone().into_bytes());
    let back = decode::<H>(&contiguous).expect("re-decode our own encoding");
    assert_eq!(back, value);
    let (first, rest) = encoded.into_parts();
    let back = decode::<H>(&Payload::from_segments(first, rest))
        .expect("re-decode our own encoding from its segments");
    assert_eq!(back, value);
}

fuzz_target!(|data: &[u8]| {
    check::<Chunk>(data);
    check::<u64>(data);
    check::<()>(data);
    check::<String>(data);
    check::<Vec<Option<u16>>>(data);
    check::<Expr>(data);
});
