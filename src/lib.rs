//! Prism: low-latency RPC for internal Rust services.
//!
//! Placeholder facade, filled in as the crates land.

#[doc(inline)]
pub use prism_codecs as codecs;
#[doc(inline)]
pub use prism_reflect as reflect;
