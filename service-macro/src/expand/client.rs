//! The generated client (`CalcClient`): one method per op, each returning
//! a call to `.await`: a `::prism::client::UnaryCall`, a `StreamCall` (the
//! response is a stream), a `ClientStreamCall` (the request is) or a
//! `DatagramCall` (nothing comes back).

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote};

use super::Gen;
use crate::ast::{Method, OpKind, Output, RequestKind, archived_inner};

impl Gen<'_, '_> {
    /// `pub struct CalcClient { channel: ::prism::Channel }`.
    pub(super) fn client_struct(&self) -> TokenStream {
        let vis = self.vis;
        let client = &self.service.client;
        let doc = format!("Client for the `{}` service.", self.trait_name());
        quote! {
            #[doc = #doc]
            #[derive(::core::clone::Clone, ::core::fmt::Debug)]
            #[allow(dead_code)]
            #vis struct #client {
                channel: ::prism::Channel,
            }
        }
    }

    /// `impl CalcClient { new, channel, one method per op }`.
    pub(super) fn client_impl(&self) -> TokenStream {
        let vis = self.vis;
        let client = &self.service.client;
        let methods = self
            .service
            .methods
            .iter()
            .enumerate()
            .map(|(index, method)| self.client_method(index, method));
        quote! {
            #[allow(dead_code)]
            impl #client {
                #[doc = "Wraps a connected channel."]
                #vis fn new(channel: ::prism::Channel) -> Self {
                    Self { channel }
                }

                #[doc = "The channel this client calls over."]
                #vis fn channel(&self) -> &::prism::Channel {
                    &self.channel
                }

                #(#methods)*
            }
        }
    }

    /// `pub fn add(&self, a: i64, b: i64) -> ::prism::client::UnaryCall<..>`: builds
    /// the request; the call happens when it is awaited.
    fn client_method(&self, index: usize, method: &Method<'_>) -> TokenStream {
        let vis = self.vis;
        let module = &self.service.module;
        let ident = &method.item.sig.ident;
        let request = &method.request;
        let index = Literal::usize_unsuffixed(index);
        let response = response_wrapper(&method.output);

        // The method's docs and deprecation carry over; other attributes
        // (`#[allow]`, …) are about the trait method, not the client.
        let mut docs: Vec<_> = method
            .kept_attrs()
            .filter(|attr| attr.path().is_ident("doc") || attr.path().is_ident("deprecated"))
            .collect();
        let generated_doc: syn::Attribute;
        if !docs.iter().any(|attr| attr.path().is_ident("doc")) {
            let doc = format!("Calls `{}::{}`.", self.trait_name(), method.name);
            generated_doc = syn::parse_quote!(#[doc = #doc]);
            docs.push(&generated_doc);
        }

        let set = method.codecs.set_type();
        let (params, request_ty, value) = match method.request_kind {
            RequestKind::Struct => {
                let params: Vec<TokenStream> = method
                    .wire_args()
                    .map(|arg| {
                        let (name, ty) = (&arg.ident, arg.ty);
                        quote!(#name: #ty)
                    })
                    .collect();
                let names = method.wire_args().map(|arg| &arg.ident);
                let value = if method.wire_args().next().is_none() {
                    quote!(#module::#request)
                } else {
                    quote!(#module::#request { #(#names),* })
                };
                (params, quote!(#module::#request), value)
            }
            // The client sends the items; `Archived<T>` items are `T`s here.
            RequestKind::Stream(item) => {
                let Some(arg) = method.wire_args().next() else {
                    unreachable!("a stream op has its one argument")
                };
                let name = &arg.ident;
                let item = archived_inner(item).unwrap_or(item);
                (
                    vec![quote!(#name: ::prism::Streaming<#item>)],
                    item.to_token_stream(),
                    quote!(#name),
                )
            }
            // The client sends the value; for a view, the server reads it in place.
            RequestKind::Bare(ty) | RequestKind::View(ty) => {
                // Both kinds are only made for an op with one wire argument.
                let Some(arg) = method.wire_args().next() else {
                    unreachable!("a bare or view op has its one argument")
                };
                let name = &arg.ident;
                (
                    vec![quote!(#name: #ty)],
                    ty.to_token_stream(),
                    quote!(#name),
                )
            }
        };
        let (call, value) = match method.kind() {
            OpKind::Unary => (
                quote!(::prism::client::UnaryCall<#set, #request_ty, #response>),
                value,
            ),
            OpKind::ServerStream => (
                quote!(::prism::client::StreamCall<#set, ::prism::client::Single<#request_ty>, #response>),
                quote!(::prism::client::Single(#value)),
            ),
            OpKind::ClientStream => (
                quote!(::prism::client::ClientStreamCall<#set, #request_ty, #response>),
                value,
            ),
            OpKind::Bidi => (
                quote!(::prism::client::StreamCall<#set, ::prism::Streaming<#request_ty>, #response>),
                value,
            ),
            OpKind::Datagram => (
                quote!(::prism::client::DatagramCall<#set, #request_ty>),
                value,
            ),
        };
        let constructor = match method.kind() {
            OpKind::Unary => quote!(::prism::client::UnaryCall::new),
            OpKind::ServerStream | OpKind::Bidi => quote!(::prism::client::StreamCall::new),
            OpKind::ClientStream => quote!(::prism::client::ClientStreamCall::new),
            OpKind::Datagram => quote!(::prism::client::DatagramCall::new),
        };
        quote! {
            #(#docs)*
            #vis fn #ident(&self, #(#params),*) -> #call {
                #constructor(
                    ::core::clone::Clone::clone(&self.channel),
                    &#module::OPS[#index],
                    #value,
                )
            }
        }
    }
}

/// `::prism::client::Plain<T>`, `Fallible<T, E>`, `Streamed<T>` or
/// `FallibleStreamed<T, E>`: how a method's result travels.
pub(super) fn response_wrapper(output: &Output<'_>) -> TokenStream {
    match output {
        Output::Unit => quote!(::prism::client::Plain<()>),
        Output::Plain(ty) => quote!(::prism::client::Plain<#ty>),
        Output::Fallible { ok, err } => quote!(::prism::client::Fallible<#ok, #err>),
        Output::Stream(item) => quote!(::prism::client::Streamed<#item>),
        Output::FallibleStream { item, err } => {
            quote!(::prism::client::FallibleStreamed<#item, #err>)
        }
    }
}
