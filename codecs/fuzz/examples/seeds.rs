//! Writes valid encodings of the sample values in `src/` into
//! `corpus/<target>/`, so a short fuzzing run starts from messages that
//! pass the format's outer checks (the rkyv trailer, the FlatBuffers
//! verifier, the segments layout) instead of discovering them from scratch.
//!
//! ```sh
//! cargo run --example seeds   # from codecs/fuzz; no nightly needed
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use prism_codecs::segments::{Segments, Segmented};
use prism_codecs::{Encode, EncodeBuf, Limits, flatbuffers, rkyv};
use prism_codecs_fuzz::{flatbuffers_types as fbt, segments_types as st, rkyv_types as rkt};

struct Corpus {
    dir: PathBuf,
    count: usize,
}

impl Corpus {
    fn new(target: &str) -> Corpus {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        fs::create_dir_all(&dir).expect("create the corpus directory");
        Corpus { dir, count: 0 }
    }

    fn add(&mut self, name: &str, bytes: &[u8]) {
        let path = self.dir.join(format!("seed-{name}-{}", self.count));
        fs::write(&path, bytes).expect("write a seed");
        self.count += 1;
    }
}

fn segmented<H: facet::Facet<'static>>(value: &Segmented<H>) -> Vec<u8> {
    let mut buf = EncodeBuf::new();
    Encode::<Segments>::encode(value, &mut buf, &Limits::default()).expect("encode");
    buf.finish().to_vec()
}

fn main() {
    let mut out = Corpus::new("rkyv_decode");
    let rk = |r: Result<bytes::Bytes, prism_codecs::EncodeError>| r.expect("encode").to_vec();
    for v in rkt::samples_named() {
        out.add("named", &rk(rkyv::to_bytes(&v)));
    }
    for v in rkt::samples_shape() {
        out.add("shape", &rk(rkyv::to_bytes(&v)));
    }
    for v in rkt::samples_mixed() {
        out.add("mixed", &rk(rkyv::to_bytes(&v)));
    }
    for v in rkt::samples_maps() {
        out.add("maps", &rk(rkyv::to_bytes(&v)));
    }
    for depth in [0, 1, 3] {
        out.add("tree", &rk(rkyv::to_bytes(&rkt::tree(depth))));
    }
    for len in [1, 4] {
        out.add("list", &rk(rkyv::to_bytes(&rkt::list(len))));
    }
    out.add("string", &rk(rkyv::to_bytes(&"a string".to_string())));
    let options: Vec<Option<u16>> = vec![Some(1), None, Some(u16::MAX)];
    out.add("options", &rk(rkyv::to_bytes(&options)));
    let rkyv_count = out.count;

    let mut out = Corpus::new("flatbuffers_decode");
    let fb = |r: Result<Vec<u8>, prism_codecs::EncodeError>| r.expect("encode");
    for v in fbt::samples_named() {
        out.add("named", &fb(flatbuffers::to_vec(&v)));
    }
    for v in fbt::samples_shape() {
        out.add("shape", &fb(flatbuffers::to_vec(&v)));
    }
    for v in fbt::samples_mixed() {
        out.add("mixed", &fb(flatbuffers::to_vec(&v)));
    }
    for v in fbt::samples_maps() {
        out.add("maps", &fb(flatbuffers::to_vec(&v)));
    }
    for depth in [0, 2] {
        out.add("tree", &fb(flatbuffers::to_vec(&fbt::tree(depth))));
    }
    for v in fbt::samples_expr() {
        out.add("expr", &fb(flatbuffers::to_vec(&v)));
    }
    out.add("string", &fb(flatbuffers::to_vec(&"a string".to_string())));
    let grid: Vec<Vec<u16>> = vec![vec![1, 2], vec![]];
    out.add("grid", &fb(flatbuffers::to_vec(&grid)));
    let fb_count = out.count;

    let mut out = Corpus::new("segments_decode");
    for v in st::samples_chunk() {
        out.add("chunk", &segmented(&v));
    }
    for v in st::samples_expr() {
        out.add("expr", &segmented(&v));
    }
    out.add(
        "u64",
        &segmented(&Segmented {
            header: 7u64,
            segments: vec![],
        }),
    );
    out.add(
        "string",
        &segmented(&Segmented {
            header: "header".to_string(),
            segments: vec![bytes::Bytes::from_static(b"body")],
        }),
    );

    println!(
        "wrote {rkyv_count} rkyv, {fb_count} FlatBuffers and {} segments seeds",
        out.count
    );
}
