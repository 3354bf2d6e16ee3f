//! [`Authorizer`]: the decision on each call and stream open.

use prism_core::Status;
use prism_reflect::{Access, OpDescriptor};

use super::ChannelIdentity;

/// Decides whether an identity may call an op that needs `permission`.
/// Runs on every call and stream open of such an op, from the op id alone,
/// before anything is decoded; the identity is known to be present and
/// unexpired. Given to [`ServerBuilder::authorizer`]; the default,
/// [`HeldPermissions`], asks the identity.
///
/// Return `PERMISSION_DENIED` to refuse.
///
/// [`ServerBuilder::authorizer`]: crate::server::ServerBuilder::authorizer
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok` lets the call go on.
    ///
    /// # Errors
    ///
    /// The status the caller gets instead.
    fn authorize(
        &self,
        identity: &ChannelIdentity,
        op: &'static OpDescriptor,
        permission: &str,
    ) -> Result<(), Status>;
}

/// The default [`Authorizer`]: the identity must hold the permission.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeldPermissions;

impl Authorizer for HeldPermissions {
    fn authorize(
        &self,
        identity: &ChannelIdentity,
        op: &'static OpDescriptor,
        permission: &str,
    ) -> Result<(), Status> {
        if identity.has_permission(permission) {
            return Ok(());
        }
        Err(Status::permission_denied(format!(
            "{} needs the permission `{permission}`, which {} does not hold",
            op.full_name(),
            identity.subject()
        )))
    }
}

/// Whether a call of `op` may go on, on a connection authenticated as
/// `identity` (if at all), decided from its op id alone.
pub(crate) fn authorize(
    op: &'static OpDescriptor,
    identity: Option<&ChannelIdentity>,
    authorizer: &dyn Authorizer,
) -> Result<(), Status> {
    let permission = match op.access() {
        Some(Access::Public) => return Ok(()),
        Some(Access::Permission(permission)) => permission,
        // A server never routes such an op: `build` refuses it.
        None => {
            return Err(Status::permission_denied(format!(
                "{} declares no access",
                op.full_name()
            )));
        }
    };
    let Some(identity) = identity else {
        return Err(Status::unauthenticated(format!(
            "{} needs the permission `{permission}`, and this connection is not authenticated",
            op.full_name()
        )));
    };
    if identity.is_expired(crate::auth::now()) {
        return Err(Status::unauthenticated(format!(
            "{} needs the permission `{permission}`, and this connection's credentials expired",
            op.full_name()
        )));
    }
    authorizer.authorize(identity, op, permission)
}
