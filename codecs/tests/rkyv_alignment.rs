//! The rkyv alignment rule: aligned payloads are read where they are,
//! misaligned ones are copied once.

use bytes::{BufMut, Bytes};
use prism_codecs::{Archived, Decode, Limits, Payload, Rkyv, View};

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
struct Blob {
    id: u64,
    name: String,
    data: Vec<u8>,
}

fn blob() -> Blob {
    Blob {
        id: 99,
        name: "a mebibyte".into(),
        data: (0..1 << 20).map(|i: u32| (i % 253) as u8).collect(),
    }
}

#[test]
fn an_aligned_mebibyte_is_viewed_without_any_copy() {
    let value = blob();
    let bytes = prism_codecs::rkyv::to_bytes(&value).expect("encodes");
    let start = bytes.as_ptr();

    let mut payload = Payload::new(bytes);
    assert!(!payload.align(), "an aligned payload was copied");
    let view: Archived<Blob> =
        <Blob as View<Rkyv>>::view(payload, &Limits::default()).expect("views");
    assert_eq!(
        view.payload().as_ptr(),
        start,
        "the payload is the encoder's buffer"
    );
    assert_eq!(view.id, 99);
    assert_eq!(view.data.len(), 1 << 20);
    assert_eq!(view.data.as_slice(), &value.data[..]);
    assert!(
        view.data.as_ptr() >= start
            && view.data.as_ptr() < start.wrapping_add(view.payload().len())
    );
    assert_eq!(view.deserialize().expect("deserializes"), value);
}

#[test]
fn misaligned_bytes_are_copied_once_and_then_viewed() {
    let value = blob();
    let encoded = prism_codecs::rkyv::to_bytes(&value).expect("encodes");

    // What a transport holding a 4-byte length prefix in one buffer sees.
    let mut frame = prism_core::aligned::aligned_buffer(encoded.len() + 4);
    frame.put_u32_le(encoded.len() as u32);
    frame.put_slice(&encoded);
    let body: Bytes = frame.freeze().slice(4..);
    assert_ne!(body.as_ptr().align_offset(Payload::ALIGN), 0);

    let mut payload = Payload::new(body);
    assert!(payload.align(), "one copy");
    assert!(!payload.align(), "and only one");
    let copy = payload.as_ptr();
    assert_eq!(copy.align_offset(Payload::ALIGN), 0);

    let view = <Blob as View<Rkyv>>::view(payload.clone(), &Limits::default()).expect("views");
    assert_eq!(view.name, "a mebibyte");
    assert_eq!(view.data.as_slice(), &value.data[..]);
    let owned = <Blob as Decode<Rkyv>>::decode(&payload, &Limits::default()).expect("decodes");
    assert_eq!(owned, value);
    assert_eq!(payload.as_ptr(), copy, "no further copies");
}
