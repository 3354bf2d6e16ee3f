//! WebSocket links (RFC 6455) on `tokio-tungstenite`: what a browser can
//! open, and what passes proxies and load balancers that speak HTTP.
//!
//! [`WsListener`] accepts `ws://` (and with the `tls` feature `wss://`)
//! connections, running upgrade handshakes side by side under a bound and
//! a timeout, as the TLS listener does; [`WsConnector`] opens them from a
//! URL.
//!
//! # On the wire
//!
//! - The HTTP upgrade must name the subprotocol [`SUBPROTOCOL`]
//!   (`Sec-WebSocket-Protocol: prism.v1`) and the server answers with it;
//!   a peer that speaks something else is refused before any frame moves.
//! - Each Prism frame is one **binary** message: its 32-byte header, then
//!   its payload, no padding (the message delimits it). A message shorter
//!   than a header, or whose length differs from its header's, is a
//!   [`LinkError::Protocol`], as is a **text** message.
//! - An **empty** binary message ends the sender's direction (WebSocket
//!   has no half-close of its own: its Close ends both directions). The
//!   other direction goes on until its sender ends it too; then the side
//!   that ends second closes the WebSocket.
//! - WebSocket ping and pong are answered by tungstenite and otherwise
//!   ignored: Prism's own PING is the liveness check.
//! - Limits follow the session's: a message or frame longer than the
//!   header plus [`LinkConfig::max_frame`] fails the link
//!   ([`LinkError::Protocol`]) before it is buffered whole.
//!
//! # Alignment
//!
//! A binary message arrives as one buffer, and its payload starts 32
//! bytes in. When that is not 16-byte aligned the link copies the payload
//! once into an aligned buffer (zero-copy codecs need it) and counts it
//! ([`Link::alignment_copies`], which the connection's statistics add to
//! their `alignment_copies`).
//!
//! # Security
//!
//! `ws://` is plaintext over a network ([`KIND`]): refused unless the
//! builder allows plaintext. `wss://` is TLS 1.3 underneath ([`TLS_KIND`],
//! [`TLS_AUTHENTICATED_KIND`]) with the same identity and channel binding
//! as a TLS link; its ALPN is `http/1.1`, as browsers expect, and the
//! subprotocol does what ALPN does on a TLS link.
//!
//! A WebSocket link cannot tell when half a message has arrived, so the
//! session's frame timeout does not apply to it; a peer that stops
//! mid-message is caught by keepalive (its PONG never comes).

mod connector;
mod io;
mod listener;

use core::fmt;
use core::task::{Context, Poll, ready};
use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use prism_core::Payload;
use prism_core::aligned::{aligned_copy, is_aligned};
use prism_proto::frame::{Frame, FrameHeader, HEADER_LEN};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub use connector::{WsConnector, WsUrlError};
use io::Counted;
pub use io::WsIo;
pub use listener::WsListener;

use crate::link::{Link, LinkConfig, LinkError, LinkInfo, LinkKind, SecurityProperties};

/// The WebSocket subprotocol both ends name in the upgrade.
pub const SUBPROTOCOL: &str = "prism.v1";

/// Every `ws://` link: a network transport that protects nothing.
pub const KIND: LinkKind = LinkKind::new("ws", true, SecurityProperties::NONE);

/// A `wss://` link whose peer proved no identity (a server not asking for
/// client certificates).
#[cfg(feature = "tls")]
pub const TLS_KIND: LinkKind = LinkKind::new("wss", true, crate::tls::KIND.security);

/// A `wss://` link whose peer proved its identity with a certificate: every
/// link a client opens, and every link of a mutual-TLS server.
#[cfg(feature = "tls")]
pub const TLS_AUTHENTICATED_KIND: LinkKind =
    LinkKind::new("wss", true, crate::tls::AUTHENTICATED_KIND.security);

/// Receive and send buffer of each WebSocket (tungstenite's default is
/// 128 KiB each, allocated up front).
const BUFFER: usize = 64 * 1024;

/// Payloads up to this size are written into the link's reused scratch
/// buffer (a chunk is 64 KiB by default).
const SCRATCH_MESSAGE: usize = 64 * 1024;

/// The longest WebSocket frame header: 2 bytes, an 8-byte length, a
/// 4-byte mask.
const WS_HEADER_MAX: usize = 14;

