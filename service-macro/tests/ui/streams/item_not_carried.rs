use prism::Streaming;

pub struct NotAMessage;

#[prism::service(public)]
pub trait Feed {
    // Items must be types the op's codec carries.
    async fn feed(&self) -> Streaming<NotAMessage>;
    async fn upload(&self, items: Streaming<NotAMessage>) -> u64;
}

fn main() {}
