//! Expansion tests on token streams: no compiler run, just the shape of what
//! the macro emits.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::{File, Item, ItemMod, Visibility};

use super::service;

/// The calculator from the brief, with a package and docs.
fn calc() -> TokenStream {
    quote! {
        /// A calculator.
        pub trait Calc {
            /// Adds two numbers.
            async fn add(&self, a: i64, b: i64) -> i64;
            async fn div(&self, a: i64, b: i64) -> Result<i64, DivError>;
            #[allow(unused)]
            #[prism()]
            async fn ping(&self);
        }
    }
}

fn expand(attr: TokenStream, item: TokenStream) -> File {
    let out = service(attr, item);
    syn::parse2(out.clone()).unwrap_or_else(|e| panic!("output does not parse: {e}\n{out}"))
}

fn item_names(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Trait(i) => Some(format!("trait {}", i.ident)),
            Item::Mod(i) => Some(format!("mod {}", i.ident)),
            Item::Struct(i) => Some(format!("struct {}", i.ident)),
            Item::Const(i) => Some(format!("const {}", i.ident)),
            Item::Static(i) => Some(format!("static {}", i.ident)),
            Item::Impl(i) => Some(format!(
                "impl {}for {}",
                i.trait_
                    .as_ref()
                    .map(|(_, path, _)| format!("{} ", text(path)))
                    .unwrap_or_default(),
                text(&i.self_ty)
            )),
            _ => None,
        })
        .collect()
}

fn module<'f>(file: &'f File, name: &str) -> &'f ItemMod {
    file.items
        .iter()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == name => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no module `{name}`"))
}

fn module_items<'f>(file: &'f File, name: &str) -> &'f [Item] {
    &module(file, name)
        .content
        .as_ref()
        .expect("inline module")
        .1
}

/// Tokens as text without whitespace, so `> >` and `>>` compare equal.
fn text(tokens: impl ToTokens) -> String {
    tokens
        .to_token_stream()
        .to_string()
        .split_whitespace()
        .collect()
}

