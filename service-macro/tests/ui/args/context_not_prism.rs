/// A type of the user's own that happens to be called `Context`.
pub struct Context;

#[prism::service(public)]
pub trait Calc {
    async fn add(&self, cx: &Context, a: u64) -> u64;
}

fn main() {}
