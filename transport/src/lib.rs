//! Prism transports: the frame format, the codec-blind `Link` trait and the
//! sans-IO session protocol.
//!
//! The transports arrive with "Foundation 2"; this crate reserves its place in
//! the workspace so the layout is fixed from the start.
