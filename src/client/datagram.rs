//! One datagram op's message: fire-and-forget, nothing comes back.

use core::future::{Future, IntoFuture};
use core::marker::PhantomData;
use core::pin::Pin;
use std::time::Duration;

use prism_codecs::{CodecSet, EncodeAs, EncodeBuf};
use prism_core::Status;
use prism_proto::session::OutgoingDatagram;
use prism_reflect::{OpDescriptor, OpKind};
use prism_transport::driver::DatagramFallback;

use super::Channel;

/// A datagram op's message, ready to send: `.await` it to send it.
///
/// Generated clients return one from each `#[prism(datagram)]` method.
/// It resolves once the connection took the message, never when (or
/// whether) it arrived: over QUIC it travels in an unreliable datagram and
/// may be lost; nothing is answered, not even an error of the handler.
///
/// ```ignore
/// telemetry.report(sample).await?; // sent, not acknowledged
/// ```
///
/// A channel still connecting (one with a [`Reconnect`](super::Reconnect)
/// policy) waits for its connection, up to [`timeout`](Self::timeout) or
/// the channel's default timeout.
#[must_use = "a datagram is not sent until it is awaited"]
pub struct DatagramCall<C, Req> {
    channel: Channel,
    op: &'static OpDescriptor,
    request: Req,
    timeout: Option<Duration>,
    _codec: PhantomData<fn() -> C>,
}

impl<C, Req> DatagramCall<C, Req> {
    /// A message of `op` with `request` over `channel`.
    pub fn new(channel: Channel, op: &'static OpDescriptor, request: Req) -> Self {
        let timeout = channel.default_timeout();
        DatagramCall {
            channel,
            op,
            request,
            timeout,
            _codec: PhantomData,
        }
    }

    /// Gives up (with `DEADLINE_EXCEEDED`) when no connection is ready
    /// within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The op this message is for.
    pub fn op(&self) -> &'static OpDescriptor {
        self.op
    }
}

impl<C, Req> core::fmt::Debug for DatagramCall<C, Req> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DatagramCall")
            .field("op", &self.op)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<S, Req> IntoFuture for DatagramCall<S, Req>
where
    S: CodecSet + 'static,
    Req: EncodeAs<S> + Send + 'static,
{
    type Output = Result<(), Status>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl<S, Req> DatagramCall<S, Req>
where
    S: CodecSet + 'static,
    Req: EncodeAs<S> + Send + 'static,
{
    async fn send(self) -> Result<(), Status> {
        let op = self.op;
        if op.kind() != OpKind::Datagram {
            return Err(Status::invalid_argument(format!(
                "{} is a {} op, not a datagram op",
                op.full_name(),
                op.kind()
            )));
        }
        let (conn, _) = self.channel.ready(self.timeout).await?;
        let codec = self.channel.check_op(&conn, op, S::IDS)?;
        let mut buf = EncodeBuf::new();
        (self.request)
            .encode_as(codec, &mut buf, self.channel.limits())
            .map_err(|e| {
                Status::invalid_argument(format!(
                    "could not encode the message of {} with {codec}: {e}",
                    op.full_name()
                ))
            })?;
        let datagram = OutgoingDatagram {
            op: op.id().get(),
            codec,
            payload: buf.finish(),
        };
        let fallback = if op.reliable_fallback() {
            DatagramFallback::InBand
        } else {
            DatagramFallback::Refuse
        };
        let sent = conn.client.send_datagram(datagram, fallback);
        // The connection is not kept busy while the driver takes it.
        drop(conn);
        sent.await.map_err(|status| {
            let message = format!("{}: {}", op.full_name(), status.message());
            Status::new(status.code(), message)
        })
    }
}
