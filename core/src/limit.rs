//! [`Limit`]: a configured maximum that can be switched off. Every limit of the contract's
//! section 10 is written as a number where `0` means "no limit", so the rules that apply a limit
//! take this type instead of a bare number whose zero would be easy to misread.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

/// A maximum count or rate, or none ([`Limit::OFF`], written `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit(Option<NonZeroU64>);

impl Limit {
    /// No limit.
    pub const OFF: Limit = Limit(None);

    /// `n`, where `0` turns the limit off.
    pub const fn new(n: u64) -> Self {
        Limit(NonZeroU64::new(n))
    }

    /// The maximum, or None when the limit is off.
    pub const fn get(self) -> Option<NonZeroU64> {
        self.0
    }

    /// Whether the limit is off.
    pub const fn is_off(self) -> bool {
        self.0.is_none()
    }

    /// Whether one more fits beside `held` already counted.
    pub fn admits_one_more(self, held: usize) -> bool {
        match self.0 {
            None => true,
            Some(max) => u64::try_from(held).is_ok_and(|held| held < max.get()),
        }
    }

    /// The maximum as a `u32` (rates), saturating; None when off.
    pub fn get_u32(self) -> Option<std::num::NonZeroU32> {
        self.0
            .and_then(|n| std::num::NonZeroU32::new(u32::try_from(n.get()).unwrap_or(u32::MAX)))
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("0"),
        }
    }
}

/// Why a limit could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a whole number (0 turns the limit off)")]
pub struct LimitError(String);

impl FromStr for Limit {
    type Err = LimitError;

    fn from_str(s: &str) -> Result<Self, LimitError> {
        s.trim()
            .parse::<u64>()
            .map(Limit::new)
            .map_err(|_| LimitError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_off_and_round_trips() {
        assert_eq!("0".parse::<Limit>(), Ok(Limit::OFF));
        assert!(Limit::OFF.is_off());
        assert_eq!(Limit::OFF.to_string(), "0");
        assert_eq!(" 16 ".parse::<Limit>(), Ok(Limit::new(16)));
        assert_eq!(Limit::new(16).to_string(), "16");
        assert!("-1".parse::<Limit>().is_err());
        assert!("ten".parse::<Limit>().is_err());
    }

    #[test]
    fn boundary() {
        let two = Limit::new(2);
        assert!(two.admits_one_more(0));
        assert!(two.admits_one_more(1));
        assert!(!two.admits_one_more(2));
        assert!(Limit::OFF.admits_one_more(usize::MAX));
    }

    #[test]
    fn rates_saturate() {
        assert_eq!(Limit::new(5).get_u32().map(|n| n.get()), Some(5));
        assert_eq!(
            Limit::new(u64::MAX).get_u32().map(|n| n.get()),
            Some(u32::MAX)
        );
        assert_eq!(Limit::OFF.get_u32(), None);
    }
}
