//! [`Variants`], in a module of its own: rkyv's derive leaves the fields of
//! its resolver's struct variant undocumented, and `missing_docs` cannot be
//! allowed on generated items alone.

#![allow(missing_docs)]

use facet::Facet;

/// An enum with every kind of variant.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
#[repr(u8)]
pub enum Variants {
    /// A unit variant, first.
    Empty,
    /// A newtype variant.
    Newtype(u32),
    /// A tuple variant.
    Tuple(i16, String),
    /// A struct variant.
    Struct {
        /// An id.
        id: u64,
        /// A name.
        name: String,
        /// Tags.
        tags: Vec<u16>,
    },
    /// A unit variant, last.
    Last,
}
