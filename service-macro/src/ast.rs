//! The model of a service trait: what the macro reads, before it checks
//! anything.
//!
//! Parsing is lenient: the model keeps the syn nodes it came from so that
//! [`valid`](crate::valid) can report every rule break with the right span.
//! Only what cannot be modelled at all (an unreadable option, a method name
//! no type name can be derived from) is reported here.

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::ext::IdentExt;
use syn::{
    Attribute, Expr, ExprLit, FnArg, GenericArgument, Ident, ItemTrait, Lit, LitStr, Meta, Pat,
    PathArguments, ReturnType, TraitItem, TraitItemFn, Type,
};

use crate::attr::{
    AccessDecl, CodecList, DatagramFallback, Execution, LagPolicy, MethodOptions, ServiceArgs,
    is_method_attr,
};
use crate::case;
use crate::ctxt::Errors;

/// A service trait and everything derived from it.
pub(crate) struct Service<'a> {
    /// The trait as written.
    pub(crate) item: &'a ItemTrait,
    /// The `#[prism::service(...)]` arguments.
    pub(crate) args: ServiceArgs,
    /// The package in op ids, or `""`.
    pub(crate) package: String,
    /// The service name on the wire: `name = ".."` or the trait name.
    pub(crate) name: String,
    /// The trait's doc text.
    pub(crate) doc: String,
    /// The generated module (`calc` for `Calc`).
    pub(crate) module: Ident,
    /// The generated client (`CalcClient`).
    pub(crate) client: Ident,
    /// The generated dispatcher (`CalcServer`).
    pub(crate) server: Ident,
    /// The methods, in declaration order.
    pub(crate) methods: Vec<Method<'a>>,
    /// Trait items that are not methods (always an error).
    pub(crate) others: Vec<&'a TraitItem>,
}

/// One `async fn` of the trait: one operation.
pub(crate) struct Method<'a> {
    /// The method as written.
    pub(crate) item: &'a TraitItemFn,
    /// The method name as it appears on the wire (`type` for `r#type`).
    pub(crate) name: String,
    /// The codecs the op accepts, in preference order: the method's
    /// `codec`/`codecs`, else the service's, else postcard.
    pub(crate) codecs: CodecList,
    /// What travels as the request.
    pub(crate) request_kind: RequestKind<'a>,
    /// `#[prism(spawn)]` / `#[prism(inline)]`, if given.
    pub(crate) execution: Option<Execution>,
    /// Where `#[prism(bare)]` was written, if it was.
    pub(crate) bare: Option<Span>,
    /// `#[prism(subscription ..)]`: a push subscription's lag policy.
    pub(crate) subscription: Option<(LagPolicy, Span)>,
    /// `#[prism(buffer = N)]`, with where it was written.
    pub(crate) buffer: Option<(usize, Span)>,
    /// `#[prism(max_message = N)]`: the op's largest message.
    pub(crate) max_message: Option<u64>,
    /// `#[prism(priority = N)]`: how urgently the op's output leaves.
    pub(crate) priority: Option<u8>,
    /// `#[prism(datagram ..)]`: a fire-and-forget op, and what it does on
    /// links without unreliable datagrams.
    pub(crate) datagram: Option<(DatagramFallback, Span)>,
    /// Who may call the op: its `permission`/`public`, else the service's;
    /// `None` is an error.
    pub(crate) access: Option<AccessDecl>,
    /// The method's doc text.
    pub(crate) doc: String,
    /// How the method takes `self`.
    pub(crate) receiver: Receiver<'a>,
    /// The arguments after the receiver.
    pub(crate) args: Vec<Arg<'a>>,
    /// What the method returns.
    pub(crate) output: Output<'a>,
    /// The request struct (`AddRequest`).
    pub(crate) request: Ident,
    /// The op id constant (`ADD`).
    pub(crate) op_const: Ident,
}

