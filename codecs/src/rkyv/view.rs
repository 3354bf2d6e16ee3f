//! [`Archived<T>`]: a validated archive that owns its payload and reads as
//! `T`'s archived form.

use core::any::type_name;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;

use bytes::Bytes;
use rkyv::bytecheck::CheckBytes;
use rkyv::{Archive, Deserialize};

use super::explain::TracedError;
use super::{Deserializer, Rkyv, TRAILER_LEN, Validator, decode};
use crate::{DecodeError, Limits, Payload, View};

/// A validated rkyv message that owns its [`Payload`] and dereferences to
/// `T`'s archived form (`T::Archived`, what `#[derive(rkyv::Archive)]`
/// generates as `ArchivedT`).
///
/// This is what a handler receives when it takes `Archived<T>` instead of
/// `T`: the message is validated once, when the view is made, and then read
/// in place without decoding or allocating. The view has no lifetime, so it
/// can be stored, sent to another task, and cloned cheaply (the payload is
/// reference-counted).
///
/// `Debug` shows the type and length only: payload bytes never reach logs.
///
/// # Examples
///
/// ```
/// use prism_codecs::{Archived, Limits, Payload};
///
/// #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
/// struct Chunk {
///     offset: u64,
///     data: Vec<u8>,
/// }
///
/// let chunk = Chunk { offset: 4096, data: vec![1, 2, 3] };
/// let payload = Payload::new(prism_codecs::rkyv::to_bytes(&chunk)?);
/// let view = Archived::<Chunk>::new(payload, &Limits::default())?;
/// assert_eq!(view.offset, 4096);
/// assert_eq!(view.data.as_slice(), &[1, 2, 3]);
/// assert_eq!(view.deserialize()?, chunk);
/// assert!(format!("{view:?}").starts_with("Archived { type: "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Archived<T> {
    /// The message as received, for [`Archived::payload`].
    payload: Payload,
    // Invariant: `bytes` passed `decode::access::<T>`: the bytes before the
    // trailer are a valid archive whose root is a `T::Archived`, checked at
    // the address they are at now. Memory behind a `Bytes` is immutable and
    // never moves while a handle to it lives, so the invariant holds for as
    // long as `bytes` does. (This is `payload`'s contiguous buffer; it is
    // kept here so soundness does not depend on how `Payload` caches it.)
    bytes: Bytes,
    // No bound on `T`, so `Archived<T>` can be named anywhere (a handler
    // signature) and a type without rkyv derives is reported where it is
    // viewed, by `View<Rkyv>`'s diagnostic. The view is always `Send` and
    // `Sync`; reading it (`Deref`) requires `T::Archived: Sync`, because
    // clones on several threads read the same bytes.
    _type: PhantomData<fn() -> T>,
}

impl<T> View<Rkyv> for T
where
    T: Archive + 'static,
    T::Archived:
        for<'a> CheckBytes<Validator<'a>> + for<'a> CheckBytes<Validator<'a, TracedError>> + Sync,
{
    type View = Archived<T>;

    fn view(payload: Payload, limits: &Limits) -> Result<Archived<T>, DecodeError> {
        Archived::new(payload, limits)
    }
}

impl<T: Archive> Archived<T> {
    /// Validates `payload` as an rkyv message carrying a `T` and keeps it.
    ///
    /// The same as [`View::view`]; the checks are those of
    /// [`rkyv::access`](super::access).
    ///
    /// # Errors
    ///
    /// Fails when the payload is over [`Limits::max_alloc`], lacks a valid
    /// trailer, or does not validate as a `T::Archived` within
    /// [`Limits::max_depth`]. Never panics.
    pub fn new(payload: Payload, limits: &Limits) -> Result<Self, DecodeError>
    where
        T::Archived:
            for<'a> CheckBytes<Validator<'a>> + for<'a> CheckBytes<Validator<'a, TracedError>>,
    {
        // A reference-count bump; joins the payload's segments if it has
        // several (an archive is read as one slice).
        let bytes = payload.as_bytes().clone();
        decode::access::<T>(&bytes, limits)?;
        Ok(Archived {
            payload,
            bytes,
            _type: PhantomData,
        })
    }
}

impl<T> Archived<T> {
    /// The whole message as received, trailer included.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Gives the message back.
    pub fn into_payload(self) -> Payload {
        self.payload
    }

    /// Deserializes an owned `T` from the view. Validation is not repeated.
    ///
    /// # Errors
    ///
    /// Fails only when a `Deserialize` impl fails (shared pointers of
    /// mismatched types, custom impls); derived impls for std types do not.
    pub fn deserialize(&self) -> Result<T, DecodeError>
    where
        T: Archive,
        T::Archived: Deserialize<T, Deserializer> + Sync,
    {
        decode::deserialize::<T>(self)
    }
}

impl<T> Deref for Archived<T>
where
    T: Archive,
    T::Archived: Sync,
{
    type Target = T::Archived;

    fn deref(&self) -> &T::Archived {
        // The invariant guarantees at least `TRAILER_LEN` bytes.
        let archive = &self.bytes[..self.bytes.len() - TRAILER_LEN];
        // SAFETY: `access_unchecked` needs a valid `T::Archived` at the root
        // position of `archive` (its last `size_of::<T::Archived>()` bytes),
        // every byte reachable from it in bounds, and the buffer alive and
        // unmutated while the reference lives. By the invariant of `bytes`,
        // exactly this slice, at this very address (so alignment holds too),
        // passed `access_with_context` for `T::Archived` in `Archived::new`.
        // `self` owns a handle to the memory, which is immutable and never
        // moves, and the returned reference borrows `self`, so the memory
        // outlives it. Moving or cloning the view moves or copies only the
        // handle, never the bytes; and rkyv's pointers are relative to the
        // archive, not absolute, so nothing inside the archive refers to
        // where the handle lives. The root is recomputed from the slice on
        // every call, so no stored address can go stale. Clones of the view
        // on other threads may read the same bytes at once, which is why
        // this impl requires `T::Archived: Sync`.
        unsafe { rkyv::access_unchecked::<T::Archived>(archive) }
    }
}

impl<T> Clone for Archived<T> {
    fn clone(&self) -> Self {
        Archived {
            payload: self.payload.clone(),
            bytes: self.bytes.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Archived<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Archived")
            .field("type", &type_name::<T>())
            .field("len", &self.payload.len())
            .finish()
    }
}
