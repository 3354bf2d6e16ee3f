#[prism::service]
pub trait Calc {
    #[prism(codec = rkyv, permission = "calc.use")]
    async fn add(&self, a: i64, b: i64) -> i64;
}

fn main() {}
