#[prism::service(public)]
pub trait Geometry {
    async fn area(&self, _: u32) -> u64;
}

fn main() {}
