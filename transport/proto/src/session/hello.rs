//! The handshake messages: the [`Hello`] each side sends first and the
//! [`Accept`] each side sends once it accepted the other, with the
//! [`VersionRange`] and [`Features`] they negotiate.
//!
//! The byte formats are documented on [`Hello`] and [`Accept`] and
//! implemented in `hello_codec.rs`.

use core::fmt;

use bytes::Bytes;

use super::HelloError;
use crate::frame::DEFAULT_MAX_FRAME;

/// The first four bytes of every HELLO payload.
pub const HELLO_MAGIC: [u8; 4] = *b"PRSM";

/// Most ops a HELLO or an ACCEPT may list.
pub const MAX_HELLO_OPS: usize = 65_536;
/// Most codecs one op entry may list.
pub const MAX_OP_CODECS: usize = 64;
/// Most extensions a HELLO or an ACCEPT may carry.
pub const MAX_HELLO_EXTENSIONS: usize = 64;
/// Largest data one extension may carry: 64 KiB.
pub const MAX_EXTENSION_LEN: usize = 64 << 10;
/// Longest HELLO or ACCEPT payload: 4 MiB. Handshake frames are exempt
/// from [`SessionConfig::max_frame`](super::SessionConfig::max_frame) (the
/// peer may not know it yet) but not from this bound, so links must accept
/// frames of at least this size.
pub const MAX_HELLO_LEN: usize = 4 << 20;

/// The protocol versions a side speaks, both ends included.
///
/// Peers settle on the highest version both speak
/// ([`VersionRange::negotiate`]); with none in common the handshake fails
/// with [`SessionError::VersionMismatch`](super::SessionError::VersionMismatch)
/// on both sides. The version governs what follows the handshake; the
/// layout of HELLO itself never changes (see [`Hello`]).
///
/// # Examples
///
/// ```
/// use prism_proto::session::VersionRange;
///
/// let ours = VersionRange::new(2, 4);
/// assert_eq!(ours.negotiate(VersionRange::new(3, 7)), Some(4));
/// assert_eq!(ours.negotiate(VersionRange::new(5, 7)), None);
/// assert_eq!(ours.to_string(), "2..=4");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// The oldest version spoken.
    pub min: u16,
    /// The newest version spoken.
    pub max: u16,
}

impl VersionRange {
    /// What this build speaks. Version 1 was the first handshake format
    /// (no version range, features or ACCEPT); its HELLO is recognized and
    /// refused with a version mismatch.
    pub const SUPPORTED: VersionRange = VersionRange { min: 2, max: 2 };

    /// The first version whose HELLO carries a range (and this layout):
    /// every HELLO from a build that speaks 2 or later decodes, whatever
    /// range it offers, so a mismatch is found by negotiating, not by
    /// failing to read.
    pub const FIRST_RANGED: u16 = 2;

    /// `min..=max`.
    pub const fn new(min: u16, max: u16) -> VersionRange {
        VersionRange { min, max }
    }

    /// The highest version in both ranges, if any.
    pub fn negotiate(self, peer: VersionRange) -> Option<u16> {
        let version = self.max.min(peer.max);
        (version >= self.min.max(peer.min)).then_some(version)
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..={}", self.min, self.max)
        }
    }
}

/// A set of optional protocol features, as 64 bits.
///
/// Each HELLO offers the features its side supports and names those it
/// requires. A feature is in use only when both sides offered it
/// ([`Features::intersection`]); a side that requires a feature the other
/// does not offer ends the handshake with a clear error
/// ([`SessionError::PeerLacksFeatures`](super::SessionError::PeerLacksFeatures)),
/// instead of meeting an unknown frame later. Bits are assigned as
/// features land; this build defines [`Features::PACKED`],
/// [`Features::REAUTH`], [`Features::DATAGRAM`] and [`Features::METADATA`]. Unknown bits
/// are carried and compared like any other, so two builds agree on what
/// they share.
///
/// # Examples
///
/// ```
/// use prism_proto::session::Features;
///
/// let ours = Features::from_bits(0b0110);
/// let theirs = Features::from_bits(0b0011);
/// assert_eq!(ours.intersection(theirs), Features::from_bits(0b0010));
/// assert_eq!(ours.missing_from(theirs), Features::from_bits(0b0100));
/// assert_eq!(Features::from_bits(0b11111).to_string(), "packed, reauth, datagram, metadata, bit 4");
/// assert_eq!(Features::EMPTY.to_string(), "none");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Features(u64);

