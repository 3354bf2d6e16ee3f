//! The tensor codec: a user codec on the segments layout. Shared by the
//! `tensor_codec` example and the conformance test (`tests/conformance.rs`).

use bytes::Bytes;
use prism::Limits;
use prism::codec::{
    Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Payload,
    segments,
};

/// A dense tensor: its shape, element type and little-endian element bytes.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Extent of each dimension.
    pub shape: Vec<u32>,
    /// Element type.
    pub dtype: DType,
    /// The elements, row-major, little-endian.
    pub data: Bytes,
}

/// Element types.
#[prism::message]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 8-bit unsigned integer.
    U8,
}

/// What travels in the segments header: everything but the data.
#[prism::message]
#[derive(Debug)]
struct TensorHeader {
    shape: Vec<u32>,
    dtype: DType,
}

/// The tensor codec: a user codec with an id from the user range.
#[derive(Debug)]
pub struct TensorCodec;

impl Codec for TensorCodec {
    const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 1);
    const NAME: &'static str = "tensor";
    const CAPABILITIES: Capabilities = Capabilities::NONE.with_zero_copy(true);
}

impl Encode<TensorCodec> for Tensor {
    fn encode(&self, out: &mut EncodeBuf, limits: &Limits) -> Result<(), EncodeError> {
        let header = TensorHeader {
            shape: self.shape.clone(),
            dtype: self.dtype,
        };
        segments::write(out, &header, std::slice::from_ref(&self.data), limits)
    }
}

impl Decode<TensorCodec> for Tensor {
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        let (header, mut segments): (TensorHeader, Vec<Bytes>) = segments::read(payload, limits)?;
        let data = match (segments.pop(), segments.is_empty()) {
            (Some(data), true) => data,
            _ => {
                return Err(DecodeError::Codec {
                    codec: "tensor",
                    message: "a tensor frame holds exactly one segment".into(),
                });
            }
        };
        let elems = header
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)));
        let width = match header.dtype {
            DType::F32 => 4,
            DType::U8 => 1,
        };
        if elems.and_then(|n| n.checked_mul(width)) != Some(data.len() as u64) {
            return Err(DecodeError::Codec {
                codec: "tensor",
                message: format!(
                    "shape {:?} does not match {} data bytes",
                    header.shape,
                    data.len()
                ),
            });
        }
        Ok(Tensor {
            shape: header.shape,
            dtype: header.dtype,
            data,
        })
    }
}
