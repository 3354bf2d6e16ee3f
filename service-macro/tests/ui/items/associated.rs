#[prism::service(public)]
pub trait Store {
    type Key;
    const LIMIT: usize;
    async fn len(&self) -> u64;
}

fn main() {}
