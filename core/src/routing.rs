//! Routing decisions: for each action of the hub, which room (or everyone), which event name
//! and which payload. A [`Delivery`] is a plain value; the host emits it exactly once per
//! broadcast, however many sockets receive it.

use std::fmt;

use serde::Serialize;

use crate::event::{EventName, names};
use crate::ids::{MeterId, TicketId, UserId};
use crate::input::Input;
use crate::payload::{self, Announcement, MeterReading, Notification, TicketUpdated};
use crate::presence::PresenceChange;
use crate::room::Room;
use crate::time::Timestamp;
use crate::validate::{ErrorCode, FieldError, ObjectReader, ValidationErrors, unreachable_checked};

/// Who receives a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every socket in one room.
    Room(Room),
    /// Every connected socket.
    All,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Room(r) => write!(f, "{r}"),
            Target::All => f.write_str("*"),
        }
    }
}

/// The `user_online` / `user_offline` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    /// Whose presence changed.
    pub user_id: UserId,
    /// When.
    pub at: Timestamp,
}

/// The `system_shutdown` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownEvent {
    /// When the server began to stop.
    pub at: Timestamp,
    /// Clients should reconnect (to this or another node).
    pub reconnect: bool,
}

/// Any outgoing payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// `notification`.
    Notification(Notification),
    /// `ticket_updated`.
    TicketUpdated(TicketUpdated),
    /// `meter_reading`.
    MeterReading(MeterReading),
    /// `announcement`.
    Announcement(Announcement),
    /// `user_online` / `user_offline`.
    Presence(PresenceEvent),
    /// `system_shutdown`.
    Shutdown(ShutdownEvent),
    /// An application's own event.
    Custom(serde_json::Value),
}

/// One event to one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Who receives it.
    pub target: Target,
    /// The event name.
    pub event: EventName,
    /// The first (and only) argument.
    pub payload: Payload,
}

/// `sendNotification`: a notification to every socket of one user.
pub fn notify_user(
    user: UserId,
    input: &Input,
    id: String,
    now: Timestamp,
) -> Result<Delivery, ValidationErrors> {
    let n = payload::validate_notification(input, now)?;
    Ok(Delivery {
        target: Target::Room(Room::User(user)),
        event: EventName::fixed(names::NOTIFICATION),
        payload: Payload::Notification(n.into_notification(id, now)),
    })
}

/// `handleTicketUpdate`: an update to the ticket's watchers.
pub fn ticket_update(
    ticket: TicketId,
    input: &Input,
    now: Timestamp,
) -> Result<Delivery, ValidationErrors> {
    let change = payload::validate_ticket_update(input, now)?;
    Ok(Delivery {
        target: Target::Room(Room::Ticket(ticket.clone())),
        event: EventName::fixed(names::TICKET_UPDATED),
        payload: Payload::TicketUpdated(change.into_update(ticket, now)),
    })
}

/// `handleMeterReading`: a reading to the meter's watchers.
pub fn meter_reading(
    meter: MeterId,
    input: &Input,
    now: Timestamp,
) -> Result<Delivery, ValidationErrors> {
    let reading = payload::validate_meter_reading(input, now)?;
    Ok(Delivery {
        target: Target::Room(Room::Meter(meter.clone())),
        event: EventName::fixed(names::METER_READING),
        payload: Payload::MeterReading(reading.into_reading(meter)),
    })
}

/// `sendAnnouncement`: an announcement to everyone.
pub fn announcement(
    input: &Input,
    id: String,
    now: Timestamp,
) -> Result<Delivery, ValidationErrors> {
    let a = payload::validate_announcement(input, now)?;
    Ok(Delivery {
        target: Target::All,
        event: EventName::fixed(names::ANNOUNCEMENT),
        payload: Payload::Announcement(a.into_announcement(id, now)),
    })
}

