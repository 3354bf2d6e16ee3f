//! Interop with the reference FlatBuffers compiler: for each corpus type,
//! the exported `.fbs` and an encoded buffer go through Debian's
//! `flatc --json --raw-binary`, and the JSON it prints must equal the value,
//! field by field (the expected JSON is built by hand from the value). Then
//! the other way: `flatc --binary` turns that JSON back into a buffer made
//! by FlatBuffers' own C++ builder, which must decode to the same value.
//!
//! Needs `flatc` on `PATH`: the Debian package `flatbuffers-compiler`.

mod flatbuffers_corpus;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use facet::Facet;
use flatbuffers_corpus::*;
use prism_codecs::flatbuffers as fb;
use serde_json::{Value, json};

/// The `flatc` on `PATH`. Without one the checks are skipped with a
/// warning on a developer's machine, so `cargo test --workspace` works on a
/// fresh checkout; under CI (`CI` set, as `.ci/run` runs) a missing `flatc`
/// fails the test, and `.ci/run` installs it.
fn flatc() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("flatc"))
            .find(|candidate| candidate.is_file())
    });
    let message = "`flatc` is not on PATH: install the Debian package `flatbuffers-compiler` \
                   (apt-get install -y flatbuffers-compiler) to run the FlatBuffers interop test";
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => panic!("{message}"),
        None => {
            eprintln!("warning: skipped: {message}");
            None
        }
    }
}

