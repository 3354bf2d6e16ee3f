#[prism::service(public, package = )]
pub trait Calc {
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}

#[prism::service(public, name = , package = "demo", colour = )]
pub trait Calc2 {
    async fn add(&self, a: i64, b: i64) -> i64;
}
