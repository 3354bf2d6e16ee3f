macro_rules! methods {
    () => {};
}

#[prism::service]
pub trait Store {
    methods!();
    async fn len(&self) -> u64;
}

fn main() {}
