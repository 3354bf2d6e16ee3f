//! How an op's result travels: [`Plain`] for `-> T`, [`Fallible`] for
//! `-> Result<T, E>` (the error encoded with the op's codec, flagged as an
//! application error rather than a [`Status`]).

use prism_codecs::{
    Codec, CodecId, CodecSet, DecodeAs, EncodeAs, EncodeBuf, Limits, Payload, View,
};
use prism_core::{Reply, Response, Status};
use prism_reflect::OpDescriptor;

use prism_codecs::codec_names as names;

/// The result of an op declared `-> T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain<T>(pub T);

/// The result of an op declared `-> Result<T, E>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallible<T, E>(pub Result<T, E>);

/// Server side: turns a handler's result into an encoded reply.
pub trait IntoReply<S: CodecSet>: Send + 'static {
    /// Encodes the result with `codec` (the one the request came with).
    fn into_reply(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Reply;
}

/// Client side: turns an encoded response back into the op's result.
pub trait FromReply<S: CodecSet>: Send + 'static {
    /// What the caller receives on success.
    type Output;

    /// Decodes the response, which must use `codec` (the one the request
    /// went with).
    ///
    /// # Errors
    ///
    /// A response that does not decode is an `INTERNAL` status naming the op.
    fn from_reply(
        response: Response,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Self::Output, Status>;
}

pub(crate) fn encode<S: CodecSet, T: EncodeAs<S>>(
    value: &T,
    codec: CodecId,
    app_error: bool,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Reply {
    let mut buf = EncodeBuf::new();
    match value.encode_as(codec, &mut buf, limits) {
        Ok(()) => Ok(Response {
            codec,
            payload: buf.finish(),
            app_error,
        }),
        Err(e) => Err(Status::internal(format!(
            "could not encode the response of {} with {codec}: {e}",
            op.full_name()
        ))),
    }
}

pub(crate) fn decode<S: CodecSet, T: DecodeAs<S>>(
    payload: &Payload,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Result<T, Status> {
    T::decode_as(codec, payload, limits).map_err(|e| {
        Status::internal(format!(
            "could not decode the response of {} with {codec}: {e}",
            op.full_name()
        ))
    })
}

/// The response must come back in the codec the request went with.
pub(crate) fn check_codec<S: CodecSet>(
    response: &Response,
    codec: CodecId,
    op: &'static OpDescriptor,
) -> Result<(), Status> {
    if response.codec == codec {
        return Ok(());
    }
    Err(Status::internal(format!(
        "the response of {} came with codec {}, not {codec} (the op takes {})",
        op.full_name(),
        response.codec,
        names::<S>()
    )))
}

impl<S: CodecSet, T: EncodeAs<S> + Send + 'static> IntoReply<S> for Plain<T> {
    fn into_reply(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Reply {
        encode::<S, T>(&self.0, codec, false, op, limits)
    }
}

impl<S: CodecSet, T: DecodeAs<S> + Send + 'static> FromReply<S> for Plain<T> {
    type Output = T;

    fn from_reply(
        response: Response,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<T, Status> {
        check_codec::<S>(&response, codec, op)?;
        if response.app_error {
            return Err(Status::internal(format!(
                "{} returned an application error but declares none",
                op.full_name()
            )));
        }
        decode::<S, T>(&response.payload, codec, op, limits)
    }
}

impl<S, T, E> IntoReply<S> for Fallible<T, E>
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
    E: EncodeAs<S> + Send + 'static,
{
    fn into_reply(self, codec: CodecId, op: &'static OpDescriptor, limits: &Limits) -> Reply {
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
        response: Response,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Result<T, E>, Status> {
        check_codec::<S>(&response, codec, op)?;
        if response.app_error {
            decode::<S, E>(&response.payload, codec, op, limits).map(Err)
        } else {
            decode::<S, T>(&response.payload, codec, op, limits).map(Ok)
        }
    }
}

/// A response read in place (zero-copy) instead of decoded; see
/// [`UnaryCall::view`](crate::client::UnaryCall::view).
#[derive(Debug)]
pub struct Viewed<T>(core::marker::PhantomData<fn() -> T>);

impl<C: Codec, T: View<C> + 'static> FromReply<C> for Viewed<T> {
    type Output = T::View;

    fn from_reply(
        response: Response,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<T::View, Status> {
        check_codec::<C>(&response, codec, op)?;
        if response.app_error {
            return Err(Status::internal(format!(
                "{} returned an application error, which a view cannot hold",
                op.full_name()
            )));
        }
        T::view(response.payload, limits).map_err(|e| {
            Status::internal(format!(
                "could not read the response of {} in place: {e}",
                op.full_name()
            ))
        })
    }
}
