//! The engine's own clock type. The caller owns the clock and passes `now` in; the engine never reads one.
//! (`std::time::Instant` cannot be constructed from a number and panics on `wasm32-unknown-unknown`.)

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};
pub use std::time::Duration;

/// Whole seconds as DHCP's 32-bit time options carry them (lease time, T1, T2), saturating: u32::MAX is
/// "infinite" (RFC 2132 §9.2).
pub fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// A point in time, in milliseconds since an epoch the caller chooses (boot of the daemon, start of a
/// simulation). Only differences between instants mean anything to the engine.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    pub const fn from_secs(s: u64) -> Self {
        Instant(s.saturating_mul(1000))
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(ms))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// `h:mm:ss.mmm` since the epoch — how the lab and the logs show simulated time.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let s = self.0 / 1000;
        write!(f, "{}:{:02}:{:02}.{ms:03}", s / 3600, (s / 60) % 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Instant::from_secs(10);
        assert_eq!(t + Duration::from_millis(1500), Instant::from_millis(11_500));
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::from_secs(4), Duration::from_secs(6));
        assert_eq!(Instant::from_millis(u64::MAX) + Duration::from_secs(1), Instant::from_millis(u64::MAX));
    }

    #[test]
    fn displays_as_clock_time() {
        assert_eq!(Instant::from_millis(3_723_004).to_string(), "1:02:03.004");
    }
}
