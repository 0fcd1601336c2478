//! Conversion between JS values and the core's types: the only thing this crate does.
//!
//! **In.** A JS value becomes a core [`Input`] the way `JSON.stringify` would send it to the
//! server (so the browser and the server judge the same payload), with one exception that the
//! contract asks for: a non-finite number stays non-finite, so `NaN` is reported as
//! `not_finite` instead of silently becoming `null`. In detail:
//! - `toJSON()` is called where present (a `Date` becomes its ISO string), boxed primitives are
//!   unwrapped;
//! - object properties that are `undefined`, functions or symbols are left out, and in arrays
//!   they become `null` (so `{ assignedTo: undefined }` is an empty update, not an unassign);
//! - an integral number that fits a 64-bit integer becomes an integer, as the server's JSON
//!   parser would read the digits `JSON.stringify` writes, so sizes (`too_large`) agree;
//!   `-0` stays `-0`, as the server reads the JSON text `-0` (only `JSON.stringify` writes `0`);
//! - what JSON cannot carry throws a `SwitchyardError` with code `invalid_json`, as the server
//!   would refuse it: a `BigInt`, a string with a lone surrogate, nesting deeper than the
//!   server's JSON parser accepts (127 levels; this also catches cycles).
//!
//! **How.** `convert.js` makes that walk in JS and hands over one byte string (`Tape`): a
//! crossing between wasm and JS costs more than a validator's work, and the walk from Rust
//! (`Reader`) costs several per value. What the tape cannot carry exactly it leaves to
//! `Reader`, so both give the same answer (`tests/wasm/test/tape.test.js`).
//!
//! **Out.** Results are written as an out tape ([`crate::tape`]) and `convert.js` builds the
//! objects from it: what `JSON.parse` would make of the native JSON (key order, numbers beyond
//! 2^53 as their nearest double, a `__proto__` key in `data` as an own property, `-0`
//! included), which `tests/wasm/test/tape.test.js` checks against the JSON of random values.
//! The package's validators take a faster way in as well (`fastValidator` in `convert.js`, see
//! [`crate::tape`]); the functions here are its fallback.

use js_sys::{Array, JsString, Object, Reflect};
use serde::Serialize;
use switchyard_core::{ErrorCode, Fields, Input, Timestamp, ValidationErrors};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::tape::{self, MAX_DEPTH, Tape, number};

/// A JS `Error` with `name` `"SwitchyardError"` and a `code` property.
pub(crate) fn error(code: ErrorCode, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("SwitchyardError");
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(
        &err,
        &JsValue::from_str("code"),
        &JsValue::from_str(code.as_str()),
    );
    err.into()
}

fn invalid_json(message: &str) -> JsValue {
    error(ErrorCode::InvalidJson, message)
}

/// `now` as the validators take it: a `Date`, a number of milliseconds since the epoch, or
/// nothing (`undefined`/`null`) for the current time.
pub(crate) fn now(value: &JsValue) -> Result<Timestamp, JsValue> {
    // One crossing (`millis` in convert.js) instead of a type test per case.
    timestamp(millis(value)?)
}

/// A time in milliseconds since the epoch as the validators take it, or the `RangeError`
/// their wasm-bindgen functions throw.
pub(crate) fn timestamp(ms: f64) -> Result<Timestamp, JsValue> {
    tape::time_from_millis(ms).map_err(|e| {
        let message = match e {
            None => "now must be a valid time".to_owned(),
            Some(e) => format!("now: {e}"),
        };
        js_sys::RangeError::new(&message).into()
    })
}

/// A string argument (a room or an id); `None` if `value` is not a string.
pub(crate) fn string_arg(value: &JsValue) -> Option<String> {
    value.as_string()
}

/// Where a value sits in its parent, for `toJSON(key)`.
enum Key<'a> {
    Root,
    Name(&'a JsValue),
    Index(u32),
}

impl Key<'_> {
    fn to_js(&self) -> JsValue {
        match self {
            Key::Root => JsValue::from_str(""),
            Key::Name(k) => (*k).clone(),
            Key::Index(i) => JsValue::from_str(&i.to_string()),
        }
    }
}

