// Every mistake is reported in one run, not just the first.
#[prism::service(public, colour = "red")]
pub trait Calc {
    fn add(&self, a: i64, b: i64) -> i64;
    async fn sub(&mut self, a: i64, b: i64) -> i64;
    async fn mul(&self, a: &i64, (b, c): (i64, i64)) -> i64;
}

fn main() {}