fn attrs_text(attrs: &[syn::Attribute]) -> String {
    text(quote!(#(#attrs)*))
}

/// The structs of a module, in order.
fn structs(items: &[Item]) -> Vec<&syn::ItemStruct> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[test]
fn generates_every_item() {
    let file = expand(quote!(public), calc());
    let names = item_names(&file.items);
    let expected = [
        "trait Calc",
        "mod calc",
        "struct CalcClient",
        "impl for CalcClient",
        "struct CalcServer",
        "impl for CalcServer<S>",
        "::core::clone::Clone",
        "::core::fmt::Debug",
        "::prism::__private::Dispatch",
    ];
    let joined = names.join("\n");
    for name in expected {
        assert!(joined.contains(name), "missing `{name}` in\n{joined}");
    }
    let inner: Vec<String> = item_names(module_items(&file, "calc"))
        .into_iter()
        .filter(|name| name != "const _") // the codec checks
        .collect();
    assert_eq!(
        inner,
        [
            "struct AddRequest",
            "struct DivRequest",
            "struct PingRequest",
            "const ADD",
            "const DIV",
            "const PING",
            "static OPS",
            "static SERVICE",
        ]
    );
}

#[test]
fn trait_methods_return_send_futures() {
    let file = expand(quote!(public), calc());
    let Item::Trait(tr) = &file.items[0] else {
        panic!("first item is not the trait")
    };
    assert_eq!(
        text(&tr.supertraits),
        text(quote!(
            ::core::marker::Send + ::core::marker::Sync + 'static
        ))
    );
    let methods: Vec<_> = tr
        .items
        .iter()
        .map(|item| match item {
            syn::TraitItem::Fn(f) => f,
            _ => panic!("non-method in the trait"),
        })
        .collect();
    for method in &methods {
        assert!(method.sig.asyncness.is_none());
        assert!(method.default.is_none());
    }
    assert_eq!(
        text(&methods[1].sig.output),
        text(quote!(
            -> impl ::core::future::Future<Output = Result<i64, DivError>> + ::core::marker::Send
        ))
    );
    assert_eq!(
        text(&methods[2].sig.output),
        text(quote!(-> impl ::core::future::Future<Output = ()> + ::core::marker::Send))
    );
    // Docs and user attributes stay, `#[prism(...)]` goes.
    assert!(attrs_text(&methods[0].attrs).contains("Addstwonumbers."));
    let ping_attrs = attrs_text(&methods[2].attrs);
    assert!(ping_attrs.contains("allow"), "{ping_attrs}");
    assert!(!ping_attrs.contains("prism"), "{ping_attrs}");
    // The trait's own docs stay too.
    assert!(attrs_text(&tr.attrs).contains("Acalculator."));
}

#[test]
fn request_structs_carry_the_arguments() {
    let file = expand(quote!(public), calc());
    let structs = structs(module_items(&file, "calc"));
    let add = structs[0];
    let fields: Vec<_> = add.fields.iter().map(|f| text(&f.ident)).collect();
    assert_eq!(fields, ["a", "b"]);
    assert!(
        add.fields
            .iter()
            .all(|f| matches!(f.vis, Visibility::Public(_)))
    );
    assert!(attrs_text(&add.attrs).contains("::prism::__private::facet::Facet"));
    assert!(attrs_text(&add.attrs).contains("crate=::prism::__private::facet"));
    let ping = structs[2];
    assert!(matches!(ping.fields, syn::Fields::Unit));
}

#[test]
fn descriptors_emit_names_and_shapes() {
    let file = expand(
        quote!(public, package = "demo", name = "Calculator"),
        calc(),
    );
    let module = text(module(&file, "calc"));
    assert!(
        module.contains(&text(quote!(::prism::reflect::OpId::from_name(
            "demo",
            "Calculator",
            "add"
        ))))
    );
    assert!(module.contains(&text(quote!(.with_package("demo")))));
    assert!(module.contains(&text(quote!(.with_doc("Adds two numbers.")))));
    assert!(module.contains(&text(quote!(
        .with_error(<DivError as ::prism::__private::facet::Facet>::SHAPE)
    ))));
    assert!(module.contains(&text(quote!(
        <() as ::prism::__private::facet::Facet>::SHAPE
    ))));
    assert!(module.contains(&text(quote!(
        ::prism::reflect::ServiceDescriptor::new("demo", "Calculator", &OPS)
            .with_doc("A calculator.")
    ))));
    assert!(module.contains(&text(quote!([::prism::reflect::OpDescriptor; 3]))));
    // Only data: no fingerprints computed here.
    assert!(!module.contains("fingerprint"));
}

#[test]
fn defaults_use_the_trait_name_and_no_package() {
    let file = expand(quote!(public), calc());
    let module = text(module(&file, "calc"));
    assert!(
        module.contains(&text(quote!(::prism::reflect::OpId::from_name(
            "", "Calc", "add"
        ))))
    );
    assert!(!module.contains("with_package"));
}

#[test]
fn client_and_dispatcher_use_the_right_wrappers() {
    let out = text(service(quote!(public), calc()));
    assert!(out.contains(&text(quote!(
        ::prism::client::UnaryCall<
            ::prism::codec::Postcard,
            calc::AddRequest,
            ::prism::client::Plain<i64>
        >
    ))));
    assert!(out.contains(&text(quote!(
        ::prism::client::UnaryCall<
            ::prism::codec::Postcard,
            calc::DivRequest,
            ::prism::client::Fallible<i64, DivError>
        >
    ))));
    assert!(out.contains(&text(quote!(calc::AddRequest { a, b }))));
    assert!(out.contains(&text(quote!(&calc::OPS[2], calc::PingRequest,))));
    assert!(out.contains(&text(quote!(::prism::__private::Fallible(
        <S as Calc>::div(&*svc, req.a, req.b).await
    )))));
    assert!(out.contains(&text(quote!(
        move |_: calc::PingRequest, _: &::prism::Context| {
            async move { ::prism::__private::Plain(<S as Calc>::ping(&*svc).await) }
        }
    ))));
    // Two `match`es over the op's index: where each op runs, and the one
    // that routes every call, with an arm per op, then the fallback.
    assert_eq!(
        out.matches(&text(quote!(match method))).count(),
        2,
        "dispatch and execution"
    );
    let svc = text(quote!(let svc = ::core::clone::Clone::clone(&self.inner);));
    for index in 0..3 {
        assert!(
            out.contains(&format!("{index}=>{{{svc}")),
            "no dispatch arm for method {index}"
        );
    }
    assert!(out.contains(&text(
        quote!(_ => ::prism::__private::unknown_method(call),)
    )));
    // No op chose where it runs: every one takes the server's default.
    assert!(out.contains(&text(quote!(match method {
        _ => ::core::option::Option::None,
    }))));
}

#[test]
fn method_options_and_the_context_shape_the_dispatcher() {
    let out = text(service(
        quote!(public),
        quote! {
            pub trait Work {
                #[prism(spawn)]
                async fn crunch(&self, a: u64, cx: &prism::Context, b: u64) -> u64;
                #[prism(inline, codec = segments, bare)]
                async fn chunk(&self, chunk: Segmented<u32>) -> Segmented<u32>;
            }
        },
    ));
    // Where each op runs.
    assert!(out.contains(&text(quote!(match method {
        0 => ::core::option::Option::Some(::prism::__private::Execution::Spawn),
        1 => ::core::option::Option::Some(::prism::__private::Execution::Inline),
        _ => ::core::option::Option::None,
    }))));
    // The context takes its place among the arguments, cloned once; it is
    // not part of the request, and the client does not pass it.
    assert!(out.contains(&text(quote!(
        let __cx = ::core::clone::Clone::clone(__cx);
    ))));
    assert!(out.contains(&text(quote!(<S as Work>::crunch(
        &*svc, req.a, &__cx, req.b
    )))));
    assert!(out.contains(&text(quote!(work::CrunchRequest { a, b }))));
    assert!(out.contains(&text(quote!(fn crunch(&self, a: u64, b: u64)))));
    // A bare op's argument travels as it is: no request struct.
    assert!(out.contains(&text(quote!(
        move |req: Segmented<u32>, _: &::prism::Context|
    ))));
    assert!(out.contains(&text(quote!(fn chunk(&self, chunk: Segmented<u32>)))));
    assert!(!out.contains("ChunkRequest"));
}

#[test]
fn visibility_reaches_as_far_as_the_trait() {
    let cases = [
        (quote!(pub), quote!(pub), quote!(pub)),
        (quote!(), quote!(), quote!(pub(super))),
        (quote!(pub(crate)), quote!(pub(crate)), quote!(pub(crate))),
        (
            quote!(pub(super)),
            quote!(pub(super)),
            quote!(pub(in super::super)),
        ),
    ];
    for (vis, outer, inner) in cases {
        let file = expand(
            quote!(public),
            quote!(#vis trait Calc { async fn add(&self, a: i64); }),
        );
        for item in &file.items {
            let item_vis = match item {
                Item::Trait(i) => &i.vis,
                Item::Mod(i) => &i.vis,
                Item::Struct(i) => &i.vis,
                _ => continue,
            };
            assert_eq!(text(item_vis), text(&outer), "item {}", text(item));
        }
        for item in module_items(&file, "calc") {
            let item_vis = match item {
                Item::Struct(i) => &i.vis,
                Item::Const(i) if i.ident == "_" => continue,
                Item::Const(i) => &i.vis,
                Item::Static(i) => &i.vis,
                _ => continue,
            };
            assert_eq!(text(item_vis), text(&inner), "item {}", text(item));
        }
    }
}

#[test]
fn result_detection() {
    let file = expand(
        quote!(public),
        quote! {
            pub trait Io {
                async fn a(&self) -> std::result::Result<u8, E>;
                async fn b(&self) -> io::Result<u8>;
                async fn c(&self) -> ();
            }
        },
    );
    let out = text(&file);
    assert!(out.contains(&text(quote!(::prism::client::Fallible<u8, E>))));
    assert!(out.contains(&text(quote!(::prism::client::Plain<io::Result<u8>>))));
    assert!(out.contains(&text(quote!(::prism::client::Plain<()>))));
}

#[test]
fn names_follow_the_case_rules() {
    let file = expand(
        quote!(public),
        quote! {
            pub trait KeyValueStore {
                async fn get_value(&self, key: String) -> String;
                async fn r#type(&self);
            }
        },
    );
    let names = item_names(&file.items);
    assert!(
        names.contains(&"mod key_value_store".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"struct KeyValueStoreClient".to_owned()));
    let inner = item_names(module_items(&file, "key_value_store"));
    assert!(inner.contains(&"struct GetValueRequest".to_owned()));
    assert!(inner.contains(&"const GET_VALUE".to_owned()));
    assert!(inner.contains(&"struct TypeRequest".to_owned()));
    // The wire name of a raw identifier has no `r#`.
    assert!(
        text(&file).contains(&text(quote!(::prism::reflect::OpId::from_name(
            "",
            "KeyValueStore",
            "type"
        ))))
    );
}

#[test]
fn keyword_trait_names_make_raw_modules() {
    let file = expand(
        quote!(public),
        quote!(
            pub trait Type {
                async fn a(&self);
            }
        ),
    );
    let names = item_names(&file.items);
    assert!(names.contains(&"mod r#type".to_owned()), "{names:?}");
}

#[test]
fn user_types_keep_their_meaning_inside_the_module() {
    let file = expand(
        quote!(public),
        quote! {
            pub trait Search {
                async fn search(&self, req: SearchRequest, scope: self::Scope) -> super::Hits;
            }
        },
    );
    let request = structs(module_items(&file, "search"))[0];
    let types: Vec<_> = request.fields.iter().map(|f| text(&f.ty)).collect();
    assert_eq!(
        types,
        [
            text(quote!(super::SearchRequest)),
            text(quote!(super::Scope))
        ]
    );
    assert!(text(module(&file, "search")).contains(&text(quote!(
        <super::super::Hits as ::prism::__private::facet::Facet>::SHAPE
    ))));
    // Outside the module the types stay as written.
    assert!(text(&file.items[0]).contains(&text(quote!(req: SearchRequest))));
}

/// Names that must never appear unqualified in the macro's own output.
const PRELUDE: &[&str] = &[
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Box",
    "Vec",
    "String",
    "ToString",
    "Clone",
    "Copy",
    "Debug",
    "Default",
    "Send",
    "Sync",
    "Sized",
    "Future",
    "Arc",
    "Fn",
    "FnOnce",
    "FnMut",
    "Into",
    "From",
    "AsRef",
    "PartialEq",
    "Eq",
    "Facet",
    "Formatter",
    "Iterator",
    "Drop",
];

/// Every ident from `PRELUDE` in `tokens` must follow `::`.
///
/// `#[facet(traits(Debug))]` is facet's attribute grammar, not a path: its
/// contents are skipped.
fn assert_no_bare_prelude(tokens: TokenStream) {
    let mut prev: Vec<TokenTree> = Vec::new();
    for tree in tokens {
        let after_traits = matches!(prev.last(), Some(TokenTree::Ident(i)) if i == "traits");
        match &tree {
            TokenTree::Group(_) if after_traits => {}
            TokenTree::Group(group) => assert_no_bare_prelude(group.stream()),
            TokenTree::Ident(ident) if PRELUDE.contains(&ident.to_string().as_str()) => {
                let qualified = matches!(
                    prev.as_slice(),
                    [.., TokenTree::Punct(a), TokenTree::Punct(b)]
                        if a.as_char() == ':' && b.as_char() == ':'
                );
                assert!(qualified, "bare `{ident}` in the output");
            }
            _ => {}
        }
        prev.push(tree);
    }
}

/// Every relative path in the output must start with a name the macro
/// defines itself, a local, or a user token.
struct RelativePaths {
    allowed: HashSet<&'static str>,
    found: Vec<String>,
}

impl<'ast> Visit<'ast> for RelativePaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let first = path.segments[0].ident.to_string();
            if !self.allowed.contains(first.as_str()) {
                self.found.push(text(path));
            }
        }
        syn::visit::visit_path(self, path);
    }
}

