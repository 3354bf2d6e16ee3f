//! [`SecurityPolicy`]: which links a client or server accepts, decided from
//! a link's kind before any byte moves.

use crate::link::LinkKind;

/// What a link must protect before a client connects over it or a server
/// accepts from it. Checked against the adapter's [`LinkKind`] before
/// connecting or accepting, and again against each link's own kind.
///
/// The default fails closed: a link must keep its bytes confidential and
/// intact. In-memory and Unix links do (their bytes never leave this
/// machine's kernel); TLS does; plain TCP does not and is refused unless
/// plaintext is allowed explicitly. A link that declares no protection is
/// refused whether or not it crosses a network: an unknown level counts as
/// none.
///
/// # Examples
///
/// ```
/// use prism_transport::{SecurityPolicy, tcp, unix};
///
/// let policy = SecurityPolicy::default();
/// assert!(policy.check(&tcp::KIND).is_err()); // plain TCP needs consent
/// assert!(policy.check(&unix::KIND).is_ok()); // never leaves the machine
/// assert!(policy.allow_plaintext().check(&tcp::KIND).is_ok());
/// // mTLS required: a Unix socket does not authenticate its peer.
/// assert!(policy.require_peer_authentication().check(&unix::KIND).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityPolicy {
    allow_plaintext: bool,
    require_peer_authentication: bool,
}

impl SecurityPolicy {
    /// The same policy, also accepting links that do not keep bytes
    /// confidential and intact (plain TCP, plain WebSocket).
    #[must_use]
    pub const fn allow_plaintext(mut self) -> SecurityPolicy {
        self.allow_plaintext = true;
        self
    }

    /// The same policy, accepting only links that prove who the peer is
    /// (mutual TLS).
    #[must_use]
    pub const fn require_peer_authentication(mut self) -> SecurityPolicy {
        self.require_peer_authentication = true;
        self
    }

    /// Whether a link of `kind` meets the policy.
    ///
    /// # Errors
    ///
    /// [`InsecureLink`] says what the link lacks.
    pub const fn check(&self, kind: &LinkKind) -> Result<(), InsecureLink> {
        let security = kind.security;
        let protected = security.confidential && security.integrity;
        if !protected && !self.allow_plaintext {
            return Err(InsecureLink::Plaintext {
                transport: kind.transport,
            });
        }
        if self.require_peer_authentication && !security.peer_authenticated {
            return Err(InsecureLink::PeerNotAuthenticated {
                transport: kind.transport,
            });
        }
        Ok(())
    }
}

/// A link that falls short of a [`SecurityPolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsecureLink {
    /// Its bytes are not kept confidential and intact.
    #[error(
        "refusing a plaintext {transport} link: it does not keep bytes confidential and intact; call allow_plaintext() to permit it"
    )]
    Plaintext {
        /// The transport's name.
        transport: &'static str,
    },
    /// It does not prove who the peer is, and the policy requires it.
    #[error(
        "refusing a {transport} link: the security policy requires links that authenticate the peer (mutual TLS)"
    )]
    PeerNotAuthenticated {
        /// The transport's name.
        transport: &'static str,
    },
}

impl InsecureLink {
    /// The transport that was refused.
    pub const fn transport(&self) -> &'static str {
        match self {
            InsecureLink::Plaintext { transport }
            | InsecureLink::PeerNotAuthenticated { transport } => transport,
        }
    }
}
