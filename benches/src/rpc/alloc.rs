//! A counting global allocator.
//!
//! The `rpc` binary installs [`Counting`] as its `#[global_allocator]`.
//! Counting is off unless a [`Window`] is open, so the other scenarios pay
//! one relaxed load per allocation and nothing else. Both ends of every
//! system run in this process, so a window sees client and server
//! allocations together (and the runtimes' own).

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::alloc::{GlobalAlloc, Layout, System};

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated minus bytes freed while counting.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// The system allocator, counting while a [`Window`] is open.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

impl Counting {
    fn count(size: usize) {
        if ON.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(size as u64, Ordering::Relaxed);
            LIVE.fetch_add(size as i64, Ordering::Relaxed);
        }
    }

    fn uncount(size: usize) {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_sub(size as i64, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters have no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Counting::count(layout.size());
        // SAFETY: forwarded from the caller, who upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Counting::count(layout.size());
        // SAFETY: forwarded from the caller, who upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Counting::uncount(layout.size());
        // SAFETY: forwarded from the caller: `ptr` came from this allocator
        // (that is, from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation counts as one allocation of the new size.
        Counting::uncount(layout.size());
        Counting::count(new_size);
        // SAFETY: forwarded from the caller, who upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What a [`Window`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Allocations (and reallocations).
    pub allocs: u64,
    /// Bytes they asked for.
    pub bytes: u64,
    /// Bytes allocated minus bytes freed (frees of older memory included).
    pub live: i64,
}

/// Counts allocations from [`Window::open`] until [`Window::close`].
///
/// Only one window may be open at a time; the harness runs one scenario at
/// a time, so it never opens two.
#[derive(Debug)]
pub struct Window(());

impl Window {
    /// Resets the counters and starts counting.
    pub fn open() -> Window {
        ALLOCS.store(0, Ordering::Relaxed);
        BYTES.store(0, Ordering::Relaxed);
        LIVE.store(0, Ordering::Relaxed);
        ON.store(true, Ordering::SeqCst);
        Window(())
    }

    /// Stops counting and returns the counts.
    pub fn close(self) -> Counts {
        ON.store(false, Ordering::SeqCst);
        Counts {
            allocs: ALLOCS.load(Ordering::Relaxed),
            bytes: BYTES.load(Ordering::Relaxed),
            live: LIVE.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        ON.store(false, Ordering::SeqCst);
    }
}
