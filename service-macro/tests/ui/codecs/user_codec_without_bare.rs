use prism::Limits;
use prism::codec::{
    Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Payload,
};

/// A user codec that carries only `u64`.
pub struct Counter;

impl Codec for Counter {
    const ID: CodecId = CodecId::new(0x8001);
    const NAME: &'static str = "counter";
    const CAPABILITIES: Capabilities = Capabilities::NONE;
}

impl Encode<Counter> for u64 {
    fn encode(&self, _: &mut EncodeBuf, _: &Limits) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl Decode<Counter> for u64 {
    fn decode(_: &Payload, _: &Limits) -> Result<Self, DecodeError> {
        Ok(0)
    }
}

// The request is a generated struct unless the op says `bare`: the user
// codec carries `u64`, not `CountRequest`.
#[prism::service(public)]
pub trait Counting {
    #[prism(codec = Counter)]
    async fn count(&self, n: u64) -> u64;
}

fn main() {}
