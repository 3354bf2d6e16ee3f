#[prism::service(public)]
pub trait Store {
    async fn len(&self) -> u64 {
        0
    }
}

fn main() {}
