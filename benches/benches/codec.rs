//! Codec micro-benchmarks: encode, decode and view for each of Prism's
//! codecs (postcard, rkyv, FlatBuffers, segments) beside serde `postcard`
//! (derived code) and `facet-postcard` (reflection at run time) as
//! references, on the same values.
//!
//! Benchmarks are named `<op>/<message>/<implementation>`:
//!
//! - ops: `encode`, `decode` (to an owned value), `view` (read in place).
//! - messages: `struct_1k`, a 10-field [`Record`] with a 1 KiB `Vec<u8>`;
//!   `list_10k`, a `Vec` of 10,000 three-field [`Point`]s.
//! - Prism's codecs run through the generic traits:
//!   `Encode::<C>::encode(&v, &mut EncodeBuf, &Limits)`,
//!   `Decode::<C>::decode(&Payload, &Limits)`, `View::<C>::view(Payload, &Limits)`.
//!   Payloads are contiguous and 16-byte aligned, as a transport hands them
//!   over.
//!
//! Encoding goes into a reused buffer where the API allows it, and that is
//! the main number of each codec:
//!
//! - `postcard` (ours) writes to the tail of one reused `EncodeBuf`;
//!   `postcard_to_vec` allocates a fresh vector each time.
//! - `serde_postcard` uses `to_slice` into a reused buffer;
//!   `serde_postcard_alloc` uses `to_allocvec`. `facet_postcard` has only
//!   `to_vec`.
//! - `rkyv`, `flatbuffers` and `segments` hand their output to the `EncodeBuf`
//!   as owned segments (the archive, the builder's buffer, the body
//!   segments), and an `EncodeBuf` cannot be reset, so each encode takes a
//!   fresh `EncodeBuf` and the codec allocates its own buffer: that
//!   allocation is part of the number. `rkyv_reused` is rkyv's own
//!   `to_bytes_in` into a reused `AlignedVec`, plus Prism's 8-byte trailer:
//!   the same bytes, what rkyv costs without the allocation.
//!
//! The segments codec carries a small postcard header plus raw byte segments,
//! not arbitrary structs. Its `struct_1k` message is a `Segmented<RecordHeader>`
//! (the nine small fields in the header, the 1 KiB body as the one segment)
//! and its `list_10k` message moves the 10,000 points as ONE segment of raw
//! little-endian bytes (13 per point) behind a `{ count, stride }` header:
//! the segments codec is for raw bulk data. `segments` encodes / decodes that
//! message as the application holds it (segments are handed over and
//! returned by reference count, never copied); `segments_pack` includes
//! building it from the `Record` / `Vec<Point>` and `segments_unpack` turning
//! it back into one, to compare like with like. `view/*/segments` is the
//! decode: its segments are already zero-copy slices of the payload.
//!
//! `view` rows: `View::<C>::view` takes the `Payload` by value, as a
//! transport hands it over (each iteration gets its own handle, cloned
//! outside the timing), and the view is dropped inside it. rkyv validates
//! the archive and reads one field of the `Archived<T>` (the body's length;
//! the list's length); FlatBuffers verifies the buffer and reads one field
//! of the `FlatView` (the `payload` bytes; the list has no string or bytes
//! field and `FlatView` has no vector accessor, so it reads the root
//! table's field count). Two more rkyv rows show where a view's time goes:
//! `rkyv_access` is Prism's borrowed `prism_codecs::rkyv::access` (limits,
//! trailer, validation with the depth limit; no payload handle to take or
//! drop) and `rkyv_crate_access` is rkyv's own `rkyv::access` on the bare
//! archive.
//!
//! Run `cargo bench --bench codec` (pinned: `taskset -c 1 cargo bench ...`),
//! then `cargo run --release --bin codec_table` for a Markdown table of
//! medians, ratios and targets.

