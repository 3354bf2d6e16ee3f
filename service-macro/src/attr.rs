//! Options: the arguments of `#[prism::service(...)]` and the
//! `#[prism(...)]` attributes on methods.
//!
//! Both are `key = value` lists read by one loop ([`options`]) that knows
//! nothing about particular keys. Adding an option takes two lines: its name
//! in the `KEYS` table and an arm in the `parse` function that stores its
//! value (see [`ServiceArgs::parse`]). Unknown and repeated keys are reported
//! on the key and their values skipped, so every mistake is reported in one
//! run.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Token};

use crate::ctxt::Errors;

/// The name of the method attribute, `#[prism(...)]`.
const METHOD_ATTR: &str = "prism";

/// Arguments of `#[prism::service(package = "...", name = "...", codec = ..)]`.
#[derive(Default)]
pub(crate) struct ServiceArgs {
    /// `package = "demo"`: the package in op ids (`demo.Calc/add`).
    pub(crate) package: Option<LitStr>,
    /// `name = "Calculator"`: the service name on the wire; defaults to the
    /// trait name.
    pub(crate) name: Option<LitStr>,
    /// `codec = rkyv` or `codecs = [rkyv, flatbuffers]`: the default for
    /// every op; postcard when absent.
    pub(crate) codecs: Option<CodecList>,
    /// `permission = "model.read"` or `public`: the default access of every
    /// op that declares none.
    pub(crate) access: Option<AccessDecl>,
}

impl ServiceArgs {
    const KEYS: &[&str] = &["package", "name", "codec", "codecs", "permission", "public"];

    /// Reads the attribute's arguments, reporting every problem to `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = ServiceArgs::default();
        options(
            tokens,
            "`#[prism::service(...)]`",
            Self::KEYS,
            &mut Vec::new(),
            errors,
            |key, meta, errors| {
                match key {
                    "package" => args.package = string(key, "demo", &meta, errors)?,
                    "name" => args.name = string(key, "Calculator", &meta, errors)?,
                    "codec" | "codecs" => set_codecs(&mut args.codecs, key, &meta, errors)?,
                    "permission" | "public" => {
                        set_access(&mut args.access, "prism::service", key, &meta, errors)?;
                    }
                    _ => unreachable!("`{key}` is in KEYS but has no arm"),
                }
                Ok(())
            },
        );
        args
    }
}

/// Options of one method, from its `#[prism(...)]` attributes.
#[derive(Default)]
pub(crate) struct MethodOptions {
    /// `codec = rkyv` or `codecs = [rkyv, flatbuffers]`: overrides the
    /// service's default.
    pub(crate) codecs: Option<CodecList>,
    /// `spawn` (each call in its own task) or `inline` (in the connection's
    /// task), with where it was written; the server's default otherwise.
    pub(crate) execution: Option<Execution>,
    /// `bare`: the op's one argument travels as it is, not wrapped in a
    /// request struct.
    pub(crate) bare: Option<proc_macro2::Span>,
    /// `subscription` (drop the oldest items of a slow reader) or
    /// `subscription = "wait"` / `"drop_oldest"`, with where it was written.
    pub(crate) subscription: Option<(LagPolicy, proc_macro2::Span)>,
    /// `buffer = 256`: items a drop-oldest subscription holds for a slow
    /// reader.
    pub(crate) buffer: Option<(usize, proc_macro2::Span)>,
    /// `max_message = 1048576`: the largest message (request, response or
    /// stream item) the op takes, in bytes.
    pub(crate) max_message: Option<u64>,
    /// `priority = 6`: how urgently the op's output leaves, 0 to 7.
    pub(crate) priority: Option<u8>,
    /// `permission = "model.infer"` or `public`: who may call the op.
    pub(crate) access: Option<AccessDecl>,
    /// `datagram` or `datagram = "refuse"` / `"reliable"`: a fire-and-forget
    /// op, with what it does on links without unreliable datagrams.
    pub(crate) datagram: Option<(DatagramFallback, proc_macro2::Span)>,
}

/// What a datagram op does on a link without unreliable datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DatagramFallback {
    /// `"refuse"` (the default): the handshake refuses such a link.
    Refuse,
    /// `"reliable"`: it travels in band, reliably.
    Reliable,
}

/// Who may call an op, as declared.
#[derive(Clone)]
pub(crate) enum AccessDecl {
    /// `public`.
    Public,
    /// `permission = ".."`.
    Permission(LitStr),
}

