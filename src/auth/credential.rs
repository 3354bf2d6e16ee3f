//! [`CredentialSource`]: where a client gets the proof it presents.

use core::future::Future;
use core::pin::Pin;

use super::{AuthError, Proof};

/// The answer of a [`CredentialSource`].
pub type CredentialFuture =
    Pin<Box<dyn Future<Output = Result<Proof, AuthError>> + Send + 'static>>;

/// Gives a client the proof to present when it connects, for the audience
/// it names ([`ChannelBuilder::audience`]). Given to
/// [`ChannelBuilder::credentials`]; asked once per connection.
///
/// A [`Proof`] is a source of itself.
///
/// [`ChannelBuilder::audience`]: crate::client::ChannelBuilder::audience
/// [`ChannelBuilder::credentials`]: crate::client::ChannelBuilder::credentials
pub trait CredentialSource: Send + Sync + 'static {
    /// A proof for `audience` (`None` when the channel names none).
    fn credential(&self, audience: Option<&str>) -> CredentialFuture;
}

impl CredentialSource for Proof {
    fn credential(&self, _audience: Option<&str>) -> CredentialFuture {
        Box::pin(core::future::ready(Ok(self.clone())))
    }
}
