//! Verification of untrusted buffers with the `flatbuffers` crate's own
//! [`Verifier`], driven by the layout instead of generated code.
//!
//! Every table is entered through [`Verifier::visit_table`], so the crate
//! counts nesting depth and tables; strings, byte vectors and scalar fields
//! go through its typed `visit_field` checks (bounds, alignment, UTF-8, NUL
//! terminator); sub-tables, vectors of tables and unions are followed here.

use std::borrow::Cow;

use ::flatbuffers::{
    ErrorTraceDetail, ForwardsUOffset, InvalidFlatbuffer, TableVerifier, Vector, Verifiable,
    Verifier, VerifierOptions,
};

use super::layout::{Field, Layout, Node, NodeId, Scalar, TableId};
use crate::{DecodeError, Limits};

type Result<T> = core::result::Result<T, InvalidFlatbuffer>;

/// The verifier options for one buffer under `limits`.
///
/// - Depth: wrapper tables (a vector's element wrapper, a union's variant
///   table, the root wrapper) may add one table per level, so tables may nest
///   `2 * max_depth + 2` deep; the exact limit is applied while decoding.
/// - Tables: each table is reached through a 4-byte offset, so a buffer
///   without shared sub-objects has at most `len / 4 + 1` of them; more means
///   objects shared many times over, the shape of a decompression bomb.
/// - Apparent size (bytes verified, shared objects counted once per
///   reference): at most [`Limits::max_alloc`].
pub(super) fn options(len: usize, limits: &Limits) -> VerifierOptions {
    VerifierOptions {
        max_depth: limits.max_depth().saturating_mul(2).saturating_add(2),
        max_tables: len / 4 + 1,
        max_apparent_size: limits.max_alloc(),
        ignore_missing_null_terminator: false,
    }
}

/// Verifies `buf` as a buffer whose root table is laid out by `layout`.
pub(super) fn verify(
    layout: &'static Layout,
    buf: &[u8],
    limits: &Limits,
) -> core::result::Result<(), DecodeError> {
    let opts = options(buf.len(), limits);
    let mut v = Verifier::new(&opts, buf);
    let run = |v: &mut Verifier<'_, '_>| -> Result<()> {
        let root = follow(v, 0)?;
        table(v, layout, layout.root, root)
    };
    run(&mut v).map_err(|e| to_decode_error(e, buf.len(), &opts, limits))
}

fn follow(v: &mut Verifier<'_, '_>, at: usize) -> Result<usize> {
    Ok(at.saturating_add(v.get_uoffset(at)? as usize))
}

fn table(v: &mut Verifier<'_, '_>, layout: &'static Layout, t: TableId, pos: usize) -> Result<()> {
    let mut tv = v.visit_table(pos)?;
    for f in &layout.tables[t].fields {
        tv = field(tv, layout, f)?;
    }
    tv.finish();
    Ok(())
}

fn field<'v, 'o, 'b>(
    mut tv: TableVerifier<'v, 'o, 'b>,
    layout: &'static Layout,
    f: &'static Field,
) -> Result<TableVerifier<'v, 'o, 'b>> {
    let name: &'static str = &f.name;
    let voff = f.voffset();
    let (node, required) = match layout.node(f.node) {
        Node::Option(inner) => (*inner, false),
        _ => (f.node, true),
    };
    match layout.node(node) {
        Node::Scalar(s) => scalar_field(tv, name, voff, *s),
        Node::Enum(e) => scalar_field(tv, name, voff, layout.enums[*e].repr),
        Node::Wide { .. } => {
            if let Some(at) = tv.deref(voff)? {
                let v = tv.verifier();
                v.is_aligned::<u64>(at)?;
                v.range_in_buffer(at, 16)?;
            }
            Ok(tv)
        }
        Node::String => tv.visit_field::<ForwardsUOffset<&str>>(name, voff, required),
        Node::Bytes => tv.visit_field::<ForwardsUOffset<Vector<'_, u8>>>(name, voff, required),
        Node::Table(t) => match tv.deref(voff)? {
            Some(at) => {
                let v = tv.verifier();
                let target = follow(v, at)?;
                table(v, layout, *t, target)?;
                Ok(tv)
            }
            None if required => InvalidFlatbuffer::new_missing_required(name),
            None => Ok(tv),
        },
        Node::Vector { elem, .. } => match tv.deref(voff)? {
            Some(at) => {
                let v = tv.verifier();
                let target = follow(v, at)?;
                vector(v, layout, *elem, target)?;
                Ok(tv)
            }
            None if required => InvalidFlatbuffer::new_missing_required(name),
            None => Ok(tv),
        },
        Node::Union(u) => {
            let type_at = tv.deref(voff)?;
            let value_at = tv.deref(voff + 2)?;
            let ty = match type_at {
                Some(at) => tv.verifier().get_u8(at)?,
                None => 0,
            };
            match (ty, value_at) {
                (0, None) if required => InvalidFlatbuffer::new_missing_required(name),
                (0, None) => Ok(tv),
                (0, Some(_)) | (_, None) => InvalidFlatbuffer::new_inconsistent_union(
                    name,
                    Cow::Owned(format!("{name}_type")),
                ),
                (ty, Some(at)) => {
                    // An unknown union type is left to the decoder, which names it.
                    if let Some((_, variant)) = layout.unions[*u].variants.get(usize::from(ty) - 1)
                    {
                        let v = tv.verifier();
                        let target = follow(v, at)?;
                        table(v, layout, *variant, target)?;
                    }
                    Ok(tv)
                }
            }
        }
        // The layout never nests options directly.
        Node::Option(_) => Ok(tv),
    }
}

