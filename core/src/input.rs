//! [`Input`]: the untrusted JSON-like value every validator reads.
//!
//! It is `serde_json::Value` plus one case JSON cannot spell: a non-finite number. A browser
//! can hand `NaN` (say from `parseFloat("abc")`) to the wasm validators, and the contract wants
//! `not_finite` for it, not a confusing `type` error, so the value keeps it.
//!
//! Strings and keys are `Cow`s: the wasm package decodes its byte tape into an `Input` that
//! borrows every string from the tape, because a `String` per string (and dropping it again)
//! was most of a small payload's validation time there. Everything that reads JSON or a Rust
//! value here makes an owned `Input<'static>`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// An untrusted input value.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// `null` (and JS `undefined`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A finite number, with the integer precision JSON allows.
    Number(serde_json::Number),
    /// `NaN`, `Infinity` or `-Infinity`.
    NonFinite(f64),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Input<'a>>),
    /// An object (keys sorted, so every report lists fields in the same order everywhere).
    Object(Fields<'a>),
}

/// An object's members: sorted by key, each key once (the last one written wins, as with
/// `JSON.parse` and serde_json). A sorted `Vec` rather than a `BTreeMap`: objects here have a
/// handful of members, and building and dropping tree nodes was a fifth of the wasm package's
/// validation time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields<'a>(Vec<(Cow<'a, str>, Input<'a>)>);

impl<'a> Fields<'a> {
    /// No members.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key))
    }

    /// The member `key`.
    pub fn get(&self, key: &str) -> Option<&Input<'a>> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` is a member.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key`, answering the value it replaced.
    pub fn insert(&mut self, key: Cow<'a, str>, value: Input<'a>) -> Option<Input<'a>> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Takes `key` out, answering its value.
    pub fn remove(&mut self, key: &str) -> Option<Input<'a>> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Members in any order, without copying them; of equal keys the last wins. Builders
    /// collect into a `Vec` and call this once: inserting one by one would move the members
    /// over and over on a large object.
    pub fn from_vec(members: Vec<(Cow<'a, str>, Input<'a>)>) -> Self {
        Self(members).sorted()
    }

    // Sorted by key, keeping the last of equal keys.
    fn sorted(mut self) -> Self {
        if self.0.windows(2).all(|w| w[0].0 < w[1].0) {
            return self;
        }
        // Stable, so equal keys stay in the order they came and the last can be kept: `dedup_by`
        // drops the later of two equal members, so it first takes the later one's place.
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        self.0.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        self
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Cow<'a, str>, &Input<'a>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Cow<'a, str>> {
        self.0.iter().map(|(k, _)| k)
    }
}

/// Members in any order; of equal keys the last wins.
impl<'a, K: Into<Cow<'a, str>>> FromIterator<(K, Input<'a>)> for Fields<'a> {
    fn from_iter<I: IntoIterator<Item = (K, Input<'a>)>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<'a, const N: usize> From<[(Cow<'a, str>, Input<'a>); N]> for Fields<'a> {
    fn from(members: [(Cow<'a, str>, Input<'a>); N]) -> Self {
        members.into_iter().collect()
    }
}

impl<'a> IntoIterator for Fields<'a> {
    type Item = (Cow<'a, str>, Input<'a>);
    type IntoIter = std::vec::IntoIter<(Cow<'a, str>, Input<'a>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'s, 'a> IntoIterator for &'s Fields<'a> {
    type Item = (&'s Cow<'a, str>, &'s Input<'a>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'s, (Cow<'a, str>, Input<'a>)>,
        fn(&'s (Cow<'a, str>, Input<'a>)) -> (&'s Cow<'a, str>, &'s Input<'a>),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<'a> std::ops::Index<&str> for Fields<'a> {
    type Output = Input<'a>;
    /// Panics when `key` is not a member (for tests and examples).
    fn index(&self, key: &str) -> &Input<'a> {
        self.get(key).unwrap_or_else(|| panic!("no member {key:?}"))
    }
}

/// A dotted path one key deeper (`data` + `site` = `data.site`; from the top, just the key).
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Input<'_> {
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
                Segment::Key(k) => join(&path, k),
                Segment::Index(i) => format!("{path}[{i}]"),
            })
        })
    }

    // Plain loops and no path strings on the way down keep each level's stack frame small:
    // free-form `data` may be nested hundreds of levels deep (checked with 1000 levels in
    // core/tests/bad_corpus.rs, in a debug build on a 2 MiB test thread).
    fn to_json_inner<'s>(&'s self, at: &mut Vec<Segment<'s>>) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Input::Null => Value::Null,
            Input::Bool(b) => Value::Bool(*b),
            Input::Number(n) => Value::Number(n.clone()),
            Input::NonFinite(_) => return None,
            Input::String(s) => Value::String(s.as_ref().to_owned()),
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
                            out.insert(k.as_ref().to_owned(), j);
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

