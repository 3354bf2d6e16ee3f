#[prism::service(public)]
pub trait Greeter {
    async fn greet(&self, #[allow(unused)] name: String) -> String;
}

fn main() {}