impl Features {
    /// No features.
    pub const EMPTY: Features = Features(0);
    /// Bit 0: the side unpacks DATA frames flagged
    /// [`PACKED`](crate::frame::Flags::PACKED), several small messages of
    /// one channel in one frame. Offered by default.
    pub const PACKED: Features = Features(1 << 0);
    /// Bit 1: the side re-authenticates in band with
    /// [`AUTH`](crate::frame::FrameKind::Auth) frames (see
    /// [`Session::reauthenticate`](super::Session::reauthenticate)).
    /// Offered by default.
    pub const REAUTH: Features = Features(1 << 1);
    /// Bit 2: the side takes [`DATAGRAM`](crate::frame::FrameKind::Datagram)
    /// frames, fire-and-forget messages of datagram ops (see
    /// [`Session::send_datagram`](super::Session::send_datagram)). Offered
    /// by default.
    pub const DATAGRAM: Features = Features(1 << 2);
    /// Bit 3: the side takes CALL frames flagged
    /// [`METADATA`](crate::frame::Flags::METADATA), whose payload starts
    /// with the call's [`Metadata`](prism_core::Metadata). Offered by
    /// default.
    pub const METADATA: Features = Features(1 << 3);

    /// A set from its wire bits.
    pub const fn from_bits(bits: u64) -> Features {
        Features(bits)
    }

    /// The wire bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether no feature is in the set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every feature of `other` is in this set.
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// The features in both sets.
    #[must_use]
    pub const fn intersection(self, other: Features) -> Features {
        Features(self.0 & other.0)
    }

    /// The features in both sets together.
    #[must_use]
    pub const fn union(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }

    /// The features of this set that `offered` lacks.
    #[must_use]
    pub const fn missing_from(self, offered: Features) -> Features {
        Features(self.0 & !offered.0)
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for bit in (0..64).filter(|bit| self.0 & (1 << bit) != 0) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            match bit {
                0 => f.write_str("packed")?,
                1 => f.write_str("reauth")?,
                2 => f.write_str("datagram")?,
                3 => f.write_str("metadata")?,
                _ => write!(f, "bit {bit}")?,
            }
        }
        Ok(())
    }
}

