#[prism::service(public)]
pub trait Greeter {
    async fn greet(&self, name: String, name: String) -> String;
}

fn main() {}