/// Checks a custom event name: valid, and not one the server emits with its own payload.
pub fn custom_event_name(name: &str) -> Result<EventName, FieldError> {
    let event = EventName::parse(name)
        .map_err(|e| FieldError::new("event", ErrorCode::InvalidFormat, e.to_string()))?;
    if event.is_server_owned() {
        return Err(FieldError::new(
            "event",
            ErrorCode::InvalidFormat,
            format!("{name:?} is one of the server's own events and carries a fixed payload"),
        ));
    }
    Ok(event)
}

/// `emitToRoom` / `emitToAll`: reads `{ event, data }` and checks both.
pub fn custom_event(target: Target, body: &Input) -> Result<Delivery, ValidationErrors> {
    let mut r = ObjectReader::new(body, "the request body")?;
    let event = r.required("event").and_then(|v| {
        let s = r.string("event", v)?;
        custom_event_name(s).map_err(|e| r.errors.push(e)).ok()
    });
    // `data` may be any JSON value, null included, so it is read directly.
    let data = match r.get("data") {
        None => Some(serde_json::Value::Null),
        Some(v) => payload::validate_custom_data(v)
            .map_err(|e| r.errors.extend(e.0))
            .ok(),
    };
    r.finish()?;
    match (event, data) {
        (Some(event), Some(data)) => Ok(Delivery {
            target,
            event,
            payload: Payload::Custom(data),
        }),
        _ => unreachable_checked(),
    }
}

/// A presence change, as a delivery to `system_presence`.
pub fn presence(change: PresenceChange, now: Timestamp) -> Delivery {
    let (event, user_id) = match change {
        PresenceChange::Online(u) => (names::USER_ONLINE, u),
        PresenceChange::Offline(u) => (names::USER_OFFLINE, u),
    };
    Delivery {
        target: Target::Room(Room::presence()),
        event: EventName::fixed(event),
        payload: Payload::Presence(PresenceEvent { user_id, at: now }),
    }
}

/// The shutdown notice to everyone.
pub fn shutdown(now: Timestamp) -> Delivery {
    Delivery {
        target: Target::All,
        event: EventName::fixed(names::SYSTEM_SHUTDOWN),
        payload: Payload::Shutdown(ShutdownEvent {
            at: now,
            reconnect: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(0).unwrap()
    }
    fn input(s: &str) -> Input<'static> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn each_action_routes() {
        let d =
            ticket_update("T1".parse().unwrap(), &input(r#"{"status":"open"}"#), now()).unwrap();
        assert_eq!(
            (d.target.to_string(), d.event.as_str()),
            ("ticket_T1".into(), "ticket_updated")
        );
        let d = meter_reading(
            "M1".parse().unwrap(),
            &input(r#"{"reading":1,"timestamp":"1970-01-01T00:00:00Z","unit":"L"}"#),
            now(),
        )
        .unwrap();
        assert_eq!(
            (d.target.to_string(), d.event.as_str()),
            ("meter_M1".into(), "meter_reading")
        );
        let d = announcement(
            &input(r#"{"type":"info","message":"m"}"#),
            "a".into(),
            now(),
        )
        .unwrap();
        assert_eq!((d.target, d.event.as_str()), (Target::All, "announcement"));
        let d = presence(PresenceChange::Offline("u".parse().unwrap()), now());
        assert_eq!(
            (d.target.to_string(), d.event.as_str()),
            ("system_presence".into(), "user_offline")
        );
    }

    #[test]
    fn custom_events() {
        let d = custom_event(
            Target::All,
            &input(r#"{"event":"job_done","data":{"n":1}}"#),
        )
        .unwrap();
        assert_eq!(d.payload, Payload::Custom(serde_json::json!({"n":1})));
        let e = custom_event(
            Target::All,
            &input(r#"{"event":"notification","data":1,"x":2}"#),
        )
        .unwrap_err();
        assert_eq!(e.codes(), ["invalid_format", "unknown_field"]);
        let e = custom_event(Target::All, &input(r#"{"data":1}"#)).unwrap_err();
        assert_eq!(e.codes(), ["required"]);
        let e = custom_event(Target::All, &input(r#"{"event":"Bad"}"#)).unwrap_err();
        assert_eq!(e.iter().next().unwrap().path, "event");
    }
}
