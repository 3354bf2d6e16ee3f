//! Errors of connecting, building a server and serving.

use prism_core::Code;
use prism_proto::session::{SessionError, VersionRange};
use prism_reflect::ReflectError;
use prism_transport::InsecureLink;
use prism_transport::driver::ConnectionError;

/// A [`Channel`](crate::Channel) could not connect. Each way a connection
/// attempt fails is one variant, so a caller matches what it cares about
/// directly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The link falls short of the channel's security policy: plaintext
    /// that was not allowed (`ChannelBuilder::allow_plaintext`), or no
    /// peer authentication where it is required.
    #[error(transparent)]
    InsecureLink(#[from] InsecureLink),
    /// The peer could not be reached.
    #[error("could not connect to {target}: {source}")]
    Connect {
        /// Where the connector tried to connect.
        target: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The server speaks no protocol version this client speaks.
    #[error("the server speaks protocol version {theirs}, this client speaks {ours}")]
    VersionMismatch {
        /// The versions this client speaks.
        ours: VersionRange,
        /// The versions the server speaks.
        theirs: VersionRange,
    },
    /// The server refused the connection, such as for a schema mismatch on
    /// an op the client declared ([`ChannelBuilder::service`](crate::ChannelBuilder::service)).
    #[error("the server refused the connection ({code}): {reason}")]
    Rejected {
        /// The server's status code.
        code: Code,
        /// The server's reason.
        reason: String,
    },
    /// An op of a service declared with
    /// [`ChannelBuilder::service`](crate::ChannelBuilder::service) has types
    /// without a wire schema.
    #[error("cannot describe a declared op: {0}")]
    Schema(#[source] ReflectError),
    /// A declared op is a datagram op that refuses to travel in band
    /// (`#[prism(datagram)]`), and the link has no unreliable datagrams:
    /// refused before anything was sent.
    #[error("{op} needs unreliable datagrams, and a {transport} link has none")]
    NoDatagrams {
        /// The op's full name.
        op: String,
        /// The link's transport.
        transport: &'static str,
    },
    /// The channel has credentials, and the link would carry them in
    /// plaintext across a network: refused before anything was sent.
    #[error("refusing to send credentials over a plaintext network link")]
    ProofOverPlaintext,
    /// The credential source gave no proof.
    #[error("no credentials to present: {0}")]
    Credentials(#[source] crate::auth::AuthError),
    /// The handshake failed otherwise: the link broke, the peer broke the
    /// protocol, lacked a required feature, or did not answer in time.
    #[error("the handshake failed: {0}")]
    Handshake(#[source] ConnectionError),
}

impl From<ConnectionError> for ConnectError {
    fn from(error: ConnectionError) -> ConnectError {
        match error {
            ConnectionError::Session(SessionError::VersionMismatch { ours, theirs }) => {
                ConnectError::VersionMismatch { ours, theirs }
            }
            ConnectionError::Session(SessionError::RejectedByPeer { code, reason }) => {
                ConnectError::Rejected { code, reason }
            }
            other => ConnectError::Handshake(other),
        }
    }
}

/// A [`Server`](crate::Server) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two ops share an id, a service was added twice, or an op's types
    /// have no wire schema.
    #[error("invalid service set: {0}")]
    Ops(#[source] ReflectError),
    /// An op declares neither a permission nor `public` (a descriptor made
    /// by hand: the service macro refuses such an op at compile time).
    #[error("op {op} declares no access: give it a permission or declare it public")]
    UndeclaredAccess {
        /// The op's full name.
        op: String,
    },
    /// The server has no authenticator and was not built with
    /// `ServerBuilder::allow_unauthenticated`.
    #[error(
        "the server has no authenticator: give it one (`authenticator`) or say that it has none (`allow_unauthenticated`)"
    )]
    NoAuthenticator,
}

/// Serving stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listener or link falls short of the server's security policy:
    /// plaintext that was not allowed (`ServerBuilder::allow_plaintext`),
    /// or no peer authentication where it is required.
    #[error(transparent)]
    InsecureLink(#[from] InsecureLink),
    /// The server was shut down before serving began.
    #[error("the server has been shut down")]
    ShutDown,
    /// The connection ([`Server::serve_link`](crate::Server::serve_link))
    /// ended with an error.
    #[error("the connection failed: {0}")]
    Connection(#[source] ConnectionError),
}
