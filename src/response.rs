//! How an op's result travels: [`Plain`] for `-> T`, [`Fallible`] for
//! `-> Result<T, E>` (the error encoded with the op's codec, flagged as an
//! application error rather than a [`Status`]).

use prism_codecs::{Codec, CodecId, EncodeBuf, Limits, Payload, View};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Outcome, Reply};
use prism_transport::frame::Body;

use crate::{Code, Status};
use prism_codecs::{CodecSet, DecodeAs, EncodeAs, codec_names as names};

/// The result of an op declared `-> T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain<T>(pub T);

/// The result of an op declared `-> Result<T, E>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallible<T, E>(pub Result<T, E>);

/// Server side: turns a handler's result into an encoded reply.
pub trait IntoReply<S: CodecSet>: Send + 'static {
    /// Encodes the result with `codec` (the one the request came with).
    fn into_outcome(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Outcome;
}

/// Client side: turns an encoded reply back into the op's result.
pub trait FromReply<S: CodecSet>: Send + 'static {
    /// What the caller receives on success.
    type Output;

    /// Decodes the reply, which must use `codec` (the one the request went with).
    ///
    /// # Errors
    ///
    /// A reply that does not decode is an `INTERNAL` status naming the op.
    fn from_reply(
        reply: Reply,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Self::Output, Status>;
}

fn encode<S: CodecSet, T: EncodeAs<S>>(
    value: &T,
    codec: CodecId,
    app_error: bool,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Outcome {
    let mut buf = EncodeBuf::new();
    match value.encode_as(codec, &mut buf, limits) {
        Ok(()) => {
            let (first, rest) = buf.finish().into_parts();
            Outcome::Reply {
                codec: codec.get(),
                body: Body::from_segments(first, rest),
                app_error,
            }
        }
        Err(e) => Outcome::Fail {
            code: Code::Internal,
            message: format!(
                "could not encode the response of {}/{}: {e}",
                op.service(),
                op.method()
            ),
        },
    }
}

fn decode<S: CodecSet, T: DecodeAs<S>>(
    body: Body,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Result<T, Status> {
    let (first, rest) = body.into_parts();
    T::decode_as(codec, &Payload::from_segments(first, rest), limits).map_err(|e| {
        Status::internal(format!(
            "could not decode the response of {}/{}: {e}",
            op.service(),
            op.method()
        ))
    })
}

/// The reply must come back in the codec the request went with.
fn check_codec<S: CodecSet>(
    reply: &Reply,
    codec: CodecId,
    op: &'static OpDescriptor,
) -> Result<(), Status> {
    if reply.codec == codec.get() {
        return Ok(());
    }
    Err(Status::internal(format!(
        "the response of {}/{} came with codec {:#06x}, not {codec} (the op takes {})",
        op.service(),
        op.method(),
        reply.codec,
        names::<S>()
    )))
}

impl<S: CodecSet, T: EncodeAs<S> + Send + 'static> IntoReply<S> for Plain<T> {
    fn into_outcome(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Outcome {
        encode::<S, T>(&self.0, codec, false, op, limits)
    }
}

impl<S: CodecSet, T: DecodeAs<S> + Send + 'static> FromReply<S> for Plain<T> {
    type Output = T;

    fn from_reply(
        reply: Reply,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<T, Status> {
        check_codec::<S>(&reply, codec, op)?;
        if reply.app_error {
            return Err(Status::internal(format!(
                "{}/{} returned an application error but declares none",
                op.service(),
                op.method()
            )));
        }
        decode::<S, T>(reply.body, codec, op, limits)
    }
}

impl<S, T, E> IntoReply<S> for Fallible<T, E>
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
    E: EncodeAs<S> + Send + 'static,
{
    fn into_outcome(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Outcome {
        match &self.0 {
            Ok(value) => encode::<S, T>(value, codec, false, op, limits),
            Err(error) => encode::<S, E>(error, codec, true, op, limits),
        }
    }
}

impl<S, T, E> FromReply<S> for Fallible<T, E>
where
    S: CodecSet,
    T: DecodeAs<S> + Send + 'static,
    E: DecodeAs<S> + Send + 'static,
{
    type Output = Result<T, E>;

    fn from_reply(
        reply: Reply,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Result<T, E>, Status> {
        check_codec::<S>(&reply, codec, op)?;
        if reply.app_error {
            decode::<S, E>(reply.body, codec, op, limits).map(Err)
        } else {
            decode::<S, T>(reply.body, codec, op, limits).map(Ok)
        }
    }
}

/// A response read in place (zero-copy) instead of decoded; see
/// [`UnaryCall::view`](crate::UnaryCall::view).
#[derive(Debug)]
pub struct Viewed<T>(core::marker::PhantomData<fn() -> T>);

impl<C: Codec, T: View<C> + 'static> FromReply<C> for Viewed<T> {
    type Output = T::View;

    fn from_reply(
        reply: Reply,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<T::View, Status> {
        check_codec::<C>(&reply, codec, op)?;
        if reply.app_error {
            return Err(Status::internal(format!(
                "{}/{} returned an application error, which a view cannot hold",
                op.service(),
                op.method()
            )));
        }
        let (first, rest) = reply.body.into_parts();
        T::view(Payload::from_segments(first, rest), limits).map_err(|e| {
            Status::internal(format!(
                "could not read the response of {}/{} in place: {e}",
                op.service(),
                op.method()
            ))
        })
    }
}
