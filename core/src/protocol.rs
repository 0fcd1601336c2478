//! The client → server side of the Socket.IO protocol: what `subscribe` / `unsubscribe` ask
//! for, whether to allow it, and the acknowledgement to send back (with a stream's position, or
//! the presence snapshot), what `refresh` carries and its acknowledgement. Also the `welcome` and
//! `session_expired` payloads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::auth::RoomPattern;
use crate::code::ErrorCode;
use crate::ids::UserId;
use crate::input::{Input, join};
use crate::room::{Room, RoomError};
use crate::stream::{NotRecovered, Replay, Retained, StreamName, StreamPosition, recover};
use crate::time::Timestamp;
use crate::validate::{FieldError, ObjectReader, ValidationErrors, unreachable_checked};

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

/// An acknowledgement: `{ ok: true, room?, recovered?, epoch?, offset?, online?, count?,
/// truncated?, exp?, left? }` or `{ ok: false, error }`. Fields that are not set are not
/// written, so an ack without a stream or a snapshot is exactly `{ ok: true, room }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// Whether the request was carried out.
    pub ok: bool,
    /// The room concerned, on success of subscribe/unsubscribe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<Room>,
    /// Whether the `since` of the request was recovered; only when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    /// The room's stream's epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The offset of the stream's last event delivered before this ack (the top when nothing
    /// was missed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// `system_presence`: the online users, sorted, at most [`PRESENCE_SNAPSHOT_MAX`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<Vec<UserId>>,
    /// `system_presence`: how many users are online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `system_presence`: `true` when `online` does not list them all; otherwise absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// `refresh`: the new token's `exp`, when the socket will now be disconnected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<Timestamp>,
    /// `refresh`: the rooms left because the new token no longer grants them, sorted; `[]`
    /// when none were, so a client can always read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Vec<Room>>,
    /// Why not, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AckError>,
}

impl Ack {
    fn new(ok: bool, room: Option<Room>, error: Option<AckError>) -> Self {
        Self {
            ok,
            room,
            recovered: None,
            epoch: None,
            offset: None,
            online: None,
            count: None,
            truncated: None,
            exp: None,
            left: None,
            error,
        }
    }

    /// `{ ok: true }`.
    pub fn ok() -> Self {
        Self::new(true, None, None)
    }
    /// `{ ok: true, room }`.
    pub fn ok_room(room: Room) -> Self {
        Self::new(true, Some(room), None)
    }
    /// `{ ok: false, error }`.
    pub fn err(error: AckError) -> Self {
        Self::new(false, None, Some(error))
    }

    /// `{ ok: true, exp, left }`: the answer to an accepted `refresh` (`left` sorted, as
    /// [`Subscriptions::refresh`](crate::Subscriptions::refresh) returns it).
    pub fn refreshed(exp: Timestamp, left: Vec<Room>) -> Self {
        let mut ack = Self::ok();
        ack.exp = Some(exp);
        ack.left = Some(left);
        ack
    }

    /// Adds the room's stream position (and `recovered`, when the request had a `since`).
    pub fn with_stream(mut self, status: StreamStatus) -> Self {
        self.epoch = Some(status.epoch);
        self.offset = Some(status.offset);
        self.recovered = status.recovered;
        self
    }

    /// Adds the presence snapshot (the ack of `subscribe { room: "system_presence" }`).
    pub fn with_presence(mut self, snapshot: PresenceSnapshot) -> Self {
        self.online = Some(snapshot.online);
        self.count = Some(snapshot.count);
        self.truncated = snapshot.truncated.then_some(true);
        self
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

/// Where a stream stands for one socket, `{ epoch, offset, recovered? }`: the stream fields of
/// a subscribe ack, and one entry of `welcome.streams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamStatus {
    /// The stream's epoch.
    pub epoch: String,
    /// The last offset delivered to the socket before the answer (the top if none was missed).
    pub offset: u64,
    /// Whether the client's `since` was recovered; absent when it gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
}

impl StreamStatus {
    /// The answer to a request without `since`: where the stream is.
    pub fn at(position: StreamPosition) -> Self {
        Self {
            epoch: position.epoch,
            offset: position.offset,
            recovered: None,
        }
    }

