//! The client → server side of the Socket.IO protocol: what `subscribe` / `unsubscribe` ask
//! for, whether to allow it, and the acknowledgement to send back. Also the `welcome` payload.

use std::fmt;

use serde::Serialize;

use crate::auth::RoomGrants;
use crate::code::ErrorCode;
use crate::ids::UserId;
use crate::input::Input;
use crate::room::Room;
use crate::time::Timestamp;

/// A coded refusal, `{ code, message }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AckError {
    /// Stable code (a code of [`Surface::Ack`](crate::Surface::Ack)).
    pub code: ErrorCode,
    /// For a person.
    pub message: String,
}

impl AckError {
    /// A new refusal.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The refusal for an event nobody handles.
    pub fn unknown_event(event: &str) -> Self {
        Self::new(
            ErrorCode::UnknownEvent,
            format!("the server does not handle event {event:?}"),
        )
    }
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

/// An acknowledgement: `{ ok: true, room? }` or `{ ok: false, error }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Whether the request was carried out.
    pub ok: bool,
    /// The room concerned, on success of subscribe/unsubscribe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<Room>,
    /// Why not, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AckError>,
}

impl Ack {
    /// `{ ok: true }`.
    pub fn ok() -> Self {
        Self {
            ok: true,
            room: None,
            error: None,
        }
    }
    /// `{ ok: true, room }`.
    pub fn ok_room(room: Room) -> Self {
        Self {
            ok: true,
            room: Some(room),
            error: None,
        }
    }
    /// `{ ok: false, error }`.
    pub fn err(error: AckError) -> Self {
        Self {
            ok: false,
            room: None,
            error: Some(error),
        }
    }
}

impl From<Result<Room, AckError>> for Ack {
    fn from(r: Result<Room, AckError>) -> Self {
        match r {
            Ok(room) => Ack::ok_room(room),
            Err(e) => Ack::err(e),
        }
    }
}

/// Reads `{ room: "<room>" }`.
pub fn parse_room_request(payload: &Input) -> Result<Room, AckError> {
    let Input::Object(fields) = payload else {
        return Err(AckError::new(
            ErrorCode::InvalidPayload,
            "the payload must be an object { room }",
        ));
    };
    if let Some(extra) = fields.keys().find(|k| k.as_str() != "room") {
        return Err(AckError::new(
            ErrorCode::InvalidPayload,
            format!("unknown field {extra:?}; the payload is {{ room }}"),
        ));
    }
    match fields.get("room") {
        Some(Input::String(s)) => s.parse().map_err(|e: crate::room::RoomError| {
            AckError::new(ErrorCode::InvalidRoom, e.to_string())
        }),
        Some(other) => Err(AckError::new(
            ErrorCode::InvalidPayload,
            format!("room must be a string, got {}", other.type_name()),
        )),
        None => Err(AckError::new(ErrorCode::InvalidPayload, "room is required")),
    }
}

/// What a socket currently has, as far as subscription rules care.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionState {
    /// Whether the socket is already in the requested room.
    pub already_in: bool,
    /// Rooms the socket has joined by subscribing (its own user room does not count).
    pub subscriptions: usize,
    /// The most subscriptions a socket may hold.
    pub max_subscriptions: usize,
}

/// Decides a `subscribe`: the room to join, or the refusal. Subscribing twice is not an error.
pub fn decide_subscribe(
    grants: &RoomGrants,
    payload: &Input,
    state: impl FnOnce(&Room) -> SubscriptionState,
) -> Result<Room, AckError> {
    let room = parse_room_request(payload)?;
    if !grants.allows(&room) {
        return Err(AckError::new(
            ErrorCode::Forbidden,
            format!("your token grants no access to {room}"),
        ));
    }
    let s = state(&room);
    let is_own = room.is_user_room_of(grants.user());
    if !s.already_in && !is_own && s.subscriptions >= s.max_subscriptions {
        return Err(AckError::new(
            ErrorCode::LimitExceeded,
            format!(
                "a socket may hold at most {} subscriptions",
                s.max_subscriptions
            ),
        ));
    }
    Ok(room)
}

/// Decides an `unsubscribe`: the room to leave, or the refusal. A socket's own user room
/// cannot be left, since that is where the user's notifications go.
pub fn decide_unsubscribe(user: &UserId, payload: &Input) -> Result<Room, AckError> {
    let room = parse_room_request(payload)?;
    check_leave(user, &room)?;
    Ok(room)
}

