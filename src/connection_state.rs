//! [`ConnectionState`]: values one call on a connection leaves for the
//! later calls on the same connection.

use std::sync::{Arc, Mutex, PoisonError};

use prism_core::Extensions;

/// A typed map shared by every call of one connection, and by nothing
/// else: a login op stores a session there, later calls on that connection
/// read it ([`Context::connection_state`](crate::Context::connection_state)).
/// Each connection starts with an empty one; it goes away with the
/// connection.
///
/// It does not change who the connection is: authorization reads only the
/// identity the handshake established, so a public login op cannot grant
/// permissions by writing here.
///
/// # Examples
///
/// ```
/// use prism::ConnectionState;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Session(u64);
///
/// let state = ConnectionState::default();
/// assert_eq!(state.get::<Session>(), None);
/// state.insert(Session(7));
/// assert_eq!(state.get::<Session>(), Some(Session(7)));
/// ```
#[derive(Clone, Default)]
pub struct ConnectionState {
    values: Arc<Mutex<Extensions>>,
}

impl ConnectionState {
    /// Stores `value`, returning the value of its type stored before.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.lock().insert(value)
    }

    /// A copy of the stored value of type `T`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.lock().get::<T>().cloned()
    }

    /// Removes and returns the stored value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&self) -> Option<T> {
        self.lock().remove::<T>()
    }

    /// Runs `f` on the stored value of type `T` (such as a counter to
    /// update in place); `None` when there is none.
    pub fn with<T: Send + Sync + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.lock().get_mut::<T>().map(f)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Extensions> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl core::fmt::Debug for ConnectionState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ConnectionState")
            .field("values", &self.lock().len())
            .finish()
    }
}
