//! Room and event names: `userRoom`, `ticketRoom`, `meterRoom`, `systemRoom`, `parseRoom`,
//! `isValidEventName` (`EVENTS` is in [`crate::lists`]). The rules are the core's
//! ([`switchyard_core::Room`], [`switchyard_core::event`]); this module only converts.

use serde::Serialize;
use switchyard_core::{Room, RoomError, RoomKind, event};
use wasm_bindgen::prelude::*;

use crate::convert::{error, string_arg, to_js};

/// Builds the room of `kind` for `id`, or throws a `SwitchyardError` with the kind's code.
fn build(kind: RoomKind, id: &JsValue) -> Result<String, JsValue> {
    let code = kind.id_error_code();
    let id = string_arg(id).ok_or_else(|| {
        let got = id.js_typeof().as_string().unwrap_or_default();
        let what = if kind == RoomKind::System {
            "name"
        } else {
            "id"
        };
        let message = format!("a {} {what} must be a string, got {got}", kind.as_str());
        error(code, &message)
    })?;
    Room::new(kind, &id)
        .map(|room| room.to_string())
        .map_err(|e| error(code, &e.to_string()))
}

/// The room of every socket of one user: `user_<id>`.
///
/// ```js
/// userRoom("tech-42"); // "user_tech-42"
/// userRoom("a b");     // throws SwitchyardError, code "invalid_id"
/// ```
#[wasm_bindgen(js_name = userRoom, unchecked_return_type = "UserRoom")]
pub fn user_room(
    #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
) -> Result<String, JsValue> {
    build(RoomKind::User, &id)
}

/// The room of one ticket's watchers: `ticket_<id>`.
///
/// ```js
/// ticketRoom("T-1001"); // "ticket_T-1001"
/// ```
#[wasm_bindgen(js_name = ticketRoom, unchecked_return_type = "TicketRoom")]
pub fn ticket_room(
    #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
) -> Result<String, JsValue> {
    build(RoomKind::Ticket, &id)
}

/// The room of one meter's watchers: `meter_<id>`.
///
/// ```js
/// meterRoom("MTR-7"); // "meter_MTR-7"
/// ```
#[wasm_bindgen(js_name = meterRoom, unchecked_return_type = "MeterRoom")]
pub fn meter_room(
    #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
) -> Result<String, JsValue> {
    build(RoomKind::Meter, &id)
}

/// An operational channel: `system_<name>` (name: 1–64 of `a-z 0-9 _ -`).
///
/// ```js
/// systemRoom("presence"); // "system_presence"
/// systemRoom("Ops");      // throws SwitchyardError, code "invalid_room"
/// ```
#[wasm_bindgen(js_name = systemRoom, unchecked_return_type = "SystemRoom")]
pub fn system_room(
    #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
) -> Result<String, JsValue> {
    build(RoomKind::System, &name)
}

/// What `parseRoom` returns.
#[derive(Serialize)]
struct ParsedRoom<'a> {
    kind: RoomKind,
    id: &'a str,
}

/// Splits a room into its kind and id; throws a `SwitchyardError` with code `invalid_room`
/// for any string that is not exactly a room.
///
/// ```js
/// parseRoom("ticket_T-1001"); // { kind: "ticket", id: "T-1001" }
/// parseRoom("lobby");         // throws SwitchyardError, code "invalid_room"
/// ```
#[wasm_bindgen(js_name = parseRoom, unchecked_return_type = "ParsedRoom")]
pub fn parse_room(
    #[wasm_bindgen(unchecked_param_type = "string")] room: JsValue,
) -> Result<JsValue, JsValue> {
    let s = string_arg(&room).ok_or_else(|| {
        let got = room.js_typeof().as_string().unwrap_or_default();
        error(
            RoomError::CODE,
            &format!("a room must be a string, got {got}"),
        )
    })?;
    let room: Room = s
        .parse()
        .map_err(|e: RoomError| error(RoomError::CODE, &e.to_string()))?;
    to_js(&ParsedRoom {
        kind: room.kind(),
        id: room.id(),
    })
}

/// Whether `name` may be used as an event name (`^[a-z][a-z0-9_]{0,63}$`, not reserved by
/// Socket.IO). Anything that is not a string is not a name.
///
/// ```js
/// isValidEventName("job_done"); // true
/// isValidEventName("connect");  // false (reserved by Socket.IO)
/// ```
#[wasm_bindgen(js_name = isValidEventName)]
pub fn is_valid_event_name(#[wasm_bindgen(unchecked_param_type = "string")] name: JsValue) -> bool {
    string_arg(&name).is_some_and(|s| event::is_valid_event_name(&s))
}