#[wasm_bindgen(module = "/src/convert.js")]
extern "C" {
    /// The [`Tape`] of a value, as [`Reader`] would read it; `None` for what only [`Reader`]
    /// answers (BigInt, boxed primitives, lone surrogates, too deep), or when a getter or
    /// `toJSON` threw (then [`take_thrown`] has it).
    fn encode(value: &JsValue) -> Option<Vec<u8>>;
    /// `{ error }` with what a getter or `toJSON` threw during the last [`encode`], once;
    /// else `undefined`.
    #[wasm_bindgen(js_name = takeThrown)]
    fn take_thrown() -> JsValue;
    /// `now` in milliseconds: `Date.now()` for `undefined`/`null`, a `Date`'s time, a number;
    /// throws a `TypeError` for anything else.
    #[wasm_bindgen(catch)]
    fn millis(now: &JsValue) -> Result<f64, JsValue>;
    /// The result (`{ ok, value }` or `{ ok, errors }`) of the out tape at `start`, `n` bytes.
    #[wasm_bindgen(js_name = result)]
    fn decode_result(memory: &JsValue, start: *const u8, n: usize) -> JsValue;
    /// The value of the out tape at `start`, `n` bytes.
    #[wasm_bindgen(js_name = tapeValue)]
    fn decode_value(memory: &JsValue, start: *const u8, n: usize) -> JsValue;
}

/// Converts a JS value to the core's [`Input`] (see the module docs for the rules) and answers
/// what `f` makes of it.
///
/// `convert.js` walks the value in JS and hands over the [`Tape`] of what it read, in one
/// crossing: each wasm/JS crossing costs more than the work a validator does, and [`Reader`]
/// makes several per value. What the tape does not carry is read by [`Reader`]. (A closure,
/// because the tape's `Input` borrows its strings from the tape.)
pub(crate) fn with_input<R>(
    value: &JsValue,
    f: impl FnOnce(&Input<'_>) -> R,
) -> Result<R, JsValue> {
    match encode(value) {
        Some(bytes) => {
            if let Some(input) = Tape::decode(&bytes) {
                return Ok(f(&input));
            }
        }
        None => {
            let thrown = take_thrown();
            if !thrown.is_undefined() {
                // Thrown as Reader would have thrown it: the error itself, unchanged.
                return Err(Reflect::get(&thrown, &JsValue::from_str("error"))?);
            }
        }
    }
    read(value).map(|input| f(&input))
}

/// [`with_input`] the slow way: property by property.
fn read(value: &JsValue) -> Result<Input<'static>, JsValue> {
    let reader = Reader {
        to_json: JsValue::from_str("toJSON"),
    };
    Ok(reader.read(value, Key::Root, 0)?.unwrap_or(Input::Null))
}

/// One conversion; holds the JS strings it looks up over and over.
struct Reader {
    to_json: JsValue,
}

