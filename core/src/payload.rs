//! The payloads of the contract (section 2): what comes in, how it is checked, and the exact
//! shape that goes out to clients. These are the wire types.
//!
//! Each `validate_*` returns the normalised input or every error found. Turning a checked
//! input into the outgoing payload needs what only the caller has (an id, the time), so that
//! is a separate, infallible step (`into_notification(id, now)` and friends).

use serde::Serialize;

use crate::ids::{MeterId, TicketId, UserId};
use crate::input::Input;
use crate::time::Timestamp;
use crate::validate::{
    ErrorCode, ObjectReader, Text, ValidationErrors, json_within, unreachable_checked,
};

/// `data` (the free-form extension slot) is at most this many bytes of compact JSON.
pub const MAX_DATA_BYTES: usize = 16 * 1024;
/// A custom event's data is at most this many bytes of compact JSON.
pub const MAX_CUSTOM_DATA_BYTES: usize = 64 * 1024;
/// The longest notification or ticket-update message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// The longest announcement message, in characters.
pub const MAX_ANNOUNCEMENT_CHARS: usize = 2000;
/// How far after "now" a meter reading's timestamp may be (clock skew allowance), in ms.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;

/// A JSON object, the type of every `data` field.
pub type Data = serde_json::Map<String, serde_json::Value>;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] $variant),+
        }
        impl $name {
            /// Every value as written on the wire, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            const VALUES: &'static [$name] = &[$($name::$variant),+];
            /// The value as written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            fn read(r: &mut ObjectReader<'_>, field: &'static str, v: &Input) -> Option<Self> {
                r.one_of(field, v, Self::NAMES).map(|i| Self::VALUES[i])
            }
        }
    };
}

wire_enum!(
    /// A notification's `type`.
    NotificationType {
        /// Neutral information.
        Info = "info",
        /// Something went well.
        Success = "success",
        /// Needs attention.
        Warning = "warning",
        /// Something failed.
        Error = "error",
    }
);

wire_enum!(
    /// A ticket's `status`.
    TicketStatus {
        /// New or reopened.
        Open = "open",
        /// Someone works on it.
        InProgress = "in_progress",
        /// Waiting on something.
        OnHold = "on_hold",
        /// Fixed.
        Resolved = "resolved",
        /// Done with.
        Closed = "closed",
    }
);

wire_enum!(
    /// A ticket's `priority`.
    TicketPriority {
        /// Low.
        Low = "low",
        /// Normal.
        Normal = "normal",
        /// High.
        High = "high",
        /// Drop everything.
        Urgent = "urgent",
    }
);

wire_enum!(
    /// A meter reading's `unit` (case-sensitive).
    MeterUnit {
        /// Watt-hours.
        Wh = "Wh",
        /// Kilowatt-hours.
        KWh = "kWh",
        /// Megawatt-hours.
        MWh = "MWh",
        /// Kilowatts.
        KW = "kW",
        /// Kilovolt-ampere reactive hours.
        KVArh = "kVArh",
        /// Cubic metres.
        M3 = "m3",
        /// Litres.
        L = "L",
        /// Gallons.
        Gal = "gal",
        /// Cubic feet.
        Ft3 = "ft3",
        /// Therms.
        Therm = "therm",
    }
);

wire_enum!(
    /// An announcement's `type`.
    AnnouncementType {
        /// General information.
        Info = "info",
        /// Planned maintenance.
        Maintenance = "maintenance",
        /// Something is down.
        Outage = "outage",
        /// A product update.
        Update = "update",
    }
);

fn read_data(r: &mut ObjectReader<'_>) -> Option<Data> {
    let v = r.get("data")?;
    r.data_object("data", v, MAX_DATA_BYTES)
}

