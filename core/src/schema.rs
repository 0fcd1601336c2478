//! JSON Schemas of the core's wire types and of the payloads its validators accept, for the
//! HTTP API's OpenAPI description (feature `utoipa`; the wasm package does not enable it).
//!
//! Each schema is built from the rule it describes: enums list their `NAMES`, lengths come from
//! the same constants the validators use. What a schema cannot say (a message that is only
//! white space, `data` over 16 KiB, a timestamp too far in the future) is in its description,
//! and the server still answers it with `validation_failed`. The host's tests check these
//! schemas against the validators, so a rule changed in one place and not the other fails.

use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::code::{ErrorCode, Surface};
use crate::event::{MAX_EVENT_NAME_LEN, RESERVED, names};
use crate::ids::{MAX_ID_LEN, MeterId, TicketId, UserId};
use crate::payload::{
    AnnouncementType, MAX_ANNOUNCEMENT_CHARS, MAX_CUSTOM_DATA_BYTES, MAX_DATA_BYTES,
    MAX_MESSAGE_CHARS, MeterUnit, NotificationType, TicketPriority, TicketStatus,
};
use crate::room::Room;
use crate::validate::FieldError;

/// The characters of an id (contract section 1), as a regular-expression class.
pub const ID_CHARS: &str = "A-Za-z0-9._:@-";
/// The characters of a system room's name, as a regular-expression class.
pub const SYSTEM_CHARS: &str = "a-z0-9_-";

/// An id: 1–64 characters of [`ID_CHARS`].
pub fn id_pattern() -> String {
    format!("^[{ID_CHARS}]{{1,{MAX_ID_LEN}}}$")
}

/// A room: `user_`, `ticket_` or `meter_` and an id, or `system_` and a system name.
pub fn room_pattern() -> String {
    format!(
        "^(?:(?:user|ticket|meter)_[{ID_CHARS}]{{1,{MAX_ID_LEN}}}|system_[{SYSTEM_CHARS}]{{1,{MAX_ID_LEN}}})$"
    )
}

/// An event name: a-z first, then a-z, 0-9 and `_`, 64 characters at most.
pub fn event_name_pattern() -> String {
    format!("^[a-z][a-z0-9_]{{0,{}}}$", MAX_EVENT_NAME_LEN - 1)
}

/// Text that is not blank: at least one character that is not white space as the validators
/// count it (Rust's `char::is_whitespace`, Unicode's White_Space). Spelled out rather than
/// `\S`, whose JSON Schema (ECMA-262) meaning differs: it counts U+FEFF as space and U+0085 as
/// text, so a fuzzer reading `\S` sends "\u{85}" and expects it accepted. Every White_Space
/// character lies in the Basic Multilingual Plane, which `\uXXXX` spells in every dialect
/// (host/tests/openapi.rs checks the pattern against the validator over all of Unicode).
pub fn non_blank_pattern() -> String {
    let mut class = String::from("[^");
    let mut c = 0u32;
    while c <= 0xFFFF {
        if char::from_u32(c).is_some_and(char::is_whitespace) {
            let start = c;
            while char::from_u32(c + 1).is_some_and(char::is_whitespace) {
                c += 1;
            }
            class.push_str(&format!("\\u{start:04X}"));
            if c > start {
                class.push_str(&format!("-\\u{c:04X}"));
            }
        }
        c += 1;
    }
    class.push(']');
    class
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn one_of_names(names: &[&str], description: &str) -> RefOr<Schema> {
    string()
        .enum_values(Some(names.iter().copied()))
        .description(Some(description))
        .into()
}

/// The codes of one surface, as a string enum.
pub fn error_codes(surface: Surface, description: &str) -> RefOr<Schema> {
    let names: Vec<&str> = ErrorCode::on(surface).map(ErrorCode::as_str).collect();
    one_of_names(&names, description)
}

/// `FieldError::code`: the validation codes.
pub fn field_codes() -> RefOr<Schema> {
    error_codes(Surface::Field, "What is wrong, as a stable code.")
}

macro_rules! named_schema {
    ($($ty:ty => $body:expr;)+) => {$(
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $body
            }
        }
        impl ToSchema for $ty {}
    )+};
}

