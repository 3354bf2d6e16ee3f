//! The channel table: open channels, id allocation and deadline timers.
//!
//! Per channel the session keeps one small map entry: its deadline, the
//! state of each direction, and (boxed, made on first use, so unary calls
//! stay small) the stream state of [`StreamState`].
//! Deadlines live in a binary heap with lazy deletion: finishing a channel
//! only removes its map entry; a heap entry is live while the map still
//! holds its channel with that same deadline (ids are never reused, so a
//! stale entry cannot be mistaken for a live one). Stale entries are popped
//! as soon as they reach the top, so the top is always live and
//! [`Channels::next_deadline`] is exact and O(1); the heap is compacted
//! when stale entries outnumber live ones. In steady state no call
//! allocates beyond its map slot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::int_map::IntMap;
use web_time::Instant;

use super::flow::{RecvWindow, SendCredit};
use super::gaps::Gaps;
use super::outbox::Outbox;
use super::{ChannelId, Priority, Role};

/// Capacity reserved up front for the map and the heap.
const INITIAL_CAPACITY: usize = 64;

/// Heaps smaller than this are never compacted.
const COMPACT_FLOOR: usize = 256;

/// What the session remembers about one open channel.
#[derive(Debug)]
pub(crate) struct Channel {
    deadline: Option<Instant>,
    /// Our receiving direction.
    pub(crate) recv: Recv,
    /// Our sending direction.
    pub(crate) send: Send,
    /// Windows, credit and pending output, once the channel carries DATA.
    pub(crate) stream: Option<Box<StreamState>>,
    /// Which round robin its chunks wait in.
    pub(crate) priority: Priority,
}

/// Our receiving direction of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recv {
    /// The peer may send messages.
    Open,
    /// Never opened (a whole request in its CALL) or ended by the peer's
    /// END: DATA is a protocol error.
    Closed,
    /// We asked the peer to stop sending: DATA in flight is discarded.
    Stopped,
}

/// Our sending direction of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Send {
    /// We may send messages.
    Open,
    /// Its end is queued behind pending output.
    Ending,
    /// Ended, or never opened.
    Closed,
    /// The peer asked us to stop, with this code.
    Stopped(prism_core::Code),
}

/// A channel's flow control and pending output.
#[derive(Debug)]
pub(crate) struct StreamState {
    /// What the peer may still send us on this channel.
    pub(crate) window: RecvWindow,
    /// The message being received in chunks: its total and bytes so far.
    pub(crate) assembling: Option<(u64, u64)>,
    /// What we may still send on this channel.
    pub(crate) credit: SendCredit,
    pub(crate) outbox: Outbox,
    /// `send` said the channel was full: raise `Writable` when it drains.
    pub(crate) wants_writable: bool,
    /// Queued in the scheduler's round robin.
    pub(crate) ready: bool,
    /// The callee's OPEN went out (a callee's channel) or arrived (a
    /// caller's): at most one per channel.
    pub(crate) opened: bool,
}

impl StreamState {
    /// Fresh state: our window `recv`, the peer's window `send`.
    pub(crate) fn new(recv: u32, send: u32) -> StreamState {
        StreamState {
            window: RecvWindow::new(recv),
            assembling: None,
            credit: SendCredit::new(send),
            outbox: Outbox::default(),
            wants_writable: false,
            ready: false,
            opened: false,
        }
    }
}

