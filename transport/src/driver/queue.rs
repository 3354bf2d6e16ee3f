//! Calls and stream opens that wait for a channel: a client whose server
//! already has as many of its channels open as it accepts queues the rest,
//! in order, as HTTP/2 clients do, instead of failing them. Each leaves
//! when a channel frees up, or fails when its deadline passes first.

use crate::rt::Instant;
use std::collections::VecDeque;

/// One queued call or stream open.
#[derive(Debug)]
pub(crate) struct Waiting<T> {
    /// The caller's ticket, by which it cancels.
    pub(crate) ticket: u64,
    /// What to open.
    pub(crate) item: T,
    /// When its deadline passes, counted from when the call was made.
    pub(crate) expires: Option<Instant>,
}

/// First in, first out, with the earliest deadline at hand.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    items: VecDeque<Waiting<T>>,
    /// No item expires before this (a lower bound: cancelled items may
    /// have held it).
    next_expiry: Option<Instant>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            items: VecDeque::new(),
            next_expiry: None,
        }
    }
}

impl<T> Queue<T> {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues `waiting` behind every item already waiting.
    pub(crate) fn push(&mut self, waiting: Waiting<T>) {
        if let Some(at) = waiting.expires {
            self.next_expiry = Some(self.next_expiry.map_or(at, |next| next.min(at)));
        }
        self.items.push_back(waiting);
    }

    /// The item that has waited longest.
    pub(crate) fn pop(&mut self) -> Option<Waiting<T>> {
        let waiting = self.items.pop_front();
        if self.items.is_empty() {
            self.next_expiry = None;
        }
        waiting
    }

    /// Takes out the item of `ticket`, if it is still waiting.
    pub(crate) fn remove(&mut self, ticket: u64) -> Option<Waiting<T>> {
        let at = self.items.iter().position(|w| w.ticket == ticket)?;
        let waiting = self.items.remove(at);
        if self.items.is_empty() {
            self.next_expiry = None;
        }
        waiting
    }

    /// When the earliest deadline of a waiting item may pass.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// Takes out, in order, every item whose deadline passed by `now`.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<Waiting<T>> {
        if self.next_expiry.is_none_or(|at| at > now) {
            return Vec::new();
        }
        let mut expired = Vec::new();
        let mut next = None::<Instant>;
        for waiting in core::mem::take(&mut self.items) {
            match waiting.expires {
                Some(at) if at <= now => expired.push(waiting),
                Some(at) => {
                    next = Some(next.map_or(at, |n| n.min(at)));
                    self.items.push_back(waiting);
                }
                None => self.items.push_back(waiting),
            }
        }
        self.next_expiry = next;
        expired
    }

    /// Takes out every item, in order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Waiting<T>> + '_ {
        self.next_expiry = None;
        self.items.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn waiting(ticket: u64, expires: Option<Instant>) -> Waiting<u64> {
        Waiting {
            ticket,
            item: ticket * 10,
            expires,
        }
    }

    #[test]
    fn items_leave_in_order_and_expired_ones_leave_early() {
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        let mut queue = Queue::default();
        queue.push(waiting(1, None));
        queue.push(waiting(2, at(50)));
        queue.push(waiting(3, at(20)));
        queue.push(waiting(4, at(90)));
        assert_eq!(queue.next_expiry(), at(20));
        assert!(queue.take_expired(t0).is_empty());
        let expired = queue.take_expired(t0 + Duration::from_millis(60));
        let tickets: Vec<u64> = expired.iter().map(|w| w.ticket).collect();
        assert_eq!(tickets, [2, 3]);
        assert_eq!(queue.next_expiry(), at(90));
        assert_eq!(queue.remove(4).map(|w| w.item), Some(40));
        assert!(queue.remove(4).is_none());
        assert_eq!(queue.pop().map(|w| w.ticket), Some(1));
        assert!(queue.is_empty() && queue.next_expiry().is_none());
        // The last item cancelled: no deadline is left to wake for.
        queue.push(waiting(5, at(10)));
        assert!(queue.remove(5).is_some());
        assert_eq!(queue.next_expiry(), None);
    }
}