impl From<serde_json::Value> for Input<'static> {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Input::Null,
            Value::Bool(b) => Input::Bool(b),
            Value::Number(n) => Input::Number(n),
            Value::String(s) => Input::String(s.into()),
            Value::Array(a) => Input::Array(a.into_iter().map(Input::from).collect()),
            Value::Object(o) => Input::Object(
                o.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), v.into()))
                    .collect(),
            ),
        }
    }
}

// Always owned: the server's inputs outlive the text they were read from (and `TryData`,
// axum's `Json` want `DeserializeOwned`).
impl<'de> Deserialize<'de> for Input<'static> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = Input<'static>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Input<'static>, E> {
        Ok(Input::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Input<'static>, E> {
        Ok(Input::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Input<'static>, E> {
        Ok(Input::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Input<'static>, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Input::NonFinite(v), Input::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Input<'static>, E> {
        Ok(Input::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Input<'static>, E> {
        Ok(Input::String(Cow::Owned(v)))
    }
    fn visit_none<E>(self) -> Result<Input<'static>, E> {
        Ok(Input::Null)
    }
    fn visit_unit<E>(self) -> Result<Input<'static>, E> {
        Ok(Input::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Input<'static>, D::Error> {
        Input::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input<'static>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Input::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input<'static>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some((k, v)) = map.next_entry::<String, Input<'static>>()? {
            out.push((Cow::Owned(k), v));
        }
        Ok(Input::Object(Fields::from_vec(out)))
    }
}

/// Why a Rust value cannot become an [`Input`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToInputError(String);

impl serde::ser::Error for ToInputError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ToInputError(msg.to_string())
    }
}

impl Input<'static> {
    /// Any serialisable Rust value as an [`Input`], the way `serde_json::to_value` would shape
    /// it, except that a non-finite float stays non-finite (so validation says `not_finite`
    /// rather than seeing a `null`).
    ///
    /// ```
    /// use switchyard_core::Input;
    /// #[derive(serde::Serialize)]
    /// struct Reading { reading: f64 }
    /// let input = Input::from_serialize(&Reading { reading: f64::NAN }).unwrap();
    /// assert!(matches!(input, Input::Object(m) if matches!(m["reading"], Input::NonFinite(_))));
    /// ```
    pub fn from_serialize<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<Input<'static>, ToInputError> {
        value.serialize(ser::InputSerializer)
    }
}

/// A serde `Serializer` producing [`Input`]; it mirrors `serde_json::value::Serializer`.
mod ser {
    use std::borrow::Cow;

    use serde::ser::{self, Serialize};

    use super::{Fields, ToInputError};

    type Input = super::Input<'static>;

    type Result<T> = std::result::Result<T, ToInputError>;

    fn float(v: f64) -> Input {
        serde_json::Number::from_f64(v).map_or(Input::NonFinite(v), Input::Number)
    }

    pub(super) struct InputSerializer;

    impl ser::Serializer for InputSerializer {
        type Ok = Input;
        type Error = ToInputError;
        type SerializeSeq = Seq;
        type SerializeTuple = Seq;
        type SerializeTupleStruct = Seq;
        type SerializeTupleVariant = Variant<Seq>;
        type SerializeMap = Map;
        type SerializeStruct = Map;
        type SerializeStructVariant = Variant<Map>;

