#[prism::service(public)]
pub trait Greeter {
    async fn names(&self) -> impl Iterator<Item = String>;
}

fn main() {}
