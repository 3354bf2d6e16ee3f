//! In-band re-authentication: AUTH frames, once both sides offered
//! [`Features::REAUTH`].
//!
//! A server tells its client how long the channel's authentication holds:
//! in its ACCEPT (extension [`LIFETIME_EXTENSION`]) and in every answer to a
//! fresh proof. The client presents a fresh proof before that time is up,
//! without disturbing open calls:
//!
//! | from   | aux                        | payload                          | meaning                         |
//! |--------|----------------------------|----------------------------------|---------------------------------|
//! | client | sequence number 1, 2, …    | a proof (≤ [`MAX_AUTH_PROOF`])   | re-authenticate me              |
//! | server | the sequence it answers    | a [`Lifetime`], or empty (none)  | accepted; the lifetime restarts |
//! | server | 0                          | a [`Lifetime`], or empty (none)  | re-authenticate within that     |
//!
//! A client has at most one proof waiting for its answer; the server
//! answers in order. A proof the server refuses closes the session (a
//! GOAWAY with the code, then nothing): the application decides that, and
//! calls [`Session::close`]. Anything else (an AUTH on a channel, before
//! the handshake, out of sequence, answering no proof, with a malformed
//! lifetime, or without the feature) is a protocol error.

use std::time::Duration;

use web_time::Instant;

use prism_core::Payload;

use super::{Event, Features, MAX_EXTENSION_LEN, ReauthError, Role, Session};
use crate::frame::{FrameHeader, FrameKind};

/// The ACCEPT extension kind carrying a server's [`Lifetime`] for the
/// channel's authentication (absent: it does not expire). Kind 1 is the
/// client's proof in its HELLO.
pub const LIFETIME_EXTENSION: u16 = 2;

/// The largest proof an AUTH frame carries: what a HELLO extension may
/// carry.
pub const MAX_AUTH_PROOF: usize = MAX_EXTENSION_LEN;

/// How long, from when the server says so, a channel's authentication
/// holds: eight little-endian bytes of milliseconds.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use prism_proto::session::Lifetime;
///
/// let lifetime = Lifetime::new(Duration::from_secs(90));
/// assert_eq!(Lifetime::decode(&lifetime.encode()), Ok(lifetime));
/// assert!(Lifetime::decode(&[1, 2, 3]).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lifetime(Duration);

/// A [`Lifetime`] that is not eight bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a session lifetime is 8 bytes, not {len}")]
pub struct LifetimeError {
    /// The length found.
    pub len: usize,
}

impl Lifetime {
    /// A lifetime of `remaining`, in whole milliseconds (rounded down: a
    /// client told too little re-authenticates early, never late).
    pub fn new(remaining: Duration) -> Lifetime {
        let millis = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
        Lifetime(Duration::from_millis(millis))
    }

    /// The time left.
    pub const fn remaining(self) -> Duration {
        self.0
    }

    /// The wire form.
    pub fn encode(self) -> [u8; 8] {
        u64::try_from(self.0.as_millis())
            .unwrap_or(u64::MAX)
            .to_le_bytes()
    }

    /// Reads the wire form.
    ///
    /// # Errors
    ///
    /// When `bytes` is not eight bytes long.
    pub fn decode(bytes: &[u8]) -> Result<Lifetime, LifetimeError> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| LifetimeError { len: bytes.len() })?;
        Ok(Lifetime(Duration::from_millis(u64::from_le_bytes(bytes))))
    }

    /// An AUTH answer's payload: a lifetime, or nothing for none.
    pub(crate) fn decode_optional(bytes: &[u8]) -> Result<Option<Lifetime>, LifetimeError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        Lifetime::decode(bytes).map(Some)
    }

    fn payload(lifetime: Option<Lifetime>) -> Payload {
        match lifetime {
            Some(lifetime) => Payload::from(lifetime.encode().to_vec()),
            None => Payload::default(),
        }
    }
}

/// Where re-authentication stands on this side.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Reauth {
    /// Client: the sequence number of the last proof sent. Server: of the
    /// last proof received.
    seq: u64,
    /// Client: a proof waits for its answer. Server: a proof waits for the
    /// application's verdict.
    pending: bool,
}