        fn serialize_bool(self, v: bool) -> Result<Input> {
            Ok(Input::Bool(v))
        }
        fn serialize_i8(self, v: i8) -> Result<Input> {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i16(self, v: i16) -> Result<Input> {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i32(self, v: i32) -> Result<Input> {
            self.serialize_i64(i64::from(v))
        }
        fn serialize_i64(self, v: i64) -> Result<Input> {
            Ok(Input::Number(v.into()))
        }
        fn serialize_i128(self, v: i128) -> Result<Input> {
            i64::try_from(v)
                .map(|v| Input::Number(v.into()))
                .or_else(|_| u64::try_from(v).map(|v| Input::Number(v.into())))
                .map_err(|_| ToInputError(format!("{v} does not fit a JSON number")))
        }
        fn serialize_u8(self, v: u8) -> Result<Input> {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u16(self, v: u16) -> Result<Input> {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u32(self, v: u32) -> Result<Input> {
            self.serialize_u64(u64::from(v))
        }
        fn serialize_u64(self, v: u64) -> Result<Input> {
            Ok(Input::Number(v.into()))
        }
        fn serialize_u128(self, v: u128) -> Result<Input> {
            u64::try_from(v)
                .map(|v| Input::Number(v.into()))
                .map_err(|_| ToInputError(format!("{v} does not fit a JSON number")))
        }
        fn serialize_f32(self, v: f32) -> Result<Input> {
            Ok(float(f64::from(v)))
        }
        fn serialize_f64(self, v: f64) -> Result<Input> {
            Ok(float(v))
        }
        fn serialize_char(self, v: char) -> Result<Input> {
            Ok(Input::String(Cow::Owned(v.to_string())))
        }
        fn serialize_str(self, v: &str) -> Result<Input> {
            Ok(Input::String(Cow::Owned(v.to_owned())))
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<Input> {
            Ok(Input::Array(
                v.iter().map(|b| Input::Number((*b).into())).collect(),
            ))
        }
        fn serialize_none(self) -> Result<Input> {
            Ok(Input::Null)
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Input> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<Input> {
            Ok(Input::Null)
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<Input> {
            Ok(Input::Null)
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<Input> {
            Ok(Input::String(Cow::Borrowed(variant)))
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Result<Input> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<Input> {
            Ok(wrap(variant, value.serialize(InputSerializer)?))
        }
        fn serialize_seq(self, len: Option<usize>) -> Result<Seq> {
            Ok(Seq(Vec::with_capacity(len.unwrap_or(0).min(1024))))
        }
        fn serialize_tuple(self, len: usize) -> Result<Seq> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            len: usize,
        ) -> Result<Variant<Seq>> {
            Ok(Variant(variant, self.serialize_seq(Some(len))?))
        }
        fn serialize_map(self, _len: Option<usize>) -> Result<Map> {
            Ok(Map(Vec::new(), None))
        }
        fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map> {
            self.serialize_map(None)
        }
        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            _len: usize,
        ) -> Result<Variant<Map>> {
            Ok(Variant(variant, self.serialize_map(None)?))
        }
    }

    pub(super) struct Seq(Vec<Input>);

    impl ser::SerializeSeq for Seq {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            self.0.push(value.serialize(InputSerializer)?);
            Ok(())
        }
        fn end(self) -> Result<Input> {
            Ok(Input::Array(self.0))
        }
    }
    impl ser::SerializeTuple for Seq {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<Input> {
            ser::SerializeSeq::end(self)
        }
    }
    impl ser::SerializeTupleStruct for Seq {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<Input> {
            ser::SerializeSeq::end(self)
        }
    }

    /// An object under construction, and a key waiting for its value.
    pub(super) struct Map(Vec<(Cow<'static, str>, Input)>, Option<Cow<'static, str>>);

    impl ser::SerializeMap for Map {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
            // Like JSON: string keys, and numbers or booleans written as strings.
            let key = match key.serialize(InputSerializer)? {
                Input::String(s) => s,
                Input::Number(n) => Cow::Owned(n.to_string()),
                Input::Bool(b) => Cow::Owned(b.to_string()),
                other => {
                    return Err(ToInputError(format!(
                        "a map key must be a string, not {}",
                        other.type_name()
                    )));
                }
            };
            self.1 = Some(key);
            Ok(())
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            let key = self
                .1
                .take()
                .ok_or_else(|| ToInputError("a map value came without a key".into()))?;
            self.0.push((key, value.serialize(InputSerializer)?));
            Ok(())
        }
        fn end(self) -> Result<Input> {
            Ok(Input::Object(Fields::from_vec(self.0)))
        }
    }
    impl ser::SerializeStruct for Map {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<()> {
            self.0
                .push((Cow::Borrowed(key), value.serialize(InputSerializer)?));
            Ok(())
        }
        fn end(self) -> Result<Input> {
            Ok(Input::Object(Fields::from_vec(self.0)))
        }
    }

    /// An enum variant's content, wrapped as `{ "Variant": content }` at the end.
    pub(super) struct Variant<T>(&'static str, T);

    fn wrap(name: &'static str, content: Input) -> Input {
        Input::Object(Fields::from([(Cow::Borrowed(name), content)]))
    }
    impl ser::SerializeTupleVariant for Variant<Seq> {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
            ser::SerializeSeq::serialize_element(&mut self.1, value)
        }
        fn end(self) -> Result<Input> {
            Ok(wrap(self.0, ser::SerializeSeq::end(self.1)?))
        }
    }
    impl ser::SerializeStructVariant for Variant<Map> {
        type Ok = Input;
        type Error = ToInputError;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<()> {
            ser::SerializeStruct::serialize_field(&mut self.1, key, value)
        }
        fn end(self) -> Result<Input> {
            Ok(wrap(self.0, ser::SerializeStruct::end(self.1)?))
        }
    }

    #[cfg(test)]
    mod tests {
        use serde::Serialize;

        use crate::Input;

        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Sample {
            reading: f64,
            assigned_to: Option<String>,
            tags: Vec<&'static str>,
            kind: Kind,
            pair: (u8, i128),
            nested: std::collections::HashMap<u32, bool>,
        }

        #[derive(Serialize)]
        enum Kind {
            Plain,
            Wrapped(u8),
            Fields { a: u8 },
        }

        #[test]
        fn same_shape_as_serde_json_for_finite_values() {
            for kind in [Kind::Plain, Kind::Wrapped(3), Kind::Fields { a: 1 }] {
                let sample = Sample {
                    reading: 1.5,
                    assigned_to: None,
                    tags: vec!["a", "b"],
                    kind,
                    pair: (7, -9),
                    nested: [(4, true)].into_iter().collect(),
                };
                let via_json = Input::from(serde_json::to_value(&sample).unwrap());
                assert_eq!(Input::from_serialize(&sample).unwrap(), via_json);
            }
        }

        #[test]
        fn non_finite_floats_stay_non_finite() {
            let input = Input::from_serialize(&[f64::NAN, f64::INFINITY, 2.0]).unwrap();
            let Input::Array(items) = input else {
                panic!("an array")
            };
            assert!(matches!(items[0], Input::NonFinite(v) if v.is_nan()));
            assert!(matches!(items[1], Input::NonFinite(v) if v == f64::INFINITY));
            assert_eq!(
                items[2],
                Input::Number(serde_json::Number::from_f64(2.0).unwrap())
            );
        }

        #[test]
        fn unrepresentable_values_are_errors() {
            assert!(Input::from_serialize(&u128::MAX).is_err());
            let map: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
            assert!(Input::from_serialize(&map).is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{Fields, Input};

    fn s(v: &str) -> Input<'_> {
        Input::String(Cow::Borrowed(v))
    }

    #[test]
    fn fields_are_sorted_and_the_last_of_equal_keys_wins() {
        let f = Fields::from_vec(
            [("b", "1"), ("a", "2"), ("b", "3"), ("c", "4"), ("a", "5")]
                .map(|(k, v)| (Cow::Borrowed(k), s(v)))
                .into(),
        );
        let members: Vec<_> = f.iter().map(|(k, v)| (k.as_ref(), v.clone())).collect();
        assert_eq!(members, [("a", s("5")), ("b", s("3")), ("c", s("4"))]);
        // The same as JSON text with the same members, read by serde_json.
        let json: Input<'static> =
            serde_json::from_str(r#"{"b":"1","a":"2","b":"3","c":"4","a":"5"}"#).unwrap();
        assert_eq!(json, Input::Object(f.clone()));
        let collected: Fields<'_> = [("b", s("1")), ("a", s("2")), ("b", s("3"))]
            .into_iter()
            .collect();
        assert_eq!(collected.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(collected["b"], s("3"));
        let from_vec = Fields::from_vec(vec![
            ("b".into(), s("1")),
            ("a".into(), s("2")),
            ("b".into(), s("3")),
        ]);
        assert_eq!(from_vec, collected);
    }

    #[test]
    fn fields_get_insert_and_remove_by_key() {
        let mut f = Fields::from([("m".into(), s("1")), ("c".into(), s("2"))]);
        assert_eq!(f.get("c"), Some(&s("2")));
        assert_eq!(f.get("x"), None);
        assert!(f.contains_key("m") && !f.contains_key("x"));
        assert_eq!(f.insert("x".into(), s("3")), None);
        assert_eq!(f.insert("c".into(), s("4")), Some(s("2")));
        assert_eq!(f.keys().collect::<Vec<_>>(), ["c", "m", "x"]);
        assert_eq!(f.remove("m"), Some(s("1")));
        assert_eq!(f.remove("m"), None);
        assert_eq!(f.len(), 2);
        assert!(!f.is_empty() && Fields::new().is_empty());
    }
}
