#[prism::service]
pub struct Store {
    len: u64,
}

#[prism::service]
pub fn len() -> u64 {
    0
}

fn main() {}
