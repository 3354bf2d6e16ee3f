//! [`Reassembler`]: puts the chunks of [`Event::Data`](super::Event::Data)
//! back together into messages, for whoever consumes a channel.
//!
//! The session checks the chunk sequence and the total against its own
//! `max_message`; a consumer may hold a message to a tighter limit (an
//! op's), checked on the first chunk before anything is allocated. A
//! message of several chunks is copied, chunk by chunk, into one 16-byte
//! aligned buffer of exactly its total, so zero-copy codecs read it in
//! place; each copied chunk's credit can be released at once, so a message
//! larger than the window still flows. A whole message is passed on
//! untouched (an in-process sender's segments stay segments), and its
//! credit is released when it is consumed. A packed frame's messages come
//! out one by one ([`Reassembler::pop`]), each holding its share of the
//! frame's credit.

use bytes::BytesMut;
use prism_core::{CodecId, Payload, aligned};

use super::Chunk;
use super::packed::{self, Unpacking};

/// One whole message out of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The codec that encoded it.
    pub codec: CodecId,
    /// Its bytes.
    pub payload: Payload,
    /// It is the op's application error.
    pub app_error: bool,
    /// Bytes it still holds in the receive windows: release them (with
    /// [`Session::release`](super::Session::release)) once it is consumed.
    /// Zero for a reassembled message, whose chunks were released as they
    /// were copied.
    pub held: u64,
}

/// What [`Reassembler::push`] made of a chunk.
#[derive(Debug, Default)]
pub struct Pushed {
    /// Bytes to release now: chunks copied into a message being assembled.
    pub release: u64,
    /// The message, once whole.
    pub message: Option<Message>,
}

/// A message's first chunk stated a total beyond the consumer's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("message of {total} bytes exceeds the limit of {max} bytes")]
pub struct TooLarge {
    /// The stated total.
    pub total: u64,
    /// The limit.
    pub max: u64,
}

/// Chunks in, whole messages out, for one direction of one channel.
///
/// # Examples
///
/// ```
/// use prism_core::{CodecId, Payload};
/// use prism_proto::session::{Chunk, Reassembler};
///
/// let chunk = |bytes: &'static [u8], total, more| Chunk {
///     codec: CodecId::POSTCARD,
///     payload: Payload::from(bytes),
///     total,
///     more,
///     app_error: false,
///     packed: false,
/// };
/// let mut messages = Reassembler::default();
/// let first = messages.push(chunk(b"hel", Some(5), true), 1 << 20)?;
/// // A chunk copied into the message buffer is released at once: its
/// // bytes and its 32-byte header.
/// assert_eq!((first.release, first.message), (35, None));
/// let last = messages.push(chunk(b"lo", None, false), 1 << 20)?;
/// let message = last.message.expect("whole");
/// assert_eq!((&message.payload[..], message.held), (&b"hello"[..], 0));
/// assert_eq!(message.payload.as_ptr() as usize % Payload::ALIGN, 0);
/// # Ok::<(), prism_proto::session::TooLarge>(())
/// ```
#[derive(Debug, Default)]
pub struct Reassembler {
    partial: Option<Partial>,
    /// The rest of a packed frame, and its codec.
    unpacking: Option<(Unpacking, CodecId)>,
}

#[derive(Debug)]
struct Partial {
    codec: CodecId,
    app_error: bool,
    buf: BytesMut,
}

impl Reassembler {
    /// Adds the next chunk of this direction.
    ///
    /// Chunks must come in the order the session raised them; the session
    /// has checked their sequence, so a chunk out of place is ignored here
    /// rather than trusted.
    ///
    /// # Errors
    ///
    /// [`TooLarge`] when a whole message is longer than `max`, or a first
    /// chunk states a total beyond it; nothing was allocated, and the
    /// caller should refuse the channel (the chunk's credit is still the
    /// caller's to release).
    ///
    /// A packed chunk yields its first message; take the others with
    /// [`Reassembler::pop`] before pushing the next chunk. Its messages are
    /// each held to `max`.
    pub fn push(&mut self, chunk: Chunk, max: u64) -> Result<Pushed, TooLarge> {
        let cost = chunk.cost();
        if chunk.packed {
            return self.unpack(chunk, max);
        }
        match (&mut self.partial, chunk.total) {
            (None, None) if !chunk.more && chunk.payload.len() as u64 > max => Err(TooLarge {
                total: chunk.payload.len() as u64,
                max,
            }),
            (None, None) if !chunk.more => Ok(Pushed {
                release: 0,
                message: Some(Message {
                    held: cost,
                    codec: chunk.codec,
                    app_error: chunk.app_error,
                    payload: chunk.payload,
                }),
            }),
            (None, Some(total)) => {
                if total > max {
                    return Err(TooLarge { total, max });
                }
                let capacity = usize::try_from(total).map_err(|_| TooLarge { total, max })?;
                let mut buf = aligned::aligned_buffer(capacity);
                copy_into(&mut buf, &chunk.payload);
                self.partial = Some(Partial {
                    codec: chunk.codec,
                    app_error: chunk.app_error,
                    buf,
                });
                Ok(Pushed {
                    release: cost,
                    message: None,
                })
            }
            (Some(partial), None) => {
                copy_into(&mut partial.buf, &chunk.payload);
                if chunk.more {
                    return Ok(Pushed {
                        release: cost,
                        message: None,
                    });
                }
                let Some(partial) = self.partial.take() else {
                    return Ok(Pushed::default());
                };
                Ok(Pushed {
                    release: cost,
                    message: Some(Message {
                        codec: partial.codec,
                        payload: Payload::new(partial.buf.freeze()),
                        app_error: partial.app_error,
                        held: 0,
                    }),
                })
            }
            // Out of sequence: the session never raises these.
            (None, None) | (Some(_), Some(_)) => Ok(Pushed {
                release: cost,
                message: None,
            }),
        }
    }

    /// The next message of the packed chunk pushed last, if any is left.
    pub fn pop(&mut self) -> Option<Message> {
        let (unpacking, codec) = self.unpacking.as_mut()?;
        let codec = *codec;
        match unpacking.next() {
            Some((payload, held)) => Some(Message {
                codec,
                payload: Payload::new(payload),
                app_error: false,
                held,
            }),
            None => {
                self.unpacking = None;
                None
            }
        }
    }

    /// Drops what is held: the rest of a packed chunk and a message partly
    /// assembled. Returns the credit the packed messages not handed out
    /// held, for the caller to release (a partial message's chunks were
    /// released as they were copied).
    pub fn clear(&mut self) -> u64 {
        self.partial = None;
        self.unpacking
            .take()
            .map_or(0, |(unpacking, _)| unpacking.clear())
    }

    /// A message is partly assembled.
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// Starts handing out a packed chunk's messages.
    fn unpack(&mut self, chunk: Chunk, max: u64) -> Result<Pushed, TooLarge> {
        let cost = chunk.cost();
        let bytes = chunk.payload.as_bytes().clone();
        let largest = packed::largest(&bytes) as u64;
        if largest > max {
            return Err(TooLarge {
                total: largest,
                max,
            });
        }
        // Anything still held from the last one is given back with it.
        let leftover = self.clear();
        self.unpacking = Some((Unpacking::new(bytes, cost + leftover), chunk.codec));
        Ok(Pushed {
            release: 0,
            message: self.pop(),
        })
    }
}

fn copy_into(buf: &mut BytesMut, payload: &Payload) {
    for segment in payload.segments() {
        buf.extend_from_slice(segment);
    }
}
