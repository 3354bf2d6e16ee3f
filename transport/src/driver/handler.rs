//! The seams the runtime plugs into a connection: an [`Admission`] judges
//! the peer's handshake (and its fresh proofs later), a [`Handler`] serves
//! its calls, a [`Guard`] keeps what a connection may do current, and
//! [`ConnectionInfo`] is what they all learn about the connection.

use crate::rt::Instant;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use prism_core::{CodecId, Extensions, Metadata, Payload, Reply, Status};
use prism_proto::session::{Accept, ChannelId, Hello, Lifetime, Priority};

use super::streams::{Inbound, Outbound};
use super::{ConnectionStats, StatsCell};
use crate::LinkInfo;

/// The future of one handler: the call's answer. The driver drops it when
/// the caller cancels or the deadline passes: that drop is how
/// cancellation reaches the handler.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Answer> + Send + 'static>>;

/// How a handler answers a call.
pub enum Answer {
    /// One reply ends the call: a response, the op's application error, or
    /// a status (a unary or client-stream op, or a stream that could not
    /// open).
    Reply(Reply),
    /// The response is a stream: the driver pulls it while the channel
    /// takes messages (see [`Outbound`]), and ends the call when it ends.
    Stream(Outbound),
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer::Reply(reply)
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Reply(reply) => f.debug_tuple("Reply").field(reply).finish(),
            Answer::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Where a handler runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Execution {
    /// Inside the connection's task: no task is spawned, and a handler that
    /// finishes at once is answered in the same wake-up. The fast path for
    /// short handlers; a handler that computes for long holds up every
    /// other call on its connection.
    #[default]
    Inline,
    /// In a task of its own, so CPU-heavy handlers of one connection use
    /// every core and never stall its other calls. Costs a task spawn and a
    /// wake-up per call.
    Spawn,
}

/// What a [`Handler`] made of a call.
pub enum Dispatched {
    /// Answered without running anything: an error found before decoding,
    /// or an op with nothing to wait for.
    Ready(Reply),
    /// A handler to run, and where.
    Run {
        /// The handler.
        future: HandlerFuture,
        /// Inline in the connection task, or spawned.
        execution: Execution,
    },
}

impl Dispatched {
    /// A call answered at once with a status.
    pub fn fail(status: Status) -> Dispatched {
        Dispatched::Ready(Err(status))
    }

    /// The answer as one future, whichever the variant: what a layer that
    /// must wait before (or after) the layers below it awaits inside its
    /// own future. For a stream op it resolves once the stream is open.
    pub fn into_future(self) -> HandlerFuture {
        match self {
            Dispatched::Ready(reply) => Box::pin(core::future::ready(Answer::Reply(reply))),
            Dispatched::Run { future, .. } => future,
        }
    }
}

impl fmt::Debug for Dispatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dispatched::Ready(reply) => f.debug_tuple("Ready").field(reply).finish(),
            Dispatched::Run { execution, .. } => f
                .debug_struct("Run")
                .field("execution", execution)
                .finish_non_exhaustive(),
        }
    }
}

/// Serves calls arriving on a connection. The runtime's router implements
/// it; the driver knows nothing of ops or codecs beyond their numbers.
pub trait Handler: Send + Sync + 'static {
    /// Starts serving one call.
    fn call(&self, call: IncomingCall) -> Dispatched;

    /// Whether a call of `op` that is already open on `connection` may go
    /// on, asked of every open call when the connection's [`Guard`] says
    /// [`Directive::Recheck`] and after each accepted re-authentication,
    /// on connections admitted with a guard (only their calls' ops are
    /// kept for asking). The default lets every call go on.
    ///
    /// # Errors
    ///
    /// The status the call ends with instead: its handler is stopped, its
    /// stream dropped, and the caller gets the status.
    fn recheck(&self, op: u64, connection: &ConnectionInfo) -> Result<(), Status> {
        let _ = (op, connection);
        Ok(())
    }

    /// How urgently the replies and stream items of a call of `op` leave
    /// beside other channels' (see [`Priority`]). The default is
    /// [`Priority::DEFAULT`] for every op.
    fn priority(&self, op: u64) -> Priority {
        let _ = op;
        Priority::DEFAULT
    }
}

/// One call, as the driver hands it to a [`Handler`]: a call or stream
/// open on a channel, or a datagram op's message, which has none.
#[derive(Debug)]
pub struct IncomingCall {
    /// The channel the call arrived on; `None` for a datagram op's message
    /// (its handler's answer goes nowhere: only whether it succeeded is
    /// counted).
    pub channel: Option<ChannelId>,
    /// The op id from the call frame.
    pub op: u64,
    /// The codec id from the call frame.
    pub codec: CodecId,
    /// When the caller stops waiting.
    pub deadline: Option<Instant>,
    /// The encoded request; its first segment is 16-byte aligned. Empty
    /// when the request is a stream.
    pub payload: Payload,
    /// The request's messages, when the caller keeps its direction open (a
    /// client or bidirectional stream, or a request too large for one
    /// chunk). Dropping it stops the caller's sends.
    pub request: Option<Inbound>,
    /// The caller's metadata, checked by the session (no credentials);
    /// empty for none and for a datagram.
    pub metadata: Metadata,
    /// The connection the call arrived on.
    pub connection: Arc<ConnectionInfo>,
}

