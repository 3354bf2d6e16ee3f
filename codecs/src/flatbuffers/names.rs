//! Names in the `.fbs` text: identifiers made from Rust paths, the
//! FlatBuffers keywords they must avoid, and the namespace.

use prism_reflect::{ReflectError, Unsupported};

use crate::PlanError;

pub(super) fn plan_error(error: ReflectError) -> PlanError {
    match error {
        ReflectError::Unsupported {
            type_path,
            at,
            reason,
        } => PlanError {
            codec: "flatbuffers",
            type_path: format!("{type_path} (at {at})"),
            reason: match reason {
                Unsupported::Opaque => "it is opaque to reflection",
                Unsupported::UnknownScalar => "it is a scalar without a known wire form",
                Unsupported::Union => "unions are not supported",
                Unsupported::DynamicValue => "dynamic values are not supported",
                Unsupported::UntaggedEnum => "untagged enums are not supported",
                Unsupported::NumericEnum => "numeric enums are not supported",
                Unsupported::ContainerProxy => "container proxies are not supported",
                Unsupported::FieldProxy { .. } => "field proxies are not supported",
                Unsupported::FlattenedField { .. } => "flattened fields are not supported",
                Unsupported::Pointer { .. } => "this pointer kind is not supported",
                Unsupported::RecursiveTransparent => {
                    "transparent wrappers that contain themselves are not supported"
                }
                _ => "it has no wire description",
            },
        },
        other => PlanError {
            codec: "flatbuffers",
            type_path: other.to_string(),
            reason: "its schema could not be built",
        },
    }
}

/// The `.fbs` namespace for a module path: `a::b` becomes `a.b`.
pub(super) fn namespace(module_path: Option<&str>) -> String {
    let parts: Vec<String> = module_path
        .unwrap_or("prism")
        .split("::")
        .map(sanitize)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        "prism".to_owned()
    } else {
        parts.join(".")
    }
}

/// Turns arbitrary text into a FlatBuffers identifier: `Pair<u8, String>`
/// becomes `Pair_u8_String`.
pub(super) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let mut out = trimmed.to_owned();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// Words the FlatBuffers schema language reserves: a field or type cannot
/// be called this.
pub(super) const KEYWORDS: &[&str] = &[
    "attribute",
    "bool",
    "byte",
    "double",
    "enum",
    "false",
    "file_extension",
    "file_identifier",
    "float",
    "float32",
    "float64",
    "include",
    "int",
    "int16",
    "int32",
    "int64",
    "int8",
    "long",
    "namespace",
    "native_include",
    "null",
    "root_type",
    "rpc_service",
    "short",
    "string",
    "struct",
    "table",
    "true",
    "ubyte",
    "uint",
    "uint16",
    "uint32",
    "uint64",
    "uint8",
    "ulong",
    "union",
    "ushort",
];

pub(super) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// The type name of a Rust path: `a::b::Pair<u8, alloc::string::String>`
/// becomes `Pair_u8_String`.
pub(super) fn type_name(path: &str) -> String {
    let (head, args) = match path.find('<') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, ""),
    };
    let base = head.rsplit("::").next().unwrap_or(head);
    // Generic arguments keep only their last path segments.
    let mut args_short = String::new();
    for piece in args.split_inclusive(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        let (word, sep) = match piece.char_indices().last() {
            Some((i, c)) if !(c.is_alphanumeric() || c == '_' || c == ':') => {
                (&piece[..i], &piece[i..])
            }
            _ => (piece, ""),
        };
        args_short.push_str(word.rsplit("::").next().unwrap_or(word));
        args_short.push_str(sep);
    }
    sanitize(&format!("{base}{args_short}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers() {
        assert_eq!(type_name("a::b::Point"), "Point");
        assert_eq!(
            type_name("a::Pair<u8, alloc::string::String>"),
            "Pair_u8_String"
        );
        assert_eq!(sanitize("9lives"), "T9lives");
        assert!(is_identifier("name"));
        assert!(!is_identifier("table"));
        assert!(!is_identifier("r#type"));
        assert_eq!(namespace(Some("my_crate::api")), "my_crate.api");
        assert_eq!(namespace(None), "prism");
    }
}
