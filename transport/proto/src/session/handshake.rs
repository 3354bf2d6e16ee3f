//! The handshake: the peer's HELLO and ACCEPT, and this side's verdict
//! ([`Session::accept`], [`Session::reject`]).
//!
//! Each side sends its HELLO at once. When the peer's HELLO arrives the
//! session checks what the protocol can check by itself (the magic, a
//! common version, the features each side requires) and then asks the
//! application ([`Event::Hello`]): a credential or schema check may take
//! its time, without the session knowing about tokens or schemas. The
//! application answers with an ACCEPT (which carries a server's op table)
//! or a rejection (a GOAWAY with a code and a reason). A side is
//! established once it accepted its peer and its peer accepted it; the
//! handshake timeout bounds the whole exchange.

use web_time::Instant;

use prism_core::{Code, Payload};

use super::flow::SendCredit;
use super::machine::Peer;
use super::state::{Admission, State};
use super::{Accept, Hello, HelloError, Role, Session, SessionError, VersionRange, wire};
use crate::frame::FrameKind;

impl Session {
    /// The peer's HELLO, the first frame it sent.
    pub(crate) fn on_hello(&mut self, payload: Payload) {
        let hello = match Hello::decode(&payload) {
            Ok(hello) => hello,
            Err(HelloError::UnsupportedVersion { version }) => {
                let theirs = VersionRange::new(version, version);
                return self.fail_with(SessionError::VersionMismatch {
                    ours: self.versions,
                    theirs,
                });
            }
            Err(error) => return self.fail_with(SessionError::BadHello(error)),
        };
        let Some(version) = self.versions.negotiate(hello.versions) else {
            return self.fail_with(SessionError::VersionMismatch {
                ours: self.versions,
                theirs: hello.versions,
            });
        };
        let offered = self.config.offered_features();
        let missing = self.config.required_features.missing_from(hello.features);
        if !missing.is_empty() {
            return self.fail_with(SessionError::PeerLacksFeatures { missing });
        }
        let missing = hello.required.missing_from(offered);
        if !missing.is_empty() {
            return self.fail_with(SessionError::LacksFeatures { missing });
        }
        self.conn_credit = SendCredit::new(hello.connection_window);
        if self.role == Role::Client {
            // A client opens the channels: the server's limit bounds them.
            self.channels.set_max_channels(hello.max_channels);
        }
        let chunk = hello
            .max_chunk
            .min(hello.max_frame)
            .min(self.config.advertised_chunk())
            .max(1);
        self.peer = Some(Peer {
            features: offered.intersection(hello.features),
            chunk: chunk as usize,
            hello,
            version,
            accept: None,
        });
        self.enter(State::Authenticating(Admission::default()), None);
    }

    /// The peer's ACCEPT of our HELLO.
    pub(crate) fn on_accept(&mut self, payload: Payload) {
        let State::Authenticating(admission) = self.state else {
            return self.protocol_error(FrameKind::Accept, "accept after the handshake");
        };
        if admission.accepted_by_peer {
            return self.protocol_error(FrameKind::Accept, "second accept");
        }
        let accept = match Accept::decode(&payload) {
            Ok(accept) => accept,
            Err(error) => return self.fail_with(SessionError::BadHello(error)),
        };
        if let Some(peer) = &mut self.peer {
            peer.accept = Some(accept);
        }
        self.admit(Admission {
            accepted_by_peer: true,
            ..admission
        });
    }

    /// Accepts the peer's HELLO after [`Event::Hello`](super::Event::Hello):
    /// sends `accept` (a server's op table, extensions) in an ACCEPT frame.
    /// The session is established once the peer's ACCEPT of our HELLO has
    /// arrived too ([`Event::Established`](super::Event::Established)).
    ///
    /// Returns false, sending nothing, when the session is not waiting for
    /// a verdict (before the peer's HELLO, after a verdict, or closed). If
    /// `accept` breaks the protocol's limits, the session closes with
    /// [`SessionError::OwnHello`].
    pub fn accept(&mut self, now: Instant, accept: Accept) -> bool {
        let _ = now;
        let State::Authenticating(admission) = self.state else {
            return false;
        };
        if admission.accepted_peer {
            return false;
        }
        if let Err(error) = accept.validate() {
            self.fail_with(SessionError::OwnHello(error));
            return true;
        }
        self.transmit.push_back(wire::accept(&accept));
        self.admit(Admission {
            accepted_peer: true,
            ..admission
        });
        true
    }

    /// Refuses the peer after [`Event::Hello`](super::Event::Hello): sends
    /// a GOAWAY with `code` and `reason` (cut to 4 KiB) and closes with
    /// [`SessionError::RejectedPeer`]. The peer's session closes with
    /// [`SessionError::RejectedByPeer`].
    ///
    /// Returns false, sending nothing, when the session is not waiting for
    /// a verdict.
    pub fn reject(&mut self, now: Instant, code: Code, reason: &str) -> bool {
        let _ = now;
        match self.state {
            State::Authenticating(admission) if !admission.accepted_peer => {}
            _ => return false,
        }
        self.fail_with(SessionError::RejectedPeer {
            code,
            reason: wire::truncate(reason, wire::MAX_MESSAGE).to_owned(),
        });
        true
    }

    /// Records a half of the verdict; established once both are in.
    fn admit(&mut self, admission: Admission) {
        if admission.accepted_peer && admission.accepted_by_peer {
            self.enter(State::Established, None);
        } else {
            self.enter(State::Authenticating(admission), None);
        }
    }
}
