//! The host's clock and ids: the core takes "now" and fresh ids as arguments, and these are
//! where they come from.

use switchyard_core::Timestamp;

/// The current time as the protocol writes it.
pub(crate) fn now() -> Timestamp {
    // Only a system clock outside the years 0–9999 falls back to the epoch.
    Timestamp::from_datetime(time::OffsetDateTime::now_utc()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A fresh, time-ordered unique id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The current time in Unix milliseconds (stream expiry).
pub(crate) fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(i64::MAX)
}
