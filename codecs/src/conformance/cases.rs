//! The inputs one encoding is turned into, rule by rule: the encoding as
//! is, resegmented, misaligned, truncated, with bytes appended, with bits
//! flipped, under a tight budget, and mangled at random.

use bytes::Bytes;

use super::report::Rule;
use super::rng::Rng;
use crate::{Limits, Payload};

/// Encodings longer than this get fewer mutations: each one copies and
/// decodes the whole message.
pub(super) const BIG: usize = 16 << 10;

/// Encodings up to this long are truncated at every length.
const EVERY_PREFIX: usize = 128;

/// What decoding a case must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// The original value.
    Value,
    /// An error.
    Error,
    /// The original value or an error (a tight limit may refuse it).
    ValueOrError,
    /// Anything but a panic.
    NoPanic,
}

/// One input to decode, the rule it checks and what must come out.
pub(super) struct Case {
    pub(super) rule: Rule,
    /// The input, in words: "the first 3 of 7 bytes".
    pub(super) what: String,
    pub(super) payload: Payload,
    pub(super) expect: Expect,
    pub(super) limits: Limits,
}

/// Makes the cases for one encoding.
pub(super) struct Inputs<'a> {
    pub(super) encoded: &'a Payload,
    pub(super) bytes: &'a [u8],
    pub(super) limits: Limits,
    /// How many random mutations of each kind to try.
    pub(super) mutations: usize,
    /// Whether the codec can tell trailing bytes from its message.
    pub(super) trailing_detectable: bool,
    /// How many trailing zero bytes of padding the codec may do without.
    pub(super) optional_padding: usize,
    pub(super) rng: Rng,
}

