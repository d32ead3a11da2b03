//! Lease changes waiting to go somewhere (into a commit, into the SQLite file), kept as the latest per
//! address: a newer change for an address replaces the one before, so however long they wait, what waits is
//! bounded by the addresses served.

use super::Change;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Ordered by address. A hashed map measured worse on the committer's thread, which adds every commit's
/// changes to the applier's (`bench/ceiling` at 20,000 DORA/s, 5 December: 1.3–1.5 µs per DORA of user
/// time against 0.5–0.9 with this one): five seconds' changes of about 200 bytes each, hashed to random
/// places in megabytes of table, miss the cache on each insert, and the table is moved whole as it grows.
#[derive(Default, Debug)]
pub struct LatestChanges(BTreeMap<Ipv4Addr, Change>);

impl LatestChanges {
    /// Adds `changes`, each replacing any waiting for its address.
    pub fn add(&mut self, changes: impl IntoIterator<Item = Change>) {
        for c in changes {
            self.0.insert(c.ip(), c);
        }
    }

    /// Adds `newer`, whose change for an address wins; into an empty set, by taking it whole.
    pub fn absorb(&mut self, newer: LatestChanges) {
        if self.0.is_empty() {
            self.0 = newer.0;
        } else {
            self.0.extend(newer.0);
        }
    }

    /// Takes every change waiting, in address order.
    pub fn take(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.0).into_values().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Keeps in `changes` (oldest first) what a [`LatestChanges`] would hold of them: the latest change per
/// address, in address order. A commit's few changes are sorted in place, where a map would allocate a
/// node and move each change twice.
pub fn keep_latest(changes: &mut Vec<Change>) {
    // Stable: an address's changes stay oldest first, so the last of each run is its latest.
    changes.sort_by_key(Change::ip);
    changes.dedup_by(|later, kept| {
        let same = later.ip() == kept.ip();
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_fixtures::lease;
    use dhcplab_engine::LeaseState;

    #[test]
    fn the_newer_change_for_an_address_wins_whichever_way_they_meet() {
        let put = |ip, state| Change::Put(lease(ip, state));
        let mut older = LatestChanges::default();
        older.add([put("192.0.2.10", LeaseState::Offered), put("192.0.2.11", LeaseState::Bound)]);
        older.add([put("192.0.2.10", LeaseState::Bound)]);
        assert_eq!(older.len(), 2);
        let mut newer = LatestChanges::default();
        newer.add([Change::remove(&lease("192.0.2.11", LeaseState::Bound))]);
        older.absorb(newer);
        let mut empty = LatestChanges::default();
        empty.absorb(older);
        assert_eq!(
            empty.take(),
            vec![put("192.0.2.10", LeaseState::Bound), Change::remove(&lease("192.0.2.11", LeaseState::Bound))]
        );
        assert!(empty.is_empty());
    }

    #[test]
    fn keeping_the_latest_in_place_agrees_with_the_map() {
        let put = |ip, state| Change::Put(lease(ip, state));
        let changes = vec![
            put("192.0.2.12", LeaseState::Offered),
            put("192.0.2.10", LeaseState::Bound),
            put("192.0.2.12", LeaseState::Bound),
            Change::remove(&lease("192.0.2.10", LeaseState::Bound)),
            put("192.0.2.11", LeaseState::Bound),
            put("192.0.2.12", LeaseState::Released),
        ];
        let mut map = LatestChanges::default();
        map.add(changes.clone());
        let mut in_place = changes;
        keep_latest(&mut in_place);
        assert_eq!(
            in_place,
            vec![
                Change::remove(&lease("192.0.2.10", LeaseState::Bound)),
                put("192.0.2.11", LeaseState::Bound),
                put("192.0.2.12", LeaseState::Released),
            ]
        );
        assert_eq!(in_place, map.take());
    }
}
