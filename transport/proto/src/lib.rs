//! The Prism wire protocol, sans I/O: the frame format and the session
//! state machine.
//!
//! Nothing here reads a clock, touches a socket or spawns a task: the
//! [`session::Session`] is fed frames, timer expiries and the
//! application's decisions, and yields frames to send and events to act
//! on. `prism-transport` drives it over real links with tokio; tests drive
//! two sessions against each other on a simulated clock; a browser client
//! can drive it over a WebSocket. The crate has no tokio dependency, so the
//! compiler keeps it that way.
//!
//! The protocol never looks inside a call's payload: op ids and codec ids
//! are opaque numbers in frame headers.
//!
//! Time comes in as an [`Instant`]: `std::time::Instant` itself on every
//! target but `wasm32-unknown-unknown`, where std has no clock and
//! [`web_time`]'s reads the browser's `performance.now()`.

pub mod frame;
pub mod int_map;
pub mod session;

pub use web_time::Instant;
