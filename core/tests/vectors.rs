//! Shared parity vectors: `tests/vectors/*.json` hold inputs and the native answers, and the
//! wasm package's Node tests (`tests/wasm/`) check that the package gives the same answers.
//! This file is the native side:
//!
//! - `vectors_match_native`: every vector's `expect` equals what the core answers now.
//!   `UPDATE_VECTORS=1 cargo test -p switchyard-core --test vectors` rewrites the `expect`
//!   fields from the core instead (then review the diff: it is the behaviour change).
//! - `parity_corpus`: seeded random inputs with the core's answers. With
//!   `SWITCHYARD_PARITY_CORPUS=<file>` it writes them there for the Node side
//!   (`scripts/test-wasm` does this).
//!
//! The vector format (tests/vectors/README.md): `{ name, fn, input, now?, expect }`, `fn` one of
//! the package's exports, `now` RFC 3339 (default [`DEFAULT_NOW`]), `expect` `{ ok: true, value }`,
//! `{ ok: false, errors }` (validators) or `{ ok: false, error: { code, message } }` (what the
//! room functions throw). JSON cannot write everything, so three one-key objects are macros,
//! expanded by both sides: `{"$nonFinite": "NaN" | "Infinity" | "-Infinity"}`,
//! `{"$repeat": [string, count]}` and `{"$concat": [part, ...]}`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};
use switchyard_core::{
    ErrorCode, Fields, Input, Room, RoomError, RoomKind, Surface, Timestamp, ValidationErrors,
    event, payload,
};

/// `now` for vectors that do not give one.
const DEFAULT_NOW: &str = "2024-01-15T10:00:00.000Z";

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

// ---------------------------------------------------------------------------------------------
// The macros

/// The one key and value of a one-key object whose key starts with `$`.
fn macro_of(v: &Value) -> Option<(&str, &Value)> {
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            k.starts_with('$').then_some((k.as_str(), v))
        }
        _ => None,
    }
}

fn expand_string(name: &str, arg: &Value) -> String {
    match (name, arg) {
        ("$repeat", Value::Array(a)) if a.len() == 2 => {
            let unit = a[0].as_str().expect("$repeat: [string, count]");
            let count = a[1].as_u64().expect("$repeat: [string, count]");
            unit.repeat(count as usize)
        }
        ("$concat", Value::Array(parts)) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => {
                    let (n, a) = macro_of(other).expect("$concat parts are strings or macros");
                    expand_string(n, a)
                }
            })
            .collect(),
        _ => panic!("unknown or malformed macro {name}: {arg}"),
    }
}

/// A vector value as the core's input (macros expanded).
fn decode(v: &Value) -> Input<'static> {
    if let Some((name, arg)) = macro_of(v) {
        if name == "$nonFinite" {
            return Input::NonFinite(match arg.as_str() {
                Some("NaN") => f64::NAN,
                Some("Infinity") => f64::INFINITY,
                Some("-Infinity") => f64::NEG_INFINITY,
                _ => panic!("$nonFinite takes \"NaN\", \"Infinity\" or \"-Infinity\""),
            });
        }
        return Input::String(expand_string(name, arg).into());
    }
    match v {
        Value::Array(a) => Input::Array(a.iter().map(decode).collect()),
        Value::Object(m) => Input::Object(m.iter().map(|(k, v)| (k.clone(), decode(v))).collect()),
        other => Input::from(other.clone()),
    }
}

/// A vector value as plain JSON (macros expanded; outputs never hold non-finite numbers).
fn expand(v: &Value) -> Value {
    if let Some((name, arg)) = macro_of(v) {
        return Value::String(expand_string(name, arg));
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(expand).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), expand(v))).collect()),
        other => other.clone(),
    }
}

/// The inverse of [`expand`] for long strings of one repeated character, so that rewritten
/// expectations stay short enough to review.
fn compress(v: Value) -> Value {
    match v {
        Value::String(s) if s.chars().count() > 100 => {
            let mut chars = s.chars();
            let first = chars.next().unwrap_or_default();
            if chars.all(|c| c == first) {
                json!({ "$repeat": [first.to_string(), s.chars().count()] })
            } else {
                Value::String(s)
            }
        }
        Value::Array(a) => Value::Array(a.into_iter().map(compress).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, compress(v))).collect()),
        other => other,
    }
}

