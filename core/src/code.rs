//! Every error code the outside can see, in one list: validation codes in `details`, socket
//! acknowledgement codes, `connect_error` messages, HTTP API error codes, and the codes the
//! wasm package throws. Each code says on which of those surfaces it appears, so the per-surface
//! lists (the TypeScript unions, the corpus coverage checks) are filters of this one list.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a code can reach a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// A validation error's `code` (`{ path, code, message }`, in `details` or `errors`).
    Field,
    /// A socket acknowledgement's `error.code`.
    Ack,
    /// A refused handshake's `connect_error` message.
    Connect,
    /// An HTTP API error body's `error.code`.
    Http,
    /// A `SwitchyardError` thrown by the wasm package.
    Throw,
}

impl Surface {
    /// Every surface.
    pub const ALL: [Surface; 5] = [
        Self::Field,
        Self::Ack,
        Self::Connect,
        Self::Http,
        Self::Throw,
    ];

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $s:literal [$($surface:ident)|+],)+) => {
        /// An error code, as the contract writes it (`snake_case` on the wire).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$doc])* #[serde(rename = $s)] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the contract's order (validation codes first).
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),+];

            /// The code as written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }

            const fn surfaces(self) -> u8 {
                match self { $(Self::$variant => 0 $(| Surface::$surface.bit())+),+ }
            }
        }
    };
}

codes! {
    /// A required field is missing (or null).
    Required = "required" [Field],
    /// The value has the wrong JSON type.
    Type = "type" [Field],
    /// A required string is empty or only white space.
    Empty = "empty" [Field],
    /// A string is longer than allowed.
    TooLong = "too_long" [Field],
    /// A serialised value is larger than allowed.
    TooLarge = "too_large" [Field],
    /// A number is NaN or infinite.
    NotFinite = "not_finite" [Field],
    /// A string does not have the required format (date-time, event name, room pattern).
    InvalidFormat = "invalid_format" [Field],
    /// A value is not one of the allowed values.
    UnknownValue = "unknown_value" [Field],
    /// A field that the payload does not have.
    UnknownField = "unknown_field" [Field],
    /// A time too far in the future.
    InFuture = "in_future" [Field],
    /// An update that changes nothing.
    EmptyUpdate = "empty_update" [Field],
    /// A string is not a valid id (a field, an API path segment, a room builder's argument).
    InvalidId = "invalid_id" [Field | Http | Throw],
    /// A string is not a room.
    InvalidRoom = "invalid_room" [Ack | Http | Throw],
    /// The token grants no access, or the thing may not be done (leaving the own user room).
    Forbidden = "forbidden" [Ack | Http],
    /// A socket event's payload does not have the event's shape.
    InvalidPayload = "invalid_payload" [Ack],
    /// The server has no handler for a socket event.
    UnknownEvent = "unknown_event" [Ack],
    /// A configured limit (such as subscriptions per socket) would be exceeded.
    LimitExceeded = "limit_exceeded" [Ack | Http],
    /// A missing, malformed, expired, not yet valid or badly signed token (at the handshake
    /// and on `refresh`), or a missing or unknown API key.
    Unauthorized = "unauthorized" [Ack | Connect | Http],
    /// The user already has `--max-sockets-per-user` sockets.
    TooManySockets = "too_many_sockets" [Connect],
    /// The server is shutting down.
    ShuttingDown = "shutting_down" [Connect | Http],
    /// A store the answer depends on (Redis, in cluster mode) cannot be reached.
    Unavailable = "unavailable" [Ack | Connect | Http],
    /// A request body failed validation; `details` lists every field error.
    ValidationFailed = "validation_failed" [Http],
    /// A body (HTTP) or a value (wasm) that is not JSON, or that JSON cannot carry.
    InvalidJson = "invalid_json" [Http | Throw],
    /// The request body is over `--max-body-bytes`.
    PayloadTooLarge = "payload_too_large" [Http],
    /// The request body is not sent as `application/json`.
    UnsupportedMediaType = "unsupported_media_type" [Http],
    /// No such route, socket or user.
    NotFound = "not_found" [Http],
    /// The route does not take that method.
    MethodNotAllowed = "method_not_allowed" [Http],
    /// The server failed; the log says why.
    Internal = "internal" [Http],
}

impl ErrorCode {
    /// Whether this code can appear on `surface`.
    pub const fn appears_on(self, surface: Surface) -> bool {
        self.surfaces() & surface.bit() != 0
    }

    /// The codes of one surface, in the contract's order.
    pub fn on(surface: Surface) -> impl Iterator<Item = ErrorCode> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |c| c.appears_on(surface))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *c);
        }
    }

    #[test]
    fn every_code_has_a_surface_and_the_lists_are_the_contracts() {
        for c in ErrorCode::ALL {
            assert!(
                Surface::ALL.iter().any(|s| c.appears_on(*s)),
                "{c} appears nowhere"
            );
        }
        let names = |s| ErrorCode::on(s).map(ErrorCode::as_str).collect::<Vec<_>>();
        assert_eq!(
            names(Surface::Connect),
            [
                "unauthorized",
                "too_many_sockets",
                "shutting_down",
                "unavailable"
            ]
        );
        assert_eq!(
            names(Surface::Throw),
            ["invalid_id", "invalid_room", "invalid_json"]
        );
    }
}
