//! Static descriptions of operations, built in `const` context
//! by the service macro.

use core::fmt;

use facet::Shape;

use crate::fingerprint::{fingerprint, op_fingerprint};
use crate::{CodecId, OpId, OpKind, ReflectError, Schema};

/// Everything Prism knows about one operation, usable in a `static`.
///
/// Build it with [`OpDescriptor::new`] and the `const` `with_*` setters.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_reflect::{CodecId, OpDescriptor, OpId, OpKind};
///
/// static ADD: OpDescriptor = OpDescriptor::new(
///     "Calc",
///     "add",
///     OpId::from_name("demo", "Calc", "add"),
///     OpKind::Unary,
///     <(i32, i32) as Facet>::SHAPE,
///     <i32 as Facet>::SHAPE,
/// )
/// .with_package("demo")
/// .with_codecs(&[CodecId::POSTCARD, CodecId::RKYV])
/// .with_permission("calc.use")
/// .with_doc("Adds two numbers.");
///
/// assert_eq!(ADD.full_name(), "demo.Calc/add");
/// assert_eq!(ADD.permission(), Some("calc.use"));
/// assert!(ADD.fingerprint().is_ok());
/// ```
#[derive(Clone, Copy)]
pub struct OpDescriptor {
    package: &'static str,
    service: &'static str,
    method: &'static str,
    id: OpId,
    kind: OpKind,
    request: &'static Shape,
    response: &'static Shape,
    error: Option<&'static Shape>,
    codecs: &'static [CodecId],
    access: Option<Access>,
    max_message: Option<u64>,
    priority: u8,
    subscription: bool,
    reliable_fallback: bool,
    doc: &'static str,
}

/// Who may call an op (or open its stream): declared on every op.
///
/// `#[prism(permission = "..")]` and `#[prism(public)]` (on the op, or as
/// the service's default) set it; an op with neither does not compile, and
/// a server refuses to build with a hand-made descriptor that declares
/// neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone may call it, authenticated or not: a login or health op.
    Public,
    /// Only a caller whose channel identity holds this permission.
    Permission(&'static str),
}

impl OpDescriptor {
    /// An op with no package, no error type, no doc, postcard as its only
    /// codec, and its access not declared yet (see
    /// [`OpDescriptor::with_permission`] and [`OpDescriptor::public`]).
    pub const fn new(
        service: &'static str,
        method: &'static str,
        id: OpId,
        kind: OpKind,
        request: &'static Shape,
        response: &'static Shape,
    ) -> Self {
        OpDescriptor {
            package: "",
            service,
            method,
            id,
            kind,
            request,
            response,
            error: None,
            codecs: &[CodecId::POSTCARD],
            access: None,
            max_message: None,
            priority: OpDescriptor::DEFAULT_PRIORITY,
            subscription: false,
            reliable_fallback: false,
            doc: "",
        }
    }

    /// Sets the package (`"demo"` in `demo.Calc/add`).
    pub const fn with_package(mut self, package: &'static str) -> Self {
        self.package = package;
        self
    }

    /// Sets the application error type (the `E` of `Result<T, E>`).
    pub const fn with_error(mut self, error: &'static Shape) -> Self {
        self.error = Some(error);
        self
    }

    /// Sets the codecs the op accepts, most preferred first.
    pub const fn with_codecs(mut self, codecs: &'static [CodecId]) -> Self {
        self.codecs = codecs;
        self
    }

    /// Sets the permission a caller must hold.
    pub const fn with_permission(mut self, permission: &'static str) -> Self {
        self.access = Some(Access::Permission(permission));
        self
    }

    /// Declares the op public: anyone may call it.
    pub const fn public(mut self) -> Self {
        self.access = Some(Access::Public);
        self
    }

    /// Sets the largest message (a request, a response or one stream item)
    /// the op takes; the server's or channel's limit applies without it.
    /// It can only tighten that limit (the session's `max_message` is
    /// checked first): an op that takes more needs the session's raised
    /// too. A limit, not part of the wire meaning: not in the fingerprint.
    pub const fn with_max_message(mut self, max_message: u64) -> Self {
        self.max_message = Some(max_message);
        self
    }

    /// The priority of an op that sets none: the middle level.
    pub const DEFAULT_PRIORITY: u8 = 3;

    /// The most urgent priority level.
    pub const MAX_PRIORITY: u8 = 7;

    /// Sets how urgently the op's stream items and large messages leave
    /// when other channels also have output: 0 (least) to
    /// [`OpDescriptor::MAX_PRIORITY`]; higher values are taken as the
    /// maximum. Both ends schedule their own sending by it
    /// (`#[prism(priority = N)]`). Not part of the wire meaning: not in the
    /// fingerprint.
    pub const fn with_priority(mut self, priority: u8) -> Self {
        self.priority = if priority > OpDescriptor::MAX_PRIORITY {
            OpDescriptor::MAX_PRIORITY
        } else {
            priority
        };
        self
    }

