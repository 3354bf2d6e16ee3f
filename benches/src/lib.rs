//! Shared fixtures for Prism's benchmarks.
//!
//! Each type derives `Facet` (for Prism's postcard and FlatBuffers codecs and
//! `facet-postcard`), serde's traits (for serde `postcard`) and rkyv's (for
//! Prism's rkyv codec), so every codec carries the very same value; the
//! benchmark checks that the three postcard implementations produce the very
//! same bytes and that every codec round-trips the value.
//!
//! The segments codec carries bulk bytes beside a small header, not arbitrary
//! structs, so its messages are built by hand: [`segmented_record`] puts the
//! nine small fields of a [`Record`] in the header and the 1 KiB body in the
//! one segment; [`segmented_points`] moves the points as one segment of raw
//! little-endian bytes ([`POINT_BYTES`] per point).

use bytes::{BufMut, Bytes, BytesMut};
use facet::Facet;
use prism_codecs::Segmented;
use serde::{Deserialize, Serialize};

/// A typical request: ten fields, one of them a 1 KiB byte buffer.
///
/// On the serde side the buffer goes through `serde_bytes`, as it would in
/// any serde code that cares about speed (without it serde walks it byte by
/// byte).
#[derive(
    Facet,
    Serialize,
    Deserialize,
    prism::rkyv::Archive,
    prism::rkyv::Serialize,
    prism::rkyv::Deserialize,
    Debug,
    Clone,
    PartialEq,
)]
#[rkyv(crate = prism::rkyv)]
pub struct Record {
    /// Request id.
    pub id: u64,
    /// Sequence number.
    pub seq: u32,
    /// A small enum-like code.
    pub kind: u8,
    /// Flag bits.
    pub flags: u16,
    /// A signed quantity.
    pub delta: i64,
    /// A float.
    pub ratio: f64,
    /// A boolean.
    pub active: bool,
    /// A short string.
    pub name: String,
    /// An optional small integer.
    pub parent: Option<u32>,
    /// The 1 KiB body.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// One element of the list benchmark: a small struct of three fields.
#[derive(
    Facet,
    Serialize,
    Deserialize,
    prism::rkyv::Archive,
    prism::rkyv::Serialize,
    prism::rkyv::Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
)]
#[rkyv(crate = prism::rkyv)]
pub struct Point {
    /// An unsigned coordinate (varint).
    pub x: u32,
    /// A signed coordinate (zigzag varint).
    pub y: i64,
    /// A one-byte tag.
    pub tag: u8,
}

/// The struct benchmark's value.
pub fn record() -> Record {
    Record {
        id: 0x0123_4567_89ab,
        seq: 42_000,
        kind: 3,
        flags: 0b1010_0000_0101,
        delta: -123_456,
        ratio: 0.75,
        active: true,
        name: String::from("get_user_profile"),
        parent: Some(7),
        payload: (0..1024).map(|i| (i * 31 % 251) as u8).collect(),
    }
}

/// The list benchmark's value: 10,000 points with varints of mixed widths.
pub fn points() -> Vec<Point> {
    (0..10_000u32)
        .map(|i| Point {
            x: i.wrapping_mul(2_654_435_761) >> (i % 32),
            y: i64::from(i) * if i % 2 == 0 { 1 } else { -1_000 },
            tag: (i % 7) as u8,
        })
        .collect()
}

/// The segments codec's header for a [`Record`]: its nine small fields. The
/// 1 KiB body travels as the message's one segment.
#[derive(Facet, Debug, Clone, PartialEq)]
pub struct RecordHeader {
    /// Request id.
    pub id: u64,
    /// Sequence number.
    pub seq: u32,
    /// A small enum-like code.
    pub kind: u8,
    /// Flag bits.
    pub flags: u16,
    /// A signed quantity.
    pub delta: i64,
    /// A float.
    pub ratio: f64,
    /// A boolean.
    pub active: bool,
    /// A short string.
    pub name: String,
    /// An optional small integer.
    pub parent: Option<u32>,
}

/// A [`Record`] as a segmented message: the small fields in the header, the body as the
/// one segment (copied once into a `Bytes`).
pub fn segmented_record(record: &Record) -> Segmented<RecordHeader> {
    Segmented {
        header: RecordHeader {
            id: record.id,
            seq: record.seq,
            kind: record.kind,
            flags: record.flags,
            delta: record.delta,
            ratio: record.ratio,
            active: record.active,
            name: record.name.clone(),
            parent: record.parent,
        },
        segments: vec![Bytes::copy_from_slice(&record.payload)],
    }
}

/// A message made by [`segmented_record`] back as a [`Record`] (the body copied
/// into the `Vec<u8>`). `None` when the message has no segment.
pub fn record_from_segmented(message: Segmented<RecordHeader>) -> Option<Record> {
    let h = message.header;
    Some(Record {
        id: h.id,
        seq: h.seq,
        kind: h.kind,
        flags: h.flags,
        delta: h.delta,
        ratio: h.ratio,
        active: h.active,
        name: h.name,
        parent: h.parent,
        payload: message.segments.first()?.to_vec(),
    })
}

/// The segments codec's header for a list of points.
#[derive(Facet, Debug, Clone, PartialEq)]
pub struct PointsHeader {
    /// How many points the segment holds.
    pub count: u32,
    /// Bytes per point in the segment: [`POINT_BYTES`].
    pub stride: u32,
}

/// Bytes per point in a message's segment: `x` (u32 LE), `y` (i64 LE), `tag`
/// (u8), packed.
pub const POINT_BYTES: usize = 13;

/// Points as a segmented message: one segment of raw little-endian bytes.
pub fn segmented_points(points: &[Point]) -> Segmented<PointsHeader> {
    let mut raw = BytesMut::with_capacity(points.len() * POINT_BYTES);
    for p in points {
        raw.put_u32_le(p.x);
        raw.put_i64_le(p.y);
        raw.put_u8(p.tag);
    }
    Segmented {
        header: PointsHeader {
            count: points.len() as u32,
            stride: POINT_BYTES as u32,
        },
        segments: vec![raw.freeze()],
    }
}

/// A message made by [`segmented_points`] back as points. `None` when the
/// segment does not hold `count` points of [`POINT_BYTES`].
pub fn points_from_segmented(message: &Segmented<PointsHeader>) -> Option<Vec<Point>> {
    let raw = message.segments.first()?;
    let count = message.header.count as usize;
    if message.header.stride as usize != POINT_BYTES || raw.len() != count * POINT_BYTES {
        return None;
    }
    Some(
        raw.chunks_exact(POINT_BYTES)
            .map(|c| Point {
                x: u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                y: i64::from_le_bytes([c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]]),
                tag: c[12],
            })
            .collect(),
    )
}

pub mod rpc;
pub mod streams;
