//! The HELLO and ACCEPT codecs: round trips, limits and malformed input.

use bytes::{BufMut, BytesMut};

use super::*;
use crate::session::{
    Extension, Features, HelloError, MAX_EXTENSION_LEN, MAX_HELLO_OPS, MAX_OP_CODECS, VersionRange,
};

/// The first bytes of a HELLO up to (not including) its op count.
fn hello_head(min: u16, max: u16) -> BytesMut {
    let mut bytes = BytesMut::new();
    bytes.put_slice(b"PRSM");
    bytes.put_u16_le(min);
    bytes.put_u16_le(max);
    bytes.put_u64_le(0b101);
    bytes.put_u64_le(0b001);
    bytes.put_u32_le(1 << 20);
    bytes.put_u32_le(10);
    bytes.put_u64_le(1 << 30);
    bytes.put_u32_le(4096);
    bytes.put_u32_le(1 << 16);
    bytes.put_u32_le(1 << 18);
    bytes
}

fn rich_hello() -> Hello {
    let mut hello = Hello::new(
        (0..40u64)
            .map(|i| OpEntry {
                op: i * 0x0101_0101,
                fingerprint: !i,
                codecs: (0..(i as u16 % 5)).collect(),
            })
            .collect(),
    );
    hello.max_frame = 12_345;
    hello.max_channels = 77;
    hello.versions = VersionRange::new(2, 40);
    hello.features = Features::from_bits(0xf0f0);
    hello.required = Features::from_bits(0x0010);
    hello.extensions = vec![
        Extension {
            kind: 1,
            data: Bytes::from_static(b"token"),
        },
        Extension {
            kind: 9,
            data: Bytes::new(),
        },
    ];
    hello
}

#[test]
fn hello_round_trips() {
    for hello in [rich_hello(), Hello::new(vec![])] {
        assert_eq!(hello.validate(), Ok(()));
        assert_eq!(hello.encoded_len(), hello.encode().len());
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
    }
}

#[test]
fn accept_round_trips() {
    let rich = rich_hello();
    for accept in [
        Accept {
            ops: rich.ops,
            extensions: rich.extensions,
        },
        Accept::default(),
    ] {
        assert_eq!(accept.validate(), Ok(()));
        assert_eq!(accept.encoded_len(), accept.encode().len());
        assert_eq!(Accept::decode(&accept.encode()), Ok(accept));
    }
}

#[test]
fn every_strict_prefix_is_an_error() {
    let bytes = rich_hello().encode();
    for len in 0..bytes.len() {
        let result = Hello::decode(&bytes[..len]);
        assert!(
            matches!(result, Err(HelloError::Truncated { .. })),
            "prefix {len}: {result:?}"
        );
    }
    let rich = rich_hello();
    let bytes = Accept {
        ops: rich.ops,
        extensions: rich.extensions,
    }
    .encode();
    for len in 0..bytes.len() {
        let result = Accept::decode(&bytes[..len]);
        assert!(
            matches!(result, Err(HelloError::Truncated { .. })),
            "prefix {len}: {result:?}"
        );
    }
}

#[test]
fn trailing_bytes_and_wrong_magic_are_refused() {
    let mut bytes = BytesMut::from(&rich_hello().encode()[..]);
    bytes.put_u8(0);
    assert_eq!(
        Hello::decode(&bytes),
        Err(HelloError::TrailingBytes { count: 1 })
    );
    bytes[..4].copy_from_slice(b"PRSN");
    assert_eq!(
        Hello::decode(&bytes),
        Err(HelloError::BadMagic { found: *b"PRSN" })
    );
}

#[test]
fn a_version_one_hello_is_recognized_before_the_rest() {
    let mut bytes = BytesMut::new();
    bytes.put_slice(b"PRSM");
    bytes.put_u16_le(1);
    assert_eq!(
        Hello::decode(&bytes),
        Err(HelloError::UnsupportedVersion { version: 1 })
    );
}

#[test]
fn any_ranged_hello_decodes_whatever_versions_it_offers() {
    // Ranges a later build might offer: reading them never depends on
    // what this build speaks; negotiation decides.
    for (min, max) in [(2, 9), (3, 3), (40, 60)] {
        let hello = Hello {
            versions: VersionRange::new(min, max),
            ..Hello::default()
        };
        let decoded = Hello::decode(&hello.encode()).expect("decodes");
        assert_eq!(decoded.versions, VersionRange::new(min, max));
    }
}

#[test]
fn an_empty_version_range_is_refused() {
    let mut bytes = hello_head(5, 4);
    bytes.put_u32_le(0);
    bytes.put_u16_le(0);
    assert_eq!(
        Hello::decode(&bytes),
        Err(HelloError::BadVersions {
            versions: VersionRange::new(5, 4)
        })
    );
    let hello = Hello {
        versions: VersionRange::new(3, 2),
        ..Hello::default()
    };
    assert!(matches!(
        hello.validate(),
        Err(HelloError::BadVersions { .. })
    ));
}

