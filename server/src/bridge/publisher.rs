//! The engine's end of the live bridge: each change is numbered, serialized once, and shared by every
//! watcher through a bounded broadcast ring. The engine never waits for a watcher.

use dhcplab_engine::bridge::Update;
use tokio::sync::broadcast;

/// Changes kept for watchers; one further behind than this gets a snapshot.
pub const BACKLOG: usize = 4096;

/// An update already serialized (once, however many watchers there are), with its sequence number.
#[derive(Debug, Clone)]
pub struct Published {
    pub seq: u64,
    /// Shared, not copied, by every watcher that sends it.
    pub json: axum::extract::ws::Utf8Bytes,
}

/// Numbers and broadcasts changes. Owned by the engine's loop, the only place changes happen.
pub struct Publisher {
    tx: broadcast::Sender<Published>,
    /// The sequence number of the last change published.
    seq: u64,
}

impl Publisher {
    pub fn new(tx: broadcast::Sender<Published>) -> Self {
        Publisher { tx, seq: 0 }
    }

    /// Whether anyone is watching (changes cost nothing otherwise).
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Numbers one change and sends it, serialized once, to every watcher.
    pub fn publish(&mut self, make: impl FnOnce(u64) -> Update) {
        self.seq += 1;
        let json = make(self.seq).to_json();
        // No receiver is not an error: a watcher may have just left.
        let _ = self.tx.send(Published { seq: self.seq, json: json.into() });
    }
}
