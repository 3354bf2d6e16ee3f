#[prism::message]
pub fn not_a_type() {}

#[prism::message(serde)]
pub struct UnknownOption {
    pub x: u32,
}

#[prism::message(rkyv = true)]
pub struct ValuedOption {
    pub x: u32,
}

#[prism::message(rkyv, rkyv, serde = 1, other)]
pub struct EveryMistakeReported {
    pub x: u32,
}

fn main() {}
