//! Prism's first stop: what reflection and the default codec do with a type.
//!
//! Run with `cargo run --release --example quickstart`. It derives `Facet`
//! on a request type, prints its wire schema and fingerprint, encodes it with
//! the postcard codec compiled from its shape, decodes it back, and shows
//! that malformed input is a typed error rather than a panic.

use prism::{Facet, OpId, Schema};

/// A request to store a blob under a key.
#[derive(Facet, Debug, PartialEq)]
#[facet(crate = prism::facet)]
struct PutRequest {
    key: String,
    value: Vec<u8>,
    ttl_seconds: Option<u32>,
    mode: Mode,
}

/// How to treat an existing key.
#[derive(Facet, Debug, PartialEq)]
#[facet(crate = prism::facet)]
#[repr(u8)]
enum Mode {
    Overwrite,
    KeepExisting,
    Append { separator: char },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Schema::of::<PutRequest>()?;
    println!("schema:\n{schema}\n");
    println!(
        "fingerprint: {:#018x}",
        prism::fingerprint(PutRequest::SHAPE)?
    );
    println!(
        "op id of demo.Store/put: {}",
        OpId::from_name("demo", "Store", "put")
    );

    let request = PutRequest {
        key: "greeting".into(),
        value: b"hello, prism".to_vec(),
        ttl_seconds: Some(60),
        mode: Mode::Append { separator: ';' },
    };
    let bytes = prism::postcard::to_vec(&request)?;
    println!("\nencoded {} bytes: {bytes:02x?}", bytes.len());
    let back: PutRequest = prism::postcard::from_slice(&bytes)?;
    assert_eq!(back, request);
    println!("decoded: {back:?}");

    let truncated = &bytes[..bytes.len() - 3];
    match prism::postcard::from_slice::<PutRequest>(truncated) {
        Ok(_) => return Err("a truncated message decoded".into()),
        Err(e) => println!("\ntruncated input -> error: {e}"),
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    match prism::postcard::from_slice::<PutRequest>(&trailing) {
        Ok(_) => return Err("trailing bytes were accepted".into()),
        Err(e) => println!("trailing byte   -> error: {e}"),
    }
    Ok(())
}
