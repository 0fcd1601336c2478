//! `StreamTracker` (contract section 8, "wasm"): the core's
//! [`switchyard_core::tracker::StreamTracker`], the same code the server's tests run for the
//! client side of streams. A front end keeps one per session, hands it every stream event's
//! `meta`, drops what it calls `"duplicate"`, refetches after a `"gap"`, and reconnects with
//! `since()` / `position(room)`. The rules are the core's; this module only converts.
//!
//! What it throws, all `SwitchyardError`s:
//! - `invalid_json`: a `meta` or a position that is not what the server sends (the core's
//!   [`Meta::read`] / [`StreamPosition::read`] refuse it; the message lists every problem).
//!   A malformed wire value is the package's "JSON it cannot use" case, and the code is one
//!   a caller already handles for the validators' unsendable values.
//! - `invalid_room`: a stream name that is neither `"broadcast"` nor a room, as `parseRoom`
//!   throws for it; and `reset` of `system_presence`, which has no stream. `position` of
//!   `system_presence` is `undefined` instead: a client asks it for every room it watches,
//!   and "no position" is the true answer there.

use switchyard_core::tracker::StreamTracker as Core;
use switchyard_core::{ErrorCode, Input, Meta, Room, StreamName, StreamPosition};
use wasm_bindgen::prelude::*;

use crate::convert::{self, error, string_arg, to_js};

/// A refusal before it becomes a JS `SwitchyardError`: kept apart so the native tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Thrown {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl Thrown {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn into_js(self) -> JsValue {
        error(self.code, &self.message)
    }
}

/// An event's `meta`, read by the core.
pub(crate) fn read_meta(input: &Input) -> Result<Meta, Thrown> {
    Meta::read(input).map_err(|e| Thrown::new(ErrorCode::InvalidJson, format!("meta: {e}")))
}

/// A `{ epoch, offset }`, read by the core.
pub(crate) fn read_position(input: &Input) -> Result<StreamPosition, Thrown> {
    StreamPosition::read(input)
        .map_err(|e| Thrown::new(ErrorCode::InvalidJson, format!("position: {e}")))
}

/// A stream's name, as the core parses it (`"broadcast"` or a room with a stream).
pub(crate) fn read_stream(s: &str) -> Result<StreamName, Thrown> {
    s.parse::<StreamName>()
        .map_err(|e| Thrown::new(ErrorCode::InvalidRoom, e.to_string()))
}

