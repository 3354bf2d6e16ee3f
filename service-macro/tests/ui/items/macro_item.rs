macro_rules! methods {
    () => {};
}

#[prism::service(public)]
pub trait Store {
    methods!();
    async fn len(&self) -> u64;
}

fn main() {}