/// What a side tells its peer first: the versions and features it speaks,
/// its limits, the ops a client will call, and extensions.
///
/// Its payload is a compact little-endian format, fully bounds-checked on
/// decode:
///
/// ```text
/// size       field
///    4       magic b"PRSM"
///    2       min version    oldest protocol version the sender speaks
///    2       max version    newest
///    8       features       offered, a bit set
///    8       required       features the sender cannot work without
///    4       max_frame      largest payload the sender accepts
///    4       max_channels   most channels the sender lets its peer open
///    8       max_message    largest message, over all its chunks, it accepts
///    4       max_chunk      largest DATA chunk it accepts (≥ 1)
///    4       stream window  DATA bytes its peer may send per channel (≥ 1)
///    4       conn window    DATA bytes its peer may send in all (≥ 1)
///    4       op count       (≤ 65 536), then per op:
///      8       op id
///      8       fingerprint
///      2       codec count  (≤ 64), then 2 bytes per codec id
///    2       extension count (≤ 64), then per extension:
///      2       kind
///      4       length       (≤ 64 KiB), then the data
/// ```
///
/// Nothing may follow the last extension; ≤ 4 MiB in all
/// ([`MAX_HELLO_LEN`]). This layout is the same in every protocol version
/// from 2 on (the message size, chunk and window fields joined it before
/// any release spoke version 2):
/// versions change what follows the handshake, and new capabilities arrive
/// as feature bits or extension kinds, which a side that does not know them
/// carries without acting on them. (A version-1 HELLO, the format before
/// this one, is recognized by its version field and refused as a version
/// mismatch.)
///
/// A client lists the ops it will call (op id, fingerprint, codecs), so a
/// server can refuse a schema mismatch at the handshake; a server lists
/// none here and sends its op table in its [`Accept`], once it accepted the
/// client.
///
/// # Examples
///
/// ```
/// use prism_proto::session::{Hello, OpEntry};
///
/// let hello = Hello::new(vec![OpEntry { op: 7, fingerprint: 42, codecs: vec![1, 2] }]);
/// let bytes = hello.encode();
/// assert_eq!(Hello::decode(&bytes)?, hello);
/// # Ok::<(), prism_proto::session::HelloError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The protocol versions the sender speaks.
    pub versions: VersionRange,
    /// The features the sender offers.
    pub features: Features,
    /// The features the sender requires of its peer.
    pub required: Features,
    /// Largest payload the sender accepts.
    pub max_frame: u32,
    /// Most channels the sender lets its peer have open at once.
    pub max_channels: u32,
    /// Largest message, over all its chunks, the sender accepts.
    pub max_message: u64,
    /// Largest DATA chunk the sender accepts; at least 1.
    pub max_chunk: u32,
    /// DATA bytes the sender's peer may send on one channel before the
    /// sender grants more; at least 1.
    pub stream_window: u32,
    /// DATA bytes the sender's peer may send over all channels before the
    /// sender grants more; at least 1.
    pub connection_window: u32,
    /// The ops a client will call, with schema fingerprints; empty from a
    /// server.
    pub ops: Vec<OpEntry>,
    /// Extensions, such as credentials.
    pub extensions: Vec<Extension>,
}

/// What a side sends once it accepted its peer's [`Hello`]: a server's op
/// table, and extensions (such as what a credential check established).
///
/// ```text
/// size       field
///    4       op count (≤ 65 536), then per op as in HELLO
///    2       extension count (≤ 64), then per extension as in HELLO
/// ```
///
/// # Examples
///
/// ```
/// use prism_proto::session::{Accept, OpEntry};
///
/// let accept = Accept::new(vec![OpEntry { op: 7, fingerprint: 42, codecs: vec![1] }]);
/// assert_eq!(Accept::decode(&accept.encode())?, accept);
/// # Ok::<(), prism_proto::session::HelloError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    /// The ops the sender serves, with schema fingerprints and codecs;
    /// empty from a client.
    pub ops: Vec<OpEntry>,
    /// Extensions.
    pub extensions: Vec<Extension>,
}

/// One op in an op table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpEntry {
    /// The op id.
    pub op: u64,
    /// The fingerprint of the op's request, response and error shapes.
    pub fingerprint: u64,
    /// Accepted codec ids, most preferred first.
    pub codecs: Vec<u16>,
}

/// A typed blob in a HELLO or an ACCEPT, such as credentials. `Debug`
/// shows its length only, never its bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    /// What the data is.
    pub kind: u16,
    /// The data, opaque to the session.
    pub data: Bytes,
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("kind", &self.kind)
            .field("len", &self.data.len())
            .finish()
    }
}

impl Default for Hello {
    /// [`Hello::new`] with no ops.
    fn default() -> Self {
        Hello::new(Vec::new())
    }
}

