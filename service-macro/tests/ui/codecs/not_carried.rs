use prism::codec::{
    Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Payload,
};
use prism::{Facet, Limits};

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

/// Derives Facet, but the `Counter` codec cannot carry it.
#[derive(Facet)]
#[facet(crate = prism::facet)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[prism::service(public)]
pub trait Geometry {
    #[prism(codec = Counter, bare)]
    async fn norm(&self, p: Point) -> u64;
}

fn main() {}
