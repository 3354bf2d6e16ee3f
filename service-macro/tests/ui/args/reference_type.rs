#[prism::service(public)]
pub trait Greeter {
    async fn greet(&self, name: &str) -> String;
    async fn greet_all(&self, names: Vec<&'static str>) -> String;
    async fn rename(&self, name: &mut String);
}

fn main() {}
