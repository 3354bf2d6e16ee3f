//! QUIC links (quinn, TLS 1.3 from the same rustls configurations as TLS
//! links): each Prism channel travels on a QUIC stream of its own, so one
//! lost packet or one slow channel never holds up another.
//!
//! [`QuicListener`] accepts links on a UDP socket (handshakes side by side,
//! a bounded number at a time, each under a timeout); [`QuicConnector`]
//! opens them. Both speak ALPN [`ALPN_PROTOCOL`].
//!
//! # Mapping
//!
//! - **Control.** Each side opens one unidirectional stream at once and
//!   sends every channel-0 frame on it (HELLO, ACCEPT, PING, GOAWAY,
//!   connection CREDIT, AUTH).
//! - **Channels.** A CALL opens a bidirectional stream; the channel's
//!   frames both ways follow on it, in order. The callee finishes its half
//!   after its answer (RESPONSE, ERROR or DATA `END`); the caller finishes
//!   its half once that answer arrives, or after its CANCEL. A frame for a
//!   channel whose stream is done (a race the session ignores anyway)
//!   takes the control stream; a CALL never does, and one there fails the
//!   link (it would slip past QUIC's stream limit).
//! - **Order.** A channel stream starts with a 16-byte preamble: how many
//!   control frames its sender had sent when it opened the channel. The
//!   receiver delivers the channel's frames only after that many control
//!   frames, so the handshake (and anything else sent earlier on channel
//!   0) comes first. Calls of different channels may arrive in any order:
//!   the link's kind says so ([`LinkKind::independent_channels`]) and the
//!   session then accepts call ids out of order.
//! - **End.** Closing the link finishes every stream; the control stream
//!   ends with a 16-byte trailer counting the channel streams its sender
//!   opened, so the receiver knows when it has read everything. A link
//!   that is dropped instead finishes its streams too; its peer reads the
//!   end once the connection closed and every stream was read to its end.
//!   Everything a dropped link still holds gets [`LINGER`] to be delivered;
//!   then its streams are reset. A stream reset, or a connection lost
//!   before a stream ended, is an error, never a clean end.
//! - **Limits.** A client may open the session's `max_channels` streams
//!   at once and a quarter more (a channel's stream closes a little after
//!   the channel); a server opens channels on none, so its client takes
//!   none (quinn keeps state for every stream a peer may open). QUIC's connection receive window (quinn's default is
//!   unbounded) is also the bound on frames read ahead of the session: the
//!   session's connection window, plus a whole chunk and a small frame per
//!   channel, plus one largest frame, which is all a peer keeping to its
//!   credit can have in flight, so its frames never wait for room. Quinn's
//!   idle timeout (30 s, with QUIC keep-alive every 10 s) lets go of a
//!   peer whose path died. A peer whose path lives but that stops reading
//!   one stream is let go of too, by either side: a write on any stream
//!   that moves nothing for the session's `frame_timeout` (30 s by
//!   default), or a wait that long for the peer to let a channel's stream
//!   open (a peer that never frees stream credit), fails the link
//!   ([`LinkConfig::frame_timeout`](crate::LinkConfig::frame_timeout)),
//!   and the driver closes the QUIC connection at once (code 1), letting
//!   go of everything that waited. So is one that sends part of a frame on
//!   a stream and then nothing more of it for the same timeout, however
//!   busy it keeps its other streams (a stream's reader times each read
//!   once a frame started, not the wait for room in the receive budget,
//!   which is this side's): the session closes with a frame timeout and
//!   a GOAWAY, as over TCP.
//! - **Datagrams.** A DATAGRAM frame (a datagram op's message) travels in
//!   one unreliable QUIC datagram, header and payload, where it fits the
//!   path ([`Link::max_datagram_size`](crate::Link::max_datagram_size)
//!   says how much does) and quinn's send buffer has room, and on the
//!   control stream otherwise. Received datagrams are held until the
//!   peer's HELLO and ACCEPT arrived (a datagram is sent only after both;
//!   quinn keeps up to 256 KiB of them meanwhile), take room in a budget
//!   of their own (256 KiB), and are dropped and counted when there is
//!   none. A datagram that is not one DATAGRAM frame closes the link.
//! - **Priority.** [`Link::set_priority`](crate::Link::set_priority) makes
//!   an op's priority its stream's QUIC priority; the control stream goes
//!   above every channel.
//!
//! Prism's own credits still apply on top: QUIC's windows only ever slow a
//! sender down.

mod config;
mod connector;
mod link;
mod listener;
mod wire;

use std::time::Duration;

pub use connector::QuicConnector;
pub use link::QuicLink;
pub use listener::QuicListener;

use crate::link::LinkKind;

/// The ALPN protocol both ends offer (the same as TLS links').
pub const ALPN_PROTOCOL: &[u8] = crate::tls::ALPN_PROTOCOL;

/// How long a dropped link's streams may take to deliver what they hold
/// before the connection closes.
pub const LINGER: Duration = Duration::from_secs(5);

/// A QUIC link whose peer proved no identity (a server not asking for
/// client certificates): what a TLS link protects.
pub const KIND: LinkKind = LinkKind {
    transport: "quic",
    ..crate::tls::KIND
}
.with_independent_channels()
.with_datagrams();

/// A QUIC link whose peer proved its identity with a certificate: every
/// link a client opens, and every link of a mutual-TLS server.
pub const AUTHENTICATED_KIND: LinkKind = LinkKind {
    transport: "quic",
    ..crate::tls::AUTHENTICATED_KIND
}
.with_independent_channels()
.with_datagrams();
