#[prism::service(public)]
pub trait Calc {
    #[prism(codec = postcard, codecs = [postcard])]
    async fn add(&self, a: i64, b: i64) -> i64;
    #[prism(codecs = [postcard, postcard])]
    async fn sub(&self, a: i64, b: i64) -> i64;
    #[prism(codecs = [])]
    async fn mul(&self, a: i64, b: i64) -> i64;
}

fn main() {}
