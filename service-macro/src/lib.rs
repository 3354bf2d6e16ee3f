//! The `#[prism::service]` attribute macro.
//!
//! The macro arrives with "Foundation 2"; this crate reserves its place in the
//! workspace so the layout is fixed from the start.
