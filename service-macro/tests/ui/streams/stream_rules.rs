use prism::{Archived, Streaming};

#[prism::message(rkyv)]
pub struct Tick {
    pub n: u64,
}

#[prism::service(public)]
pub trait Feed {
    // A handler streams owned items.
    #[prism(codec = rkyv)]
    async fn ticks(&self) -> Streaming<Archived<Tick>>;
    // No stream of streams.
    async fn nested(&self, batches: Streaming<Streaming<u64>>) -> u64;
    // Items already travel as they are.
    #[prism(bare)]
    async fn bare(&self, numbers: Streaming<u64>) -> u64;
    // View items take exactly one codec.
    #[prism(codecs = [rkyv, postcard])]
    async fn views(&self, ticks: Streaming<Archived<Tick>>) -> u64;
    // A server stream decodes its request.
    #[prism(codec = rkyv)]
    async fn watch(&self, from: Archived<Tick>) -> Streaming<Tick>;
}

fn main() {}