/// Whether a socket of `user` may leave `room`, whoever asks (the client or the backend).
pub fn check_leave(user: &UserId, room: &Room) -> Result<(), AckError> {
    if room.is_user_room_of(user) {
        return Err(AckError::new(
            ErrorCode::Forbidden,
            format!("{room} is this socket's own room and cannot be left"),
        ));
    }
    Ok(())
}

/// The `welcome` event's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    /// This socket's id.
    pub socket_id: String,
    /// The authenticated user.
    pub user_id: UserId,
    /// The server's time, for clock-skew checks.
    pub server_time: Timestamp,
    /// The rooms the socket is in.
    pub rooms: Vec<Room>,
}

impl Welcome {
    /// The welcome for a fresh socket: it is in its user room only.
    pub fn new(socket_id: String, user_id: UserId, now: Timestamp) -> Self {
        let rooms = vec![Room::User(user_id.clone())];
        Self {
            socket_id,
            user_id,
            server_time: now,
            rooms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(s: &str) -> Input {
        serde_json::from_str(s).unwrap()
    }
    fn grants() -> RoomGrants {
        RoomGrants::parse("u1".parse().unwrap(), ["ticket_*"]).unwrap()
    }
    fn state(n: usize) -> impl FnOnce(&Room) -> SubscriptionState {
        move |_| SubscriptionState {
            already_in: false,
            subscriptions: n,
            max_subscriptions: 2,
        }
    }
    fn code(r: Result<Room, AckError>) -> &'static str {
        r.unwrap_err().code.as_str()
    }

    #[test]
    fn subscribe_decisions() {
        assert_eq!(
            decide_subscribe(&grants(), &input(r#"{"room":"ticket_1"}"#), state(1))
                .unwrap()
                .to_string(),
            "ticket_1"
        );
        assert_eq!(
            code(decide_subscribe(
                &grants(),
                &input(r#"{"room":"ticket_1"}"#),
                state(2)
            )),
            "limit_exceeded"
        );
        assert_eq!(
            code(decide_subscribe(
                &grants(),
                &input(r#"{"room":"meter_1"}"#),
                state(0)
            )),
            "forbidden"
        );
        assert_eq!(
            code(decide_subscribe(
                &grants(),
                &input(r#"{"room":"nope"}"#),
                state(0)
            )),
            "invalid_room"
        );
        assert_eq!(
            code(decide_subscribe(
                &grants(),
                &input(r#"{"room":5}"#),
                state(0)
            )),
            "invalid_payload"
        );
        assert_eq!(
            code(decide_subscribe(
                &grants(),
                &input(r#""ticket_1""#),
                state(0)
            )),
            "invalid_payload"
        );
        assert_eq!(
            code(decide_subscribe(
                &grants(),
                &input(r#"{"room":"ticket_1","x":1}"#),
                state(0)
            )),
            "invalid_payload"
        );
        // own room and rooms already joined do not count against the limit
        assert!(decide_subscribe(&grants(), &input(r#"{"room":"user_u1"}"#), state(2)).is_ok());
        let joined = |_: &Room| SubscriptionState {
            already_in: true,
            subscriptions: 2,
            max_subscriptions: 2,
        };
        assert!(decide_subscribe(&grants(), &input(r#"{"room":"ticket_1"}"#), joined).is_ok());
    }

    #[test]
    fn unsubscribe_decisions() {
        let u: UserId = "u1".parse().unwrap();
        assert_eq!(
            code(decide_unsubscribe(&u, &input(r#"{"room":"user_u1"}"#))),
            "forbidden"
        );
        assert!(decide_unsubscribe(&u, &input(r#"{"room":"user_u2"}"#)).is_ok());
    }

    #[test]
    fn ack_shapes() {
        let ok = serde_json::to_value(Ack::ok_room("ticket_1".parse().unwrap())).unwrap();
        assert_eq!(ok, serde_json::json!({"ok":true,"room":"ticket_1"}));
        let err = serde_json::to_value(Ack::err(AckError::unknown_event("x"))).unwrap();
        assert_eq!(err["ok"], false);
        assert_eq!(err["error"]["code"], "unknown_event");
    }
}
