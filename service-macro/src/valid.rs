//! The rules a service trait must follow, checked on the model. Every
//! broken rule is reported, each spanned on the offending tokens.

use std::collections::{HashMap, HashSet};

use syn::visit::{self, Visit};
use syn::{Pat, TraitItem, Type};

use crate::ast::{
    Method, OpKind, Output, Receiver, RequestKind, Service, archived_inner, streaming_inner,
};
use crate::attr::LagPolicy;
use crate::attr::is_method_attr;
use crate::ctxt::Errors;

/// Names the generated module uses for itself; a method must not derive
/// its op constant from one of them.
const RESERVED_CONSTS: &[&str] = &["OPS", "SERVICE"];

/// Inherent methods of the generated client; a service method must not
/// take one of these names.
const RESERVED_CLIENT_METHODS: &[&str] = &["new", "channel"];

/// Checks `service` against every rule, reporting each break to `errors`.
pub(crate) fn check(service: &Service<'_>, errors: &mut Errors) {
    check_trait(service, errors);
    check_args(service, errors);
    for method in &service.methods {
        check_signature(method, errors);
        check_receiver(method, errors);
        check_method_attrs(method, errors);
        check_access(method, errors);
        check_arguments(method, errors);
        check_views(method, errors);
        check_streams(method, errors);
        check_subscription(method, errors);
        check_datagram(method, errors);
        check_options(method, errors);
        check_output(method, errors);
    }
    check_names(service, errors);
}

fn check_trait(service: &Service<'_>, errors: &mut Errors) {
    let item = service.item;
    if let Some(unsafety) = &item.unsafety {
        errors.spanned(unsafety, "a service trait cannot be `unsafe`");
    }
    if let Some(auto) = &item.auto_token {
        errors.spanned(auto, "a service trait cannot be an `auto` trait");
    }
    if !item.generics.params.is_empty() {
        errors.spanned(&item.generics, "a service trait cannot be generic");
    }
    if let Some(where_clause) = &item.generics.where_clause {
        errors.spanned(where_clause, "a service trait cannot have a `where` clause");
    }
    if !item.supertraits.is_empty() {
        errors.spanned(
            &item.supertraits,
            "a service trait takes no supertraits: the macro adds `Send + Sync + 'static` itself",
        );
    }
    for attr in item.attrs.iter().filter(|attr| is_method_attr(attr)) {
        errors.spanned(
            attr,
            "`#[prism(...)]` belongs on methods; service options go in `#[prism::service(...)]`",
        );
    }
    for other in &service.others {
        let message = match other {
            TraitItem::Const(_) => "associated constants are not supported in a service trait",
            TraitItem::Type(_) => "associated types are not supported in a service trait",
            TraitItem::Macro(_) => "macro invocations are not supported in a service trait",
            _ => "only `async fn` methods are supported in a service trait",
        };
        errors.spanned(other, message);
    }
}

