//! How an op's result travels: [`Plain`] for `-> T`, [`Fallible`] for
//! `-> Result<T, E>` (the error encoded with the op's codec, flagged as an
//! application error rather than a [`Status`]).

use prism_codecs::{Codec, Decode, Encode, EncodeBuf, Limits, Payload};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Outcome, Reply};
use prism_transport::frame::Body;

use crate::{Code, Status};

/// The result of an op declared `-> T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain<T>(pub T);

/// The result of an op declared `-> Result<T, E>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallible<T, E>(pub Result<T, E>);

/// Server side: turns a handler's result into an encoded reply.
pub trait IntoReply<C: Codec>: Send + 'static {
    /// Encodes the result with codec `C`.
    fn into_outcome(self, op: &'static OpDescriptor, limits: &Limits) -> Outcome;
}

/// Client side: turns an encoded reply back into the op's result.
pub trait FromReply<C: Codec>: Send + 'static {
    /// What the caller receives on success.
    type Output;

    /// Decodes the reply with codec `C`.
    ///
    /// # Errors
    ///
    /// A reply that does not decode is an `INTERNAL` status naming the op.
    fn from_reply(
        reply: Reply,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Self::Output, Status>;
}

fn encode<C: Codec, T: Encode<C>>(
    value: &T,
    app_error: bool,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Outcome {
    let mut buf = EncodeBuf::new();
    match value.encode(&mut buf, limits) {
        Ok(()) => {
            let (first, rest) = buf.finish().into_parts();
            Outcome::Reply {
                codec: C::ID.get(),
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

fn decode<C: Codec, T: Decode<C>>(
    body: Body,
    op: &'static OpDescriptor,
    limits: &Limits,
) -> Result<T, Status> {
    let (first, rest) = body.into_parts();
    T::decode(&Payload::from_segments(first, rest), limits).map_err(|e| {
        Status::internal(format!(
            "could not decode the response of {}/{}: {e}",
            op.service(),
            op.method()
        ))
    })
}

fn check_codec<C: Codec>(reply: &Reply, op: &'static OpDescriptor) -> Result<(), Status> {
    if reply.codec == C::ID.get() {
        return Ok(());
    }
    Err(Status::internal(format!(
        "the response of {}/{} came with codec {:#06x}, not {} ({})",
        op.service(),
        op.method(),
        reply.codec,
        C::NAME,
        C::ID
    )))
}

impl<C: Codec, T: Encode<C> + Send + 'static> IntoReply<C> for Plain<T> {
    fn into_outcome(self, op: &'static OpDescriptor, limits: &Limits) -> Outcome {
        encode::<C, T>(&self.0, false, op, limits)
    }
}

impl<C: Codec, T: Decode<C> + Send + 'static> FromReply<C> for Plain<T> {
    type Output = T;

    fn from_reply(reply: Reply, op: &'static OpDescriptor, limits: &Limits) -> Result<T, Status> {
        check_codec::<C>(&reply, op)?;
        if reply.app_error {
            return Err(Status::internal(format!(
                "{}/{} returned an application error but declares none",
                op.service(),
                op.method()
            )));
        }
        decode::<C, T>(reply.body, op, limits)
    }
}

impl<C, T, E> IntoReply<C> for Fallible<T, E>
where
    C: Codec,
    T: Encode<C> + Send + 'static,
    E: Encode<C> + Send + 'static,
{
    fn into_outcome(self, op: &'static OpDescriptor, limits: &Limits) -> Outcome {
        match &self.0 {
            Ok(value) => encode::<C, T>(value, false, op, limits),
            Err(error) => encode::<C, E>(error, true, op, limits),
        }
    }
}

impl<C, T, E> FromReply<C> for Fallible<T, E>
where
    C: Codec,
    T: Decode<C> + Send + 'static,
    E: Decode<C> + Send + 'static,
{
    type Output = Result<T, E>;

    fn from_reply(
        reply: Reply,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Result<T, E>, Status> {
        check_codec::<C>(&reply, op)?;
        if reply.app_error {
            decode::<C, E>(reply.body, op, limits).map(Err)
        } else {
            decode::<C, T>(reply.body, op, limits).map(Ok)
        }
    }
}
