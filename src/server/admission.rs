//! The server's verdict on a client's handshake: the ops the client
//! declared must be served here with the same schema, and a proof it
//! presents must verify into an unexpired identity that names no
//! permission this server's ops do not declare; an accepted client gets the
//! op table (and the lifetime of its authentication), and its connection
//! the identity the proof established, with a guard over it. Fresh proofs
//! presented in band later pass the same checks, and must name the same
//! principal.

use core::fmt::Write;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prism_core::{Extensions, Payload, Status};
use prism_proto::int_map::IntMap;
use prism_proto::session::{Accept, Extension, Features, Hello, LIFETIME_EXTENSION, OpEntry};
use prism_reflect::OpDescriptor;
use prism_transport::LinkInfo;
use prism_transport::driver::{Admission, AdmitFuture, Admitted, ConnectionInfo, ReauthFuture};
use tokio::sync::OwnedSemaphorePermit;

use crate::ConnectionState;
use crate::auth::authority::{self, Authority, Lifetimes};
use crate::auth::{
    AuthError, Authenticator, ChannelIdentity, MAX_PROOF_LEN, PROOF_EXTENSION, Proof,
};

/// Refuses a client that declared an op this server does not serve, or
/// serves with another schema; accepts others with the server's op table.
pub(crate) struct SchemaCheck {
    /// The ACCEPT every admitted client gets: the op table.
    accept: Accept,
    /// The served ops by id, for names in refusals.
    ops: IntMap<u64, (&'static OpDescriptor, u64)>,
    /// Checks proofs; `None`: the server authenticates no one.
    authenticator: Option<Arc<dyn Authenticator>>,
    /// Every permission an op here requires: an identity naming another
    /// was issued for something else (or by mistake) and is refused.
    permissions: Arc<BTreeSet<String>>,
    /// How long authentications hold.
    lifetimes: Lifetimes,
    /// This server re-authenticates in band (it offers the feature): the
    /// longest a fresh proof's verdict may take, the handshake timeout.
    reauth: Option<Duration>,
}

impl SchemaCheck {
    pub(crate) fn new(
        ops: Vec<(&'static OpDescriptor, OpEntry)>,
        authenticator: Option<Arc<dyn Authenticator>>,
        permissions: BTreeSet<String>,
        lifetimes: Lifetimes,
        reauth: Option<Duration>,
    ) -> SchemaCheck {
        let table = ops
            .iter()
            .map(|(op, entry)| (entry.op, (*op, entry.fingerprint)))
            .collect();
        SchemaCheck {
            accept: Accept::new(ops.into_iter().map(|(_, entry)| entry).collect()),
            ops: table,
            authenticator,
            permissions: Arc::new(permissions),
            lifetimes,
            reauth,
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
    fn admit(&self, peer: &Hello, link: &LinkInfo) -> AdmitFuture {
        if let Some(problems) = self.mismatches(&peer.ops) {
            return refuse(Status::failed_precondition(format!(
                "the client expects ops this server does not serve as declared: {problems}"
            )));
        }
        if !link.kind.datagrams
            && let Some(op) = (peer.ops.iter())
                .filter_map(|entry| self.ops.get(&entry.op))
                .find(|(op, _)| op.needs_datagrams())
        {
            return refuse(Status::failed_precondition(format!(
                "{} needs unreliable datagrams, and this {} link has none",
                op.0.full_name(),
                link.kind.transport
            )));
        }
        let mut accept = self.accept.clone();
        let presented = match proof(peer) {
            Err(status) => return refuse(status),
            Ok(proof) => proof,
        };
        let (verdict, by_proof) = match (presented, &self.authenticator) {
            (Some(_), None) => {
                return refuse(Status::unauthenticated(
                    "this server authenticates no one, and the client presented a proof",
                ));
            }
            (Some(proof), Some(authenticator)) => (authenticator.authenticate(proof, link), true),
            (None, authenticator) => {
                match authenticator
                    .as_ref()
                    .and_then(|a| a.authenticate_link(link))
                {
                    Some(verdict) => (verdict, false),
                    None => {
                        // No proof and none from the link: a connection
                        // without identity (public ops only).
                        let mut extensions = Extensions::new();
                        extensions.insert(ConnectionState::default());
                        let admitted = Admitted {
                            accept,
                            extensions,
                            guard: None,
                        };
                        return Box::pin(core::future::ready(Ok(admitted)));
                    }
                }
            }
        };
        let known = Arc::clone(&self.permissions);
        let lifetimes = self.lifetimes;
        // Only a proof can be renewed, and only in band where both sides
        // offered it: the server's maximum lifetime bounds those alone (a
        // client that cannot renew keeps its token's expiry).
        let renewable =
            by_proof && self.reauth.is_some() && peer.features.contains(Features::REAUTH);
        let version = (self.authenticator.as_ref())
            .and_then(|a| a.authz_version())
            .map(|version| version.subscribe())
            .filter(|_| by_proof);
        Box::pin(async move {
            let identity = vet(verdict.await, &known, "authentication failed")?;
            let identity = authority::bounded(identity, renewable, lifetimes.max);
            let expires = identity.expires_at().is_some();
            if let Some(lifetime) = authority::lifetime(&identity).filter(|_| renewable) {
                accept.extensions.push(Extension {
                    kind: LIFETIME_EXTENSION,
                    data: lifetime.encode().to_vec().into(),
                });
            }
            let authority = Authority::new(identity, renewable);
            let guard = (renewable || expires || version.is_some())
                .then(|| authority::guard(Arc::clone(&authority), lifetimes, version));
            let mut extensions = Extensions::new();
            extensions.insert(authority);
            extensions.insert(ConnectionState::default());
            Ok(Admitted {
                accept,
                extensions,
                guard,
            })
        })
    }

    fn reauthenticate(&self, proof: Payload, connection: &Arc<ConnectionInfo>) -> ReauthFuture {
        let authority = connection.extensions.get::<Arc<Authority>>();
        let (Some(authority), Some(authenticator), Some(timeout)) =
            (authority, &self.authenticator, self.reauth)
        else {
            return refuse_proof("this connection did not authenticate with a proof");
        };
        if !authority.is_renewable() {
            return refuse_proof("this connection did not authenticate with a proof");
        }
        if proof.len() > MAX_PROOF_LEN {
            return refuse_proof(&format!(
                "re-authentication failed: the proof is {} bytes, more than the {MAX_PROOF_LEN} this server reads",
                proof.len()
            ));
        }
        let verdict = authenticator.authenticate(
            Proof::from_bytes(proof.as_bytes().clone()),
            &connection.link,
        );
        let (authority, known) = (Arc::clone(authority), Arc::clone(&self.permissions));
        let max = self.lifetimes.max;
        Box::pin(async move {
            // A verdict that never comes must not hold the connection.
            let Ok(verdict) = tokio::time::timeout(timeout, verdict).await else {
                return Err(Status::unauthenticated(format!(
                    "re-authentication failed: the proof was not judged within {timeout:?}"
                )));
            };
            let identity = vet(verdict, &known, "re-authentication failed")?;
            authority.renew(authority::bounded(identity, true, max))?;
            Ok(authority::lifetime(&authority.identity()))
        })
    }
}

/// The identity a verdict established, if it is unexpired and names no
/// permission unknown here; else why not, after `failed`.
fn vet(
    verdict: Result<ChannelIdentity, AuthError>,
    known: &BTreeSet<String>,
    failed: &str,
) -> Result<ChannelIdentity, Status> {
    let identity = verdict.map_err(|e| Status::unauthenticated(format!("{failed}: {e}")))?;
    if identity.is_expired(crate::auth::now()) {
        return Err(Status::unauthenticated(format!(
            "{failed}: the credentials have expired"
        )));
    }
    let unknown: Vec<&str> = identity
        .permissions()
        .filter(|p| !known.contains(*p))
        .collect();
    if !unknown.is_empty() {
        return Err(Status::unauthenticated(format!(
            "{failed}: the credentials grant permissions no op of this server declares ({})",
            unknown.join(", ")
        )));
    }
    Ok(identity)
}

fn refuse_proof(reason: &str) -> ReauthFuture {
    Box::pin(core::future::ready(Err(Status::unauthenticated(reason))))
}

/// One connection's admission while it holds a pending-handshake slot: the
/// slot is given back once the handshake is judged (or with the connection,
/// if it ends first).
pub(crate) struct Pending {
    check: Arc<SchemaCheck>,
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Pending {
    pub(crate) fn new(check: Arc<SchemaCheck>, slot: OwnedSemaphorePermit) -> Pending {
        Pending {
            check,
            slot: Mutex::new(Some(slot)),
        }
    }
}

impl Admission for Pending {
    fn admit(&self, peer: &Hello, link: &LinkInfo) -> AdmitFuture {
        let slot = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let verdict = self.check.admit(peer, link);
        Box::pin(async move {
            let verdict = verdict.await;
            drop(slot);
            verdict
        })
    }

    fn reauthenticate(&self, proof: Payload, connection: &Arc<ConnectionInfo>) -> ReauthFuture {
        self.check.reauthenticate(proof, connection)
    }
}

/// Refuses the client whatever it says (the server is over a connection
/// cap), then gives back its pending-handshake slot.
pub(crate) struct Refused {
    status: Status,
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Refused {
    pub(crate) fn new(status: Status, slot: OwnedSemaphorePermit) -> Refused {
        Refused {
            status,
            slot: Mutex::new(Some(slot)),
        }
    }
}

impl Admission for Refused {
    fn admit(&self, _peer: &Hello, _link: &LinkInfo) -> AdmitFuture {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        refuse(self.status.clone())
    }
}

fn refuse(status: Status) -> AdmitFuture {
    Box::pin(core::future::ready(Err(status)))
}

/// The proof in the client's HELLO, if it presented one.
fn proof(peer: &Hello) -> Result<Option<Proof>, Status> {
    let mut proofs = peer
        .extensions
        .iter()
        .filter(|ext| ext.kind == PROOF_EXTENSION);
    let Some(first) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(Status::unauthenticated(
            "the client presented several proofs",
        ));
    }
    if first.data.len() > MAX_PROOF_LEN {
        return Err(Status::unauthenticated(format!(
            "the client's proof is {} bytes, more than the {MAX_PROOF_LEN} this server reads",
            first.data.len()
        )));
    }
    Ok(Some(Proof::from_bytes(first.data.clone())))
}