#[test]
fn a_zero_chunk_or_window_is_refused() {
    for field in 0..3 {
        let mut bytes = hello_head(2, 2);
        let at = 32 + 8 + 4 * field;
        bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        bytes.put_u32_le(0);
        bytes.put_u16_le(0);
        assert!(
            matches!(Hello::decode(&bytes), Err(HelloError::ZeroLimit { .. })),
            "field {field}"
        );
    }
}

#[test]
fn unknown_feature_bits_are_carried() {
    let mut bytes = hello_head(2, 7);
    bytes.put_u32_le(0);
    bytes.put_u16_le(0);
    let hello = Hello::decode(&bytes).expect("decodes");
    assert_eq!(hello.versions, VersionRange::new(2, 7));
    assert_eq!(hello.features, Features::from_bits(0b101));
    assert_eq!(hello.required, Features::from_bits(0b001));
    assert_eq!(hello.encode(), bytes);
}

#[test]
fn counts_above_limits_are_refused_before_allocating() {
    let header = |ops: u32| {
        let mut bytes = hello_head(2, 2);
        bytes.put_u32_le(ops);
        bytes
    };
    let too_many = Hello::decode(&header(u32::MAX));
    assert!(
        matches!(too_many, Err(HelloError::TooMany { what: "ops", .. })),
        "{too_many:?}"
    );
    // Within the limit but more than the input could hold.
    let short = Hello::decode(&header(MAX_HELLO_OPS as u32));
    assert!(
        matches!(short, Err(HelloError::Truncated { .. })),
        "{short:?}"
    );

    let mut codecs = header(1);
    codecs.put_u64_le(1);
    codecs.put_u64_le(2);
    codecs.put_u16_le(MAX_OP_CODECS as u16 + 1);
    assert!(matches!(
        Hello::decode(&codecs),
        Err(HelloError::TooMany { what: "codecs", .. })
    ));

    let mut ext = header(0);
    ext.put_u16_le(1);
    ext.put_u16_le(5);
    ext.put_u32_le(MAX_EXTENSION_LEN as u32 + 1);
    assert!(matches!(
        Hello::decode(&ext),
        Err(HelloError::ExtensionTooLarge { kind: 5, .. })
    ));
}

#[test]
fn validate_matches_decode_limits() {
    let mut hello = rich_hello();
    hello.ops[0].codecs = vec![0; MAX_OP_CODECS + 1];
    assert!(matches!(
        hello.validate(),
        Err(HelloError::TooMany { what: "codecs", .. })
    ));
    assert!(Hello::decode(&hello.encode()).is_err());
    let mut hello = rich_hello();
    hello.extensions[0].data = Bytes::from(vec![0; MAX_EXTENSION_LEN + 1]);
    assert!(matches!(
        hello.validate(),
        Err(HelloError::ExtensionTooLarge { .. })
    ));
    assert!(Hello::decode(&hello.encode()).is_err());
}

#[test]
fn whole_hello_is_bounded() {
    let mut hello = Hello::new(vec![]);
    let ext = Extension {
        kind: 1,
        data: Bytes::from(vec![7; MAX_EXTENSION_LEN]),
    };
    hello.extensions = vec![ext; crate::session::MAX_HELLO_EXTENSIONS];
    assert!(matches!(hello.validate(), Err(HelloError::TooLong { .. })));
    assert!(matches!(
        Hello::decode(&hello.encode()),
        Err(HelloError::TooLong { .. })
    ));
    assert_eq!(rich_hello().encoded_len(), rich_hello().encode().len());
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = Vec::new();
    for _ in 0..20_000 {
        buf.clear();
        let len = rng.below(96) as usize;
        buf.extend((0..len).map(|_| rng.next() as u8));
        if rng.below(2) == 0 && buf.len() >= 8 {
            // Get past magic and versions half the time.
            buf[..4].copy_from_slice(b"PRSM");
            buf[4..6].copy_from_slice(&2u16.to_le_bytes());
            buf[6..8].copy_from_slice(&3u16.to_le_bytes());
        }
        let _ = Hello::decode(&buf);
        let _ = Accept::decode(&buf);
    }
}

#[test]
fn mutated_hellos_never_panic_and_valid_results_reencode() {
    let mut rng = Rng(42);
    let original = rich_hello().encode();
    for _ in 0..20_000 {
        let mut bytes = original.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[at] = rng.next() as u8,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, rng.next() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Ok(hello) = Hello::decode(&bytes) {
            assert_eq!(
                hello.encode(),
                bytes,
                "decode must accept one encoding only"
            );
        }
    }
}

#[test]
fn extension_debug_hides_its_bytes() {
    let shown = format!("{:?}", rich_hello());
    assert!(!shown.contains("token"), "{shown}");
    assert!(shown.contains("len: 5"), "{shown}");
    let accept = Accept {
        ops: Vec::new(),
        extensions: rich_hello().extensions,
    };
    assert!(!format!("{accept:?}").contains("token"));
}
