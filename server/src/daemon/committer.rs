//! Group commit, on its own thread: the engine hands over each batch's lease changes with the ACKs that
//! announce them; the committer makes the changes durable (one transaction, one fsync for every batch
//! waiting) and only then sends those ACKs. A lease is on disk before its client hears of it.

use crate::link::LinkSender;
use crate::store::{Change, LeaseStore};
use dhcplab_engine::Transmit;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tracing::{error, warn};

/// Batches waiting for the store. When it is full the engine waits, the sockets' kernel buffers fill, and
/// the kernel drops (and counts) what does not fit: memory stays bounded under overload.
pub const STORE_QUEUE: usize = 64;

/// Counters kept outside the engine.
#[derive(Default)]
pub struct Counters {
    pub store_commits: AtomicU64,
    pub store_failures: AtomicU64,
    /// ACKs withheld because their lease could not be stored.
    pub acks_withheld: AtomicU64,
}

/// A batch whose lease changes must be durable before its replies leave.
pub struct StoreJob {
    pub changes: Vec<Change>,
    pub replies: Vec<Transmit>,
}

/// Takes every batch waiting, commits all their changes in one transaction, then sends their ACKs. If the
/// commit fails the ACKs are not sent (and counted): the client will ask again.
pub fn run(
    mut store: Box<dyn LeaseStore>,
    mut rx: mpsc::Receiver<StoreJob>,
    senders: Vec<Option<LinkSender>>,
    counters: Arc<Counters>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while let Ok(j) = rx.try_recv() {
            jobs.push(j);
        }
        let changes: Vec<Change> = jobs.iter().flat_map(|j| j.changes.iter().cloned()).collect();
        if !changes.is_empty() {
            if let Err(e) = store.commit(&changes) {
                error!("could not store leases, withholding their ACKs: {e}");
                counters.store_failures.fetch_add(1, Ordering::Relaxed);
                let n: usize = jobs.iter().map(|j| j.replies.len()).sum();
                counters.acks_withheld.fetch_add(n as u64, Ordering::Relaxed);
                continue;
            }
            counters.store_commits.fetch_add(1, Ordering::Relaxed);
        }
        for t in jobs.iter().flat_map(|j| j.replies.iter()) {
            if let Some(Some(sender)) = senders.get(t.iface as usize)
                && let Err(e) = sender.send(t)
            {
                warn!("send failed: {e}");
            }
        }
    }
}
