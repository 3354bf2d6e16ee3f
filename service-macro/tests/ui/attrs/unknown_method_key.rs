#[prism::service(public)]
pub trait Calc {
    #[prism(codec = rkyv, colour = "red")]
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}