/// What a push subscription does with a reader that falls behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LagPolicy {
    /// `"drop_oldest"` (the default).
    DropOldest,
    /// `"wait"`.
    Wait,
}

/// Where an op asks its handler to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Execution {
    /// `#[prism(spawn)]`.
    Spawn,
    /// `#[prism(inline)]`.
    Inline,
}

impl MethodOptions {
    const KEYS: &[&str] = &[
        "codec",
        "codecs",
        "spawn",
        "inline",
        "bare",
        "subscription",
        "buffer",
        "max_message",
        "priority",
        "permission",
        "public",
        "datagram",
    ];

    /// Reads every `#[prism(...)]` among `attrs` (a key may appear once
    /// across all of them).
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut parsed = MethodOptions::default();
        let mut seen = Vec::new();
        for attr in attrs.iter().filter(|attr| is_method_attr(attr)) {
            let syn::Meta::List(list) = &attr.meta else {
                errors.spanned(
                    attr,
                    "`#[prism]` takes its options in parentheses: `#[prism(...)]`",
                );
                continue;
            };
            options(
                list.tokens.clone(),
                "`#[prism(...)]`",
                Self::KEYS,
                &mut seen,
                errors,
                |key, meta, errors| match key {
                    "codec" | "codecs" => set_codecs(&mut parsed.codecs, key, &meta, errors),
                    "spawn" | "inline" => {
                        let span = meta.path.span();
                        let execution = if key == "spawn" {
                            Execution::Spawn
                        } else {
                            Execution::Inline
                        };
                        // The same key twice is a duplicate; the other one
                        // is a contradiction.
                        if parsed.execution.replace(execution).is_some() {
                            errors.push(syn::Error::new(
                                span,
                                "give either `spawn` or `inline`, not both",
                            ));
                        }
                        flag("prism", key, &meta, errors)
                    }
                    "bare" => {
                        parsed.bare = Some(meta.path.span());
                        flag("prism", key, &meta, errors)
                    }
                    "subscription" => {
                        let span = meta.path.span();
                        if !meta.input.peek(Token![=]) {
                            parsed.subscription = Some((LagPolicy::DropOldest, span));
                            return flag("prism", key, &meta, errors);
                        }
                        let expected = "`subscription` takes `\"drop_oldest\"` or `\"wait\"`, or no value (drop oldest)";
                        let Some(lit) = string(key, "wait", &meta, errors)? else {
                            return Ok(());
                        };
                        match lit.value().as_str() {
                            "drop_oldest" => {
                                parsed.subscription = Some((LagPolicy::DropOldest, span));
                            }
                            "wait" => parsed.subscription = Some((LagPolicy::Wait, span)),
                            _ => errors.spanned(&lit, expected),
                        }
                        Ok(())
                    }
                    "buffer" => {
                        let span = meta.path.span();
                        let expected =
                            "`buffer` takes a positive number of items, like `buffer = 256`";
                        let n = positive_int::<usize>(expected, &meta, errors)?;
                        parsed.buffer = n.map(|n| (n, span));
                        Ok(())
                    }
                    "max_message" => {
                        let expected = "`max_message` takes a positive number of bytes, like `max_message = 1048576`";
                        parsed.max_message = positive_int::<u64>(expected, &meta, errors)?;
                        Ok(())
                    }
                    "priority" => {
                        parsed.priority = priority_level(&meta, errors)?;
                        Ok(())
                    }
                    "permission" | "public" => {
                        set_access(&mut parsed.access, "prism", key, &meta, errors)
                    }
                    "datagram" => {
                        let span = meta.path.span();
                        if !meta.input.peek(Token![=]) {
                            parsed.datagram = Some((DatagramFallback::Refuse, span));
                            return flag("prism", key, &meta, errors);
                        }
                        let expected = "`datagram` takes `\"refuse\"` (links without datagrams are refused) or `\"reliable\"` (it travels in band there), or no value (refuse)";
                        let Some(lit) = string(key, "reliable", &meta, errors)? else {
                            return Ok(());
                        };
                        match lit.value().as_str() {
                            "refuse" => parsed.datagram = Some((DatagramFallback::Refuse, span)),
                            "reliable" => {
                                parsed.datagram = Some((DatagramFallback::Reliable, span));
                            }
                            _ => errors.spanned(&lit, expected),
                        }
                        Ok(())
                    }
                    _ => unreachable!("`{key}` is in KEYS but has no arm"),
                },
            );
        }
        parsed
    }
}

