//! Byte credits: what this side may still receive ([`RecvWindow`]) and
//! send ([`SendCredit`]) at one level, a channel or the connection.
//!
//! Every DATA frame costs its payload length plus its 32-byte header (an
//! empty END frame too), so no frame is free and a window bounds the
//! number of frames waiting as well as their bytes: a peer cannot queue a
//! million one-byte items in a 1 MiB window. The receiver starts the
//! sender with its announced window and grants bytes back only as the
//! application releases what it consumed, in batches of a quarter window.
//! A sender may start a frame while its credit is positive, so it can
//! overdraw by less than one chunk; the receiver refuses a frame that
//! starts with the window already used up. Hence, at every level:
//!
//! - granted ≤ window + released ≤ window + received (grants never exceed
//!   consumption, and the sender's credit never exceeds the window);
//! - held (received, not yet released) < window + one frame (a chunk and
//!   its header).

/// What a DATA frame costs beyond its payload: its header.
pub(crate) const FRAME_COST: u64 = crate::frame::HEADER_LEN as u64;

/// The cost in credit of a DATA frame with `len` payload bytes.
#[inline]
pub(crate) fn cost(len: usize) -> u64 {
    len as u64 + FRAME_COST
}

/// The receiving side of one window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecvWindow {
    /// The window announced in our HELLO.
    window: u64,
    /// Bytes the peer may send in all, the initial window included.
    granted: u64,
    /// Bytes received in all.
    received: u64,
    /// Received and not released by the application yet.
    held: u64,
    /// Released and not granted back yet (batched).
    unsent: u64,
    /// The most ever held at once.
    peak: u64,
}

/// A DATA frame arrived with no credit left at some level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overrun;

impl RecvWindow {
    pub(crate) fn new(window: u32) -> RecvWindow {
        let window = u64::from(window.max(1));
        RecvWindow {
            window,
            granted: window,
            received: 0,
            held: 0,
            unsent: 0,
            peak: 0,
        }
    }

    /// Takes a frame costing `cost`: refused when the window was used up
    /// before it started.
    pub(crate) fn receive(&mut self, cost: u64) -> Result<(), Overrun> {
        if !self.has_room() {
            return Err(Overrun);
        }
        self.take(cost);
        Ok(())
    }

    /// Whether a frame may start: some of the window is left.
    pub(crate) fn has_room(&self) -> bool {
        self.received < self.granted
    }

    /// Counts a frame that [`has_room`](Self::has_room) let start.
    pub(crate) fn take(&mut self, cost: u64) {
        self.received += cost;
        self.held += cost;
        self.peak = self.peak.max(self.held);
    }

    /// The application consumed `bytes` (capped at what is held). Returns
    /// the bytes to grant back now, once a quarter window has gathered.
    pub(crate) fn release(&mut self, bytes: u64) -> Option<u64> {
        let bytes = bytes.min(self.held);
        self.held -= bytes;
        self.unsent += bytes;
        if self.unsent == 0 || self.unsent < (self.window / 4).max(1) {
            return None;
        }
        let grant = core::mem::take(&mut self.unsent);
        self.granted += grant;
        Some(grant)
    }

    /// The credit the peer holds and has not used.
    pub(crate) fn unused(&self) -> u64 {
        self.granted.saturating_sub(self.received)
    }

    /// Received and not yet released.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// The most ever held at once.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    /// Bytes the peer may send before it must wait (negative once it
    /// overdrew with its last frame).
    #[cfg(test)]
    pub(crate) fn remaining(&self) -> i128 {
        i128::from(self.granted) - i128::from(self.received)
    }
}

/// The sending side of one window: the peer's grants minus what we sent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendCredit {
    /// The window the peer announced: credit never exceeds it.
    window: i64,
    /// May go below zero by less than one frame.
    available: i64,
}

impl SendCredit {
    pub(crate) fn new(window: u32) -> SendCredit {
        let window = i64::from(window.max(1));
        SendCredit {
            window,
            available: window,
        }
    }

