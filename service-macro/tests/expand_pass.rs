//! Expansions that must compile and mean what they say.
//!
//! The generated code names only `::prism::` and `::core::` paths:
//! `prism::{Channel, Context}`, `prism::client::{UnaryCall, Plain,
//! Fallible}`, `prism::codec::*`, `prism::reflect::*` and
//! `prism::__private::*` (facet, rkyv, Arc, Dispatch, Execution, unary,
//! unknown_method, the codec checks).
//!
//! - `hygiene`: a service declared under `#![no_implicit_prelude]`, next to
//!   junk items named like prelude types and traits, so any unqualified path
//!   in the expansion fails to compile.
//! - `ordinary`: services as users write them, with the prelude, private and
//!   `pub(crate)` visibility, user types whose names the generated module
//!   also uses, and `self::` paths.
//! - `calls_round_trip`: the generated client and dispatcher talk to each
//!   other over the in-memory transport.
//! - `access`: a service-wide permission or `public`, and ops overriding
//!   it, land in the descriptors.

// An integration test is its own crate: nothing in it is reachable from
// outside, but `pub` is what real services write.
#![allow(unreachable_pub)]

mod hygiene {
    #![no_implicit_prelude]
    #![allow(dead_code, non_camel_case_types)]

    // Junk that shadows what generated code must never name unqualified.
    // (Items, not the prelude: the prelude is already gone.)
    pub struct Option;
    pub struct Result;
    pub struct Box;
    pub struct Vec;
    pub struct String;
    pub struct Arc;
    pub struct Send;
    pub struct Sync;
    pub struct Clone;
    pub struct Debug;
    pub struct Facet;
    pub struct Future;
    // Crate-name look-alikes: generated paths start with `::`, so these
    // are never picked up. (No `core` here: facet's derive names
    // `core::fmt` without the leading `::`.)
    pub mod prism {}
    pub mod facet {}

    // A user type from outside: facet's own derive is not clean under
    // `no_implicit_prelude` (it names `Sized` and `core::fmt` unqualified),
    // and this module tests the service macro, not facet.
    pub use super::DivError;

    /// A calculator.
    #[::prism::service(public, package = "hygiene")]
    pub trait Calc {
        /// Adds two numbers.
        async fn add(&self, a: i64, b: i64) -> i64;
        /// Divides, failing on zero.
        async fn div(&self, a: i64, b: i64) -> ::core::result::Result<i64, DivError>;
        async fn greet(&self, name: ::std::string::String) -> ::std::string::String;
        async fn ping(&self);
        /// Takes the handler's context and runs in a task of its own.
        #[prism(spawn)]
        async fn whoami(&self, cx: &::prism::Context) -> ::std::string::String;
        /// Runs in the connection's task whatever the server's default.
        #[prism(inline, codec = segments, bare)]
        async fn chunk(&self, chunk: ::prism::Segmented<u32>) -> ::prism::Segmented<u32>;
    }

    pub struct Impl;

    impl Calc for Impl {
        async fn add(&self, a: i64, b: i64) -> i64 {
            a + b
        }

        async fn div(&self, a: i64, b: i64) -> ::core::result::Result<i64, DivError> {
            match a.checked_div(b) {
                ::core::option::Option::Some(q) => ::core::result::Result::Ok(q),
                ::core::option::Option::None => ::core::result::Result::Err(DivError::DivideByZero),
            }
        }

        async fn greet(&self, name: ::std::string::String) -> ::std::string::String {
            ::std::format!("hello {name}")
        }

        async fn ping(&self) {}

        async fn whoami(&self, cx: &::prism::Context) -> ::std::string::String {
            ::std::string::ToString::to_string(cx.op().method())
        }

        async fn chunk(&self, chunk: ::prism::Segmented<u32>) -> ::prism::Segmented<u32> {
            chunk
        }
    }
}

/// The application error of `hygiene::Calc::div`.
#[derive(prism::Facet, Debug, PartialEq)]
#[facet(crate = prism::facet)]
#[repr(u8)]
pub enum DivError {
    /// The divisor was zero.
    DivideByZero,
}

mod ordinary {
    use prism::Facet;

