//! Frame kinds and flags: what a frame means to the session.

use core::fmt;

/// What a frame is for.
///
/// # Unknown kinds
///
/// The kinds below are the base protocol: every version speaks them. A kind
/// added later belongs to a feature (see
/// [`Features`](crate::session::Features)) and is sent only once both
/// HELLOs offered that feature, so a peer never meets a kind it does not
/// know unless the other side broke the protocol. Such a frame cannot be
/// skipped safely (its meaning and its effect on flow control are unknown),
/// so it is a connection error: decoding fails with
/// [`FrameError::UnknownKind`](super::FrameError::UnknownKind) and the
/// connection closes.
///
/// This enum is not `#[non_exhaustive]`: code matching on it must handle
/// every kind, so a new kind fails to compile where it is not handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// First frame each side sends: magic, versions, features, limits,
    /// the ops a client will call, extensions (credentials).
    Hello = 1,
    /// Opens a channel with a call: op id, codec id, relative deadline, request.
    Call = 2,
    /// The successful (or application-error) reply on a channel.
    Response = 3,
    /// Ends a channel with a status code and message.
    Error = 4,
    /// From the caller: abandons the call, the peer stops work on it. From
    /// the callee: stop sending (the request direction is no longer read).
    Cancel = 5,
    /// One chunk of a message on an open direction of a channel, or
    /// (flag `END`, empty) the end of that direction.
    Data = 6,
    /// Grants the peer more bytes of DATA on a channel, or (channel 0) on
    /// the whole connection.
    Credit = 7,
    /// Liveness probe; `aux` is echoed in the pong.
    Ping = 8,
    /// Answer to a ping.
    Pong = 9,
    /// The sender takes no new channels above `aux`; in-flight ones finish.
    /// Before the handshake finished, a GOAWAY rejects the peer.
    GoAway = 10,
    /// The sender accepted the peer's HELLO: carries the op table a server
    /// serves, and extensions.
    Accept = 11,
    /// In-band re-authentication, once both sides offered
    /// [`Features::REAUTH`](crate::session::Features::REAUTH): a client's
    /// fresh proof, or a server's answer (the new session lifetime) or
    /// request for one.
    Auth = 12,
    /// A datagram op's one message, once both sides offered
    /// [`Features::DATAGRAM`](crate::session::Features::DATAGRAM): no
    /// channel, no answer, no credit. A link with unreliable datagrams
    /// (QUIC) may carry it in one, where it can be lost or overtake other
    /// frames.
    Datagram = 13,
}

impl FrameKind {
    /// Parses a kind byte.
    pub const fn from_u8(byte: u8) -> Option<FrameKind> {
        Some(match byte {
            1 => FrameKind::Hello,
            2 => FrameKind::Call,
            3 => FrameKind::Response,
            4 => FrameKind::Error,
            5 => FrameKind::Cancel,
            6 => FrameKind::Data,
            7 => FrameKind::Credit,
            8 => FrameKind::Ping,
            9 => FrameKind::Pong,
            10 => FrameKind::GoAway,
            11 => FrameKind::Accept,
            12 => FrameKind::Auth,
            13 => FrameKind::Datagram,
            _ => return None,
        })
    }

    /// A short lowercase name, for errors and traces.
    pub const fn name(self) -> &'static str {
        match self {
            FrameKind::Hello => "hello",
            FrameKind::Call => "call",
            FrameKind::Response => "response",
            FrameKind::Error => "error",
            FrameKind::Cancel => "cancel",
            FrameKind::Data => "data",
            FrameKind::Credit => "credit",
            FrameKind::Ping => "ping",
            FrameKind::Pong => "pong",
            FrameKind::GoAway => "goaway",
            FrameKind::Accept => "accept",
            FrameKind::Auth => "auth",
            FrameKind::Datagram => "datagram",
        }
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-frame flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// On a RESPONSE, or the first DATA chunk of a message from the
    /// callee: the message is the op's application error (`Err(E)`),
    /// encoded with the op's codec.
    pub const APP_ERROR: Flags = Flags(1 << 0);
    /// On DATA: more chunks of this message follow; the first chunk of such
    /// a message states the message's total length in `aux`.
    pub const MORE: Flags = Flags(1 << 1);
    /// On DATA: the sender's direction of the channel ends here; the frame
    /// carries no message.
    pub const END: Flags = Flags(1 << 2);
    /// On CALL: the request direction stays open; its messages follow as
    /// DATA, ended by DATA with `END`. On DATA from the callee (no
    /// payload): the response stream is open, the call accepted.
    pub const OPEN: Flags = Flags(1 << 3);
    /// On DATA from the callee (no payload): `aux` items were dropped here
    /// (a push subscription's reader fell behind).
    pub const SKIPPED: Flags = Flags(1 << 4);
    /// On DATA, once both sides offered
    /// [`Features::PACKED`](crate::session::Features::PACKED): the payload
    /// is `aux` whole messages of the frame's codec, packed (see
    /// [`Packer`](crate::session::Packer)), not one.
    pub const PACKED: Flags = Flags(1 << 5);
    /// On CALL, once both sides offered
    /// [`Features::METADATA`](crate::session::Features::METADATA): the
    /// payload starts with the call's [`Metadata`](prism_core::Metadata)
    /// block; the request follows it.
    pub const METADATA: Flags = Flags(1 << 6);

    /// Flags from their wire byte.
    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits)
    }

    /// The wire byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both flag sets.
    #[must_use]
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}