/// The codecs an op accepts, in preference order, as written.
#[derive(Clone)]
pub(crate) struct CodecList {
    /// Each codec: a built-in name or a user codec's type path.
    pub(crate) codecs: Vec<CodecRef>,
    /// Where the option was written, for errors about the whole list.
    pub(crate) span: proc_macro2::Span,
}

impl CodecList {
    /// The default: postcard alone.
    pub(crate) fn postcard(span: proc_macro2::Span) -> Self {
        CodecList {
            codecs: vec![CodecRef {
                ty: quote::quote!(::prism::codec::Postcard),
                name: String::from("postcard"),
                is_rkyv: false,
                is_postcard: true,
            }],
            span,
        }
    }

    /// Whether postcard is the only codec.
    pub(crate) fn is_postcard_only(&self) -> bool {
        matches!(self.codecs.as_slice(), [only] if only.is_postcard)
    }

    /// Whether rkyv is among the codecs.
    pub(crate) fn has_rkyv(&self) -> bool {
        self.codecs.iter().any(|c| c.is_rkyv)
    }

    /// The codec set type: the codec, or a tuple of them.
    pub(crate) fn set_type(&self) -> TokenStream {
        let types = self.codecs.iter().map(|c| &c.ty);
        match self.codecs.as_slice() {
            [only] => only.ty.clone(),
            _ => quote::quote!((#(#types,)*)),
        }
    }
}

/// One codec named in `codec = ..` / `codecs = [..]`.
#[derive(Clone)]
pub(crate) struct CodecRef {
    /// The type implementing `::prism::codec::Codec`.
    pub(crate) ty: TokenStream,
    /// The name as written, for messages and duplicate checks.
    pub(crate) name: String,
    /// Whether this is the built-in rkyv codec (generated request structs
    /// then derive rkyv's traits too).
    pub(crate) is_rkyv: bool,
    /// Whether this is the built-in postcard codec.
    pub(crate) is_postcard: bool,
}

/// The built-in codecs, by the lowercase name options use for them.
const BUILTIN_CODECS: &[(&str, &str)] = &[
    ("postcard", "Postcard"),
    ("rkyv", "Rkyv"),
    ("flatbuffers", "FlatBuffers"),
    ("segments", "Segments"),
];

/// Reads `codec = <codec>` or `codecs = [<codec>, ..]` (each a built-in
/// name or a type path) into `slot`; `codec` and `codecs` exclude each other.
fn set_codecs(
    slot: &mut Option<CodecList>,
    key: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let span = meta.path.span();
    if slot.is_some() {
        errors.push(meta.error("give either `codec = ..` or `codecs = [..]`, not both"));
        return skip_value(meta);
    }
    if !meta.input.peek(Token![=]) {
        errors.push(meta.error(format!(
            "`{key}` takes a codec: `codec = rkyv`, `codecs = [rkyv, flatbuffers]` or a type path"
        )));
        return skip_value(meta);
    }
    let input = meta.value()?;
    let paths: Vec<syn::Path> = if key == "codecs" {
        let content;
        syn::bracketed!(content in input);
        content
            .parse_terminated(syn::Path::parse_mod_style, Token![,])?
            .into_iter()
            .collect()
    } else {
        vec![input.call(syn::Path::parse_mod_style)?]
    };
    if paths.is_empty() {
        errors.push(meta.error("`codecs = [..]` needs at least one codec"));
        return Ok(());
    }
    if paths.len() > 4 {
        errors.push(meta.error("an op may accept at most 4 codecs"));
        return Ok(());
    }
    let mut codecs: Vec<CodecRef> = Vec::new();
    for path in paths {
        let name = path_string(&path);
        if codecs.iter().any(|c| c.name == name) {
            errors.spanned(&path, format!("codec `{name}` is listed twice"));
            continue;
        }
        let builtin = path
            .get_ident()
            .and_then(|ident| BUILTIN_CODECS.iter().find(|(n, _)| ident == n));
        let codec = match builtin {
            Some((lower, upper)) => {
                let ty = syn::Ident::new(upper, path.span());
                CodecRef {
                    ty: quote::quote!(::prism::codec::#ty),
                    name,
                    is_rkyv: *lower == "rkyv",
                    is_postcard: *lower == "postcard",
                }
            }
            None if path
                .get_ident()
                .is_some_and(|i| i.to_string().starts_with(|c: char| c.is_lowercase())) =>
            {
                errors.spanned(
                    &path,
                    format!(
                        "unknown codec `{name}`: the built-in codecs are postcard, rkyv, flatbuffers and segments; name your own codec by its type path"
                    ),
                );
                continue;
            }
            None => CodecRef {
                ty: quote::quote!(#path),
                name,
                is_rkyv: false,
                is_postcard: false,
            },
        };
        codecs.push(codec);
    }
    *slot = Some(CodecList { codecs, span });
    Ok(())
}

/// Whether `attr` is a method's `#[prism(...)]` (which the macro consumes).
pub(crate) fn is_method_attr(attr: &Attribute) -> bool {
    attr.path().is_ident(METHOD_ATTR)
}

/// Runs `set` for each known `key` in the comma-separated list `tokens`;
/// reports unknown keys (spanned on the key) and skips their values.
///
/// `seen` holds the keys already read, so one key given twice (in one
/// attribute or across several) is reported. `set` returns `Err` only for a
/// syntax error that leaves the input unreadable; problems it can step over
/// it pushes to `errors` itself.
pub(crate) fn options(
    tokens: TokenStream,
    attr: &str,
    known: &[&str],
    seen: &mut Vec<String>,
    errors: &mut Errors,
    mut set: impl FnMut(&str, ParseNestedMeta<'_>, &mut Errors) -> syn::Result<()>,
) {
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(|ident| ident.unraw().to_string());
        match key {
            Some(key) if seen.contains(&key) => {
                errors.push(meta.error(format!("duplicate option `{key}`")));
                skip_value(&meta)
            }
            Some(key) if known.contains(&key.as_str()) => {
                let result = set(&key, meta, errors);
                seen.push(key);
                result
            }
            _ => {
                errors.push(meta.error(unknown_key(&meta, attr, known)));
                skip_value(&meta)
            }
        }
    });
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
}

fn unknown_key(meta: &ParseNestedMeta<'_>, attr: &str, known: &[&str]) -> String {
    let key = path_string(&meta.path);
    match known {
        [] => format!("unknown option `{key}`: {attr} takes no options yet"),
        _ => {
            let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "unknown option `{key}` in {attr}; expected one of {}",
                expected.join(", ")
            )
        }
    }
}

/// Consumes whatever follows an unknown key: `= expr`, `(...)`, or nothing.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let input = meta.value()?;
        if !at_end_of_option(input) {
            input.parse::<Expr>()?;
        }
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Whether `input` sits where an option's value should start but none does.
fn at_end_of_option(input: ParseStream<'_>) -> bool {
    input.is_empty() || input.peek(Token![,])
}

/// Reads a flag option (`spawn` in `#[prism(spawn)]`, `rkyv` in
/// `#[prism::message(rkyv)]`: `attr` is the attribute's path), which
/// takes no value.
pub(crate) fn flag(
    attr: &str,
    key: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        errors.push(meta.error(format!("`{key}` takes no value: write `#[{attr}({key})]`")));
        return skip_value(meta);
    }
    Ok(())
}

/// Reads `permission = ".."` or `public` into `slot`; the two exclude each
/// other. A permission is a non-empty run of letters, digits and `.`, `_`,
/// `-`, `:` or `/`.
fn set_access(
    slot: &mut Option<AccessDecl>,
    attr: &str,
    key: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let span = meta.path.span();
    let decl = if key == "public" {
        flag(attr, key, meta, errors)?;
        AccessDecl::Public
    } else {
        let Some(lit) = string(key, "model.infer", meta, errors)? else {
            return Ok(());
        };
        let value = lit.value();
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_:/".contains(c);
        if value.is_empty() || !value.chars().all(allowed) {
            errors.spanned(
                &lit,
                "a permission is letters, digits and `.`, `_`, `-`, `:` or `/`, like `\"model.infer\"`",
            );
            return Ok(());
        }
        AccessDecl::Permission(lit)
    };
    if slot.replace(decl).is_some() {
        errors.push(syn::Error::new(
            span,
            "give either `permission = \"..\"` or `public`, not both",
        ));
    }
    Ok(())
}

/// Reads `key = "string"`; `Ok(None)` when the value was missing or not a
/// string literal (already reported: on the key, or on the value).
fn string(
    key: &str,
    example: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    let expected = format!("`{key}` takes a string literal, like `{key} = \"{example}\"`");
    if !meta.input.peek(Token![=]) {
        errors.push(meta.error(expected));
        return skip_value(meta).map(|()| None);
    }
    let input = meta.value()?;
    if at_end_of_option(input) {
        errors.push(meta.error(expected));
        return Ok(None);
    }
    match input.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(Some(lit)),
        other => {
            errors.spanned(other, expected);
            Ok(None)
        }
    }
}