    /// A user type whose name the generated `search` module also defines.
    #[derive(Facet, Debug, Clone)]
    #[facet(crate = prism::facet)]
    pub struct SearchRequest {
        pub query: String,
    }

    pub mod types {
        use prism::Facet;

        #[derive(Facet, Debug, Clone)]
        #[facet(crate = prism::facet)]
        pub struct Hits {
            pub ids: Vec<u64>,
        }
    }

    /// Search, gRPC-style: one request type per method.
    #[prism::service(public, package = "demo.search", name = "Search")]
    pub(crate) trait SearchService {
        async fn search(&self, req: SearchRequest) -> self::types::Hits;
        async fn count(&self, query: String) -> Result<u64, String>;
    }

    /// A private service with no ops.
    #[prism::service(public)]
    trait Empty {}

    pub(crate) struct Engine;

    impl SearchService for Engine {
        async fn search(&self, req: SearchRequest) -> types::Hits {
            types::Hits {
                ids: vec![req.query.len() as u64],
            }
        }

        async fn count(&self, query: String) -> Result<u64, String> {
            Ok(query.len() as u64)
        }
    }

    pub(crate) fn empty_descriptor() -> &'static prism::reflect::ServiceDescriptor {
        &empty::SERVICE
    }
}

use prism::__private::Dispatch;
use prism::Execution;
use prism::reflect::{OpId, OpKind};

/// Access as declared: a service default, and ops overriding it either way.
mod access {
    #[prism::service(package = "access", permission = "store.read")]
    pub trait Store {
        async fn get(&self, key: String) -> Vec<u8>;
        #[prism(permission = "store.write")]
        async fn put(&self, key: String, value: Vec<u8>);
        #[prism(public)]
        async fn health(&self) -> bool;
    }

    #[prism::service(package = "access", public)]
    pub trait Open {
        async fn ping(&self);
        #[prism(permission = "open:admin/reset")]
        async fn reset(&self);
    }
}

#[test]
fn ops_carry_their_declared_access() {
    use prism::reflect::Access;
    let access = |service: &prism::reflect::ServiceDescriptor| -> Vec<_> {
        service
            .ops()
            .iter()
            .map(|op| (op.method(), op.access()))
            .collect()
    };
    assert_eq!(
        access(&access::store::SERVICE),
        [
            ("get", Some(Access::Permission("store.read"))),
            ("put", Some(Access::Permission("store.write"))),
            ("health", Some(Access::Public)),
        ]
    );
    assert_eq!(
        access(&access::open::SERVICE),
        [
            ("ping", Some(Access::Public)),
            ("reset", Some(Access::Permission("open:admin/reset"))),
        ]
    );
}

/// Datagram ops: their kind, and what they do without datagrams.
mod datagrams {
    #[prism::service(package = "datagrams", public)]
    pub trait Sensor {
        #[prism(datagram)]
        async fn sample(&self, value: f64);
        #[prism(datagram = "reliable")]
        async fn event(&self, name: String, at: u64);
        #[prism(datagram = "refuse", bare)]
        async fn raw(&self, bytes: Vec<u8>);
    }
}

#[test]
fn datagram_ops_are_their_own_kind() {
    use datagrams::sensor;

    assert!(sensor::OPS.iter().all(|op| op.kind() == OpKind::Datagram));
    let fallback: Vec<_> = (sensor::OPS.iter())
        .map(|op| (op.reliable_fallback(), op.needs_datagrams()))
        .collect();
    assert_eq!(fallback, [(false, true), (true, false), (false, true)]);
    // The generated client returns a `DatagramCall` for each.
    fn _client(client: &datagrams::SensorClient) {
        let _: prism::client::DatagramCall<prism::codec::Postcard, sensor::SampleRequest> =
            client.sample(1.0);
        let _: prism::client::DatagramCall<prism::codec::Postcard, Vec<u8>> = client.raw(vec![1]);
    }
}

fn assert_send_sync<T: Send + Sync + 'static>() {}

