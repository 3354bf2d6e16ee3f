use prism::Facet;

/// Derives Facet but not rkyv's traits.
#[derive(Facet)]
#[facet(crate = prism::facet)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[prism::service]
pub trait Geometry {
    #[prism(codec = rkyv)]
    async fn norm(&self, p: Point) -> u64;
}

fn main() {}
