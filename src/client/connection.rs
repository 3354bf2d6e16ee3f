//! One connection of a [`Channel`](super::Channel): the driver's handle,
//! the client layers around it, and the server's op table from its
//! handshake, against which every call is checked before it is sent.

use std::sync::{Arc, OnceLock};

use prism_core::{CodecId, Status};
use prism_proto::int_map::IntMap;
use prism_reflect::OpDescriptor;
use prism_transport::driver::Client;

use super::layer::{Handle, Layer, Open};

/// A connection that finished its handshake.
pub(crate) struct Connection {
    pub(crate) client: Client,
    /// The client layers around the connection; `None` without layers.
    pub(crate) stack: Option<Arc<dyn Handle>>,
    /// The same layers, in the order they were added, for stream opens.
    layers: Arc<[Arc<dyn Layer>]>,
    /// The server's op table from its handshake, each entry with a verdict
    /// on schema compatibility computed on first use.
    peer_ops: IntMap<u64, PeerOp>,
}

struct PeerOp {
    fingerprint: u64,
    codecs: Vec<u16>,
    /// The verdict for the first local descriptor of this op that was used
    /// (keyed by its address): computed once, then read without a lock.
    /// Other descriptors of the same op id (another client type built
    /// against a different schema) are checked on every call.
    verdict: OnceLock<(usize, Result<(), Status>)>,
}

impl Connection {
    /// The connection behind `client`, its calls passing `stack` and its
    /// stream opens each of `layers`.
    pub(crate) fn new(
        client: Client,
        stack: Option<Arc<dyn Handle>>,
        layers: Arc<[Arc<dyn Layer>]>,
    ) -> Connection {
        let peer_ops = (client.info().peer_accept.ops.iter())
            .map(|entry| {
                let op = PeerOp {
                    fingerprint: entry.fingerprint,
                    codecs: entry.codecs.clone(),
                    verdict: OnceLock::new(),
                };
                (entry.op, op)
            })
            .collect();
        Connection {
            client,
            stack,
            layers,
            peer_ops,
        }
    }

    /// Passes a stream open through every layer, first added first; the
    /// first refusal ends it.
    pub(crate) fn open(&self, open: &mut Open) -> Result<(), Status> {
        self.layers.iter().try_for_each(|layer| layer.open(open))
    }

    /// Refuses, before anything is sent, an op the server does not serve or
    /// serves with a different schema; otherwise picks the codec: the first
    /// of `ours` (the op's codecs, in preference order) that the server
    /// accepts for the op and `only` (the channel's restriction) allows.
    pub(crate) fn check_op(
        &self,
        op: &'static OpDescriptor,
        ours: &[CodecId],
        only: Option<&[CodecId]>,
    ) -> Result<CodecId, Status> {
        let Some(peer) = self.peer_ops.get(&op.id().get()) else {
            return Err(Status::not_found(format!(
                "the server does not serve {} (op id {})",
                op.full_name(),
                op.id()
            )));
        };
        let key = core::ptr::from_ref(op) as usize;
        let (first, verdict) = peer.verdict.get_or_init(|| (key, peer.compatible(op)));
        if *first == key {
            verdict.clone()?;
        } else {
            peer.compatible(op)?;
        }
        let allowed_here = |codec: &CodecId| only.is_none_or(|only| only.contains(codec));
        match ours
            .iter()
            .find(|codec| allowed_here(codec) && peer.codecs.contains(&codec.get()))
        {
            Some(codec) => Ok(*codec),
            None => Err(Status::failed_precondition(format!(
                "no codec in common for {}: this client offers {}, the server accepts {}",
                op.full_name(),
                names(ours.iter().copied().filter(allowed_here)),
                names(peer.codecs.iter().map(|&id| CodecId::new(id))),
            ))),
        }
    }
}

fn names(ids: impl Iterator<Item = CodecId>) -> String {
    let names: Vec<String> = ids.map(|id| id.to_string()).collect();
    if names.is_empty() {
        String::from("none")
    } else {
        names.join(", ")
    }
}

impl PeerOp {
    fn compatible(&self, op: &'static OpDescriptor) -> Result<(), Status> {
        match op.fingerprint() {
            Ok(ours) if ours == self.fingerprint => Ok(()),
            Ok(ours) => Err(Status::failed_precondition(format!(
                "{} has a different schema on the server (fingerprint {:#018x} here, {:#018x} there)",
                op.full_name(),
                ours,
                self.fingerprint
            ))),
            Err(e) => Err(Status::internal(format!(
                "cannot fingerprint {}: {e}",
                op.full_name()
            ))),
        }
    }
}
