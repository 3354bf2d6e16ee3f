//! Prism transports: the frame format, the codec-blind `Link` trait and the
//! sans-IO session protocol.
//!
//! Nothing here knows which codec made a payload: op ids and codec ids are
//! opaque integers in frame headers.

pub mod aligned;
pub mod driver;
pub mod frame;
pub mod int_map;
pub mod mem;
pub mod session;
pub mod stream;
pub mod tcp;
#[cfg(unix)]
pub mod unix;

mod code;

#[doc(inline)]
pub use code::Code;
mod link;

#[doc(inline)]
pub use link::{Link, LinkError, LinkInfo, LinkKind, SecurityProperties};
