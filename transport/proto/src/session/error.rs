//! Session errors: a malformed HELLO, a session that ended badly, a call
//! that could not be opened.

use prism_core::Code;

use super::{Features, VersionRange};

/// A HELLO or ACCEPT payload could not be decoded (or ours could not be
/// encoded).
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
    /// The HELLO is in the format of protocol version 1, which had no
    /// version range: nothing after the version can be read.
    #[error("hello is in the format of protocol version {version}")]
    UnsupportedVersion {
        /// The version the peer sent.
        version: u16,
    },
    /// The version range is empty (its min exceeds its max) or names
    /// versions no HELLO in this format can speak.
    #[error("hello has an invalid version range {versions}")]
    BadVersions {
        /// The range read.
        versions: VersionRange,
    },
    /// A chunk size or window is zero: no DATA could ever be sent.
    #[error("hello has a zero {field}")]
    ZeroLimit {
        /// The field: `max_chunk`, `stream window` or `connection window`.
        field: &'static str,
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
    /// The handshake did not finish within the handshake timeout: no
    /// HELLO, no ACCEPT, or no verdict from this side's own check.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The peer's HELLO or ACCEPT was malformed.
    #[error("peer sent a malformed handshake")]
    BadHello(#[source] HelloError),
    /// The HELLO or ACCEPT this side was given breaks the protocol's
    /// limits: an invalid HELLO sends nothing; an invalid ACCEPT is not
    /// sent, and a GOAWAY tells the peer this side failed.
    #[error("our own handshake is invalid")]
    OwnHello(#[source] HelloError),
    /// The two sides speak no protocol version in common.
    #[error("peer speaks protocol version {theirs}, this side speaks {ours}")]
    VersionMismatch {
        /// The versions this side speaks.
        ours: VersionRange,
        /// The versions the peer speaks.
        theirs: VersionRange,
    },
    /// The peer does not offer features this side requires.
    #[error("peer lacks required features: {missing}")]
    PeerLacksFeatures {
        /// Required here, not offered there.
        missing: Features,
    },
    /// The peer requires features this side does not offer.
    #[error("peer requires features this side lacks: {missing}")]
    LacksFeatures {
        /// Required there, not offered here.
        missing: Features,
    },
    /// This side refused the peer's HELLO (see
    /// [`Session::reject`](super::Session::reject)).
    #[error("refused the peer ({code}): {reason}")]
    RejectedPeer {
        /// The code sent in the GOAWAY.
        code: Code,
        /// The reason sent in the GOAWAY.
        reason: String,
    },
    /// The peer refused this side's HELLO: its GOAWAY arrived before the
    /// handshake finished.
    #[error("the peer refused the connection ({code}): {reason}")]
    RejectedByPeer {
        /// The code in the peer's GOAWAY.
        code: Code,
        /// The reason in the peer's GOAWAY.
        reason: String,
    },
    /// The peer broke the protocol.
    #[error("protocol violation in {kind} frame: {reason}")]
    Protocol {
        /// The offending frame's kind name.
        kind: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The peer sent DATA beyond a window, or granted credit for bytes
    /// never sent: flow control broke, and the receiver refused to buffer.
    #[error("flow control violation on {}: {reason}", FlowLevel(*channel))]
    FlowControl {
        /// The channel whose window broke; 0 for the connection's.
        channel: u32,
        /// What was wrong.
        reason: &'static str,
    },
    /// Keepalive pings went unanswered.
    #[error("keepalive timed out: the peer stopped answering")]
    KeepaliveTimeout,
    /// Part of a frame arrived and the rest did not within the frame
    /// timeout ([`SessionConfig::frame_timeout`](super::SessionConfig::frame_timeout));
    /// over a link that times its streams itself (QUIC), nothing more of
    /// it came for that long.
    #[error("the peer sent part of a frame and not the rest within {timeout:?}")]
    FrameTimeout {
        /// The frame timeout.
        timeout: core::time::Duration,
    },
    /// Bytes waited to be written and the peer took none of them within
    /// the frame timeout
    /// ([`SessionConfig::frame_timeout`](super::SessionConfig::frame_timeout)):
    /// it stopped reading.
    #[error("the peer took nothing of what waited to be written for {timeout:?}")]
    SendTimeout {
        /// The frame timeout.
        timeout: core::time::Duration,
    },
    /// No call or stream was open for the idle timeout
    /// ([`SessionConfig::idle_timeout`](super::SessionConfig::idle_timeout)):
    /// this side closed the connection, telling the peer with a GOAWAY
    /// carrying `OK`.
    #[error("the connection was idle for {timeout:?}")]
    IdleTimeout {
        /// The idle timeout.
        timeout: core::time::Duration,
    },
    /// Calls were still open when the drain timeout after a GOAWAY ran
    /// out; they were cancelled.
    #[error("drain timed out with {open} channels still open; they were cancelled")]
    DrainTimeout {
        /// Channels open when the timeout fired.
        open: usize,
    },
    /// The peer sent GOAWAY and every channel has since finished.
    #[error("peer went away ({code}): {reason}")]
    PeerGoneAway {
        /// The code in the peer's GOAWAY.
        code: Code,
        /// The reason in the peer's GOAWAY.
        reason: String,
    },
    /// The peer sent GOAWAY and closed the link while channels were still
    /// open: it closed at once, and its GOAWAY says why.
    #[error("peer closed the connection ({code}): {reason}")]
    PeerClosed {
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
            SessionError::IdleTimeout { .. } => Code::Ok,
            SessionError::HandshakeTimeout
            | SessionError::KeepaliveTimeout
            | SessionError::FrameTimeout { .. }
            | SessionError::SendTimeout { .. }
            | SessionError::DrainTimeout { .. } => Code::DeadlineExceeded,
            SessionError::BadHello(_)
            | SessionError::OwnHello(_)
            | SessionError::VersionMismatch { .. }
            | SessionError::PeerLacksFeatures { .. }
            | SessionError::LacksFeatures { .. } => Code::FailedPrecondition,
            SessionError::RejectedPeer { code, .. } => *code,
            SessionError::Protocol { .. } => Code::Internal,
            SessionError::FlowControl { .. } => Code::ResourceExhausted,
            SessionError::RejectedByPeer { .. }
            | SessionError::PeerGoneAway { .. }
            | SessionError::PeerClosed { .. }
            | SessionError::LinkClosed => Code::Unavailable,
        }
    }

    /// The reason put in the GOAWAY this error makes us send, worded for
    /// the peer that reads it.
    pub(crate) fn goaway_reason(&self) -> String {
        match self {
            SessionError::HandshakeTimeout => "the handshake did not finish in time".into(),
            SessionError::BadHello(e) => format!("malformed handshake: {e}"),
            SessionError::VersionMismatch { ours, theirs } => {
                format!("protocol version {theirs} is not supported; this side speaks {ours}")
            }
            SessionError::PeerLacksFeatures { missing } => {
                format!("this side requires features you do not offer: {missing}")
            }
            SessionError::LacksFeatures { missing } => {
                format!("you require features this side does not offer: {missing}")
            }
            SessionError::RejectedPeer { reason, .. } => reason.clone(),
            SessionError::KeepaliveTimeout => "keepalive timed out".into(),
            SessionError::OwnHello(e) => {
                format!("this side could not build a valid handshake: {e}")
            }
            other => other.to_string(),
        }
    }
}

/// Names a window in errors: a channel's or the connection's.
struct FlowLevel(u32);

impl core::fmt::Display for FlowLevel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => f.write_str("the connection"),
            id => write!(f, "channel #{id}"),
        }
    }
}

