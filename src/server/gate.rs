//! The server's caps on connections: in total, and from one peer address.
//! A connection is counted from the moment it is accepted until it ends,
//! its handshake included; one over a cap is refused at its handshake with
//! `RESOURCE_EXHAUSTED` and a reason naming the cap, and the refusal is
//! counted ([`ConnectionRefusals`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prism_core::Status;
use prism_transport::PeerAddr;

/// Most connections a server holds at once unless set otherwise
/// ([`ServerBuilder::max_connections`](super::ServerBuilder::max_connections)).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Most connections a server holds at once from one IP address unless set
/// otherwise
/// ([`ServerBuilder::max_connections_per_peer`](super::ServerBuilder::max_connections_per_peer)).
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: usize = 1_000;

/// How many connections a server refused for being over one of its caps,
/// since it started ([`Server::connection_refusals`](super::Server::connection_refusals)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionRefusals {
    /// Refused because the server held
    /// [`max_connections`](super::ServerBuilder::max_connections).
    pub total: u64,
    /// Refused because the server held
    /// [`max_connections_per_peer`](super::ServerBuilder::max_connections_per_peer)
    /// from the same IP address (an IPv6 peer: its /64).
    pub per_peer: u64,
}

/// Counts connections against the caps.
#[derive(Debug)]
pub(crate) struct Gate {
    max_total: usize,
    max_per_peer: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    total: usize,
    /// Connections per IP address; only addresses with at least one.
    per_peer: HashMap<IpAddr, usize>,
    refusals: ConnectionRefusals,
}

/// One counted connection: uncounted when dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    ip: Option<IpAddr>,
}

impl Gate {
    pub(crate) fn new(max_total: usize, max_per_peer: usize) -> Gate {
        Gate {
            max_total: max_total.max(1),
            max_per_peer: max_per_peer.max(1),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a connection from `peer`, or says why it is over a cap.
    /// Only socket peers count per address: a Unix or in-memory peer has
    /// none to count by.
    pub(crate) fn enter(self: &Arc<Self>, peer: &PeerAddr) -> Result<Ticket, Status> {
        let ip = match peer {
            PeerAddr::Socket(addr) => Some(canonical(addr.ip())),
            _ => None,
        };
        let mut state = self.state();
        if state.total >= self.max_total {
            state.refusals.total += 1;
            return Err(Status::resource_exhausted(format!(
                "the server holds its limit of {} connections; try again later",
                self.max_total
            )));
        }
        if let Some(ip) = ip {
            let from_peer = state.per_peer.entry(ip).or_default();
            if *from_peer >= self.max_per_peer {
                state.refusals.per_peer += 1;
                return Err(Status::resource_exhausted(format!(
                    "the server holds its limit of {} connections from {ip}",
                    self.max_per_peer
                )));
            }
            *from_peer += 1;
        }
        state.total += 1;
        Ok(Ticket {
            gate: Arc::clone(self),
            ip,
        })
    }

    pub(crate) fn refusals(&self) -> ConnectionRefusals {
        self.state().refusals
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.gate.state();
        state.total -= 1;
        if let Some(ip) = self.ip
            && let Some(count) = state.per_peer.get_mut(&ip)
        {
            *count -= 1;
            if *count == 0 {
                state.per_peer.remove(&ip);
            }
        }
    }
}

/// The address a peer counts as: an IPv4 peer reached over an IPv6 socket
/// as its IPv4 address; an IPv6 peer as its /64, the least a host is
/// usually given (one peer could otherwise take a fresh address per
/// connection).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use prism_core::Code;

    use super::*;

    fn from(addr: &str) -> PeerAddr {
        PeerAddr::Socket(addr.parse::<SocketAddr>().expect("addr"))
    }

    #[test]
    fn caps_count_open_connections_and_refusals() {
        let gate = Arc::new(Gate::new(3, 2));
        let a1 = gate.enter(&from("10.0.0.1:1000")).expect("first");
        let a2 = gate.enter(&from("10.0.0.1:1001")).expect("second");
        // The same host over IPv6-mapped IPv4 is the same peer.
        let refused = gate
            .enter(&from("[::ffff:10.0.0.1]:1002"))
            .expect_err("per peer");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("2 connections from 10.0.0.1"));
        let b = gate.enter(&from("10.0.0.2:1000")).expect("another peer");
        let refused = gate.enter(&PeerAddr::Mem).expect_err("total");
        assert!(refused.message().contains("limit of 3 connections"));
        assert_eq!(
            gate.refusals(),
            ConnectionRefusals {
                total: 1,
                per_peer: 1
            }
        );
        drop(a1);
        let a3 = gate
            .enter(&from("10.0.0.1:1003"))
            .expect("a slot came free");
        drop((a2, a3, b));
        let state = gate.state();
        assert_eq!((state.total, state.per_peer.len()), (0, 0));
    }

    #[test]
    fn an_ipv6_peer_counts_as_its_slash_64() {
        let gate = Arc::new(Gate::new(10, 1));
        let one = gate.enter(&from("[2001:db8::1]:1")).expect("v6");
        let refused = gate
            .enter(&from("[2001:db8::ffff:2]:1"))
            .expect_err("same /64");
        assert!(refused.message().contains("from 2001:db8::"), "{refused}");
        let other = gate.enter(&from("[2001:db8:0:1::1]:1")).expect("next /64");
        drop((one, other));
    }
}
