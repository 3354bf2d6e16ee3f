#[prism::service(public)]
pub trait Work {
    #[prism(spawn, inline)]
    async fn both(&self, n: u64) -> u64;
    #[prism(spawn = true)]
    async fn valued(&self, n: u64) -> u64;
    #[prism(spawn)]
    #[prism(spawn)]
    async fn twice(&self, n: u64) -> u64;
}

fn main() {}
