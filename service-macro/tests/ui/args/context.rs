use prism::Context;

#[prism::service(public)]
pub trait Calc {
    async fn twice(&self, a: &Context, b: &Context) -> u64;
    async fn mutable(&self, cx: &mut Context) -> u64;
    async fn lifetime(&self, cx: &'static Context) -> u64;
}

fn main() {}
