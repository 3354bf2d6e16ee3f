// `permission` and `public` exclude each other, on the service and on an
// op; a permission is a plain name.
#[prism::service(permission = "store.read", public)]
pub trait Store {
    #[prism(permission = "store.write", public)]
    async fn put(&self, key: String, value: Vec<u8>);
    #[prism(permission = "")]
    async fn empty(&self);
    #[prism(permission = "store write")]
    async fn spaced(&self);
    #[prism(permission = store)]
    async fn unquoted(&self);
    #[prism(public = true)]
    async fn valued(&self);
}

fn main() {}
