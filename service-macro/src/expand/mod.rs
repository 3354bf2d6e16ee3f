//! Code generation: one function per emitted item.
//!
//! [`service`] is the whole macro on `proc_macro2` tokens, so it can be
//! tested without a compiler run. Everything it emits names `::prism::…`,
//! `::core::…` or user tokens only, so it compiles under
//! `#![no_implicit_prelude]`.

mod client;
mod module;
mod server;
#[cfg(test)]
mod tests;

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Item, ItemTrait, Pat, ReturnType, TraitItem, Visibility};

use crate::ast::{Method, Service};
use crate::attr::is_method_attr;
use crate::ctxt::Errors;
use crate::relocate::{self, Relocate};
use crate::valid;

/// Expands `#[prism::service(attr)] item`.
///
/// On error the output is every error as a `compile_error!`, spanned on the
/// offending tokens, plus a plain copy of the trait (see [`fallback_trait`])
/// so that code naming the trait does not pile up follow-on errors.
pub(crate) fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Trait(item)) => item,
        Ok(other) => return not_a_trait(&other),
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let service = Service::from_syn(attr, &item, &mut errors);
    valid::check(&service, &mut errors);
    match errors.finish() {
        Ok(()) => Gen::new(&service).all(),
        Err(error) => {
            let fallback = fallback_trait(&item);
            let error = error.to_compile_error();
            quote!(#fallback #error)
        }
    }
}

/// The span of an item's keyword (`fn`, `struct`, `impl`, …), where a
/// "this attribute goes on another kind of item" error points.
pub(crate) fn keyword_span(item: &Item) -> proc_macro2::Span {
    match item {
        Item::Fn(item) => item.sig.fn_token.span,
        Item::Struct(item) => item.struct_token.span,
        Item::Enum(item) => item.enum_token.span,
        Item::Trait(item) => item.trait_token.span,
        Item::Union(item) => item.union_token.span,
        Item::Impl(item) => item.impl_token.span,
        Item::Mod(item) => item.mod_token.span,
        Item::Type(item) => item.type_token.span,
        Item::TraitAlias(item) => item.trait_token.span,
        other => other.span(),
    }
}

/// The item unchanged plus an error on its keyword.
fn not_a_trait(item: &Item) -> TokenStream {
    let error = syn::Error::new(
        keyword_span(item),
        "`#[prism::service]` goes on a trait: `pub trait Calc { async fn add(&self, a: i64, b: i64) -> i64; }`",
    )
    .to_compile_error();
    quote!(#item #error)
}

/// The trait as the user wrote it, minus what would raise errors of its own
/// next to ours: `#[prism(...)]` attributes, default bodies, `const`,
/// `extern` and `...` are dropped, and argument patterns become `_`.
fn fallback_trait(item: &ItemTrait) -> ItemTrait {
    let mut item = item.clone();
    item.attrs.retain(|attr| !is_method_attr(attr));
    item.attrs
        .push(syn::parse_quote!(#[allow(async_fn_in_trait)]));
    for trait_item in &mut item.items {
        if let TraitItem::Fn(method) = trait_item {
            method.attrs.retain(|attr| !is_method_attr(attr));
            method.sig.constness = None;
            method.sig.abi = None;
            method.sig.variadic = None;
            if method.default.take().is_some() {
                method.semi_token = Some(Default::default());
            }
            for input in &mut method.sig.inputs {
                if let FnArg::Typed(arg) = input {
                    *arg.pat = Pat::Wild(syn::PatWild {
                        attrs: Vec::new(),
                        underscore_token: Default::default(),
                    });
                }
            }
        }
    }
    item
}

/// What every item generator needs: the checked model plus derived names.
struct Gen<'s, 'a> {
    service: &'s Service<'a>,
    /// The trait's visibility, for items next to the trait.
    vis: &'a Visibility,
    /// The same reach from inside the generated module.
    inner_vis: Visibility,
    /// Rewrites user types for use inside the generated module.
    relocate: Relocate,
    /// The dispatcher's type parameter (`S`, unless the trait is named `S`).
    param: Ident,
}

impl<'s, 'a> Gen<'s, 'a> {
    fn new(service: &'s Service<'a>) -> Self {
        let item = service.item;
        let mut shadowed = vec!["OPS".to_owned(), "SERVICE".to_owned()];
        for method in &service.methods {
            shadowed.push(method.request.to_string());
            shadowed.push(method.op_const.to_string());
        }
        let param = if item.ident == "S" {
            format_ident!("__S")
        } else {
            format_ident!("S")
        };
        Gen {
            service,
            vis: &item.vis,
            inner_vis: relocate::visibility(&item.vis),
            relocate: Relocate::new(shadowed),
            param,
        }
    }

    /// Every generated item, in order.
    fn all(&self) -> TokenStream {
        let mut out = self.service_trait();
        out.extend(self.module());
        out.extend(self.client_struct());
        out.extend(self.client_impl());
        out.extend(self.server_struct());
        out.extend(self.server_impl());
        out.extend(self.server_clone());
        out.extend(self.server_debug());
        out.extend(self.server_dispatch());
        out
    }

    /// The trait itself: `Send + Sync + 'static`, each `async fn` turned
    /// into a `fn` returning a `Send` future.
    fn service_trait(&self) -> TokenStream {
        let item = self.service.item;
        let attrs = &item.attrs;
        let vis = self.vis;
        let trait_token = &item.trait_token;
        let ident = &item.ident;
        let methods = self
            .service
            .methods
            .iter()
            .map(|method| self.trait_method(method));
        quote! {
            #(#attrs)*
            #vis #trait_token #ident: ::core::marker::Send + ::core::marker::Sync + 'static {
                #(#methods)*
            }
        }
    }

    fn trait_method(&self, method: &Method<'_>) -> TokenStream {
        let attrs = method.kept_attrs();
        let sig = &method.item.sig;
        let fn_token = &sig.fn_token;
        let ident = &sig.ident;
        let inputs = &sig.inputs;
        let (output, span) = match &sig.output {
            ReturnType::Default => (quote!(()), ident.span()),
            ReturnType::Type(_, ty) => (ty.to_token_stream(), ty.span()),
        };
        let future = quote_spanned! {span=>
            impl ::core::future::Future<Output = #output> + ::core::marker::Send
        };
        quote! {
            #(#attrs)*
            #fn_token #ident(#inputs) -> #future;
        }
    }

    /// The trait's name as written, for generated docs.
    fn trait_name(&self) -> String {
        self.service.item.ident.to_string()
    }

    /// `package.Name`, or `Name`.
    fn full_name(&self) -> String {
        if self.service.package.is_empty() {
            self.service.name.clone()
        } else {
            format!("{}.{}", self.service.package, self.service.name)
        }
    }
}