/// Checks the values of `#[prism::service(package = .., name = ..)]`.
fn check_args(service: &Service<'_>, errors: &mut Errors) {
    if let Some(package) = &service.args.package {
        let value = package.value();
        if !value.is_empty() && !value.split('.').all(is_plain_name) {
            errors.spanned(
                package,
                format!(
                    "invalid package `{value}`: expected names separated by dots, like \"acme.billing\""
                ),
            );
        }
    }
    if let Some(name) = &service.args.name {
        let value = name.value();
        if !is_plain_name(&value) {
            errors.spanned(
                name,
                format!(
                    "invalid service name `{value}`: expected letters, digits and `_`, like \"Calculator\""
                ),
            );
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what may sit between the `.` and `/` of an op name.
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_signature(method: &Method<'_>, errors: &mut Errors) {
    let sig = &method.item.sig;
    if let Some(constness) = &sig.constness {
        errors.spanned(constness, "a service method cannot be `const`");
    }
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            format!(
                "service methods must be `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, "a service method cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "a service method cannot have an `extern` ABI");
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "a service method cannot be variadic");
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            "a service method cannot be generic: requests and responses need concrete types",
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.spanned(
            where_clause,
            "a service method cannot have a `where` clause",
        );
    }
    if let Some(body) = &method.item.default {
        errors.spanned(
            body,
            "a service method cannot have a default body: implement it in the `impl` instead",
        );
    }
}

fn check_receiver(method: &Method<'_>, errors: &mut Errors) {
    match method.receiver {
        Receiver::Shared => {}
        Receiver::Other(recv) => {
            let message = if recv.colon_token.is_some() {
                "write the receiver as `&self`: the server calls methods through a shared reference"
            } else if recv.mutability.is_some() && recv.reference.is_some() {
                "service methods take `&self`, not `&mut self`: the server calls them concurrently"
            } else if recv.reference.is_none() {
                "service methods take `&self`, not `self` by value: the server keeps the service"
            } else {
                "write the receiver as `&self`, without a lifetime"
            };
            errors.spanned(recv, message);
        }
        Receiver::Missing => errors.spanned(
            &method.item.sig,
            "a service method takes `&self` as its first argument",
        ),
    }
}

fn check_method_attrs(method: &Method<'_>, errors: &mut Errors) {
    for attr in &method.item.attrs {
        if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
            errors.spanned(
                attr,
                "`#[cfg]` is not supported on service methods: the op table is fixed when the macro runs",
            );
        }
    }
}

/// Every op says who may call it: closed unless declared otherwise.
fn check_access(method: &Method<'_>, errors: &mut Errors) {
    if method.access.is_none() {
        errors.spanned(
            &method.item.sig.ident,
            format!(
                "op `{}` declares no access: add `#[prism(permission = \"..\")]` (the permission a caller needs) or `#[prism(public)]` (anyone may call it), or give the service a default with `#[prism::service(permission = \"..\")]`",
                method.name
            ),
        );
    }
}

fn check_arguments(method: &Method<'_>, errors: &mut Errors) {
    let mut seen = HashSet::new();
    let mut context = None;
    for arg in &method.args {
        if let Some(attr) = arg.attrs.first() {
            errors.spanned(
                attr,
                "attributes on service method arguments are not supported",
            );
        }
        match arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.mutability.is_none() && pat.subpat.is_none() => {
                if !seen.insert(pat.ident.to_string()) {
                    errors.spanned(&pat.ident, format!("duplicate argument `{}`", pat.ident));
                }
            }
            Pat::Ident(pat) if pat.by_ref.is_some() => errors.spanned(
                pat,
                format!(
                    "an argument must be a plain name: write `{}` (arguments are moved into the request)",
                    pat.ident
                ),
            ),
            Pat::Ident(pat) if pat.mutability.is_some() => errors.spanned(
                pat,
                format!(
                    "an argument must be a plain name: write `{}` here and `mut {}` in your `impl`",
                    pat.ident, pat.ident
                ),
            ),
            Pat::Wild(wild) => errors.spanned(
                wild,
                "an argument needs a name: it becomes a field of the request struct",
            ),
            other => errors.spanned(
                other,
                "an argument must be a plain name like `a: i64`: it becomes a field of the request struct",
            ),
        }
        if arg.context {
            check_context(arg.ty, &mut context, errors);
        } else {
            check_type(arg.ty, "argument", errors);
        }
    }
}

/// The handler's context is taken once, as `&Context`.
fn check_context<'a>(ty: &'a Type, seen: &mut Option<&'a Type>, errors: &mut Errors) {
    if seen.replace(ty).is_some() {
        errors.spanned(ty, "a method takes the `&Context` at most once");
        return;
    }
    if let Type::Reference(reference) = ty
        && (reference.mutability.is_some() || reference.lifetime.is_some())
    {
        errors.spanned(
            ty,
            "take the handler's context as `&Context`: shared, without a lifetime",
        );
    }
}