    /// The answer to a request with a `since`: where the socket now is, and whether what it
    /// missed was delivered.
    pub fn recovered(position: StreamPosition, recovered: bool) -> Self {
        Self {
            recovered: Some(recovered),
            ..Self::at(position)
        }
    }
}

/// What a socket gets for a stream it (re)joins: nothing to replay, the missed events, or
/// nothing with the reason it could not recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// No `since`: live events from the top on.
    Live,
    /// These events first, then live ones.
    Replay(Replay),
    /// Nothing replayed; live events from the top on, and the application refetches.
    NotRecovered(NotRecovered),
}

impl StreamStatus {
    /// The whole answer for a stream that retains `retained`, to a socket that asks from
    /// `since` (or from nowhere): its status for the ack or `welcome.streams`, and what to
    /// deliver before it. The position is the top whatever happens, since after a replay the
    /// socket has everything up to it, and after a refusal it starts there.
    pub fn answer(
        retained: &Retained<'_>,
        since: Option<&StreamPosition>,
        max_events: u64,
    ) -> (Self, Resume) {
        let top = retained.top_position();
        match since {
            None => (Self::at(top), Resume::Live),
            Some(since) => match recover(retained, since, max_events) {
                Ok(replay) => (Self::recovered(top, true), Resume::Replay(replay)),
                Err(why) => (Self::recovered(top, false), Resume::NotRecovered(why)),
            },
        }
    }
}

/// The most users a presence snapshot lists.
pub const PRESENCE_SNAPSHOT_MAX: usize = 1000;

/// Who is online, for the `system_presence` ack: `online` sorted and at most
/// [`PRESENCE_SNAPSHOT_MAX`] long, `count` of them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSnapshot {
    /// The first users in sort order.
    pub online: Vec<UserId>,
    /// How many users are online.
    pub count: u64,
    /// Whether `online` leaves some out.
    pub truncated: bool,
}

impl PresenceSnapshot {
    /// The snapshot of `users` (in any order; repeats count once).
    pub fn new(users: impl IntoIterator<Item = UserId>) -> Self {
        let all: BTreeSet<UserId> = users.into_iter().collect();
        let count = all.len();
        Self {
            online: all.into_iter().take(PRESENCE_SNAPSHOT_MAX).collect(),
            count: u64::try_from(count).unwrap_or(u64::MAX),
            truncated: count > PRESENCE_SNAPSHOT_MAX,
        }
    }
}

/// Reads `{ room: "<room>" }`. A payload of the wrong shape is `invalid_payload` (that wins
/// over a bad room beside it); a well-formed one naming no room is `invalid_room`. The message
/// lists every problem.
pub fn parse_room_request(payload: &Input) -> Result<Room, AckError> {
    read_room_request(payload, false).map(|r| r.room)
}

/// A `subscribe` request: the room, and where the client was in its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The room to join.
    pub room: Room,
    /// `since`, when given. Always `None` for `system_presence`, which has no stream.
    pub since: Option<StreamPosition>,
}

/// Reads `{ room, since?: { epoch, offset } }` by the rules of [`parse_room_request`]; a
/// malformed `since` (see [`StreamPosition::read`]) is `invalid_payload` too, whatever the
/// room, and a null one is absent. A `since` for `system_presence` is ignored, malformed or not.
pub fn parse_subscribe_request(payload: &Input) -> Result<SubscribeRequest, AckError> {
    read_room_request(payload, true)
}

