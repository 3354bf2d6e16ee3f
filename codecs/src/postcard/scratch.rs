//! Temporary, correctly aligned storage for one value while it is decoded
//! and before it is moved into its container (an `Option`, a map, a `Box`).

use core::mem::MaybeUninit;
use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};

const INLINE: usize = 64;

/// Runs `f` with a pointer to uninitialized storage of `size` bytes aligned
/// to `align`: on the stack when small, on the heap otherwise.
///
/// `f` must leave the storage uninitialized again (moved out or dropped)
/// before it returns: the storage is freed, never dropped.
pub(super) fn with_scratch<R>(size: usize, align: usize, f: impl FnOnce(*mut u8) -> R) -> R {
    if size == 0 {
        // A zero-sized value needs no storage, only an aligned, non-null address.
        return f(core::ptr::without_provenance_mut(align));
    }
    if size <= INLINE && align <= 16 {
        let mut inline = MaybeUninit::<[u128; INLINE / 16]>::uninit();
        return f(inline.as_mut_ptr().cast());
    }
    let Ok(layout) = Layout::from_size_align(size, align) else {
        // Shapes come from real Rust types, whose layouts are always valid.
        handle_alloc_error(Layout::new::<u8>());
    };
    // SAFETY: `size > 0` was checked above, so the layout is non-zero-sized.
    let ptr = unsafe { alloc(layout) };
    if ptr.is_null() {
        handle_alloc_error(layout);
    }
    let guard = Heap { ptr, layout };
    f(guard.ptr)
}

struct Heap {
    ptr: *mut u8,
    layout: Layout,
}

impl Drop for Heap {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc` with this same layout and is freed once.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}