/// `bare` needs exactly one argument that travels. (`spawn` with `inline`
/// is reported where the options are read.)
fn check_options(method: &Method<'_>, errors: &mut Errors) {
    if let Some(span) = method.bare {
        let wire = method.wire_args().count();
        if wire != 1 {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`bare` sends an op's only argument as it is, but this op has {wire} arguments (besides `&Context`)"
                ),
            ));
        } else if let RequestKind::View(_) = method.request_kind {
            errors.push(syn::Error::new(
                span,
                "an `Archived<T>` argument already travels as it is: remove `bare`",
            ));
        } else if let RequestKind::Stream(_) = method.request_kind {
            errors.push(syn::Error::new(
                span,
                "a stream's items already travel as they are: remove `bare`",
            ));
        }
    }
}

/// A datagram op sends one message and gets nothing back, on no channel.
fn check_datagram(method: &Method<'_>, errors: &mut Errors) {
    let Some((_, span)) = method.datagram else {
        return;
    };
    if let RequestKind::Stream(_) = method.request_kind {
        errors.push(syn::Error::new(
            span,
            "a datagram op sends one message: its request cannot be a stream",
        ));
    }
    if !matches!(method.output, Output::Unit) {
        errors.push(syn::Error::new(
            span,
            "a datagram op gets nothing back, not even an error: it returns `()`",
        ));
    }
    if method.priority.is_some() {
        errors.push(syn::Error::new(
            span,
            "a datagram travels on no channel, so nothing of it is scheduled: remove `priority`",
        ));
    }
}

/// A subscription is a server stream; `buffer` sizes a drop-oldest one.
fn check_subscription(method: &Method<'_>, errors: &mut Errors) {
    if let Some((_, span)) = method.subscription
        && method.kind() != OpKind::ServerStream
    {
        errors.push(syn::Error::new(
            span,
            "a subscription is a server stream: return `Streaming<T>` (or `Result<Streaming<T>, E>`) from an op whose request is not a stream",
        ));
    }
    if let Some((_, span)) = method.buffer {
        match method.subscription {
            Some((LagPolicy::DropOldest, _)) => {}
            Some((LagPolicy::Wait, _)) => errors.push(syn::Error::new(
                span,
                "a `wait` subscription holds nothing for a slow reader: remove `buffer`",
            )),
            None => errors.push(syn::Error::new(
                span,
                "`buffer` sizes a subscription's backlog: add `subscription`",
            )),
        }
    }
}

/// `Archived<T>` (a zero-copy view) must be the op's only argument, and the
/// op must have one codec: the view is that codec's.
fn check_views(method: &Method<'_>, errors: &mut Errors) {
    if method.wire_args().count() > 1 {
        for arg in method.wire_args() {
            if crate::ast::archived_inner(arg.ty).is_some() {
                errors.spanned(
                    arg.ty,
                    "a zero-copy view (`Archived<T>`) must be the op's only argument",
                );
            }
        }
    }
    if let RequestKind::View(_) = method.request_kind
        && method.codecs.codecs.len() != 1
    {
        errors.push(syn::Error::new(
            method.codecs.span,
            "an op whose argument is a zero-copy view (`Archived<T>`) takes exactly one codec, the one whose view it is",
        ));
    }
}

