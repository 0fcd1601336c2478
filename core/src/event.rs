//! Event names: `^[a-z][a-z0-9_]{0,63}$`, never one of Socket.IO's reserved names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::room::RoomKind;

/// Socket.IO's reserved event names: never valid.
pub const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The longest event name, in characters.
pub const MAX_EVENT_NAME_LEN: usize = 64;

/// The fixed event names of the protocol. The wasm package exports the same table as `EVENTS`.
pub mod names {
    /// Server → client, on connect.
    pub const WELCOME: &str = "welcome";
    /// Server → `user_<id>`.
    pub const NOTIFICATION: &str = "notification";
    /// Server → `ticket_<id>`.
    pub const TICKET_UPDATED: &str = "ticket_updated";
    /// Server → `meter_<id>`.
    pub const METER_READING: &str = "meter_reading";
    /// Server → everyone.
    pub const ANNOUNCEMENT: &str = "announcement";
    /// Server → `system_presence`, a user's first socket connected.
    pub const USER_ONLINE: &str = "user_online";
    /// Server → `system_presence`, a user's last socket left.
    pub const USER_OFFLINE: &str = "user_offline";
    /// Server → everyone, the server is shutting down (clients reconnect elsewhere).
    pub const SYSTEM_SHUTDOWN: &str = "system_shutdown";
    /// Server → one socket, just before it is disconnected for not reading its events fast
    /// enough (it reconnects and recovers by position).
    pub const SYSTEM_SLOW_CONSUMER: &str = "system_slow_consumer";
    /// Server → one socket, when its token's `exp` has passed without a `refresh`, just
    /// before it is disconnected.
    pub const SESSION_EXPIRED: &str = "session_expired";
    /// Client → server, join a room.
    pub const SUBSCRIBE: &str = "subscribe";
    /// Client → server, leave a room.
    pub const UNSUBSCRIBE: &str = "unsubscribe";
    /// Client → server, end this socket's session.
    pub const LOGOUT: &str = "logout";
    /// Client → server, replace this socket's token (its expiry and its room grants).
    pub const REFRESH: &str = "refresh";

    /// Every fixed name with its JS constant name, for the wasm `EVENTS` export.
    pub const ALL: [(&str, &str); 14] = [
        ("WELCOME", WELCOME),
        ("NOTIFICATION", NOTIFICATION),
        ("TICKET_UPDATED", TICKET_UPDATED),
        ("METER_READING", METER_READING),
        ("ANNOUNCEMENT", ANNOUNCEMENT),
        ("USER_ONLINE", USER_ONLINE),
        ("USER_OFFLINE", USER_OFFLINE),
        ("SYSTEM_SHUTDOWN", SYSTEM_SHUTDOWN),
        ("SYSTEM_SLOW_CONSUMER", SYSTEM_SLOW_CONSUMER),
        ("SESSION_EXPIRED", SESSION_EXPIRED),
        ("SUBSCRIBE", SUBSCRIBE),
        ("UNSUBSCRIBE", UNSUBSCRIBE),
        ("LOGOUT", LOGOUT),
        ("REFRESH", REFRESH),
    ];

    /// Names the server emits with its own payload shapes; a custom event may not take them,
    /// so a client can trust that `notification` always carries a notification.
    pub const SERVER_OWNED: [&str; 10] = [
        WELCOME,
        NOTIFICATION,
        TICKET_UPDATED,
        METER_READING,
        ANNOUNCEMENT,
        USER_ONLINE,
        USER_OFFLINE,
        SYSTEM_SHUTDOWN,
        SYSTEM_SLOW_CONSUMER,
        SESSION_EXPIRED,
    ];
}

/// Why a string is not an event name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid event name: {reason}")]
pub struct EventNameError {
    /// The rejected input.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Whether `s` is a valid event name.
pub fn is_valid_event_name(s: &str) -> bool {
    check(s).is_ok()
}

fn check(s: &str) -> Result<(), &'static str> {
    if RESERVED.contains(&s) {
        return Err("it is reserved by Socket.IO");
    }
    let mut chars = s.chars();
    match chars.next() {
        None => return Err("it is empty"),
        Some(c) if !c.is_ascii_lowercase() => return Err("it must start with a-z"),
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err("only a-z, 0-9 and _ are allowed");
    }
    if s.len() > MAX_EVENT_NAME_LEN {
        return Err("it is longer than 64 characters");
    }
    Ok(())
}

/// How an event name relates to rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventScope {
    /// `user_<name>`, `ticket_<name>`, `meter_<name>`, `system_<name>`.
    Kind(RoomKind),
    /// `notification`, `announcement`, `welcome`.
    General,
    /// Any other valid name (an application's own event).
    Custom,
}

/// A checked event name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventName(String);

impl EventName {
    /// Parses and checks the rule.
    pub fn parse(s: impl Into<String>) -> Result<Self, EventNameError> {
        let s = s.into();
        match check(&s) {
            Ok(()) => Ok(Self(s)),
            Err(reason) => Err(EventNameError { value: s, reason }),
        }
    }

    /// One of the fixed names in [`names`]; they are valid by construction.
    pub(crate) fn fixed(s: &'static str) -> Self {
        debug_assert!(is_valid_event_name(s));
        Self(s.to_owned())
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the server emits this name with its own payload shape.
    pub fn is_server_owned(&self) -> bool {
        names::SERVER_OWNED.contains(&self.0.as_str())
    }

    /// The name's scope.
    pub fn scope(&self) -> EventScope {
        match RoomKind::split(&self.0) {
            Some((kind, rest)) if !rest.is_empty() => EventScope::Kind(kind),
            _ if matches!(
                self.0.as_str(),
                names::NOTIFICATION | names::ANNOUNCEMENT | names::WELCOME
            ) =>
            {
                EventScope::General
            }
            _ => EventScope::Custom,
        }
    }
}

impl FromStr for EventName {
    type Err = EventNameError;
    fn from_str(s: &str) -> Result<Self, EventNameError> {
        Self::parse(s)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EventName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule() {
        assert!(is_valid_event_name("a"));
        assert!(is_valid_event_name(&format!("a{}", "b".repeat(63))));
        assert!(!is_valid_event_name(&format!("a{}", "b".repeat(64))));
        for bad in [
            "",
            "1a",
            "_a",
            "A",
            "aB",
            "a-b",
            "a b",
            "connect",
            "disconnect",
            "newListener",
            "é",
        ] {
            assert!(!is_valid_event_name(bad), "{bad}");
        }
    }

    #[test]
    fn fixed_names_are_valid_and_scoped() {
        for (_, n) in names::ALL {
            assert!(is_valid_event_name(n), "{n}");
        }
        let scope = |s: &str| EventName::parse(s).unwrap().scope();
        assert_eq!(scope("ticket_updated"), EventScope::Kind(RoomKind::Ticket));
        assert_eq!(scope("user_online"), EventScope::Kind(RoomKind::User));
        assert_eq!(scope("notification"), EventScope::General);
        assert_eq!(scope("job_done"), EventScope::Custom);
        assert_eq!(scope("ticket_"), EventScope::Custom);
    }
}