#[test]
fn output_uses_absolute_paths_only() {
    // No prelude names in the input, so every one in the output is ours.
    let input = quote! {
        pub trait Calc {
            async fn add(&self, a: i64, b: i64) -> i64;
            async fn div(&self, a: i64, b: i64) -> std::result::Result<i64, DivError>;
            async fn ping(&self);
        }
    };
    let out = service(quote!(public, package = "demo"), input);
    assert_no_bare_prelude(out.clone());

    let file: File = syn::parse2(out).unwrap();
    let mut paths = RelativePaths {
        allowed: [
            // generated items and the user's trait
            "Calc",
            "calc",
            "CalcClient",
            "CalcServer",
            "AddRequest",
            "DivRequest",
            "PingRequest",
            "ADD",
            "DIV",
            "PING",
            "OPS",
            "SERVICE",
            "S",
            "Self",
            // the op markers of the codec checks (`enum add {}`)
            "add",
            "div",
            "ping",
            "check",
            "super",
            // locals and parameters of generated code
            "self",
            "svc",
            "req",
            "call",
            "method",
            "__cx",
            "f",
            "channel",
            "service",
            "a",
            "b",
            // attribute names
            "doc",
            "derive",
            "facet",
            "allow",
            // user types from the input
            "i64",
            "std",
            "DivError",
        ]
        .into_iter()
        .collect(),
        found: Vec::new(),
    };
    paths.visit_file(&file);
    assert!(
        paths.found.is_empty(),
        "unexpected relative paths: {:?}",
        paths.found
    );
}

