//! Identifier newtypes. Parsing happens once at the edge; past it, nothing takes a bare string
//! that must be an id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id or system name, in characters.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid id or system name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("{what} must not be empty")]
    Empty {
        /// `"id"` or `"system name"`, for the message.
        what: &'static str,
    },
    /// Longer than [`MAX_ID_LEN`] characters.
    #[error("{what} {value:?} is longer than 64 characters")]
    TooLong {
        /// `"id"` or `"system name"`, for the message.
        what: &'static str,
        /// The rejected input.
        value: String,
    },
    /// Contains a character outside the allowed set.
    #[error("{what} {value:?} contains {ch:?}; allowed are {allowed}")]
    BadChar {
        /// `"id"` or `"system name"`, for the message.
        what: &'static str,
        /// The rejected input.
        value: String,
        /// The first character that is not allowed.
        ch: char,
        /// The allowed set, for the message.
        allowed: &'static str,
    },
}

pub(crate) fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-')
}

pub(crate) fn is_system_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')
}

fn check(
    s: &str,
    what: &'static str,
    ok: fn(char) -> bool,
    allowed: &'static str,
) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    if let Some(ch) = s.chars().find(|c| !ok(*c)) {
        return Err(IdError::BadChar {
            what,
            value: s.to_owned(),
            ch,
            allowed,
        });
    }
    // Every allowed character is ASCII, so the byte length is the character count here.
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            what,
            value: s.to_owned(),
        });
    }
    Ok(())
}

/// Checks the id rule: 1–64 characters of `A-Z a-z 0-9 . _ : @ -`.
pub fn validate_id(s: &str) -> Result<(), IdError> {
    check(s, "id", is_id_char, "A-Z a-z 0-9 . _ : @ -")
}

/// Checks the system-name rule: 1–64 characters of `a-z 0-9 _ -`.
pub fn validate_system_name(s: &str) -> Result<(), IdError> {
    check(s, "system name", is_system_char, "a-z 0-9 _ -")
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses and checks the rule.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                $check(&s)?;
                Ok(Self(s))
            }
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype!(
    /// A generic id (1–64 characters of `A-Z a-z 0-9 . _ : @ -`).
    Id,
    validate_id
);
string_newtype!(
    /// A user id: the JWT `sub` claim, and the id in `user_<id>`.
    UserId,
    validate_id
);
string_newtype!(
    /// A ticket id, the id in `ticket_<id>`.
    TicketId,
    validate_id
);
string_newtype!(
    /// A meter id, the id in `meter_<id>`.
    MeterId,
    validate_id
);
string_newtype!(
    /// A system room name (1–64 characters of `a-z 0-9 _ -`), the name in `system_<name>`.
    SystemName,
    validate_system_name
);

impl SystemName {
    /// The `presence` system room's name: `system_presence` receives `user_online`/`user_offline`.
    pub fn presence() -> Self {
        Self("presence".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_boundaries() {
        assert!(UserId::parse("a".repeat(64)).is_ok());
        assert_eq!(
            UserId::parse("a".repeat(65)),
            Err(IdError::TooLong {
                what: "id",
                value: "a".repeat(65)
            })
        );
        assert_eq!(UserId::parse(""), Err(IdError::Empty { what: "id" }));
        assert!(UserId::parse("Az09._:@-").is_ok());
        assert!(matches!(
            UserId::parse("a b"),
            Err(IdError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            UserId::parse("é"),
            Err(IdError::BadChar { ch: 'é', .. })
        ));
    }

    #[test]
    fn system_names_are_lowercase() {
        assert!(SystemName::parse("ops-team_1").is_ok());
        let e = SystemName::parse("Ops").unwrap_err();
        assert_eq!(
            e.to_string(),
            "system name \"Ops\" contains 'O'; allowed are a-z 0-9 _ -"
        );
        assert!(SystemName::parse("a.b").is_err());
    }

    #[test]
    fn serde_checks_the_rule() {
        let ok: UserId = serde_json::from_str("\"u1\"").unwrap();
        assert_eq!(ok.as_str(), "u1");
        assert!(serde_json::from_str::<UserId>("\"u 1\"").is_err());
    }
}
