//! WebSocket links from a browser (`wasm32-unknown-unknown`), on the
//! browser's own `WebSocket` (`web-sys`): what a Prism client compiled to
//! wasm connects with, to a server's [`WsListener`](https://docs.rs/prism).
//!
//! The wire is the same as the native WebSocket links': subprotocol
//! `prism.v1`, one binary message per frame (its 32-byte header, then its
//! payload), an empty binary message ending the sender's direction, a text
//! message or a misshapen one a [`LinkError::Protocol`].
//!
//! # Memory
//!
//! A browser gives no send backpressure: `send` copies the message into
//! the page's buffer at once. The link therefore reports nothing queued,
//! and what waits in the browser is bounded by Prism's own limits: DATA
//! by the peer's stream and connection windows, calls by its channel
//! limit times one chunk. Received messages are copied once from the
//! `ArrayBuffer` into a 16-byte aligned buffer, which becomes the payload.
//!
//! # Threads
//!
//! The JavaScript objects (the socket and its callbacks) are not `Send`;
//! they live in a registry local to the page's one thread, and the link
//! holds only their key and the queue the callbacks fill, so the link is
//! `Send` as the [`Link`] trait asks, with no `unsafe`.

use core::cell::RefCell;
use core::task::{Context, Poll, Waker};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prism_core::Payload;
use prism_core::aligned::aligned_buffer;
use prism_proto::frame::{Frame, FrameHeader, HEADER_LEN};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use crate::link::{
    Connector, Link, LinkConfig, LinkError, LinkInfo, LinkKind, PeerAddr, SecurityProperties,
};

/// The WebSocket subprotocol both ends name in the upgrade.
pub const SUBPROTOCOL: &str = "prism.v1";

/// A `ws://` link: a network transport that protects nothing.
pub const KIND: LinkKind = LinkKind::new("ws", true, SecurityProperties::NONE);

/// A `wss://` link: the browser speaks TLS and checked the server's
/// certificate against its roots (it tells the page no identity, and no
/// channel binding).
pub const TLS_KIND: LinkKind = LinkKind::new("wss", true, SecurityProperties::TLS_AUTHENTICATED);

/// Opens browser WebSocket links to one `ws://` or `wss://` URL.
#[derive(Clone, Debug)]
pub struct WebSocketConnector {
    url: String,
    kind: LinkKind,
}

impl WebSocketConnector {
    /// A connector to `url`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `url` is not a `ws://` or `wss://` URL.
    pub fn new(url: impl Into<String>) -> io::Result<WebSocketConnector> {
        let url = url.into();
        let kind = if url.starts_with("wss://") {
            TLS_KIND
        } else if url.starts_with("ws://") {
            KIND
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a ws:// or wss:// URL: {url}"),
            ));
        };
        Ok(WebSocketConnector { url, kind })
    }
}

impl Connector for WebSocketConnector {
    type Link = WebSocketLink;

    fn kind(&self) -> LinkKind {
        self.kind
    }

    fn target(&self) -> String {
        self.url.clone()
    }

    fn connect(
        &self,
        config: &LinkConfig,
    ) -> impl Future<Output = io::Result<WebSocketLink>> + Send {
        let opened = open(&self.url, self.kind, config.max_frame);
        async move {
            let link = opened?;
            core::future::poll_fn(|cx| link.poll_open(cx)).await?;
            Ok(link)
        }
    }
}

/// Where the socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Open,
    /// The peer ended its direction, or the socket closed cleanly.
    Ended,
    /// The socket failed or closed before it opened.
    Failed,
}

/// Received bytes the link holds for the session at most: a browser reads
/// each message whole before the page sees it, so the link's own bound is
/// on what piles up before the session takes it. A peer that sends past
/// it fails the link.
const MAX_BUFFERED: usize = 64 << 20;

/// What the callbacks fill and the link drains.
#[derive(Debug)]
struct Inbox {
    state: State,
    frames: VecDeque<Result<Frame, LinkError>>,
    /// Bytes of the frames waiting in `frames`.
    buffered: usize,
    /// Why it failed or closed, for the error.
    reason: String,
    /// The failure was returned once: later receives are `Closed`.
    reported: bool,
    /// Our direction ended (`poll_close`): the peer's end closes the socket.
    ended_here: bool,
    waker: Option<Waker>,
    realigned: u64,
}

