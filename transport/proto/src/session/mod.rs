//! The session protocol: a sans-IO state machine over frames.
//!
//! A [`Session`] turns frames from the peer, timer expiries and the
//! application's actions into frames to send and [`Event`]s to act on. It
//! never reads a clock (time comes in as `now: Instant` arguments; every
//! input that can change the state takes one, used today or not, so a new
//! timer never changes the callers) and
//! never touches a socket; the async driver is a thin loop around it, and
//! tests drive two sessions against each other on a simulated clock.
//!
//! # Protocol
//!
//! - **Handshake.** Each side's first frame is a [`Hello`] (magic `PRSM`,
//!   the versions and features it speaks, limits, the ops a client will
//!   call, extensions). Anything else first, a second HELLO, a bad magic,
//!   no version in common or a required feature the other side lacks
//!   closes the session with a typed [`SessionError`] after a GOAWAY saying
//!   why. Otherwise the session raises [`Event::Hello`] and waits for the
//!   application's verdict ([`Session::accept`] sends an [`Accept`], which
//!   carries a server's op table; [`Session::reject`] a GOAWAY with a code).
//!   Each side is established once it accepted its peer and received its
//!   peer's ACCEPT; a GOAWAY before that is a rejection. The whole exchange
//!   must finish within [`SessionConfig::handshake_timeout`]. The session
//!   module `state` documents the lifecycle.
//! - **Features and versions.** Peers settle on the highest common
//!   [`VersionRange`] version and on the [`Features`] both offer. A frame
//!   kind beyond the base set belongs to a feature and is sent only once
//!   both sides offered it; an unknown kind is a connection error (see
//!   [`FrameKind`](crate::frame::FrameKind)).
//! - **Channels.** One per call or stream. Clients open odd ids, servers
//!   even ids (only clients open channels today); each side's ids strictly
//!   increase and never wrap. On a link that carries each channel on a
//!   stream of its own (QUIC), calls may arrive out of order
//!   ([`SessionConfig::ordered_opens`] off): an id below the highest is
//!   then taken once, if it skipped no more than four times
//!   `max_channels` ids; a GOAWAY's last id also covers the slower calls
//!   below it, a draining server waits for them, and calls slower than the
//!   client's own GOAWAY are still served. The peer may hold
//!   [`SessionConfig::max_channels`] open; calls and streams above that get
//!   `RESOURCE_EXHAUSTED` and the session goes on.
//! - **Calls.** CALL carries the op, codec and a relative deadline in µs;
//!   RESPONSE (flag `APP_ERROR` for an application error) or ERROR (a
//!   [`Code`](prism_core::Code) and message) ends it; CANCEL from the
//!   caller abandons it. Both ends surface one [`Reply`](prism_core::Reply).
//!   Frames for channels that already finished are ignored (DATA is
//!   discarded and its bytes given back): those races are normal.
//! - **Streams.** Each direction of a channel is a sequence of messages and
//!   an end. The request direction is the CALL's payload, or, with flag
//!   `OPEN`, DATA messages ended by DATA `END` (half-close). The response
//!   direction is DATA messages ended by DATA `END`, or a RESPONSE or ERROR,
//!   which may also follow messages. The callee's end ends the channel.
//!   CANCEL from the callee means stop sending (the request direction is no
//!   longer read; the response goes on). A callee may open its response
//!   stream with an empty DATA `OPEN` before its first message, so the
//!   caller learns the call was accepted without waiting for one. So a unary call is a CALL and a
//!   RESPONSE; a server stream a CALL, DATA… and END (or an ERROR, or an
//!   application error in a RESPONSE); a client stream a CALL `OPEN`,
//!   DATA…, END and a RESPONSE; a bidirectional stream both.
//! - **Large messages.** A message larger than the chunk size (the smaller
//!   of both HELLOs' `max_chunk`) travels as DATA chunks: the first has
//!   `MORE` and states the total in `aux`, checked against the receiver's
//!   `max_message` before anything is allocated (beyond it, the channel
//!   fails with `RESOURCE_EXHAUSTED`); continuations carry no total; the
//!   last has no `MORE` and completes the total exactly. A unary request or
//!   response that large travels so too (CALL `OPEN`, or DATA instead of a
//!   RESPONSE, then END). Chunks of different channels interleave, and
//!   queued whole frames (unary calls, small items, control) go first (see
//!   [`Session::poll_transmit`]); among chunks, a channel of higher
//!   [`Priority`] goes first, equals take turns ([`Session::set_priority`];
//!   each side schedules its own sending, nothing of it is on the wire). CALL, RESPONSE and DATA payloads larger
//!   than the chunk size we announced are protocol errors.
//! - **Flow control.** DATA costs its length in bytes plus its 32-byte
//!   header, against
//!   a channel window and the connection window, both announced in HELLO
//!   and granted back by CREDIT frames as the application consumes
//!   ([`Session::release`]). A DATA frame that starts with either window
//!   used up, or a CREDIT lifting credit above the window, closes the
//!   session with [`SessionError::FlowControl`] and a GOAWAY
//!   (`RESOURCE_EXHAUSTED`, "flow control …"): nothing past a window is
//!   ever buffered. See [`SessionConfig`] for the rules and defaults.
//! - **Deadlines.** Both sides time a call: the caller fails it with
//!   `DEADLINE_EXCEEDED` and sends CANCEL; the callee cancels its handler
//!   and sends ERROR `DEADLINE_EXCEEDED`.
//! - **Call metadata.** Once both sides offered [`Features::METADATA`], a
//!   CALL flagged `METADATA` carries the call's
//!   [`Metadata`](prism_core::Metadata) in a block before its request
//!   (a multiple of 16 bytes, so the request stays aligned; see
//!   [`Metadata::encode`](prism_core::Metadata::encode)). The server's
//!   session checks it before raising [`Event::Call`]: a block that carries
//!   a credential (a channel authenticates once, at its handshake; tokens
//!   never travel per call) or breaks the wire form fails the call with
//!   `INVALID_ARGUMENT`; the session goes on, and a refused stream open's
//!   DATA is discarded within its window.
//! - **Datagram ops.** Once both sides offered [`Features::DATAGRAM`], a
//!   client sends a datagram op's one message in a DATAGRAM frame: no
//!   channel, no answer, no credit, at most one chunk
//!   ([`Session::send_datagram`]); the server raises [`Event::Datagram`].
//!   A link with unreliable datagrams may lose it or let it overtake
//!   other frames, so one that arrives while the session is not
//!   established is dropped and counted ([`Session::dropped_datagrams`]),
//!   not a protocol error.
//! - **Re-authentication.** Once both sides offered [`Features::REAUTH`],
//!   a client presents fresh proofs in band, in AUTH frames, before the
//!   lifetime its server announced (ACCEPT extension
//!   [`LIFETIME_EXTENSION`], and each AUTH answer) runs out; a server may
//!   ask for one. Open calls and streams are not disturbed; a refused
//!   proof closes the session. The rules are in [`Session::reauthenticate`]
//!   and the `reauth` module.
//! - **Liveness.** PING is answered with PONG automatically; keepalive
//!   pings after silence close a dead session (on by default, see
//!   [`SessionConfig::keepalive`]), a frame that starts arriving must
//!   arrive whole within [`SessionConfig::frame_timeout`], and bytes
//!   waiting to be written must start moving within it (the driver reports
//!   a stalled write with [`Session::handle_send_stalled`]). A session with
//!   no call or stream open for [`SessionConfig::idle_timeout`] (5 minutes
//!   by default) closes with a GOAWAY carrying `OK`: not a failure, and a
//!   channel connects again on its next call.
//! - **Shutdown.** GOAWAY names the highest peer channel the sender took;
//!   calls above it were not processed and fail with `UNAVAILABLE`, calls
//!   below finish (for up to [`SessionConfig::drain_timeout`], then they are
//!   cancelled), then both sides close. [`Session::close`] is the
//!   immediate form; a driver reports a dead link with
//!   [`Session::handle_link_closed`].
//!
//! # Frames
//!
//! How each message uses the [frame header](crate::frame::FrameHeader):
//!
//! | kind     | channel | op | codec | flags       | aux                          | payload                         |
//! |----------|---------|----|-------|-------------|------------------------------|---------------------------------|
//! | HELLO    | 0       | 0  | 0     | 0           | 0                            | [`Hello`] encoding              |
//! | ACCEPT   | 0       | 0  | 0     | 0           | 0                            | [`Accept`] encoding             |
//! | CALL     | id      | op | codec | `OPEN`, `METADATA` | relative deadline µs, 0 none | [metadata block,] request; no request with `OPEN` |
//! | RESPONSE | id      | 0  | codec | `APP_ERROR` | 0                            | response or application error   |
//! | ERROR    | id      | 0  | 0     | 0           | status code                  | UTF-8 message (≤ 4 KiB)         |
//! | CANCEL   | id      | 0  | 0     | 0           | status code, 0 = `CANCELLED` | empty                           |
//! | DATA     | id      | 0  | codec | see below   | first chunk: total; SKIPPED: count; PACKED: message count | a chunk of a message, or empty |
//! | CREDIT   | id or 0 | 0  | 0     | 0           | bytes granted                | empty                           |
//! | PING     | 0       | 0  | 0     | 0           | ping id                      | empty                           |
//! | PONG     | 0       | 0  | 0     | 0           | the ping's id                | empty                           |
//! | GOAWAY   | 0       | 0  | 0     | 0           | last peer channel id taken   | code (u16 LE), UTF-8 reason     |
//! | AUTH     | 0       | 0  | 0     | 0           | proof sequence; 0 = request  | proof, or [`Lifetime`] / empty  |
//! | DATAGRAM | 0       | op | codec | 0           | 0                            | request (≤ the chunk size)      |
//!
//! DATA flags: `MORE` (more chunks of this message follow; on a first
//! chunk, `aux` is the message's total length), `END` (the direction ends;
//! no payload, no other flag), `OPEN` (from the callee, alone, no payload,
//! at most once: the response stream is open), `SKIPPED` (from the callee,
//! alone, no payload: `aux` ≥ 1 items were dropped here, a push
//! subscription's lag; its credit comes back when it is consumed, like a
//! message's, while `END`'s and `OPEN`'s come back on arrival),
//! `APP_ERROR` (from the callee, on a message's first chunk: the message is
//! the op's application error), `PACKED` (alone, once both sides offered
//! [`Features::PACKED`]: the payload is `aux` ≥ 1 whole messages, each
//! behind a 16-byte entry header and padded to 16 bytes; see [`Packer`]).
//! A CREDIT on channel 0 grants bytes on the connection's window.
//!
//! CANCEL's code tells the callee why: `CANCELLED` when the caller gave up,
//! `DEADLINE_EXCEEDED` when its deadline passed. A CALL deadline is rounded
//! up to whole microseconds (at least 1); the callee treats one beyond a
//! year as none. ERROR messages and GOAWAY reasons are cut to 4 KiB (and to
//! the peer's `max_frame`) on a character boundary. HELLO and ACCEPT are
//! bounded by [`MAX_HELLO_LEN`] rather than `max_frame`, which the peer may
//! not know yet.

