//! A user codec for tensors, built on the segments codec's layout: a small
//! typed header (shape and dtype, encoded with postcard) plus the raw
//! element bytes as a segment that is never copied.
//!
//! Run with `cargo run --release --example tensor_codec`. Over the
//! in-memory transport the server receives the very buffer the client sent.

mod codec;

use bytes::Bytes;
use codec::{DType, Tensor, TensorCodec};
use prism::{Channel, Server};

/// Inference on tensors, carried by the tensor codec.
#[prism::service(package = "examples", public)]
pub trait Model {
    /// Returns the tensor it got. `bare`: the `Tensor` itself is the
    /// message (the tensor codec carries tensors, not request structs).
    #[prism(codec = TensorCodec, bare)]
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
        .allow_unauthenticated()
        .add_service(ModelServer::new(Echo))
        .build()?;
    let (listener, connector) = prism::mem::endpoint();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let model = ModelClient::new(Channel::builder().connect(connector).await?);

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

    server.shutdown();
    serving.await??;
    Ok(())
}
