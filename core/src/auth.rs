//! Room-pattern authorization: which rooms a token's `rooms` claim lets a user subscribe to.

use std::fmt;
use std::str::FromStr;

use crate::ids::UserId;
use crate::room::{Room, RoomKind};

/// One entry of a token's `rooms` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomPattern {
    /// `*`: every room.
    Any,
    /// An exact room, e.g. `meter_42`.
    Exact(Room),
    /// A prefix ending in `*`, e.g. `ticket_*` or `meter_site1-*`: the kind, and the start of the id.
    Prefix(RoomKind, String),
}

/// Why a claim entry is not a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a room pattern: {reason}")]
pub struct GrantError {
    /// The rejected entry.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for RoomPattern {
    type Err = GrantError;

    fn from_str(s: &str) -> Result<Self, GrantError> {
        let err = |reason: &str| GrantError {
            value: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s == "*" {
            return Ok(RoomPattern::Any);
        }
        match s.strip_suffix('*') {
            Some(prefix) => {
                let (kind, id_start) = RoomKind::split(prefix)
                    .ok_or_else(|| err("a prefix starts with user_, ticket_, meter_ or system_"))?;
                // The start of an id must be something an id could start with.
                if !id_start.is_empty() && kind.validate_id(id_start).is_err() {
                    return Err(err("the prefix contains characters no id of that kind has"));
                }
                Ok(RoomPattern::Prefix(kind, id_start.to_owned()))
            }
            None => s
                .parse()
                .map(RoomPattern::Exact)
                .map_err(|e: crate::room::RoomError| err(&e.reason)),
        }
    }
}

impl fmt::Display for RoomPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomPattern::Any => f.write_str("*"),
            RoomPattern::Exact(room) => write!(f, "{room}"),
            RoomPattern::Prefix(kind, start) => write!(f, "{}{start}*", kind.prefix()),
        }
    }
}

impl RoomPattern {
    /// Whether the pattern covers `room`.
    pub fn matches(&self, room: &Room) -> bool {
        match self {
            RoomPattern::Any => true,
            RoomPattern::Exact(r) => r == room,
            RoomPattern::Prefix(kind, start) => {
                room.kind() == *kind && room.id().starts_with(start.as_str())
            }
        }
    }
}

/// What one user may subscribe to: their own user room always, plus the token's patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomGrants {
    user: UserId,
    patterns: Vec<RoomPattern>,
}

impl RoomGrants {
    /// Parses the `rooms` claim; any bad entry refuses the whole claim (a token minted with a
    /// typo should fail loudly, not silently grant less, or more, than meant).
    pub fn parse<I, T>(user: UserId, claim: I) -> Result<Self, GrantError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let patterns = claim
            .into_iter()
            .map(|p| p.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self { user, patterns })
    }

    /// Whose grants these are.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The parsed patterns.
    pub fn patterns(&self) -> &[RoomPattern] {
        &self.patterns
    }

    /// Whether the user may subscribe to `room`.
    pub fn allows(&self, room: &Room) -> bool {
        room.is_user_room_of(&self.user) || self.patterns.iter().any(|p| p.matches(room))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> Room {
        s.parse().unwrap()
    }

    #[test]
    fn patterns() {
        let g = RoomGrants::parse(
            "u1".parse().unwrap(),
            ["ticket_*", "meter_42", "system_ops", "meter_site1-*"],
        )
        .unwrap();
        assert!(g.allows(&room("user_u1")));
        assert!(!g.allows(&room("user_u2")));
        assert!(g.allows(&room("ticket_9")));
        assert!(g.allows(&room("meter_42")));
        assert!(!g.allows(&room("meter_420")));
        assert!(g.allows(&room("meter_site1-7")));
        assert!(g.allows(&room("system_ops")));
        assert!(!g.allows(&room("system_presence")));
        let all = RoomGrants::parse("u1".parse().unwrap(), ["*"]).unwrap();
        assert!(all.allows(&room("user_u2")));
    }

    #[test]
    fn bad_patterns_refuse_the_claim() {
        for bad in [
            "",
            "tick*",
            "ticket",
            "ticket_a b*",
            "system_Ops*",
            "**",
            "ticket_*_*",
        ] {
            assert!(
                RoomGrants::parse("u".parse().unwrap(), [bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for p in ["*", "ticket_*", "meter_42", "system_*", "user_ab*"] {
            assert_eq!(p.parse::<RoomPattern>().unwrap().to_string(), p);
        }
    }
}