/// What travels as an op's request. The rule is written, not inferred: a
/// request is always a generated struct of the op's arguments, except for a
/// zero-copy view and for `#[prism(bare)]`.
pub(crate) enum RequestKind<'a> {
    /// A generated struct with one field per argument (`AddRequest`).
    Struct,
    /// `#[prism(bare)]` on an op with one argument: the argument itself
    /// travels, so a codec's own message type (`Segmented<H>`, a user
    /// codec's type) goes on the wire as is.
    Bare(&'a Type),
    /// The only argument is `Archived<T>`: `T` travels, and the handler
    /// reads it in place through the codec's view.
    View(&'a Type),
    /// The only argument is `Streaming<T>`: a stream of `T` travels, each
    /// item a message (`Streaming<Archived<T>>`: `T` items read in place).
    Stream(&'a Type),
}

/// How a method takes `self`.
pub(crate) enum Receiver<'a> {
    /// `&self`, the only accepted form.
    Shared,
    /// Any other receiver: `&mut self`, `self`, `self: Box<Self>`, `&'a self`.
    Other(&'a syn::Receiver),
    /// No receiver at all.
    Missing,
}

/// One argument after the receiver.
pub(crate) struct Arg<'a> {
    /// The pattern as written (valid only as a plain identifier).
    pub(crate) pat: &'a Pat,
    /// The binding; a placeholder when the pattern is not an identifier.
    pub(crate) ident: Ident,
    /// The argument type as written.
    pub(crate) ty: &'a Type,
    /// Attributes on the argument.
    pub(crate) attrs: &'a [Attribute],
    /// The argument is the handler's `&Context`, not part of the request.
    pub(crate) context: bool,
}

/// What a method returns.
pub(crate) enum Output<'a> {
    /// Nothing (`()`).
    Unit,
    /// A value that is the whole response.
    Plain(&'a Type),
    /// `Result<T, E>`: `T` is the response, `E` the application error.
    Fallible {
        /// The `T` of `Result<T, E>`.
        ok: &'a Type,
        /// The `E` of `Result<T, E>`.
        err: &'a Type,
    },
    /// `Streaming<T>`: a stream of `T` items.
    Stream(&'a Type),
    /// `Result<Streaming<T>, E>`: a stream of `T`, or `E` instead of it.
    FallibleStream {
        /// The `T` of `Streaming<T>`.
        item: &'a Type,
        /// The `E` of `Result<Streaming<T>, E>`.
        err: &'a Type,
    },
}

impl<'a> Service<'a> {
    /// Models `item` with the attribute arguments `attr`.
    pub(crate) fn from_syn(attr: TokenStream, item: &'a ItemTrait, errors: &mut Errors) -> Self {
        let args = ServiceArgs::parse(attr, errors);
        let trait_name = item.ident.unraw().to_string();
        let package = args.package.as_ref().map(LitStr::value).unwrap_or_default();
        let name = args
            .name
            .as_ref()
            .map_or_else(|| trait_name.clone(), LitStr::value);

        let span = item.ident.span();
        let module = module_ident(&case::snake(&trait_name), span).unwrap_or_else(|| {
            errors.spanned(
                &item.ident,
                format!("cannot derive a module name from `{trait_name}`"),
            );
            Ident::new("__prism_service", span)
        });

        let mut methods = Vec::new();
        let mut others = Vec::new();
        for trait_item in &item.items {
            match trait_item {
                TraitItem::Fn(method) => methods.push(Method::from_syn(method, &args, errors)),
                other => others.push(other),
            }
        }

        Service {
            item,
            args,
            package,
            name,
            doc: doc_string(&item.attrs),
            module,
            client: format_ident!("{}Client", trait_name, span = span),
            server: format_ident!("{}Server", trait_name, span = span),
            methods,
            others,
        }
    }
}

impl<'a> Method<'a> {
    fn from_syn(item: &'a TraitItemFn, service: &ServiceArgs, errors: &mut Errors) -> Self {
        let sig = &item.sig;
        let name = sig.ident.unraw().to_string();

        let mut receiver = Receiver::Missing;
        let mut args = Vec::new();
        for (index, input) in sig.inputs.iter().enumerate() {
            match input {
                FnArg::Receiver(recv) if index == 0 => {
                    let shared = recv.reference.as_ref().is_some_and(|(_, lt)| lt.is_none())
                        && recv.mutability.is_none()
                        && recv.colon_token.is_none();
                    receiver = if shared {
                        Receiver::Shared
                    } else {
                        Receiver::Other(recv)
                    };
                }
                FnArg::Receiver(recv) => {
                    errors.spanned(recv, "`self` must be the first argument");
                }
                FnArg::Typed(arg) => {
                    let ident = match &*arg.pat {
                        Pat::Ident(pat) => pat.ident.clone(),
                        _ => format_ident!("__arg{}", index),
                    };
                    args.push(Arg {
                        pat: &arg.pat,
                        ident,
                        ty: &arg.ty,
                        attrs: &arg.attrs,
                        context: is_context(&arg.ty),
                    });
                }
            }
        }

        let span = sig.ident.span();
        let camel = case::upper_camel(&name);
        let (request, op_const) = match (
            derived_ident(&format!("{camel}Request"), span),
            derived_ident(&case::screaming_snake(&name), span),
        ) {
            (Some(request), Some(op_const)) if !camel.is_empty() => (request, op_const),
            _ => {
                errors.spanned(
                    &sig.ident,
                    format!("cannot derive a request type name from the method name `{name}`"),
                );
                (format_ident!("__Request"), format_ident!("__OP"))
            }
        };

        let options = MethodOptions::parse(&item.attrs, errors);
        let codecs = options
            .codecs
            .clone()
            .or_else(|| service.codecs.clone())
            .unwrap_or_else(|| CodecList::postcard(span));
        let wire_args: Vec<&Arg<'_>> = args.iter().filter(|arg| !arg.context).collect();
        let request_kind = match wire_args.as_slice() {
            [only] => match (streaming_inner(only.ty), archived_inner(only.ty)) {
                (Some(item), _) => RequestKind::Stream(item),
                (None, Some(inner)) => RequestKind::View(inner),
                (None, None) if options.bare.is_some() => RequestKind::Bare(only.ty),
                (None, None) => RequestKind::Struct,
            },
            _ => RequestKind::Struct,
        };

        Method {
            item,
            name,
            codecs,
            request_kind,
            execution: options.execution,
            bare: options.bare,
            subscription: options.subscription,
            buffer: options.buffer,
            max_message: options.max_message,
            priority: options.priority,
            datagram: options.datagram,
            access: options.access.or_else(|| service.access.clone()),
            doc: doc_string(&item.attrs),
            receiver,
            args,
            output: Output::from_syn(&sig.output),
            request,
            op_const,
        }
    }

    /// The method's attributes minus `#[prism(...)]`, which the macro consumes.
    pub(crate) fn kept_attrs(&self) -> impl Iterator<Item = &'a Attribute> {
        self.item.attrs.iter().filter(|attr| !is_method_attr(attr))
    }

    /// The arguments that travel in the request: all but the `&Context`.
    pub(crate) fn wire_args(&self) -> impl Iterator<Item = &Arg<'a>> {
        self.args.iter().filter(|arg| !arg.context)
    }
}