/// A request stream (`Streaming<T>`) is the op's only argument; a stream
/// of views takes one codec; a returned stream carries owned items; a
/// server stream decodes its request (no `Archived<T>` argument).
fn check_streams(method: &Method<'_>, errors: &mut Errors) {
    if method.wire_args().count() > 1 {
        for arg in method.wire_args() {
            if streaming_inner(arg.ty).is_some() {
                errors.spanned(
                    arg.ty,
                    "a stream argument (`Streaming<T>`) must be the op's only argument (besides `&Context`)",
                );
            }
        }
    }
    if let RequestKind::Stream(item) = method.request_kind {
        if archived_inner(item).is_some() && method.codecs.codecs.len() != 1 {
            errors.push(syn::Error::new(
                method.codecs.span,
                "an op whose items are zero-copy views (`Streaming<Archived<T>>`) takes exactly one codec, the one whose view it is",
            ));
        }
        if streaming_inner(item).is_some() {
            errors.spanned(item, "a stream of streams cannot travel: stream the items");
        }
    }
    if let Some(item) = match method.output {
        Output::Stream(item) | Output::FallibleStream { item, .. } => Some(item),
        Output::Unit | Output::Plain(_) | Output::Fallible { .. } => None,
    } {
        if archived_inner(item).is_some() {
            errors.spanned(
                item,
                "a handler streams owned items: write `Streaming<T>`; callers decode them",
            );
        }
        if let RequestKind::View(ty) = method.request_kind {
            errors.spanned(
                ty,
                "a server-stream op decodes its request: take `T`, not `Archived<T>`",
            );
        }
    }
}

fn check_output(method: &Method<'_>, errors: &mut Errors) {
    if let syn::ReturnType::Type(_, ty) = &method.item.sig.output {
        check_type(ty, "return", errors);
    }
}

/// Reports borrowed, opaque and `Self`-relative parts of a request or
/// response type: they cannot travel in an owned message.
fn check_type(ty: &Type, role: &'static str, errors: &mut Errors) {
    TypeRules { role, errors }.visit_type(ty);
}

struct TypeRules<'e> {
    role: &'static str,
    errors: &'e mut Errors,
}

impl<'ast> Visit<'ast> for TypeRules<'_> {
    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        let message = format!(
            "{} types must be owned: a reference cannot travel in a message (use `String` for `&str`, `Vec<T>` for `&[T]`)",
            self.role
        );
        self.errors.spanned(reference, message);
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'ast syn::TypeImplTrait) {
        self.errors.spanned(
            impl_trait,
            format!(
                "`impl Trait` is not supported in {} types: name a concrete type",
                self.role
            ),
        );
    }

    fn visit_type_bare_fn(&mut self, _: &'ast syn::TypeBareFn) {
        // A fn pointer's own signature may borrow; it is not a message field.
    }

    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        if lifetime.ident != "static" {
            self.errors.spanned(
                lifetime,
                format!(
                    "only `'static` lifetimes are allowed in {} types: requests and responses are owned",
                    self.role
                ),
            );
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first()
            && first.ident == "Self"
        {
            self.errors.spanned(
                &first.ident,
                format!("`Self` cannot appear in {} types: name the type", self.role),
            );
        }
        visit::visit_path(self, path);
    }
}

/// Generated names must not collide with each other or with the names the
/// generated items use themselves.
fn check_names(service: &Service<'_>, errors: &mut Errors) {
    let mut requests: HashMap<String, &Method<'_>> = HashMap::new();
    for method in &service.methods {
        let ident = &method.item.sig.ident;
        let request = method.request.to_string();
        if let Some(first) = requests.get(&request.to_lowercase()) {
            errors.spanned(
                ident,
                format!(
                    "`{}` and `{}` both generate `{}::{request}` and `{}::{}` (generated names compare case-insensitively); rename one",
                    first.item.sig.ident, ident, service.module, service.module, method.op_const
                ),
            );
        } else {
            requests.insert(request.to_lowercase(), method);
        }

        let op_const = method.op_const.to_string();
        if RESERVED_CONSTS.contains(&op_const.as_str()) {
            errors.spanned(
                ident,
                format!(
                    "a method named `{ident}` would generate `{}::{op_const}`, which holds the service's own metadata; rename the method",
                    service.module
                ),
            );
        }
        if RESERVED_CLIENT_METHODS.contains(&method.name.as_str()) {
            errors.spanned(
                ident,
                format!(
                    "a method named `{ident}` would clash with `{}::{ident}`; rename the method",
                    service.client
                ),
            );
        }
    }
}