/// The encoding of an input that JSON text can carry (the inverse of [`decode`]).
fn encode(input: &Input) -> Value {
    match input {
        Input::Null => Value::Null,
        Input::Bool(b) => Value::Bool(*b),
        Input::Number(n) => Value::Number(n.clone()),
        Input::NonFinite(f) => {
            let s = if f.is_nan() {
                "NaN"
            } else if *f > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            json!({ "$nonFinite": s })
        }
        Input::String(s) => Value::String(s.to_string()),
        Input::Array(a) => Value::Array(a.iter().map(encode).collect()),
        Input::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.to_string(), encode(v))).collect())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the package answers, computed natively

fn validation<T: Serialize>(r: Result<T, ValidationErrors>) -> Value {
    match r {
        Ok(value) => json!({ "ok": true, "value": value }),
        Err(errors) => json!({ "ok": false, "errors": errors }),
    }
}

fn thrown(code: &str, message: String) -> Value {
    json!({ "ok": false, "error": { "code": code, "message": message } })
}

fn room_of(kind: RoomKind, id: &Input) -> Value {
    let Input::String(id) = id else {
        panic!("room vectors take a string input")
    };
    let code = kind.id_error_code().as_str();
    match Room::new(kind, id) {
        Ok(room) => json!({ "ok": true, "value": room.to_string() }),
        Err(e) => thrown(code, e.to_string()),
    }
}

/// The package function `name` applied to `input` at `now`, as the package answers it.
fn native(name: &str, input: &Input, now: Timestamp) -> Value {
    match name {
        "userRoom" => room_of(RoomKind::User, input),
        "ticketRoom" => room_of(RoomKind::Ticket, input),
        "meterRoom" => room_of(RoomKind::Meter, input),
        "systemRoom" => room_of(RoomKind::System, input),
        "parseRoom" => {
            let Input::String(s) = input else {
                panic!("parseRoom vectors take a string input")
            };
            match s.parse::<Room>() {
                Ok(room) => {
                    json!({ "ok": true, "value": { "kind": room.kind(), "id": room.id() } })
                }
                Err(e) => thrown(RoomError::CODE.as_str(), e.to_string()),
            }
        }
        "isValidEventName" => {
            let Input::String(s) = input else {
                panic!("isValidEventName vectors take a string input")
            };
            json!({ "ok": true, "value": event::is_valid_event_name(s) })
        }
        "validateNotification" => validation(payload::validate_notification(input, now)),
        "validateTicketUpdate" => validation(payload::validate_ticket_update(input, now)),
        "validateMeterReading" => validation(payload::validate_meter_reading(input, now)),
        "validateAnnouncement" => validation(payload::validate_announcement(input, now)),
        "validateCustomData" => validation(payload::validate_custom_data(input)),
        other => panic!("unknown fn {other:?}"),
    }
}

