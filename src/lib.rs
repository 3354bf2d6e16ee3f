//! Prism: low-latency RPC for internal Rust services.
//!
//! A service is a plain async Rust trait under [`#[prism::service]`](service).
//! Type-shape reflection ([`facet`]) turns its types into schemas,
//! fingerprints, op ids and codec bindings; each op is encoded with its
//! codec (postcard, compiled from facet shapes, by default); and the
//! transports underneath (in-memory, TCP, Unix) only move frames.
//!
//! ```no_run
//! use prism::{Channel, Server};
//!
//! #[prism::message]
//! #[derive(Debug)]
//! pub enum DivError {
//!     DivideByZero,
//! }
//!
//! #[prism::service(public, package = "demo")]
//! pub trait Calc {
//!     /// Adds two numbers.
//!     async fn add(&self, a: i64, b: i64) -> i64;
//!     /// Divides, failing on zero.
//!     async fn div(&self, a: i64, b: i64) -> Result<i64, DivError>;
//! }
//!
//! struct MyCalc;
//!
//! impl Calc for MyCalc {
//!     async fn add(&self, a: i64, b: i64) -> i64 {
//!         a + b
//!     }
//!     async fn div(&self, a: i64, b: i64) -> Result<i64, DivError> {
//!         a.checked_div(b).ok_or(DivError::DivideByZero)
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = Server::builder()
//!     .allow_unauthenticated()
//!     .add_service(CalcServer::new(MyCalc))
//!     .allow_plaintext()
//!     .build()?;
//! tokio::spawn(async move { server.serve(listener).await });
//!
//! let channel = Channel::builder()
//!     .allow_plaintext()
//!     .connect(prism::tcp::TcpConnector::new(addr))
//!     .await?;
//! let calc = CalcClient::new(channel);
//! assert_eq!(calc.add(2, 3).await?, 5);
//! assert!(calc.div(1, 0).await?.is_err());
//! # Ok(()) }
//! # fn main() {} // services are declared at module level, not in a function
//! ```
//!
//! The crate root holds what a service and its callers name; codec
//! authors find the codec traits in [`codec`], introspection in
//! [`reflect`], middleware in [`client`] and [`server`], and transports in
//! [`transport`], [`tcp`], [`unix`], [`mem`], `tls`, `ws` and `quic`.

pub mod auth;
mod checks;
pub mod client;
mod connection_state;
mod context;
mod error;
mod layer_fn;
mod op_table;
mod response;
pub mod server;
mod stream_response;
mod streaming;

/// The reflection crate Prism builds on, re-exported so derives can name it
/// (`#[prism::message]` does it for you).
pub use facet;
#[doc(inline)]
pub use facet::Facet;
/// The rkyv crate behind the rkyv codec, re-exported so derives can name it
/// (`#[prism::message(rkyv)]` does it for you).
pub use rkyv;

#[doc(inline)]
pub use prism_macros::{message, service};

#[doc(inline)]
pub use client::{Channel, ChannelBuilder};
#[doc(inline)]
pub use connection_state::ConnectionState;
pub use context::Context;
#[doc(inline)]
pub use error::{BuildError, ConnectError, ServeError};
#[doc(inline)]
pub use prism_codecs::{Archived, Limits, Segmented};
#[doc(inline)]
pub use prism_core::{Code, Metadata, MetadataError, Reply, Response, Status};
#[doc(inline)]
pub use prism_transport::driver::{ConnectionError, ConnectionStats, Execution};
#[doc(inline)]
pub use server::{
    ConnectionRefusals, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_PEER, Server,
    ServerBuilder,
};
#[doc(inline)]
pub use streaming::{Lag, SendError, StreamSender, Streaming};

/// For codec authors and advanced callers: the codec traits, the built-in
/// codecs, payloads and the conformance suite.
pub mod codec {
    #[doc(inline)]
    pub use prism_codecs::{
        BUILTIN_CODECS, Capabilities, Codec, CodecInfo, CodecRegistry, CodecSet, Decode, DecodeAs,
        DecodeError, Encode, EncodeAs, EncodeBuf, EncodeError, FlatBuffers, Payload, PlanError,
        Postcard, RegistryError, Rkyv, Segments, View, conformance, flatbuffers, postcard, rkyv,
        segments,
    };
    #[doc(inline)]
    pub use prism_core::CodecId;
}

/// Reflection: op ids, descriptors, schemas, fingerprints and permission
/// manifests, as the service macro emits them.
pub mod reflect {
    #[doc(inline)]
    pub use prism_reflect::{
        Access, FieldDef, ManifestEntry, OpDescriptor, OpId, OpKind, OpTable, PermissionManifest,
        ReflectError, Schema, ServiceDescriptor, Ty, TypeDef, TypeDefKind, VariantDef, VariantKind,
        canonical_form, fingerprint,
    };
}