/// Open channels of both directions, and the ids each side has used.
#[derive(Debug)]
pub(crate) struct Channels {
    role: Role,
    map: IntMap<u32, Channel>,
    deadlines: BinaryHeap<Reverse<(Instant, u32)>>,
    /// Heap entries whose channel is still open with that deadline.
    live_deadlines: usize,
    /// The next id this side opens; `None` once ids are exhausted.
    next_local: Option<u32>,
    /// The highest id this side opened; 0 for none.
    last_local: u32,
    /// The highest id the peer opened; 0 for none.
    last_peer: u32,
    /// Whether the peer's channel opens arrive in the order it made them;
    /// see [`SessionConfig::ordered_opens`](super::SessionConfig::ordered_opens).
    ordered_opens: bool,
    /// With unordered opens: the peer's ids below `last_peer` that have
    /// not arrived yet (calls still on their way), at most [`max_gaps`].
    ///
    /// [`max_gaps`]: Channels::max_gaps
    gaps: Gaps,
    local_open: usize,
    peer_open: usize,
    /// Bytes of DATA the peer may still send on channels that finished
    /// here (the credit it held when each finished, and one frame more:
    /// a frame may start while any credit is left), discarded on arrival;
    /// see [`Channels::take_discard`].
    discard_allowance: u64,
    /// The credit a channel starts with (our stream window).
    stream_window: u64,
    /// The most one frame may overdraw a window: a largest chunk's cost.
    overdraw: u64,
    /// The most channels open at once (the limit of whichever side opens
    /// them): a full table of windows is in flight at most...
    max_channels: u64,
    /// ...and so is our connection window (and a frame): the allowance is
    /// kept within the larger of the two.
    connection_window: u64,
}

impl Channels {
    #[cfg(test)]
    pub(crate) fn new(role: Role) -> Self {
        Self::with_windows(role, 1, 1, 1, 1)
    }

    /// A table whose channels start with `stream_window` of credit, whose
    /// frames are at most `max_chunk` long, of at most `max_channels` at
    /// once (for a client, set again from the server's HELLO), on a
    /// connection whose window is `connection_window`.
    pub(crate) fn with_windows(
        role: Role,
        stream_window: u32,
        max_chunk: u32,
        max_channels: u32,
        connection_window: u32,
    ) -> Self {
        Channels {
            discard_allowance: 0,
            stream_window: u64::from(stream_window.max(1)),
            overdraw: super::flow::cost(max_chunk as usize),
            max_channels: u64::from(max_channels.max(1)),
            connection_window: u64::from(connection_window.max(1)),
            role,
            map: IntMap::with_capacity_and_hasher(INITIAL_CAPACITY, Default::default()),
            deadlines: BinaryHeap::with_capacity(INITIAL_CAPACITY),
            live_deadlines: 0,
            next_local: Some(role.first_channel()),
            last_local: 0,
            last_peer: 0,
            ordered_opens: true,
            gaps: Gaps::default(),
            local_open: 0,
            peer_open: 0,
        }
    }

    /// The most channels open at once: for a client, the server's limit.
    pub(crate) fn set_max_channels(&mut self, max_channels: u32) {
        self.max_channels = u64::from(max_channels.max(1));
    }

    /// Whether this side opened (or would open) `id`.
    pub(crate) fn is_local(&self, id: u32) -> bool {
        self.role.opens(id)
    }

    /// Whether the peer opened (or would open) `id`.
    pub(crate) fn is_peer(&self, id: u32) -> bool {
        self.role.peer().opens(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn local_open(&self) -> usize {
        self.local_open
    }

    pub(crate) fn peer_open(&self) -> usize {
        self.peer_open
    }

    pub(crate) fn last_local(&self) -> u32 {
        self.last_local
    }

    pub(crate) fn last_peer(&self) -> u32 {
        self.last_peer
    }

    /// Opens the next local channel; `None` once ids are exhausted.
    pub(crate) fn open_local(
        &mut self,
        deadline: Option<Instant>,
        send: Send,
    ) -> Option<ChannelId> {
        let id = self.next_local?;
        self.next_local = id.checked_add(2);
        self.last_local = id;
        self.local_open += 1;
        self.insert(id, deadline, Recv::Open, send);
        Some(ChannelId(id))
    }

    /// The open channel `id`.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Channel> {
        self.map.get_mut(&id)
    }

    /// The stream state of open channel `id`, made on first use with
    /// our window `recv` and the peer's window `send`.
    pub(crate) fn stream(&mut self, id: u32, recv: u32, send: u32) -> Option<&mut StreamState> {
        let ch = self.map.get_mut(&id)?;
        Some(
            ch.stream
                .get_or_insert_with(|| Box::new(StreamState::new(recv, send))),
        )
    }

    /// The open channel `id`.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&Channel> {
        self.map.get(&id)
    }