/// The tungstenite configuration for links accepting payloads up to
/// `config.max_frame` bytes.
///
/// tungstenite's write buffer is unbounded by default, and it buffers a
/// pong for every ping it reads whether or not the peer reads them: a peer
/// that pings and never reads would grow it without end. It is bounded to
/// what one largest message needs beside a full buffer; past that
/// tungstenite keeps one pong waiting, not one per ping.
fn ws_config(config: &LinkConfig) -> WebSocketConfig {
    let max_message = HEADER_LEN + config.max_frame as usize;
    WebSocketConfig::default()
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_write_buffer_size(BUFFER + max_message + WS_HEADER_MAX)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Where a link's sending side is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sending {
    /// Frames go out.
    Open,
    /// `poll_close` began: frames are refused, the end marker is queued.
    Ending,
    /// The end marker left.
    Ended,
}

/// Where a link's receiving side is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receiving {
    /// Frames come in.
    Open,
    /// The peer ended its direction or closed: a clean end.
    Ended,
    /// An error was returned; every later receive is `Closed`.
    Failed,
}

/// A [`Link`] over a WebSocket.
pub struct WsLink {
    ws: WebSocketStream<Counted>,
    info: LinkInfo,
    max_frame: u32,
    /// Messages queued and not yet handed to tungstenite.
    outgoing: VecDeque<Bytes>,
    /// Bytes handed to tungstenite (framed, at most) since its last
    /// complete flush, and the stream's count of written bytes then: what
    /// tungstenite still holds is the difference.
    handed: u64,
    written_then: u64,
    /// Where messages are written: each is split off and frozen, and its
    /// room is reclaimed once tungstenite has copied it, so a busy link
    /// does not allocate per frame.
    scratch: BytesMut,
    queued: usize,
    sending: Sending,
    receiving: Receiving,
    /// Whether the WebSocket's own close has completed.
    ws_closed: bool,
    realigned: u64,
}

impl WsLink {
    fn new(ws: WebSocketStream<Counted>, info: LinkInfo, config: &LinkConfig) -> WsLink {
        WsLink {
            ws,
            info,
            max_frame: config.max_frame,
            outgoing: VecDeque::new(),
            handed: 0,
            written_then: 0,
            scratch: BytesMut::new(),
            queued: 0,
            sending: Sending::Open,
            receiving: Receiving::Open,
            ws_closed: false,
            realigned: 0,
        }
    }

    /// The largest payload this link accepts.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// The byte stream underneath, for its addresses and socket options.
    pub fn get_ref(&self) -> &WsIo {
        &self.ws.get_ref().io
    }

    /// Bytes handed to tungstenite that have not reached the socket: at
    /// least 1 until a flush completes (a pong written meanwhile counts
    /// as written too), so a link never reads as drained while its last
    /// bytes wait for a peer that reads nothing.
    fn unwritten(&self) -> usize {
        if self.handed == 0 {
            return 0;
        }
        let written = self.ws.get_ref().written - self.written_then;
        usize::try_from(self.handed.saturating_sub(written).max(1)).unwrap_or(usize::MAX)
    }

    /// A received binary message as a frame.
    fn frame(&mut self, message: Bytes) -> Result<Frame, LinkError> {
        let Some(head) = message.first_chunk::<HEADER_LEN>() else {
            return Err(self.protocol(format!(
                "a binary message of {} bytes is shorter than a frame header",
                message.len()
            )));
        };
        let (header, len) = FrameHeader::decode(head, self.max_frame)?;
        let mut payload = message.slice(HEADER_LEN..);
        if payload.len() != len as usize {
            return Err(self.protocol(format!(
                "a message carries {} payload bytes and its frame header says {len}",
                payload.len()
            )));
        }
        if !payload.is_empty() && !is_aligned(&payload) {
            payload = aligned_copy(&payload).freeze();
            self.realigned += 1;
        }
        Ok(Frame::new(header, Payload::new(payload)))
    }

    fn protocol(&self, reason: String) -> LinkError {
        LinkError::Protocol {
            transport: self.info.kind.transport,
            reason,
        }
    }

    /// A tungstenite error as a link error.
    fn error(&self, error: WsError) -> LinkError {
        match error {
            WsError::Io(e) => LinkError::Io(e),
            WsError::ConnectionClosed | WsError::AlreadyClosed => LinkError::Closed,
            other => self.protocol(other.to_string()),
        }
    }

