//! The payload validators: `validateNotification`, `validateTicketUpdate`,
//! `validateMeterReading`, `validateAnnouncement` and `validateCustomData`. Each converts its
//! input (see [`crate::convert`]), runs the core's validator and converts the result back, so
//! it answers exactly what the server would.

use switchyard_core::payload;
use wasm_bindgen::prelude::*;

use crate::convert::{self, outcome};

/// Checks a notification (`type`, `message`, `data?`).
///
/// ```js
/// const r = validateNotification({ type: "info", message: "Truck arrives at 10:00" });
/// if (r.ok) console.log(r.value.message);
/// else for (const e of r.errors) console.log(e.path, e.code, e.message);
/// ```
#[wasm_bindgen(
    js_name = validateNotification,
    unchecked_return_type = "ValidationResult<NewNotification>"
)]
pub fn validate_notification(
    #[wasm_bindgen(unchecked_param_type = "NotificationInput")] input: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Date | number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = convert::now(&now)?;
    convert::with_input(&input, |i| outcome(&payload::validate_notification(i, now)))?
}

/// Checks a ticket update (`status?`, `assignedTo?` (null unassigns), `priority?`,
/// `message?`, `data?`; at least one).
///
/// ```js
/// validateTicketUpdate({ status: "in_progress", assignedTo: "tech-42" }).ok; // true
/// validateTicketUpdate({}).errors[0].code;                                  // "empty_update"
/// ```
#[wasm_bindgen(
    js_name = validateTicketUpdate,
    unchecked_return_type = "ValidationResult<TicketChange>"
)]
pub fn validate_ticket_update(
    #[wasm_bindgen(unchecked_param_type = "TicketUpdateInput")] input: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Date | number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = convert::now(&now)?;
    convert::with_input(&input, |i| {
        outcome(&payload::validate_ticket_update(i, now))
    })?
}

/// Checks a meter reading (`reading` finite, `timestamp` RFC 3339 at most 5 minutes after
/// `now`, `unit`); the timestamp comes back normalised to UTC milliseconds.
///
/// ```js
/// const r = validateMeterReading(
///   { reading: 12.5, timestamp: "2024-01-15T11:04:59+01:00", unit: "kWh" },
///   new Date("2024-01-15T10:00:00Z"),
/// );
/// // r.value.timestamp === "2024-01-15T10:04:59.000Z"
/// ```
#[wasm_bindgen(
    js_name = validateMeterReading,
    unchecked_return_type = "ValidationResult<NewMeterReading>"
)]
pub fn validate_meter_reading(
    #[wasm_bindgen(unchecked_param_type = "MeterReadingInput")] input: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Date | number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = convert::now(&now)?;
    convert::with_input(&input, |i| {
        outcome(&payload::validate_meter_reading(i, now))
    })?
}

/// Checks an announcement (`type`, `message`, `scheduledTime?`, `data?`).
///
/// ```js
/// validateAnnouncement({ type: "maintenance", message: "Portal down 02:00-03:00 UTC" }).ok; // true
/// ```
#[wasm_bindgen(
    js_name = validateAnnouncement,
    unchecked_return_type = "ValidationResult<NewAnnouncement>"
)]
pub fn validate_announcement(
    #[wasm_bindgen(unchecked_param_type = "AnnouncementInput")] input: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Date | number")] now: JsValue,
) -> Result<JsValue, JsValue> {
    let now = convert::now(&now)?;
    convert::with_input(&input, |i| outcome(&payload::validate_announcement(i, now)))?
}

/// Checks a custom event's data: any JSON value, at most 64 KiB as compact JSON.
///
/// ```js
/// validateCustomData({ job: 7, done: true }).ok; // true
/// ```
#[wasm_bindgen(js_name = validateCustomData, unchecked_return_type = "ValidationResult<JsonValue>")]
pub fn validate_custom_data(
    #[wasm_bindgen(unchecked_param_type = "unknown")] input: JsValue,
) -> Result<JsValue, JsValue> {
    convert::with_input(&input, |i| outcome(&payload::validate_custom_data(i)))?
}