    /// Whether a frame may start now.
    #[inline]
    pub(crate) fn has_credit(&self) -> bool {
        self.available > 0
    }

    /// Pays for a frame costing `cost`.
    #[inline]
    pub(crate) fn spend(&mut self, cost: u64) {
        self.available = self
            .available
            .saturating_sub(i64::try_from(cost).unwrap_or(i64::MAX));
    }

    /// Adds the peer's grant; refused when it would lift the credit above
    /// the peer's own window (it granted bytes we never sent).
    pub(crate) fn grant(&mut self, bytes: u64) -> Result<(), Overrun> {
        let bytes = i64::try_from(bytes).map_err(|_| Overrun)?;
        let available = self.available.checked_add(bytes).ok_or(Overrun)?;
        if available > self.window {
            return Err(Overrun);
        }
        self.available = available;
        Ok(())
    }

    /// The credit left (negative after an overdraw).
    #[cfg(test)]
    pub(crate) fn available(&self) -> i64 {
        self.available
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_costs_its_payload_and_its_header() {
        assert_eq!(cost(0), 32);
        assert_eq!(cost(10), 42);
    }

    #[test]
    fn a_frame_may_start_with_any_credit_left_but_not_with_none() {
        let mut window = RecvWindow::new(100);
        assert_eq!(window.receive(99), Ok(()));
        assert_eq!(window.receive(50), Ok(()), "one byte left: may overdraw");
        assert_eq!(window.receive(1), Err(Overrun));
        assert_eq!(window.remaining(), -49);
    }

    #[test]
    fn grants_are_batched_by_quarter_windows_and_never_exceed_consumption() {
        let mut window = RecvWindow::new(100);
        window.receive(60).unwrap();
        assert_eq!(window.release(10), None);
        assert_eq!(window.release(20), Some(30));
        assert_eq!(window.release(1_000), Some(30), "capped at what is held");
        assert_eq!(window.release(1), None);
        assert_eq!(window.held(), 0);
    }

    #[test]
    fn credit_never_exceeds_the_window() {
        let mut credit = SendCredit::new(100);
        credit.spend(150);
        assert!(!credit.has_credit());
        assert_eq!(credit.grant(40), Ok(()));
        assert!(!credit.has_credit(), "still 10 short");
        assert_eq!(credit.grant(60), Ok(()));
        assert!(credit.has_credit());
        assert_eq!(credit.grant(50), Ok(()));
        assert_eq!(credit.available(), 100);
        assert_eq!(credit.grant(1), Err(Overrun));
        assert_eq!(credit.grant(u64::MAX), Err(Overrun));
    }

    /// Random consumption and grants: the sender's credit mirrors the
    /// receiver's window exactly, never runs above the window, and the
    /// receiver holds less than a window plus one chunk.
    #[test]
    fn sender_and_receiver_agree_under_random_traffic() {
        let (window, chunk) = (1_000u32, 64u64);
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut recv = RecvWindow::new(window);
        let mut send = SendCredit::new(window);
        let (mut sent, mut released, mut granted) = (0u64, 0u64, u64::from(window));
        for _ in 0..100_000 {
            if next(2) == 0 && send.has_credit() {
                let frame = next(chunk) + 1;
                send.spend(frame);
                recv.receive(frame)
                    .expect("the receiver takes what credit allowed");
                sent += frame;
            } else {
                let bytes = next(chunk * 2);
                let before = recv.held();
                if let Some(grant) = recv.release(bytes) {
                    send.grant(grant).expect("grants fit the window");
                    granted += grant;
                }
                released += before - recv.held();
            }
            assert!(granted <= u64::from(window) + released);
            assert!(recv.held() < u64::from(window) + chunk);
            assert_eq!(recv.remaining(), i128::from(send.available()));
        }
        assert!(sent > 100_000, "traffic flowed: {sent}");
    }
}
