//! Instants as the protocol writes them: RFC 3339, UTC, millisecond precision, `Z` suffix.
//! The core never reads a clock; callers pass [`Timestamp`]s in.

use std::fmt;

use serde::{Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

/// An instant, held in UTC with millisecond precision (the precision the server writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// Why a string or number is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The string is not RFC 3339.
    #[error("{0:?} is not an RFC 3339 date-time (e.g. 2024-01-15T10:00:00Z)")]
    Format(String),
    /// Outside the years 0000–9999 that RFC 3339 can write.
    #[error("{0} is out of the representable range")]
    Range(String),
}

impl Timestamp {
    /// 1970-01-01T00:00:00.000Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    /// From milliseconds since the Unix epoch (what `Date.now()` returns).
    pub fn from_unix_millis(ms: i64) -> Result<Self, TimestampError> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .map_err(|_| TimestampError::Range(ms.to_string()))?;
        Self::from_datetime(t).ok_or_else(|| TimestampError::Range(ms.to_string()))
    }

    /// From a `time` date-time, truncated to milliseconds; `None` outside years 0–9999.
    pub fn from_datetime(t: OffsetDateTime) -> Option<Self> {
        let t = t.to_offset(UtcOffset::UTC);
        if !(0..=9999).contains(&t.year()) {
            return None;
        }
        let ms = t.millisecond();
        t.replace_nanosecond(u32::from(ms) * 1_000_000)
            .ok()
            .map(Self)
    }

    /// Parses any RFC 3339 date-time (any offset) and normalises it to UTC milliseconds.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let t =
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError::Format(s.to_owned()))?;
        Self::from_datetime(t).ok_or_else(|| TimestampError::Range(s.to_owned()))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        // Years 0–9999 keep this well inside i64.
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// This instant plus `ms` milliseconds (saturating at the representable range).
    pub fn plus_millis(self, ms: i64) -> Self {
        self.0
            .checked_add(Duration::milliseconds(ms))
            .and_then(Self::from_datetime)
            .unwrap_or(self)
    }

    /// The `time` date-time.
    pub fn as_datetime(self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        // The year range is checked on construction, so formatting cannot fail.
        let s = self.0.format(&format).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_utc_millis() {
        let t = Timestamp::parse_rfc3339("2024-01-15T11:00:00.123456+01:00").unwrap();
        assert_eq!(t.to_string(), "2024-01-15T10:00:00.123Z");
        let t = Timestamp::parse_rfc3339("2024-01-15T10:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2024-01-15T10:00:00.000Z");
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()).unwrap(), t);
    }

    #[test]
    fn refuses_non_rfc3339() {
        for s in ["", "2024-01-15", "2024-01-15T10:00:00", "yesterday"] {
            assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
        }
    }
}
