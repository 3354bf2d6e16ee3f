#[prism::service(public)]
pub trait Store: Clone + Send {
    async fn len(&self) -> u64;
}

fn main() {}
