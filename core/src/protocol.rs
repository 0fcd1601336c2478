//! The client → server side of the Socket.IO protocol: what `subscribe` / `unsubscribe` ask
//! for, whether to allow it, and the acknowledgement to send back. Also the `welcome` payload.

use std::fmt;

use serde::Serialize;

use crate::auth::RoomPattern;
use crate::code::ErrorCode;
use crate::ids::UserId;
use crate::input::Input;
use crate::room::{Room, RoomError};
use crate::time::Timestamp;
use crate::validate::{ObjectReader, ValidationErrors, unreachable_checked};

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

/// Reads `{ room: "<room>" }`. A payload of the wrong shape is `invalid_payload` (that wins
/// over a bad room beside it); a well-formed one naming no room is `invalid_room`. The message
/// lists every problem.
pub fn parse_room_request(payload: &Input) -> Result<Room, AckError> {
    let refuse = |e: ValidationErrors| {
        let code = if e.iter().all(|f| f.code == ErrorCode::InvalidRoom) {
            ErrorCode::InvalidRoom
        } else {
            ErrorCode::InvalidPayload
        };
        let message = e.iter().map(|f| f.message.as_str()).collect::<Vec<_>>();
        AckError::new(code, message.join("; "))
    };
    let mut r = ObjectReader::new(payload, "the payload { room }").map_err(refuse)?;
    let room = r.required("room").and_then(|v| {
        let s = r.string("room", v)?;
        s.parse::<Room>()
            .map_err(|e| r.error("room", RoomError::CODE, e.to_string()))
            .ok()
    });
    r.finish().map_err(refuse)?;
    room.ok_or_else(|| AckError::new(ErrorCode::InvalidPayload, "room is required"))
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

/// The demo's `POST /demo/token { userId, rooms? }`: whom to sign a token for, and the room
/// patterns to grant (absent or null: the caller's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `userId`, the token's `sub`.
    pub user: UserId,
    /// `rooms`, the token's `rooms` claim.
    pub rooms: Option<Vec<RoomPattern>>,
}

impl TokenRequest {
    /// Reads the request, reporting every error like the payload validators do.
    pub fn read(input: &Input) -> Result<Self, ValidationErrors> {
        let mut r = ObjectReader::new(input, "the body { userId, rooms? }")?;
        let user = r.required("userId").and_then(|v| {
            let s = r.string("userId", v)?;
            s.parse::<UserId>()
                .map_err(|e| r.error("userId", ErrorCode::InvalidId, e.to_string()))
                .ok()
        });
        let rooms = r.get("rooms").and_then(|v| {
            let Input::Array(items) = v else {
                r.error(
                    "rooms",
                    ErrorCode::Type,
                    format!(
                        "rooms must be an array of room patterns, got {}",
                        v.type_name()
                    ),
                );
                return None;
            };
            let mut patterns = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = format!("rooms[{i}]");
                match item {
                    Input::String(s) => match s.parse::<RoomPattern>() {
                        Ok(p) => patterns.push(p),
                        Err(e) => r.error(&path, ErrorCode::InvalidFormat, e.to_string()),
                    },
                    other => r.error(
                        &path,
                        ErrorCode::Type,
                        format!("each room pattern is a string, got {}", other.type_name()),
                    ),
                }
            }
            (patterns.len() == items.len()).then_some(patterns)
        });
        r.finish()?;
        match user {
            Some(user) => Ok(Self { user, rooms }),
            None => unreachable_checked(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(s: &str) -> Input {
        serde_json::from_str(s).unwrap()
    }
    #[test]
    fn token_requests_report_every_error() {
        let ok = TokenRequest::read(&input(r#"{"userId":"u1","rooms":["ticket_*"]}"#)).unwrap();
        assert_eq!(ok.user.as_str(), "u1");
        assert_eq!(ok.rooms.unwrap()[0].to_string(), "ticket_*");
        let none = TokenRequest::read(&input(r#"{"userId":"u1","rooms":null}"#)).unwrap();
        assert_eq!(none.rooms, None);
        let bad = TokenRequest::read(&input(r#"{"userId":"a b","rooms":["tick*",3],"x":1}"#))
            .unwrap_err();
        assert_eq!(
            bad.codes(),
            ["invalid_id", "invalid_format", "type", "unknown_field"]
        );
        assert_eq!(
            bad.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["userId", "rooms[0]", "rooms[1]", "x"]
        );
        assert_eq!(
            TokenRequest::read(&input("{}")).unwrap_err().codes(),
            ["required"]
        );
        assert_eq!(
            TokenRequest::read(&input("[]")).unwrap_err().codes(),
            ["type"]
        );
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
