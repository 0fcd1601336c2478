//! Streams and recovery (contract section 8, "nothing lost"): which deliveries are kept in a
//! stream, an event's position, and whether a client that was away can get back what it missed.
//!
//! # The rules
//!
//! - **Streams.** One per room of kind user, ticket, meter and system, except
//!   `system_presence`, plus [`StreamName::Broadcast`] for everything sent to everyone.
//!   Presence events, `welcome` and `system_shutdown` are never in a stream, wherever they go
//!   ([`Delivery::stream`] answers both questions at once).
//! - **Positions.** A [`StreamPosition`] is `{ epoch, offset }`. Offsets count 1, 2, 3… within
//!   one epoch (a new stream's top is 0); offsets of two epochs are never compared.
//! - **Recovery** ([`recover`]) is all or nothing. A client's `since` is recovered only if
//!   1. its epoch is the stream's ([`NotRecovered::WrongEpoch`]),
//!   2. it is not ahead of the top ([`NotRecovered::Ahead`]),
//!   3. every event after it is still retained ([`NotRecovered::Trimmed`]),
//!   4. and there are at most `max_events` of them ([`NotRecovered::TooMany`]).
//!
//!   The checks run in that order and the first that fails is the reason. Nothing missed
//!   (`since` is the top) is a recovery with nothing to replay, even if the history is empty.
//! - **Input bounds.** An epoch read from a client is 1 to [`MAX_EPOCH_CHARS`] characters; an
//!   offset is an integer from 0 (or 1 in a [`Meta`]) to [`MAX_OFFSET`], the largest integer a
//!   JavaScript number holds exactly.
//!
//! The client's side, which drops duplicates and notices gaps, is
//! [`StreamTracker`](crate::tracker::StreamTracker).
//!
//! ```
//! use switchyard_core::stream::{NotRecovered, Retained, StreamPosition, recover};
//!
//! // The stream still holds events 11..=20 of its epoch "e7".
//! let retained = Retained::new("e7", 11, 20);
//! let replay = recover(&retained, &StreamPosition::new("e7", 15), 1000).unwrap();
//! assert_eq!(replay.offsets().collect::<Vec<_>>(), [16, 17, 18, 19, 20]);
//!
//! let gone = recover(&retained, &StreamPosition::new("e7", 3), 1000);
//! assert_eq!(gone.map_err(NotRecovered::as_str), Err("trimmed"));
//! // Either way, the ack answers the top.
//! assert_eq!(retained.top_position(), StreamPosition::new("e7", 20));
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::code::ErrorCode;
use crate::event::names;
use crate::ids::UserId;
use crate::input::Input;
use crate::room::Room;
use crate::routing::{Delivery, Target};
use crate::validate::{ObjectReader, ValidationErrors, unreachable_checked};

/// The longest epoch a client may send back, in characters. The host's epochs must fit (a
/// UUID's 36 do); the bound only keeps a client from handing the server a large string to
/// compare and log.
pub const MAX_EPOCH_CHARS: usize = 64;

/// The largest offset read from input: 2^53 − 1, `Number.MAX_SAFE_INTEGER`. Browsers hold
/// offsets as JavaScript numbers, so a larger one cannot have come from a real event; refusing
/// it means two distinct offsets can never look equal on the client.
pub const MAX_OFFSET: u64 = (1 << 53) - 1;

/// The default of `--recovery-max-events`.
pub const DEFAULT_RECOVERY_MAX_EVENTS: u64 = 1000;

/// Events that never enter a stream: presence is a snapshot of now (the `system_presence`
/// ack carries it), `welcome` is per socket, and `system_shutdown` concerns only the sockets
/// of the node that is stopping, like `system_slow_consumer` only the socket it goes to.
pub const UNSTREAMED_EVENTS: [&str; 5] = [
    names::WELCOME,
    names::USER_ONLINE,
    names::USER_OFFLINE,
    names::SYSTEM_SHUTDOWN,
    names::SYSTEM_SLOW_CONSUMER,
];

