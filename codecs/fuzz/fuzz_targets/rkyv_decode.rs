//! Decodes arbitrary bytes as several types with Prism's rkyv codec, both
//! as an owned value (`Decode<Rkyv>`) and as a validated in-place view
//! (`View<Rkyv>`, an `Archived<T>`).
//!
//! For every type: neither path panics; the view is made exactly when the
//! owned decode succeeds (both run the same trailer check and bytecheck
//! validation); whatever decodes re-encodes through `Encode<Rkyv>` and
//! decodes again to an equal value.
//!
//! For types without maps, the view and the owned value also agree: the
//! view's `deserialize()` equals the owned decode, fields read in place
//! equal the owned fields, and re-encoding is a fixpoint (encode, decode,
//! encode gives the same bytes). Map-holding types skip those checks: rkyv's
//! validation does not check that archived map keys are sorted and unique
//! (README, "Choosing a codec"), so a view's lookups of a crafted map may
//! disagree with its owned decode, and a `HashMap`'s archive follows its
//! random iteration order.
//!
//! The types are in `src/rkyv_types.rs`. No type holds `usize`/`isize`: rkyv's default format archives them as 32
//! bits and truncates wider values (also documented).

#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use prism_codecs::rkyv::Deserializer;
use prism_codecs::{Archived, Decode, Encode, EncodeBuf, Limits, Payload, Rkyv, View};
use prism_codecs_fuzz::rkyv_types::*;
use rkyv::{Archive, Deserialize};

/// Equal values; floats compare by `Debug` so a NaN equals itself.
fn same<T: PartialEq + Debug>(a: &T, b: &T) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// Reads a few fields in place and compares them with the owned value.
trait InPlace: Archive + Sized {
    fn agrees(_view: &Self::Archived, _owned: &Self) -> bool {
        true
    }
}

impl InPlace for Named {
    fn agrees(view: &ArchivedNamed, owned: &Named) -> bool {
        view.id.to_native() == owned.id
            && view.name.as_str() == owned.name
            && view.tags.len() == owned.tags.len()
            && view
                .tags
                .iter()
                .zip(&owned.tags)
                .all(|(a, b)| a.as_str() == b)
            && view.flag.as_ref().copied() == owned.flag
    }
}

impl InPlace for Mixed {
    fn agrees(view: &ArchivedMixed, owned: &Mixed) -> bool {
        view.bytes.as_slice() == owned.bytes.as_slice()
            && view.words.len() == owned.words.len()
            && view
                .words
                .iter()
                .zip(&owned.words)
                .all(|(a, b)| a.as_ref().map(|s| s.as_str()) == b.as_deref())
            && view.tuple.2.to_native() == owned.tuple.2
            && view.big.to_native() == owned.big
            && view.shapes.len() == owned.shapes.len()
            && view.ratio.to_native().to_bits() == owned.ratio.to_bits()
    }
}

impl InPlace for List {
    fn agrees(view: &ArchivedList, owned: &List) -> bool {
        let (mut a, mut b) = (Some(view), Some(owned));
        while let (Some(x), Some(y)) = (a, b) {
            if x.value.to_native() != y.value || x.label.as_str() != y.label {
                return false;
            }
            a = x.next.as_ref().map(|n| &**n);
            b = y.next.as_deref();
        }
        a.is_none() && b.is_none()
    }
}

impl InPlace for Shape {}
impl InPlace for Tree {}
impl InPlace for String {
    fn agrees(view: &rkyv::string::ArchivedString, owned: &String) -> bool {
        view.as_str() == owned
    }
}
impl InPlace for Vec<Option<u16>> {}
impl InPlace for Maps {}

/// Whether view/owned agreement and the encoding fixpoint are checked.
#[derive(Clone, Copy, PartialEq)]
enum MapKeys {
    /// No maps: full checks.
    None,
    /// Holds maps: round trip and view-iff-decode only.
    Unchecked,
}

fn encode<T: Encode<Rkyv>>(value: &T) -> Payload {
    let mut buf = EncodeBuf::new();
    value
        .encode(&mut buf, &Limits::default())
        .expect("re-encode what we decoded");
    Payload::new(buf.finish().into_bytes())
}

fn check<T>(data: &[u8], maps: MapKeys)
where
    T: Encode<Rkyv> + Decode<Rkyv> + View<Rkyv, View = Archived<T>> + InPlace + PartialEq + Debug,
    T::Archived: Deserialize<T, Deserializer> + Sync,
{
    let limits = Limits::default();
    let payload = Payload::copy_from_slice(data);
    let owned = T::decode(&payload, &limits);
    let view = <T as View<Rkyv>>::view(payload, &limits);
    let (value, view) = match (owned, view) {
        (Ok(value), Ok(view)) => (value, view),
        (Err(_), Err(_)) => return,
        (owned, view) => panic!("owned decode gave {owned:?} but the view gave {view:?}"),
    };

    // Re-encode and decode again.
    let re = encode(&value);
    let back = T::decode(&re, &limits).expect("re-decode our own encoding");
    assert!(same(&back, &value), "re-decoded {back:?} != {value:?}");
    let re_view = <T as View<Rkyv>>::view(re.clone(), &limits).expect("view our own encoding");
    let from_re_view = re_view.deserialize().expect("deserialize our own encoding");
    assert!(same(&from_re_view, &value));

    if maps == MapKeys::None {
        let from_view = view.deserialize().expect("a valid view deserializes");
        assert!(
            same(&from_view, &value),
            "view gave {from_view:?}, owned {value:?}"
        );
        assert!(
            T::agrees(&view, &value),
            "in-place reads differ from {value:?}"
        );
        assert!(T::agrees(&re_view, &value));
        // Deterministic: encoding the re-decoded value gives the same bytes.
        let again = encode(&back);
        assert_eq!(&again[..], &re[..], "re-encoding is not a fixpoint");
    }
}

fuzz_target!(|data: &[u8]| {
    use MapKeys::{None, Unchecked};
    check::<Named>(data, None);
    check::<Shape>(data, None);
    check::<Mixed>(data, None);
    check::<String>(data, None);
    check::<Vec<Option<u16>>>(data, None);
    check::<Tree>(data, None);
    check::<List>(data, None);
    check::<Maps>(data, Unchecked);
});
