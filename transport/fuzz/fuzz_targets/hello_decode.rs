//! Decodes arbitrary bytes as a session HELLO payload.
//!
//! Checks, besides "never panics": whatever decodes is canonical, so
//! `encode()` gives back exactly the input (the format has no optional or
//! redundant parts), `encoded_len()` is that length, `validate()` accepts
//! the value (decode enforces the same limits), and decoding the encoding
//! gives an equal `Hello`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prism_transport::session::Hello;

fuzz_target!(|data: &[u8]| {
    let Ok(hello) = Hello::decode(data) else {
        return;
    };
    let encoded = hello.encode();
    assert_eq!(hello.encoded_len(), encoded.len());
    assert_eq!(&encoded[..], data, "the encoding is not canonical");
    if let Err(e) = hello.validate() {
        panic!("decoded a hello that validate() refuses: {e}");
    }
    let again = Hello::decode(&encoded).expect("decode our own encoding");
    assert_eq!(again, hello);
});
