//! The `#[prism::service]` attribute macro.
//!
//! Use it through the facade, `prism::service`: the generated code names only
//! `::prism::…` and `::core::…` paths, so `prism` is the one dependency a
//! service needs.

// The pipeline follows thiserror's: `ast` reads the trait into a model,
// `valid` checks it (collecting every error, each with its span), `expand`
// generates the items, one function per item. `attr` reads the options,
// `relocate` moves user types into the generated module, `case` derives names.
mod ast;
mod attr;
mod case;
mod ctxt;
mod expand;
mod message;
mod relocate;
mod valid;

use proc_macro::TokenStream;

/// Turns a trait of `async fn`s into a Prism service.
///
/// Every method is an operation: an `async fn` taking `&self` and owned
/// arguments (`name: Type`), returning a value, `Result<T, E>` (the error
/// travels as a typed application error), or nothing.
///
/// # Examples
///
/// ```
/// use prism::Facet;
///
/// #[derive(Facet, Debug)]
/// #[facet(crate = prism::facet)]
/// #[repr(u8)]
/// pub enum DivError {
///     DivideByZero,
/// }
///
/// /// A calculator: callers need `calc.use`, except to ping it.
/// #[prism::service(package = "demo", permission = "calc.use")]
/// pub trait Calc {
///     /// Adds two numbers.
///     async fn add(&self, a: i64, b: i64) -> i64;
///     async fn div(&self, a: i64, b: i64) -> Result<i64, DivError>;
///     #[prism(public)]
///     async fn ping(&self);
/// }
///
/// fn main() {
///     // Generated next to the trait:
///     let _request = calc::AddRequest { a: 2, b: 3 };
///     assert_eq!(calc::ADD, prism::reflect::OpId::from_name("demo", "Calc", "add"));
///     assert_eq!(calc::SERVICE.ops().len(), 3);
///     assert_eq!(calc::OPS[0].doc(), "Adds two numbers.");
/// }
/// # fn _types(_: CalcClient, _: CalcServer<()>) {}
/// ```
///
/// # What it generates
///
/// For `pub trait Calc` (every item keeps the trait's visibility):
///
/// - the trait itself, with `Send + Sync + 'static` supertraits and each
///   `async fn` turned into `fn … -> impl Future<Output = …> + Send`
///   (implement it with plain `async fn`s);
/// - `mod calc`: a request struct per method (`AddRequest { a, b }`, deriving
///   `Facet` and `Debug`), an op id constant per method (`ADD`), the op table
///   `OPS` in declaration order and the `SERVICE` descriptor;
/// - `CalcClient`: `new(channel)` and one method per op returning a call to
///   `.await`;
/// - `CalcServer<S: Calc>`: the dispatcher to hand to
///   `prism::Server::builder().add_service(..)`.
///
/// # Options
///
/// - `#[prism::service(package = "demo")]`: the package in op ids
///   (`demo.Calc/add`); none by default.
/// - `#[prism::service(name = "Calculator")]`: the service name on the wire;
///   the trait name by default.
/// - `#[prism::service(codec = rkyv)]` or `codecs = [rkyv, flatbuffers]`:
///   the codecs of every op, in preference order; postcard by default.
/// - `#[prism::service(permission = "model.read")]` or
///   `#[prism::service(public)]`: the access of every op that declares none.
///
/// On a method, `#[prism(...)]` takes:
///
/// - `permission = ".."` or `public`: who may call the op (or open its
///   stream): callers whose identity holds the permission, or anyone. Every
///   op needs one, its own or the service's: an op with neither is a
///   compile error. A permission is letters, digits and `.`, `_`, `-`, `:`
///   or `/`.
/// - `codec = ..` / `codecs = [..]`: this op's codecs (built-in names
///   `postcard`, `rkyv`, `flatbuffers`, `segments`, or a codec type's path);
/// - `spawn` or `inline`: where its handler runs (each call in a task of its
///   own, or in its connection's task); the server's default otherwise;
/// - `bare`: the op's one argument travels as it is instead of in a
///   request struct (for a codec's own message types, such as
///   `Segmented<H>`).
///
/// # Requests
///
/// The wire shape follows one written rule: a request is the generated
/// struct of the op's arguments (`AddRequest { a, b }`), whatever the codec
/// and however many arguments, so adding a codec never changes an op's
/// fingerprint. The exceptions are explicit: an `Archived<T>` argument (a
/// zero-copy view: `T` travels) and `#[prism(bare)]`.
///
/// A method may take `cx: &prism::Context` among its arguments: the
/// handler's view of the call (op, deadline, peer, extensions). It is not
/// part of the request, and the client method does not have it.
///
/// # Errors
///
/// Misuse is a compile error on the offending tokens, all reported at once:
/// a method that is not `async`, a receiver other than `&self`, generics,
/// argument patterns, borrowed or `impl Trait` types, default bodies,
/// associated items, supertraits, unknown options, ops that declare no
/// access, and method names whose generated names collide.
///
/// # Limitations
///
/// The request structs live in the generated module and see the trait's
/// module through `use super::*`. A service declared inside a function body
/// therefore cannot use types declared in that same body: declare it (or
/// those types) at module level.
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::service(attr.into(), item.into()).into()
}

/// Makes a struct or enum a wire type: adds what every type a service
/// sends or receives needs, with paths through `prism` (no direct facet or
/// rkyv dependency).
///
/// - `#[derive(prism::Facet)]` and `#[facet(crate = prism::facet)]`: the
///   type's shape, for schemas, fingerprints and the postcard and
///   FlatBuffers codecs;
/// - `#[repr(u8)]` on an enum without a `repr` (facet needs one);
/// - with `#[prism::message(rkyv)]`, rkyv's `Archive`, `Serialize` and
///   `Deserialize` derives with `#[rkyv(crate = prism::rkyv)]`, for ops
///   whose codec is rkyv.
///
/// Other derives (`Debug`, `Clone`, …) stay yours to add.
///
/// # Examples
///
/// ```
/// #[prism::message]
/// #[derive(Debug, Clone, PartialEq)]
/// pub struct Point {
///     pub x: i32,
///     pub y: i32,
/// }
///
/// #[prism::message]
/// #[derive(Debug)]
/// pub enum Shape {
///     Dot(Point),
///     Line { from: Point, to: Point },
/// }
///
/// #[prism::message(rkyv)]
/// #[derive(Debug)]
/// pub struct Tensor {
///     pub shape: Vec<u64>,
///     pub data: Vec<f32>,
/// }
///
/// let schema = prism::reflect::Schema::of::<Shape>().unwrap();
/// assert!(schema.to_string().contains("Line"));
/// ```
#[proc_macro_attribute]
pub fn message(attr: TokenStream, item: TokenStream) -> TokenStream {
    message::message(attr.into(), item.into()).into()
}
