#[prism::service(public)]
pub trait Store<T>
where
    T: Clone,
{
    async fn len(&self) -> u64;
}

fn main() {}
