//! The one wall clock every expiry decision reads: [`now`].
//!
//! Tokens, certificates and identities expire at wall-clock times
//! (`SystemTime`), while timers run on tokio's clock. Reading the wall time
//! through tokio's clock keeps the two in step: in a program it is the
//! system's time; in a test that pauses tokio's clock
//! (`tokio::time::pause`, `#[tokio::test(start_paused = true)]`) it stands
//! still with it and moves as far as tokio's clock advances, so a test of
//! expiry, grace and re-authentication runs on simulated time, exactly
//! and at once.

use std::time::{Duration, SystemTime};

/// The wall time as Prism's authentication reads it: the system's time,
/// shifted by how far tokio's clock stands from the monotonic clock (which
/// is nothing unless a test paused tokio's clock). An [`Authenticator`]
/// that sets expiries should read its time here, so tests that pause
/// tokio's clock see its identities expire on simulated time too.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// let now = prism::auth::now();
/// let system = SystemTime::now();
/// let apart = system.duration_since(now).unwrap_or_else(|e| e.duration());
/// assert!(apart < Duration::from_secs(1));
/// ```
///
/// [`Authenticator`]: super::Authenticator
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn now() -> SystemTime {
    // Read in this order, tokio's clock is never ahead of the monotonic
    // one unless paused and advanced: the shift is then zero or a few
    // nanoseconds back.
    let simulated = tokio::time::Instant::now().into_std();
    let monotonic = std::time::Instant::now();
    let system = SystemTime::now();
    match simulated.checked_duration_since(monotonic) {
        Some(ahead) => add(system, ahead),
        None => sub(system, monotonic.duration_since(simulated)),
    }
}

/// The wall time in a browser, where std has no clock: the page's
/// (`Date.now()`).
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn now() -> SystemTime {
    let since = (web_time::SystemTime::now())
        .duration_since(web_time::UNIX_EPOCH)
        .unwrap_or_default();
    add(SystemTime::UNIX_EPOCH, since)
}

fn add(at: SystemTime, by: Duration) -> SystemTime {
    at.checked_add(by).unwrap_or(at)
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn sub(at: SystemTime, by: Duration) -> SystemTime {
    at.checked_sub(by).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_moves_the_wall_time_by_as_much() {
        let before = now();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let after = now();
        let moved = after.duration_since(before).expect("forward");
        // Stood still but for the advance (give or take how the system
        // clock drifts from the monotonic one meanwhile).
        let off = moved.abs_diff(Duration::from_secs(3600));
        assert!(off < Duration::from_millis(100), "{moved:?}");
    }

    #[tokio::test]
    async fn an_unpaused_clock_reads_the_system_time() {
        let system = SystemTime::now();
        let apart = now()
            .duration_since(system)
            .unwrap_or_else(|e| e.duration());
        assert!(apart < Duration::from_millis(100), "{apart:?}");
    }
}
