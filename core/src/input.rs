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
        self.to_json_at("")
    }

    fn to_json_at(&self, path: &str) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        Ok(match self {
            Input::Null => Value::Null,
            Input::Bool(b) => Value::Bool(*b),
            Input::Number(n) => Value::Number(n.clone()),
            Input::NonFinite(_) => return Err(path.to_owned()),
            Input::String(s) => Value::String(s.clone()),
            Input::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.to_json_at(&format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Input::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.to_json_at(&crate::validate::join(path, k))?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
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
