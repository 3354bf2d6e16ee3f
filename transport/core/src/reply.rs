//! How a call ends: a [`Response`] or a [`Status`], one shape from the
//! handler's return to the caller's decode.

use crate::{CodecId, Payload, Status};

/// How a call ended: its encoded response, or why it failed.
///
/// The handler's answer, the session's event, the connection's delivery
/// to the caller and the caller's decode all pass this one type.
pub type Reply = Result<Response, Status>;

/// An encoded response: the op's result, or its application error
/// (`Err(E)` of a `Result<T, E>` op), with the codec that encoded it.
///
/// `Debug` shows lengths only (it is [`Payload`]'s): payload bytes never
/// reach logs.
///
/// # Examples
///
/// ```
/// use prism_core::{CodecId, Payload, Reply, Response};
///
/// let reply: Reply = Ok(Response::new(CodecId::POSTCARD, Payload::from(&b"\x05"[..])));
/// let response = reply.unwrap();
/// assert!(!response.app_error);
/// assert_eq!(&response.payload[..], b"\x05");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The codec that encoded `payload`: the one the request came with.
    pub codec: CodecId,
    /// The encoded value.
    pub payload: Payload,
    /// `payload` is the op's application error rather than its result.
    pub app_error: bool,
}

impl Response {
    /// A successful result encoded with `codec`.
    pub fn new(codec: CodecId, payload: Payload) -> Response {
        Response {
            codec,
            payload,
            app_error: false,
        }
    }

    /// The op's application error, encoded with `codec`.
    pub fn app_error(codec: CodecId, payload: Payload) -> Response {
        Response {
            codec,
            payload,
            app_error: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_payload_bytes() {
        let response = Response::app_error(CodecId::RKYV, Payload::from(&b"secret-token"[..]));
        let shown = format!("{response:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("len: 12") && shown.contains("app_error: true"));
    }
}