impl<'a> Output<'a> {
    fn from_syn(output: &'a ReturnType) -> Self {
        let ty = match output {
            ReturnType::Default => return Output::Unit,
            ReturnType::Type(_, ty) => &**ty,
        };
        if let Type::Tuple(tuple) = ty
            && tuple.elems.is_empty()
        {
            return Output::Unit;
        }
        if let Type::Path(path) = ty
            && path.qself.is_none()
            && let Some(last) = path.path.segments.last()
            && last.ident == "Result"
            && let PathArguments::AngleBracketed(generics) = &last.arguments
            && generics.args.len() == 2
            && let (Some(GenericArgument::Type(ok)), Some(GenericArgument::Type(err))) =
                (generics.args.first(), generics.args.last())
        {
            return match streaming_inner(ok) {
                Some(item) => Output::FallibleStream { item, err },
                None => Output::Fallible { ok, err },
            };
        }
        match streaming_inner(ty) {
            Some(item) => Output::Stream(item),
            None => Output::Plain(ty),
        }
    }

    /// The response type (`T`, or the item type of a stream), or `None`
    /// for unit.
    pub(crate) fn response(&self) -> Option<&'a Type> {
        match self {
            Output::Unit => None,
            Output::Plain(ty)
            | Output::Fallible { ok: ty, .. }
            | Output::Stream(ty)
            | Output::FallibleStream { item: ty, .. } => Some(ty),
        }
    }

    /// The application error type (`E` of `Result<T, E>`), if any.
    pub(crate) fn error(&self) -> Option<&'a Type> {
        match self {
            Output::Fallible { err, .. } | Output::FallibleStream { err, .. } => Some(err),
            Output::Unit | Output::Plain(_) | Output::Stream(_) => None,
        }
    }

    /// Whether the response is a stream.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Output::Stream(_) | Output::FallibleStream { .. })
    }
}

