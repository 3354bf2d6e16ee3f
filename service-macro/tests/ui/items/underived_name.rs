#[prism::service]
pub trait Store {
    async fn __(&self) -> u64;
}

fn main() {}
