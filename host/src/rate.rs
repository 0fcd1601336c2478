//! Rate limits (contract section 10) over `governor`'s GCRA: a budget per socket for its events
//! ([`EventBudget`]), and limiters keyed by API key and by client address ([`Keyed`]). Every
//! limit is `n` per second with bursts of `2n`; a [`Limit::OFF`] builds no limiter at all, so a
//! limit that is off costs nothing per event.
//!
//! GCRA keeps one 64-bit timestamp per key, so a keyed limiter costs a map entry per key it has
//! seen; [`Keyed::retain_recent`] drops the keys whose budget is full again (idle keys), which
//! keeps that memory bounded by the keys active within about two seconds.
//!
//! The hub builds and checks these itself; they are public for embedders that want the same
//! limits on routes of their own, and for the benchmark (`cargo bench -p switchyard-host`).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, NotUntil, Quota};
use switchyard_core::Limit;

/// `n` per second with bursts of twice that; None when the limit is off.
pub fn quota(limit: Limit) -> Option<Quota> {
    let n = limit.get_u32()?;
    let two = NonZeroU32::MIN.saturating_add(1);
    Some(Quota::per_second(n).allow_burst(n.saturating_mul(two)))
}

/// How long a refused caller should wait before the next one would be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    fn from(not_until: &NotUntil<<DefaultClock as Clock>::Instant>, clock: &DefaultClock) -> Self {
        RetryAfter(not_until.wait_time_from(clock.now()))
    }

    /// For a `Retry-After` header: whole seconds, rounded up, at least 1 (the header cannot say
    /// less, and 0 would invite an immediate retry that is refused again).
    pub fn whole_seconds(self) -> u64 {
        let d = self.0;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// The clock of every limiter. Making a `quanta` clock (governor's default) runs CPUID several
/// times to find the TSC, and on a virtual machine each CPUID traps to the hypervisor: 47 µs
/// per clock here (`cargo bench -p switchyard-host --bench limits`), a fifth of a connect's CPU
/// when every socket's budget made its own. A clone is a copy of its calibration.
static CLOCK: LazyLock<DefaultClock> = LazyLock::new(DefaultClock::default);

/// One socket's budget of client events (held by its event handler, `edge::socket`).
pub struct EventBudget(DefaultDirectRateLimiter);

impl EventBudget {
    /// A fresh, full budget; None when the limit is off.
    pub fn new(limit: Limit) -> Option<Self> {
        quota(limit).map(|q| {
            Self(DefaultDirectRateLimiter::direct_with_clock(
                q,
                CLOCK.clone(),
            ))
        })
    }

    /// Spends one event, or says when the next would fit.
    pub fn check(&self) -> Result<(), RetryAfter> {
        self.0
            .check()
            .map_err(|n| RetryAfter::from(&n, self.0.clock()))
    }
}

/// A limiter per key (an API key's index, a client address).
pub struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    /// A limiter with every key's budget full; None when the limit is off.
    pub fn new(limit: Limit) -> Option<Self> {
        quota(limit).map(|q| Self {
            limiter: governor::RateLimiter::new(q, Default::default(), CLOCK.clone()),
        })
    }

    /// Spends one for `key`, or says when the next would fit.
    pub fn check(&self, key: &K) -> Result<(), RetryAfter> {
        self.limiter
            .check_key(key)
            .map_err(|n| RetryAfter::from(&n, self.limiter.clock()))
    }

    /// Forgets the keys whose budget has refilled: they would be allowed their full burst
    /// anyway, so nothing is lost but their memory.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// The hub's keyed limiters (the per-socket budgets live with each socket).
pub(crate) struct Rates {
    /// Per API key, keyed by which configured key matched (so at most one entry per key).
    pub(crate) api: Option<Keyed<usize>>,
    /// Per client address, for Engine.IO handshakes.
    pub(crate) connects: Option<Keyed<std::net::IpAddr>>,
}

impl Rates {
    /// The limiters of `--api-requests-per-sec` and `--connects-per-sec`.
    pub(crate) fn new(api: Limit, connects: Limit) -> Self {
        Self {
            api: Keyed::new(api),
            connects: Keyed::new(connects),
        }
    }

    /// How many keys the API and the connect limiter remember.
    pub(crate) fn key_counts(&self) -> (usize, usize) {
        (
            self.api.as_ref().map_or(0, Keyed::len),
            self.connects.as_ref().map_or(0, Keyed::len),
        )
    }

    /// Drops idle keys of every keyed limiter.
    pub(crate) fn retain_recent(&self) {
        if let Some(l) = &self.api {
            l.retain_recent();
        }
        if let Some(l) = &self.connects {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_twice_the_rate_and_zero_is_off() {
        assert!(quota(Limit::OFF).is_none());
        assert!(EventBudget::new(Limit::OFF).is_none());
        let budget = EventBudget::new(Limit::new(5)).expect("on");
        for i in 0..10 {
            assert!(budget.check().is_ok(), "event {i} of the burst");
        }
        let wait = budget.check().expect_err("the 11th is refused");
        assert!(wait.0 > Duration::ZERO && wait.0 <= Duration::from_millis(200));
        assert_eq!(wait.whole_seconds(), 1);
    }

    #[test]
    fn keys_are_apart_and_idle_ones_are_forgotten() {
        let keyed = Keyed::<u8>::new(Limit::new(1)).expect("on");
        assert!(keyed.check(&1).is_ok() && keyed.check(&1).is_ok());
        assert!(keyed.check(&1).is_err());
        assert!(keyed.check(&2).is_ok(), "another key has its own budget");
        assert_eq!(keyed.len(), 2);
        keyed.retain_recent();
        assert_eq!(keyed.len(), 2, "both are still refilling");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::ZERO).whole_seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1)).whole_seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1001)).whole_seconds(), 2);
        assert_eq!(RetryAfter(Duration::from_secs(3)).whole_seconds(), 3);
    }
}