fn timestamp(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|e| panic!("bad now {s:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The checked-in vectors

/// One vector.
struct Vector {
    name: String,
    function: String,
    input: Value,
    now: Option<String>,
    expect: Value,
}

struct VectorFile {
    description: String,
    vectors: Vec<Vector>,
}

impl VectorFile {
    fn to_json(&self) -> Value {
        let vectors = self.vectors.iter().map(|v| {
            let mut m = Map::new();
            m.insert("name".into(), v.name.clone().into());
            m.insert("fn".into(), v.function.clone().into());
            m.insert("input".into(), v.input.clone());
            if let Some(now) = &v.now {
                m.insert("now".into(), now.clone().into());
            }
            m.insert("expect".into(), v.expect.clone());
            Value::Object(m)
        });
        json!({ "description": self.description, "vectors": vectors.collect::<Vec<_>>() })
    }
}

/// Writes a value with the vector format's keys first, in reading order, and the rest sorted,
/// so rewritten files read naturally (`name`, `fn`, `input`, …; `ok` before `value`).
struct Ordered<'a>(&'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        const FIRST: [&str; 14] = [
            "description",
            "name",
            "fn",
            "input",
            "now",
            "expect",
            "ok",
            "value",
            "errors",
            "error",
            "path",
            "code",
            "kind",
            "id",
        ];
        match self.0 {
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Ordered(v))?;
                }
                seq.end()
            }
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                let rank = |k: &str| FIRST.iter().position(|f| *f == k).unwrap_or(FIRST.len());
                keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
                let mut map = s.serialize_map(Some(m.len()))?;
                for k in keys {
                    map.serialize_entry(k, &Ordered(&m[k]))?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

fn read_file(path: &Path) -> VectorFile {
    let text = std::fs::read_to_string(path).expect("read vector file");
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let field = |m: &Map<String, Value>, k: &str| m.get(k).cloned();
    let vectors = v["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no \"vectors\" array", path.display()))
        .iter()
        .map(|x| {
            let m = x.as_object().expect("a vector is an object");
            for k in m.keys() {
                assert!(
                    ["name", "fn", "input", "now", "expect"].contains(&k.as_str()),
                    "{}: unknown vector field {k:?}",
                    path.display()
                );
            }
            Vector {
                name: field(m, "name")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .expect("name"),
                function: field(m, "fn")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .expect("fn"),
                input: field(m, "input").expect("input"),
                now: field(m, "now").map(|v| v.as_str().expect("now is a string").to_owned()),
                expect: field(m, "expect").unwrap_or(Value::Null),
            }
        })
        .collect();
    VectorFile {
        description: v["description"].as_str().unwrap_or_default().to_owned(),
        vectors,
    }
}

fn vector_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector files");
    files
}

#[test]
fn vectors_match_native() {
    let update = std::env::var_os("UPDATE_VECTORS").is_some();
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let mut count = 0;
    for path in vector_files() {
        let file_name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut file = read_file(&path);
        for v in &mut file.vectors {
            count += 1;
            if !names.insert((file_name.clone(), v.name.clone())) {
                failures.push(format!("{file_name}: duplicate vector name {:?}", v.name));
            }
            let now = timestamp(v.now.as_deref().unwrap_or(DEFAULT_NOW));
            let got = native(&v.function, &decode(&v.input), now);
            if update {
                v.expect = compress(got);
            } else if expand(&v.expect) != got {
                failures.push(format!(
                    "{file_name}: {:?}\n  expect: {}\n  native: {}",
                    v.name,
                    expand(&v.expect),
                    compress(got)
                ));
            }
        }
        if update {
            let text = serde_json::to_string_pretty(&Ordered(&file.to_json()))
                .expect("serialise vectors")
                + "\n";
            std::fs::write(&path, text).expect("write vector file");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} vectors differ from the core (UPDATE_VECTORS=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every error code of the contract appears in some vector, and every exported function has
/// vectors.
#[test]
fn vectors_cover_every_code_and_function() {
    let mut codes = std::collections::BTreeSet::new();
    let mut fns = std::collections::BTreeSet::new();
    for path in vector_files() {
        for v in read_file(&path).vectors {
            fns.insert(v.function.clone());
            let expect = expand(&v.expect);
            for e in expect["errors"].as_array().into_iter().flatten() {
                codes.insert(e["code"].as_str().unwrap_or_default().to_owned());
            }
            if let Some(c) = expect["error"]["code"].as_str() {
                codes.insert(c.to_owned());
            }
        }
    }
    // `invalid_json` is thrown for values JSON cannot carry, so no JSON vector can hold one.
    let every_code = ErrorCode::on(Surface::Field)
        .chain(ErrorCode::on(Surface::Throw).filter(|c| *c != ErrorCode::InvalidJson))
        .map(ErrorCode::as_str);
    for code in every_code {
        assert!(codes.contains(code), "no vector expects {code}");
    }
    for f in [
        "userRoom",
        "ticketRoom",
        "meterRoom",
        "systemRoom",
        "parseRoom",
        "isValidEventName",
        "validateNotification",
        "validateTicketUpdate",
        "validateMeterReading",
        "validateAnnouncement",
        "validateCustomData",
    ] {
        assert!(fns.contains(f), "no vector for {f}");
    }
}

// ---------------------------------------------------------------------------------------------
// The random parity corpus

/// SplitMix64: a tiny seeded generator, so the corpus is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const ID_CHARS: &str = "AZaz09._:@-";
const ODD_CHARS: &[&str] = &[
    " ", "é", "用", "😀", "\u{301}", "/", "\t", "\u{0}", "\"", "\\", "Ö", "_", "-",
];

fn text(rng: &mut Rng, max: usize) -> String {
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| match rng.below(10) {
            0 => rng.pick(ODD_CHARS).to_string(),
            1 => ID_CHARS
                .chars()
                .nth(rng.below(ID_CHARS.len()))
                .unwrap_or('a')
                .to_string(),
            _ => ((b'a' + rng.below(26) as u8) as char).to_string(),
        })
        .collect()
}

fn id(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => text(rng, 70),
        1 => "a".repeat(63 + rng.below(3)),
        _ => {
            let len = 1 + rng.below(20);
            (0..len)
                .map(|_| {
                    ID_CHARS
                        .chars()
                        .nth(rng.below(ID_CHARS.len()))
                        .unwrap_or('a')
                })
                .collect()
        }
    }
}

fn number(rng: &mut Rng) -> Input<'static> {
    match rng.below(9) {
        0 => Input::NonFinite(*rng.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY])),
        1 => Input::Number(serde_json::Number::from_f64(-0.0).expect("finite")),
        2 => Input::Number((rng.next() % (1 << 53)).into()),
        3 => Input::Number((-((rng.next() % (1 << 53)) as i64)).into()),
        4 => Input::Number((rng.below(1000) as u64).into()),
        _ => {
            // A non-integral float (integral ones are written as integers by JSON.stringify).
            let f =
                (rng.next() as f64 / u64::MAX as f64 - 0.5) * 10f64.powi(rng.below(40) as i32 - 20);
            let f = if f.fract() == 0.0 { f + 0.5 } else { f };
            Input::Number(serde_json::Number::from_f64(f).expect("finite"))
        }
    }
}