#[test]
fn user_types_pass_through_untouched() {
    let out = text(service(quote!(public), calc()));
    // `Result` is the user's: it appears in the trait method only.
    assert_eq!(out.matches("Result<").count(), 1, "{out}");
}

fn error_count(out: &TokenStream) -> usize {
    out.to_string().matches("compile_error").count()
}

#[test]
fn errors_are_collected() {
    let out = service(
        quote!(public),
        quote! {
            pub trait Bad {
                fn sync(&self);
                async fn by_mut(&mut self);
            }
        },
    );
    assert_eq!(error_count(&out), 2, "{out}");
    // The fallback keeps the trait nameable, and nothing else is generated.
    let file: File = syn::parse2(out).unwrap();
    assert!(matches!(&file.items[0], Item::Trait(t) if t.ident == "Bad"));
    assert!(!text(&file).contains("BadClient"));
}

#[test]
fn every_broken_rule_is_reported() {
    let out = service(
        quote!(public, package = 1, colour = "red", name = "a/b"),
        quote! {
            pub trait Bad<T>: Clone {
                type Item;
                const N: usize;
                async fn generic<U>(&self, x: U) where U: Copy;
                async fn pattern(&self, (a, b): (i32, i32), _: u8, mut c: u8);
                async fn borrowed(&self, s: &str) -> &str;
                async fn opaque(&self, it: impl Iterator<Item = u8>);
                async fn defaulted(&self) {}
                async fn by_value(self);
                async fn missing();
                #[prism(colour = "red")]
                async fn unknown_option(&self);
                async fn get_value(&self);
                async fn getValue(&self);
                async fn ops(&self);
                async fn new(&self);
            }
        },
    );
    let messages = out.to_string();
    let expected = [
        "`package` takes a string literal",
        "unknown option `colour`",
        "invalid service name `a/b`",
        "cannot be generic",
        "takes no supertraits",
        "associated types",
        "associated constants",
        "a service method cannot be generic",
        "`where` clause",
        "must be a plain name like",
        "an argument needs a name",
        "`mut c` in your `impl`",
        "argument types must be owned",
        "return types must be owned",
        "`impl Trait` is not supported",
        "default body",
        "not `self` by value",
        "takes `&self` as its first argument",
        "unknown option `colour` in `#[prism(...)]`",
        "both generate",
        "holds the service's own metadata",
        "would clash with `BadClient::new`",
    ];
    for message in expected {
        assert!(
            messages.contains(message),
            "no error `{message}` in\n{messages}"
        );
    }
    assert_eq!(error_count(&out), expected.len(), "{messages}");
}

