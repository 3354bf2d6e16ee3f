//! Header types for `segments_decode`: a struct, scalars, a string, a list of
//! options and a recursive enum, each carried as `Segmented<H>`.

use bytes::Bytes;
use facet::Facet;
use prism_codecs::segments::Segmented;

/// A typical header: where the segments belong.
#[derive(Facet, Debug, PartialEq)]
pub struct Chunk {
    pub file: String,
    pub offsets: Vec<u64>,
    pub dtype: Option<u8>,
}

/// A recursive header.
#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
pub enum Expr {
    Lit(i64),
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Call { name: String, args: Vec<Expr> },
}

/// `Segmented` values with 0, 1 and 3 segments of assorted lengths.
pub fn samples_chunk() -> Vec<Segmented<Chunk>> {
    [&[][..], &[5], &[0, 16, 33]]
        .iter()
        .map(|sizes| Segmented {
            header: Chunk {
                file: "data.bin".into(),
                offsets: sizes.iter().map(|&s| s as u64).collect(),
                dtype: Some(3),
            },
            segments: sizes
                .iter()
                .enumerate()
                .map(|(i, &n)| Bytes::from(vec![i as u8 + 1; n]))
                .collect(),
        })
        .collect()
}

pub fn samples_expr() -> Vec<Segmented<Expr>> {
    vec![Segmented {
        header: Expr::Add(
            Box::new(Expr::Lit(1)),
            Box::new(Expr::Call {
                name: "g".into(),
                args: vec![Expr::Neg(Box::new(Expr::Lit(2)))],
            }),
        ),
        segments: vec![Bytes::from_static(b"segment")],
    }]
}