/// Any JSON-ish value, up to `depth` levels of nesting.
fn any(rng: &mut Rng, depth: usize) -> Input<'static> {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => Input::Null,
        1 => Input::Bool(rng.chance(50)),
        2 => number(rng),
        3 => Input::String(text(rng, 12).into()),
        4 => Input::Array((0..rng.below(4)).map(|_| any(rng, depth - 1)).collect()),
        _ => Input::Object(
            (0..rng.below(4))
                .map(|_| (text(rng, 6), any(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn data(rng: &mut Rng) -> Input<'static> {
    match rng.below(10) {
        0 => any(rng, 2),
        1 => {
            // Around the 16 KiB limit: {"k":"…"} is 8 bytes plus the string.
            let n = payload::MAX_DATA_BYTES - 8 - 2 + rng.below(5);
            Input::Object([("k".into(), Input::String("x".repeat(n).into()))].into())
        }
        2 => {
            let n = (payload::MAX_DATA_BYTES - 8) / 2 - 1 + rng.below(3);
            Input::Object([("k".into(), Input::String("é".repeat(n).into()))].into())
        }
        _ => Input::Object(
            (0..rng.below(4))
                .map(|_| (text(rng, 6), any(rng, 2)))
                .collect(),
        ),
    }
}

fn message(rng: &mut Rng, max: usize) -> Input<'static> {
    match rng.below(8) {
        0 => Input::String(
            " \t\n"
                .chars()
                .take(rng.below(4))
                .collect::<String>()
                .into(),
        ),
        1 => Input::String(
            rng.pick(&["x", "é", "😀", "用"])
                .repeat(max - 1 + rng.below(3))
                .into(),
        ),
        2 => any(rng, 1),
        _ => Input::String(text(rng, 40).into()),
    }
}

fn time_string(rng: &mut Rng, now: Timestamp) -> Input<'static> {
    let offsets = [
        "Z", "z", "+00:00", "-00:00", "+01:00", "-05:30", "+14:00", "",
    ];
    match rng.below(8) {
        0 => Input::String(
            rng.pick(&[
                "soon",
                "2024-01-15",
                "2024-02-30T00:00:00Z",
                "2016-12-31T23:59:60Z",
                "2024-01-15 10:00:00Z",
                "2024-01-15T10:00Z",
                "",
            ])
            .to_string()
            .into(),
        ),
        1 => any(rng, 0),
        _ => {
            // Around now + 5 minutes, to hit the in_future edge.
            let skew = payload::MAX_FUTURE_SKEW_MS - 2000 + rng.below(4000) as i64;
            let t = now.plus_millis(if rng.chance(30) { -skew } else { skew });
            let offset_min: i64 = match *rng.pick(&offsets) {
                "+01:00" => 60,
                "-05:30" => -330,
                "+14:00" => 840,
                _ => 0,
            };
            let local = t.as_datetime().to_offset(
                time::UtcOffset::from_whole_seconds((offset_min * 60) as i32).expect("offset"),
            );
            let digits = rng.below(10);
            let frac = format!("{:09}", local.nanosecond());
            let frac = if digits == 0 {
                String::new()
            } else {
                format!(".{}", &frac[..digits])
            };
            let suffix = match offset_min {
                60 => "+01:00",
                -330 => "-05:30",
                840 => "+14:00",
                _ => rng.pick(&["Z", "z", "+00:00", "-00:00", ""]),
            };
            Input::String(
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}{suffix}",
                    local.year(),
                    u8::from(local.month()),
                    local.day(),
                    local.hour(),
                    local.minute(),
                    local.second()
                )
                .into(),
            )
        }
    }
}

