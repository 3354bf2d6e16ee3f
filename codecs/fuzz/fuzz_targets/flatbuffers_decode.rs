//! Decodes arbitrary bytes as several types with Prism's FlatBuffers codec,
//! both as an owned value (`Decode<FlatBuffers>`) and as a verified view
//! (`View<FlatBuffers>`, a `FlatView<T>`).
//!
//! For every type: neither path panics; the view is made exactly when the
//! owned decode succeeds (the module promises this for types without
//! declared invariants, which these are), and then `to_owned()` equals the
//! owned value and fields read in place (strings, bytes, scalars) equal the
//! owned fields; decoding the same bytes from an unaligned slice gives the
//! same result; whatever decodes re-encodes through `Encode<FlatBuffers>`,
//! decodes again to an equal value, and encoding that value again gives the
//! same bytes (the encoding is deterministic, maps and sets included, since
//! they are sorted by key). The types are in `src/flatbuffers_types.rs`.

#![no_main]

use std::fmt::Debug;

use facet::Facet;
use libfuzzer_sys::fuzz_target;
use prism_codecs::flatbuffers::{self as fb, FlatView};
use prism_codecs::{Decode, Encode, EncodeBuf, FlatBuffers, Limits, Payload, View};
use prism_codecs_fuzz::flatbuffers_types::*;

/// Equal values; floats compare by `Debug` so a NaN equals itself.
fn same<T: PartialEq + Debug>(a: &T, b: &T) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// Reads a few root fields in place and compares them with the owned value.
trait InPlace: Sized {
    fn agrees(_view: &FlatView<Self>, _owned: &Self) -> bool {
        true
    }
}

impl InPlace for Named {
    fn agrees(view: &FlatView<Named>, owned: &Named) -> bool {
        view.scalar::<u32>("id") == Some(owned.id)
            && view.str("name") == Some(owned.name.as_str())
            && view.scalar::<bool>("flag") == owned.flag
    }
}

impl InPlace for Mixed {
    fn agrees(view: &FlatView<Mixed>, owned: &Mixed) -> bool {
        view.bytes("bytes") == Some(&owned.bytes[..])
            && view.bytes("raw") == Some(&owned.raw[..])
            && view.scalar::<u64>("size") == Some(owned.size as u64)
            && view.scalar::<f32>("ratio").map(f32::to_bits) == Some(owned.ratio.to_bits())
    }
}

impl InPlace for Tree {
    fn agrees(view: &FlatView<Tree>, owned: &Tree) -> bool {
        view.str("label") == Some(owned.label.as_str())
    }
}

impl InPlace for String {
    fn agrees(view: &FlatView<String>, owned: &String) -> bool {
        view.str("value") == Some(owned.as_str())
    }
}

impl InPlace for Shape {}
impl InPlace for Maps {}
impl InPlace for Expr {}
impl InPlace for Vec<Vec<u16>> {}

fn encode<T: Encode<FlatBuffers>>(value: &T) -> Payload {
    let mut buf = EncodeBuf::new();
    value
        .encode(&mut buf, &Limits::default())
        .expect("re-encode what we decoded");
    Payload::new(buf.finish().into_bytes())
}

fn check<T>(data: &[u8])
where
    T: Facet<'static> + InPlace + PartialEq + Debug,
{
    let limits = Limits::default();
    let payload = Payload::copy_from_slice(data);
    let owned = <T as Decode<FlatBuffers>>::decode(&payload, &limits);

    // FlatBuffers alignment is relative to the buffer: where the bytes sit
    // in memory changes nothing.
    match (fb::from_slice_with::<T>(data, &limits), &owned) {
        (Ok(a), Ok(b)) => assert!(same(&a, b), "unaligned {a:?} != aligned {b:?}"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("unaligned decode gave {a:?}, aligned {b:?}"),
    }

    let view = <T as View<FlatBuffers>>::view(payload, &limits);
    let (value, view) = match (owned, view) {
        (Ok(value), Ok(view)) => (value, view),
        (Err(_), Err(_)) => return,
        (owned, view) => panic!("owned decode gave {owned:?} but the view gave {view:?}"),
    };
    let from_view = view.to_owned().expect("a verified view decodes");
    assert!(
        same(&from_view, &value),
        "view gave {from_view:?}, owned {value:?}"
    );
    assert!(
        T::agrees(&view, &value),
        "in-place reads differ from {value:?}"
    );

    // Re-encode and decode again; encoding is deterministic.
    let re = encode(&value);
    let back =
        <T as Decode<FlatBuffers>>::decode(&re, &limits).expect("re-decode our own encoding");
    assert!(same(&back, &value), "re-decoded {back:?} != {value:?}");
    let again = encode(&back);
    assert_eq!(&again[..], &re[..], "re-encoding is not a fixpoint");
    let re_view = <T as View<FlatBuffers>>::view(re, &limits).expect("view our own encoding");
    assert!(T::agrees(&re_view, &value));
}

fuzz_target!(|data: &[u8]| {
    check::<Named>(data);
    check::<Shape>(data);
    check::<Mixed>(data);
    check::<Maps>(data);
    check::<String>(data);
    check::<Vec<Vec<u16>>>(data);
    check::<Tree>(data);
    check::<Expr>(data);
});
