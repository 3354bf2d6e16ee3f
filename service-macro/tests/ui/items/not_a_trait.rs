#[prism::service(public)]
pub struct Store {
    len: u64,
}

#[prism::service(public)]
pub fn len() -> u64 {
    0
}

fn main() {}