fn read_time(r: &mut ObjectReader<'_>, field: &'static str, v: &Input) -> Option<Timestamp> {
    let s = r.string(field, v)?;
    match Timestamp::parse_rfc3339(s) {
        Ok(t) => Some(t),
        Err(e) => {
            r.error(field, ErrorCode::InvalidFormat, e.to_string());
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Notification

/// A checked notification, before it has an id and a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewNotification {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// 1–1000 characters, not blank.
    pub message: String,
    /// Free-form extension slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
}

/// The `notification` event's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique id.
    pub id: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// The message.
    pub message: String,
    /// Free-form extension slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
    /// When the server accepted it.
    pub created_at: Timestamp,
}

/// Checks a notification (`now` is unused today and kept so every validator has one shape).
pub fn validate_notification(
    input: &Input,
    _now: Timestamp,
) -> Result<NewNotification, ValidationErrors> {
    let mut r = ObjectReader::new(input, "a notification")?;
    let kind = r
        .required("type")
        .and_then(|v| NotificationType::read(&mut r, "type", v));
    let message = r.required("message").and_then(|v| {
        r.text(
            "message",
            v,
            Text {
                max_chars: MAX_MESSAGE_CHARS,
                non_blank: true,
            },
        )
    });
    let data = read_data(&mut r);
    r.finish()?;
    match (kind, message) {
        (Some(kind), Some(message)) => Ok(NewNotification {
            kind,
            message,
            data,
        }),
        _ => unreachable_checked(),
    }
}

impl NewNotification {
    /// The outgoing payload.
    pub fn into_notification(self, id: String, now: Timestamp) -> Notification {
        Notification {
            id,
            kind: self.kind,
            message: self.message,
            data: self.data,
            created_at: now,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ticket update

/// A checked ticket update: the fields that change (at least one).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketChange {
    /// New status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// `Some(None)` unassigns; `None` leaves the assignee alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<Option<UserId>>,
    /// New priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<TicketPriority>,
    /// A comment, at most 1000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Free-form extension slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
}

/// The `ticket_updated` event's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketUpdated {
    /// Which ticket.
    pub ticket_id: TicketId,
    /// What changed.
    #[serde(flatten)]
    pub change: TicketChange,
    /// When the server accepted it.
    pub updated_at: Timestamp,
}

/// Checks a ticket update.
pub fn validate_ticket_update(
    input: &Input,
    _now: Timestamp,
) -> Result<TicketChange, ValidationErrors> {
    let mut r = ObjectReader::new(input, "a ticket update")?;
    let mut change = TicketChange::default();
    let mut any = false;
    if let Some(v) = r.get("status") {
        any = true;
        change.status = TicketStatus::read(&mut r, "status", v);
    }
    // Null is meaningful here (unassign), so presence is checked before `get` folds it away.
    let assigned_present = r.present("assignedTo");
    match r.get("assignedTo") {
        Some(v) => {
            any = true;
            if let Some(s) = r.string("assignedTo", v) {
                match UserId::parse(s) {
                    Ok(id) => change.assigned_to = Some(Some(id)),
                    Err(e) => r.error("assignedTo", ErrorCode::InvalidId, e.to_string()),
                }
            }
        }
        None if assigned_present => {
            any = true;
            change.assigned_to = Some(None);
        }
        None => {}
    }
    if let Some(v) = r.get("priority") {
        any = true;
        change.priority = TicketPriority::read(&mut r, "priority", v);
    }
    if let Some(v) = r.get("message") {
        any = true;
        change.message = r.text(
            "message",
            v,
            Text {
                max_chars: MAX_MESSAGE_CHARS,
                non_blank: false,
            },
        );
    }
    any |= r.has_value("data");
    change.data = read_data(&mut r);
    if !any {
        r.error(
            "",
            ErrorCode::EmptyUpdate,
            "an update needs at least one of status, assignedTo, priority, message, data",
        );
    }
    r.finish()?;
    Ok(change)
}

impl TicketChange {
    /// The outgoing payload.
    pub fn into_update(self, ticket_id: TicketId, now: Timestamp) -> TicketUpdated {
        TicketUpdated {
            ticket_id,
            change: self,
            updated_at: now,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Meter reading

/// A checked meter reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewMeterReading {
    /// The value (finite).
    pub reading: serde_json::Number,
    /// When it was read, normalised to UTC.
    pub timestamp: Timestamp,
    /// The unit.
    pub unit: MeterUnit,
}

/// The `meter_reading` event's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterReading {
    /// Which meter.
    pub meter_id: MeterId,
    /// The value.
    pub reading: serde_json::Number,
    /// When it was read (RFC 3339 UTC).
    pub timestamp: Timestamp,
    /// The unit.
    pub unit: MeterUnit,
}

/// Checks a meter reading; its timestamp may be at most 5 minutes after `now`.
pub fn validate_meter_reading(
    input: &Input,
    now: Timestamp,
) -> Result<NewMeterReading, ValidationErrors> {
    let mut r = ObjectReader::new(input, "a meter reading")?;
    let reading = r.required("reading").and_then(|v| match v {
        Input::Number(n) => Some(n.clone()),
        Input::NonFinite(_) => {
            r.error(
                "reading",
                ErrorCode::NotFinite,
                "reading must be a finite number",
            );
            None
        }
        other => {
            r.error(
                "reading",
                ErrorCode::Type,
                format!("reading must be a number, got {}", other.type_name()),
            );
            None
        }
    });
    let timestamp = r
        .required("timestamp")
        .and_then(|v| read_time(&mut r, "timestamp", v));
    if let Some(t) = timestamp
        && t > now.plus_millis(MAX_FUTURE_SKEW_MS)
    {
        r.error(
            "timestamp",
            ErrorCode::InFuture,
            format!("timestamp {t} is more than 5 minutes after the server's time {now}"),
        );
    }
    let unit = r
        .required("unit")
        .and_then(|v| MeterUnit::read(&mut r, "unit", v));
    r.finish()?;
    match (reading, timestamp, unit) {
        (Some(reading), Some(timestamp), Some(unit)) => Ok(NewMeterReading {
            reading,
            timestamp,
            unit,
        }),
        _ => unreachable_checked(),
    }
}

impl NewMeterReading {
    /// The outgoing payload.
    pub fn into_reading(self, meter_id: MeterId) -> MeterReading {
        MeterReading {
            meter_id,
            reading: self.reading,
            timestamp: self.timestamp,
            unit: self.unit,
        }
    }

    /// The reading as a float.
    pub fn reading_f64(&self) -> f64 {
        self.reading.as_f64().unwrap_or(f64::NAN)
    }
}

// ---------------------------------------------------------------------------------------------
// Announcement

/// A checked announcement, before it has an id and a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAnnouncement {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: AnnouncementType,
    /// 1–2000 characters, not blank.
    pub message: String,
    /// When the announced thing happens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<Timestamp>,
    /// Free-form extension slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
}

/// The `announcement` event's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Announcement {
    /// Unique id.
    pub id: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: AnnouncementType,
    /// The message.
    pub message: String,
    /// When the announced thing happens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<Timestamp>,
    /// Free-form extension slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
    /// When the server accepted it.
    pub created_at: Timestamp,
}

/// Checks an announcement.
pub fn validate_announcement(
    input: &Input,
    _now: Timestamp,
) -> Result<NewAnnouncement, ValidationErrors> {
    let mut r = ObjectReader::new(input, "an announcement")?;
    let kind = r
        .required("type")
        .and_then(|v| AnnouncementType::read(&mut r, "type", v));
    let message = r.required("message").and_then(|v| {
        r.text(
            "message",
            v,
            Text {
                max_chars: MAX_ANNOUNCEMENT_CHARS,
                non_blank: true,
            },
        )
    });
    let scheduled_time = r
        .get("scheduledTime")
        .and_then(|v| read_time(&mut r, "scheduledTime", v));
    let data = read_data(&mut r);
    r.finish()?;
    match (kind, message) {
        (Some(kind), Some(message)) => Ok(NewAnnouncement {
            kind,
            message,
            scheduled_time,
            data,
        }),
        _ => unreachable_checked(),
    }
}

impl NewAnnouncement {
    /// The outgoing payload.
    pub fn into_announcement(self, id: String, now: Timestamp) -> Announcement {
        Announcement {
            id,
            kind: self.kind,
            message: self.message,
            scheduled_time: self.scheduled_time,
            data: self.data,
            created_at: now,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Custom events

/// Checks a custom event's data: any JSON value, at most 64 KiB of compact JSON.
pub fn validate_custom_data(input: &Input) -> Result<serde_json::Value, ValidationErrors> {
    json_within("data", input, MAX_CUSTOM_DATA_BYTES).map_err(|e| ValidationErrors(vec![e]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2024-01-15T10:00:00Z").unwrap()
    }
    fn input(s: &str) -> Input<'static> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn notification_ok_and_out_shape() {
        let n = validate_notification(
            &input(r#"{"type":"info","message":"hi","data":{"a":1}}"#),
            now(),
        )
        .unwrap();
        let out = serde_json::to_value(n.into_notification("n1".into(), now())).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"id":"n1","type":"info","message":"hi","data":{"a":1},"createdAt":"2024-01-15T10:00:00.000Z"})
        );
    }

    #[test]
    fn notification_reports_every_error() {
        let e = validate_notification(
            &input(r#"{"type":1,"message":"   ","data":[],"x":0}"#),
            now(),
        )
        .unwrap_err();
        assert_eq!(e.codes(), ["type", "empty", "type", "unknown_field"]);
        let paths: Vec<_> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["type", "message", "data", "x"]);
        let e = validate_notification(&input("{}"), now()).unwrap_err();
        assert_eq!(e.codes(), ["required", "required"]);
        let e = validate_notification(&input("[]"), now()).unwrap_err();
        assert_eq!(e.codes(), ["type"]);
    }

    #[test]
    fn message_boundaries_count_scalars() {
        let ok = format!(r#"{{"type":"info","message":"{}"}}"#, "é".repeat(1000));
        assert!(validate_notification(&input(&ok), now()).is_ok());
        let long = format!(r#"{{"type":"info","message":"{}"}}"#, "é".repeat(1001));
        assert_eq!(
            validate_notification(&input(&long), now())
                .unwrap_err()
                .codes(),
            ["too_long"]
        );
    }

    #[test]
    fn data_size_boundary() {
        // {"k":"xxx…"} is 8 bytes plus the string.
        let fits = format!(
            r#"{{"type":"info","message":"m","data":{{"k":"{}"}}}}"#,
            "x".repeat(MAX_DATA_BYTES - 8)
        );
        assert!(validate_notification(&input(&fits), now()).is_ok());
        let over = format!(
            r#"{{"type":"info","message":"m","data":{{"k":"{}"}}}}"#,
            "x".repeat(MAX_DATA_BYTES - 7)
        );
        assert_eq!(
            validate_notification(&input(&over), now())
                .unwrap_err()
                .codes(),
            ["too_large"]
        );
    }

    #[test]
    fn ticket_update_rules() {
        assert_eq!(
            validate_ticket_update(&input("{}"), now())
                .unwrap_err()
                .codes(),
            ["empty_update"]
        );
        let c = validate_ticket_update(&input(r#"{"assignedTo":null}"#), now()).unwrap();
        assert_eq!(c.assigned_to, Some(None));
        let out = serde_json::to_value(c.into_update("T1".parse().unwrap(), now())).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"ticketId":"T1","assignedTo":null,"updatedAt":"2024-01-15T10:00:00.000Z"})
        );
        let e = validate_ticket_update(
            &input(r#"{"status":"done","assignedTo":"a b","priority":"low"}"#),
            now(),
        )
        .unwrap_err();
        assert_eq!(e.codes(), ["unknown_value", "invalid_id"]);
        assert_eq!(
            validate_ticket_update(&input(r#"{"data":null}"#), now())
                .unwrap_err()
                .codes(),
            ["empty_update"]
        );
        assert!(validate_ticket_update(&input(r#"{"message":""}"#), now()).is_ok());
    }

    #[test]
    fn meter_reading_rules() {
        let ok = validate_meter_reading(
            &input(r#"{"reading":12.5,"timestamp":"2024-01-15T11:04:59+01:00","unit":"kWh"}"#),
            now(),
        )
        .unwrap();
        let out = serde_json::to_value(ok.into_reading("m1".parse().unwrap())).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"meterId":"m1","reading":12.5,"timestamp":"2024-01-15T10:04:59.000Z","unit":"kWh"})
        );
        let edge = r#"{"reading":1,"timestamp":"2024-01-15T10:05:00Z","unit":"Wh"}"#;
        assert!(validate_meter_reading(&input(edge), now()).is_ok());
        let future = r#"{"reading":1,"timestamp":"2024-01-15T10:05:00.001Z","unit":"Wh"}"#;
        assert_eq!(
            validate_meter_reading(&input(future), now())
                .unwrap_err()
                .codes(),
            ["in_future"]
        );
        let bad = r#"{"reading":"1","timestamp":"soon","unit":"KWH"}"#;
        assert_eq!(
            validate_meter_reading(&input(bad), now())
                .unwrap_err()
                .codes(),
            ["type", "invalid_format", "unknown_value"]
        );
        let mut nan = input(r#"{"timestamp":"2024-01-15T10:00:00Z","unit":"Wh"}"#);
        if let Input::Object(m) = &mut nan {
            m.insert("reading".into(), Input::NonFinite(f64::NAN));
        }
        assert_eq!(
            validate_meter_reading(&nan, now()).unwrap_err().codes(),
            ["not_finite"]
        );
    }

    #[test]
    fn announcement_rules() {
        let a = validate_announcement(
            &input(
                r#"{"type":"outage","message":"down","scheduledTime":"2024-01-16T00:00:00+02:00"}"#,
            ),
            now(),
        )
        .unwrap();
        let out = serde_json::to_value(a.into_announcement("a1".into(), now())).unwrap();
        assert_eq!(out["scheduledTime"], "2024-01-15T22:00:00.000Z");
        let long = format!(r#"{{"type":"info","message":"{}"}}"#, "x".repeat(2001));
        assert_eq!(
            validate_announcement(&input(&long), now())
                .unwrap_err()
                .codes(),
            ["too_long"]
        );
    }

    #[test]
    fn custom_data() {
        assert!(validate_custom_data(&input("[1,2,3]")).is_ok());
        assert!(
            validate_custom_data(&Input::String("x".repeat(MAX_CUSTOM_DATA_BYTES - 2).into()))
                .is_ok()
        );
        assert_eq!(
            validate_custom_data(&Input::String("x".repeat(MAX_CUSTOM_DATA_BYTES - 1).into()))
                .unwrap_err()
                .codes(),
            ["too_large"]
        );
        let nested = Input::Array(vec![Input::Null, Input::NonFinite(f64::INFINITY)]);
        let e = validate_custom_data(&nested).unwrap_err();
        assert_eq!(
            (e.0[0].path.as_str(), e.0[0].code),
            ("data[1]", ErrorCode::NotFinite)
        );
    }
}
