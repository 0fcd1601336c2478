//! Field errors and the small reader every payload validator is built from.
//!
//! Validators report every error, not only the first, each with a path (`reading`,
//! `data.site`), a stable code and a human message. The order is fixed (schema order, then
//! unknown fields sorted), so the native server and the wasm package give identical lists.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::code::ErrorCode;
use crate::input::{Fields, Input, join};

/// One problem with one field.
// Its JSON Schema is in `schema` (feature `utoipa`), so this module does not depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where: a dotted path from the payload's top (`""` for the payload itself).
    pub path: String,
    /// What, as a stable code.
    pub code: ErrorCode,
    /// What, for a person.
    pub message: String,
}

impl FieldError {
    /// A new error.
    pub fn new(path: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

/// Every problem found in one payload (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// The codes, in order (handy in tests).
    pub fn codes(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.code.as_str()).collect()
    }

    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if e.path.is_empty() {
                write!(f, "{} ({})", e.message, e.code)?;
            } else {
                write!(f, "{}: {} ({})", e.path, e.message, e.code)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Every branch that lands here has recorded an error, which `finish` has returned already.
pub(crate) fn unreachable_checked<T>() -> Result<T, ValidationErrors> {
    Err(ValidationErrors(vec![FieldError::new(
        "",
        ErrorCode::Type,
        "internal validation inconsistency",
    )]))
}

/// Reads one JSON object field by field, collecting errors; at the end, every field it was not
/// asked for is reported as `unknown_field`.
// One lifetime for the reference and the input's strings: `Input` is covariant, so any
// `&'r Input<'s>` reads as `&'r Input<'r>`.
pub(crate) struct ObjectReader<'a> {
    fields: &'a Fields<'a>,
    seen: Vec<&'static str>,
    pub(crate) errors: Vec<FieldError>,
}

/// A string limit: the longest allowed, and whether blank strings are refused.
pub(crate) struct Text {
    pub max_chars: usize,
    pub non_blank: bool,
}

impl<'a> ObjectReader<'a> {
    /// Starts reading `input`, which must be an object; otherwise the error is returned.
    pub(crate) fn new(input: &'a Input<'a>, what: &str) -> Result<Self, ValidationErrors> {
        match input {
            Input::Object(fields) => Ok(Self {
                fields,
                seen: Vec::new(),
                errors: Vec::new(),
            }),
            other => Err(ValidationErrors(vec![FieldError::new(
                "",
                ErrorCode::Type,
                format!("{what} must be a JSON object, got {}", other.type_name()),
            )])),
        }
    }

    pub(crate) fn error(&mut self, path: &str, code: ErrorCode, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, code, message));
    }

    /// The raw field; `None` when missing or null (optional fields treat null as absent).
    pub(crate) fn get(&mut self, name: &'static str) -> Option<&'a Input<'a>> {
        self.seen.push(name);
        match self.fields.get(name) {
            None | Some(Input::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether the field is present with any value, null included.
    pub(crate) fn present(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// Whether the field is present with a non-null value.
    pub(crate) fn has_value(&self, name: &str) -> bool {
        !matches!(self.fields.get(name), None | Some(Input::Null))
    }

    pub(crate) fn required(&mut self, name: &'static str) -> Option<&'a Input<'a>> {
        let v = self.get(name);
        if v.is_none() {
            self.error(name, ErrorCode::Required, format!("{name} is required"));
        }
        v
    }

    pub(crate) fn string<'v>(&mut self, name: &'static str, v: &'v Input) -> Option<&'v str> {
        match v {
            Input::String(s) => Some(s),
            other => {
                self.error(
                    name,
                    ErrorCode::Type,
                    format!("{name} must be a string, got {}", other.type_name()),
                );
                None
            }
        }
    }

    pub(crate) fn text(&mut self, name: &'static str, v: &Input, rule: Text) -> Option<String> {
        let s = self.string(name, v)?;
        if rule.non_blank && s.trim().is_empty() {
            self.error(
                name,
                ErrorCode::Empty,
                format!("{name} must not be empty or blank"),
            );
            return None;
        }
        let n = s.chars().count();
        if n > rule.max_chars {
            self.error(
                name,
                ErrorCode::TooLong,
                format!(
                    "{name} has {n} characters; at most {} are allowed",
                    rule.max_chars
                ),
            );
            return None;
        }
        Some(s.to_owned())
    }

    /// A string that must be one of `allowed`; returns the index of the match.
    pub(crate) fn one_of(
        &mut self,
        name: &'static str,
        v: &Input,
        allowed: &[&str],
    ) -> Option<usize> {
        let s = self.string(name, v)?;
        match allowed.iter().position(|a| *a == s) {
            Some(i) => Some(i),
            None => {
                self.error(
                    name,
                    ErrorCode::UnknownValue,
                    format!("{name} must be one of {} (got {s:?})", allowed.join(", ")),
                );
                None
            }
        }
    }

    /// `data`: a JSON object whose compact serialisation is at most `max_bytes`.
    pub(crate) fn data_object(
        &mut self,
        name: &'static str,
        v: &Input,
        max_bytes: usize,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        if !matches!(v, Input::Object(_)) {
            self.error(
                name,
                ErrorCode::Type,
                format!("{name} must be a JSON object, got {}", v.type_name()),
            );
            return None;
        }
        match json_within(name, v, max_bytes) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            Ok(_) => None,
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Ends reading a value the server wrote (such as an event's `meta`): fields it was not
    /// asked for are let through, so a client keeps working when a later server adds one.
    pub(crate) fn finish_allowing_unknown(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }

    /// Ends reading: unknown fields become errors; `Ok(())` only if nothing was wrong.
    pub(crate) fn finish(mut self) -> Result<(), ValidationErrors> {
        for key in self.fields.keys() {
            if !self.seen.contains(&key.as_ref()) {
                self.errors.push(FieldError::new(
                    key.clone(),
                    ErrorCode::UnknownField,
                    format!("unknown field {key:?}"),
                ));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }
}

/// Converts free-form data to JSON, refusing non-finite numbers and more than `max_bytes`
/// of compact JSON.
pub(crate) fn json_within(
    path: &str,
    v: &Input,
    max_bytes: usize,
) -> Result<serde_json::Value, FieldError> {
    let json = v.to_json().map_err(|at| {
        let at = if at.is_empty() {
            path.to_owned()
        } else if at.starts_with('[') {
            format!("{path}{at}")
        } else {
            join(path, &at)
        };
        FieldError::new(
            at,
            ErrorCode::NotFinite,
            "numbers must be finite (no NaN or Infinity)",
        )
    })?;
    let size = json_len(&json);
    if size > max_bytes {
        return Err(FieldError::new(
            path,
            ErrorCode::TooLarge,
            format!("{path} is {size} bytes as JSON; at most {max_bytes} are allowed"),
        ));
    }
    Ok(json)
}

/// The length of `value`'s compact JSON, counted without building the text.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // A `Value` always serialises; if it ever did not, it is certainly not within a limit.
        Err(_) => usize::MAX,
    }
}