/// Whether an event of this name is appended to its target's stream (when the target has one).
pub fn is_streamed_event(event: &str) -> bool {
    !UNSTREAMED_EVENTS.contains(&event)
}

// -------------------------------------------------------------------------------------------
// Names

/// A stream: a room's (`ticket_42`) or `broadcast`. On the wire it is that string.
///
/// `system_presence` is not a stream: [`StreamName::of_room`] answers `None` for it and parsing
/// refuses it, so no value of this type names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamName {
    /// `"broadcast"`: every event sent to everyone (`announcement`, `emitToAll`).
    Broadcast,
    /// A room's stream; never `system_presence`.
    Room(Room),
}

/// Why a string is not a stream name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a stream: {reason}")]
pub struct StreamNameError {
    /// The rejected input.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl StreamName {
    /// The broadcast stream's name. No room can be called this: every room name has a prefix.
    pub const BROADCAST: &'static str = "broadcast";

    /// The stream of `room`: `None` for `system_presence`.
    pub fn of_room(room: &Room) -> Option<StreamName> {
        (!room.is_presence()).then(|| StreamName::Room(room.clone()))
    }

    /// The stream a delivery to `target` is appended to: the room's, or `broadcast` for
    /// everyone. Whether the event itself is streamed is [`Delivery::stream`]'s question.
    pub fn of_target(target: &Target) -> Option<StreamName> {
        match target {
            Target::Room(room) => Self::of_room(room),
            Target::All => Some(StreamName::Broadcast),
        }
    }

    /// The room, for a room's stream.
    pub fn room(&self) -> Option<&Room> {
        match self {
            StreamName::Room(room) => Some(room),
            StreamName::Broadcast => None,
        }
    }
}

impl FromStr for StreamName {
    type Err = StreamNameError;

    fn from_str(s: &str) -> Result<Self, StreamNameError> {
        let err = |reason: String| StreamNameError {
            value: s.to_owned(),
            reason,
        };
        if s == Self::BROADCAST {
            return Ok(StreamName::Broadcast);
        }
        let room: Room = s
            .parse()
            .map_err(|_| err("a stream is \"broadcast\" or a room's name".to_owned()))?;
        Self::of_room(&room).ok_or_else(|| err(format!("{room} has no stream")))
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamName::Broadcast => f.write_str(Self::BROADCAST),
            StreamName::Room(room) => room.fmt(f),
        }
    }
}

impl Serialize for StreamName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StreamName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Delivery {
    /// The stream this delivery is appended to before it is emitted, or `None` when it is not
    /// streamed at all: its event is one of [`UNSTREAMED_EVENTS`], or its target is
    /// `system_presence`. The host asks this once per publish.
    pub fn stream(&self) -> Option<StreamName> {
        if !is_streamed_event(self.event.as_str()) {
            return None;
        }
        StreamName::of_target(&self.target)
    }
}

// -------------------------------------------------------------------------------------------
// Positions and meta

/// A place in a stream, `{ epoch, offset }`: after the event `offset` of the stream's life
/// `epoch` (offset 0: before the first event).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    /// One life of the stream; it changes whenever history or the counter may have been lost.
    pub epoch: String,
    /// The last event's offset (1, 2, 3…), 0 for none.
    pub offset: u64,
}

impl StreamPosition {
    /// A position.
    pub fn new(epoch: impl Into<String>, offset: u64) -> Self {
        Self {
            epoch: epoch.into(),
            offset,
        }
    }

