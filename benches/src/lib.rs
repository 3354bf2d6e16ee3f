//! Shared fixtures for Prism's benchmarks.
//!
//! Each type derives both `Facet` (for Prism's postcard codec and
//! `facet-postcard`) and serde's traits (for serde `postcard`), so all three
//! encode the very same value, and the benchmark checks they produce the
//! very same bytes.

use facet::Facet;
use serde::{Deserialize, Serialize};

/// A typical request: ten fields, one of them a 1 KiB byte buffer.
///
/// On the serde side the buffer goes through `serde_bytes`, as it would in
/// any serde code that cares about speed (without it serde walks it byte by
/// byte).
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
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
#[derive(Facet, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
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

pub mod rpc;
