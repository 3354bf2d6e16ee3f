#[prism::service(public)]
pub trait Geometry {
    async fn scale(&self, mut factor: u32) -> u64;
    async fn shift(&self, ref offset: u32) -> u64;
}

fn main() {}
