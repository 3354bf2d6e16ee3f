//! [`Metadata`]: key–value pairs a caller sends beside a call's request
//! (gRPC's custom metadata, tonic's `MetadataMap`), and their wire form.
//!
//! Metadata is for what describes a call rather than being its request: a
//! request id, a trace context, a tenant hint, a client version. It is
//! **not** for credentials: a Prism channel authenticates once, at its
//! handshake, and calls carry no tokens. An entry that looks like one (a
//! credential's usual key, an HTTP authorization value, a JWT, a
//! well-known token format) is refused where it is made
//! ([`Metadata::insert`]) and again where it arrives
//! ([`Metadata::decode`]). The check is a best effort against mistakes,
//! not a filter for secrets in general: a secret in no known form passes.
//! Both ends apply the same rule, so it is part of the wire protocol and
//! changes only with the protocol version.

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// Longest encoded metadata block of one call, in bytes (gRPC's default
/// header list limit).
pub const MAX_METADATA_LEN: usize = 8 << 10;

/// Most entries one call carries.
pub const MAX_METADATA_ENTRIES: usize = 64;

/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// The block's fixed header: its length (u32) and entry count (u16), then
/// two zero bytes.
const BLOCK_HEADER: usize = 8;

/// Blocks are padded to this, so a request after one keeps the 16-byte
/// alignment zero-copy codecs need.
const BLOCK_ALIGN: usize = 16;

/// Keys that name a credential, refused whatever their value. A key is
/// compared after `_` and `.` become `-` and a leading `x-` is dropped,
/// whole or by its last words (`client-secret`, `x-goog-api-key`); one
/// that merely ends in `token` (`next-page-token`) is not refused.
const CREDENTIAL_KEYS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "api-key",
    "apikey",
    "auth-token",
    "access-token",
    "id-token",
    "refresh-token",
    "session-token",
    "security-token",
    "csrf-token",
    "token",
    "bearer",
    "jwt",
    "password",
    "passwd",
    "secret",
    "private-key",
];

/// How well-known credentials start, whatever their key: GitHub, Slack
/// and Stripe tokens, AWS access key ids, Google OAuth access tokens,
/// PASETO tokens.
const CREDENTIAL_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "sk_live_",
    "rk_live_",
    "AKIA",
    "ASIA",
    "ya29.",
    "v2.local.",
    "v2.public.",
    "v4.local.",
    "v4.public.",
];

/// A call's metadata: keys of lowercase ASCII letters, digits, `-`, `_` and
/// `.` (at most [`MAX_KEY_LEN`] bytes), each with one value of any bytes;
/// at most [`MAX_METADATA_ENTRIES`] entries and [`MAX_METADATA_LEN`] bytes
/// encoded. Entries keep the order they were inserted in.
///
/// An empty map allocates nothing and costs a call nothing on the wire.
/// `Debug` shows keys and value lengths, never values.
///
/// # Examples
///
/// ```
/// use prism_core::{Metadata, MetadataError};
///
/// let mut metadata = Metadata::new();
/// metadata.insert("request-id", "7f3a")?;
/// metadata.insert("client-version", "2.1.0")?;
/// assert_eq!(metadata.get_str("request-id"), Some("7f3a"));
/// assert_eq!(format!("{metadata:?}"), r#"Metadata {"request-id": 4 bytes, "client-version": 5 bytes}"#);
///
/// // Credentials are refused: a channel authenticates at its handshake.
/// let refused = metadata.insert("authorization", "Bearer eyJhbGciOi.eyJzdWIi.c2ln");
/// assert!(matches!(refused, Err(MetadataError::Credential { .. })));
/// assert_eq!(metadata.len(), 2);
/// # Ok::<(), MetadataError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(Box<str>, Bytes)>,
}

