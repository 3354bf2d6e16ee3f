#![allow(non_snake_case)]

#[prism::service(public)]
pub trait Store {
    async fn get_value(&self) -> u64;
    async fn getValue(&self) -> u64;
}

fn main() {}
