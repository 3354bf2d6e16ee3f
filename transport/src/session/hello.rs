//! The HELLO: what each side tells the other first, and its limits.
//!
//! The byte format is documented on [`Hello`] and implemented in
//! `hello_codec.rs`.

use bytes::Bytes;

use super::HelloError;
use crate::frame::DEFAULT_MAX_FRAME;

/// The session protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The first four bytes of every HELLO payload.
pub const HELLO_MAGIC: [u8; 4] = *b"PRSM";

/// Most ops a HELLO may list.
pub const MAX_HELLO_OPS: usize = 65_536;
/// Most codecs one op entry may list.
pub const MAX_OP_CODECS: usize = 64;
/// Most extensions a HELLO may carry.
pub const MAX_HELLO_EXTENSIONS: usize = 64;
/// Largest data one extension may carry: 64 KiB.
pub const MAX_EXTENSION_LEN: usize = 64 << 10;
/// Longest HELLO payload: 4 MiB. A HELLO is exempt from
/// [`SessionConfig::max_frame`](super::SessionConfig::max_frame) (the peer
/// cannot know it yet) but not from this bound, so links must accept frames
/// of at least this size.
pub const MAX_HELLO_LEN: usize = 4 << 20;

/// What a side tells its peer first: version, limits, ops and extensions.
///
/// Its payload is a compact little-endian format, fully bounds-checked on
/// decode:
///
/// ```text
/// size       field
///    4       magic b"PRSM"
///    2       protocol version (1)
///    4       max_frame      largest payload the sender accepts
///    4       max_channels   most channels the sender lets its peer open
///    4       op count       (≤ 65 536), then per op:
///      8       op id
///      8       fingerprint
///      2       codec count  (≤ 64), then 2 bytes per codec id
///    2       extension count (≤ 64), then per extension:
///      2       kind
///      4       length       (≤ 64 KiB), then the data
/// ```
///
/// Nothing may follow the last extension. Everything after the version is
/// version-specific, so an unknown version is reported before anything else
/// is read. Limits: ≤ 4 MiB in all ([`MAX_HELLO_LEN`]).
///
/// # Examples
///
/// ```
/// use prism_transport::session::{Hello, OpEntry};
///
/// let hello = Hello::new(vec![OpEntry { op: 7, fingerprint: 42, codecs: vec![1, 2] }]);
/// let bytes = hello.encode();
/// assert_eq!(Hello::decode(&bytes)?, hello);
/// # Ok::<(), prism_transport::session::HelloError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's protocol version.
    pub version: u16,
    /// Largest payload the sender accepts.
    pub max_frame: u32,
    /// Most channels the sender lets its peer have open at once.
    pub max_channels: u32,
    /// The ops the sender serves (or calls), with schema fingerprints.
    pub ops: Vec<OpEntry>,
    /// Extensions, such as credentials.
    pub extensions: Vec<Extension>,
}

/// One op in a HELLO's op table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpEntry {
    /// The op id.
    pub op: u64,
    /// The fingerprint of the op's request, response and error shapes.
    pub fingerprint: u64,
    /// Accepted codec ids, most preferred first.
    pub codecs: Vec<u16>,
}

/// A typed blob in a HELLO, such as credentials. `Debug` shows its length
/// only, never its bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    /// What the data is.
    pub kind: u16,
    /// The data, opaque to the session.
    pub data: Bytes,
}

impl core::fmt::Debug for Extension {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
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
    /// A HELLO of this protocol version with default limits and no
    /// extensions. A session overwrites the limits with its config.
    pub fn new(ops: Vec<OpEntry>) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            max_frame: DEFAULT_MAX_FRAME,
            max_channels: 1024,
            ops,
            extensions: Vec::new(),
        }
    }

    /// Checks the limits that [`Hello::decode`] enforces.
    ///
    /// # Errors
    ///
    /// Fails when a list, an extension or the whole encoding is too long.
    pub fn validate(&self) -> Result<(), HelloError> {
        too_many("ops", self.ops.len(), MAX_HELLO_OPS)?;
        for entry in &self.ops {
            too_many("codecs", entry.codecs.len(), MAX_OP_CODECS)?;
        }
        too_many("extensions", self.extensions.len(), MAX_HELLO_EXTENSIONS)?;
        for ext in &self.extensions {
            if ext.data.len() > MAX_EXTENSION_LEN {
                return Err(HelloError::ExtensionTooLarge {
                    kind: ext.kind,
                    len: ext.data.len() as u64,
                    max: MAX_EXTENSION_LEN as u64,
                });
            }
        }
        let len = self.encoded_len();
        if len > MAX_HELLO_LEN {
            return Err(HelloError::TooLong {
                len,
                max: MAX_HELLO_LEN,
            });
        }
        Ok(())
    }

    /// The length of [`Hello::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let ops: usize = self.ops.iter().map(|e| 18 + 2 * e.codecs.len()).sum();
        let extensions: usize = self.extensions.iter().map(|e| 6 + e.data.len()).sum();
        20 + ops + extensions
    }
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
