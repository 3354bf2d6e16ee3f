#[prism::service(public)]
pub trait Calc {
    #[prism]
    async fn add(&self, a: i64, b: i64) -> i64;
    #[prism = "fast"]
    async fn sub(&self, a: i64, b: i64) -> i64;
}

fn main() {}
