//! Operation identity: the stable 64-bit [`OpId`] and the call shape [`OpKind`].

use core::fmt;

use crate::hash::Fnv1a64;

/// A stable 64-bit operation id: FNV-1a 64 of the fully qualified name
/// `package.Service/method` (or `Service/method` when there is no package).
///
/// The id is what travels in a channel-open frame; the transport treats it as
/// an opaque integer. Two ops with one id inside a server are a registration
/// error (see [`OpTable`](crate::OpTable)), never silent.
///
/// # Examples
///
/// ```
/// use prism_reflect::OpId;
///
/// const ADD: OpId = OpId::from_name("demo", "Calc", "add");
/// assert_eq!(ADD, OpId::new(0x260a_f54a_8c66_338d));
/// assert_eq!(ADD.to_string(), "0x260af54a8c66338d");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(u64);

impl OpId {
    /// Wraps a raw op id, e.g. one read from a frame header.
    pub const fn new(raw: u64) -> Self {
        OpId(raw)
    }

    /// Computes the id of `package.service/method`; an empty `package`
    /// gives `service/method`. Usable in `const` items.
    pub const fn from_name(package: &str, service: &str, method: &str) -> Self {
        let mut h = Fnv1a64::new();
        if !package.is_empty() {
            h = h.write(package.as_bytes()).write(b".");
        }
        h = h.write(service.as_bytes()).write(b"/");
        OpId(h.write(method.as_bytes()).finish())
    }

    /// The raw id as it travels on the wire.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({:#018x})", self.0)
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

/// How many messages flow each way in one call.
///
/// # Examples
///
/// ```
/// use prism_reflect::OpKind;
///
/// assert_eq!(OpKind::ServerStream.as_str(), "server_stream");
/// assert!(OpKind::Bidi.client_streams() && OpKind::Bidi.server_streams());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStream,
    /// A stream of requests, one response.
    ClientStream,
    /// Streams both ways.
    Bidi,
    /// One request and nothing back: fire-and-forget, sent as an
    /// unreliable datagram where the link has them (QUIC), with no channel
    /// and no answer (`#[prism(datagram)]`).
    Datagram,
}

impl OpKind {
    /// The snake-case name used in manifests and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            OpKind::Unary => "unary",
            OpKind::ServerStream => "server_stream",
            OpKind::ClientStream => "client_stream",
            OpKind::Bidi => "bidi",
            OpKind::Datagram => "datagram",
        }
    }

    /// Whether the client sends a stream of requests.
    pub const fn client_streams(self) -> bool {
        matches!(self, OpKind::ClientStream | OpKind::Bidi)
    }

    /// Whether the server sends a stream of responses.
    pub const fn server_streams(self) -> bool {
        matches!(self, OpKind::ServerStream | OpKind::Bidi)
    }

    /// A stable tag byte for canonical forms (never reorder these).
    pub(crate) const fn tag(self) -> u8 {
        match self {
            OpKind::Unary => 0,
            OpKind::ServerStream => 1,
            OpKind::ClientStream => 2,
            OpKind::Bidi => 3,
            OpKind::Datagram => 4,
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fnv1a_64;

    // Golden values: changing any of these changes every deployed op id.
    #[test]
    fn golden_op_ids() {
        assert_eq!(
            OpId::from_name("demo", "Calc", "add").get(),
            0x260af54a8c66338d
        );
        assert_eq!(OpId::from_name("", "Calc", "add").get(), 0xc849cb67335608b8);
        assert_eq!(
            OpId::from_name("prism.echo", "Echo", "ping").get(),
            0x52c46601bed8c3d1
        );
    }

    #[test]
    fn id_is_hash_of_full_name() {
        let id = OpId::from_name("a.b", "Svc", "m");
        assert_eq!(id.get(), fnv1a_64(b"a.b.Svc/m"));
    }

    #[test]
    fn usable_in_const() {
        const ID: OpId = OpId::from_name("demo", "Calc", "add");
        const RAW: u64 = ID.get();
        assert_eq!(OpId::new(RAW), ID);
    }

    #[test]
    fn formatting() {
        let id = OpId::new(0xab);
        assert_eq!(id.to_string(), "0x00000000000000ab");
        assert_eq!(format!("{id:?}"), "OpId(0x00000000000000ab)");
        assert_eq!(OpKind::ClientStream.to_string(), "client_stream");
    }
}
