//! How a stream op's result travels: [`Streamed`] for `-> Streaming<T>`,
//! [`FallibleStreamed`] for `-> Result<Streaming<T>, E>` (the error, sent
//! instead of the stream or, as [`Status::application`], to end it after
//! some items, encoded with the op's codec as an application error), and
//! [`ViewedStream`] for a stream read in place.

use core::any::Any;

use prism_codecs::{Codec, CodecId, CodecSet, DecodeAs, EncodeAs, Limits, Payload, View};
use prism_core::{Reply, Status};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Answer, Inbound};

use crate::response::{check_codec, decode, encode};
use crate::streaming::{Streaming, decoder, outbound, view_decoder, with_status};

/// The result of an op declared `-> Streaming<T>`.
#[derive(Debug)]
pub struct Streamed<T>(pub Streaming<T>);

/// The result of an op declared `-> Result<Streaming<T>, E>`: the stream,
/// or the op's application error instead of it.
#[derive(Debug)]
pub struct FallibleStreamed<T, E>(pub Result<Streaming<T>, E>);

/// A stream whose items are read in place (zero-copy) instead of decoded:
/// `Streaming<Archived<T>>` for rkyv.
#[derive(Debug)]
pub struct ViewedStream<T>(core::marker::PhantomData<fn() -> T>);

/// Server side: turns a stream handler's result into the call's answer.
pub trait IntoStream<S: CodecSet>: Send + 'static {
    /// Encodes each item with `codec` as the driver pulls it, or the
    /// application error at once.
    fn into_answer(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Answer;
}

/// Client side: turns a call's response stream into the op's result.
pub trait FromStream<S: CodecSet>: Send + 'static {
    /// What the caller receives once the stream opened.
    type Output;

    /// The result once the callee opened its stream (`Ok`), or answered
    /// instead (`Err` with its reply).
    ///
    /// # Errors
    ///
    /// The callee's status, or `INTERNAL` for an answer the op cannot give.
    fn from_open(
        opened: Result<(), Reply>,
        inbound: Inbound,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Self::Output, Status>;
}

impl<S, T> IntoStream<S> for Streamed<T>
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
{
    fn into_answer(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Answer {
        Answer::Stream(outbound::<S, T>(self.0, codec, op, *limits, with_status))
    }
}

/// A stream of an op that declares `E` ends with a status carrying an `E`
/// as that application error, encoded with the op's codec.
fn typed_close<S, E>(
    status: Status,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Reply
where
    S: CodecSet,
    E: EncodeAs<S> + Any,
{
    match status.application_error::<E>() {
        Some(error) => encode::<S, E>(error, codec, true, op, limits),
        None => Err(status),
    }
}

/// The reader's side of [`typed_close`]: the status carries the decoded `E`.
fn typed_status<S, E>(
    payload: Payload,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Status
where
    S: CodecSet,
    E: DecodeAs<S> + Any + Send + Sync,
{
    match decode::<S, E>(&payload, codec, op, limits) {
        Ok(error) => Status::unknown(format!(
            "{} ended its stream with an application error",
            op.full_name()
        ))
        .with_application_error(error),
        Err(status) => status,
    }
}

impl<S, T, E> IntoStream<S> for FallibleStreamed<T, E>
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
    E: EncodeAs<S> + Send + 'static,
{
    fn into_answer(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Answer {
        match self.0 {
            Ok(stream) => Answer::Stream(outbound::<S, T>(
                stream,
                codec,
                op,
                *limits,
                typed_close::<S, E>,
            )),
            Err(error) => Answer::Reply(encode::<S, E>(&error, codec, true, op, limits)),
        }
    }
}

/// A reply where a stream was expected: the callee refused the call.
fn refused<S: CodecSet, E: DecodeAs<S> + Send + 'static>(
    reply: Reply,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Result<Result<(), E>, Status> {
    let response = reply?;
    if !response.app_error {
        return Err(single_response(op));
    }
    check_codec::<S>(&response, codec, op)?;
    decode::<S, E>(&response.payload, codec, op, limits).map(Err)
}

impl<S, T> FromStream<S> for Streamed<T>
where
    S: CodecSet,
    T: DecodeAs<S> + Send + 'static,
{
    type Output = Streaming<T>;

    fn from_open(
        opened: Result<(), Reply>,
        inbound: Inbound,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Streaming<T>, Status> {
        if let Err(reply) = opened {
            return Err(no_stream(reply, op));
        }
        Ok(Streaming::remote(
            inbound,
            decoder::<S, T>(),
            op,
            codec,
            *limits,
        ))
    }
}

/// Why the stream of an op that declares no error did not open.
fn no_stream(reply: Reply, op: &'static OpDescriptor) -> Status {
    match reply {
        Err(status) => status,
        Ok(response) if response.app_error => Status::internal(format!(
            "{} returned an application error but declares none",
            op.full_name()
        )),
        Ok(_) => single_response(op),
    }
}

/// A single response where a stream op's stream should have opened.
fn single_response(op: &'static OpDescriptor) -> Status {
    Status::internal(format!(
        "{} answered a stream op with a single response",
        op.full_name()
    ))
}

impl<S, T, E> FromStream<S> for FallibleStreamed<T, E>
where
    S: CodecSet,
    T: DecodeAs<S> + Send + 'static,
    E: DecodeAs<S> + Send + Sync + 'static,
{
    type Output = Result<Streaming<T>, E>;

    fn from_open(
        opened: Result<(), Reply>,
        inbound: Inbound,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Result<Streaming<T>, E>, Status> {
        match opened {
            Ok(()) => {
                let stream = Streaming::remote(inbound, decoder::<S, T>(), op, codec, *limits)
                    .with_application_errors(typed_status::<S, E>);
                Ok(Ok(stream))
            }
            Err(reply) => match refused::<S, E>(reply, codec, op, limits)? {
                Err(error) => Ok(Err(error)),
                Ok(()) => Err(single_response(op)),
            },
        }
    }
}

impl<C, T> FromStream<C> for ViewedStream<T>
where
    C: Codec,
    T: View<C> + 'static,
{
    type Output = Streaming<T::View>;

    fn from_open(
        opened: Result<(), Reply>,
        inbound: Inbound,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Streaming<T::View>, Status> {
        if let Err(reply) = opened {
            return Err(no_stream(reply, op));
        }
        Ok(Streaming::remote(
            inbound,
            view_decoder::<C, T>(),
            op,
            codec,
            *limits,
        ))
    }
}