fn read_room_request(payload: &Input, with_since: bool) -> Result<SubscribeRequest, AckError> {
    let refuse = |e: ValidationErrors| {
        let code = if e.iter().all(|f| f.code == ErrorCode::InvalidRoom) {
            ErrorCode::InvalidRoom
        } else {
            ErrorCode::InvalidPayload
        };
        let message = e.iter().map(|f| f.message.as_str()).collect::<Vec<_>>();
        AckError::new(code, message.join("; "))
    };
    let what = if with_since {
        "the payload { room, since? }"
    } else {
        "the payload { room }"
    };
    let mut r = ObjectReader::new(payload, what).map_err(refuse)?;
    let room = r.required("room").and_then(|v| {
        let s = r.string("room", v)?;
        s.parse::<Room>()
            .map_err(|e| r.error("room", RoomError::CODE, e.to_string()))
            .ok()
    });
    // Without `with_since` the field is never asked for, so `finish` refuses it as unknown.
    // `system_presence` has no stream: a `since` there is ignored, well-formed or not.
    let presence = room.as_ref().is_some_and(Room::is_presence);
    let since = with_since.then(|| r.get("since")).flatten().and_then(|v| {
        if presence {
            return None;
        }
        StreamPosition::read(v)
            .map_err(|e| r.errors.extend(e.0.into_iter().map(|f| nested("since", f))))
            .ok()
    });
    r.finish().map_err(refuse)?;
    let room = room.ok_or_else(|| AckError::new(ErrorCode::InvalidPayload, "room is required"))?;
    Ok(SubscribeRequest { room, since })
}

/// A `refresh` request: the new token, not yet verified (that is the host's, with its keys).
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshRequest {
    /// The JWT as sent.
    pub token: String,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A token is a credential: it stays out of logs and panic messages.
        f.debug_struct("RefreshRequest")
            .field("token", &format_args!("<{} bytes>", self.token.len()))
            .finish()
    }
}

/// Reads `{ token: "<jwt>" }`. Anything else (not an object, no token, a token that is not a
/// string, another field) is `invalid_payload`, with every problem in the message; whether the
/// token is valid is for the host to say (`unauthorized`).
pub fn parse_refresh_request(payload: &Input) -> Result<RefreshRequest, AckError> {
    let refuse = |e: ValidationErrors| {
        let message = e.iter().map(|f| f.message.as_str()).collect::<Vec<_>>();
        AckError::new(ErrorCode::InvalidPayload, message.join("; "))
    };
    let mut r = ObjectReader::new(payload, "the payload { token }").map_err(refuse)?;
    let token = r
        .required("token")
        .and_then(|v| r.string("token", v).map(str::to_owned));
    r.finish().map_err(refuse)?;
    token
        .map(|token| RefreshRequest { token })
        .ok_or_else(|| AckError::new(ErrorCode::InvalidPayload, "token is required"))
}

/// The `session_expired` event's payload: the socket's token expired at `at` (its `exp`) and
/// no `refresh` came before; the socket is disconnected right after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionExpired {
    /// The token's `exp`.
    pub at: Timestamp,
}

/// An error of a nested object, at its path from the payload's top. The ack's message carries
/// no paths, so the message says where too.
fn nested(prefix: &str, e: FieldError) -> FieldError {
    let path = if e.path.is_empty() {
        prefix.to_owned()
    } else {
        join(prefix, &e.path)
    };
    FieldError {
        message: format!("{path}: {}", e.message),
        path,
        code: e.code,
    }
}

/// The `system_slow_consumer` event's payload: the socket is about to be disconnected because
/// `limit` events were already waiting for it; it reconnects and recovers by position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlowConsumer {
    /// When.
    pub at: Timestamp,
    /// The socket's queue length (`--socket-buffer-events`).
    pub limit: usize,
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
    /// Where the own user room's stream and `broadcast` stand for this socket.
    pub streams: BTreeMap<StreamName, StreamStatus>,
}

impl Welcome {
    /// The welcome for a fresh socket: it is in its user room only.
    pub fn new(
        socket_id: String,
        user_id: UserId,
        now: Timestamp,
        streams: BTreeMap<StreamName, StreamStatus>,
    ) -> Self {
        let rooms = vec![Room::User(user_id.clone())];
        Self {
            socket_id,
            user_id,
            server_time: now,
            rooms,
            streams,
        }
    }
}