    /// Reads a client's `{ epoch, offset }` (a `since`), reporting every problem: `epoch` a
    /// string of 1 to [`MAX_EPOCH_CHARS`] characters, `offset` an integer from 0 to
    /// [`MAX_OFFSET`] (`5.0` is 5; a fraction, a negative number or NaN is refused), and no
    /// other field.
    pub fn read(input: &Input) -> Result<Self, ValidationErrors> {
        let mut r = ObjectReader::new(input, "a position { epoch, offset }")?;
        let epoch = r
            .required("epoch")
            .and_then(|v| read_epoch(&mut r, "epoch", v));
        let offset = r
            .required("offset")
            .and_then(|v| read_offset(&mut r, "offset", v, 0));
        r.finish()?;
        match (epoch, offset) {
            (Some(epoch), Some(offset)) => Ok(Self { epoch, offset }),
            _ => unreachable_checked(),
        }
    }
}

/// The second argument of every stream event, `{ stream, epoch, offset, id }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Meta {
    /// The stream: the room's name, or `"broadcast"`.
    pub stream: StreamName,
    /// The stream's epoch when the event was appended.
    pub epoch: String,
    /// The event's offset in that epoch (1, 2, 3…).
    pub offset: u64,
    /// The delivery id the API returned (a notification's or an announcement's own `id`).
    pub id: String,
}

impl Meta {
    /// The meta of the event appended at `position` of `stream`.
    pub fn new(stream: StreamName, position: StreamPosition, id: impl Into<String>) -> Self {
        Self {
            stream,
            epoch: position.epoch,
            offset: position.offset,
            id: id.into(),
        }
    }

    /// Where this event is: its epoch and offset.
    pub fn position(&self) -> StreamPosition {
        StreamPosition::new(self.epoch.clone(), self.offset)
    }

    /// Reads a `meta` the client received, as the browser's tracker does. The fields follow
    /// the rules of [`StreamPosition::read`], except that an event's offset is at least 1;
    /// `stream` must name a stream and `id` be a string. Fields it does not know are let
    /// through, so a client keeps working when a later server adds one.
    pub fn read(input: &Input) -> Result<Self, ValidationErrors> {
        let mut r = ObjectReader::new(input, "meta { stream, epoch, offset, id }")?;
        let stream = r.required("stream").and_then(|v| {
            let s = r.string("stream", v)?;
            s.parse::<StreamName>()
                .map_err(|e| r.error("stream", ErrorCode::InvalidFormat, e.to_string()))
                .ok()
        });
        let epoch = r
            .required("epoch")
            .and_then(|v| read_epoch(&mut r, "epoch", v));
        let offset = r
            .required("offset")
            .and_then(|v| read_offset(&mut r, "offset", v, 1));
        let id = r
            .required("id")
            .and_then(|v| r.string("id", v).map(str::to_owned));
        r.finish_allowing_unknown()?;
        match (stream, epoch, offset, id) {
            (Some(stream), Some(epoch), Some(offset), Some(id)) => Ok(Self {
                stream,
                epoch,
                offset,
                id,
            }),
            _ => unreachable_checked(),
        }
    }
}

fn read_epoch(r: &mut ObjectReader<'_>, name: &'static str, v: &Input) -> Option<String> {
    let s = r.string(name, v)?;
    if s.is_empty() {
        r.error(name, ErrorCode::Empty, format!("{name} must not be empty"));
        return None;
    }
    let n = s.chars().count();
    if n > MAX_EPOCH_CHARS {
        r.error(
            name,
            ErrorCode::TooLong,
            format!("{name} has {n} characters; at most {MAX_EPOCH_CHARS} are allowed"),
        );
        return None;
    }
    Some(s.to_owned())
}

fn read_offset(r: &mut ObjectReader<'_>, name: &'static str, v: &Input, min: u64) -> Option<u64> {
    match v {
        Input::Number(n) => {
            let offset = whole_number(n).filter(|o| (min..=MAX_OFFSET).contains(o));
            if offset.is_none() {
                r.error(
                    name,
                    ErrorCode::Type,
                    format!("{name} must be an integer from {min} to {MAX_OFFSET}, got {n}"),
                );
            }
            offset
        }
        Input::NonFinite(_) => {
            r.error(
                name,
                ErrorCode::NotFinite,
                format!("{name} must be a finite integer"),
            );
            None
        }
        other => {
            r.error(
                name,
                ErrorCode::Type,
                format!("{name} must be an integer, got {}", other.type_name()),
            );
            None
        }
    }
}