/// An object with some of `fields` (each valid, invalid or null), sometimes an unknown field.
fn object(rng: &mut Rng, fields: Vec<(&str, Input<'static>)>) -> Input<'static> {
    let mut m = Fields::new();
    for (k, v) in fields {
        match rng.below(10) {
            0 => {}
            1 => {
                m.insert(k.to_owned().into(), Input::Null);
            }
            _ => {
                m.insert(k.to_owned().into(), v);
            }
        }
    }
    if rng.chance(15) {
        m.insert(
            rng.pick(&["extra", "id", "createdAt", "__proto__", "Type", "meterId"])
                .to_string()
                .into(),
            any(rng, 1),
        );
    }
    Input::Object(m)
}

fn case(rng: &mut Rng, now: Timestamp) -> (&'static str, Input<'static>) {
    let pick = |rng: &mut Rng, names: &[&str]| Input::String(rng.pick(names).to_string().into());
    match rng.below(12) {
        0 => ("userRoom", Input::String(id(rng).into())),
        1 => (
            "systemRoom",
            Input::String(
                if rng.chance(50) {
                    id(rng).to_lowercase()
                } else {
                    id(rng)
                }
                .into(),
            ),
        ),
        2 => {
            let prefix = rng
                .pick(&[
                    "user_", "ticket_", "meter_", "system_", "User_", "room_", "",
                ])
                .to_string();
            ("parseRoom", Input::String((prefix + &id(rng)).into()))
        }
        3 => {
            let s = if rng.chance(20) {
                rng.pick(&event::RESERVED).to_string()
            } else {
                text(rng, 66).to_lowercase()
            };
            ("isValidEventName", Input::String(s.into()))
        }
        4 | 5 => {
            let kind = pick(rng, &["info", "success", "warning", "error", "Info", ""]);
            let fields = vec![
                ("type", kind),
                ("message", message(rng, 1000)),
                ("data", data(rng)),
            ];
            ("validateNotification", object(rng, fields))
        }
        6 | 7 => {
            let mut fields = vec![];
            for (k, v) in [
                (
                    "status",
                    pick(
                        rng,
                        &[
                            "open",
                            "in_progress",
                            "on_hold",
                            "resolved",
                            "closed",
                            "done",
                        ],
                    ),
                ),
                (
                    "assignedTo",
                    if rng.chance(80) {
                        Input::String(id(rng).into())
                    } else {
                        any(rng, 0)
                    },
                ),
                (
                    "priority",
                    pick(rng, &["low", "normal", "high", "urgent", "URGENT"]),
                ),
                ("message", message(rng, 1000)),
                ("data", data(rng)),
            ] {
                if rng.chance(40) {
                    fields.push((k, v));
                }
            }
            ("validateTicketUpdate", object(rng, fields))
        }
        8 | 9 => {
            let reading = if rng.chance(85) {
                number(rng)
            } else {
                any(rng, 0)
            };
            let unit = pick(
                rng,
                &[
                    "Wh", "kWh", "MWh", "kW", "kVArh", "m3", "L", "gal", "ft3", "therm", "KWH", "l",
                ],
            );
            let fields = vec![
                ("reading", reading),
                ("timestamp", time_string(rng, now)),
                ("unit", unit),
            ];
            ("validateMeterReading", object(rng, fields))
        }
        10 => {
            let kind = pick(rng, &["info", "maintenance", "outage", "update", "warning"]);
            let fields = vec![
                ("type", kind),
                ("message", message(rng, 2000)),
                ("scheduledTime", time_string(rng, now)),
                ("data", data(rng)),
            ];
            ("validateAnnouncement", object(rng, fields))
        }
        _ => ("validateCustomData", any(rng, 4)),
    }
}

/// The corpus's seed and size: `SWITCHYARD_PARITY_SEED`, `SWITCHYARD_PARITY_COUNT`.
fn corpus_settings() -> (u64, usize) {
    let env = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<u64>().ok());
    (
        env("SWITCHYARD_PARITY_SEED").unwrap_or(20_240_115),
        env("SWITCHYARD_PARITY_COUNT").unwrap_or(3000) as usize,
    )
}

/// The random cases: function, input and now.
fn corpus(seed: u64, count: usize) -> Vec<(&'static str, Input<'static>, Timestamp)> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| {
            let ms = 1_705_312_800_000 + rng.below(86_400_000) as i64;
            let now = Timestamp::from_unix_millis(ms).expect("now");
            let (function, input) = case(&mut rng, now);
            (function, input, now)
        })
        .collect()
}

