// Every op says who may call it: a permission, or public. An op with
// neither (and no service default) does not compile.
#[prism::service]
pub trait Store {
    #[prism(permission = "store.read")]
    async fn get(&self, key: String) -> Vec<u8>;
    #[prism(public)]
    async fn health(&self) -> bool;
    async fn put(&self, key: String, value: Vec<u8>);
}

fn main() {}