impl Metadata {
    /// An empty map.
    pub const fn new() -> Metadata {
        Metadata {
            entries: Vec::new(),
        }
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `key` to (a copy of) `value`, returning the value it replaced.
    ///
    /// # Errors
    ///
    /// Refuses, changing nothing, a key that is not 1 to [`MAX_KEY_LEN`]
    /// bytes of `a`–`z`, `0`–`9`, `-`, `_` and `.`; an entry that carries a
    /// credential ([`MetadataError::Credential`]); and an entry past
    /// [`MAX_METADATA_ENTRIES`] or [`MAX_METADATA_LEN`].
    pub fn insert(
        &mut self,
        key: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>, MetadataError> {
        let value = value.as_ref();
        check_entry(key, value)?;
        if let Some(at) = self.entries.iter().position(|(k, _)| &**k == key) {
            let grown = self.unpadded_len() - self.entries[at].1.len() + value.len();
            if padded(grown) > MAX_METADATA_LEN {
                return Err(MetadataError::TooLarge {
                    max: MAX_METADATA_LEN,
                });
            }
            let value = Bytes::copy_from_slice(value);
            return Ok(Some(core::mem::replace(&mut self.entries[at].1, value)));
        }
        if self.entries.len() == MAX_METADATA_ENTRIES {
            return Err(MetadataError::TooManyEntries {
                max: MAX_METADATA_ENTRIES,
            });
        }
        let grown = self.unpadded_len() + entry_len(key, value);
        if padded(grown) > MAX_METADATA_LEN {
            return Err(MetadataError::TooLarge {
                max: MAX_METADATA_LEN,
            });
        }
        self.entries
            .push((key.into(), Bytes::copy_from_slice(value)));
        Ok(None)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }

    /// The value of `key` as text, if set and UTF-8.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        core::str::from_utf8(self.get(key)?).ok()
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Bytes> {
        let at = self.entries.iter().position(|(k, _)| &**k == key)?;
        Some(self.entries.remove(at).1)
    }

    /// The entries, in the order they were inserted.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Bytes)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// The length of [`Metadata::encode`]'s block: 0 when empty, else a
    /// multiple of 16 of at most [`MAX_METADATA_LEN`].
    pub fn encoded_len(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            padded(self.unpadded_len())
        }
    }

    fn unpadded_len(&self) -> usize {
        BLOCK_HEADER + self.iter().map(|(k, v)| entry_len(k, v)).sum::<usize>()
    }

    /// The wire form, [`Metadata::encoded_len`] bytes: the block's length
    /// (u32 little-endian, a multiple of 16) and entry count (u16 LE), two
    /// zero bytes, then each entry as its key's length (u8), the key, its
    /// value's length (u16 LE) and the value; zeros pad it to its length.
    /// Empty for an empty map.
    pub fn encode(&self) -> Bytes {
        let len = self.encoded_len();
        if len == 0 {
            return Bytes::new();
        }
        let mut out = BytesMut::with_capacity(len);
        // Both fit: the length is at most MAX_METADATA_LEN, the count at
        // most MAX_METADATA_ENTRIES.
        out.put_u32_le(len as u32);
        out.put_u16_le(self.len() as u16);
        out.put_u16_le(0);
        for (key, value) in self.iter() {
            out.put_u8(key.len() as u8);
            out.put_slice(key.as_bytes());
            out.put_u16_le(value.len() as u16);
            out.put_slice(value);
        }
        out.resize(len, 0);
        out.freeze()
    }

    /// Reads the block [`Metadata::encode`] wrote at the start of `bytes`
    /// (what follows it is not read), returning the map and the block's
    /// length. Every rule of [`Metadata::insert`] is checked again, so a
    /// peer cannot send what a map could not hold.
    ///
    /// # Errors
    ///
    /// [`MetadataError::Malformed`] for a block that is cut short, longer
    /// than [`MAX_METADATA_LEN`], not a multiple of 16, padded with other
    /// than zeros, or whose entries do not fill it exactly; the errors of
    /// `insert` for its entries, and [`MetadataError::Duplicate`] for a key
    /// named twice.
    pub fn decode(bytes: &[u8]) -> Result<(Metadata, usize), MetadataError> {
        let malformed = MetadataError::Malformed;
        let header = bytes.get(..BLOCK_HEADER).ok_or(malformed("cut short"))?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let count = u16::from_le_bytes([header[4], header[5]]) as usize;
        if len > MAX_METADATA_LEN {
            return Err(malformed("longer than the metadata limit"));
        }
        if len < BLOCK_ALIGN || !len.is_multiple_of(BLOCK_ALIGN) {
            return Err(malformed("its length is not a positive multiple of 16"));
        }
        if header[6..8] != [0, 0] || count == 0 {
            return Err(malformed("bad header"));
        }
        let block = bytes.get(..len).ok_or(malformed("cut short"))?;
        let mut rest = &block[BLOCK_HEADER..];
        let mut metadata = Metadata {
            entries: Vec::with_capacity(count.min(MAX_METADATA_ENTRIES)),
        };
        for _ in 0..count {
            let (key, after) = take(rest, 1, |b| b[0] as usize).ok_or(malformed("cut short"))?;
            let key = core::str::from_utf8(key).map_err(|_| MetadataError::InvalidKey)?;
            let (value, after) = take(after, 2, |b| u16::from_le_bytes([b[0], b[1]]) as usize)
                .ok_or(malformed("cut short"))?;
            if metadata.get(key).is_some() {
                return Err(MetadataError::Duplicate { key: key.into() });
            }
            metadata.insert(key, value)?;
            rest = after;
        }
        if rest.len() >= BLOCK_ALIGN || rest.iter().any(|&b| b != 0) {
            return Err(malformed("its entries do not fill it"));
        }
        Ok((metadata, len))
    }
}

/// Splits a length-prefixed field off `bytes`: a `width`-byte length read
/// by `len_of`, then that many bytes.
fn take(bytes: &[u8], width: usize, len_of: impl Fn(&[u8]) -> usize) -> Option<(&[u8], &[u8])> {
    let (prefix, rest) = bytes.split_at_checked(width)?;
    rest.split_at_checked(len_of(prefix))
}

fn entry_len(key: &str, value: &[u8]) -> usize {
    1 + key.len() + 2 + value.len()
}

fn padded(len: usize) -> usize {
    len.div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN
}

fn check_entry(key: &str, value: &[u8]) -> Result<(), MetadataError> {
    let allowed = |b: &u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.');
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| allowed(&b)) {
        return Err(MetadataError::InvalidKey);
    }
    if value.len() > MAX_METADATA_LEN {
        return Err(MetadataError::TooLarge {
            max: MAX_METADATA_LEN,
        });
    }
    if is_credential_key(key) || looks_like_credential(value) {
        return Err(MetadataError::Credential { key: key.into() });
    }
    Ok(())
}

