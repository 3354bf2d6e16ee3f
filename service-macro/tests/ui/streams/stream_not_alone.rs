use prism::Streaming;

#[prism::service(public)]
pub trait Upload {
    // A stream argument must be the op's only argument.
    async fn put(&self, name: String, chunks: Streaming<Vec<u8>>) -> u64;
    async fn both(&self, a: Streaming<u64>, b: Streaming<u64>) -> u64;
}

fn main() {}