use std::fmt::Debug;
use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
};
use facet::Facet;
use prism::rkyv::bytecheck::CheckBytes;
use prism::rkyv::util::AlignedVec;
use prism_benches::{
    Point, PointsHeader, Record, RecordHeader, points, points_from_segmented, record,
    record_from_segmented, segmented_points, segmented_record,
};
use prism_codecs::flatbuffers::FlatView;
use prism_codecs::rkyv::{TRAILER_LEN, TracedError};
use prism_codecs::{
    Archived, Codec, Decode, Encode, EncodeBuf, FlatBuffers, Limits, Payload, Postcard, Rkyv,
    Segmented, Segments, View, postcard as ours,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One message and what each codec needs to carry it.
struct Message<T: prism::rkyv::Archive, H> {
    name: &'static str,
    value: T,
    /// The value as the segments codec's message.
    to_segmented: fn(&T) -> Segmented<H>,
    /// A segments message back as the value.
    from_segmented: fn(Segmented<H>) -> Option<T>,
    /// The field an rkyv view reads.
    rkyv_field: fn(&T::Archived) -> usize,
    /// The field a FlatBuffers view reads.
    flat_field: fn(&FlatView<T>) -> usize,
}

/// The encoded message, contiguous and aligned, as a transport delivers it.
fn payload_of<C: Codec, T: Encode<C> + ?Sized>(value: &T, limits: &Limits) -> Payload {
    let mut out = EncodeBuf::new();
    Encode::<C>::encode(value, &mut out, limits).expect("encode");
    Payload::copy_from_slice(&out.finish().to_vec())
}

/// Encodes with codec `C` into a fresh `EncodeBuf` per iteration.
fn encode_fresh<C: Codec, T: Encode<C>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    value: &T,
    limits: &Limits,
) {
    group.bench_function(id, |b| {
        b.iter(|| {
            let mut out = EncodeBuf::new();
            Encode::<C>::encode(black_box(value), &mut out, limits).unwrap();
            black_box(out.len());
            out
        })
    });
}

/// Decodes with codec `C` to an owned value.
fn decode<C: Codec, T: Decode<C>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    payload: &Payload,
    limits: &Limits,
) {
    group.bench_function(id, |b| {
        b.iter(|| <T as Decode<C>>::decode(black_box(payload), limits).unwrap())
    });
}

