//! The generated dispatcher (`CalcServer<S>`): routes each incoming call by
//! op id to the matching method of `S`.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::Gen;
use crate::ast::{Method, Output, RequestKind};

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

    /// `impl Dispatch`: one `if` per op, then `unknown_op`.
    pub(super) fn server_dispatch(&self) -> TokenStream {
        let (server, param, ident) = (&self.service.server, &self.param, &self.service.item.ident);
        let module = &self.service.module;
        let read_op = (!self.service.methods.is_empty()).then(|| quote!(let op = call.op().get();));
        let arms = self
            .service
            .methods
            .iter()
            .enumerate()
            .map(|(index, method)| self.dispatch_arm(index, method));
        quote! {
            impl<#param: #ident> ::prism::__private::Dispatch for #server<#param> {
                fn descriptor(&self) -> &'static ::prism::ServiceDescriptor {
                    &#module::SERVICE
                }

                #[allow(deprecated)]
                fn dispatch(
                    &self,
                    call: ::prism::__private::Incoming,
                ) -> ::prism::__private::Dispatched {
                    #read_op
                    #(#arms)*
                    ::prism::__private::unknown_op(call)
                }
            }
        }
    }

    /// Decodes the request, calls the method, wraps its result.
    fn dispatch_arm(&self, index: usize, method: &Method<'_>) -> TokenStream {
        let (param, ident) = (&self.param, &self.service.item.ident);
        let module = &self.service.module;
        let (request, op_const) = (&method.request, &method.op_const);
        let name = &method.item.sig.ident;
        let index = Literal::usize_unsuffixed(index);
        let wrap = match method.output {
            Output::Fallible { .. } => quote!(::prism::Fallible),
            Output::Unit | Output::Plain(_) => quote!(::prism::Plain),
        };
        let set = method.codecs.set_type();
        let call = |args: TokenStream| {
            quote! {
                #wrap(<#param as #ident>::#name(&*svc #args).await)
            }
        };
        let dispatch = match method.request_kind {
            RequestKind::Struct => {
                let binding = if method.args.is_empty() {
                    quote!(_)
                } else {
                    quote!(req)
                };
                let args = method.args.iter().map(|arg| {
                    let field = &arg.ident;
                    quote!(, req.#field)
                });
                let body = call(quote!(#(#args)*));
                quote! {
                    ::prism::__private::unary::<#set, #module::#request, _, _, _>(
                        call,
                        &#module::OPS[#index],
                        move |#binding: #module::#request| async move { #body },
                    )
                }
            }
            RequestKind::Bare(ty) => {
                let body = call(quote!(, req));
                quote! {
                    ::prism::__private::unary::<#set, #ty, _, _, _>(
                        call,
                        &#module::OPS[#index],
                        move |req: #ty| async move { #body },
                    )
                }
            }
            RequestKind::View(ty) => {
                let body = call(quote!(, req));
                quote! {
                    ::prism::__private::unary_view::<#set, #ty, _, _, _>(
                        call,
                        &#module::OPS[#index],
                        move |req| async move { #body },
                    )
                }
            }
        };
        quote! {
            if op == #module::#op_const.get() {
                let svc = ::core::clone::Clone::clone(&self.inner);
                return #dispatch;
            }
        }
    }
}
