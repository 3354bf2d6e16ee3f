//! Postcard encode and decode: Prism's shape-compiled codec against
//! `facet-postcard` (reflection at run time) and serde `postcard` (derived
//! code), on the same values, producing the same bytes.
//!
//! Benchmarks are named `<op>/<dataset>/<implementation>`:
//!
//! - datasets: `struct_1k`, a 10-field [`Record`] with a 1 KiB buffer;
//!   `list_10k`, a `Vec` of 10,000 three-field [`Point`]s.
//! - `prism` encodes with `encode_into` into a reused `BytesMut` (the main
//!   number); `prism_to_vec` allocates a fresh vector each time.
//! - `serde_postcard` encodes with `to_slice` into a reused buffer;
//!   `serde_postcard_alloc` with `to_allocvec`.
//! - `facet_postcard` has only `to_vec`.
//!
//! Run `cargo bench --bench codec`, then `cargo run --release --bin
//! codec_table` for a Markdown table of medians and ratios.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use facet::Facet;
use prism_benches::{Point, Record, points, record};
use prism_codecs::{Limits, postcard as prism};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn bench_dataset<T>(c: &mut Criterion, name: &str, value: &T)
where
    T: for<'a> Facet<'a> + Serialize + DeserializeOwned + PartialEq + core::fmt::Debug,
{
    let bytes = prism::to_vec(value).expect("prism encode");
    assert_eq!(
        bytes,
        facet_postcard::to_vec(value).expect("facet-postcard encode")
    );
    assert_eq!(
        bytes,
        postcard::to_allocvec(value).expect("postcard encode")
    );
    assert_eq!(
        &prism::from_slice::<T>(&bytes).expect("prism decode"),
        value
    );
    let limits = Limits::default();

    let mut group = c.benchmark_group(format!("encode/{name}"));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut out = BytesMut::with_capacity(bytes.len());
    group.bench_function("prism", |b| {
        b.iter(|| {
            out.clear();
            prism::encode_into(black_box(value), &mut out, &limits).unwrap();
            black_box(out.len())
        })
    });
    group.bench_function("prism_to_vec", |b| {
        b.iter(|| prism::to_vec(black_box(value)).unwrap())
    });
    group.bench_function("facet_postcard", |b| {
        b.iter(|| facet_postcard::to_vec(black_box(value)).unwrap())
    });
    let mut buf = vec![0u8; bytes.len()];
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
    group.finish();

    let mut group = c.benchmark_group(format!("decode/{name}"));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("prism", |b| {
        b.iter(|| prism::from_slice::<T>(black_box(&bytes)).unwrap())
    });
    group.bench_function("facet_postcard", |b| {
        b.iter(|| facet_postcard::from_slice::<T>(black_box(&bytes)).unwrap())
    });
    group.bench_function("serde_postcard", |b| {
        b.iter(|| postcard::from_bytes::<T>(black_box(&bytes)).unwrap())
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_dataset::<Record>(c, "struct_1k", &record());
    bench_dataset::<Vec<Point>>(c, "list_10k", &points());
}

criterion_group!(benches, codec);
criterion_main!(benches);
