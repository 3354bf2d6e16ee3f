//! The server's verdict on a client's handshake: the ops the client
//! declared must be served here with the same schema; an accepted client
//! gets the op table.

use core::fmt::Write;
use prism_core::Status;
use prism_proto::int_map::IntMap;
use prism_proto::session::{Accept, Hello, OpEntry};
use prism_reflect::OpDescriptor;
use prism_transport::LinkInfo;
use prism_transport::driver::{Admission, AdmitFuture, Admitted};

/// Refuses a client that declared an op this server does not serve, or
/// serves with another schema; accepts others with the server's op table.
pub(crate) struct SchemaCheck {
    /// The ACCEPT every admitted client gets: the op table.
    accept: Accept,
    /// The served ops by id, for names in refusals.
    ops: IntMap<u64, (&'static OpDescriptor, u64)>,
}

impl SchemaCheck {
    pub(crate) fn new(ops: Vec<(&'static OpDescriptor, OpEntry)>) -> SchemaCheck {
        let table = ops
            .iter()
            .map(|(op, entry)| (entry.op, (*op, entry.fingerprint)))
            .collect();
        SchemaCheck {
            accept: Accept::new(ops.into_iter().map(|(_, entry)| entry).collect()),
            ops: table,
        }
    }

    /// Why the client's declared ops cannot be served, if they cannot.
    fn mismatches(&self, declared: &[OpEntry]) -> Option<String> {
        let mut problems = String::new();
        for entry in declared {
            let problem = match self.ops.get(&entry.op) {
                None => format!("op {:#018x} is not served here", entry.op),
                Some((op, fingerprint)) if *fingerprint != entry.fingerprint => format!(
                    "{} has another schema here (fingerprint {fingerprint:#018x} here, {:#018x} in the client)",
                    op.full_name(),
                    entry.fingerprint
                ),
                Some(_) => continue,
            };
            if !problems.is_empty() {
                problems.push_str("; ");
            }
            let _ = write!(problems, "{problem}");
        }
        (!problems.is_empty()).then_some(problems)
    }
}

impl Admission for SchemaCheck {
    fn admit(&self, peer: &Hello, _link: &LinkInfo) -> AdmitFuture {
        let verdict = match self.mismatches(&peer.ops) {
            Some(problems) => Err(Status::failed_precondition(format!(
                "the client expects ops this server does not serve as declared: {problems}"
            ))),
            None => Ok(Admitted {
                accept: self.accept.clone(),
                extensions: Default::default(),
            }),
        };
        Box::pin(core::future::ready(verdict))
    }
}