/// Seeded random inputs with the core's answers, written to `$SWITCHYARD_PARITY_CORPUS` when
/// set (the Node side runs them through the package and compares field for field).
#[test]
fn parity_corpus() {
    let (seed, count) = corpus_settings();
    let cases: Vec<Value> = corpus(seed, count)
        .into_iter()
        .map(|(function, input, now)| {
            let expect = native(function, &input, now);
            json!({ "fn": function, "input": encode(&input), "now": now.to_string(), "expect": expect })
        })
        .collect();
    assert_eq!(cases.len(), count);
    if let Some(out) = std::env::var_os("SWITCHYARD_PARITY_CORPUS") {
        let out = PathBuf::from(out);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).expect("corpus dir");
        }
        let corpus = json!({ "seed": seed, "count": count, "cases": cases });
        std::fs::write(
            &out,
            serde_json::to_string(&corpus).expect("serialise corpus"),
        )
        .expect("write corpus");
    }
}

/// What a browser sends is what the server reads: every corpus input, written as JSON text
/// and read back natively, gets the same answer. (Browsers write the shortest digits that
/// read back as the same double, and their `JSON.parse` rounds correctly; serde_json only
/// does so with its `float_roundtrip` feature.)
#[test]
fn json_text_reads_back_as_written() {
    let (seed, count) = corpus_settings();
    let mut differ = Vec::new();
    for (function, input, now) in corpus(seed, count) {
        let text = serde_json::to_string(&encode(&input)).expect("serialise");
        let back: Value = serde_json::from_str(&text).expect("parse back");
        if native(function, &decode(&back), now) != native(function, &input, now) {
            differ.push(text.chars().take(160).collect::<String>());
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {count} inputs read back from JSON text with a different answer; numbers need \
         serde_json's `float_roundtrip` feature in [workspace.dependencies]:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// The package refuses values nested deeper than 127 levels (`invalid_json`) because the
/// server's JSON parser refuses such text: this pins that limit.
#[test]
fn json_text_nesting_limit_is_127_levels() {
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    assert!(serde_json::from_str::<Input<'static>>(&nested(127)).is_ok());
    assert!(serde_json::from_str::<Input<'static>>(&nested(128)).is_err());
}