/// Whether a key names a credential (see [`CREDENTIAL_KEYS`]).
fn is_credential_key(key: &str) -> bool {
    let words: String = key
        .chars()
        .map(|c| if matches!(c, '_' | '.') { '-' } else { c })
        .collect();
    let words = words.strip_prefix("x-").unwrap_or(&words);
    CREDENTIAL_KEYS.iter().any(|name| {
        words == *name
            || (words.ends_with(name)
                && words.as_bytes()[words.len() - name.len() - 1] == b'-'
                && *name != "token")
    })
}

/// Whether a value reads as a credential: an HTTP authorization value (a
/// `Bearer`, `Basic` or `DPoP` scheme, any case, then one token of at
/// least 8 characters), a compact JWS or JWE anywhere in it (`eyJ`, a
/// JSON header in base64url, then two or four dots), or a well-known
/// token format at its start.
fn looks_like_credential(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    authorization_value(value)
        || CREDENTIAL_PREFIXES
            .iter()
            .any(|p| value.starts_with(p.as_bytes()) && value.len() >= p.len() + 16)
        || contains_jwt(value)
}

fn authorization_value(value: &[u8]) -> bool {
    let token68 = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b);
    ["bearer", "basic", "dpop"].iter().any(|scheme| {
        let Some((head, rest)) = value.split_at_checked(scheme.len()) else {
            return false;
        };
        let token = rest.trim_ascii_start();
        head.eq_ignore_ascii_case(scheme.as_bytes())
            && token.len() < rest.len()
            && token.len() >= 8
            && token.iter().all(token68)
    })
}

/// Whether a compact JWS or JWE is in `value`: a token starts a run of
/// base64url characters and dots, or follows one of its dots, with `eyJ`,
/// then has two dots after it (a payload between them; the signature is
/// empty when unsigned) or four (a JWE, its key empty in direct mode).
/// Each run is read once, so a hostile value costs linear time.
fn contains_jwt(value: &[u8]) -> bool {
    let base64url = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    value.split(|&b| !(base64url(b) || b == b'.')).any(|run| {
        let dots: Vec<usize> = (run.iter().enumerate())
            .filter(|(_, b)| **b == b'.')
            .map(|(at, _)| at)
            .collect();
        let starts = core::iter::once(0).chain(dots.iter().map(|at| at + 1));
        starts.enumerate().any(|(i, start)| {
            let after = &dots[i..];
            run[start..].starts_with(b"eyJ")
                && match after.len() {
                    2 => after[1] > after[0] + 1,
                    4 => true,
                    _ => false,
                }
        })
    })
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, &'a Bytes);
    type IntoIter = Box<dyn ExactSizeIterator<Item = (&'a str, &'a Bytes)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Len(usize);
        impl fmt::Debug for Len {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} bytes", self.0)
            }
        }
        f.write_str("Metadata ")?;
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k, Len(v.len()))))
            .finish()
    }
}

