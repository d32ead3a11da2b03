//! Simulated time: events wait in a queue ordered by when they happen, and by when they were queued among
//! those at the same instant, so a run is the same every time.

use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

struct Queued<E> {
    at: Instant,
    seq: u64,
    event: E,
}

// Ordered by time and sequence only; the event itself never takes part.
impl<E> PartialEq for Queued<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}

impl<E> Eq for Queued<E> {}

impl<E> Ord for Queued<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

impl<E> PartialOrd for Queued<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Events in the order they happen; equal times in the order they were pushed.
pub(super) struct Scheduler<E> {
    queue: BinaryHeap<Reverse<Queued<E>>>,
    seq: u64,
}

impl<E> Default for Scheduler<E> {
    fn default() -> Self {
        Scheduler { queue: BinaryHeap::new(), seq: 0 }
    }
}

impl<E> Scheduler<E> {
    pub(super) fn push(&mut self, at: Instant, event: E) {
        self.seq += 1;
        self.queue.push(Reverse(Queued { at, seq: self.seq, event }));
    }

    pub(super) fn next_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(q)| q.at)
    }

    pub(super) fn pop(&mut self) -> Option<(Instant, E)> {
        self.queue.pop().map(|Reverse(q)| (q.at, q.event))
    }
}
