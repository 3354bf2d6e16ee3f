use std::borrow::Cow;

#[prism::service(public)]
pub trait Greeter {
    async fn greet(&self, name: Cow<'_, str>) -> String;
    async fn fixed(&self, name: Cow<'static, str>) -> String;
}

fn main() {}
