//! [`Input`]: the untrusted JSON-like value every validator reads.
//!
//! It is `serde_json::Value` plus one case JSON cannot spell: a non-finite number. A browser
//! can hand `NaN` (say from `parseFloat("abc")`) to the wasm validators, and the contract wants
//! `not_finite` for it, not a confusing `type` error, so the value keeps it.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// An untrusted input value.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `null` (and JS `undefined`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A finite number, with the integer precision JSON allows.
    Number(serde_json::Number),
    /// `NaN`, `Infinity` or `-Infinity`.
    NonFinite(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Input>),
    /// An object (keys sorted, so every report lists fields in the same order everywhere).
    Object(BTreeMap<String, Input>),
}

impl Input {
    /// The JSON type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Input::Null => "null",
            Input::Bool(_) => "boolean",
            Input::Number(_) | Input::NonFinite(_) => "number",
            Input::String(_) => "string",
            Input::Array(_) => "array",
            Input::Object(_) => "object",
        }
    }

    /// Converts to JSON; `Err(path)` names the first non-finite number met.
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        let mut at = Vec::new();
        self.to_json_inner(&mut at).ok_or_else(|| {
            // Segments were pushed innermost first, while the error unwound.
            at.iter().rev().fold(String::new(), |path, seg| match seg {
                Segment::Key(k) => crate::validate::join(&path, k),
                Segment::Index(i) => format!("{path}[{i}]"),
            })
        })
    }

    // Plain loops and no path strings on the way down keep each level's stack frame small:
    // free-form `data` may be nested hundreds of levels deep (checked with 1000 levels in
    // core/tests/bad_corpus.rs, in a debug build on a 2 MiB test thread).
    fn to_json_inner<'a>(&'a self, at: &mut Vec<Segment<'a>>) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Input::Null => Value::Null,
            Input::Bool(b) => Value::Bool(*b),
            Input::Number(n) => Value::Number(n.clone()),
            Input::NonFinite(_) => return None,
            Input::String(s) => Value::String(s.clone()),
            Input::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    match v.to_json_inner(at) {
                        Some(j) => out.push(j),
                        None => {
                            at.push(Segment::Index(i));
                            return None;
                        }
                    }
                }
                Value::Array(out)
            }
            Input::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    match v.to_json_inner(at) {
                        Some(j) => {
                            out.insert(k.clone(), j);
                        }
                        None => {
                            at.push(Segment::Key(k));
                            return None;
                        }
                    }
                }
                Value::Object(out)
            }
        })
    }
}

/// One step of the path to a non-finite number.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

impl From<serde_json::Value> for Input {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Input::Null,
            Value::Bool(b) => Input::Bool(b),
            Value::Number(n) => Input::Number(n),
            Value::String(s) => Input::String(s),
            Value::Array(a) => Input::Array(a.into_iter().map(Input::from).collect()),
            Value::Object(o) => Input::Object(o.into_iter().map(|(k, v)| (k, v.into())).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Input, E> {
        Ok(Input::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Input, E> {
        Ok(Input::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Input, E> {
        Ok(Input::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Input, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Input::NonFinite(v), Input::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Input, E> {
        Ok(Input::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Input, E> {
        Ok(Input::String(v))
    }
    fn visit_none<E>(self) -> Result<Input, E> {
        Ok(Input::Null)
    }
    fn visit_unit<E>(self) -> Result<Input, E> {
        Ok(Input::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Input, D::Error> {
        Input::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Input::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, Input>()? {
            out.insert(k, v);
        }
        Ok(Input::Object(out))
    }
}