/// Why a metadata entry or block was refused. Messages name keys, never
/// values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// A key is not 1 to [`MAX_KEY_LEN`] bytes of `a`–`z`, `0`–`9`, `-`,
    /// `_` and `.`.
    InvalidKey,
    /// The entry carries a credential: a key credentials travel under
    /// (`authorization`, `cookie`, `x-api-key`, …) or a value that reads
    /// as one (`Bearer …`, `Basic …`, a JWT).
    Credential {
        /// The entry's key.
        key: String,
    },
    /// The same key twice in one block.
    Duplicate {
        /// The key.
        key: String,
    },
    /// The block would exceed its limit.
    TooLarge {
        /// [`MAX_METADATA_LEN`].
        max: usize,
    },
    /// More entries than one call may carry.
    TooManyEntries {
        /// [`MAX_METADATA_ENTRIES`].
        max: usize,
    },
    /// A block that does not follow the wire form.
    Malformed(&'static str),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::InvalidKey => f.write_str(
                "a metadata key must be 1 to 64 bytes of lowercase ASCII letters, digits, '-', '_' and '.'",
            ),
            MetadataError::Credential { key } => write!(
                f,
                "metadata entry `{key}` carries a credential: a channel authenticates once, at its handshake, and calls carry no tokens"
            ),
            MetadataError::Duplicate { key } => write!(f, "metadata key `{key}` appears twice"),
            MetadataError::TooLarge { max } => {
                write!(f, "call metadata exceeds its limit of {max} bytes encoded")
            }
            MetadataError::TooManyEntries { max } => {
                write!(f, "call metadata exceeds its limit of {max} entries")
            }
            MetadataError::Malformed(why) => write!(f, "malformed call metadata: {why}"),
        }
    }
}