/// [`Session::open_call`](super::Session::open_call) could not open a call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The handshake has not finished yet.
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
    #[error("request of {len} bytes exceeds the peer's message limit of {max} bytes")]
    TooLarge {
        /// The request's length.
        len: usize,
        /// The peer's advertised `max_message`.
        max: u64,
    },
    /// The call carries metadata and the peer did not offer
    /// [`Features::METADATA`](super::Features::METADATA).
    #[error("the peer does not take call metadata")]
    NoMetadata,
    /// The call's metadata block does not fit one chunk of the peer's.
    #[error("call metadata of {len} bytes exceeds the peer's chunk size of {max} bytes")]
    MetadataTooLarge {
        /// The encoded block's length.
        len: usize,
        /// The peer's chunk size.
        max: usize,
    },
    /// Every channel id of this side's parity is used; open a new session.
    #[error("channel ids are exhausted")]
    ChannelIdsExhausted,
    /// This is a server session; only clients open calls and streams.
    #[error("only client sessions open calls")]
    WrongRole,
    /// The session is closed.
    #[error("session is closed")]
    Closed,
}

/// [`Session::send_datagram`](super::Session::send_datagram) could not
/// send the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// The handshake has not finished yet.
    #[error("session is not established yet")]
    NotEstablished,
    /// This side or the peer sent GOAWAY: the peer takes nothing new.
    #[error("session is going away")]
    GoingAway,
    /// The peer did not offer datagram ops.
    #[error("the peer does not take datagram ops")]
    NotNegotiated,
    /// The message does not fit one frame the peer takes.
    #[error("a datagram of {len} bytes exceeds the peer's limit of {max} bytes")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The largest the peer takes in one frame.
        max: usize,
    },
    /// This is a server session; only clients call datagram ops.
    #[error("only client sessions send datagrams")]
    WrongRole,
    /// The session is closed.
    #[error("session is closed")]
    Closed,
}

/// [`Session::reauthenticate`](super::Session::reauthenticate) could not
/// send the proof.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReauthError {
    /// The handshake has not finished yet.
    #[error("session is not established yet")]
    NotEstablished,
    /// The peer did not offer in-band re-authentication.
    #[error("the peer does not re-authenticate in band")]
    NotNegotiated,
    /// An earlier proof still waits for its answer.
    #[error("a proof already waits for its answer")]
    Pending,
    /// The proof is larger than an AUTH frame carries.
    #[error("a proof of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The proof's length.
        len: usize,
        /// [`MAX_AUTH_PROOF`](super::MAX_AUTH_PROOF).
        max: usize,
    },
    /// Only clients present proofs.
    #[error("only client sessions present proofs")]
    WrongRole,
    /// The session is closed.
    #[error("session is closed")]
    Closed,
}

/// [`Session::send`](super::Session::send) or
/// [`Session::finish`](super::Session::finish) could not queue anything.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The channel is not open: it finished, was cancelled, or never was.
    #[error("the channel is not open")]
    Gone,
    /// Our direction of the channel ended (or never opened: a unary call).
    #[error("the channel's sending direction has ended")]
    Ended,
    /// The peer asked us to stop sending on this channel.
    #[error("the peer stopped reading this channel ({code})")]
    Stopped {
        /// The code in the peer's CANCEL.
        code: Code,
    },
    /// A message is still pending on this channel: wait for
    /// [`Event::Writable`](super::Event::Writable).
    #[error("the channel still has a message pending")]
    Full,
    /// The message is larger than the peer accepts.
    #[error("message of {len} bytes exceeds the peer's message limit of {max} bytes")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The peer's advertised `max_message`.
        max: u64,
    },
}
