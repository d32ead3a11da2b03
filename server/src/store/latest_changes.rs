//! Lease changes waiting to go somewhere (into a commit, into the SQLite file), kept as the latest per
//! address: a newer change for an address replaces the one before, so however long they wait, what waits is
//! bounded by the addresses served.

use super::Change;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Hashed, not ordered: the committer adds every commit's changes (under the applier's lock), the applier
/// sorts once per write. foldhash, randomly seeded, as the engine's tables are.
#[derive(Default, Debug)]
pub struct LatestChanges(HashMap<Ipv4Addr, Change, foldhash::fast::RandomState>);

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
        let mut all: Vec<Change> = std::mem::take(&mut self.0).into_values().collect();
        // One change per address: no two compare equal.
        all.sort_unstable_by_key(Change::ip);
        all
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
