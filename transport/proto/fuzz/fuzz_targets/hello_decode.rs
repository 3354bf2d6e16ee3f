//! Decodes arbitrary bytes as a session HELLO payload, as an ACCEPT
//! payload, and as the session [`Lifetime`] a server announces in its
//! ACCEPT and in its answers to re-authentication.
//!
//! Checks, besides "never panics": whatever decodes is canonical, so
//! `encode()` gives back exactly the input (the formats have no optional or
//! redundant parts), `encoded_len()` is that length, `validate()` accepts
//! the value (decode enforces the same limits), and decoding the encoding
//! gives an equal value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prism_proto::session::{Accept, Hello, Lifetime};

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = Hello::decode(data) {
        let encoded = hello.encode();
        assert_eq!(hello.encoded_len(), encoded.len());
        assert_eq!(&encoded[..], data, "the hello encoding is not canonical");
        if let Err(e) = hello.validate() {
            panic!("decoded a hello that validate() refuses: {e}");
        }
        let again = Hello::decode(&encoded).expect("decode our own encoding");
        assert_eq!(again, hello);
    }
    if let Ok(accept) = Accept::decode(data) {
        let encoded = accept.encode();
        assert_eq!(accept.encoded_len(), encoded.len());
        assert_eq!(&encoded[..], data, "the accept encoding is not canonical");
        if let Err(e) = accept.validate() {
            panic!("decoded an accept that validate() refuses: {e}");
        }
        assert_eq!(Accept::decode(&encoded).expect("decode our own"), accept);
    }
    match Lifetime::decode(data) {
        Ok(lifetime) => assert_eq!(&lifetime.encode()[..], data, "lifetimes are canonical"),
        Err(e) => assert_ne!(data.len(), 8, "an 8-byte lifetime refused: {e}"),
    }
});
