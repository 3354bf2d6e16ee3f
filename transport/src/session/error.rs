//! Session errors: a malformed HELLO, a session that ended badly, a call
//! that could not be opened.

use crate::Code;

/// A HELLO payload could not be decoded (or ours could not be encoded).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// The payload ends inside a field.
    #[error("hello ends inside its {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// The payload does not start with `PRSM`.
    #[error("hello has the wrong magic {found:02x?}")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The peer speaks a protocol version we do not.
    #[error("hello has unsupported protocol version {version}")]
    UnsupportedVersion {
        /// The version the peer sent.
        version: u16,
    },
    /// A list is longer than the protocol allows.
    #[error("hello lists {count} {what}, more than the limit of {max}")]
    TooMany {
        /// What was counted: `ops`, `codecs` or `extensions`.
        what: &'static str,
        /// The count read.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// An extension's data is longer than the protocol allows.
    #[error("hello extension {kind} has {len} bytes, more than the limit of {max}")]
    ExtensionTooLarge {
        /// The extension's kind.
        kind: u16,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The payload is longer than any HELLO may be.
    #[error("hello of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes follow the last extension.
    #[error("hello has {count} trailing bytes")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// Why a session closed with an error (see [`Event::Closed`](super::Event::Closed)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer sent no HELLO within the handshake timeout.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The peer's HELLO was malformed.
    #[error("peer sent a malformed hello")]
    BadHello(#[source] HelloError),
    /// The HELLO this side was given breaks the protocol's limits; nothing
    /// was sent.
    #[error("our own hello is invalid")]
    OwnHello(#[source] HelloError),
    /// The peer speaks another protocol version.
    #[error("peer speaks protocol version {theirs}, we speak {ours}")]
    VersionMismatch {
        /// Our version.
        ours: u16,
        /// The peer's version.
        theirs: u16,
    },
    /// The peer broke the protocol.
    #[error("protocol violation in {kind} frame: {reason}")]
    Protocol {
        /// The offending frame's kind name.
        kind: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// Keepalive pings went unanswered.
    #[error("keepalive timed out: the peer stopped answering")]
    KeepaliveTimeout,
    /// The peer sent GOAWAY and every channel has since finished.
    #[error("peer went away ({code}): {reason}")]
    PeerGoneAway {
        /// The code in the peer's GOAWAY.
        code: Code,
        /// The reason in the peer's GOAWAY.
        reason: String,
    },
    /// The link closed under the session (see
    /// [`Session::handle_link_closed`](super::Session::handle_link_closed)).
    #[error("link closed")]
    LinkClosed,
}

impl SessionError {
    /// The code put in the GOAWAY this error makes us send.
    pub(crate) fn goaway_code(&self) -> Code {
        match self {
            SessionError::HandshakeTimeout | SessionError::KeepaliveTimeout => {
                Code::DeadlineExceeded
            }
            SessionError::BadHello(_)
            | SessionError::OwnHello(_)
            | SessionError::VersionMismatch { .. } => Code::FailedPrecondition,
            SessionError::Protocol { .. } => Code::Internal,
            SessionError::PeerGoneAway { .. } | SessionError::LinkClosed => Code::Unavailable,
        }
    }

    /// The reason put in the GOAWAY this error makes us send, worded for
    /// the peer that reads it.
    pub(crate) fn goaway_reason(&self) -> String {
        match self {
            SessionError::HandshakeTimeout => {
                "no hello arrived within the handshake timeout".into()
            }
            SessionError::BadHello(e) => format!("malformed hello: {e}"),
            SessionError::VersionMismatch { ours, theirs } => {
                format!("protocol version {theirs} is not supported; this side speaks {ours}")
            }
            SessionError::KeepaliveTimeout => "keepalive timed out".into(),
            other => other.to_string(),
        }
    }
}

/// [`Session::open_call`](super::Session::open_call) could not open a call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The peer's HELLO has not arrived yet.
    #[error("session is not established yet")]
    NotEstablished,
    /// This side or the peer sent GOAWAY: no new calls on this session.
    #[error("session is going away")]
    GoingAway,
    /// As many calls are open as the peer accepts.
    #[error("the peer accepts at most {limit} open channels")]
    TooManyChannels {
        /// The peer's advertised `max_channels`.
        limit: u32,
    },
    /// The request is larger than the peer accepts.
    #[error("request of {len} bytes exceeds the peer's frame limit of {max} bytes")]
    TooLarge {
        /// The request's length.
        len: usize,
        /// The peer's advertised `max_frame`.
        max: u32,
    },
    /// Every channel id of this side's parity is used; open a new session.
    #[error("channel ids are exhausted")]
    ChannelIdsExhausted,
    /// This is a server session; only clients open calls for now.
    #[error("only client sessions open calls")]
    WrongRole,
    /// The session is closed.
    #[error("session is closed")]
    Closed,
}