    /// How urgently the op's output leaves: 0 (least) to 7, 3 unless set.
    pub const fn priority(&self) -> u8 {
        self.priority
    }

    /// Marks a server stream as a push subscription
    /// (`#[prism(subscription)]`). Not part of the wire meaning: not in the
    /// fingerprint.
    pub const fn subscription(mut self) -> Self {
        self.subscription = true;
        self
    }

    /// Whether the op is a push subscription.
    pub const fn is_subscription(&self) -> bool {
        self.subscription
    }

    /// Lets a [datagram op](OpKind::Datagram) travel reliably, in band, on
    /// links without unreliable datagrams (`#[prism(datagram =
    /// "reliable")]`); without it, such a link is refused at the handshake.
    /// Not part of the wire meaning: not in the fingerprint.
    pub const fn with_reliable_fallback(mut self) -> Self {
        self.reliable_fallback = true;
        self
    }

    /// Whether a datagram op may travel reliably on links without
    /// unreliable datagrams.
    pub const fn reliable_fallback(&self) -> bool {
        self.reliable_fallback
    }

    /// Whether the op needs a link with unreliable datagrams: a datagram
    /// op without a reliable fallback.
    pub const fn needs_datagrams(&self) -> bool {
        matches!(self.kind, OpKind::Datagram) && !self.reliable_fallback
    }

    /// The op's own largest message, if it set one.
    pub const fn max_message(&self) -> Option<u64> {
        self.max_message
    }

    /// Sets the doc text.
    pub const fn with_doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    /// The package, or `""`.
    pub const fn package(&self) -> &'static str {
        self.package
    }

    /// The service name (`Calc`).
    pub const fn service(&self) -> &'static str {
        self.service
    }

    /// The method name (`add`).
    pub const fn method(&self) -> &'static str {
        self.method
    }

    /// The op id carried on the wire.
    pub const fn id(&self) -> OpId {
        self.id
    }

    /// Unary or streaming.
    pub const fn kind(&self) -> OpKind {
        self.kind
    }

    /// The request message shape.
    pub const fn request(&self) -> &'static Shape {
        self.request
    }

    /// The response (or stream item) shape.
    pub const fn response(&self) -> &'static Shape {
        self.response
    }

    /// The application error shape, if the method returns `Result`.
    pub const fn error(&self) -> Option<&'static Shape> {
        self.error
    }

    /// The accepted codecs, most preferred first.
    pub const fn codecs(&self) -> &'static [CodecId] {
        self.codecs
    }

    /// The required permission; `None` for a public op (or one that
    /// declares no access).
    pub const fn permission(&self) -> Option<&'static str> {
        match self.access {
            Some(Access::Permission(permission)) => Some(permission),
            Some(Access::Public) | None => None,
        }
    }

    /// Who may call the op; `None` when it declares nothing.
    pub const fn access(&self) -> Option<Access> {
        self.access
    }

    /// The doc text, or `""`.
    pub const fn doc(&self) -> &'static str {
        self.doc
    }

    /// `package.Service/method`, or `Service/method` without a package.
    pub fn full_name(&self) -> String {
        if self.package.is_empty() {
            format!("{}/{}", self.service, self.method)
        } else {
            format!("{}.{}/{}", self.package, self.service, self.method)
        }
    }

    /// The schema of the request.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when the type has no wire schema.
    pub fn request_schema(&self) -> Result<Schema, ReflectError> {
        Schema::from_shape(self.request)
    }

    /// The schema of the response.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when the type has no wire schema.
    pub fn response_schema(&self) -> Result<Schema, ReflectError> {
        Schema::from_shape(self.response)
    }

    /// The schema of the application error, if any.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when the type has no wire schema.
    pub fn error_schema(&self) -> Result<Option<Schema>, ReflectError> {
        self.error.map(Schema::from_shape).transpose()
    }

    /// The (cached) fingerprint of the request type.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when the type has no wire schema.
    pub fn request_fingerprint(&self) -> Result<u64, ReflectError> {
        fingerprint(self.request)
    }

    /// The (cached) fingerprint of the response type.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when the type has no wire schema.
    pub fn response_fingerprint(&self) -> Result<u64, ReflectError> {
        fingerprint(self.response)
    }

    /// The op fingerprint peers compare at handshake: it changes when the
    /// kind or the request, response or error wire types change, and not
    /// when names, codecs, permission or docs do.
    ///
    /// # Errors
    ///
    /// [`ReflectError::Unsupported`] when one of the types has no wire schema.
    pub fn fingerprint(&self) -> Result<u64, ReflectError> {
        let error = self.error.map(fingerprint).transpose()?;
        Ok(op_fingerprint(
            self.kind,
            self.request_fingerprint()?,
            self.response_fingerprint()?,
            error,
        ))
    }
}

impl fmt::Debug for OpDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpDescriptor")
            .field("name", &self.full_name())
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("request", &format_args!("{}", self.request))
            .field("response", &format_args!("{}", self.response))
            .field("error", &self.error.map(|e| e.to_string()))
            .field("codecs", &self.codecs)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
