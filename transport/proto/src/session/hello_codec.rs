//! Encoding and decoding the HELLO and ACCEPT payloads (formats on
//! [`Hello`] and [`Accept`]).
//!
//! Decoding never panics and allocates no more than the input could fill:
//! every count is checked against its limit and against the bytes left
//! before anything is reserved for it.

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    Accept, Extension, Features, HELLO_MAGIC, Hello, HelloError, MAX_EXTENSION_LEN,
    MAX_HELLO_EXTENSIONS, MAX_HELLO_LEN, MAX_HELLO_OPS, MAX_OP_CODECS, OpEntry, VersionRange,
};

impl Hello {
    /// Encodes the payload. A HELLO that fails [`Hello::validate`] encodes
    /// to bytes the peer refuses.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        out.put_slice(&HELLO_MAGIC);
        out.put_u16_le(self.versions.min);
        out.put_u16_le(self.versions.max);
        out.put_u64_le(self.features.bits());
        out.put_u64_le(self.required.bits());
        out.put_u32_le(self.max_frame);
        out.put_u32_le(self.max_channels);
        out.put_u64_le(self.max_message);
        out.put_u32_le(self.max_chunk);
        out.put_u32_le(self.stream_window);
        out.put_u32_le(self.connection_window);
        put_tables(&mut out, &self.ops, &self.extensions);
        out.freeze()
    }

    /// Decodes a payload. Never panics; allocates no more than the input
    /// can fill.
    ///
    /// # Errors
    ///
    /// Fails on wrong magic, a version-1 HELLO, a version range whose min
    /// exceeds its max, a zero chunk size or window, a truncated field, a list over its limit, more than
    /// [`MAX_HELLO_LEN`] bytes, or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Hello, HelloError> {
        let mut r = Reader::new(bytes)?;
        let magic: [u8; 4] = r.array("magic")?;
        if magic != HELLO_MAGIC {
            return Err(HelloError::BadMagic { found: magic });
        }
        let min = r.u16("min version")?;
        if min < VersionRange::FIRST_RANGED {
            // Version 1 put its one version here and a different layout
            // after it: nothing more can be read.
            return Err(HelloError::UnsupportedVersion { version: min });
        }
        let versions = VersionRange::new(min, r.u16("max version")?);
        if versions.min > versions.max {
            return Err(HelloError::BadVersions { versions });
        }
        let features = Features::from_bits(r.u64("features")?);
        let required = Features::from_bits(r.u64("required features")?);
        let max_frame = r.u32("max_frame")?;
        let max_channels = r.u32("max_channels")?;
        let max_message = r.u64("max_message")?;
        let max_chunk = r.u32("max_chunk")?;
        let stream_window = r.u32("stream window")?;
        let connection_window = r.u32("connection window")?;
        let (ops, extensions) = r.tables()?;
        let hello = Hello {
            versions,
            features,
            required,
            max_frame,
            max_channels,
            max_message,
            max_chunk,
            stream_window,
            connection_window,
            ops,
            extensions,
        };
        hello.validate_flow()?;
        Ok(hello)
    }
}

impl Accept {
    /// Encodes the payload. An ACCEPT that fails [`Accept::validate`]
    /// encodes to bytes the peer refuses.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        put_tables(&mut out, &self.ops, &self.extensions);
        out.freeze()
    }

    /// Decodes a payload. Never panics; allocates no more than the input
    /// can fill.
    ///
    /// # Errors
    ///
    /// Fails on a truncated field, a list over its limit, more than
    /// [`MAX_HELLO_LEN`] bytes, or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Accept, HelloError> {
        let (ops, extensions) = Reader::new(bytes)?.tables()?;
        Ok(Accept { ops, extensions })
    }
}

fn put_tables(out: &mut BytesMut, ops: &[OpEntry], extensions: &[Extension]) {
    out.put_u32_le(saturate(ops.len()));
    for entry in ops {
        out.put_u64_le(entry.op);
        out.put_u64_le(entry.fingerprint);
        out.put_u16_le(saturate(entry.codecs.len()));
        for &codec in &entry.codecs {
            out.put_u16_le(codec);
        }
    }
    out.put_u16_le(saturate(extensions.len()));
    for ext in extensions {
        out.put_u16_le(ext.kind);
        out.put_u32_le(saturate(ext.data.len()));
        out.put_slice(&ext.data);
    }
}

/// A length for the wire; out-of-range lengths saturate and the peer refuses them.
fn saturate<T: TryFrom<usize> + Bounded>(n: usize) -> T {
    T::try_from(n).unwrap_or(T::MAX)
}

/// Integers with a maximum, for [`saturate`].
trait Bounded {
    const MAX: Self;
}

impl Bounded for u16 {
    const MAX: Self = u16::MAX;
}

impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}

/// A bounds-checked cursor over a payload.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Reader<'a>, HelloError> {
        if bytes.len() > MAX_HELLO_LEN {
            return Err(HelloError::TooLong {
                len: bytes.len(),
                max: MAX_HELLO_LEN,
            });
        }
        Ok(Reader { rest: bytes })
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], HelloError> {
        if self.rest.len() < n {
            return Err(HelloError::Truncated { field });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], HelloError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, HelloError> {
        self.array(field).map(u16::from_le_bytes)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, HelloError> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, HelloError> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// Checks a list count against its limit and against what the rest of
    /// the input could hold (`min_size` bytes per item), before anything is
    /// allocated for it.
    fn count(
        &self,
        field: &'static str,
        what: &'static str,
        count: u64,
        max: usize,
        min_size: u64,
    ) -> Result<usize, HelloError> {
        if count > max as u64 {
            return Err(HelloError::TooMany {
                what,
                count,
                max: max as u64,
            });
        }
        if count * min_size > self.rest.len() as u64 {
            return Err(HelloError::Truncated { field });
        }
        Ok(count as usize)
    }

    /// The op table and the extension list, which end the payload.
    fn tables(mut self) -> Result<(Vec<OpEntry>, Vec<Extension>), HelloError> {
        let op_count = self.u32("op count")?.into();
        let op_count = self.count("op table", "ops", op_count, MAX_HELLO_OPS, 18)?;
        let mut ops = Vec::with_capacity(op_count);
        for _ in 0..op_count {
            let op = self.u64("op id")?;
            let fingerprint = self.u64("op fingerprint")?;
            let n = self.u16("codec count")?.into();
            let n = self.count("codec list", "codecs", n, MAX_OP_CODECS, 2)?;
            let mut codecs = Vec::with_capacity(n);
            for _ in 0..n {
                codecs.push(self.u16("codec list")?);
            }
            ops.push(OpEntry {
                op,
                fingerprint,
                codecs,
            });
        }
        let ext_count = self.u16("extension count")?.into();
        let ext_count = self.count(
            "extension list",
            "extensions",
            ext_count,
            MAX_HELLO_EXTENSIONS,
            6,
        )?;
        let mut extensions = Vec::with_capacity(ext_count);
        for _ in 0..ext_count {
            let kind = self.u16("extension kind")?;
            let len = u64::from(self.u32("extension length")?);
            if len > MAX_EXTENSION_LEN as u64 {
                return Err(HelloError::ExtensionTooLarge {
                    kind,
                    len,
                    max: MAX_EXTENSION_LEN as u64,
                });
            }
            let data = self.take("extension data", len as usize)?;
            extensions.push(Extension {
                kind,
                data: Bytes::copy_from_slice(data),
            });
        }
        if !self.rest.is_empty() {
            return Err(HelloError::TrailingBytes {
                count: self.rest.len(),
            });
        }
        Ok((ops, extensions))
    }
}