/// `priority = N` with N from 0 (least urgent) to 7 (most).
fn priority_level(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<u8>> {
    let expected = "`priority` takes a level from 0 (least urgent) to 7 (most), like `priority = 6`; 3 is the default";
    int_where(expected, meta, errors, |n: &u8| *n <= 7)
}

/// Reads `key = <positive integer>`; `Ok(None)` when the value was
/// missing or not one (already reported with `expected`).
fn positive_int<N>(
    expected: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<N>>
where
    N: core::str::FromStr + PartialOrd + Default,
    N::Err: core::fmt::Display,
{
    int_where(expected, meta, errors, |n: &N| *n > N::default())
}

/// Reads `key = <integer>` that `accept` takes; `Ok(None)` when the value
/// was missing or not one (already reported with `expected`).
fn int_where<N>(
    expected: &str,
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
    accept: impl Fn(&N) -> bool,
) -> syn::Result<Option<N>>
where
    N: core::str::FromStr,
    N::Err: core::fmt::Display,
{
    if !meta.input.peek(Token![=]) {
        errors.push(meta.error(expected));
        return skip_value(meta).map(|()| None);
    }
    let input = meta.value()?;
    match input.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<N>() {
            Ok(n) if accept(&n) => Ok(Some(n)),
            _ => {
                errors.spanned(&int, expected);
                Ok(None)
            }
        },
        other => {
            errors.spanned(other, expected);
            Ok(None)
        }
    }
}

/// A path printed the way a user writes it (`foo::bar`, not `foo :: bar`).
fn path_string(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    use super::*;

    fn messages(errors: Errors) -> Vec<String> {
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn service_args_read_strings() {
        let mut errors = Errors::default();
        let args = ServiceArgs::parse(quote!(package = "demo", name = "Calculator"), &mut errors);
        assert!(messages(errors).is_empty());
        assert_eq!(args.package.map(|p| p.value()).as_deref(), Some("demo"));
        assert_eq!(args.name.map(|n| n.value()).as_deref(), Some("Calculator"));
    }

    #[test]
    fn service_args_report_every_mistake() {
        let mut errors = Errors::default();
        let args = ServiceArgs::parse(
            quote!(colour = "red", package = 1, name = , package = "x", nested(a, b), flag),
            &mut errors,
        );
        let messages = messages(errors);
        assert_eq!(
            messages,
            [
                "unknown option `colour` in `#[prism::service(...)]`; expected one of `package`, `name`, `codec`, `codecs`, `permission`, `public`",
                "`package` takes a string literal, like `package = \"demo\"`",
                "`name` takes a string literal, like `name = \"Calculator\"`",
                "duplicate option `package`",
                "unknown option `nested` in `#[prism::service(...)]`; expected one of `package`, `name`, `codec`, `codecs`, `permission`, `public`",
                "unknown option `flag` in `#[prism::service(...)]`; expected one of `package`, `name`, `codec`, `codecs`, `permission`, `public`",
            ]
        );
        // A repeated key is skipped, even when its first value was bad.
        assert!(args.package.is_none());
        assert!(args.name.is_none());
    }

    #[test]
    fn method_options_reject_unknown_keys_and_bad_forms() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[prism(codec = rkyv, colour = "x")]),
            parse_quote!(#[prism(codecs = [rkyv, tensor, rkyv, my::Codec])]),
            parse_quote!(#[prism]),
            parse_quote!(#[prism = "fast"]),
            parse_quote!(#[prism()]),
            parse_quote!(#[doc = "not ours"]),
        ];
        let mut errors = Errors::default();
        MethodOptions::parse(&attrs, &mut errors);
        assert_eq!(
            messages(errors),
            [
                "unknown option `colour` in `#[prism(...)]`; expected one of `codec`, `codecs`, `spawn`, `inline`, `bare`, `subscription`, `buffer`, `max_message`, `priority`, `permission`, `public`, `datagram`",
                "give either `codec = ..` or `codecs = [..]`, not both",
                "`#[prism]` takes its options in parentheses: `#[prism(...)]`",
                "`#[prism]` takes its options in parentheses: `#[prism(...)]`",
            ]
        );
    }
}