/// The demo's `POST /demo/token { userId, rooms?, ttlSeconds? }`: whom to sign a token for,
/// the room patterns to grant and how long the token lives (absent or null: the caller's
/// defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `userId`, the token's `sub`.
    pub user: UserId,
    /// `rooms`, the token's `rooms` claim.
    pub rooms: Option<Vec<RoomPattern>>,
    /// `ttlSeconds`, from now to the token's `exp`: 1 to [`TokenRequest::MAX_TTL_SECS`]. Short
    /// ones let a page (or a test) watch its token being refreshed.
    pub ttl_secs: Option<u32>,
}

impl TokenRequest {
    /// The longest `ttlSeconds` (12 hours).
    pub const MAX_TTL_SECS: u32 = 12 * 3600;

    /// Reads the request, reporting every error like the payload validators do.
    pub fn read(input: &Input) -> Result<Self, ValidationErrors> {
        let mut r = ObjectReader::new(input, "the body { userId, rooms?, ttlSeconds? }")?;
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
        let max = Self::MAX_TTL_SECS;
        let ttl_secs = r.get("ttlSeconds").and_then(|v| {
            let ttl = match v {
                Input::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                _ => None,
            };
            let ttl = ttl.filter(|t| (1..=max).contains(t));
            if ttl.is_none() {
                let code = match v {
                    Input::NonFinite(_) => ErrorCode::NotFinite,
                    _ => ErrorCode::Type,
                };
                r.error(
                    "ttlSeconds",
                    code,
                    format!("ttlSeconds must be a whole number of seconds from 1 to {max}"),
                );
            }
            ttl
        });
        r.finish()?;
        match user {
            Some(user) => Ok(Self {
                user,
                rooms,
                ttl_secs,
            }),
            None => unreachable_checked(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(s: &str) -> Input<'static> {
        serde_json::from_str(s).unwrap()
    }
    #[test]
    fn token_requests_report_every_error() {
        let ok = TokenRequest::read(&input(r#"{"userId":"u1","rooms":["ticket_*"]}"#)).unwrap();
        assert_eq!(ok.user.as_str(), "u1");
        assert_eq!(ok.rooms.unwrap()[0].to_string(), "ticket_*");
        let none = TokenRequest::read(&input(r#"{"userId":"u1","rooms":null}"#)).unwrap();
        assert_eq!((none.rooms, none.ttl_secs), (None, None));
        let ttl =
            |v: &str| TokenRequest::read(&input(&format!(r#"{{"userId":"u1","ttlSeconds":{v}}}"#)));
        assert_eq!(ttl("1").unwrap().ttl_secs, Some(1));
        assert_eq!(
            ttl("43200").unwrap().ttl_secs,
            Some(TokenRequest::MAX_TTL_SECS)
        );
        assert_eq!(ttl("null").unwrap().ttl_secs, None);
        for bad in ["0", "43201", "-1", "1.5", "\"5\"", "4294967297"] {
            assert_eq!(ttl(bad).unwrap_err().codes(), ["type"], "{bad}");
        }
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
    fn acks_without_the_new_fields_are_unchanged() {
        let room = || "ticket_1".parse::<Room>().unwrap();
        assert_eq!(
            serde_json::to_string(&Ack::ok_room(room())).unwrap(),
            r#"{"ok":true,"room":"ticket_1"}"#
        );
        assert_eq!(serde_json::to_string(&Ack::ok()).unwrap(), r#"{"ok":true}"#);
        assert_eq!(
            serde_json::to_string(&Ack::err(AckError::new(ErrorCode::Forbidden, "no"))).unwrap(),
            r#"{"ok":false,"error":{"code":"forbidden","message":"no"}}"#
        );
        assert_eq!(Ack::from(Ok(room())), Ack::ok_room(room()));
    }

    #[test]
    fn acks_with_a_stream_position() {
        let room = || "ticket_1".parse::<Room>().unwrap();
        let at = || StreamPosition::new("e1", 3);
        assert_eq!(
            serde_json::to_string(&Ack::ok_room(room()).with_stream(StreamStatus::at(at())))
                .unwrap(),
            r#"{"ok":true,"room":"ticket_1","epoch":"e1","offset":3}"#
        );
        for recovered in [true, false] {
            let ack = Ack::ok_room(room()).with_stream(StreamStatus::recovered(at(), recovered));
            assert_eq!(
                serde_json::to_string(&ack).unwrap(),
                format!(
                    r#"{{"ok":true,"room":"ticket_1","recovered":{recovered},"epoch":"e1","offset":3}}"#
                )
            );
        }
        assert_eq!(
            serde_json::to_string(&StreamStatus::at(at())).unwrap(),
            r#"{"epoch":"e1","offset":3}"#
        );
        assert_eq!(
            serde_json::to_string(&StreamStatus::recovered(at(), true)).unwrap(),
            r#"{"epoch":"e1","offset":3,"recovered":true}"#
        );
    }

    #[test]
    fn presence_snapshots() {
        let users = ["b", "a", "b"].map(|u| u.parse::<UserId>().unwrap());
        let ack = Ack::ok_room(Room::presence()).with_presence(PresenceSnapshot::new(users));
        assert_eq!(
            serde_json::to_string(&ack).unwrap(),
            r#"{"ok":true,"room":"system_presence","online":["a","b"],"count":2}"#
        );
        let many =
            (0..=PRESENCE_SNAPSHOT_MAX).map(|i| format!("u{i:05}").parse::<UserId>().unwrap());
        let snapshot = PresenceSnapshot::new(many.rev());
        assert_eq!(snapshot.online.len(), PRESENCE_SNAPSHOT_MAX);
        assert_eq!(
            snapshot.online[0].as_str(),
            "u00000",
            "sorted, the first kept"
        );
        assert_eq!((snapshot.count, snapshot.truncated), (1001, true));
        let json =
            serde_json::to_value(Ack::ok_room(Room::presence()).with_presence(snapshot)).unwrap();
        assert_eq!(
            (json["count"].clone(), json["truncated"].clone()),
            (1001.into(), true.into())
        );
        let exactly =
            (0..PRESENCE_SNAPSHOT_MAX).map(|i| format!("u{i}").parse::<UserId>().unwrap());
        let snapshot = PresenceSnapshot::new(exactly);
        assert_eq!((snapshot.count, snapshot.truncated), (1000, false));
        assert_eq!(PresenceSnapshot::new([]).online, Vec::<UserId>::new());
    }

    #[test]
    fn subscribe_requests_with_since() {
        let read = |s: &str| parse_subscribe_request(&input(s));
        let code = |s: &str| read(s).unwrap_err().code.as_str();
        let ok = read(r#"{"room":"ticket_1","since":{"epoch":"e","offset":4}}"#).unwrap();
        assert_eq!(ok.room.to_string(), "ticket_1");
        assert_eq!(ok.since, Some(StreamPosition::new("e", 4)));
        assert_eq!(read(r#"{"room":"ticket_1"}"#).unwrap().since, None);
        assert_eq!(
            read(r#"{"room":"ticket_1","since":null}"#).unwrap().since,
            None
        );
        let presence = read(r#"{"room":"system_presence","since":{"epoch":"e","offset":4}}"#);
        assert_eq!(presence.unwrap().since, None, "no stream, ignored");
        // Contract section 8: "a `since` there is ignored", a malformed one too.
        for ignored in [
            r#"{"offset":1}"#,
            r#""e:4""#,
            "[]",
            r#"{"epoch":"","offset":-1}"#,
        ] {
            let p = read(&format!(
                r#"{{"room":"system_presence","since":{ignored}}}"#
            ));
            assert_eq!(p.expect(ignored).since, None, "{ignored}");
        }

        for bad in [
            r#"{"room":"ticket_1","since":{"epoch":"e","offset":-1}}"#,
            r#"{"room":"ticket_1","since":{"epoch":"e"}}"#,
            r#"{"room":"ticket_1","since":"e:4"}"#,
            r#"{"room":"ticket_1","since":{"epoch":"e","offset":1,"x":1}}"#,
            r#"{"room":"nope","since":{"epoch":"","offset":1}}"#,
        ] {
            assert_eq!(code(bad), "invalid_payload", "{bad}");
        }
        assert_eq!(
            code(r#"{"room":"nope","since":{"epoch":"e","offset":1}}"#),
            "invalid_room"
        );
        let e = read(r#"{"room":"ticket_1","since":{"epoch":"","offset":0.5}}"#).unwrap_err();
        assert!(
            e.message.contains("since.epoch: ") && e.message.contains("since.offset: "),
            "{}",
            e.message
        );
        let e = read(r#"{"room":"ticket_1","since":[]}"#).unwrap_err();
        assert!(e.message.starts_with("since: "), "{}", e.message);
    }

    #[test]
    fn room_requests_are_unchanged_by_since() {
        // `unsubscribe` reads `{ room }` only.
        assert_eq!(
            parse_room_request(&input(
                r#"{"room":"ticket_1","since":{"epoch":"e","offset":1}}"#
            ))
            .unwrap_err()
            .code,
            ErrorCode::InvalidPayload
        );
        for payload in [
            r#"{"room":"ticket_1"}"#,
            r#"{"room":"nope"}"#,
            r#"{"room":5}"#,
            r#"{}"#,
            r#"{"room":"ticket_1","x":1}"#,
            r#"{"room":"nope","x":1}"#,
            r#"null"#,
        ] {
            let old = parse_room_request(&input(payload));
            let new = parse_subscribe_request(&input(payload));
            match (old, new) {
                (Ok(room), Ok(request)) => assert_eq!((room, None), (request.room, request.since)),
                (Err(a), Err(b)) => assert_eq!(a.code, b.code, "{payload}"),
                (a, b) => panic!("{payload}: {a:?} vs {b:?}"),
            }
        }
    }

    #[test]
    fn refresh_requests() {
        let read = |s: &str| parse_refresh_request(&input(s));
        assert_eq!(read(r#"{"token":"a.b.c"}"#).unwrap().token, "a.b.c");
        assert_eq!(
            read(r#"{"token":""}"#).unwrap().token,
            "",
            "an empty token is a bad token (unauthorized), not a bad payload"
        );
        for bad in [
            "null",
            r#""a.b.c""#,
            "[]",
            "{}",
            r#"{"token":null}"#,
            r#"{"token":5}"#,
            r#"{"token":["a.b.c"]}"#,
            r#"{"token":"a.b.c","room":"ticket_1"}"#,
        ] {
            assert_eq!(
                read(bad).unwrap_err().code,
                ErrorCode::InvalidPayload,
                "{bad}"
            );
        }
        let e = read(r#"{"token":5,"x":1}"#).unwrap_err();
        assert!(
            e.message.contains("token must be a string") && e.message.contains('x'),
            "{}",
            e.message
        );
        let secret = format!("{:?}", read(r#"{"token":"s3cret.jwt.sig"}"#).unwrap());
        assert!(!secret.contains("s3cret"), "{secret}");
    }

    #[test]
    fn refresh_acks_and_session_expired() {
        let exp = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
        assert_eq!(
            serde_json::to_string(&Ack::refreshed(exp, vec![])).unwrap(),
            r#"{"ok":true,"exp":"2023-11-14T22:13:20.000Z","left":[]}"#
        );
        let left = ["meter_1", "ticket_2"].map(|r| r.parse::<Room>().unwrap());
        assert_eq!(
            serde_json::to_value(Ack::refreshed(exp, left.to_vec())).unwrap()["left"],
            serde_json::json!(["meter_1", "ticket_2"])
        );
        assert_eq!(
            serde_json::to_string(&SessionExpired { at: exp }).unwrap(),
            r#"{"at":"2023-11-14T22:13:20.000Z"}"#
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