impl Hello {
    /// A HELLO of this build's versions with default limits, no features
    /// and no extensions. A session overwrites the limits and features with
    /// its config.
    pub fn new(ops: Vec<OpEntry>) -> Hello {
        Hello {
            versions: VersionRange::SUPPORTED,
            features: Features::EMPTY,
            required: Features::EMPTY,
            max_frame: DEFAULT_MAX_FRAME,
            max_channels: 1024,
            max_message: super::config::DEFAULT_MAX_MESSAGE,
            max_chunk: super::config::DEFAULT_MAX_CHUNK,
            stream_window: super::config::DEFAULT_STREAM_WINDOW,
            connection_window: super::config::DEFAULT_CONNECTION_WINDOW,
            ops,
            extensions: Vec::new(),
        }
    }

    /// Checks the limits that [`Hello::decode`] enforces.
    ///
    /// # Errors
    ///
    /// Fails on a version range whose `min` exceeds its `max`, a zero
    /// chunk size or window, or when a list, an extension or the whole
    /// encoding is too long.
    pub fn validate(&self) -> Result<(), HelloError> {
        if self.versions.min > self.versions.max || self.versions.min < VersionRange::FIRST_RANGED {
            return Err(HelloError::BadVersions {
                versions: self.versions,
            });
        }
        self.validate_flow()?;
        validate_tables(&self.ops, &self.extensions, self.encoded_len())
    }

    /// Checks that the chunk size and the windows are at least 1.
    pub(crate) fn validate_flow(&self) -> Result<(), HelloError> {
        for (field, value) in [
            ("max_chunk", self.max_chunk),
            ("stream window", self.stream_window),
            ("connection window", self.connection_window),
        ] {
            if value == 0 {
                return Err(HelloError::ZeroLimit { field });
            }
        }
        Ok(())
    }

    /// The length of [`Hello::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        52 + tables_len(&self.ops, &self.extensions)
    }
}

impl Accept {
    /// An ACCEPT listing `ops`, without extensions.
    pub fn new(ops: Vec<OpEntry>) -> Accept {
        Accept {
            ops,
            extensions: Vec::new(),
        }
    }

    /// Checks the limits that [`Accept::decode`] enforces.
    ///
    /// # Errors
    ///
    /// Fails when a list, an extension or the whole encoding is too long.
    pub fn validate(&self) -> Result<(), HelloError> {
        validate_tables(&self.ops, &self.extensions, self.encoded_len())
    }

    /// The length of [`Accept::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        tables_len(&self.ops, &self.extensions)
    }
}

/// Bytes of the op table and the extension list on the wire.
fn tables_len(ops: &[OpEntry], extensions: &[Extension]) -> usize {
    let ops: usize = ops.iter().map(|e| 18 + 2 * e.codecs.len()).sum();
    let extensions: usize = extensions.iter().map(|e| 6 + e.data.len()).sum();
    4 + ops + 2 + extensions
}

fn validate_tables(
    ops: &[OpEntry],
    extensions: &[Extension],
    len: usize,
) -> Result<(), HelloError> {
    too_many("ops", ops.len(), MAX_HELLO_OPS)?;
    for entry in ops {
        too_many("codecs", entry.codecs.len(), MAX_OP_CODECS)?;
    }
    too_many("extensions", extensions.len(), MAX_HELLO_EXTENSIONS)?;
    for ext in extensions {
        if ext.data.len() > MAX_EXTENSION_LEN {
            return Err(HelloError::ExtensionTooLarge {
                kind: ext.kind,
                len: ext.data.len() as u64,
                max: MAX_EXTENSION_LEN as u64,
            });
        }
    }
    if len > MAX_HELLO_LEN {
        return Err(HelloError::TooLong {
            len,
            max: MAX_HELLO_LEN,
        });
    }
    Ok(())
}

fn too_many(what: &'static str, count: usize, max: usize) -> Result<(), HelloError> {
    if count > max {
        return Err(HelloError::TooMany {
            what,
            count: count as u64,
            max: max as u64,
        });
    }
    Ok(())
}
