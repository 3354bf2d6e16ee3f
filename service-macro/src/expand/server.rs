//! The generated dispatcher (`CalcServer<S>`): serves each routed call with
//! the matching method of `S`.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Gen;
use crate::ast::{Method, OpKind, Output, RequestKind, archived_inner};
use crate::attr::Execution;
use crate::attr::LagPolicy;

impl Gen<'_, '_> {
    /// `pub struct CalcServer<S> { inner: Arc<S> }`.
    pub(super) fn server_struct(&self) -> TokenStream {
        let vis = self.vis;
        let (server, param) = (&self.service.server, &self.param);
        let doc = format!(
            "Serves a `{}` implementation: hand it to `prism::Server::builder().add_service(..)`.",
            self.trait_name()
        );
        quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            #vis struct #server<#param> {
                inner: ::prism::__private::Arc<#param>,
            }
        }
    }

    /// `new` and `from_arc`.
    pub(super) fn server_impl(&self) -> TokenStream {
        let vis = self.vis;
        let (server, param, ident) = (&self.service.server, &self.param, &self.service.item.ident);
        quote! {
            #[allow(dead_code)]
            impl<#param: #ident> #server<#param> {
                #[doc = "Serves `service`."]
                #vis fn new(service: #param) -> Self {
                    Self { inner: ::prism::__private::Arc::new(service) }
                }

                #[doc = "Serves a service that is already shared."]
                #vis fn from_arc(service: ::prism::__private::Arc<#param>) -> Self {
                    Self { inner: service }
                }
            }
        }
    }

    /// `Clone` without an `S: Clone` bound: clones share the service.
    pub(super) fn server_clone(&self) -> TokenStream {
        let (server, param) = (&self.service.server, &self.param);
        quote! {
            impl<#param> ::core::clone::Clone for #server<#param> {
                fn clone(&self) -> Self {
                    Self { inner: ::core::clone::Clone::clone(&self.inner) }
                }
            }
        }
    }

    /// `Debug` without an `S: Debug` bound: names the service only.
    pub(super) fn server_debug(&self) -> TokenStream {
        let (server, param) = (&self.service.server, &self.param);
        let server_name = server.to_string();
        let full_name = self.full_name();
        quote! {
            impl<#param> ::core::fmt::Debug for #server<#param> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(#server_name)
                        .field("service", &#full_name)
                        .finish_non_exhaustive()
                }
            }
        }
    }

    /// `impl Dispatch`: the op's index picks its arm in one `match`.
    pub(super) fn server_dispatch(&self) -> TokenStream {
        let (server, param, ident) = (&self.service.server, &self.param, &self.service.item.ident);
        let module = &self.service.module;
        let arms = self
            .service
            .methods
            .iter()
            .enumerate()
            .map(|(index, method)| self.dispatch_arm(index, method));
        let executions: Vec<TokenStream> = self
            .service
            .methods
            .iter()
            .enumerate()
            .filter_map(|(index, method)| {
                let index = Literal::usize_unsuffixed(index);
                let execution = match method.execution? {
                    Execution::Spawn => quote!(Spawn),
                    Execution::Inline => quote!(Inline),
                };
                Some(quote! {
                    #index => ::core::option::Option::Some(::prism::__private::Execution::#execution),
                })
            })
            .collect();
        quote! {
            impl<#param: #ident> ::prism::__private::Dispatch for #server<#param> {
                fn descriptor(&self) -> &'static ::prism::reflect::ServiceDescriptor {
                    &#module::SERVICE
                }

                fn execution(
                    &self,
                    method: ::core::primitive::usize,
                ) -> ::core::option::Option<::prism::__private::Execution> {
                    match method {
                        #(#executions)*
                        _ => ::core::option::Option::None,
                    }
                }

                #[allow(deprecated)]
                fn dispatch(
                    &self,
                    method: ::core::primitive::usize,
                    call: ::prism::server::Call,
                ) -> ::prism::server::Dispatched {
                    match method {
                        #(#arms)*
                        _ => ::prism::__private::unknown_method(call),
                    }
                }
            }
        }
    }

    /// Decodes the request, calls the method, wraps its result.
    fn dispatch_arm(&self, index: usize, method: &Method<'_>) -> TokenStream {
        let (param, ident) = (&self.param, &self.service.item.ident);
        let module = &self.service.module;
        let request = &method.request;
        let name = &method.item.sig.ident;
        let index = Literal::usize_unsuffixed(index);
        let wrap = match method.output {
            Output::Fallible { .. } => quote!(::prism::__private::Fallible),
            Output::Unit | Output::Plain(_) => quote!(::prism::__private::Plain),
            Output::Stream(_) => quote!(::prism::__private::Streamed),
            Output::FallibleStream { .. } => quote!(::prism::__private::FallibleStreamed),
        };
        // Server streams decode their one request as unary ops do; a
        // subscription says how it treats a slow reader.
        let (unary, lag) = match (method.kind(), method.subscription) {
            (OpKind::ServerStream, Some((LagPolicy::Wait, _))) => (
                quote!(::prism::__private::subscription),
                quote!(::prism::Lag::Wait,),
            ),
            (OpKind::ServerStream, Some((LagPolicy::DropOldest, _))) => {
                let buffer = Literal::usize_unsuffixed(method.buffer.map_or(64, |(n, _)| n));
                (
                    quote!(::prism::__private::subscription),
                    quote!(::prism::Lag::DropOldest { buffer: #buffer },),
                )
            }
            (OpKind::ServerStream, None) => (quote!(::prism::__private::server_stream), quote!()),
            _ => (quote!(::prism::__private::unary), quote!()),
        };
        let set = method.codecs.set_type();
        // The method's arguments in order: the context where it asked for
        // one, the request (or its fields) elsewhere.
        let args = method.args.iter().map(|arg| {
            if arg.context {
                // Spanned on the argument's type, so a `&Context` that is
                // not Prism's is a type error pointing at it.
                let ty = arg.ty;
                quote_spanned!(ty.span()=> , &__cx)
            } else if let RequestKind::Struct = method.request_kind {
                let field = &arg.ident;
                quote!(, req.#field)
            } else {
                quote!(, req)
            }
        });
        // The context is lent to the closure: a method that takes it keeps
        // a clone, the others never touch it.
        let (cx, take_cx) = if method.args.iter().any(|arg| arg.context) {
            (
                quote!(__cx),
                quote!(let __cx = ::core::clone::Clone::clone(__cx);),
            )
        } else {
            (quote!(_), quote!())
        };
        let body = quote! {
            #take_cx
            async move { #wrap(<#param as #ident>::#name(&*svc #(#args)*).await) }
        };
        let dispatch = match method.request_kind {
            RequestKind::Struct => {
                let binding = if method.wire_args().next().is_none() {
                    quote!(_)
                } else {
                    quote!(req)
                };
                quote! {
                    #unary::<#set, #module::#request, _, _, _>(
                        call,
                        #lag
                        move |#binding: #module::#request, #cx: &::prism::Context| { #body },
                    )
                }
            }
            RequestKind::Bare(ty) => quote! {
                #unary::<#set, #ty, _, _, _>(
                    call,
                    #lag
                    move |req: #ty, #cx: &::prism::Context| { #body },
                )
            },
            RequestKind::Stream(item) => {
                let helper = match method.kind() {
                    OpKind::Bidi => quote!(::prism::__private::bidi),
                    _ => quote!(::prism::__private::client_stream),
                };
                let decoder = match archived_inner(item) {
                    Some(inner) => quote!(::prism::__private::view_decoder::<#set, #inner>()),
                    None => quote!(::prism::__private::decoder::<#set, #item>()),
                };
                quote! {
                    #helper::<#set, #item, _, _, _>(
                        call,
                        #decoder,
                        move |req: ::prism::Streaming<#item>, #cx: &::prism::Context| { #body },
                    )
                }
            }
            RequestKind::View(ty) => quote! {
                ::prism::__private::unary_view::<#set, #ty, _, _, _>(
                    call,
                    move |req, #cx: &::prism::Context| { #body },
                )
            },
        };
        quote! {
            #index => {
                let svc = ::core::clone::Clone::clone(&self.inner);
                #dispatch
            }
        }
    }
}