/// Runs a callback's change of the inbox, then wakes the link, after
/// letting go of the lock.
fn update(shared: &Shared, change: impl FnOnce(&mut Inbox)) {
    let waker = {
        let mut inbox = lock(shared);
        change(&mut inbox);
        inbox.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl Inbox {
    fn fail(&mut self, reason: impl Into<String>) {
        self.state = State::Failed;
        if self.reason.is_empty() {
            self.reason = reason.into();
        }
    }
}

type Shared = Arc<Mutex<Inbox>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inbox> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The page's sockets and their callbacks, by key.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

thread_local! {
    static SOCKETS: RefCell<HashMap<u64, Socket>> = RefCell::new(HashMap::new());
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// Runs `f` on the socket of `key`, if it is still there.
fn with_socket<T>(key: u64, f: impl FnOnce(&WebSocket) -> T) -> Option<T> {
    SOCKETS.with(|sockets| sockets.borrow().get(&key).map(|socket| f(&socket.ws)))
}

/// Creates the socket and its callbacks; the link is open once
/// [`WebSocketLink::poll_open`] says so.
fn open(url: &str, kind: LinkKind, max_frame: u32) -> io::Result<WebSocketLink> {
    let ws = WebSocket::new_with_str(url, SUBPROTOCOL)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}")))?;
    ws.set_binary_type(BinaryType::Arraybuffer);
    let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    let shared: Shared = Arc::new(Mutex::new(Inbox {
        state: State::Connecting,
        frames: VecDeque::new(),
        buffered: 0,
        reason: String::new(),
        reported: false,
        ended_here: false,
        waker: None,
        realigned: 0,
    }));
    let on_open = Closure::<dyn FnMut(Event)>::new({
        let shared = Arc::clone(&shared);
        move |_: Event| {
            update(&shared, |inbox| {
                let protocol = with_socket(key, WebSocket::protocol).unwrap_or_default();
                match inbox.state {
                    State::Connecting if protocol == SUBPROTOCOL => inbox.state = State::Open,
                    State::Connecting => inbox.fail(format!(
                        "the server speaks subprotocol {protocol:?}, not {SUBPROTOCOL}"
                    )),
                    State::Open | State::Ended | State::Failed => {}
                }
            });
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let shared = Arc::clone(&shared);
        move |event: MessageEvent| {
            update(&shared, |inbox| {
                if inbox.state != State::Open {
                    return;
                }
                match message(&event, max_frame) {
                    Ok(Some((frame, realigned))) => {
                        inbox.realigned += u64::from(realigned);
                        inbox.buffered += frame.size();
                        if inbox.buffered > MAX_BUFFERED {
                            inbox.fail("the peer sent more than the page has read, past 64 MiB");
                        } else {
                            inbox.frames.push_back(Ok(frame));
                        }
                    }
                    // The peer ended its direction; once ours is ended
                    // too, the socket closes.
                    Ok(None) => {
                        inbox.state = State::Ended;
                        if inbox.ended_here {
                            with_socket(key, |ws| ws.close());
                        }
                    }
                    Err(e) => {
                        inbox.frames.push_back(Err(e));
                        inbox.fail("the peer broke the WebSocket framing");
                    }
                }
            });
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new({
        let shared = Arc::clone(&shared);
        move |event: CloseEvent| {
            update(&shared, |inbox| {
                match inbox.state {
                    State::Connecting => inbox.fail(format!(
                        "closed before it opened, with code {}",
                        event.code()
                    )),
                    // Closed, cleanly or not: messages are whole or absent,
                    // so as over TCP this is the end, and the session knows
                    // whether anything was outstanding.
                    State::Open => inbox.state = State::Ended,
                    State::Ended | State::Failed => {}
                }
            });
        }
    });
    let on_error = Closure::<dyn FnMut(Event)>::new({
        let shared = Arc::clone(&shared);
        move |_: Event| {
            update(&shared, |inbox| {
                if inbox.reason.is_empty() {
                    inbox.reason = String::from("the WebSocket failed");
                }
            });
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let socket = Socket {
        ws,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
        _on_error: on_error,
    };
    SOCKETS.with(|sockets| sockets.borrow_mut().insert(key, socket));
    Ok(WebSocketLink {
        key,
        shared,
        info: LinkInfo::new(kind, PeerAddr::Other(url.to_owned())),
        sending: true,
    })
}

/// The frame one message carries (`None`: an empty message, the end of
/// the peer's direction), and whether its payload was copied to align it
/// (always: it comes out of a JavaScript `ArrayBuffer`).
fn message(event: &MessageEvent, max_frame: u32) -> Result<Option<(Frame, bool)>, LinkError> {
    let protocol = |reason: String| LinkError::Protocol {
        transport: "ws",
        reason,
    };
    let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
        return Err(protocol(
            "a text message (Prism frames travel as binary messages)".into(),
        ));
    };
    let bytes = js_sys::Uint8Array::new(&buffer);
    let len = bytes.length() as usize;
    if len == 0 {
        return Ok(None);
    }
    if len < HEADER_LEN {
        return Err(protocol(format!(
            "a binary message of {len} bytes is shorter than a frame header"
        )));
    }
    let mut head = [0u8; HEADER_LEN];
    bytes.subarray(0, HEADER_LEN as u32).copy_to(&mut head);
    let (header, payload_len) = FrameHeader::decode(&head, max_frame)?;
    if payload_len as usize != len - HEADER_LEN {
        return Err(protocol(format!(
            "a message carries {} payload bytes and its frame header says {payload_len}",
            len - HEADER_LEN
        )));
    }
    if payload_len == 0 {
        return Ok(Some((Frame::new(header, Payload::empty()), false)));
    }
    let mut payload = aligned_buffer(payload_len as usize);
    payload.resize(payload_len as usize, 0);
    bytes
        .subarray(HEADER_LEN as u32, len as u32)
        .copy_to(&mut payload);
    Ok(Some((
        Frame::new(header, Payload::new(payload.freeze())),
        true,
    )))
}

/// A [`Link`] over a browser WebSocket.
#[derive(Debug)]
pub struct WebSocketLink {
    key: u64,
    shared: Shared,
    info: LinkInfo,
    /// Our direction is not ended yet.
    sending: bool,
}

impl WebSocketLink {
    /// Ready once the socket opened, or with why it could not.
    fn poll_open(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inbox = lock(&self.shared);
        match inbox.state {
            State::Connecting => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            State::Open | State::Ended => Poll::Ready(Ok(())),
            State::Failed => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("could not open {}: {}", self.info.peer, inbox.reason),
            ))),
        }
    }
}

impl Link for WebSocketLink {
    fn info(&self) -> &LinkInfo {
        &self.info
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        let mut inbox = lock(&self.shared);
        if inbox.reported {
            return Poll::Ready(Err(LinkError::Closed));
        }
        if let Some(frame) = inbox.frames.pop_front() {
            if let Ok(frame) = &frame {
                inbox.buffered -= frame.size();
            } else {
                inbox.reported = true;
            }
            return Poll::Ready(frame.map(Some));
        }
        match inbox.state {
            State::Connecting | State::Open => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            State::Ended => Poll::Ready(Ok(None)),
            State::Failed => {
                inbox.reported = true;
                Poll::Ready(Err(LinkError::Io(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    inbox.reason.clone(),
                ))))
            }
        }
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        if !self.sending {
            return Err(LinkError::Closed);
        }
        let len = frame.payload.len();
        let len32 = u32::try_from(len).map_err(|_| {
            LinkError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a payload beyond 4 GiB",
            ))
        })?;
        let mut message = Vec::with_capacity(HEADER_LEN + len);
        message.extend_from_slice(&frame.header.encode(len32));
        for segment in frame.payload.segments() {
            message.extend_from_slice(segment);
        }
        match with_socket(self.key, |ws| ws.send_with_u8_array(&message)) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(LinkError::Io(io::Error::other(format!("{e:?}")))),
            None => Err(LinkError::Closed),
        }
    }

    fn queued_bytes(&self) -> usize {
        // Handed to the browser at once (see the module docs).
        0
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if self.sending {
            self.sending = false;
            // An empty message ends our direction; whichever side ends
            // second closes the socket.
            let ended = with_socket(self.key, |ws| ws.send_with_u8_array(&[]));
            if let Some(Err(e)) = ended {
                return Poll::Ready(Err(LinkError::Io(io::Error::other(format!("{e:?}")))));
            }
            let mut inbox = lock(&self.shared);
            inbox.ended_here = true;
            if inbox.state == State::Ended {
                with_socket(self.key, |ws| ws.close());
            }
        }
        Poll::Ready(Ok(()))
    }

    fn alignment_copies(&self) -> u64 {
        lock(&self.shared).realigned
    }
}

impl Drop for WebSocketLink {
    fn drop(&mut self) {
        if let Some(socket) = SOCKETS.with(|sockets| sockets.borrow_mut().remove(&self.key)) {
            socket.ws.set_onopen(None);
            socket.ws.set_onmessage(None);
            socket.ws.set_onclose(None);
            socket.ws.set_onerror(None);
            let _ = socket.ws.close();
        }
    }
}
