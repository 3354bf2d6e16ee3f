//! Text and JSON rendering of schemas.

use facet::Facet;
use serde_json::json;

use super::Schema;

/// Text docs only show up with facet's `doc` feature (on in tests).
#[derive(Facet)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum Shape {
    Circle(f64),
    Rect { w: f64, h: f64 },
    Empty,
}

#[derive(Facet)]
struct Pair(u32, Option<String>);

#[derive(Facet)]
struct Marker;

#[derive(Facet)]
struct Scene {
    shapes: Vec<Shape>,
    origin: Point,
    pairs: [Pair; 2],
    tags: std::collections::BTreeMap<String, (u8, bool)>,
    marker: Marker,
    next: Option<Box<Scene>>,
    status: Result<(), String>,
}

/// The module the test types live in, as facet reports it.
fn m() -> &'static str {
    module_path!()
}

#[test]
fn renders_root_first_then_types() {
    let m = m();
    let text = Schema::of::<Scene>().unwrap().to_string();
    let expected = format!(
        "struct {m}::Scene {{ shapes: list<{m}::Shape>, origin: {m}::Point, pairs: [{m}::Pair; 2], \
         tags: map<string, (u8, bool)>, marker: {m}::Marker, next: option<{m}::Scene>, \
         status: result<(), string> }}\n\
         enum {m}::Shape {{ 0: Circle(f64), 1: Rect {{ w: f64, h: f64 }}, 2: Empty }}\n\
         /// Text docs only show up with facet's `doc` feature (on in tests).\n\
         struct {m}::Point {{ x: i32, y: i32 }}\n\
         struct {m}::Pair(u32, option<string>)\n\
         struct {m}::Marker"
    );
    assert_eq!(text, expected);
}

#[test]
fn renders_unnamed_root_line() {
    let text = Schema::of::<Vec<Marker>>().unwrap().to_string();
    assert_eq!(
        text,
        format!("root list<{m}::Marker>\nstruct {m}::Marker", m = m())
    );
    assert_eq!(Schema::of::<(u8,)>().unwrap().to_string(), "root (u8,)");
    assert_eq!(Schema::of::<()>().unwrap().to_string(), "root ()");
}

#[test]
fn json_shape() {
    let m = m();
    let json = Schema::of::<Shape>().unwrap().to_json();
    let f64_ = json!({ "kind": "f64" });
    assert_eq!(
        json,
        json!({
            "version": 1,
            "root": { "kind": "ref", "index": 0, "name": format!("{m}::Shape") },
            "types": [{
                "index": 0,
                "name": format!("{m}::Shape"),
                "doc": [],
                "kind": "enum",
                "variants": [
                    { "index": 0, "name": "Circle", "kind": "tuple", "doc": [],
                      "fields": [{ "name": "0", "type": f64_, "doc": [] }] },
                    { "index": 1, "name": "Rect", "kind": "struct", "doc": [],
                      "fields": [{ "name": "w", "type": f64_, "doc": [] },
                                 { "name": "h", "type": f64_, "doc": [] }] },
                    { "index": 2, "name": "Empty", "kind": "unit", "doc": [], "fields": [] },
                ],
            }],
        })
    );
}

#[test]
fn json_covers_every_container() {
    let json = Schema::of::<Scene>().unwrap().to_json();
    let fields = &json["types"][0]["fields"];
    assert_eq!(
        fields[2]["type"],
        json!({ "kind": "array", "len": 2, "item": { "kind": "ref", "index": 3, "name": format!("{}::Pair", m()) } })
    );
    assert_eq!(
        fields[3]["type"],
        json!({ "kind": "map", "key": { "kind": "string" },
                "value": { "kind": "tuple", "items": [{ "kind": "u8" }, { "kind": "bool" }] } })
    );
    assert_eq!(fields[5]["type"]["kind"], "option");
    assert_eq!(
        fields[6]["type"],
        json!({ "kind": "result", "ok": { "kind": "unit" }, "err": { "kind": "string" } })
    );
    assert_eq!(json["types"][4]["kind"], "unit_struct");
    assert_eq!(json["types"][3]["kind"], "tuple_struct");
    assert_eq!(
        json["types"][2]["doc"],
        json!(["Text docs only show up with facet's `doc` feature (on in tests)."])
    );
    let s = Schema::of::<Scene>().unwrap();
    assert_eq!(s.to_json_string(), s.to_json_string());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&s.to_json_string()).unwrap(),
        json
    );
}