#[test]
fn fallback_trait_strips_what_would_error_again() {
    let out = service(
        quote!(public),
        quote! {
            pub trait Bad {
                #[prism(nope)]
                async fn pattern(&self, (a, b): (i32, i32)) { let _ = (a, b); }
            }
        },
    );
    let file: File = syn::parse2(out).unwrap();
    let Item::Trait(tr) = &file.items[0] else {
        panic!()
    };
    let text = text(tr);
    assert!(!text.contains("prism"), "{text}");
    assert!(text.contains("_:(i32,i32)"), "{text}");
    assert!(!text.contains("let_"), "{text}");
}

#[test]
fn non_traits_are_rejected_and_kept() {
    let out = service(
        quote!(public),
        quote!(
            pub struct NotATrait;
        ),
    );
    assert_eq!(error_count(&out), 1);
    assert!(out.to_string().contains("goes on a trait"));
    assert!(out.to_string().contains("struct NotATrait"));
}

#[test]
fn an_empty_service_has_an_empty_op_table_and_only_the_fallback_arm() {
    let out = text(service(
        quote!(public),
        quote!(
            pub trait Empty {}
        ),
    ));
    assert!(out.contains(&text(quote!([::prism::reflect::OpDescriptor; 0] = [])),));
    assert!(
        out.contains(&text(quote!(match method {
            _ => ::prism::__private::unknown_method(call),
        }))),
        "{out}"
    );
}

#[test]
fn a_trait_named_s_does_not_shadow_the_type_parameter() {
    let out = text(service(
        quote!(public),
        quote!(
            pub trait S {
                async fn a(&self);
            }
        ),
    ));
    assert!(
        out.contains(&text(quote!(impl<__S: S> SServer<__S>))),
        "{out}"
    );
}

#[test]
#[ignore = "prints the expansion for review"]
fn print_calc() {
    println!("{}", service(quote!(public, package = "demo"), calc()));
}
