//! FlatBuffers driven by reflection: the Rust types are the schema. This
//! prints the `.fbs` other languages compile, serves an op over FlatBuffers,
//! and reads a response's strings and bytes in place.
//!
//! Run with `cargo run --release --example flatbuffers_schema`.

use prism::codec::flatbuffers::{FlatView, fbs_schema_of};
use prism::{Channel, Server};

/// A user profile, readable from any language with the exported schema.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The user's id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Avatar image bytes.
    pub avatar: Vec<u8>,
    /// Where the user is, if known.
    pub location: Option<Location>,
    /// Account status.
    pub status: Status,
}

/// A place.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// City name.
    pub city: String,
    /// ISO country code.
    pub country: String,
}

/// Account status: a FlatBuffers union.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// In good standing.
    Active,
    /// Suspended, and why.
    Suspended {
        /// The reason given.
        reason: String,
    },
}

/// Profiles, carried by FlatBuffers so non-Rust services can read them.
#[prism::service(package = "examples", codec = flatbuffers, public)]
pub trait Profiles {
    /// Looks a profile up by id.
    async fn get(&self, id: u64) -> Profile;
}

struct Directory;

impl Profiles for Directory {
    async fn get(&self, id: u64) -> Profile {
        Profile {
            id,
            name: "Ada".into(),
            avatar: vec![0x89, b'P', b'N', b'G'],
            location: Some(Location {
                city: "London".into(),
                country: "GB".into(),
            }),
            status: Status::Active,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("the schema other languages compile with flatc:\n");
    println!("{}", fbs_schema_of::<Profile>()?);

    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(ProfilesServer::new(Directory))
        .build()?;
    let (listener, connector) = prism::mem::endpoint();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let profiles = ProfilesClient::new(Channel::builder().connect(connector).await?);

    let profile = profiles.get(7).await?;
    println!("decoded: {profile:?}");

    let view: FlatView<Profile> = profiles.get(8).view().await?;
    println!(
        "viewed in place: id {:?}, name {:?}, {} avatar bytes, city {:?}",
        view.scalar::<u64>("id"),
        view.str("name"),
        view.bytes("avatar").map_or(0, <[u8]>::len),
        view.table("location").and_then(|l| l.str("city")),
    );

    server.shutdown();
    serving.await??;
    Ok(())
}
