//! The suite catches what it claims to: a reference codec passes, and each
//! mutant, broken in one way, fails the rule it breaks and no other.

use bytes::BufMut;

use super::{Rule, Suite};
use crate::{
    Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Limits,
    Payload, View,
};

/// The ways a mutant is broken.
const SOUND: u8 = 0;
const NONDETERMINISTIC: u8 = 1;
const PANICS_WHEN_SHORT: u8 = 2;
const IGNORES_TRAILING: u8 = 3;
const FIRST_SEGMENT_ONLY: u8 = 4;
const NEEDS_ALIGNED_SEGMENTS: u8 = 5;
const IGNORES_MAX_ALLOC: u8 = 6;
const IGNORES_MAX_DEPTH: u8 = 7;
const ENCODE_PANICS: u8 = 8;
const PANICS_ON_HIGH_BIT: u8 = 9;
const VIEW_DROPS_A_BYTE: u8 = 10;
const ACCEPTS_SHORT: u8 = 11;

/// A codec that writes a blob as a `u32` length and the bytes, broken in
/// the way `FLAW` says.
#[derive(Debug)]
struct Mutant<const FLAW: u8>;

impl<const FLAW: u8> Codec for Mutant<FLAW> {
    const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 100 + FLAW as u16);
    const NAME: &'static str = "mutant";
    const CAPABILITIES: Capabilities = Capabilities::NONE;
}

/// Bytes, nested `depth` levels deep (the depth is only a number on the wire).
#[derive(Debug, Clone, PartialEq)]
struct Blob {
    depth: u8,
    data: Vec<u8>,
}

fn blob(data: &[u8]) -> Blob {
    Blob {
        depth: 1,
        data: data.to_vec(),
    }
}

static CALLS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

impl<const FLAW: u8> Encode<Mutant<FLAW>> for Blob {
    fn encode(&self, out: &mut EncodeBuf, _: &Limits) -> Result<(), EncodeError> {
        if FLAW == ENCODE_PANICS && self.data.len() == 3 {
            panic!("three bytes are too many");
        }
        let tail = out.tail();
        tail.put_u8(self.depth);
        tail.put_u32_le(self.data.len() as u32);
        tail.put_slice(&self.data);
        if FLAW == NONDETERMINISTIC {
            tail.put_u8(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2);
        }
        Ok(())
    }
}

fn bad(message: &str) -> DecodeError {
    DecodeError::Codec {
        codec: "mutant",
        message: message.into(),
    }
}

