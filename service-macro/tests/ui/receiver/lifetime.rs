#[prism::service(public)]
pub trait Counter {
    async fn get(&'static self) -> u64;
}

fn main() {}
