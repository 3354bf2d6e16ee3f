#[prism::service(public)]
pub trait Geometry {
    async fn area(&self, (w, h): (u32, u32)) -> u64;
    async fn origin(&self, Point { x, y }: Point) -> u64;
}

pub struct Point {
    pub x: u32,
    pub y: u32,
}

fn main() {}