impl Session {
    /// Client: presents a fresh proof in band. The answer is
    /// [`Event::Reauthenticated`] with the new lifetime; a refusal closes
    /// the session (the peer's GOAWAY says why). Open calls and streams go
    /// on meanwhile.
    ///
    /// # Errors
    ///
    /// When this is not an established client session, the peer did not
    /// offer [`Features::REAUTH`], a proof already waits for its answer, or
    /// `proof` is larger than [`MAX_AUTH_PROOF`].
    pub fn reauthenticate(&mut self, now: Instant, proof: Payload) -> Result<(), ReauthError> {
        let _ = now;
        if self.is_closed() {
            return Err(ReauthError::Closed);
        }
        if self.role != Role::Client {
            return Err(ReauthError::WrongRole);
        }
        if !self.is_established() {
            return Err(ReauthError::NotEstablished);
        }
        if !self.features().contains(Features::REAUTH) {
            return Err(ReauthError::NotNegotiated);
        }
        if self.reauth.pending {
            return Err(ReauthError::Pending);
        }
        if proof.len() > MAX_AUTH_PROOF {
            return Err(ReauthError::TooLarge {
                len: proof.len(),
                max: MAX_AUTH_PROOF,
            });
        }
        self.reauth.seq += 1;
        self.reauth.pending = true;
        self.transmit
            .push_back(super::wire::auth(self.reauth.seq, proof));
        Ok(())
    }

    /// Server: the proof of the last [`Event::Reauthenticate`] was
    /// accepted; tells the client its new lifetime (`None`: it does not
    /// expire). Does nothing when no proof waits for a verdict.
    pub fn confirm_reauth(&mut self, now: Instant, lifetime: Option<Lifetime>) {
        let _ = now;
        if self.is_closed() || self.role != Role::Server || !self.reauth.pending {
            return;
        }
        self.reauth.pending = false;
        (self.transmit).push_back(super::wire::auth(
            self.reauth.seq,
            Lifetime::payload(lifetime),
        ));
    }

    /// Server: asks the client to re-authenticate within `within` (its
    /// authorization changed, say), raising [`Event::ReauthRequested`]
    /// there. Does nothing unless established with [`Features::REAUTH`].
    pub fn request_reauth(&mut self, now: Instant, within: Option<Lifetime>) {
        let _ = now;
        if self.role != Role::Server
            || !self.is_established()
            || !self.features().contains(Features::REAUTH)
        {
            return;
        }
        (self.transmit).push_back(super::wire::auth(0, Lifetime::payload(within)));
    }

    /// An AUTH frame from the peer, on an established (or draining) session.
    pub(crate) fn on_auth(&mut self, header: FrameHeader, payload: Payload) {
        let kind = FrameKind::Auth;
        if !self.features().contains(Features::REAUTH) {
            return self.protocol_error(kind, "re-authentication was not negotiated");
        }
        if header.channel != 0 {
            return self.protocol_error(kind, "auth on a channel");
        }
        match self.role {
            Role::Server => {
                if self.reauth.pending {
                    return self.protocol_error(kind, "a proof before the last one was answered");
                }
                if Some(header.aux) != self.reauth.seq.checked_add(1) {
                    return self.protocol_error(kind, "a proof out of sequence");
                }
                if payload.len() > MAX_AUTH_PROOF {
                    return self.protocol_error(kind, "a proof larger than the limit");
                }
                self.reauth.seq = header.aux;
                self.reauth.pending = true;
                self.events
                    .push_back(Event::Reauthenticate { proof: payload });
            }
            Role::Client => {
                let Ok(lifetime) = Lifetime::decode_optional(payload.as_bytes()) else {
                    return self.protocol_error(kind, "a malformed lifetime");
                };
                if header.aux == 0 {
                    self.events
                        .push_back(Event::ReauthRequested { within: lifetime });
                } else if self.reauth.pending && header.aux == self.reauth.seq {
                    self.reauth.pending = false;
                    self.events.push_back(Event::Reauthenticated { lifetime });
                } else {
                    self.protocol_error(kind, "an answer to no proof");
                }
            }
        }
    }
}