#[test]
fn descriptors_carry_names_ids_and_docs() {
    use hygiene::calc;

    assert_eq!(calc::SERVICE.package(), "hygiene");
    assert_eq!(calc::SERVICE.name(), "Calc");
    assert_eq!(calc::SERVICE.doc(), "A calculator.");
    assert_eq!(calc::SERVICE.ops().len(), 6);
    assert_eq!(calc::ADD, OpId::from_name("hygiene", "Calc", "add"));

    let methods: Vec<_> = calc::OPS.iter().map(|op| op.method()).collect();
    assert_eq!(methods, ["add", "div", "greet", "ping", "whoami", "chunk"]);
    assert!(calc::OPS.iter().all(|op| op.kind() == OpKind::Unary));
    assert_eq!(calc::OPS[0].doc(), "Adds two numbers.");
    assert_eq!(calc::OPS[0].package(), "hygiene");
    assert!(calc::OPS[0].error().is_none());
    assert!(calc::OPS[1].error().is_some());
    assert_eq!(calc::OPS[3].doc(), "");
}

#[test]
fn renamed_service_with_a_package() {
    use ordinary::search_service;

    assert_eq!(search_service::SERVICE.name(), "Search");
    assert_eq!(search_service::SERVICE.package(), "demo.search");
    assert_eq!(
        search_service::SEARCH,
        OpId::from_name("demo.search", "Search", "search")
    );
    // The generated request wraps the user's `SearchRequest`, not itself.
    let request = search_service::SearchRequest {
        req: ordinary::SearchRequest {
            query: "q".to_owned(),
        },
    };
    assert_eq!(request.req.query, "q");
    assert_eq!(ordinary::empty_descriptor().ops().len(), 0);
}

#[test]
fn clients_and_servers_are_send_sync() {
    assert_send_sync::<hygiene::CalcClient>();
    assert_send_sync::<hygiene::CalcServer<hygiene::Impl>>();
    assert_send_sync::<ordinary::SearchServiceServer<ordinary::Engine>>();
}

#[test]
fn servers_dispatch_and_clone() {
    let server = hygiene::CalcServer::new(hygiene::Impl);
    let copy = server.clone();
    assert!(std::ptr::eq(server.descriptor(), &hygiene::calc::SERVICE));
    // `whoami` asked to be spawned, `chunk` to run inline; the rest leave
    // it to the server.
    let executions: Vec<_> = (0..6).map(|method| server.execution(method)).collect();
    assert_eq!(
        executions,
        [
            None,
            None,
            None,
            None,
            Some(Execution::Spawn),
            Some(Execution::Inline)
        ]
    );
    assert!(format!("{copy:?}").contains("hygiene.Calc"));

    let shared = std::sync::Arc::new(ordinary::Engine);
    let server = ordinary::SearchServiceServer::from_arc(shared);
    assert_eq!(server.descriptor().ops().len(), 2);
}

#[tokio::test]
async fn calls_round_trip() -> Result<(), Box<dyn std::error::Error>> {
    let server = prism::Server::builder()
        .allow_unauthenticated()
        .add_service(hygiene::CalcServer::new(hygiene::Impl))
        .add_service(ordinary::SearchServiceServer::new(ordinary::Engine))
        .build()?;
    let (client_link, server_link) = prism::mem::pair();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_link).await }
    });

    let channel = prism::Channel::builder().connect_link(client_link).await?;
    let calc = hygiene::CalcClient::new(channel.clone());
    assert_eq!(calc.add(2, 3).await?, 5);
    assert_eq!(calc.div(7, 2).await?, Ok(3));
    assert_eq!(calc.div(1, 0).await?, Err(DivError::DivideByZero));
    assert_eq!(calc.greet("prism".to_owned()).await?, "hello prism");
    calc.ping().await?;
    assert_eq!(calc.whoami().await?, "whoami");
    let chunk = prism::Segmented {
        header: 7,
        segments: Vec::new(),
    };
    assert_eq!(calc.chunk(chunk).await?.header, 7);

    let search = ordinary::SearchServiceClient::new(channel);
    let request = ordinary::SearchRequest {
        query: "four".to_owned(),
    };
    assert_eq!(search.search(request).await?.ids, [4]);
    assert_eq!(search.count("abc".to_owned()).await?, Ok(3));

    drop((calc, search));
    serving.await??;
    Ok(())
}
