//! Rooms: `user_<id>`, `ticket_<id>`, `meter_<id>`, `system_<name>`. Any other string is not a room.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::code::ErrorCode;
use crate::ids::{IdError, MeterId, SystemName, TicketId, UserId};

/// The four kinds of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// `user_<id>`: every socket of one user.
    User,
    /// `ticket_<id>`: watchers of one ticket.
    Ticket,
    /// `meter_<id>`: watchers of one meter.
    Meter,
    /// `system_<name>`: operational channels such as `system_presence`.
    System,
}

impl RoomKind {
    /// All kinds, in a fixed order.
    pub const ALL: [RoomKind; 4] = [Self::User, Self::Ticket, Self::Meter, Self::System];

    /// The room-name prefix, with its trailing underscore (`"ticket_"`).
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::User => "user_",
            Self::Ticket => "ticket_",
            Self::Meter => "meter_",
            Self::System => "system_",
        }
    }

    /// The kind's name (`"ticket"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Ticket => "ticket",
            Self::Meter => "meter",
            Self::System => "system",
        }
    }

    /// The kind whose prefix starts `s`, and the rest of `s`.
    pub fn split(s: &str) -> Option<(RoomKind, &str)> {
        Self::ALL
            .into_iter()
            .find_map(|k| s.strip_prefix(k.prefix()).map(|rest| (k, rest)))
    }

    /// The code a bad id of this kind is refused with when a room is built from it: a system
    /// name is a room syntax of its own (`invalid_room`); the other kinds take a plain id
    /// (`invalid_id`).
    pub const fn id_error_code(self) -> ErrorCode {
        match self {
            Self::System => ErrorCode::InvalidRoom,
            _ => ErrorCode::InvalidId,
        }
    }

    /// Checks the id part of a room of this kind.
    pub fn validate_id(self, id: &str) -> Result<(), IdError> {
        match self {
            Self::System => crate::ids::validate_system_name(id),
            _ => crate::ids::validate_id(id),
        }
    }
}

/// Why a string is not a room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a room: {reason}")]
pub struct RoomError {
    /// The rejected input.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RoomError {
    /// The contract's code for every room error.
    pub const CODE: ErrorCode = ErrorCode::InvalidRoom;
}

/// A parsed room. `Room::from_str(&room.to_string()) == Ok(room)` for every room.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Room {
    /// `user_<id>`.
    User(UserId),
    /// `ticket_<id>`.
    Ticket(TicketId),
    /// `meter_<id>`.
    Meter(MeterId),
    /// `system_<name>`.
    System(SystemName),
}

impl Room {
    /// The `system_presence` room.
    pub fn presence() -> Self {
        Room::System(SystemName::presence())
    }

    /// Whether this is `system_presence`, the one room without a stream.
    pub fn is_presence(&self) -> bool {
        matches!(self, Room::System(name) if name.as_str() == "presence")
    }

    /// Whether this is `user`'s own room (`user_<user>`), which every socket of the user is in.
    pub fn is_user_room_of(&self, user: &UserId) -> bool {
        matches!(self, Room::User(u) if u == user)
    }

    /// This room's kind.
    pub fn kind(&self) -> RoomKind {
        match self {
            Room::User(_) => RoomKind::User,
            Room::Ticket(_) => RoomKind::Ticket,
            Room::Meter(_) => RoomKind::Meter,
            Room::System(_) => RoomKind::System,
        }
    }

    /// The id (or system name) part.
    pub fn id(&self) -> &str {
        match self {
            Room::User(id) => id.as_str(),
            Room::Ticket(id) => id.as_str(),
            Room::Meter(id) => id.as_str(),
            Room::System(name) => name.as_str(),
        }
    }

    /// Builds a room from a kind and an id, checking the id rule of that kind.
    pub fn new(kind: RoomKind, id: &str) -> Result<Room, IdError> {
        Ok(match kind {
            RoomKind::User => Room::User(id.parse()?),
            RoomKind::Ticket => Room::Ticket(id.parse()?),
            RoomKind::Meter => Room::Meter(id.parse()?),
            RoomKind::System => Room::System(id.parse()?),
        })
    }
}

impl FromStr for Room {
    type Err = RoomError;

    fn from_str(s: &str) -> Result<Room, RoomError> {
        let err = |reason: String| RoomError {
            value: s.to_owned(),
            reason,
        };
        let (kind, id) = RoomKind::split(s).ok_or_else(|| {
            err("a room starts with user_, ticket_, meter_ or system_".to_owned())
        })?;
        Room::new(kind, id).map_err(|e| err(e.to_string()))
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().prefix())?;
        f.write_str(self.id())
    }
}

impl Serialize for Room {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Room {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        for (s, kind, id) in [
            ("user_42", RoomKind::User, "42"),
            ("ticket_T-1", RoomKind::Ticket, "T-1"),
            ("meter_a_b", RoomKind::Meter, "a_b"),
            ("system_presence", RoomKind::System, "presence"),
        ] {
            let room: Room = s.parse().unwrap();
            assert_eq!(room.kind(), kind);
            assert_eq!(room.id(), id);
            assert_eq!(room.to_string(), s);
        }
    }

    #[test]
    fn rejects_others() {
        for s in [
            "",
            "user_",
            "user",
            "users_1",
            "User_1",
            "system_Ops",
            "ticket_a b",
            "room_1",
        ] {
            assert!(s.parse::<Room>().is_err(), "{s} should be refused");
        }
    }
}
