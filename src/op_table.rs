//! The op table as the handshake carries it: what a client declares in its
//! HELLO and a server advertises in its ACCEPT.

use prism_proto::session::OpEntry;
use prism_reflect::{OpDescriptor, ReflectError};

/// The op table entry of `op`: its id, schema fingerprint and codecs.
pub(crate) fn op_entry(op: &'static OpDescriptor) -> Result<OpEntry, ReflectError> {
    Ok(OpEntry {
        op: op.id().get(),
        fingerprint: op.fingerprint()?,
        codecs: op.codecs().iter().map(|c| c.get()).collect(),
    })
}