    /// Whether `id` was opened at some point (by either side), open or not.
    pub(crate) fn was_opened(&self, id: u32) -> bool {
        if self.is_local(id) {
            id <= self.last_local
        } else {
            self.is_peer(id) && id <= self.last_peer
        }
    }

    /// Accepts the peer's channel opens in any order (a link that carries
    /// each channel on a stream of its own).
    pub(crate) fn set_unordered_opens(&mut self) {
        self.ordered_opens = false;
    }

    /// Records that the peer used `id` to open a channel, without opening
    /// it: the id must have the peer's parity and exceed every earlier one.
    ///
    /// With unordered opens, an id below the highest so far must be one
    /// that has not arrived yet (never one used before); an id above it
    /// may skip at most [`Channels::max_gaps`] ids, which are then
    /// expected. Only the latest that many expected ids are remembered.
    pub(crate) fn note_peer_id(&mut self, id: u32) -> Result<(), &'static str> {
        if !self.is_peer(id) {
            return Err("channel id has the wrong parity for its sender");
        }
        if id <= self.last_peer {
            if self.ordered_opens {
                return Err("channel id does not increase");
            }
            if !self.gaps.arrive(id) {
                return Err("channel id was used before");
            }
            return Ok(());
        }
        if !self.ordered_opens {
            let first = match self.last_peer {
                0 => self.role.peer().first_channel(),
                last => last + 2,
            };
            let skipped = (id - first) / 2;
            if skipped as usize > self.max_gaps() {
                return Err("channel id skips too far ahead");
            }
            self.gaps.skip(first, id, self.max_gaps());
        }
        self.last_peer = id;
        Ok(())
    }

    /// How many of the peer's calls may be on their way at once with
    /// unordered opens: four times the channels it may hold open (a QUIC
    /// link allows twice as many streams, opened in channel order), at
    /// least 64.
    fn max_gaps(&self) -> usize {
        usize::try_from(self.max_channels.saturating_mul(4))
            .unwrap_or(usize::MAX)
            .max(64)
    }

    /// Whether some of the peer's calls, with ids below its highest, have
    /// not arrived yet.
    pub(crate) fn awaits_calls(&self) -> bool {
        !self.gaps.is_empty()
    }

    /// Whether the peer's opens may arrive out of order.
    pub(crate) fn unordered_opens(&self) -> bool {
        !self.ordered_opens
    }

    /// Opens a channel the peer asked for; its id passed [`Channels::note_peer_id`].
    pub(crate) fn open_peer(&mut self, id: u32, deadline: Option<Instant>, recv: Recv) {
        self.peer_open += 1;
        self.insert(id, deadline, recv, Send::Open);
    }

    fn insert(&mut self, id: u32, deadline: Option<Instant>, recv: Recv, send: Send) {
        let channel = Channel {
            deadline,
            recv,
            send,
            stream: None,
            priority: Priority::DEFAULT,
        };
        self.map.insert(id, channel);
        if let Some(at) = deadline {
            self.deadlines.push(Reverse((at, id)));
            self.live_deadlines += 1;
        }
    }

    /// Forgets a channel; false if it was not open. The credit the peer
    /// still holds on it joins the discard allowance.
    pub(crate) fn remove(&mut self, id: u32) -> bool {
        let Some(channel) = self.map.remove(&id) else {
            return false;
        };
        let credit = match (channel.recv, &channel.stream) {
            (Recv::Closed, _) => 0,
            (Recv::Open | Recv::Stopped, None) => self.stream_window,
            (Recv::Open | Recv::Stopped, Some(stream)) => stream.window.unused(),
        };
        self.allow_discard(credit);
        if self.is_local(id) {
            self.local_open -= 1;
        } else {
            self.peer_open -= 1;
        }
        if channel.deadline.is_some() {
            self.live_deadlines -= 1;
            self.prune();
        }
        true
    }

    /// A stream open of the peer's, refused: the window it holds on the
    /// channel joins the discard allowance (its DATA may be on the way).
    pub(crate) fn refuse_open(&mut self) {
        self.allow_discard(self.stream_window);
    }

    /// Adds `credit` the peer held on a channel that is gone (and the one
    /// frame that may overdraw it) to the discard allowance, which stays
    /// within what may be in flight at once: a full table of windows, or
    /// the connection's window and a frame, whichever is larger (channels
    /// that finished and were opened again while their data travelled
    /// may hold more than one table, never more than the connection's
    /// credit).
    fn allow_discard(&mut self, credit: u64) {
        if credit > 0 {
            let table = (self.stream_window + self.overdraw).saturating_mul(self.max_channels);
            let most = table.max(self.connection_window + self.overdraw);
            let allowance = self
                .discard_allowance
                .saturating_add(credit + self.overdraw);
            self.discard_allowance = allowance.min(most);
        }
    }

    /// Takes a DATA frame costing `cost` for a channel that finished here,
    /// to be discarded: false when the peer had no credit left on such
    /// channels (as with a window, a frame may start while some is left).
    pub(crate) fn take_discard(&mut self, cost: u64) -> bool {
        if self.discard_allowance == 0 {
            return false;
        }
        self.discard_allowance = self.discard_allowance.saturating_sub(cost);
        true
    }

    /// The earliest deadline of an open channel.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns one channel whose deadline is at or before
    /// `now`, with its sending direction's state.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(ChannelId, Send)> {
        let &Reverse((at, id)) = self.deadlines.peek()?;
        if at > now {
            return None;
        }
        let send = self.map.get(&id).map_or(Send::Closed, |ch| ch.send);
        self.remove(id);
        Some((ChannelId(id), send))
    }

    /// Forgets every channel, returning their ids, with their sending
    /// directions' states, in ascending order.
    pub(crate) fn drain(&mut self) -> Vec<(u32, Send)> {
        let mut ids: Vec<(u32, Send)> = self.map.iter().map(|(&id, ch)| (id, ch.send)).collect();
        ids.sort_unstable_by_key(|&(id, _)| id);
        self.map.clear();
        self.deadlines.clear();
        self.live_deadlines = 0;
        self.local_open = 0;
        self.peer_open = 0;
        ids
    }

    /// Forgets this side's channels with ids above `last`, returning them in
    /// ascending order.
    pub(crate) fn drain_local_above(&mut self, last: u32) -> Vec<u32> {
        let mut ids: Vec<u32> = (self.map.keys().copied())
            .filter(|&id| id > last && self.role.opens(id))
            .collect();
        ids.sort_unstable();
        for &id in &ids {
            self.remove(id);
        }
        ids
    }

    /// Pops stale entries off the top, and compacts when stale entries
    /// outnumber live ones.
    fn prune(&mut self) {
        let Channels { map, deadlines, .. } = self;
        let live = |&Reverse((at, id)): &Reverse<(Instant, u32)>| {
            map.get(&id).is_some_and(|c| c.deadline == Some(at))
        };
        while deadlines.peek().is_some_and(|top| !live(top)) {
            deadlines.pop();
        }
        if deadlines.len() > COMPACT_FLOOR && deadlines.len() > 2 * self.live_deadlines {
            deadlines.retain(live);
        }
    }

    /// Moves local id allocation to `id`, to test exhaustion.
    #[cfg(test)]
    pub(crate) fn skip_local_to(&mut self, id: u32) {
        self.next_local = Some(id);
    }

    /// How many heap entries there are, live and stale.
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.deadlines.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_follow_parity_and_never_wrap() {
        let mut client = Channels::new(Role::Client);
        assert_eq!(client.open_local(None, Send::Closed), Some(ChannelId(1)));
        assert_eq!(client.open_local(None, Send::Closed), Some(ChannelId(3)));
        client.skip_local_to(u32::MAX);
        assert_eq!(
            client.open_local(None, Send::Closed),
            Some(ChannelId(u32::MAX))
        );
        assert_eq!(client.open_local(None, Send::Closed), None);
        let mut server = Channels::new(Role::Server);
        server.skip_local_to(u32::MAX - 1);
        assert!(server.open_local(None, Send::Closed).is_some());
        assert_eq!(server.open_local(None, Send::Closed), None);
    }

    #[test]
    fn peer_ids_must_increase_with_the_peer_parity() {
        let mut server = Channels::new(Role::Server);
        assert!(server.note_peer_id(2).is_err());
        assert!(server.note_peer_id(0).is_err());
        assert!(server.note_peer_id(5).is_ok());
        assert!(server.note_peer_id(5).is_err());
        assert!(server.note_peer_id(3).is_err());
        assert!(server.note_peer_id(7).is_ok());
        assert_eq!(server.last_peer(), 7);
    }

    #[test]
    fn unordered_opens_take_each_skipped_id_once() {
        let mut server = Channels::new(Role::Server);
        server.set_unordered_opens();
        assert!(server.note_peer_id(7).is_ok());
        assert!(server.awaits_calls(), "1, 3 and 5 are on their way");
        assert!(
            server.note_peer_id(3).is_ok(),
            "a call that travelled slower"
        );
        assert!(server.note_peer_id(3).is_err(), "3 arrived already");
        assert!(server.note_peer_id(7).is_err(), "7 arrived already");
        assert!(server.note_peer_id(4).is_err(), "parity still holds");
        assert!(server.note_peer_id(1).is_ok());
        assert!(server.note_peer_id(5).is_ok());
        assert!(!server.awaits_calls());
        assert_eq!(server.last_peer(), 7);
        // A jump past what may be on its way is refused; the latest
        // expected ids are the ones remembered.
        let far = 9 + 2 * (server.max_gaps() as u32 + 1);
        assert!(server.note_peer_id(far).is_err());
        assert!(server.note_peer_id(9 + 2 * 64).is_ok());
        assert!(server.note_peer_id(9).is_ok());
        assert!(server.note_peer_id(9 + 2 * 63).is_ok());
    }

    #[test]
    fn stale_deadlines_never_surface_and_get_compacted() {
        let t0 = Instant::now();
        let mut table = Channels::new(Role::Client);
        let keep = table.open_local(Some(t0 + Duration::from_secs(100)), Send::Closed);
        for i in 0..10_000u64 {
            let id = table.open_local(Some(t0 + Duration::from_millis(i)), Send::Closed);
            assert_eq!(table.next_deadline(), Some(t0 + Duration::from_millis(i)));
            assert!(id.is_some_and(|id| table.remove(id.get())));
        }
        assert_eq!(table.next_deadline(), Some(t0 + Duration::from_secs(100)));
        assert!(table.heap_len() <= 2, "heap holds {}", table.heap_len());
        // Stale entries below a live top are compacted away too.
        let early = table.open_local(Some(t0), Send::Closed);
        for _ in 0..10_000 {
            let id = table.open_local(Some(t0 + Duration::from_secs(200)), Send::Closed);
            assert!(id.is_some_and(|id| table.remove(id.get())));
        }
        assert!(
            table.heap_len() <= COMPACT_FLOOR + 1,
            "heap holds {}",
            table.heap_len()
        );
        let expired = |table: &mut Channels, at| table.pop_expired(at).map(|(id, _)| id);
        assert_eq!(expired(&mut table, t0), early);
        assert_eq!(expired(&mut table, t0), None);
        assert_eq!(expired(&mut table, t0 + Duration::from_secs(100)), keep);
        assert!(table.is_empty() && table.local_open() == 0);
    }
}
