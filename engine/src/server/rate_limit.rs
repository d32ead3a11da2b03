//! How many packets one client (by hardware address), or one link, may send per second. A client that asks
//! in a loop, broken or hostile, costs the server a bounded share of its time; real clients send a handful
//! of packets per exchange and never come near it.

use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::hash::Hash;

/// Counted on every packet: foldhash, randomly seeded, at a fraction of SipHash's cost.
type Counts<K> = HashMap<K, u32, foldhash::fast::RandomState>;

const WINDOW: Duration = Duration::from_secs(1);

/// Counts per key (a hardware address, a link) in the current one-second window. The map is emptied each
/// window, so it holds at most the keys seen in one second: a flood of random MACs cannot make it grow.
#[derive(Debug)]
pub struct RateLimit<K> {
    window_start: Instant,
    counts: Counts<K>,
}

impl<K> Default for RateLimit<K> {
    fn default() -> Self {
        RateLimit { window_start: Instant::ZERO, counts: Counts::default() }
    }
}

impl<K: Hash + Eq> RateLimit<K> {
    /// Whether `key` may send one more packet now, with at most `per_second` a second (0: no limit).
    pub fn allow(&mut self, now: Instant, key: K, per_second: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        if now.saturating_duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.counts.clear();
        }
        let n = self.counts.entry(key).or_default();
        *n += 1;
        *n <= per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hwaddr::HwAddr;

    #[test]
    fn a_client_gets_its_share_each_second_and_no_more() {
        let mut r = RateLimit::default();
        let (a, b) = (HwAddr::ethernet([2, 0, 0, 0, 0, 1]), HwAddr::ethernet([2, 0, 0, 0, 0, 2]));
        let t = Instant::from_secs(10);
        let allowed = (0..30).filter(|_| r.allow(t, a, 20)).count();
        assert_eq!(allowed, 20);
        assert!(r.allow(t, b, 20), "another client is not held back");
        assert!(r.allow(t + Duration::from_secs(1), a, 20), "a new second, a new share");
        assert!(r.allow(t, a, 0), "0 means no limit");
    }
}
