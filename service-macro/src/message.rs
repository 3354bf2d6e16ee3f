//! `#[prism::message]`: the derives and crate paths every wire type needs.
//!
//! It adds `#[derive(::prism::Facet)]` with `#[facet(crate = ::prism::facet)]`
//! (so the type needs no direct facet dependency), an explicit `#[repr(u8)]`
//! on an enum that has no `repr` (facet needs one; up to 256 variants), and
//! with `rkyv`, rkyv's three derives with `#[rkyv(crate = ::prism::rkyv)]`.
//! Everything else about the item is left as written.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Item, parse_quote};

use crate::attr;
use crate::ctxt::Errors;

/// Expands `#[prism::message(attr)] item`.
pub(crate) fn message(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let rkyv = options(attr, &mut errors);
    let mut item = match syn::parse2::<Item>(item.clone()) {
        Ok(item @ (Item::Struct(_) | Item::Enum(_))) => item,
        Ok(other) => {
            let error = syn::Error::new(
                crate::expand::keyword_span(&other),
                "`#[prism::message]` goes on a struct or an enum: the types a service sends and receives",
            )
            .to_compile_error();
            return quote!(#other #error);
        }
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#item #error);
        }
    };
    if let Err(error) = errors.finish() {
        let error = error.to_compile_error();
        return quote!(#item #error);
    }
    let mut added: Vec<Attribute> = vec![
        parse_quote!(#[derive(::prism::Facet)]),
        parse_quote!(#[facet(crate = ::prism::facet)]),
    ];
    if matches!(item, Item::Enum(_)) && !has_repr(attrs_of(&item)) {
        added.push(parse_quote!(#[repr(u8)]));
    }
    if rkyv {
        added.push(parse_quote!(#[derive(
            ::prism::rkyv::Archive,
            ::prism::rkyv::Serialize,
            ::prism::rkyv::Deserialize
        )]));
        added.push(parse_quote!(#[rkyv(crate = ::prism::rkyv)]));
    }
    // Ours first: the derives then see the `repr` and crate paths.
    match &mut item {
        Item::Struct(item) => drop(item.attrs.splice(0..0, added)),
        Item::Enum(item) => drop(item.attrs.splice(0..0, added)),
        _ => {}
    }
    quote!(#item)
}

fn attrs_of(item: &Item) -> &[Attribute] {
    match item {
        Item::Struct(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        _ => &[],
    }
}

fn has_repr(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| attr.path().is_ident("repr"))
}

/// Reads `rkyv` (which adds rkyv's derives), the only option, with the
/// service attributes' parser: unknown, repeated and valued keys are
/// reported, every one.
fn options(attr: TokenStream, errors: &mut Errors) -> bool {
    let mut rkyv = false;
    attr::options(
        attr,
        "`#[prism::message(...)]`",
        &["rkyv"],
        &mut Vec::new(),
        errors,
        |key, meta, errors| {
            rkyv = true;
            attr::flag("prism::message", key, &meta, errors)
        },
    );
    rkyv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(attr: TokenStream, item: TokenStream) -> String {
        message(attr, item).to_string()
    }

    #[test]
    fn structs_get_facet_with_prism_paths() {
        let out = expand(
            quote!(),
            quote!(
                pub struct Point {
                    x: i32,
                }
            ),
        );
        assert!(
            out.starts_with("# [derive (:: prism :: Facet)] # [facet (crate = :: prism :: facet)]"),
            "{out}"
        );
        assert!(!out.contains("repr"), "{out}");
        assert!(!out.contains("rkyv"), "{out}");
    }

    #[test]
    fn enums_get_a_repr_unless_they_have_one() {
        let out = expand(
            quote!(),
            quote!(
                enum E {
                    A,
                    B,
                }
            ),
        );
        assert!(out.contains("# [repr (u8)]"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                #[repr(u16)]
                enum E {
                    A,
                    B,
                }
            ),
        );
        assert!(
            out.contains("# [repr (u16)]") && !out.contains("repr (u8)"),
            "{out}"
        );
    }

    #[test]
    fn rkyv_adds_its_derives() {
        let out = expand(
            quote!(rkyv),
            quote!(
                struct Blob {
                    data: Vec<u8>,
                }
            ),
        );
        assert!(out.contains(":: prism :: rkyv :: Archive"), "{out}");
        assert!(out.contains("# [rkyv (crate = :: prism :: rkyv)]"), "{out}");
    }

    #[test]
    fn misuse_is_an_error() {
        assert!(
            expand(
                quote!(),
                quote!(
                    fn f() {}
                )
            )
            .contains("compile_error")
        );
        assert!(
            expand(
                quote!(serde),
                quote!(
                    struct S;
                )
            )
            .contains("compile_error")
        );
        assert!(
            expand(
                quote!(rkyv = true),
                quote!(
                    struct S;
                )
            )
            .contains("compile_error")
        );
    }
}
