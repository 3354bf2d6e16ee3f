#[prism::service(public)]
pub trait Greeter {
    async fn name(&self) -> &'static str;
    async fn names(&self) -> Result<Vec<&'static str>, String>;
}

fn main() {}