/// A fresh scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "prism-flatbuffers-interop-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command, what: &str) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run flatc: {e}"));
    assert!(
        output.status.success(),
        "{what}: flatc failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks one value both ways through flatc.
fn check<T>(name: &str, value: &T, expected: Value)
where
    T: Facet<'static> + PartialEq + core::fmt::Debug,
{
    let Some(flatc) = flatc() else {
        return;
    };
    let dir = Scratch::new(name);
    let schema = fb::fbs_schema_of::<T>().expect("schema");
    let schema_path = dir.0.join("schema.fbs");
    std::fs::write(&schema_path, &schema).expect("write schema");
    std::fs::write(dir.0.join("buffer.bin"), fb::to_vec(value).expect("encode"))
        .expect("write buffer");

    // Our buffer -> flatc -> JSON.
    run(
        Command::new(&flatc)
            .current_dir(&dir.0)
            .args(["--json", "--raw-binary", "--strict-json", "--defaults-json"])
            .args(["-o", "."])
            .arg("schema.fbs")
            .arg("--")
            .arg("buffer.bin"),
        name,
    );
    let json = std::fs::read_to_string(dir.0.join("buffer.json")).expect("flatc wrote no JSON");
    let actual: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{name}: flatc printed invalid JSON ({e}):\n{json}"));
    assert_eq!(
        actual, expected,
        "{name}: flatc's JSON differs from the value\nschema:\n{schema}"
    );

    // flatc's JSON -> flatc's C++ builder -> our decoder.
    let rev = dir.0.join("rev");
    run(
        Command::new(&flatc)
            .current_dir(&dir.0)
            .arg("--binary")
            .arg("-o")
            .arg(&rev)
            .arg("schema.fbs")
            .arg("buffer.json"),
        name,
    );
    let theirs = std::fs::read(rev.join("buffer.bin")).expect("flatc wrote no binary");
    let back: T = fb::from_slice(&theirs)
        .unwrap_or_else(|e| panic!("{name}: cannot decode flatc's own buffer: {e}"));
    assert_eq!(
        &back, value,
        "{name}: flatc's buffer decodes to another value"
    );
}

// ---------------------------------------------------------------------------
// The expected JSON, by hand.
// ---------------------------------------------------------------------------

fn point(p: &Point) -> Value {
    json!({ "x": p.x, "y": p.y })
}

fn u128_json(v: u128) -> Value {
    json!({ "lo": v as u64, "hi": (v >> 64) as u64 })
}

fn i128_json(v: i128) -> Value {
    json!({ "lo": v as u64, "hi": (v >> 64) as i64 })
}

fn scalars(v: &Scalars) -> Value {
    json!({
        "flag": v.flag,
        "a": v.a,
        "b": v.b,
        "c": v.c,
        "d": v.d,
        "e": v.e,
        "f": v.f,
        "g": v.g,
        "h": v.h,
        "x": f64::from(v.x),
        "y": v.y,
        "ch": u32::from(v.ch),
        "size": v.size as u64,
        "off": v.off as i64,
        "big": u128_json(v.big),
        "neg": i128_json(v.neg),
    })
}

fn blob(v: &Blob) -> Value {
    json!({
        "name": v.name,
        "payload": v.payload,
        "raw": v.raw.to_vec(),
        "tags": v.tags,
    })
}

fn nested(v: &Nested) -> Value {
    json!({
        "id": v.id,
        "inner": { "label": v.inner.label, "at": point(&v.inner.at) },
        "boxed": point(&v.boxed),
        "pair": { "f0": v.pair.0, "f1": v.pair.1 },
        "marker": {},
        "meters": { "f0": v.meters.0 },
    })
}

fn batch(v: &Batch) -> Value {
    json!({
        "items": v.items.iter().map(|i| json!({
            "id": i.id,
            "name": i.name,
            "weight": f64::from(i.weight),
        })).collect::<Vec<_>>(),
        "grid": v.grid.iter().map(|row| json!({ "value": row })).collect::<Vec<_>>(),
        "chunks": v.chunks.iter().map(|c| json!({ "value": c })).collect::<Vec<_>>(),
        "arr": v.arr,
    })
}

fn maybe(v: &Maybe) -> Value {
    let mut out = json!({
        // Optional scalars print as `null` when absent (with --defaults-json).
        "count": v.count,
        "flag": v.flag,
        "names": v.names.iter().map(|n| match n {
            Some(s) => json!({ "value": s }),
            None => json!({}),
        }).collect::<Vec<_>>(),
    });
    // Absent strings, tables and vectors are simply not printed.
    if let Some(name) = &v.name {
        out["name"] = json!(name);
    }
    if let Some(at) = &v.at {
        out["at"] = point(at);
    }
    if let Some(inner) = &v.nested {
        out["nested"] = json!({ "value": inner });
    }
    if let Some(list) = &v.list {
        out["list"] = json!(list);
    }
    out
}

fn shape_body(s: &Shape) -> (&'static str, Value) {
    match s {
        Shape::Circle { r } => ("Circle", json!({ "r": r })),
        Shape::Rect(w, h) => ("Rect", json!({ "f0": f64::from(*w), "f1": f64::from(*h) })),
        Shape::Label(text) => ("Label", json!({ "f0": text })),
        Shape::Empty => ("Empty", json!({})),
    }
}

/// Sets `name_type` and `name` on `out` for a union field.
fn union_field(out: &mut Value, name: &str, variant: Option<(&str, Value)>) {
    match variant {
        Some((ty, body)) => {
            out[format!("{name}_type")] = json!(ty);
            out[name] = body;
        }
        None => out[format!("{name}_type")] = json!("NONE"),
    }
}

fn color(c: Color) -> Value {
    json!(format!("{c:?}"))
}

fn drawing(v: &Drawing) -> Value {
    let mut out = json!({
        "shapes": v.shapes.iter().map(|s| {
            let mut wrapper = json!({});
            union_field(&mut wrapper, "value", Some(shape_body(s)));
            wrapper
        }).collect::<Vec<_>>(),
        "color": color(v.color),
        "palette": v.palette.iter().map(|c| color(*c)).collect::<Vec<_>>(),
        "fill": v.fill.map_or(Value::Null, color),
    });
    union_field(&mut out, "main", Some(shape_body(&v.main)));
    union_field(&mut out, "extra", v.extra.as_ref().map(shape_body));
    let outcome = match &v.outcome {
        Ok(n) => ("Ok", json!({ "f0": n })),
        Err(e) => ("Err", json!({ "f0": e })),
    };
    union_field(&mut out, "outcome", Some(outcome));
    out
}

fn maps(v: &Maps) -> Value {
    // Entries are sorted by key: strings bytewise, numbers numerically.
    let mut by_name: Vec<_> = v.by_name.iter().collect();
    by_name.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut words: Vec<_> = v.words.iter().collect();
    words.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    json!({
        "by_name": by_name.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect::<Vec<_>>(),
        "by_id": v.by_id.iter().map(|(k, p)| json!({ "key": k, "value": point(p) })).collect::<Vec<_>>(),
        "ids": v.ids.iter().collect::<Vec<_>>(),
        "words": words,
        "blobs": v.blobs.iter().map(|(k, b)| json!({ "key": k, "value": b })).collect::<Vec<_>>(),
    })
}

fn expr(e: &Expr) -> (&'static str, Value) {
    match e {
        Expr::Lit(n) => ("Lit", json!({ "f0": n })),
        Expr::Neg(inner) => {
            let mut body = json!({});
            union_field(&mut body, "f0", Some(expr(inner)));
            ("Neg", body)
        }
        Expr::Add(a, b) => {
            let mut body = json!({});
            union_field(&mut body, "f0", Some(expr(a)));
            union_field(&mut body, "f1", Some(expr(b)));
            ("Add", body)
        }
    }
}

fn tree(t: &Tree) -> Value {
    let mut out = json!({
        "label": t.label,
        "children": t.children.iter().map(tree).collect::<Vec<_>>(),
    });
    if let Some(next) = &t.next {
        out["next"] = tree(next);
    }
    out
}

fn program(v: &Program) -> Value {
    let mut out = json!({ "name": v.name, "tree": tree(&v.tree) });
    union_field(&mut out, "body", Some(expr(&v.body)));
    out
}

// ---------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------

#[test]
fn flatc_is_installed() {
    let Some(path) = flatc() else {
        return;
    };
    let output = Command::new(&path)
        .arg("--version")
        .output()
        .expect("run flatc");
    assert!(output.status.success(), "flatc --version failed");
}

#[test]
fn scalars_struct() {
    for (i, v) in sample_scalars().iter().enumerate() {
        check(&format!("scalars{i}"), v, scalars(v));
    }
}

#[test]
fn strings_and_bytes() {
    for (i, v) in sample_blobs().iter().enumerate() {
        check(&format!("blob{i}"), v, blob(v));
    }
}

#[test]
fn nested_tables() {
    for (i, v) in sample_nested().iter().enumerate() {
        check(&format!("nested{i}"), v, nested(v));
    }
}

#[test]
fn vectors_of_tables() {
    for (i, v) in sample_batches().iter().enumerate() {
        check(&format!("batch{i}"), v, batch(v));
    }
}

#[test]
fn options_present_and_absent() {
    for (i, v) in sample_maybes().iter().enumerate() {
        check(&format!("maybe{i}"), v, maybe(v));
    }
}

#[test]
fn enums_as_unions() {
    for (i, v) in sample_drawings().iter().enumerate() {
        check(&format!("drawing{i}"), v, drawing(v));
    }
}

#[test]
fn maps_and_sets() {
    for (i, v) in sample_maps().iter().enumerate() {
        check(&format!("maps{i}"), v, maps(v));
    }
}

#[test]
fn recursive_types() {
    for (i, v) in sample_programs().iter().enumerate() {
        check(&format!("program{i}"), v, program(v));
    }
}

#[test]
fn roots_that_are_not_tables() {
    check("u64", &u64::MAX, json!({ "value": u64::MAX }));
    check("string", &String::from("root"), json!({ "value": "root" }));
    let points = vec![Point { x: 1, y: -1 }, Point { x: 0, y: 0 }];
    check(
        "points",
        &points,
        json!({ "value": points.iter().map(point).collect::<Vec<_>>() }),
    );
    let mut union = json!({});
    union_field(
        &mut union,
        "value",
        Some(shape_body(&Shape::Rect(0.5, 2.0))),
    );
    check("shape", &Shape::Rect(0.5, 2.0), union);
    check("some", &Some(9u32), json!({ "value": 9 }));
    check("none", &None::<u32>, json!({ "value": null }));
}

/// The schema files themselves, as flatc parses them.
#[test]
fn every_schema_compiles() {
    let Some(flatc) = flatc() else {
        return;
    };
    let schemas = [
        fb::fbs_schema_of::<Scalars>(),
        fb::fbs_schema_of::<Blob>(),
        fb::fbs_schema_of::<Nested>(),
        fb::fbs_schema_of::<Batch>(),
        fb::fbs_schema_of::<Maybe>(),
        fb::fbs_schema_of::<Drawing>(),
        fb::fbs_schema_of::<Maps>(),
        fb::fbs_schema_of::<Program>(),
    ];
    for (i, schema) in schemas.into_iter().enumerate() {
        let schema = schema.expect("schema");
        let dir = Scratch::new(&format!("schema{i}"));
        let path: &Path = &dir.0.join("schema.fbs");
        std::fs::write(path, &schema).expect("write schema");
        // `--cpp` makes flatc check the whole schema, not just parse it.
        run(
            Command::new(&flatc)
                .current_dir(&dir.0)
                .args(["--cpp", "-o", "."])
                .arg("schema.fbs"),
            &format!("schema {i}:\n{schema}"),
        );
    }
}
