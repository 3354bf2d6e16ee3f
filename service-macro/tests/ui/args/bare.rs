use prism::Archived;

#[prism::service(public)]
pub trait Store {
    #[prism(bare)]
    async fn two(&self, a: u64, b: u64) -> u64;
    #[prism(bare)]
    async fn none(&self) -> u64;
    #[prism(codec = rkyv, bare)]
    async fn view(&self, blob: Archived<Vec<u8>>) -> u64;
}

fn main() {}
