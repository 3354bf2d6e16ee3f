//! [`Extensions`]: typed values attached to a connection or a call.

use core::any::{Any, TypeId};
use core::fmt;
use std::collections::HashMap;

/// A map from type to one value of that type, which layers fill and
/// handlers read: the identity an authenticator established for a
/// connection, metadata a layer derived for a call.
///
/// An empty map allocates nothing. `Debug` shows how many values there are,
/// never the values (they may be credentials).
///
/// # Examples
///
/// ```
/// use prism_core::Extensions;
///
/// #[derive(Debug, PartialEq)]
/// struct Tenant(String);
///
/// let mut ext = Extensions::new();
/// assert!(ext.insert(Tenant("acme".into())).is_none());
/// assert_eq!(ext.get::<Tenant>(), Some(&Tenant("acme".into())));
/// assert_eq!(ext.get::<u32>(), None);
/// assert_eq!(format!("{ext:?}"), "Extensions { len: 1 }");
/// ```
#[derive(Default)]
pub struct Extensions {
    // Boxed so an empty map is one pointer wide: every call's context
    // carries one, and most stay empty.
    #[allow(clippy::box_collection)]
    map: Option<Box<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl Extensions {
    /// An empty map.
    pub const fn new() -> Extensions {
        Extensions { map: None }
    }

    /// Stores `value`, returning the value of the same type it replaced.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let previous = self
            .map
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(value))?;
        previous.downcast().ok().map(|boxed| *boxed)
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.as_ref()?.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// The value of type `T`, mutably, if one was stored.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map
            .as_mut()?
            .get_mut(&TypeId::of::<T>())?
            .downcast_mut()
    }

    /// Takes the value of type `T` out, if one was stored.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let boxed = self.map.as_mut()?.remove(&TypeId::of::<T>())?;
        boxed.downcast().ok().map(|boxed| *boxed)
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |map| map.len())
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_by_type() {
        let mut ext = Extensions::new();
        assert!(ext.is_empty());
        assert_eq!(ext.insert(7u32), None);
        assert_eq!(ext.insert(9u32), Some(7));
        assert_eq!(ext.insert("name"), None);
        *ext.get_mut::<u32>().unwrap() += 1;
        assert_eq!(ext.get::<u32>(), Some(&10));
        assert_eq!(ext.len(), 2);
        assert_eq!(ext.remove::<u32>(), Some(10));
        assert_eq!(ext.remove::<u32>(), None);
        assert_eq!(ext.get::<&str>(), Some(&"name"));
    }
}