impl Reader {
    /// `JSON.stringify`'s SerializeJSONProperty; `Ok(None)` is what it leaves out
    /// (`undefined`, functions, symbols). Primitives are tested first: they are the common
    /// case and cost one call into JS each.
    fn read(
        &self,
        value: &JsValue,
        key: Key<'_>,
        depth: usize,
    ) -> Result<Option<Input<'static>>, JsValue> {
        if let Some(n) = value.as_f64() {
            return Ok(Some(number(n)));
        }
        if value.is_string() {
            return string(value).map(|s| Some(Input::String(s.into())));
        }
        if value.is_object() {
            let to_json = Reflect::get(value, &self.to_json)?;
            if to_json.is_function() {
                let f: &js_sys::Function = to_json.unchecked_ref();
                let replaced = f.call1(value, &key.to_js())?;
                return self.plain(&replaced, depth);
            }
            return self.plain(value, depth);
        }
        if value.is_null() {
            return Ok(Some(Input::Null));
        }
        if let Some(b) = value.as_bool() {
            return Ok(Some(Input::Bool(b)));
        }
        if value.is_bigint() {
            // A primitive has no own properties: its toJSON, if any, is BigInt.prototype's.
            let prototype = Reflect::get(
                &js_sys::BigInt::from(0u8).constructor(),
                &JsValue::from_str("prototype"),
            )?;
            let to_json = Reflect::get(&prototype, &self.to_json)?;
            if to_json.is_function() {
                let f: &js_sys::Function = to_json.unchecked_ref();
                let replaced = f.call1(value, &key.to_js())?;
                return self.plain(&replaced, depth);
            }
            return Err(invalid_json("a BigInt cannot be sent as JSON"));
        }
        Ok(None)
    }

    /// A value after `toJSON`: boxed primitives unwrapped, arrays and objects walked.
    fn plain(&self, value: &JsValue, depth: usize) -> Result<Option<Input<'static>>, JsValue> {
        if !value.is_object() {
            return Ok(match value {
                v if v.is_null() => Some(Input::Null),
                v if v.as_bool().is_some() => v.as_bool().map(Input::Bool),
                v if v.as_f64().is_some() => v.as_f64().map(number),
                v if v.is_string() => Some(Input::String(string(v)?.into())),
                v if v.is_bigint() => return Err(invalid_json("a BigInt cannot be sent as JSON")),
                _ => None,
            });
        }
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(invalid_json(&format!(
                "the value is nested deeper than {MAX_DEPTH} levels (or refers to itself)"
            )));
        }
        if Array::is_array(value) {
            let array: &Array = value.unchecked_ref();
            let len = array.length();
            let mut items = Vec::with_capacity(len.min(1024) as usize);
            for i in 0..len {
                let item = array.get(i);
                items.push(
                    self.read(&item, Key::Index(i), depth)?
                        .unwrap_or(Input::Null),
                );
            }
            return Ok(Some(Input::Array(items)));
        }
        // Boxed primitives, as JSON.stringify unwraps them.
        if value.is_instance_of::<js_sys::Number>() {
            let n = js_sys::Number::unchecked_from_js_ref(value).value_of();
            return Ok(Some(number(n)));
        }
        if value.is_instance_of::<JsString>() {
            let s: JsValue = JsString::unchecked_from_js_ref(value).value_of().into();
            return Ok(Some(Input::String(string(&s)?.into())));
        }
        if value.is_instance_of::<js_sys::Boolean>() {
            let b = js_sys::Boolean::unchecked_from_js_ref(value).value_of();
            return Ok(Some(Input::Bool(b)));
        }
        let object: &Object = value.unchecked_ref();
        let mut fields = Vec::new();
        for name in Object::keys(object).iter() {
            let field = Reflect::get(value, &name)?;
            if let Some(v) = self.read(&field, Key::Name(&name), depth)? {
                fields.push((string(&name)?.into(), v));
            }
        }
        Ok(Some(Input::Object(Fields::from_vec(fields))))
    }
}

/// A JS string as Rust text; a lone surrogate (which JSON text cannot carry to a UTF-8 parser)
/// is refused rather than silently replaced.
fn string(value: &JsValue) -> Result<String, JsValue> {
    let s = value.as_string().unwrap_or_default();
    // The conversion turns a lone surrogate into U+FFFD; only then is the slow check needed.
    if s.contains('\u{FFFD}') && !value.unchecked_ref::<JsString>().is_valid_utf16() {
        return Err(invalid_json(
            "a string contains a lone surrogate, which JSON text cannot carry",
        ));
    }
    Ok(s)
}

/// A validation result as a plain JS object: what `JSON.parse` makes of the native JSON
/// (built from an out tape, see [`crate::tape`]).
pub(crate) fn outcome<T: Serialize>(
    result: &Result<T, ValidationErrors>,
) -> Result<JsValue, JsValue> {
    tape::install_codes();
    let out = tape::write(|w| w.result(result))?;
    Ok(decode_result(
        &wasm_bindgen::memory(),
        out.as_ptr(),
        out.len(),
    ))
}

/// Any serialisable value as what `JSON.parse` makes of its JSON.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let out = tape::write(|w| value.serialize(w))?;
    Ok(decode_value(
        &wasm_bindgen::memory(),
        out.as_ptr(),
        out.len(),
    ))
}