fn bench_message<T, H>(c: &mut Criterion, m: &Message<T, H>)
where
    T: for<'a> Facet<'a>
        + Serialize
        + DeserializeOwned
        + PartialEq
        + Debug
        + prism::rkyv::Archive
        + for<'a> prism::rkyv::Serialize<prism_codecs::rkyv::Serializer<'a>>
        + Encode<Rkyv>
        + Decode<Rkyv>
        + View<Rkyv, View = Archived<T>>,
    T::Archived: Sync
        + for<'a> CheckBytes<prism_codecs::rkyv::Validator<'a>>
        + for<'a> CheckBytes<prism_codecs::rkyv::Validator<'a, TracedError>>,
    H: Facet<'static> + PartialEq + Debug,
{
    let limits = Limits::default();
    let value = &m.value;
    let name = m.name;

    // Every implementation carries the value: the three postcards agree
    // byte for byte, and every codec round-trips it.
    let postcard_bytes = ours::to_vec(value).expect("prism encode");
    assert_eq!(
        postcard_bytes,
        facet_postcard::to_vec(value).expect("facet-postcard encode")
    );
    assert_eq!(
        postcard_bytes,
        postcard::to_allocvec(value).expect("postcard encode")
    );
    let postcard_payload = payload_of::<Postcard, T>(value, &limits);
    assert_eq!(postcard_payload[..], postcard_bytes[..]);
    let rkyv_payload = payload_of::<Rkyv, T>(value, &limits);
    let flat_payload = payload_of::<FlatBuffers, T>(value, &limits);
    let segmented = (m.to_segmented)(value);
    let segments_payload = payload_of::<Segments, Segmented<H>>(&segmented, &limits);
    assert_eq!(
        &<T as Decode<Postcard>>::decode(&postcard_payload, &limits).unwrap(),
        value
    );
    assert_eq!(
        &<T as Decode<Rkyv>>::decode(&rkyv_payload, &limits).unwrap(),
        value
    );
    assert_eq!(
        &<T as Decode<FlatBuffers>>::decode(&flat_payload, &limits).unwrap(),
        value
    );
    let back = <Segmented<H> as Decode<Segments>>::decode(&segments_payload, &limits).unwrap();
    assert_eq!(back, segmented);
    assert_eq!((m.from_segmented)(back).as_ref(), Some(value));
    let rkyv_view = <T as View<Rkyv>>::view(rkyv_payload.clone(), &limits).unwrap();
    let flat_view = <T as View<FlatBuffers>>::view(flat_payload.clone(), &limits).unwrap();
    assert_eq!(flat_view.to_owned().unwrap(), *value);
    assert!((m.flat_field)(&flat_view) > 0);
    assert!((m.rkyv_field)(&rkyv_view) > 0);

    // rkyv's own API into a reused buffer, with Prism's trailer: the same bytes.
    let rkyv_reused = |buf: AlignedVec<16>| -> AlignedVec<16> {
        let mut buf =
            prism::rkyv::api::high::to_bytes_in::<_, prism::rkyv::rancor::Error>(value, buf)
                .unwrap();
        let len = buf.len() as u32;
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(&prism_codecs::rkyv::TRAILER_MAGIC);
        buf
    };
    assert_eq!(rkyv_reused(AlignedVec::new()).as_slice(), &rkyv_payload[..]);

    let size = |p: &Payload| Throughput::Bytes(p.len() as u64);

    // Encode.
    let mut group = c.benchmark_group(format!("encode/{name}"));
    group.throughput(size(&postcard_payload));
    let mut out = EncodeBuf::with_capacity(postcard_bytes.len());
    group.bench_function("postcard", |b| {
        b.iter(|| {
            out.tail().clear();
            Encode::<Postcard>::encode(black_box(value), &mut out, &limits).unwrap();
            black_box(out.len())
        })
    });
    group.bench_function("postcard_to_vec", |b| {
        b.iter(|| ours::to_vec(black_box(value)).unwrap())
    });
    group.bench_function("facet_postcard", |b| {
        b.iter(|| facet_postcard::to_vec(black_box(value)).unwrap())
    });
    let mut buf = vec![0u8; postcard_bytes.len()];
    group.bench_function("serde_postcard", |b| {
        b.iter(|| {
            postcard::to_slice(black_box(value), &mut buf)
                .unwrap()
                .len()
        })
    });
    group.bench_function("serde_postcard_alloc", |b| {
        b.iter(|| postcard::to_allocvec(black_box(value)).unwrap())
    });
    group.throughput(size(&rkyv_payload));
    encode_fresh::<Rkyv, T>(&mut group, "rkyv", value, &limits);
    let mut archive = Some(AlignedVec::<16>::with_capacity(rkyv_payload.len()));
    group.bench_function("rkyv_reused", |b| {
        b.iter(|| {
            let mut buf = archive.take().unwrap_or_default();
            buf.clear();
            let buf = rkyv_reused(black_box(buf));
            black_box(buf.len());
            archive = Some(buf);
        })
    });
    group.throughput(size(&flat_payload));
    encode_fresh::<FlatBuffers, T>(&mut group, "flatbuffers", value, &limits);
    group.throughput(size(&segments_payload));
    encode_fresh::<Segments, Segmented<H>>(&mut group, "segments", &segmented, &limits);
    group.bench_function("segments_pack", |b| {
        b.iter(|| {
            let segmented = (m.to_segmented)(black_box(value));
            let mut out = EncodeBuf::new();
            Encode::<Segments>::encode(&segmented, &mut out, &limits).unwrap();
            black_box(out.len());
            out
        })
    });
    group.finish();

    // Decode to an owned value.
    let mut group = c.benchmark_group(format!("decode/{name}"));
    group.throughput(size(&postcard_payload));
    decode::<Postcard, T>(&mut group, "postcard", &postcard_payload, &limits);
    group.bench_function("facet_postcard", |b| {
        b.iter(|| facet_postcard::from_slice::<T>(black_box(&postcard_bytes)).unwrap())
    });
    group.bench_function("serde_postcard", |b| {
        b.iter(|| postcard::from_bytes::<T>(black_box(&postcard_bytes)).unwrap())
    });
    group.throughput(size(&rkyv_payload));
    decode::<Rkyv, T>(&mut group, "rkyv", &rkyv_payload, &limits);
    group.throughput(size(&flat_payload));
    decode::<FlatBuffers, T>(&mut group, "flatbuffers", &flat_payload, &limits);
    group.throughput(size(&segments_payload));
    decode::<Segments, Segmented<H>>(&mut group, "segments", &segments_payload, &limits);
    group.bench_function("segments_unpack", |b| {
        b.iter(|| {
            let segmented =
                <Segmented<H> as Decode<Segments>>::decode(black_box(&segments_payload), &limits)
                    .unwrap();
            (m.from_segmented)(segmented).unwrap()
        })
    });
    group.finish();

    // View: validate and read one field in place.
    let mut group = c.benchmark_group(format!("view/{name}"));
    group.throughput(size(&rkyv_payload));
    group.bench_function("rkyv", |b| {
        b.iter_batched(
            || rkyv_payload.clone(),
            |payload| {
                let view = <T as View<Rkyv>>::view(payload, &limits).unwrap();
                black_box((m.rkyv_field)(&view));
                view
            },
            BatchSize::SmallInput,
        )
    });

    // Where an rkyv view's time goes: Prism's borrowed `access` (limits,
    // trailer, validation; no payload handle), and rkyv's own `access` on
    // the archive (its default validator, no depth limit, no trailer).
    group.bench_function("rkyv_access", |b| {
        b.iter(|| {
            let root = prism_codecs::rkyv::access::<T>(black_box(&rkyv_payload), &limits).unwrap();
            black_box((m.rkyv_field)(root))
        })
    });
    let archive = &rkyv_payload[..rkyv_payload.len() - TRAILER_LEN];
    group.bench_function("rkyv_crate_access", |b| {
        b.iter(|| {
            let root =
                prism::rkyv::access::<T::Archived, prism::rkyv::rancor::Error>(black_box(archive))
                    .unwrap();
            black_box((m.rkyv_field)(root))
        })
    });
    group.throughput(size(&flat_payload));
    group.bench_function("flatbuffers", |b| {
        b.iter_batched(
            || flat_payload.clone(),
            |payload| {
                let view = <T as View<FlatBuffers>>::view(payload, &limits).unwrap();
                black_box((m.flat_field)(&view));
                view
            },
            BatchSize::SmallInput,
        )
    });
    group.throughput(size(&segments_payload));
    group.bench_function("segments", |b| {
        b.iter(|| {
            let segmented =
                <Segmented<H> as Decode<Segments>>::decode(black_box(&segments_payload), &limits)
                    .unwrap();
            black_box(segmented.segments[0].len())
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_message::<Record, RecordHeader>(
        c,
        &Message {
            name: "struct_1k",
            value: record(),
            to_segmented: segmented_record,
            from_segmented: record_from_segmented,
            rkyv_field: |r| r.payload.len(),
            flat_field: |v| v.bytes("payload").map_or(0, <[u8]>::len),
        },
    );
    bench_message::<Vec<Point>, PointsHeader>(
        c,
        &Message {
            name: "list_10k",
            value: points(),
            to_segmented: |p| segmented_points(p),
            from_segmented: |f| points_from_segmented(&f),
            rkyv_field: |v| v.len(),
            flat_field: |v| v.root().field_names().count(),
        },
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
