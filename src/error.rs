//! Errors of connecting, building a server and serving.

use prism_reflect::ReflectError;
use prism_transport::driver;

/// A [`Channel`](crate::Channel) could not connect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The link crosses a network in plaintext and that was not allowed
    /// (`ChannelBuilder::allow_plaintext`).
    #[error("refusing a plaintext {kind} link: call allow_plaintext() to permit it")]
    PlaintextRefused {
        /// The link kind.
        kind: &'static str,
    },
    /// The socket could not connect.
    #[error("could not connect")]
    Io(#[from] std::io::Error),
    /// The handshake failed.
    #[error("the handshake failed")]
    Handshake(#[from] driver::ConnectError),
}

/// A [`Server`](crate::Server) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two ops share an id, an op was added twice, or an op's types have no
    /// wire schema.
    #[error("invalid service set")]
    Ops(#[source] ReflectError),
}

/// Serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listener or link crosses a network in plaintext and that was not
    /// allowed (`ServerBuilder::allow_plaintext`).
    #[error("refusing to serve plaintext {kind}: call allow_plaintext() to permit it")]
    PlaintextRefused {
        /// The link kind.
        kind: &'static str,
    },
    /// A connection ended with an error.
    #[error("connection failed")]
    Connection(#[source] driver::DriverError),
}
