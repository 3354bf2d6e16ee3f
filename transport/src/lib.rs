//! Prism transports: the codec-blind [`Link`], [`Listener`] and
//! [`Connector`] traits, the adapters (in-memory, TCP, Unix sockets, TLS,
//! WebSocket, QUIC), and the async drivers that run the sans-IO session of
//! [`prism_proto`] over a link.
//!
//! Nothing here knows which codec made a payload: op ids and codec ids are
//! opaque numbers in frame headers. A new transport implements the three
//! traits and passes the public conformance suite ([`testing`]); the
//! runtime's builders take any of them.

pub mod driver;
#[cfg(any(feature = "tls", feature = "ws"))]
pub mod handshakes;
mod link;
pub mod mem;
mod policy;
#[cfg(feature = "quic")]
pub mod quic;
pub mod rt;
pub mod stream;
#[cfg(feature = "native")]
pub mod tcp;
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(all(unix, feature = "native"))]
pub mod unix;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod web;
#[cfg(feature = "ws")]
pub mod ws;

#[doc(inline)]
pub use link::{
    ChannelBinding, Connector, Link, LinkConfig, LinkError, LinkInfo, LinkKind, Listener, PeerAddr,
    SecurityProperties, UnixCredentials,
};
#[doc(inline)]
pub use policy::{InsecureLink, SecurityPolicy};