impl Method<'_> {
    /// gRPC's four kinds, from whether each direction is a stream, or a
    /// datagram op.
    pub(crate) fn kind(&self) -> OpKind {
        if self.datagram.is_some() {
            return OpKind::Datagram;
        }
        match (
            matches!(self.request_kind, RequestKind::Stream(_)),
            self.output.is_stream(),
        ) {
            (false, false) => OpKind::Unary,
            (false, true) => OpKind::ServerStream,
            (true, false) => OpKind::ClientStream,
            (true, true) => OpKind::Bidi,
        }
    }
}

/// The kind of an op, as `prism::reflect::OpKind` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Unary,
    ServerStream,
    ClientStream,
    Bidi,
    Datagram,
}

impl OpKind {
    /// The variant's name in `::prism::reflect::OpKind`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            OpKind::Unary => "Unary",
            OpKind::ServerStream => "ServerStream",
            OpKind::ClientStream => "ClientStream",
            OpKind::Bidi => "Bidi",
            OpKind::Datagram => "Datagram",
        }
    }
}

/// Whether `ty` is a reference to `Context` (any path ending so, such as
/// `&prism::Context`): the handler's context, not a request field.
pub(crate) fn is_context(ty: &Type) -> bool {
    if let Type::Reference(reference) = ty
        && let Type::Path(path) = &*reference.elem
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
    {
        return last.ident == "Context" && last.arguments.is_none();
    }
    false
}

/// `T` when `ty` is written `Archived<T>` (any path ending so).
pub(crate) fn archived_inner(ty: &Type) -> Option<&Type> {
    generic_inner(ty, "Archived")
}

/// `T` when `ty` is written `Streaming<T>` (any path ending so).
pub(crate) fn streaming_inner(ty: &Type) -> Option<&Type> {
    generic_inner(ty, "Streaming")
}

/// `T` when `ty` is written `<name><T>` (any path ending so).
fn generic_inner<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    if let Type::Path(path) = ty
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.ident == name
        && let PathArguments::AngleBracketed(generics) = &last.arguments
        && generics.args.len() == 1
        && let Some(GenericArgument::Type(inner)) = generics.args.first()
    {
        return Some(inner);
    }
    None
}

/// An identifier from a derived name, or `None` if the name is not one
/// (empty, or starting with a digit).
fn derived_ident(name: &str, span: Span) -> Option<Ident> {
    let mut ident: Ident = syn::parse_str(name).ok()?;
    ident.set_span(span);
    Some(ident)
}

/// The module identifier for a snake-case name; keywords become raw
/// identifiers (`r#type`), and the few that cannot be raw get a `_` suffix.
fn module_ident(name: &str, span: Span) -> Option<Ident> {
    if let Some(ident) = derived_ident(name, span) {
        return Some(ident);
    }
    match name {
        "self" | "super" | "crate" => Some(Ident::new(&format!("{name}_"), span)),
        _ if name.starts_with(|c: char| c.is_alphabetic() || c == '_') && name != "_" => {
            Some(Ident::new_raw(name, span))
        }
        _ => None,
    }
}

/// The text of `#[doc = "..."]` attributes (what `///` comments become),
/// with the common indentation and surrounding blank lines removed.
/// Docs that are not string literals (`#[doc = include_str!(..)]`) are skipped.
pub(crate) fn doc_string(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("doc")) {
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) = &nv.value
        {
            lines.extend(lit.value().lines().map(str::to_owned));
        }
    }
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = lines
        .iter()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect();
    lines.join("\n").trim_matches('\n').to_owned()
}