/// Transports: the link traits every adapter implements, session settings
/// and the link conformance suite.
pub mod transport {
    #[doc(inline)]
    pub use prism_core::Extensions;
    #[doc(inline)]
    pub use prism_proto::frame::Frame;
    #[doc(inline)]
    pub use prism_proto::session::{Features, Priority, SessionConfig, SessionError, VersionRange};
    #[doc(inline)]
    pub use prism_transport::driver::ConnectionInfo;
    #[doc(inline)]
    pub use prism_transport::{
        ChannelBinding, Connector, InsecureLink, Link, LinkConfig, LinkError, LinkInfo, LinkKind,
        Listener, PeerAddr, SecurityPolicy, SecurityProperties, UnixCredentials, testing,
    };
}

/// TLS 1.3 and mutual TLS over TCP: a [`TlsListener`](tls::TlsListener)
/// serves, a [`TlsConnector`](tls::TlsConnector) connects; no
/// `allow_plaintext` needed.
#[cfg(feature = "tls")]
pub mod tls {
    #[doc(inline)]
    pub use prism_transport::tls::{
        ALPN_PROTOCOL, AUTHENTICATED_KIND, ClientTls, DEFAULT_HANDSHAKE_TIMEOUT,
        DEFAULT_MAX_PENDING_HANDSHAKES, KIND, ServerTls, TlsConfigError, TlsConnector, TlsLink,
        TlsListener,
    };
}

/// WebSocket: a [`WsListener`](ws::WsListener) serves `ws://` (plaintext:
/// allow it explicitly on both ends) or `wss://`, a
/// [`WsConnector`](ws::WsConnector) connects to a URL. What browsers and
/// HTTP proxies can reach.
#[cfg(feature = "ws")]
pub mod ws {
    #[doc(inline)]
    pub use prism_transport::ws::{
        KIND, SUBPROTOCOL, WsConnector, WsIo, WsLink, WsListener, WsUrlError,
    };
    #[cfg(feature = "tls")]
    #[doc(inline)]
    pub use prism_transport::ws::{TLS_AUTHENTICATED_KIND, TLS_KIND};
}

/// QUIC: a [`QuicListener`](quic::QuicListener) serves on a UDP socket,
/// a [`QuicConnector`](quic::QuicConnector) connects; each call and stream
/// travels on a QUIC stream of its own, so a lost packet holds up only the
/// channel it belonged to. TLS 1.3 from the same configurations as
/// [`tls`]; no `allow_plaintext` needed.
#[cfg(feature = "quic")]
pub mod quic {
    #[doc(inline)]
    pub use prism_transport::quic::{
        ALPN_PROTOCOL, AUTHENTICATED_KIND, KIND, LINGER, QuicConnector, QuicLink, QuicListener,
    };
}

/// TCP: tokio's `TcpListener` serves, [`TcpConnector`](tcp::TcpConnector)
/// connects. Plaintext: allow it explicitly on both ends.
#[cfg(feature = "native")]
pub mod tcp {
    #[doc(inline)]
    pub use prism_transport::tcp::{KIND, TcpConnector, TcpLink};
}

/// Unix domain sockets: tokio's `UnixListener` serves,
/// [`UnixConnector`](unix::UnixConnector) connects.
#[cfg(all(unix, feature = "native"))]
pub mod unix {
    #[doc(inline)]
    pub use prism_transport::unix::{KIND, UnixConnector, UnixLink};
}

/// WebSocket links from a browser (on `wasm32-unknown-unknown`): a
/// [`WebSocketConnector`](web::WebSocketConnector) opens them on the page's
/// own `WebSocket`, to a server's `ws::WsListener`.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod web {
    #[doc(inline)]
    pub use prism_transport::web::{
        KIND, SUBPROTOCOL, TLS_KIND, WebSocketConnector, WebSocketLink,
    };
}

/// The in-memory transport: an [`endpoint`](mem::endpoint) (listener and
/// connector) or a connected [`pair`](mem::pair) of links in one process.
/// Payloads pass by reference count, never copied.
pub mod mem {
    #[doc(inline)]
    pub use prism_transport::mem::{KIND, MemConnector, MemLink, MemListener, endpoint, pair};
}

/// Items the `#[prism::service]` macro expands to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::checks::{CarriedBy, ViewedBy, carried_by, viewed_by};
    pub use crate::response::{Fallible, Plain};
    pub use crate::server::Dispatch;
    pub use crate::server::dispatch::{
        bidi, client_stream, server_stream, subscription, unary, unary_view, unknown_method,
    };
    pub use crate::stream_response::{FallibleStreamed, Streamed};
    pub use crate::streaming::{Decoder, decoder, view_decoder};
    pub use ::facet;
    pub use ::rkyv;
    pub use prism_transport::driver::Execution;
    pub use std::sync::Arc;
}

// Keeps the README's Rust examples compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[allow(dead_code)]
struct ReadmeDoctests;
