//! The daemon's clock: the engine never reads one, so the daemon owns it and passes `now` in.

use dhcplab_engine::Instant;

/// The daemon's clock: monotonic, expressed as Unix milliseconds so stored times mean the same after a
/// restart.
#[derive(Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
    start_unix_ms: u64,
}

impl Clock {
    pub fn new() -> Self {
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Clock { start: tokio::time::Instant::now(), start_unix_ms: u64::try_from(unix.as_millis()).unwrap_or(0) }
    }

    pub fn now(&self) -> Instant {
        Instant::from_millis(self.start_unix_ms + u64::try_from(self.start.elapsed().as_millis()).unwrap_or(0))
    }

    /// The tokio instant at which engine time `t` falls.
    pub fn at(&self, t: Instant) -> tokio::time::Instant {
        self.start + std::time::Duration::from_millis(t.as_millis().saturating_sub(self.start_unix_ms))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