/// The number as a u64 if it is a non-negative whole number up to [`MAX_OFFSET`]. A float with
/// no fraction counts: not every client library writes integers without a `.0`.
fn whole_number(n: &serde_json::Number) -> Option<u64> {
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    if n.is_i64() {
        return None;
    }
    let f = n.as_f64()?;
    // `MAX_OFFSET` is exact as an f64, and `-0.0` is within the range (it is 0).
    (f.fract() == 0.0 && (0.0..=MAX_OFFSET as f64).contains(&f)).then_some(f as u64)
}

/// The positions a handshake's `auth.since` gives for the two streams a connection recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSince {
    /// The stream.
    pub stream: StreamName,
    /// The client's position in it, when it sent a well-formed one.
    pub since: Option<StreamPosition>,
}

/// Reads `auth.since` for `user`'s socket: `{ "<own user room>"?: {epoch, offset},
/// "broadcast"?: {epoch, offset} }`. Answers the own user room's stream first, then
/// `broadcast`, each with its position if one was given. Never fails: other keys are ignored,
/// and a malformed entry, or a `since` that is not an object, counts as absent, because a bad
/// position must not cost the client its connection.
pub fn read_handshake_since(since: Option<&Input>, user: &UserId) -> [StreamSince; 2] {
    let streams = [
        StreamName::Room(Room::User(user.clone())),
        StreamName::Broadcast,
    ];
    streams.map(|stream| {
        let since = match since {
            Some(Input::Object(fields)) => fields
                .get(stream.to_string().as_str())
                .and_then(|v| StreamPosition::read(v).ok()),
            _ => None,
        };
        StreamSince { stream, since }
    })
}

// -------------------------------------------------------------------------------------------
// The recovery decision

/// What a stream holds now: its epoch, and the events `first..=top` still retained.
///
/// The top outlives the events, so the history can be empty with a top above 0 (everything
/// trimmed), and a brand-new stream has top 0 and no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retained<'a> {
    epoch: &'a str,
    first: u64,
    top: u64,
}

impl<'a> Retained<'a> {
    /// The events `first..=top` of `epoch`; `first > top` is an empty history. A `first` of 0
    /// is read as 1 (no event has offset 0), and one beyond `top + 1` as `top + 1`.
    pub fn new(epoch: &'a str, first: u64, top: u64) -> Self {
        Self {
            epoch,
            first: first.clamp(1, top.saturating_add(1)),
            top,
        }
    }

    /// No events retained, with the counter at `top` (0 for a brand-new stream).
    pub fn empty(epoch: &'a str, top: u64) -> Self {
        Self::new(epoch, top.saturating_add(1), top)
    }

    /// The stream's epoch.
    pub fn epoch(&self) -> &'a str {
        self.epoch
    }

    /// The oldest retained offset (`top + 1` when none is).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The last offset given out (0 for a brand-new stream).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Whether the event `offset` is still retained.
    pub fn contains(&self, offset: u64) -> bool {
        (self.first..=self.top).contains(&offset)
    }

    /// The current top as a position: what an ack answers when nothing is replayed.
    pub fn top_position(&self) -> StreamPosition {
        StreamPosition::new(self.epoch, self.top)
    }
}

/// A recovery: deliver the events after offset `after` up to `to`, in order, then ack
/// `recovered: true` with `offset: to`. Empty when nothing was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    after: u64,
    to: u64,
}

impl Replay {
    /// The client's `since.offset`: the replay starts just after it.
    pub fn after(&self) -> u64 {
        self.after
    }

    /// The last offset to deliver: the stream's top, and the ack's `offset`.
    pub fn to(&self) -> u64 {
        self.to
    }

    /// How many events to deliver.
    pub fn len(&self) -> u64 {
        self.to - self.after
    }

