#[prism::service(public)]
pub trait Store {
    async fn __(&self) -> u64;
}

fn main() {}