type Emit<'f> = dyn FnMut(Case) -> bool + 'f;
type Generator<'a> = for<'e> fn(&mut Inputs<'a>, &mut Emit<'e>);
impl<'a> Inputs<'a> {
    /// Calls `emit` with each case of each rule that `skip` leaves in;
    /// when `emit` returns false, the rest of that rule's cases are skipped.
    pub(super) fn run(&mut self, skip: &dyn Fn(Rule) -> bool, emit: &mut Emit<'_>) {
        let generators: [(Rule, Generator<'a>); 9] = [
            (Rule::RoundTrip, Inputs::round_trip),
            (Rule::Segmented, Inputs::segmented),
            (Rule::Misaligned, Inputs::misaligned),
            (Rule::Truncated, Inputs::truncated),
            (Rule::TrailingBytes, Inputs::trailing),
            (Rule::BitFlip, Inputs::bit_flips),
            (Rule::Oversized, Inputs::oversized),
            (Rule::Random, Inputs::random),
            (Rule::Random, Inputs::mangled),
        ];
        for (rule, generate) in generators {
            if !skip(rule) {
                generate(self, emit);
            }
        }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// How many random mutations of one kind this encoding gets.
    fn budget(&self) -> usize {
        if self.big() {
            (self.mutations / 16).max(2)
        } else {
            self.mutations
        }
    }

    fn big(&self) -> bool {
        self.len() > BIG
    }

    fn case(&self, rule: Rule, what: String, payload: Payload, expect: Expect) -> Case {
        Case {
            rule,
            what,
            payload,
            expect,
            limits: self.limits,
        }
    }

    fn round_trip(&mut self, emit: &mut Emit<'_>) {
        let payload = Payload::copy_from_slice(self.bytes);
        let what = "the encoding, contiguous and aligned".to_owned();
        emit(self.case(Rule::RoundTrip, what, payload, Expect::Value));
    }

    fn segmented(&mut self, emit: &mut Emit<'_>) {
        let (first, rest) = self.encoded.clone().into_parts();
        let what = format!("the encoding as the encoder's {} segments", 1 + rest.len());
        let payload = Payload::from_segments(first, rest);
        if !emit(self.case(Rule::Segmented, what, payload, Expect::Value)) {
            return;
        }
        let splits: &[usize] = if self.big() { &[3] } else { &[2, 3, 7] };
        for &pieces in splits {
            if self.len() < pieces {
                break;
            }
            let len = self.len();
            let cuts = cuts(&mut self.rng, len, pieces);
            let what = format!("the encoding split into segments at bytes {cuts:?}");
            let payload = split(self.bytes, &cuts, aligned);
            if !emit(self.case(Rule::Segmented, what, payload, Expect::Value)) {
                return;
            }
        }
        if (2..=256).contains(&self.len()) {
            let cuts: Vec<usize> = (1..self.len()).collect();
            let what = "the encoding with every byte in a segment of its own".to_owned();
            let payload = split(self.bytes, &cuts, aligned);
            emit(self.case(Rule::Segmented, what, payload, Expect::Value));
        }
    }

    fn misaligned(&mut self, emit: &mut Emit<'_>) {
        let what = "the encoding at an odd address".to_owned();
        let payload = Payload::new(odd(self.bytes));
        if !emit(self.case(Rule::Misaligned, what, payload, Expect::Value)) {
            return;
        }
        if self.encoded.segments().count() > 1 {
            let mut segments = self.encoded.segments().map(|s| odd(s));
            let first = segments.next().unwrap_or_default();
            let what = "the encoder's segments, each at an odd address".to_owned();
            let payload = Payload::from_segments(first, segments.collect());
            if !emit(self.case(Rule::Misaligned, what, payload, Expect::Value)) {
                return;
            }
        }
        if self.len() >= 3 {
            let len = self.len();
            let cuts = cuts(&mut self.rng, len, 3);
            let what =
                format!("the encoding split at bytes {cuts:?}, each segment at an odd address");
            let payload = split(self.bytes, &cuts, odd);
            emit(self.case(Rule::Misaligned, what, payload, Expect::Value));
        }
    }

    fn truncated(&mut self, emit: &mut Emit<'_>) {
        let len = self.len();
        let lens: Vec<usize> = if len <= EVERY_PREFIX {
            (0..len).collect()
        } else {
            let edge = if self.big() { 2 } else { 16 };
            let mut lens: Vec<usize> = (0..edge).chain(len - edge..len).collect();
            for _ in 0..self.budget() {
                lens.push(16 + self.rng.index(len - 32));
            }
            lens.sort_unstable();
            lens.dedup();
            lens
        };
        for (i, &cut) in lens.iter().enumerate() {
            let cut_off = &self.bytes[cut..];
            // Only declared padding may go missing, and then nothing changes.
            let (expect, note) =
                if cut_off.len() <= self.optional_padding && cut_off.iter().all(|&b| b == 0) {
                    (Expect::ValueOrError, " (only padding cut off)")
                } else {
                    (Expect::Error, "")
                };
            let what = format!("the first {cut} of {len} bytes{note}");
            let payload = Payload::copy_from_slice(&self.bytes[..cut]);
            if !emit(self.case(Rule::Truncated, what, payload, expect)) {
                return;
            }
            // Some prefixes also arrive in two segments, as a link may hand
            // over a message whose last piece went missing.
            if i % 4 == 1 && cut >= 2 {
                let what = format!("the first {cut} of {len} bytes{note}, in two segments");
                let payload = split(&self.bytes[..cut], &[cut / 2], odd);
                if !emit(self.case(Rule::Truncated, what, payload, expect)) {
                    return;
                }
            }
        }
    }

    fn trailing(&mut self, emit: &mut Emit<'_>) {
        let expect = if self.trailing_detectable {
            Expect::Error
        } else {
            Expect::NoPanic
        };
        let mut nonzero = self.rng.bytes(7);
        for b in &mut nonzero {
            *b |= 1;
        }
        let garbage: [Vec<u8>; 5] = [
            vec![0xA5],
            vec![0xFF; 3],
            nonzero,
            vec![0; 16],
            self.rng.bytes(33),
        ];
        let kinds = if self.big() { 2 } else { garbage.len() };
        for (i, extra) in garbage.iter().take(kinds).enumerate() {
            let mut bytes = self.bytes.to_vec();
            bytes.extend_from_slice(extra);
            let what = format!("the encoding followed by {}", hex(extra));
            let payload = Payload::copy_from_slice(&bytes);
            if !emit(self.case(Rule::TrailingBytes, what, payload, expect)) {
                return;
            }
            if i == 0 || (i == 1 && !self.big()) {
                // The garbage as a segment of its own after the encoder's.
                let (first, mut rest) = self.encoded.clone().into_parts();
                rest.push(Bytes::copy_from_slice(extra));
                let what = format!(
                    "the encoder's segments followed by a segment {}",
                    hex(extra)
                );
                let payload = Payload::from_segments(first, rest);
                if !emit(self.case(Rule::TrailingBytes, what, payload, expect)) {
                    return;
                }
            }
        }
    }

    fn bit_flips(&mut self, emit: &mut Emit<'_>) {
        let bits = self.len() * 8;
        let budget = self.budget();
        let positions: Vec<usize> = if bits <= 4 * budget.max(64) {
            (0..bits).collect()
        } else {
            // The first and last bytes hold headers, lengths and trailers.
            let edge = if self.big() { 4 } else { 32 };
            let mut positions: Vec<usize> = (0..edge).chain(bits - edge..bits).collect();
            for _ in 0..budget {
                positions.push(self.rng.index(bits));
            }
            positions.sort_unstable();
            positions.dedup();
            positions
        };
        for bit in positions {
            let mut bytes = self.bytes.to_vec();
            bytes[bit / 8] ^= 1 << (bit % 8);
            let what = format!(
                "the encoding with bit {} of byte {} flipped ({} bytes in all)",
                bit % 8,
                bit / 8,
                self.len()
            );
            let payload = Payload::copy_from_slice(&bytes);
            if !emit(self.case(Rule::BitFlip, what, payload, Expect::NoPanic)) {
                return;
            }
        }
    }

    fn oversized(&mut self, emit: &mut Emit<'_>) {
        for budget in [0, self.len() / 2] {
            let limits = self.limits.with_max_alloc(budget);
            let payload = Payload::copy_from_slice(self.bytes);
            let what = format!("the encoding under a max_alloc of {budget} bytes");
            let case = Case {
                limits,
                ..self.case(Rule::Oversized, what, payload, Expect::ValueOrError)
            };
            if !emit(case) {
                return;
            }
        }
    }

    /// Random byte strings, about as long as the encoding.
    fn random(&mut self, emit: &mut Emit<'_>) {
        let max = (2 * self.len() + 16).min(4096);
        for _ in 0..self.budget() {
            let len = self.rng.index(max + 1);
            let bytes = self.rng.bytes(len);
            let what = format!("random bytes {}", hex(&bytes));
            let payload = Payload::copy_from_slice(&bytes);
            if !emit(self.case(Rule::Random, what, payload, Expect::NoPanic)) {
                return;
            }
        }
    }

    /// The encoding with random bytes overwritten, removed or inserted:
    /// mostly well-formed input, with damage in the middle.
    fn mangled(&mut self, emit: &mut Emit<'_>) {
        let len = self.len();
        for i in 0..self.budget() {
            let mut bytes = self.bytes.to_vec();
            let at = self.rng.index(len + 1);
            let n = 1 + self.rng.index(8);
            let what = match i % 3 {
                0 if at < len => {
                    let end = (at + n).min(len);
                    let patch = self.rng.bytes(end - at);
                    bytes[at..end].copy_from_slice(&patch);
                    format!(
                        "the encoding with bytes {at}..{end} of {len} overwritten by {}",
                        hex(&patch)
                    )
                }
                1 if at < len => {
                    let end = (at + n).min(len);
                    bytes.drain(at..end);
                    format!("the encoding with bytes {at}..{end} of {len} removed")
                }
                _ => {
                    let patch = self.rng.bytes(n);
                    bytes.splice(at..at, patch.iter().copied());
                    format!(
                        "the encoding with {} inserted at byte {at} of {len}",
                        hex(&patch)
                    )
                }
            };
            let payload = Payload::copy_from_slice(&bytes);
            if !emit(self.case(Rule::Random, what, payload, Expect::NoPanic)) {
                return;
            }
        }
    }
}

/// `pieces - 1` distinct cut points in `1..len`, in order.
fn cuts(rng: &mut Rng, len: usize, pieces: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (1..pieces).map(|_| 1 + rng.index(len - 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// A payload of `bytes` cut at `cuts`, each piece placed by `place`.
fn split(bytes: &[u8], cuts: &[usize], place: fn(&[u8]) -> Bytes) -> Payload {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts.iter().chain(core::iter::once(&bytes.len())) {
        pieces.push(place(&bytes[start..cut]));
        start = cut;
    }
    let mut pieces = pieces.into_iter();
    let first = pieces.next().unwrap_or_default();
    Payload::from_segments(first, pieces.collect())
}

/// A copy of `data` that starts 16-byte aligned.
fn aligned(data: &[u8]) -> Bytes {
    Payload::copy_from_slice(data).into_bytes()
}

/// A copy of `data` that starts at an odd address.
fn odd(data: &[u8]) -> Bytes {
    if data.is_empty() {
        return Bytes::new();
    }
    let mut buf = vec![0u8; data.len() + 1];
    let skip = usize::from((buf.as_ptr() as usize).is_multiple_of(2));
    buf[skip..skip + data.len()].copy_from_slice(data);
    Bytes::from(buf).slice(skip..skip + data.len())
}

/// Bytes as hex for messages: whole when short, else the first 32.
fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write;
    let mut out = String::from("[");
    for b in bytes.iter().take(32) {
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > 32 {
        let _ = write!(out, "… ({} bytes)", bytes.len());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_copies_sit_at_odd_addresses_and_keep_their_bytes() {
        for len in [1, 2, 15, 16, 1000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let copy = odd(&data);
            assert_eq!(copy.as_ptr() as usize % 2, 1);
            assert_eq!(&copy[..], &data[..]);
        }
    }

    #[test]
    fn splits_keep_every_byte_in_order() {
        let data: Vec<u8> = (0..100).collect();
        let mut rng = Rng::new(3);
        for pieces in [2, 3, 7] {
            let cuts = cuts(&mut rng, data.len(), pieces);
            let payload = split(&data, &cuts, odd);
            assert_eq!(payload.segment_count(), cuts.len() + 1);
            assert_eq!(&payload[..], &data[..]);
        }
    }

    #[test]
    fn hex_is_short() {
        assert_eq!(hex(&[0xa5, 0]), "[a500]");
        assert!(hex(&[0; 40]).ends_with("… (40 bytes)]"));
    }
}