    /// Whether there is nothing to deliver.
    pub fn is_empty(&self) -> bool {
        self.to == self.after
    }

    /// The offsets to deliver, in order.
    pub fn offsets(&self) -> impl Iterator<Item = u64> + use<> {
        // Counting up from `after` rather than from `after + 1` cannot overflow.
        (self.after..self.to).map(|o| o + 1)
    }
}

/// Why a `since` was not recovered (the ack then says `recovered: false`). [`as_str`] is
/// stable, for metric labels.
///
/// [`as_str`]: NotRecovered::as_str
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum NotRecovered {
    /// `since` is of another life of the stream (a restart, a lost store).
    #[error("the position is of another epoch of the stream")]
    WrongEpoch,
    /// `since` is past the stream's top: the client cannot have seen that event.
    #[error("the position is ahead of the stream's top")]
    Ahead,
    /// An event after `since` is no longer retained.
    #[error("events after the position are no longer retained")]
    Trimmed,
    /// More than `--recovery-max-events` events were missed.
    #[error("more events were missed than a recovery delivers")]
    TooMany,
}

impl NotRecovered {
    /// Every reason, in the order [`recover`] checks them.
    pub const ALL: [NotRecovered; 4] =
        [Self::WrongEpoch, Self::Ahead, Self::Trimmed, Self::TooMany];

    /// The reason as a stable label: `wrong_epoch`, `ahead`, `trimmed`, `too_many`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WrongEpoch => "wrong_epoch",
            Self::Ahead => "ahead",
            Self::Trimmed => "trimmed",
            Self::TooMany => "too_many",
        }
    }
}

