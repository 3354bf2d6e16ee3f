//! Moving user tokens one module deeper.
//!
//! The request structs and descriptors live in a generated child module
//! (`mod calc { use super::*; .. }`), but their field and response types were
//! written for the trait's module. Paths that mean something different one
//! level down are rewritten so they name the same items:
//!
//! - `self::X` becomes `super::X`, `super::X` becomes `super::super::X`;
//! - a path starting with a name the module defines itself (a user type
//!   `AddRequest` next to a method `add`) gets `super::`, so the glob import
//!   is not shadowed by the generated struct of the same name.
//!
//! Absolute paths (`::x`, `crate::x`), prelude and primitive names are left
//! alone. Visibilities are rewritten the same way: the trait's `pub(self)`
//! (or none) is the module's `pub(super)`.

use std::collections::HashSet;

use proc_macro2::Span;
use syn::visit_mut::{self, VisitMut};
use syn::{Ident, Path, PathSegment, Type, Visibility};

/// Rewrites paths in user types for use inside the generated module.
pub(crate) struct Relocate {
    /// Names the generated module defines (request structs, op constants,
    /// `OPS`, `SERVICE`).
    shadowed: HashSet<String>,
}

impl Relocate {
    /// A relocator for a module that defines the names in `shadowed`.
    pub(crate) fn new(shadowed: impl IntoIterator<Item = String>) -> Self {
        Relocate {
            shadowed: shadowed.into_iter().collect(),
        }
    }

    /// `ty`, rewritten to name the same types from inside the module.
    pub(crate) fn ty(&self, ty: &Type) -> Type {
        let mut ty = ty.clone();
        PathRewriter { relocate: self }.visit_type_mut(&mut ty);
        ty
    }

    /// Adjusts `path` in place; returns how many segments were prepended.
    fn path(&self, path: &mut Path) -> usize {
        if path.leading_colon.is_some() {
            return 0;
        }
        let Some(first) = path.segments.first_mut() else {
            return 0;
        };
        let span = first.ident.span();
        if first.ident == "self" {
            first.ident = Ident::new("super", span);
            0
        } else if first.ident == "super" || self.shadowed.contains(&first.ident.to_string()) {
            path.segments
                .insert(0, PathSegment::from(Ident::new("super", span)));
            1
        } else {
            0
        }
    }
}

struct PathRewriter<'r> {
    relocate: &'r Relocate,
}

impl VisitMut for PathRewriter<'_> {
    fn visit_type_path_mut(&mut self, node: &mut syn::TypePath) {
        visit_mut::visit_type_path_mut(self, node);
        let added = self.relocate.path(&mut node.path);
        if let Some(qself) = &mut node.qself {
            qself.position += added;
        }
    }

    fn visit_expr_path_mut(&mut self, node: &mut syn::ExprPath) {
        visit_mut::visit_expr_path_mut(self, node);
        let added = self.relocate.path(&mut node.path);
        if let Some(qself) = &mut node.qself {
            qself.position += added;
        }
    }

    fn visit_trait_bound_mut(&mut self, node: &mut syn::TraitBound) {
        visit_mut::visit_trait_bound_mut(self, node);
        self.relocate.path(&mut node.path);
    }

    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {
        // A macro's path and tokens are its own business: `macro_rules!`
        // names are not reachable through `super::`.
    }
}

/// The visibility inside the generated module that reaches as far as `vis`
/// reaches from the trait's module.
pub(crate) fn visibility(vis: &Visibility) -> Visibility {
    match vis {
        Visibility::Public(_) => vis.clone(),
        Visibility::Inherited => syn::parse_quote!(pub(super)),
        Visibility::Restricted(restricted) => {
            let mut restricted = restricted.clone();
            let path = &mut *restricted.path;
            let first = path
                .segments
                .first()
                .map(|segment| segment.ident.to_string());
            match first.as_deref() {
                Some("self") => {
                    path.segments[0].ident = Ident::new("super", Span::call_site());
                }
                Some("super") => {
                    path.segments
                        .insert(0, PathSegment::from(Ident::new("super", Span::call_site())));
                    restricted.in_token.get_or_insert_with(Default::default);
                }
                _ => {}
            }
            Visibility::Restricted(restricted)
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::{ToTokens, quote};
    use syn::parse_quote;

    use super::*;

    fn relocated(ty: Type) -> String {
        Relocate::new(["AddRequest".to_owned(), "ADD".to_owned()])
            .ty(&ty)
            .to_token_stream()
            .to_string()
    }

    #[test]
    fn relative_paths_move_down_one_level() {
        assert_eq!(
            relocated(parse_quote!(self::Foo)),
            quote!(super::Foo).to_string()
        );
        assert_eq!(
            relocated(parse_quote!(super::Foo)),
            quote!(super::super::Foo).to_string()
        );
        assert_eq!(
            relocated(parse_quote!(Vec<self::m::Foo>)),
            quote!(Vec<super::m::Foo>).to_string()
        );
    }

    #[test]
    fn shadowed_names_get_super() {
        assert_eq!(
            relocated(parse_quote!(AddRequest)),
            quote!(super::AddRequest).to_string()
        );
        assert_eq!(
            relocated(parse_quote!(Option<AddRequest>)),
            quote!(Option<super::AddRequest>).to_string()
        );
        assert_eq!(
            relocated(parse_quote!([u8; ADD])),
            quote!([u8; super::ADD]).to_string()
        );
    }

    #[test]
    fn qualified_paths_keep_their_position() {
        let ty: Type = parse_quote!(<T as self::Tr>::Out);
        let Type::Path(path) = Relocate::new([]).ty(&ty) else {
            panic!("not a path")
        };
        assert_eq!(path.qself.as_ref().map(|q| q.position), Some(2));
        let ty: Type = parse_quote!(<T as super::Tr>::Out);
        let Type::Path(path) = Relocate::new([]).ty(&ty) else {
            panic!("not a path")
        };
        assert_eq!(path.qself.as_ref().map(|q| q.position), Some(3));
    }

    #[test]
    fn absolute_and_prelude_paths_stay() {
        for ty in [
            quote!(::std::string::String),
            quote!(crate::Foo),
            quote!(String),
            quote!(i64),
        ] {
            let parsed: Type = syn::parse2(ty.clone()).unwrap();
            assert_eq!(relocated(parsed), ty.to_string());
        }
    }

    #[test]
    fn visibilities_reach_as_far() {
        let vis = |v: Visibility| visibility(&v).to_token_stream().to_string();
        assert_eq!(vis(parse_quote!(pub)), "pub");
        assert_eq!(vis(Visibility::Inherited), quote!(pub(super)).to_string());
        assert_eq!(
            vis(parse_quote!(pub(crate))),
            quote!(pub(crate)).to_string()
        );
        assert_eq!(vis(parse_quote!(pub(self))), quote!(pub(super)).to_string());
        assert_eq!(
            vis(parse_quote!(pub(super))),
            quote!(pub(in super::super)).to_string()
        );
        assert_eq!(
            vis(parse_quote!(pub(in crate::a))),
            quote!(pub(in crate::a)).to_string()
        );
        assert_eq!(
            vis(parse_quote!(pub(in self::a))),
            quote!(pub(in super::a)).to_string()
        );
    }
}
