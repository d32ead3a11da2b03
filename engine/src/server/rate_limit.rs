//! How many packets one client (by hardware address) may send per second. A client that asks in a loop,
//! broken or hostile, costs the server a bounded share of its time; real clients send a handful of packets
//! per exchange and never come near it.

use crate::hwaddr::HwAddr;
use crate::time::{Duration, Instant};
use std::collections::HashMap;

const WINDOW: Duration = Duration::from_secs(1);

/// Counts per hardware address in the current one-second window. The map is emptied each window, so it
/// holds at most the addresses seen in one second: a flood of random MACs cannot make it grow.
#[derive(Debug, Default)]
pub struct ClientRateLimit {
    window_start: Instant,
    counts: HashMap<HwAddr, u32>,
}

impl ClientRateLimit {
    /// Whether `hw` may send one more packet now, with at most `per_second` a second (0: no limit).
    pub fn allow(&mut self, now: Instant, hw: HwAddr, per_second: u32) -> bool {
        if per_second == 0 {
            return true;
        }
        if now.saturating_duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.counts.clear();
        }
        let n = self.counts.entry(hw).or_default();
        *n += 1;
        *n <= per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_share_each_second_and_no_more() {
        let mut r = ClientRateLimit::default();
        let (a, b) = (HwAddr::ethernet([2, 0, 0, 0, 0, 1]), HwAddr::ethernet([2, 0, 0, 0, 0, 2]));
        let t = Instant::from_secs(10);
        let allowed = (0..30).filter(|_| r.allow(t, a, 20)).count();
        assert_eq!(allowed, 20);
        assert!(r.allow(t, b, 20), "another client is not held back");
        assert!(r.allow(t + Duration::from_secs(1), a, 20), "a new second, a new share");
        assert!(r.allow(t, a, 0), "0 means no limit");
    }
}
