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
    /// A `setTimeout` is armed only when none would fire by the deadline:
    /// one for a later deadline wakes the task early, and the next poll
    /// arms another, so a deadline that moves often leaves one or two
    /// timeouts outstanding, each freed once it fired.
    #[derive(Debug)]
    pub struct Timer {
        deadline: Instant,
        /// When the last `setTimeout` armed fires.
        armed: Option<Instant>,
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
            let now = now();
            if self.deadline <= now {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            let covered = self.armed.is_some_and(|at| at > now && at <= self.deadline);
            if !covered {
                set_timeout(self.deadline - now, std::sync::Arc::clone(&self.waker));
                self.armed = Some(self.deadline);
            }
            Poll::Pending
        }
    }

    /// Wakes `waker` after `after`; the callback frees itself once called.
    fn set_timeout(after: core::time::Duration, waker: std::sync::Arc<futures_util::task::AtomicWaker>) {
        use wasm_bindgen::JsCast;
        let callback = wasm_bindgen::closure::Closure::once_into_js(move || waker.wake());
        let millis = i32::try_from(after.as_millis().saturating_add(1)).unwrap_or(i32::MAX);
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.unchecked_ref(),
                millis,
            );
        }
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
