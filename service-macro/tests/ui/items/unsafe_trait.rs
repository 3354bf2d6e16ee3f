#[prism::service(public)]
pub unsafe trait Store {
    async fn len(&self) -> u64;
}

fn main() {}
