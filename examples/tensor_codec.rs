//! A user codec for tensors, built on the frame codec: a small typed header
//! (shape and dtype, encoded with postcard) plus the raw element bytes as a
//! segment that is never copied.
//!
//! Run with `cargo run --release --example tensor_codec`. Over the
//! in-memory transport the server receives the very buffer the client sent.

use bytes::Bytes;
use prism::frame;
use prism::{
    Capabilities, Channel, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError,
    Facet, Limits, Payload, Server,
};

/// A dense tensor: its shape, element type and little-endian element bytes.
#[derive(Facet, Debug, Clone, PartialEq)]
#[facet(crate = prism::facet)]
pub struct Tensor {
    /// Extent of each dimension.
    pub shape: Vec<u32>,
    /// Element type.
    pub dtype: DType,
    /// The elements, row-major, little-endian.
    pub data: Bytes,
}

/// Element types.
#[derive(Facet, Debug, Clone, Copy, PartialEq)]
#[facet(crate = prism::facet)]
#[repr(u8)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 8-bit unsigned integer.
    U8,
}

/// What travels in the frame header: everything but the data.
#[derive(Facet, Debug)]
#[facet(crate = prism::facet)]
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
        frame::write(out, &header, std::slice::from_ref(&self.data), limits)
    }
}

impl Decode<TensorCodec> for Tensor {
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        let (header, mut segments): (TensorHeader, Vec<Bytes>) = frame::read(payload, limits)?;
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

/// Inference on tensors, carried by the tensor codec.
#[prism::service(package = "examples")]
pub trait Model {
    /// Returns the input's element count and the address its data arrived at.
    #[prism(codec = TensorCodec)]
    async fn inspect(&self, input: Tensor) -> Tensor;
}

struct Echo;

impl Model for Echo {
    async fn inspect(&self, input: Tensor) -> Tensor {
        println!(
            "  server: {:?} {:?} tensor, data at {:p}",
            input.shape,
            input.dtype,
            input.data.as_ptr()
        );
        input
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .add_service(ModelServer::new(Echo))
        .build()?;
    let (client_link, server_link) = prism::mem::pair();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_link).await }
    });
    let model = ModelClient::new(Channel::builder().connect_link(client_link).await?);

    let data: Vec<u8> = (0..256 * 256)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    let tensor = Tensor {
        shape: vec![256, 256],
        dtype: DType::F32,
        data: Bytes::from(data),
    };
    println!(
        "client: sending {} bytes of data at {:p}",
        tensor.data.len(),
        tensor.data.as_ptr()
    );
    let back = model.inspect(tensor.clone()).await?;
    assert_eq!(back, tensor);
    let same = back.data.as_ptr() == tensor.data.as_ptr();
    println!("client: got the tensor back; same buffer, never copied: {same}");
    assert!(same, "the in-memory transport copied the tensor data");

    drop(model);
    serving.await??;
    Ok(())
}
