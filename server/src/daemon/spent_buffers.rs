//! Reply buffers on their way back to the engine once sent. An ACK is encoded on the engine's thread and
//! sent from the committer's; given back, its buffer takes the next reply, so a reply costs no allocation
//! (and no free on another thread than the one that allocated it). A lock taken once a commit, and once
//! a flush when there is something to take, costs less than the allocations it saves.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// More than a few batches' worth would only hold memory after a burst.
const KEPT: usize = 1024;

#[derive(Default)]
pub struct SpentBuffers {
    bufs: Mutex<Vec<Vec<u8>>>,
    /// Set when buffers are handed back, so the engine looks at the lock only then.
    any: AtomicBool,
}

impl SpentBuffers {
    /// The committer's side: buffers it has sent.
    pub fn hand_back(&self, sent: impl Iterator<Item = Vec<u8>>) {
        let Ok(mut bufs) = self.bufs.lock() else { return };
        let room = KEPT.saturating_sub(bufs.len());
        bufs.extend(sent.take(room));
        self.any.store(!bufs.is_empty(), Ordering::Release);
    }

    /// The engine's side: swaps what was handed back into `into` (empty, with its capacity kept).
    pub fn take(&self, into: &mut Vec<Vec<u8>>) {
        if !self.any.swap(false, Ordering::Acquire) {
            return;
        }
        if let Ok(mut bufs) = self.bufs.lock() {
            std::mem::swap(&mut *bufs, into);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_handed_back_are_taken_once_and_no_more_than_kept() {
        let spent = SpentBuffers::default();
        let mut into = Vec::new();
        spent.take(&mut into);
        assert!(into.is_empty());
        spent.hand_back((0..KEPT + 10).map(|_| Vec::with_capacity(300)));
        spent.take(&mut into);
        assert_eq!(into.len(), KEPT);
        into.clear();
        spent.take(&mut into);
        assert!(into.is_empty(), "taken twice");
    }
}