mod assembly;
mod calls;
mod channels;
mod config;
mod data;
mod datagram;
mod error;
mod event;
mod flow;
mod gaps;
mod handshake;
mod hello;
mod hello_codec;
mod lifecycle;
mod machine;
mod metadata;
mod outbox;
mod packed;
mod priority;
mod reauth;
mod recv;
mod state;
mod streams;
mod wire;

#[cfg(test)]
mod tests;

pub use assembly::{Message, Pushed, Reassembler, TooLarge};
pub use calls::Answered;
pub use config::{
    DEFAULT_CONNECTION_WINDOW, DEFAULT_FRAME_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE,
    DEFAULT_MAX_CHUNK, DEFAULT_MAX_MESSAGE, DEFAULT_STREAM_WINDOW, Role, SessionConfig,
};
pub use error::{DatagramError, HelloError, OpenError, ReauthError, SendError, SessionError};
pub use event::{ChannelId, Chunk, Event, OutgoingCall, OutgoingDatagram, OutgoingStream};
pub use hello::{
    Accept, Extension, Features, HELLO_MAGIC, Hello, MAX_EXTENSION_LEN, MAX_HELLO_EXTENSIONS,
    MAX_HELLO_LEN, MAX_HELLO_OPS, MAX_OP_CODECS, OpEntry, VersionRange,
};
pub use machine::Session;
pub use packed::Packer;
pub use priority::Priority;
pub use reauth::{LIFETIME_EXTENSION, Lifetime, LifetimeError, MAX_AUTH_PROOF};
