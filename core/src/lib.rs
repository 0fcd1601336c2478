//! # switchyard-core
//!
//! The platform-agnostic heart of Switchyard, shared by the native server (`switchyard-host`)
//! and the browser package (`switchyard-wasm`), so that both sides build the same names and run
//! the same validation.
//!
//! The crate does no IO, reads no clock and draws no random numbers: "now" and generated ids
//! come in as arguments, and every decision (a delivery, a presence change, an acknowledgement)
//! comes back as a plain value that the caller carries out.
//!
//! That includes streams and recovery ([`stream`]): which deliveries are kept in a stream,
//! whether a reconnecting client gets what it missed ([`recover`]), and the tracker the browser
//! runs on each event's [`Meta`] ([`StreamTracker`]).
//!
//! ## Quick start
//!
//! ```
//! use switchyard_core::{Input, Room, Timestamp, UserId, routing};
//!
//! let user: UserId = "tech-42".parse().unwrap();
//! assert_eq!(Room::User(user.clone()).to_string(), "user_tech-42");
//!
//! let now = Timestamp::from_unix_millis(1_705_312_800_000).unwrap();
//! let input: Input = serde_json::from_str(r#"{"type":"info","message":"Truck arrives at 10:00"}"#).unwrap();
//! let delivery = routing::notify_user(user, &input, "n-1".into(), now).unwrap();
//! assert_eq!(delivery.target.to_string(), "user_tech-42");
//! assert_eq!(delivery.event.as_str(), "notification");
//!
//! let bad: Input = serde_json::from_str(r#"{"type":"loud","message":""}"#).unwrap();
//! let errors = switchyard_core::payload::validate_notification(&bad, now).unwrap_err();
//! assert_eq!(errors.codes(), ["unknown_value", "empty"]);
//! ```

pub mod auth;
pub mod code;
pub mod event;
pub mod ids;
pub mod input;
pub mod limit;
pub mod payload;
pub mod presence;
pub mod protocol;
pub mod room;
pub mod routing;
#[cfg(feature = "utoipa")]
pub mod schema;
mod small;
pub mod stream;
pub mod subscriptions;
pub mod time;
pub mod tracker;
pub mod validate;

pub use auth::{GrantError, RoomGrants, RoomPattern};
pub use code::{ErrorCode, Surface};
pub use event::{EventName, EventNameError};
pub use ids::{Id, IdError, MeterId, SystemName, TicketId, UserId};
pub use input::{Fields, Input};
pub use limit::Limit;
pub use presence::{Presence, PresenceChange};
pub use room::{Room, RoomError, RoomKind};
pub use routing::{Delivery, Target};
pub use stream::{Meta, NotRecovered, Replay, Retained, StreamName, StreamPosition, recover};
pub use subscriptions::{Joined, Subscriptions};
pub use time::Timestamp;
pub use tracker::{Accepted, StreamTracker};
pub use validate::{FieldError, ValidationErrors};
