//! What the drivers need of a runtime, and nothing more: spawning a task,
//! reading the clock, and a timer to park on.
//!
//! Native targets use tokio (its clock, so a test that pauses it moves
//! every timer of a connection with it). On `wasm32-unknown-unknown`, where
//! tokio has no runtime and std has no clock, the browser's event loop
//! runs tasks (`wasm-bindgen-futures`), [`Instant`] reads
//! `performance.now()` and the timer is a `setTimeout`.

use core::future::Future;
use core::task::{Context, Poll};
use core::time::Duration;

pub use prism_proto::Instant;

/// Whether this build runs in a browser: wasm32 without an OS.
macro_rules! browser {
    ($($item:item)*) => {
        $(#[cfg(all(target_arch = "wasm32", target_os = "unknown"))] $item)*
    };
}

/// Everything else: tokio.
macro_rules! native {
    ($($item:item)*) => {
        $(#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))] $item)*
    };
}

native! {
    /// Runs `future` as a task of its own.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        drop(tokio::spawn(future));
    }

    /// The time now.
    pub fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// A timer that can be moved: wakes its task once its deadline passed.
    #[derive(Debug)]
    pub struct Timer {
        sleep: core::pin::Pin<Box<tokio::time::Sleep>>,
    }

    impl Timer {
        /// A timer due now.
        pub fn new() -> Timer {
            Timer {
                sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            }
        }

        /// Moves the deadline to `at` (nothing happens when it is there
        /// already).
        pub fn reset(&mut self, at: Instant) {
            let at = tokio::time::Instant::from_std(at);
            if self.sleep.deadline() != at {
                self.sleep.as_mut().reset(at);
            }
        }

        /// Ready once the deadline passed; otherwise wakes the task then.
        pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
            self.sleep.as_mut().poll(cx)
        }
    }
}

browser! {
    /// Runs `future` on the browser's event loop.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        wasm_bindgen_futures::spawn_local(future);
    }

    /// The time now.
    pub fn now() -> Instant {
        Instant::now()
    }

    /// A timer that can be moved: wakes its task once its deadline passed.
    ///
    /// A `setTimeout` is armed for the deadline (rounded up to whole
    /// milliseconds, plus one) unless one armed for that deadline or an
    /// earlier one has not fired yet: a timeout for an earlier deadline
    /// wakes the task early, and the next poll arms another. So a deadline
    /// that moves often leaves one or two timeouts outstanding, each freed
    /// once it fired, and a timeout that fires early (a coarse clock, a
    /// deadline beyond `setTimeout`'s range) is followed by another.
    #[derive(Debug)]
    pub struct Timer {
        deadline: Instant,
        /// The deadline the last `setTimeout` was armed for, and whether it
        /// fired.
        armed: Option<(Instant, std::sync::Arc<std::sync::atomic::AtomicBool>)>,
        waker: std::sync::Arc<futures_util::task::AtomicWaker>,
    }

    impl Timer {
        /// A timer due now.
        pub fn new() -> Timer {
            Timer {
                deadline: now(),
                armed: None,
                waker: std::sync::Arc::default(),
            }
        }

        /// Moves the deadline to `at`.
        pub fn reset(&mut self, at: Instant) {
            self.deadline = at;
        }

        /// Ready once the deadline passed; otherwise wakes the task then.
        pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
            use std::sync::atomic::{AtomicBool, Ordering};
            let now = now();
            if self.deadline <= now {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            let covered = (self.armed.as_ref())
                .is_some_and(|(at, fired)| *at <= self.deadline && !fired.load(Ordering::Acquire));
            if !covered {
                let fired = std::sync::Arc::new(AtomicBool::new(false));
                set_timeout(
                    self.deadline - now,
                    std::sync::Arc::clone(&self.waker),
                    std::sync::Arc::clone(&fired),
                );
                self.armed = Some((self.deadline, fired));
            }
            Poll::Pending
        }
    }

    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        /// The global `setTimeout`: a page's or a worker's.
        #[wasm_bindgen(js_name = setTimeout)]
        fn global_set_timeout(handler: &wasm_bindgen::JsValue, millis: i32) -> wasm_bindgen::JsValue;
    }

    /// Wakes `waker` after `after` (or `setTimeout`'s longest, about 24
    /// days), noting that it `fired`; the callback frees itself once called.
    fn set_timeout(
        after: core::time::Duration,
        waker: std::sync::Arc<futures_util::task::AtomicWaker>,
        fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) {
        let callback = wasm_bindgen::closure::Closure::once_into_js(move || {
            fired.store(true, std::sync::atomic::Ordering::Release);
            waker.wake();
        });
        let millis = after.as_micros().div_ceil(1000).saturating_add(1);
        let millis = i32::try_from(millis).unwrap_or(i32::MAX);
        let _ = global_set_timeout(&callback, millis);
    }
}

impl Default for Timer {
    fn default() -> Timer {
        Timer::new()
    }
}

/// A future that is ready at its deadline.
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    timer: Timer,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().timer.poll(cx)
    }
}

/// Ready at `at`.
pub fn sleep_until(at: Instant) -> Sleep {
    let mut timer = Timer::new();
    timer.reset(at);
    Sleep { timer }
}

/// Ready after `duration` (a duration beyond the clock's range: never).
pub fn sleep(duration: Duration) -> Sleep {
    match now().checked_add(duration) {
        Some(at) => sleep_until(at),
        None => sleep_until(far_future()),
    }
}

/// An instant no timer reaches: about thirty years from now.
fn far_future() -> Instant {
    let now = now();
    now.checked_add(Duration::from_secs(86_400 * 365 * 30))
        .unwrap_or(now)
}

/// The deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

/// `future`'s output, unless `at` comes first.
///
/// # Errors
///
/// [`Elapsed`] when the deadline passed first.
pub async fn timeout_at<F: Future>(at: Instant, future: F) -> Result<F::Output, Elapsed> {
    let future = core::pin::pin!(future);
    let sleep = core::pin::pin!(sleep_until(at));
    match futures_util::future::select(future, sleep).await {
        futures_util::future::Either::Left((output, _)) => Ok(output),
        futures_util::future::Either::Right(((), _)) => Err(Elapsed),
    }
}

/// `future`'s output, unless `duration` passes first.
///
/// # Errors
///
/// [`Elapsed`] when the time passed first.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    match now().checked_add(duration) {
        Some(at) => timeout_at(at, future).await,
        None => Ok(future.await),
    }
}