fn scalar_field<'v, 'o, 'b>(
    tv: TableVerifier<'v, 'o, 'b>,
    name: &'static str,
    voff: u16,
    s: Scalar,
) -> Result<TableVerifier<'v, 'o, 'b>> {
    match s.size() {
        1 => tv.visit_field::<u8>(name, voff, false),
        2 => tv.visit_field::<u16>(name, voff, false),
        4 => tv.visit_field::<u32>(name, voff, false),
        _ => tv.visit_field::<u64>(name, voff, false),
    }
}

fn vector(
    v: &mut Verifier<'_, '_>,
    layout: &'static Layout,
    elem: NodeId,
    pos: usize,
) -> Result<()> {
    let size = match layout.node(elem) {
        Node::Scalar(s) => s.size(),
        Node::Enum(e) => layout.enums[*e].repr.size(),
        Node::Wide { .. } => {
            let len = v.get_uoffset(pos)? as usize;
            let start = pos.saturating_add(4);
            v.is_aligned::<u64>(start)?;
            return v.range_in_buffer(start, len.saturating_mul(16));
        }
        Node::String => return <Vector<'_, ForwardsUOffset<&str>>>::run_verifier(v, pos),
        Node::Table(t) => {
            <Vector<'_, u32>>::run_verifier(v, pos)?;
            let len = v.get_uoffset(pos)? as usize;
            for i in 0..len {
                let at = pos.saturating_add(4).saturating_add(4 * i);
                let target = follow(v, at)?;
                table(v, layout, *t, target)?;
            }
            return Ok(());
        }
        // The layout wraps every other element kind in a table.
        _ => return Ok(()),
    };
    match size {
        1 => <Vector<'_, u8>>::run_verifier(v, pos),
        2 => <Vector<'_, u16>>::run_verifier(v, pos),
        4 => <Vector<'_, u32>>::run_verifier(v, pos),
        _ => <Vector<'_, u64>>::run_verifier(v, pos),
    }
}

/// Where an error was found, from the crate's trace: `in field `a` at byte 12`.
fn trace_text(trace: &impl AsRef<[ErrorTraceDetail]>) -> String {
    let mut out = String::new();
    for detail in trace.as_ref() {
        out.push_str(match out.is_empty() {
            true => " (",
            false => ", ",
        });
        match detail {
            ErrorTraceDetail::VectorElement { index, position } => {
                out.push_str(&format!("element {index} at byte {position}"));
            }
            ErrorTraceDetail::TableField {
                field_name,
                position,
            } => out.push_str(&format!("field `{field_name}` at byte {position}")),
            ErrorTraceDetail::UnionVariant { variant, position } => {
                out.push_str(&format!("variant `{variant}` at byte {position}"));
            }
        }
    }
    if !out.is_empty() {
        out.push(')');
    }
    out
}

fn to_decode_error(
    e: InvalidFlatbuffer,
    len: usize,
    opts: &VerifierOptions,
    limits: &Limits,
) -> DecodeError {
    let message = match e {
        InvalidFlatbuffer::DepthLimitReached => {
            return DecodeError::DepthLimitExceeded {
                limit: limits.max_depth(),
                at: 0,
            };
        }
        InvalidFlatbuffer::ApparentSizeTooLarge => {
            return DecodeError::AllocLimitExceeded {
                limit: limits.max_alloc(),
                at: 0,
            };
        }
        InvalidFlatbuffer::Utf8Error { range, .. } => {
            return DecodeError::InvalidUtf8 { at: range.start };
        }
        InvalidFlatbuffer::TooManyTables => format!(
            "more than the {} tables a {len}-byte buffer can hold without sharing",
            opts.max_tables
        ),
        InvalidFlatbuffer::MissingRequiredField {
            required,
            error_trace,
        } => format!(
            "required field `{required}` is missing{}",
            trace_text(&error_trace)
        ),
        InvalidFlatbuffer::InconsistentUnion {
            field, error_trace, ..
        } => format!(
            "union `{field}` has a type without a value or a value without a type{}",
            trace_text(&error_trace)
        ),
        InvalidFlatbuffer::MissingNullTerminator { range, error_trace } => format!(
            "string at bytes {}..{} has no NUL terminator{}",
            range.start,
            range.end,
            trace_text(&error_trace)
        ),
        InvalidFlatbuffer::Unaligned {
            position,
            unaligned_type,
            error_trace,
        } => format!(
            "misaligned `{unaligned_type}` at byte {position}{}",
            trace_text(&error_trace)
        ),
        InvalidFlatbuffer::RangeOutOfBounds { range, error_trace } => format!(
            "bytes {}..{} run past the end of the {len}-byte buffer{}",
            range.start,
            range.end,
            trace_text(&error_trace)
        ),
        InvalidFlatbuffer::SignedOffsetOutOfBounds {
            position,
            error_trace,
            ..
        } => format!(
            "vtable offset at byte {position} points outside the buffer{}",
            trace_text(&error_trace)
        ),
    };
    DecodeError::Codec {
        codec: "flatbuffers",
        message,
    }
}