impl std::error::Error for MetadataError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        let mut m = Metadata::new();
        m.insert("request-id", "abc").unwrap();
        m.insert("bin", Bytes::from_static(&[0, 255, 7])).unwrap();
        m
    }

    #[test]
    fn encodes_and_decodes_with_the_rest_untouched() {
        let m = sample();
        let block = m.encode();
        assert_eq!(block.len(), m.encoded_len());
        assert_eq!(block.len() % 16, 0);
        let mut wire = block.to_vec();
        wire.extend_from_slice(b"request");
        let (back, len) = Metadata::decode(&wire).unwrap();
        assert_eq!(back, m);
        assert_eq!(&wire[len..], b"request");
    }

    #[test]
    fn an_empty_map_encodes_to_nothing() {
        assert_eq!(Metadata::new().encoded_len(), 0);
        assert!(Metadata::new().encode().is_empty());
    }

    #[test]
    fn insert_replaces_and_keeps_order() {
        let mut m = sample();
        assert_eq!(
            m.insert("request-id", "xyz").unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        let keys: Vec<_> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["request-id", "bin"]);
        assert_eq!(m.remove("bin").as_deref(), Some(&[0, 255, 7][..]));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn keys_are_checked() {
        let mut m = Metadata::new();
        for key in ["", "Upper", "sp ace", "ü", &"k".repeat(65)] {
            assert_eq!(
                m.insert(key, "v"),
                Err(MetadataError::InvalidKey),
                "{key:?}"
            );
        }
        assert!(m.insert(&"k".repeat(64), "v").is_ok());
    }

    #[test]
    fn credentials_are_refused_by_key_and_by_value() {
        let mut m = Metadata::new();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        for (key, value) in [
            ("authorization", "anything"),
            ("cookie", "a=b"),
            ("x-api-key", "k"),
            ("trace", "Bearer abc123def456"),
            ("trace", "  basic dXNlcjpwYXNz"),
            ("trace", jwt),
            ("trace", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"),
        ] {
            let refused = m.insert(key, value);
            assert_eq!(refused, Err(MetadataError::Credential { key: key.into() }));
        }
        assert!(m.is_empty());
        // Ordinary values that share a prefix or dots pass.
        m.insert("trace", "bearers-of-news").unwrap();
        m.insert("plan", "Basic plan").unwrap();
        m.insert("note", "Bearer bonds").unwrap();
        m.insert("version", "1.2.3").unwrap();
        m.insert("hint", "eyJ").unwrap();
        m.insert("next-page-token", "p-2").unwrap();
        m.insert("idempotency-token", "i-9").unwrap();
        m.insert("author", "ada").unwrap();
    }

    #[test]
    fn credential_keys_are_found_in_their_usual_spellings() {
        for key in [
            "access_token",
            "refresh_token",
            "client_secret",
            "api_key",
            "x-access-token",
            "x-amz-security-token",
            "x-goog-api-key",
            "x-session-token",
            "x-token",
            "db.password",
            "private_key",
        ] {
            let refused = Metadata::new().insert(key, "v");
            assert_eq!(refused, Err(MetadataError::Credential { key: key.into() }));
        }
    }

    #[test]
    fn credential_values_are_found_in_their_usual_forms() {
        let jws = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        for value in [
            format!("Bearer\t{jws}"),
            format!("session={jws}; path=/"),
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_owned(),
            "eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn".to_owned(),
            "ghp_0123456789abcdefABCDEF0123456789abcd".to_owned(),
            "AKIAIOSFODNN7EXAMPLE".to_owned(),
            "xoxb-1234-5678-abcdefghijkl".to_owned(),
            format!("v1.{jws}"),
        ] {
            let refused = Metadata::new().insert("trace", &value);
            assert_eq!(
                refused,
                Err(MetadataError::Credential {
                    key: "trace".into()
                }),
                "{value}"
            );
        }
    }

    #[test]
    fn a_hostile_value_is_read_once() {
        // Thousands of token starts or dots, no token: each run is read
        // once, not once per start.
        let value = "eyJ".repeat(2700);
        assert!(!looks_like_credential(value.as_bytes()));
        let value = "eyJ".to_owned() + &".".repeat(8000);
        assert!(!looks_like_credential(value.as_bytes()));
        assert!(looks_like_credential(b"eyJ.eyJ.x"));
        assert!(!looks_like_credential(b"eyJ..x"));
    }

    #[test]
    fn limits_hold() {
        let mut m = Metadata::new();
        for i in 0..MAX_METADATA_ENTRIES {
            m.insert(&format!("k{i}"), "v").unwrap();
        }
        assert_eq!(
            m.insert("one-more", "v"),
            Err(MetadataError::TooManyEntries {
                max: MAX_METADATA_ENTRIES
            })
        );
        let mut m = Metadata::new();
        m.insert("big", vec![7u8; MAX_METADATA_LEN - 32]).unwrap();
        assert_eq!(
            m.insert("more", vec![7u8; 64]),
            Err(MetadataError::TooLarge {
                max: MAX_METADATA_LEN
            })
        );
        assert_eq!(
            m.insert("big", vec![7u8; MAX_METADATA_LEN]),
            Err(MetadataError::TooLarge {
                max: MAX_METADATA_LEN
            })
        );
        assert!(m.encoded_len() <= MAX_METADATA_LEN);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        let good = sample().encode().to_vec();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            good[..7].to_vec(),
            good[..good.len() - 1].to_vec(),
        ];
        let mut long = good.clone();
        long[0] = 0xff;
        long[1] = 0xff;
        cases.push(long);
        let mut odd = good.clone();
        odd[0] = 17;
        cases.push(odd);
        let mut padding = good.clone();
        *padding.last_mut().unwrap() = 1;
        cases.push(padding);
        let mut reserved = good.clone();
        reserved[6] = 1;
        cases.push(reserved);
        let mut count = good.clone();
        count[4] = 3;
        cases.push(count);
        for case in cases {
            assert!(Metadata::decode(&case).is_err(), "{case:?}");
        }
    }

    #[test]
    fn decoding_checks_what_insert_checks() {
        let block = |key: &[u8], value: &[u8]| {
            let mut out = vec![0u8; 8];
            out[4] = 1;
            out.push(key.len() as u8);
            out.extend_from_slice(key);
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
            out.extend_from_slice(value);
            out.resize(out.len().div_ceil(16) * 16, 0);
            let len = out.len() as u32;
            out[..4].copy_from_slice(&len.to_le_bytes());
            out
        };
        assert!(Metadata::decode(&block(b"ok", b"v")).is_ok());
        assert_eq!(
            Metadata::decode(&block(b"authorization", b"x")),
            Err(MetadataError::Credential {
                key: "authorization".into()
            })
        );
        assert_eq!(
            Metadata::decode(&block(b"BAD", b"v")),
            Err(MetadataError::InvalidKey)
        );
        let mut twice = Metadata::new();
        twice.insert("a", "1").unwrap();
        twice.insert("b", "2").unwrap();
        let mut wire = twice.encode().to_vec();
        // Rename "b" to "a".
        let at = wire.iter().rposition(|&b| b == b'b').unwrap();
        wire[at] = b'a';
        assert_eq!(
            Metadata::decode(&wire),
            Err(MetadataError::Duplicate { key: "a".into() })
        );
    }
}