fn id_schema(what: &str) -> RefOr<Schema> {
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_ID_LEN))
        .pattern(Some(id_pattern()))
        .description(Some(format!(
            "A {what} id: 1–{MAX_ID_LEN} characters of {ID_CHARS}."
        )))
        .examples(["tech-42"])
        .into()
}

named_schema! {
    FieldError => ObjectBuilder::new()
        .description(Some("One problem with one field."))
        .property(
            "path",
            string().description(Some(
                "Where: a dotted path from the payload's top (\"\" for the payload itself).",
            )),
        )
        .property("code", field_codes())
        .property("message", string().description(Some("What, for a person.")))
        .required("path")
        .required("code")
        .required("message")
        .into();
    UserId => id_schema("user");
    TicketId => id_schema("ticket");
    MeterId => id_schema("meter");
    Room => string()
        .pattern(Some(room_pattern()))
        .description(Some(
            "A room: user_<id>, ticket_<id>, meter_<id> or system_<name> (name: 1–64 characters of a-z 0-9 _ -).",
        ))
        .examples(["ticket_T-100"])
        .into();
    NotificationType => one_of_names(NotificationType::NAMES, "A notification's type.");
    TicketStatus => one_of_names(TicketStatus::NAMES, "A ticket's status.");
    TicketPriority => one_of_names(TicketPriority::NAMES, "A ticket's priority.");
    MeterUnit => one_of_names(MeterUnit::NAMES, "A meter reading's unit (case-sensitive).");
    AnnouncementType => one_of_names(AnnouncementType::NAMES, "An announcement's type.");
}

fn data(max_bytes: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "Free-form extension slot: a JSON object of at most {} KiB as compact JSON.",
            max_bytes / 1024
        )))
}

fn message(max_chars: usize, non_blank: bool) -> ObjectBuilder {
    let b = string().max_length(Some(max_chars));
    if non_blank {
        b.min_length(Some(1))
            .pattern(Some(non_blank_pattern()))
            .description(Some(format!(
                "1–{max_chars} characters (Unicode scalar values), not only white space."
            )))
    } else {
        b.description(Some(format!(
            "At most {max_chars} characters (Unicode scalar values)."
        )))
    }
}

fn date_time(description: &str) -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some(description))
}

/// An optional field: `null` is the same as leaving it out (contract section 2).
fn optional(schema: impl Into<RefOr<Schema>>) -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(schema)
            .item(null())
            .description(Some("Optional; null is the same as leaving it out."))
            .build(),
    )
}

fn null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Null)
}

fn ref_to<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

fn input_object(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

fn push<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
}

/// The body of `POST /users/{userId}/notifications` (`validate_notification`).
pub struct NotificationInput;
/// The body of `POST /tickets/{ticketId}/updates` (`validate_ticket_update`).
pub struct TicketUpdateInput;
/// The body of `POST /meters/{meterId}/readings` (`validate_meter_reading`).
pub struct MeterReadingInput;
/// The body of `POST /announcements` (`validate_announcement`).
pub struct AnnouncementInput;
/// The body of `POST /rooms/{room}/events` and `POST /broadcast` (`routing::custom_event`).
pub struct CustomEventInput;

impl PartialSchema for NotificationInput {
    fn schema() -> RefOr<Schema> {
        input_object("A notification for every socket of one user.")
            .property("type", ref_to::<NotificationType>())
            .required("type")
            .property("message", message(MAX_MESSAGE_CHARS, true))
            .required("message")
            .property("data", optional(data(MAX_DATA_BYTES)))
            .examples([serde_json::json!({"type": "info", "message": "Job 7 assigned"})])
            .into()
    }
}
impl ToSchema for NotificationInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push::<NotificationType>(schemas);
    }
}

