use prism::Archived;

#[prism::service(public)]
pub trait Blobs {
    #[prism(codecs = [rkyv, postcard])]
    async fn put(&self, blob: Archived<Vec<u8>>) -> u64;
    async fn two(&self, blob: Archived<Vec<u8>>, n: u32) -> u64;
}

fn main() {}
