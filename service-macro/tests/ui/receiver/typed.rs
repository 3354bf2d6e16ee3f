#[prism::service(public)]
pub trait Counter {
    async fn boxed(self: Box<Self>) -> u64;
    async fn spelled_out(self: &Self) -> u64;
}

fn main() {}
