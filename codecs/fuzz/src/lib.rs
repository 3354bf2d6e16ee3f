//! The types the fuzz targets decode and sample values of each, shared by
//! the targets (`fuzz_targets/`) and the seed generator
//! (`examples/seeds.rs`, which writes valid encodings of the samples into
//! `corpus/` so a short run starts past the format's outer checks).

pub mod flatbuffers_types;
pub mod segments_types;
pub mod rkyv_types;