/// Decides whether a client at `since` gets what it missed from a stream that holds
/// `retained`: every missed event, or none of them (see the [module rules](self)).
///
/// `Ok` gives the replay (possibly empty); `Err` gives the first rule that failed. Either way
/// the socket stays subscribed, and after `Err` the ack answers [`Retained::top_position`].
pub fn recover(
    retained: &Retained<'_>,
    since: &StreamPosition,
    max_events: u64,
) -> Result<Replay, NotRecovered> {
    if since.epoch != retained.epoch {
        return Err(NotRecovered::WrongEpoch);
    }
    if since.offset > retained.top {
        return Err(NotRecovered::Ahead);
    }
    let missed = retained.top - since.offset;
    // With nothing missed an empty or trimmed history does not matter; otherwise the first
    // missed event, `since.offset + 1` (below `top`, so no overflow), must still be there.
    if missed > 0 && since.offset + 1 < retained.first {
        return Err(NotRecovered::Trimmed);
    }
    if missed > max_events {
        return Err(NotRecovered::TooMany);
    }
    Ok(Replay {
        after: since.offset,
        to: retained.top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::presence::PresenceChange;
    use crate::routing;

    fn input(s: &str) -> Input<'static> {
        serde_json::from_str(s).unwrap()
    }
    fn at(epoch: &str, offset: u64) -> StreamPosition {
        StreamPosition::new(epoch, offset)
    }
    fn replay(after: u64, to: u64) -> Result<Replay, NotRecovered> {
        Ok(Replay { after, to })
    }

    #[test]
    fn which_deliveries_are_streamed() {
        let now = Timestamp::from_unix_millis(0).unwrap();
        let notify = routing::notify_user(
            "u1".parse().unwrap(),
            &input(r#"{"type":"info","message":"m"}"#),
            "n-1".into(),
            now,
        )
        .unwrap();
        assert_eq!(notify.stream().unwrap().to_string(), "user_u1");
        let all = routing::announcement(
            &input(r#"{"type":"info","message":"m"}"#),
            "a-1".into(),
            now,
        )
        .unwrap();
        assert_eq!(all.stream(), Some(StreamName::Broadcast));
        let custom = routing::custom_event(
            Target::Room("system_ops".parse().unwrap()),
            &input(r#"{"event":"job_done"}"#),
        )
        .unwrap();
        assert_eq!(custom.stream().unwrap().to_string(), "system_ops");
        let custom_all = routing::custom_event(Target::All, &input(r#"{"event":"x"}"#)).unwrap();
        assert_eq!(custom_all.stream(), Some(StreamName::Broadcast));

        let presence = routing::presence(PresenceChange::Online("u1".parse().unwrap()), now);
        assert_eq!(presence.stream(), None);
        assert_eq!(
            routing::shutdown(now).stream(),
            None,
            "to everyone, unstreamed"
        );
        let to_presence =
            routing::custom_event(Target::Room(Room::presence()), &input(r#"{"event":"x"}"#))
                .unwrap();
        assert_eq!(to_presence.stream(), None, "system_presence has no stream");
        for kind in ["user_1", "ticket_1", "meter_1", "system_ops"] {
            let room: Room = kind.parse().unwrap();
            assert!(StreamName::of_room(&room).is_some(), "{kind}");
        }
        assert!(is_streamed_event("notification") && !is_streamed_event("welcome"));
    }

    #[test]
    fn stream_names_parse_and_serialise_as_strings() {
        for s in [
            "broadcast",
            "user_u1",
            "ticket_T-1",
            "meter_m",
            "system_ops",
        ] {
            let name: StreamName = s.parse().unwrap();
            assert_eq!(name.to_string(), s);
            assert_eq!(serde_json::to_value(&name).unwrap(), s);
            assert_eq!(
                serde_json::from_value::<StreamName>(s.into()).unwrap(),
                name
            );
        }
        for bad in ["system_presence", "Broadcast", "", "room_1", "user_"] {
            let e = bad.parse::<StreamName>().unwrap_err();
            assert_eq!(e.value, bad);
        }
        assert_eq!(
            StreamName::Room("ticket_1".parse().unwrap())
                .room()
                .map(Room::to_string),
            Some("ticket_1".into())
        );
        assert_eq!(StreamName::Broadcast.room(), None);
    }

    #[test]
    fn meta_and_position_wire_shapes() {
        let meta = Meta::new("ticket_1".parse().unwrap(), at("e1", 7), "d-1".to_owned());
        let json = serde_json::to_string(&meta).unwrap();
        assert_eq!(
            json,
            r#"{"stream":"ticket_1","epoch":"e1","offset":7,"id":"d-1"}"#
        );
        assert_eq!(serde_json::from_str::<Meta>(&json).unwrap(), meta);
        assert_eq!(Meta::read(&input(&json)).unwrap(), meta);
        assert_eq!(meta.position(), at("e1", 7));
        assert_eq!(
            serde_json::to_string(&at("e1", 0)).unwrap(),
            r#"{"epoch":"e1","offset":0}"#
        );
    }

    #[test]
    fn meta_reading_is_strict_on_fields_and_lenient_on_extras() {
        let ok = Meta::read(&input(
            r#"{"stream":"broadcast","epoch":"e","offset":1,"id":"a","later":true}"#,
        ))
        .unwrap();
        assert_eq!(ok.stream, StreamName::Broadcast);
        let bad = Meta::read(&input(
            r#"{"stream":"system_presence","epoch":"","offset":0,"id":5}"#,
        ))
        .unwrap_err();
        assert_eq!(bad.codes(), ["invalid_format", "empty", "type", "type"]);
        assert_eq!(Meta::read(&input("{}")).unwrap_err().codes().len(), 4);
        assert_eq!(Meta::read(&input("[]")).unwrap_err().codes(), ["type"]);
    }

    #[test]
    fn positions_are_read_with_every_error() {
        assert_eq!(
            StreamPosition::read(&input(r#"{"epoch":"e","offset":0}"#)).unwrap(),
            at("e", 0)
        );
        let max = format!(r#"{{"epoch":"{}","offset":{MAX_OFFSET}}}"#, "e".repeat(64));
        assert_eq!(
            StreamPosition::read(&input(&max)).unwrap().offset,
            MAX_OFFSET
        );
        assert_eq!(
            StreamPosition::read(&input(r#"{"epoch":"e","offset":5.0}"#))
                .unwrap()
                .offset,
            5,
            "a whole float is an integer"
        );
        assert_eq!(
            StreamPosition::read(&input(r#"{"epoch":"e","offset":-0.0}"#))
                .unwrap()
                .offset,
            0
        );
        for (bad, codes) in [
            ("{}", vec!["required", "required"]),
            (
                r#"{"epoch":null,"offset":null}"#,
                vec!["required", "required"],
            ),
            (r#"{"epoch":"","offset":1}"#, vec!["empty"]),
            (r#"{"epoch":1,"offset":"1"}"#, vec!["type", "type"]),
            (r#"{"epoch":"e","offset":-1}"#, vec!["type"]),
            (r#"{"epoch":"e","offset":1.5}"#, vec!["type"]),
            (r#"{"epoch":"e","offset":9007199254740992}"#, vec!["type"]),
            (
                r#"{"epoch":"e","offset":18446744073709551616}"#,
                vec!["type"],
            ),
            (r#"{"epoch":"e","offset":1e300}"#, vec!["type"]),
            (r#"{"epoch":"e","offset":1,"x":0}"#, vec!["unknown_field"]),
            ("[]", vec!["type"]),
            ("\"e:1\"", vec!["type"]),
        ] {
            assert_eq!(
                StreamPosition::read(&input(bad)).unwrap_err().codes(),
                codes,
                "{bad}"
            );
        }
        let long = format!(r#"{{"epoch":"{}","offset":1}}"#, "é".repeat(65));
        assert_eq!(
            StreamPosition::read(&input(&long)).unwrap_err().codes(),
            ["too_long"]
        );
        let nan = Input::Object(
            [
                ("epoch".into(), Input::String("e".into())),
                ("offset".into(), Input::NonFinite(f64::NAN)),
            ]
            .into(),
        );
        assert_eq!(
            StreamPosition::read(&nan).unwrap_err().codes(),
            ["not_finite"]
        );
    }

    #[test]
    fn handshake_since_never_fails() {
        let user: UserId = "u1".parse().unwrap();
        let since = input(
            r#"{"user_u1":{"epoch":"a","offset":3},"broadcast":{"epoch":"b","offset":0},
                "user_u2":{"epoch":"c","offset":1},"ticket_1":{"epoch":"d","offset":1}}"#,
        );
        let [own, all] = read_handshake_since(Some(&since), &user);
        assert_eq!(own.stream.to_string(), "user_u1");
        assert_eq!(own.since, Some(at("a", 3)));
        assert_eq!(all.stream, StreamName::Broadcast);
        assert_eq!(all.since, Some(at("b", 0)));

        let malformed = input(r#"{"user_u1":{"epoch":"a","offset":-1},"broadcast":"b:0"}"#);
        for since in [
            Some(&malformed),
            Some(&input("[1]")),
            Some(&Input::Null),
            None,
        ] {
            let [own, all] = read_handshake_since(since, &user);
            assert_eq!((own.since, all.since), (None, None), "{since:?}");
        }
        let half = input(r#"{"user_u1":{"epoch":"a","offset":1},"broadcast":{"epoch":"b"}}"#);
        let [own, all] = read_handshake_since(Some(&half), &user);
        assert_eq!((own.since, all.since), (Some(at("a", 1)), None));
    }

    #[test]
    fn retention_is_normalised() {
        let r = Retained::new("e", 0, 5);
        assert_eq!((r.first(), r.top()), (1, 5));
        let r = Retained::new("e", 9, 5);
        assert_eq!(r.first(), 6, "past the top is empty");
        assert!(!r.contains(5) && !r.contains(6));
        let r = Retained::empty("e", 0);
        assert_eq!((r.first(), r.top(), r.contains(0)), (1, 0, false));
        let r = Retained::empty("e", u64::MAX);
        assert_eq!(r.first(), u64::MAX, "saturates rather than overflows");
        assert_eq!(Retained::new("e", 3, 5).top_position(), at("e", 5));
        assert_eq!(Retained::new("e", 3, 5).epoch(), "e");
    }

    #[test]
    fn recovery_boundaries() {
        // Retained 11..=20 of epoch "e".
        let r = Retained::new("e", 11, 20);
        let max = 5;
        // Nothing missed.
        assert_eq!(recover(&r, &at("e", 20), max), replay(20, 20));
        // Exactly max missed; one more is too many.
        assert_eq!(recover(&r, &at("e", 15), max), replay(15, 20));
        assert_eq!(recover(&r, &at("e", 14), max), Err(NotRecovered::TooMany));
        // since == first - 1: the first missed event is the oldest retained.
        assert_eq!(recover(&r, &at("e", 10), 10), replay(10, 20));
        // Trimmed by one: event 10 is gone.
        assert_eq!(recover(&r, &at("e", 9), 100), Err(NotRecovered::Trimmed));
        assert_eq!(recover(&r, &at("e", 0), 100), Err(NotRecovered::Trimmed));
        // Ahead by one.
        assert_eq!(recover(&r, &at("e", 21), max), Err(NotRecovered::Ahead));
        // Another epoch, whatever the offset.
        for offset in [0, 15, 20, 21] {
            assert_eq!(
                recover(&r, &at("f", offset), max),
                Err(NotRecovered::WrongEpoch)
            );
        }
        // max_events 0 recovers only "nothing missed".
        assert_eq!(recover(&r, &at("e", 20), 0), replay(20, 20));
        assert_eq!(recover(&r, &at("e", 19), 0), Err(NotRecovered::TooMany));
        // Trimmed wins over too many: both fail, the history is the fact.
        assert_eq!(recover(&r, &at("e", 1), 3), Err(NotRecovered::Trimmed));
    }

    #[test]
    fn recovery_of_empty_histories() {
        // A brand-new stream: top 0.
        let new = Retained::empty("e", 0);
        assert_eq!(recover(&new, &at("e", 0), 1000), replay(0, 0));
        assert_eq!(recover(&new, &at("e", 1), 1000), Err(NotRecovered::Ahead));
        // Everything trimmed at top 7: only "nothing missed" recovers.
        let trimmed = Retained::empty("e", 7);
        assert_eq!(recover(&trimmed, &at("e", 7), 1000), replay(7, 7));
        assert_eq!(
            recover(&trimmed, &at("e", 6), 1000),
            Err(NotRecovered::Trimmed)
        );
        // A new stream's first events, from since 0.
        let fresh = Retained::new("e", 1, 3);
        assert_eq!(recover(&fresh, &at("e", 0), 3), replay(0, 3));
    }

    #[test]
    fn replays_count_and_list_offsets() {
        let r = Replay { after: 4, to: 7 };
        assert_eq!((r.after(), r.to(), r.len(), r.is_empty()), (4, 7, 3, false));
        assert_eq!(r.offsets().collect::<Vec<_>>(), [5, 6, 7]);
        let none = Replay { after: 7, to: 7 };
        assert!(none.is_empty() && none.offsets().next().is_none());
        let edge = Replay {
            after: u64::MAX - 1,
            to: u64::MAX,
        };
        assert_eq!(edge.offsets().collect::<Vec<_>>(), [u64::MAX]);
        let top = Replay {
            after: u64::MAX,
            to: u64::MAX,
        };
        assert_eq!(top.offsets().count(), 0);
    }

    #[test]
    fn reasons_have_stable_labels() {
        let labels: Vec<_> = NotRecovered::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels, ["wrong_epoch", "ahead", "trimmed", "too_many"]);
        assert!(!NotRecovered::Trimmed.to_string().is_empty());
    }
}
