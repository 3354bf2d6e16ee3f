#[prism::service(public, package = "acme..billing", name = "Calc/v2")]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}
