#[prism::service(public)]
pub trait Registry {
    async fn ops(&self) -> u64;
    async fn service(&self) -> u64;
    async fn new(&self) -> u64;
    async fn channel(&self) -> u64;
}

fn main() {}