    /// Hands queued messages to tungstenite and flushes it.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        while !self.outgoing.is_empty() {
            ready!(self.ws.poll_ready_unpin(cx)).map_err(|e| self.error(e))?;
            let Some(message) = self.outgoing.pop_front() else {
                break;
            };
            self.queued -= message.len();
            self.handed += (message.len() + WS_HEADER_MAX) as u64;
            self.ws
                .start_send_unpin(Message::Binary(message))
                .map_err(|e| self.error(e))?;
        }
        ready!(self.ws.poll_flush_unpin(cx)).map_err(|e| self.error(e))?;
        // Flushed: tungstenite holds nothing more.
        self.handed = 0;
        self.written_then = self.ws.get_ref().written;
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for WsLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsLink")
            .field("info", &self.info)
            .field("max_frame", &self.max_frame)
            .field("queued", &self.queued)
            .field("sending", &self.sending)
            .field("receiving", &self.receiving)
            .field("realigned", &self.realigned)
            .finish_non_exhaustive()
    }
}

impl Link for WsLink {
    fn info(&self) -> &LinkInfo {
        &self.info
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        match self.receiving {
            Receiving::Open => {}
            Receiving::Ended => return Poll::Ready(Ok(None)),
            Receiving::Failed => return Poll::Ready(Err(LinkError::Closed)),
        }
        let result = loop {
            let message = match ready!(self.ws.poll_next_unpin(cx)) {
                // Closed after a close handshake.
                None => break Ok(None),
                Some(Ok(message)) => message,
                // The peer's socket closed without a close handshake (a
                // dropped link, a killed process; under TLS, without
                // close_notify): messages are whole or absent, so as over
                // TCP this is the end, and the session knows whether
                // anything was outstanding.
                Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    break Ok(None);
                }
                Some(Err(WsError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    break Ok(None);
                }
                Some(Err(e)) => break Err(self.error(e)),
            };
            match message {
                Message::Binary(bytes) if bytes.is_empty() => break Ok(None),
                Message::Binary(bytes) => break self.frame(bytes).map(Some),
                Message::Text(_) => {
                    break Err(self.protocol(
                        "a text message (Prism frames travel as binary messages)".into(),
                    ));
                }
                Message::Close(_) => break Ok(None),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        };
        self.receiving = match &result {
            Ok(Some(_)) => Receiving::Open,
            Ok(None) => Receiving::Ended,
            Err(_) => Receiving::Failed,
        };
        Poll::Ready(result)
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        if self.sending != Sending::Open {
            return Err(LinkError::Closed);
        }
        let len = frame.payload.len();
        let Ok(len32) = u32::try_from(len) else {
            return Err(LinkError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a payload of {len} bytes does not fit a frame"),
            )));
        };
        // Chunk-sized messages share the scratch buffer; a larger whole
        // frame gets its own, so the scratch never holds more than a few
        // chunks' room.
        let mut own = BytesMut::new();
        let out = if len <= SCRATCH_MESSAGE {
            &mut self.scratch
        } else {
            &mut own
        };
        out.reserve(HEADER_LEN + len);
        out.extend_from_slice(&frame.header.encode(len32));
        for segment in frame.payload.segments() {
            out.extend_from_slice(segment);
        }
        let message = out.split().freeze();
        self.queued += message.len();
        self.outgoing.push_back(message);
        Ok(())
    }

    fn queued_bytes(&self) -> usize {
        self.queued + self.unwritten()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.poll_send(cx)
    }

    fn alignment_copies(&self) -> u64 {
        self.realigned
    }

    fn abort(&mut self) {
        crate::tcp::reset_on_drop(self.get_ref().tcp());
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if self.sending == Sending::Open {
            self.sending = Sending::Ending;
            // The end marker: an empty binary message, after every frame.
            self.outgoing.push_back(Bytes::new());
        }
        ready!(self.poll_send(cx))?;
        self.sending = Sending::Ended;
        // Both directions are over: end the WebSocket itself.
        if self.receiving != Receiving::Open && !self.ws_closed {
            let closed = ready!(self.ws.poll_close_unpin(cx));
            self.ws_closed = true;
            closed.map_err(|e| self.error(e))?;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_buffer_is_bounded_with_room_for_one_largest_message() {
        let max_frame = 1 << 20;
        let config = ws_config(&LinkConfig::with_max_frame(max_frame));
        let largest = HEADER_LEN + max_frame as usize + WS_HEADER_MAX;
        assert!(config.max_write_buffer_size < usize::MAX, "bounded");
        assert!(config.max_write_buffer_size >= config.write_buffer_size + largest);
    }
}
