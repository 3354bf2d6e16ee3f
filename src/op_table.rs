//! What the session needs of an op descriptor: its op table entry, as the
//! handshake carries it (what a client declares in its HELLO and a server
//! advertises in its ACCEPT), and its send priority.

use prism_proto::session::{OpEntry, Priority};
use prism_reflect::{OpDescriptor, ReflectError};

/// The op table entry of `op`: its id, schema fingerprint and codecs.
pub(crate) fn op_entry(op: &'static OpDescriptor) -> Result<OpEntry, ReflectError> {
    Ok(OpEntry {
        op: op.id().get(),
        fingerprint: op.fingerprint()?,
        codecs: op.codecs().iter().map(|c| c.get()).collect(),
    })
}

/// The send priority `op` declares (`#[prism(priority = N)]`).
pub(crate) fn op_priority(op: &OpDescriptor) -> Priority {
    Priority::new(op.priority()).unwrap_or(Priority::HIGHEST)
}
