#[prism::service(public)]
pub trait Counter {
    async fn create(start: u64) -> u64;
}

fn main() {}
