#[prism::service(public)]
pub trait Calc {
    const async fn a(&self);
    async unsafe fn b(&self);
    async extern "C" fn c(&self);
}

fn main() {}
