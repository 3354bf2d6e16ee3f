use prism::Streaming;

#[prism::service(public)]
pub trait Feed {
    // A subscription is a server stream.
    #[prism(subscription)]
    async fn unary(&self, n: u64) -> u64;
    #[prism(subscription)]
    async fn upload(&self, items: Streaming<u64>) -> Streaming<u64>;
    // `buffer` sizes a drop-oldest subscription only.
    #[prism(buffer = 8)]
    async fn plain(&self) -> Streaming<u64>;
    #[prism(subscription = "wait", buffer = 8)]
    async fn waits(&self) -> Streaming<u64>;
    // Values.
    #[prism(subscription = "sometimes", buffer = 0)]
    async fn bad(&self) -> Streaming<u64>;
}

fn main() {}
