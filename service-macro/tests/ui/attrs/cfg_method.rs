#[prism::service(public)]
pub trait Calc {
    #[cfg(debug_assertions)]
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}