/// A stream to look up: `None` for a room the core gives no stream (`system_presence`),
/// which has no position rather than a wrong name.
pub(crate) fn read_stream_to_look_up(s: &str) -> Result<Option<StreamName>, Thrown> {
    match read_stream(s) {
        Ok(stream) => Ok(Some(stream)),
        Err(_)
            if s.parse::<Room>()
                .is_ok_and(|r| StreamName::of_room(&r).is_none()) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A stream argument's text; anything but a string is refused, never coerced.
fn stream_text(value: &JsValue) -> Result<String, JsValue> {
    string_arg(value).ok_or_else(|| {
        let got = value.js_typeof().as_string().unwrap_or_default();
        error(
            ErrorCode::InvalidRoom,
            &format!("a stream must be a string, got {got}"),
        )
    })
}

/// The last position seen in each stream: drops duplicates, notices gaps, and gives the
/// positions to reconnect from.
///
/// ```js
/// const tracker = new StreamTracker();
/// socket.on("ticket_updated", (update, meta) => {
///   if (tracker.accept(meta) === "duplicate") return; // a replay overlapping live traffic
///   show(update);
/// });
/// // Reconnect from where the page was:
/// const socket = io({ auth: (cb) => cb({ token, since: tracker.since() }) });
/// socket.emit("subscribe", { room, since: tracker.position(room) }, onAck);
/// ```
#[wasm_bindgen]
#[derive(Default)]
pub struct StreamTracker {
    inner: Core,
}

#[wasm_bindgen]
impl StreamTracker {
    /// A tracker that has seen nothing.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Judges one event by its `meta` (the second argument of every stream event):
    /// `"new"` (handle it), `"duplicate"` (seen already: drop it) or `"gap"` (events before
    /// it were missed: handle it, and refetch the state). The stream's position moves to the
    /// event unless it is a duplicate. Throws `invalid_json` for a value that is not a meta.
    #[wasm_bindgen(unchecked_return_type = "Accepted")]
    pub fn accept(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Meta")] meta: JsValue,
    ) -> Result<String, JsValue> {
        let meta = convert::with_input(&meta, read_meta)?.map_err(Thrown::into_js)?;
        Ok(self.inner.accept(&meta).as_str().to_owned())
    }

    /// The last position seen in `stream` (a room or `"broadcast"`), for
    /// `subscribe { room, since }`; `undefined` if none was seen, and for `system_presence`,
    /// which has no stream. Throws `invalid_room` for a string that is not a room.
    #[wasm_bindgen(unchecked_return_type = "StreamPosition | undefined")]
    pub fn position(
        &self,
        #[wasm_bindgen(unchecked_param_type = "StreamName")] stream: JsValue,
    ) -> Result<JsValue, JsValue> {
        let stream = read_stream_to_look_up(&stream_text(&stream)?).map_err(Thrown::into_js)?;
        match stream.and_then(|s| self.inner.position(&s)) {
            Some(position) => to_js(position),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Every stream's position, `{ "<stream>": { epoch, offset }, … }`: the handshake's
    /// `auth.since` (the server reads the own user room and `broadcast` from it and ignores
    /// the rest). A fresh plain object each call.
    #[wasm_bindgen(unchecked_return_type = "Since")]
    pub fn since(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.since())
    }

    /// Sets `stream`'s position: to the ack's `{ epoch, offset }` after `recovered: false`
    /// (or a subscribe without `since`), so the next live event counts as new. Throws
    /// `invalid_room` for a bad stream (and `system_presence`), `invalid_json` for a bad
    /// position.
    pub fn reset(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "StreamName")] stream: JsValue,
        #[wasm_bindgen(unchecked_param_type = "StreamPosition")] position: JsValue,
    ) -> Result<(), JsValue> {
        let stream = read_stream(&stream_text(&stream)?).map_err(Thrown::into_js)?;
        let position = convert::with_input(&position, read_position)?.map_err(Thrown::into_js)?;
        self.inner.reset(stream, position);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The tracker vectors (`tests/wasm/vectors/tracker.json`) against the core natively,
    //! through the same readers the bindings use; `tests/wasm/test/tracker.test.js` runs
    //! them through the installed package. Together: the package answers what the core does.

    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;

    fn vectors() -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/wasm/vectors/tracker.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn text(v: &Value) -> &str {
        v.as_str()
            .unwrap_or_else(|| panic!("the vectors pass streams as strings, got {v}"))
    }

    /// One call natively, as `{ returns }` or `{ throws: { code, message } }` (a JS
    /// `undefined` is `null`).
    fn run(tracker: &mut Core, call: &str, args: &[Value]) -> Value {
        let answer = match (call, args) {
            ("accept", [meta]) => read_meta(&Input::from(meta.clone()))
                .map(|meta| json!(tracker.accept(&meta).as_str())),
            ("position", [stream]) => read_stream_to_look_up(text(stream)).map(|s| {
                s.and_then(|s| tracker.position(&s).cloned())
                    .map_or(Value::Null, |p| json!(p))
            }),
            ("since", []) => Ok(json!(tracker.since())),
            ("reset", [stream, position]) => read_stream(text(stream)).and_then(|stream| {
                let position = read_position(&Input::from(position.clone()))?;
                tracker.reset(stream, position);
                Ok(Value::Null)
            }),
            _ => panic!("unknown step {call} with {} arguments", args.len()),
        };
        match answer {
            Ok(value) => json!({ "returns": value }),
            Err(t) => json!({ "throws": { "code": t.code.as_str(), "message": t.message } }),
        }
    }

    #[test]
    fn the_vectors_are_the_cores_answers() {
        let vectors = vectors();
        let cases = vectors["cases"].as_array().expect("a cases array");
        let mut failures = Vec::new();
        let mut seen = BTreeSet::new();
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?");
            let mut tracker = Core::new();
            let steps = case["steps"].as_array().expect("a steps array");
            for (i, step) in steps.iter().enumerate() {
                let call = step["call"].as_str().expect("a call");
                let args = step["args"].as_array().expect("an args array");
                let got = run(&mut tracker, call, args);
                let want = match (step.get("returns"), step.get("throws")) {
                    (Some(r), None) => json!({ "returns": r }),
                    (None, Some(t)) => json!({ "throws": t }),
                    _ => panic!("{name}, step {i}: give exactly one of returns and throws"),
                };
                if got != want {
                    failures.push(format!(
                        "{name}, step {i} ({call}):\n  want {want}\n  core {got}"
                    ));
                }
                seen.insert(call.to_owned());
                if let Some(s) = got["returns"].as_str() {
                    seen.insert(s.to_owned());
                }
                if let Some(code) = got["throws"]["code"].as_str() {
                    seen.insert(code.to_owned());
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // Every method, every answer of accept and every code this module throws is recorded.
        for needed in [
            "accept",
            "position",
            "since",
            "reset",
            "new",
            "duplicate",
            "gap",
            "invalid_json",
            "invalid_room",
        ] {
            assert!(seen.contains(needed), "no vector exercises {needed}");
        }
    }
}
