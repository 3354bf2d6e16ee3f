#[prism::service(public)]
pub trait Feeds {
    #[prism(priority = 8)]
    async fn beyond(&self) -> u32;
    #[prism(priority = "high")]
    async fn words(&self) -> u32;
    #[prism(priority)]
    async fn bare(&self) -> u32;
    #[prism(priority = 7)]
    async fn fine(&self) -> u32;
}

fn main() {}