/// Judges the peer's handshake. The driver asks once per connection, when
/// the peer's HELLO arrived, and waits for the answer (within the
/// session's handshake timeout) without holding up anything else: a
/// credential check may take its time.
pub trait Admission: Send + Sync + 'static {
    /// Accepts the peer (with the ACCEPT to send, and values for the
    /// connection's [`ConnectionInfo::extensions`]) or refuses it with a
    /// status, sent to the peer in a GOAWAY.
    fn admit(&self, peer: &Hello, link: &LinkInfo) -> AdmitFuture;

    /// Server: the client presented a fresh proof in band. Resolves to the
    /// lifetime of the new authentication, sent back to the client, after
    /// which every open call is [rechecked](Handler::recheck); or to a
    /// status, which closes the connection (a GOAWAY with it). Open calls
    /// go on meanwhile. The default refuses: this side authenticates no
    /// one in band.
    fn reauthenticate(&self, proof: Payload, connection: &Arc<ConnectionInfo>) -> ReauthFuture {
        let _ = (proof, connection);
        Box::pin(core::future::ready(Err(Status::unauthenticated(
            "this server does not re-authenticate in band",
        ))))
    }
}

/// The answer of an [`Admission`].
pub type AdmitFuture = Pin<Box<dyn Future<Output = Result<Admitted, Status>> + Send + 'static>>;

/// The answer of [`Admission::reauthenticate`]: the new lifetime (`None`:
/// it does not expire), or why the proof was refused.
pub type ReauthFuture =
    Pin<Box<dyn Future<Output = Result<Option<Lifetime>, Status>> + Send + 'static>>;

/// What a [`Guard`] asks of its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// Ask the client for a fresh proof within the given time.
    RequestReauth(Option<Lifetime>),
    /// Ask the [`Handler`] again about every open call
    /// ([`Handler::recheck`]): what the connection may do changed (its
    /// authentication expired, say).
    Recheck,
}

/// A server connection's watch over what it may do: a stream of
/// [`Directive`]s the driver polls while the connection lives (timers and
/// revocations, in whatever form the runtime keeps them). Given by the
/// [`Admission`] in [`Admitted::guard`].
pub type Guard = Pin<Box<dyn Stream<Item = Directive> + Send + 'static>>;

/// An accepted peer: what to tell it, and what to remember about it.
#[derive(Default)]
pub struct Admitted {
    /// The ACCEPT frame's content: a server's op table.
    pub accept: Accept,
    /// Values for [`ConnectionInfo::extensions`], such as the identity a
    /// credential check established.
    pub extensions: Extensions,
    /// Server: what keeps the connection's authority current, if anything
    /// does. A connection whose authority can change (expiry, fresh
    /// proofs, revocation) needs one, even one that never yields: only a
    /// guarded connection's open calls are rechecked.
    pub guard: Option<Guard>,
}

impl fmt::Debug for Admitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted")
            .field("accept", &self.accept)
            .field("extensions", &self.extensions)
            .field("guard", &self.guard.is_some())
            .finish()
    }
}

/// The [`Admission`] that accepts every peer with the same ACCEPT.
#[derive(Clone, Debug, Default)]
pub struct AcceptAll(pub Accept);

impl Admission for AcceptAll {
    fn admit(&self, _peer: &Hello, _link: &LinkInfo) -> AdmitFuture {
        let accept = self.0.clone();
        Box::pin(core::future::ready(Ok(Admitted {
            accept,
            extensions: Extensions::new(),
            guard: None,
        })))
    }
}

/// Facts about an established connection, shared by every call on it.
pub struct ConnectionInfo {
    /// The link's kind, peer address and security properties.
    pub link: LinkInfo,
    /// What the peer said in its HELLO.
    pub peer_hello: Hello,
    /// What the peer said in its ACCEPT: a server's op table.
    pub peer_accept: Accept,
    /// What this side's [`Admission`] attached to the connection.
    pub extensions: Extensions,
    pub(crate) stats: Arc<StatsCell>,
}

impl ConnectionInfo {
    /// What the connection moved so far.
    pub fn stats(&self) -> ConnectionStats {
        self.stats.snapshot()
    }
}

impl fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("link", &self.link)
            .field("peer_ops", &self.peer_accept.ops.len())
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}
