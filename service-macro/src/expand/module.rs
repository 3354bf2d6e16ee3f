//! The generated module (`mod calc`): request structs, op id constants,
//! the op table `OPS` and the `SERVICE` descriptor.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::Gen;
use crate::ast::{Method, RequestKind};
use crate::attr::{AccessDecl, DatagramFallback};

impl Gen<'_, '_> {
    /// `mod calc { use super::*; … }`.
    pub(super) fn module(&self) -> TokenStream {
        let vis = self.vis;
        let module = &self.service.module;
        let doc = format!(
            "Generated types and metadata for the `{}` service.",
            self.trait_name()
        );
        let requests = self
            .service
            .methods
            .iter()
            .filter(|method| matches!(method.request_kind, RequestKind::Struct))
            .map(|method| self.request_struct(method));
        let checks = self
            .service
            .methods
            .iter()
            .map(|method| self.codec_check(method));
        let consts = self
            .service
            .methods
            .iter()
            .map(|method| self.op_const(method));
        let ops = self.ops_static();
        let service = self.service_static();
        quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            #vis mod #module {
                #[allow(unused_imports)]
                use super::*;
                // facet's derive names `core::…` without the leading `::`;
                // this keeps it compiling under `#![no_implicit_prelude]`.
                #[allow(unused_imports)]
                use ::core;

                #(#requests)*
                #(#consts)*
                #ops
                #service
                #(#checks)*
            }
        }
    }

    /// `pub struct AddRequest { pub a: i64, pub b: i64 }`, or a unit struct
    /// for a method without arguments.
    fn request_struct(&self, method: &Method<'_>) -> TokenStream {
        let vis = &self.inner_vis;
        let ident = &method.request;
        let doc = format!("Request of `{}::{}`.", self.trait_name(), method.name);
        let body = if method.wire_args().next().is_none() {
            quote!(;)
        } else {
            let fields = method.wire_args().map(|arg| {
                let name = &arg.ident;
                let doc = format!("The `{}` argument.", name.unraw());
                let ty = self.relocate.ty(arg.ty);
                quote! {
                    #[doc = #doc]
                    #vis #name: #ty
                }
            });
            quote!({ #(#fields),* })
        };
        // `traits(Debug)` names the derived traits instead of letting facet
        // probe for them: the probe (the `impls` crate) names `Sized`
        // unqualified, which breaks under `#![no_implicit_prelude]`.
        // Every request derives `Facet` (schemas and fingerprints need it,
        // and postcard and FlatBuffers carry it); rkyv needs its own traits.
        let rkyv = method.codecs.has_rkyv().then(|| {
            quote! {
                #[derive(
                    ::prism::__private::rkyv::Archive,
                    ::prism::__private::rkyv::Serialize,
                    ::prism::__private::rkyv::Deserialize,
                )]
                #[rkyv(crate = ::prism::__private::rkyv)]
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(::prism::__private::facet::Facet, ::core::fmt::Debug)]
            #[facet(crate = ::prism::__private::facet)]
            #[facet(traits(Debug))]
            #rkyv
            #vis struct #ident #body
        }
    }

    /// The request type as named inside the generated module.
    pub(super) fn request_type_inner(&self, method: &Method<'_>) -> TokenStream {
        match method.request_kind {
            RequestKind::Struct => method.request.to_token_stream(),
            RequestKind::Bare(ty) | RequestKind::View(ty) => self.relocate.ty(ty).to_token_stream(),
            // Items travel; an `Archived<T>` item is a `T` on the wire.
            RequestKind::Stream(item) => {
                let item = crate::ast::archived_inner(item).unwrap_or(item);
                self.relocate.ty(item).to_token_stream()
            }
        }
    }

    /// The op's codec set type, as named inside the generated module.
    fn codec_set_inner(&self, method: &Method<'_>) -> TokenStream {
        let types: Vec<TokenStream> = method
            .codecs
            .codecs
            .iter()
            .map(|codec| match syn::parse2::<syn::Type>(codec.ty.clone()) {
                Ok(ty) => self.relocate.ty(&ty).to_token_stream(),
                Err(_) => codec.ty.clone(),
            })
            .collect();
        match types.as_slice() {
            [only] => only.clone(),
            _ => quote!((#(#types,)*)),
        }
    }

    /// Compile-time proof that the op's codecs can carry its types, so a
    /// type a codec cannot carry is an error at the op, naming the op, the
    /// codec and the missing trait.
    fn codec_check(&self, method: &Method<'_>) -> TokenStream {
        let op = &method.item.sig.ident;
        let set = self.codec_set_inner(method);
        let request = self.request_type_inner(method);
        let request_check = match method.request_kind {
            RequestKind::View(ty) => {
                quote_spanned!(ty.span()=> ::prism::__private::viewed_by::<#set, #op, #request>();)
            }
            RequestKind::Bare(ty) => {
                quote_spanned!(ty.span()=> ::prism::__private::carried_by::<#set, #op, #request>();)
            }
            RequestKind::Stream(item) if crate::ast::archived_inner(item).is_some() => {
                quote_spanned!(item.span()=> ::prism::__private::viewed_by::<#set, #op, #request>();)
            }
            RequestKind::Stream(item) => {
                quote_spanned!(item.span()=> ::prism::__private::carried_by::<#set, #op, #request>();)
            }
            RequestKind::Struct => quote!(::prism::__private::carried_by::<#set, #op, #request>();),
        };
        let mut checks = vec![request_check];
        for ty in [method.output.response(), method.output.error()]
            .into_iter()
            .flatten()
        {
            let relocated = self.relocate.ty(ty);
            checks.push(quote_spanned!(ty.span()=> ::prism::__private::carried_by::<#set, #op, #relocated>();));
        }
        if method.output.response().is_none() {
            checks.push(quote!(::prism::__private::carried_by::<#set, #op, ()>();));
        }
        quote! {
            const _: () = {
                #[allow(non_camel_case_types, dead_code)]
                enum #op {}
                #[allow(dead_code)]
                fn check() {
                    #(#checks)*
                }
            };
        }
    }

    /// `pub const ADD: ::prism::reflect::OpId = ::prism::reflect::OpId::from_name(..);`.
    fn op_const(&self, method: &Method<'_>) -> TokenStream {
        let vis = &self.inner_vis;
        let ident = &method.op_const;
        let doc = format!("Op id of `{}::{}`.", self.trait_name(), method.name);
        let (package, service, name) = (&self.service.package, &self.service.name, &method.name);
        quote! {
            #[doc = #doc]
            #vis const #ident: ::prism::reflect::OpId =
                ::prism::reflect::OpId::from_name(#package, #service, #name);
        }
    }

    /// `pub static OPS: [::prism::reflect::OpDescriptor; N] = [..];`, in declaration order.
    fn ops_static(&self) -> TokenStream {
        let vis = &self.inner_vis;
        let len = Literal::usize_unsuffixed(self.service.methods.len());
        let ops = self
            .service
            .methods
            .iter()
            .map(|method| self.op_descriptor(method));
        quote! {
            #[doc = "All ops, in declaration order."]
            #vis static OPS: [::prism::reflect::OpDescriptor; #len] = [#(#ops),*];
        }
    }

    /// One `::prism::reflect::OpDescriptor` expression: names and shapes only; the
    /// fingerprints are `prism::reflect`'s to compute.
    fn op_descriptor(&self, method: &Method<'_>) -> TokenStream {
        let (service, name) = (&self.service.name, &method.name);
        let id = &method.op_const;
        let request = self.request_type_inner(method);
        let response = match method.output.response() {
            Some(ty) => self.relocate.ty(ty).to_token_stream(),
            None => quote!(()),
        };
        let kind = syn::Ident::new(method.kind().variant(), proc_macro2::Span::call_site());
        let mut op = quote! {
            ::prism::reflect::OpDescriptor::new(
                #service,
                #name,
                #id,
                ::prism::reflect::OpKind::#kind,
                <#request as ::prism::__private::facet::Facet>::SHAPE,
                <#response as ::prism::__private::facet::Facet>::SHAPE,
            )
        };
        let package = &self.service.package;
        if !package.is_empty() {
            op.extend(quote!(.with_package(#package)));
        }
        if let Some(error) = method.output.error() {
            let error = self.relocate.ty(error);
            op.extend(quote!(.with_error(<#error as ::prism::__private::facet::Facet>::SHAPE)));
        }
        if !method.codecs.is_postcard_only() {
            let set = self.codec_set_inner(method);
            let types: Vec<TokenStream> = match syn::parse2::<syn::TypeTuple>(set.clone()) {
                Ok(tuple) => tuple.elems.iter().map(ToTokens::to_token_stream).collect(),
                Err(_) => vec![set],
            };
            op.extend(quote!(.with_codecs(&[#(<#types as ::prism::codec::Codec>::ID),*])));
        }
        if let Some(max) = method.max_message {
            let max = Literal::u64_suffixed(max);
            op.extend(quote!(.with_max_message(#max)));
        }
        if let Some(priority) = method.priority {
            let priority = Literal::u8_suffixed(priority);
            op.extend(quote!(.with_priority(#priority)));
        }
        if method.subscription.is_some() {
            op.extend(quote!(.subscription()));
        }
        if let Some((DatagramFallback::Reliable, _)) = method.datagram {
            op.extend(quote!(.with_reliable_fallback()));
        }
        match &method.access {
            Some(AccessDecl::Public) => op.extend(quote!(.public())),
            Some(AccessDecl::Permission(permission)) => {
                op.extend(quote!(.with_permission(#permission)));
            }
            None => {} // reported by the checks
        }
        let doc = &method.doc;
        if !doc.is_empty() {
            op.extend(quote!(.with_doc(#doc)));
        }
        op
    }

    /// `pub static SERVICE: ::prism::reflect::ServiceDescriptor = ..;`.
    fn service_static(&self) -> TokenStream {
        let vis = &self.inner_vis;
        let (package, name, doc) = (&self.service.package, &self.service.name, &self.service.doc);
        let with_doc = (!doc.is_empty()).then(|| quote!(.with_doc(#doc)));
        quote! {
            #[doc = "The service descriptor."]
            #vis static SERVICE: ::prism::reflect::ServiceDescriptor =
                ::prism::reflect::ServiceDescriptor::new(#package, #name, &OPS) #with_doc;
        }
    }
}
