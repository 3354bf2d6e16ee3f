//! The rkyv alignment rule, proven with the process-wide copy counter.
//!
//! `Payload::alignment_copies` counts for the whole process, so these tests
//! live in their own binary and take turns.

use std::sync::Mutex;

use bytes::{BufMut, Bytes};
use prism_codecs::{Archived, Decode, Limits, Payload, Rkyv, View};

static COUNTER: Mutex<()> = Mutex::new(());

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
    let _turn = COUNTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let value = blob();
    let bytes = prism_codecs::rkyv::to_bytes(&value).expect("encodes");
    let start = bytes.as_ptr();

    let before = Payload::alignment_copies();
    let payload = Payload::new(bytes);
    let view: Archived<Blob> =
        <Blob as View<Rkyv>>::view(payload, &Limits::default()).expect("views");
    assert_eq!(
        Payload::alignment_copies(),
        before,
        "an aligned payload was copied"
    );
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
fn misaligned_bytes_are_copied_once_counted_and_then_viewed() {
    let _turn = COUNTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let value = blob();
    let encoded = prism_codecs::rkyv::to_bytes(&value).expect("encodes");

    // What a transport holding a 4-byte length prefix in one buffer sees.
    let mut frame = Payload::aligned_buffer(encoded.len() + 4);
    frame.put_u32_le(encoded.len() as u32);
    frame.put_slice(&encoded);
    let body: Bytes = frame.freeze().slice(4..);
    assert_ne!(body.as_ptr().align_offset(Payload::ALIGN), 0);

    let before = Payload::alignment_copies();
    let payload = Payload::new(body);
    assert_eq!(Payload::alignment_copies(), before + 1, "one counted copy");
    assert_eq!(payload.as_ptr().align_offset(Payload::ALIGN), 0);

    let view = <Blob as View<Rkyv>>::view(payload.clone(), &Limits::default()).expect("views");
    assert_eq!(view.name, "a mebibyte");
    assert_eq!(view.data.as_slice(), &value.data[..]);
    let owned = <Blob as Decode<Rkyv>>::decode(&payload, &Limits::default()).expect("decodes");
    assert_eq!(owned, value);
    assert_eq!(Payload::alignment_copies(), before + 1, "no further copies");
}
