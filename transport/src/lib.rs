//! Prism transports: the codec-blind [`Link`], [`Listener`] and
//! [`Connector`] traits, the adapters (in-memory, TCP, Unix sockets), and
//! the async drivers that run the sans-IO session of
//! [`prism_proto`] over a link.
//!
//! Nothing here knows which codec made a payload: op ids and codec ids are
//! opaque numbers in frame headers. A new transport implements the three
//! traits and passes the public conformance suite ([`testing`]); the
//! runtime's builders take any of them.

pub mod driver;
mod link;
pub mod mem;
pub mod stream;
pub mod tcp;
pub mod testing;
#[cfg(unix)]
pub mod unix;

#[doc(inline)]
pub use link::{
    ChannelBinding, Connector, Link, LinkConfig, LinkError, LinkInfo, LinkKind, Listener, PeerAddr,
    PlaintextRefused, SecurityProperties, UnixCredentials,
};
