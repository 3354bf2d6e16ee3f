#[prism::service(public)]
pub trait Greeter {
    async fn merge(&self, other: Box<Self>) -> String;
}

fn main() {}
