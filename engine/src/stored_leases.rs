//! Stored leases on their way into a fresh lease table at start-up. A store reads them in batches, in its
//! own order (SQLite's rowids); each batch is put in address order as it arrives, while the store reads
//! the next, and loading then merges the sorted batches: it reads each one front to back instead of
//! fetching a million records in random order.

use crate::lease::Lease;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;

/// Batches of stored records, each sorted by address.
#[derive(Debug, Default)]
pub struct StoredLeases {
    runs: Vec<Vec<Lease>>,
    len: usize,
}

impl StoredLeases {
    /// Makes room for `runs` more batches.
    pub fn reserve_runs(&mut self, runs: usize) {
        self.runs.reserve_exact(runs);
    }

    /// Takes one batch, sorting it by address (stably: records at one address stay in the order read).
    pub fn add(&mut self, mut batch: Vec<Lease>) {
        batch.sort_by_key(|l| l.ip);
        self.len += batch.len();
        self.runs.push(batch);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every record, in address order; records at one address in the order they were read.
    pub fn into_sorted(self) -> impl Iterator<Item = Lease> {
        let mut runs: Vec<std::vec::IntoIter<Lease>> = self.runs.into_iter().map(Vec::into_iter).collect();
        // Each run's next record, and a heap of (its address, run) to pick the lowest: of two records at one
        // address, the one of the earlier run.
        let mut next: Vec<Option<Lease>> = runs.iter_mut().map(Iterator::next).collect();
        let mut heap: BinaryHeap<Reverse<(Ipv4Addr, usize)>> =
            next.iter().enumerate().filter_map(|(run, l)| Some(Reverse((l.as_ref()?.ip, run)))).collect();
        std::iter::from_fn(move || {
            let Reverse((_, run)) = heap.pop()?;
            let after = runs.get_mut(run).and_then(Iterator::next);
            if let Some(l) = &after {
                heap.push(Reverse((l.ip, run)));
            }
            std::mem::replace(next.get_mut(run)?, after)
        })
    }
}

impl From<Vec<Lease>> for StoredLeases {
    fn from(batch: Vec<Lease>) -> Self {
        let mut stored = StoredLeases::default();
        stored.add(batch);
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::test_record as record;

    #[test]
    fn batches_merge_into_address_order_and_ties_keep_the_order_read() {
        let mut stored = StoredLeases::default();
        stored.add(vec![record(30, 1), record(10, 1), record(20, 1)]);
        stored.add(vec![]);
        stored.add(vec![record(20, 2), record(5, 2), record(40, 2), record(20, 3)]);
        stored.add(vec![record(10, 4)]);
        assert_eq!(stored.len(), 8);
        let merged: Vec<(u8, u8)> = stored.into_sorted().map(|l| (l.ip.octets()[3], l.hw.as_bytes()[5])).collect();
        assert_eq!(merged, [(5, 2), (10, 1), (10, 4), (20, 1), (20, 2), (20, 3), (30, 1), (40, 2)]);
        assert_eq!(StoredLeases::default().into_sorted().count(), 0);
    }
}
