//! Prism transports: the frame format, the codec-blind `Link` trait and the
//! sans-IO session protocol.
//!
//! Nothing here knows which codec made a payload: op ids and codec ids are
//! opaque integers in frame headers.

pub mod frame;

mod code;

#[doc(inline)]
pub use code::Code;
mod link;

#[doc(inline)]
pub use link::{Link, LinkError, LinkInfo, LinkKind, SecurityProperties};