impl<const FLAW: u8> Decode<Mutant<FLAW>> for Blob {
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        let joined;
        let bytes: &[u8] = match FLAW {
            FIRST_SEGMENT_ONLY => payload.segments().next().map_or(&[][..], |s| &s[..]),
            NEEDS_ALIGNED_SEGMENTS if payload.segments().any(|s| s.as_ptr() as usize % 2 == 1) => {
                return Err(bad("a segment is misaligned"));
            }
            _ => {
                joined = payload.as_bytes().clone();
                &joined
            }
        };
        if FLAW == PANICS_WHEN_SHORT {
            let _ = bytes[4];
        }
        if FLAW == PANICS_ON_HIGH_BIT && bytes.first().is_some_and(|&b| b & 0x80 != 0) {
            panic!("the high bit is set");
        }
        let extra = usize::from(FLAW == NONDETERMINISTIC);
        let (&depth, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if FLAW != IGNORES_MAX_DEPTH && usize::from(depth) > limits.max_depth() {
            return Err(DecodeError::DepthLimitExceeded {
                limit: limits.max_depth(),
                at: 0,
            });
        }
        let len = rest.get(..4).ok_or_else(|| bad("short"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if FLAW != IGNORES_MAX_ALLOC && len > limits.max_alloc() {
            return Err(DecodeError::AllocLimitExceeded {
                limit: limits.max_alloc(),
                at: 1,
            });
        }
        let data = &rest[4..];
        let data = match FLAW {
            IGNORES_TRAILING => data.get(..len).ok_or_else(|| bad("short"))?,
            ACCEPTS_SHORT if data.len() <= len => data,
            _ if data.len() == len + extra => &data[..len],
            _ => return Err(bad("wrong length")),
        };
        Ok(Blob {
            depth,
            data: data.to_vec(),
        })
    }
}

impl<const FLAW: u8> View<Mutant<FLAW>> for Blob {
    type View = Vec<u8>;

    fn view(payload: Payload, limits: &Limits) -> Result<Vec<u8>, DecodeError> {
        let mut data = <Blob as Decode<Mutant<FLAW>>>::decode(&payload, limits)?.data;
        if FLAW == VIEW_DROPS_A_BYTE {
            data.pop();
        }
        Ok(data)
    }
}

fn values() -> Vec<Blob> {
    vec![blob(b""), blob(b"abc"), blob(&[0x81; 40]), blob(&[7; 300])]
}

/// The rules a mutant's values break.
fn broken<const FLAW: u8>() -> Vec<Rule> {
    let suite = Suite::<Mutant<FLAW>>::new().mutations(16);
    let mut report = suite.check_values(&values());
    let deep = Blob {
        depth: 100,
        data: Vec::new(),
    };
    report.merge(suite.check_too_deep(&deep, 16));
    report.merge(suite.check_oversized(&blob(&[1; 1000]), 100));
    report.merge(suite.check_view(&blob(b"xyz"), |view, value| *view == value.data));
    let mut rules: Vec<Rule> = report.violations().iter().map(|v| v.rule).collect();
    rules.sort();
    rules.dedup();
    rules
}

#[test]
fn a_sound_codec_passes() {
    assert_eq!(broken::<SOUND>(), []);
}

#[test]
fn each_flaw_breaks_its_rule() {
    assert_eq!(broken::<NONDETERMINISTIC>(), [Rule::Deterministic]);
    assert_eq!(
        broken::<PANICS_WHEN_SHORT>(),
        [Rule::Truncated, Rule::Random]
    );
    assert_eq!(broken::<IGNORES_TRAILING>(), [Rule::TrailingBytes]);
    assert_eq!(
        broken::<FIRST_SEGMENT_ONLY>(),
        [Rule::Segmented, Rule::Misaligned, Rule::TrailingBytes]
    );
    assert_eq!(broken::<NEEDS_ALIGNED_SEGMENTS>(), [Rule::Misaligned]);
    assert_eq!(broken::<IGNORES_MAX_ALLOC>(), [Rule::Oversized]);
    assert_eq!(broken::<IGNORES_MAX_DEPTH>(), [Rule::TooDeep]);
    assert_eq!(broken::<ENCODE_PANICS>(), [Rule::Panic]);
    assert_eq!(
        broken::<PANICS_ON_HIGH_BIT>(),
        [Rule::BitFlip, Rule::Random]
    );
    assert_eq!(broken::<VIEW_DROPS_A_BYTE>(), [Rule::ViewMismatch]);
    assert_eq!(broken::<ACCEPTS_SHORT>(), [Rule::Truncated]);
}

#[test]
fn messages_say_which_rule_value_and_input() {
    let report = Suite::<Mutant<IGNORES_TRAILING>>::new().check_value(&blob(b"abc"));
    let text = report.violations()[0].to_string();
    assert_eq!(
        text,
        "mutant: rule `trailing-bytes` (an encoding with bytes appended is an error) broken by \
         `prism_codecs::conformance::tests::Blob` value Blob { depth: 1, data: [97, 98, 99] }: \
         the encoding followed by [a5] decoded to Blob { depth: 1, data: [97, 98, 99] } instead of failing"
    );
    let panicked = Suite::<Mutant<PANICS_WHEN_SHORT>>::new().check_value(&blob(b""));
    let text = panicked.violations()[0].to_string();
    assert!(text.contains("rule `truncated`"), "{text}");
    assert!(
        text.contains("decoding the first 0 of 5 bytes panicked: index out of bounds"),
        "{text}"
    );
}

#[test]
fn waivers_and_known_failures_are_reported_not_failed() {
    let suite = Suite::<Mutant<IGNORES_TRAILING>>::new()
        .trailing_bytes_undetectable("the format has no length");
    let report = suite.check_value(&blob(b"abc"));
    assert!(report.is_ok(), "{report}");
    assert!(
        report
            .to_string()
            .contains("waived `trailing-bytes` in part: the format has no length")
    );

    let suite = Suite::<Mutant<IGNORES_TRAILING>>::new()
        .known_failure::<Blob>(Rule::TrailingBytes, "issue 42");
    let report = suite.check_value(&blob(b"abc"));
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.known_failures().count(), 1);

    let suite = Suite::<Mutant<IGNORES_TRAILING>>::new().waive(Rule::TrailingBytes, "by design");
    assert!(suite.check_value(&blob(b"abc")).is_ok());
}

#[test]
fn a_value_unequal_to_itself_is_reported_once() {
    #[derive(Debug)]
    struct Nan;
    impl PartialEq for Nan {
        fn eq(&self, _: &Nan) -> bool {
            false
        }
    }
    impl Encode<Mutant<SOUND>> for Nan {
        fn encode(&self, _: &mut EncodeBuf, _: &Limits) -> Result<(), EncodeError> {
            Ok(())
        }
    }
    impl Decode<Mutant<SOUND>> for Nan {
        fn decode(_: &Payload, _: &Limits) -> Result<Self, DecodeError> {
            Ok(Nan)
        }
    }
    let report = Suite::<Mutant<SOUND>>::new().check_value(&Nan);
    assert_eq!(report.violations().len(), 1, "{report}");
    assert!(
        report.violations()[0]
            .detail
            .contains("does not equal itself")
    );
}