impl PartialSchema for TicketUpdateInput {
    fn schema() -> RefOr<Schema> {
        let assignee = || {
            OneOfBuilder::new()
                .item(ref_to::<UserId>())
                .item(null())
                .description(Some("The new assignee's user id, or null to unassign."))
        };
        // Each field that can carry the change, as it counts: present and not null (except
        // `assignedTo`, whose null unassigns).
        let fields: [(&str, RefOr<Schema>); 5] = [
            ("status", ref_to::<TicketStatus>()),
            ("assignedTo", assignee().into()),
            ("priority", ref_to::<TicketPriority>()),
            ("message", message(MAX_MESSAGE_CHARS, false).into()),
            ("data", data(MAX_DATA_BYTES).into()),
        ];
        let mut object = input_object("The fields of a ticket update.");
        let mut at_least_one = AnyOfBuilder::new();
        for (name, schema) in fields {
            let field = if name == "assignedTo" {
                schema.clone()
            } else {
                optional(schema.clone()).into()
            };
            object = object.property(name, field);
            at_least_one = at_least_one.item(
                ObjectBuilder::new()
                    .property(name, schema)
                    .required(name)
                    .build(),
            );
        }
        Schema::AllOf(
            AllOfBuilder::new()
                .item(object)
                .item(at_least_one)
                .description(Some(
                    "What changed on a ticket: at least one field with a value (else `empty_update`).",
                ))
                .examples([serde_json::json!({"status": "in_progress", "assignedTo": "tech-42"})])
                .build(),
        )
        .into()
    }
}
impl ToSchema for TicketUpdateInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push::<TicketStatus>(schemas);
        push::<TicketPriority>(schemas);
        push::<UserId>(schemas);
    }
}

impl PartialSchema for MeterReadingInput {
    fn schema() -> RefOr<Schema> {
        input_object("One reading of a utility meter.")
            .property(
                "reading",
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .description(Some("The value (finite).")),
            )
            .required("reading")
            .property(
                "timestamp",
                date_time(
                    "When it was read (RFC 3339; at most 5 minutes after the server's time, else `in_future`). Sent on normalised to UTC.",
                ),
            )
            .required("timestamp")
            .property("unit", ref_to::<MeterUnit>())
            .required("unit")
            .examples([serde_json::json!({
                "reading": 1532.4, "timestamp": "2024-01-15T10:00:00Z", "unit": "kWh"
            })])
            .into()
    }
}
impl ToSchema for MeterReadingInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push::<MeterUnit>(schemas);
    }
}

impl PartialSchema for AnnouncementInput {
    fn schema() -> RefOr<Schema> {
        input_object("An announcement to every connected socket.")
            .property("type", ref_to::<AnnouncementType>())
            .required("type")
            .property("message", message(MAX_ANNOUNCEMENT_CHARS, true))
            .required("message")
            .property(
                "scheduledTime",
                optional(date_time("When the announced thing happens (RFC 3339).")),
            )
            .property("data", optional(data(MAX_DATA_BYTES)))
            .examples([serde_json::json!({
                "type": "maintenance", "message": "Portal down 02:00-03:00"
            })])
            .into()
    }
}
impl ToSchema for AnnouncementInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push::<AnnouncementType>(schemas);
    }
}

impl PartialSchema for CustomEventInput {
    fn schema() -> RefOr<Schema> {
        let taken = names::SERVER_OWNED.join(", ");
        let event = string()
            .pattern(Some(event_name_pattern()))
            .description(Some(format!(
                "The event's name. Not one of the server's own events ({taken}) nor a name Socket.IO reserves ({}).",
                RESERVED.join(", ")
            )))
            .examples(["ticket_comment"]);
        input_object("A custom event and its data.")
            .property("event", event)
            .required("event")
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .description(Some(format!(
                        "Any JSON value, at most {} KiB as compact JSON (absent: null).",
                        MAX_CUSTOM_DATA_BYTES / 1024
                    ))),
            )
            .examples([serde_json::json!({"event": "ticket_comment", "data": {"text": "On site"}})])
            .into()
    }
}
impl ToSchema for CustomEventInput {}
