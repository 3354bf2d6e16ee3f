use prism::Streaming;

#[prism::service(public)]
pub trait Telemetry {
    // Nothing comes back from a datagram, not even an error.
    #[prism(datagram)]
    async fn answers(&self, n: u64) -> u64;
    #[prism(datagram = "reliable")]
    async fn fails(&self, n: u64) -> Result<(), String>;
    // It is one message, on no channel.
    #[prism(datagram)]
    async fn streams(&self, items: Streaming<u64>);
    #[prism(datagram, priority = 6)]
    async fn urgent(&self, n: u64);
    // Neither a subscription.
    #[prism(datagram, subscription)]
    async fn pushed(&self, n: u64);
    // Values.
    #[prism(datagram = "sometimes")]
    async fn unsure(&self, n: u64);
    #[prism(datagram = "refuse")]
    async fn fine(&self, n: u64);
}

fn main() {}
