//! Lease changes waiting to go somewhere (into a commit, into the SQLite file), kept as the latest per
//! address: a newer change for an address replaces the one before, so however long they wait, what waits is
//! bounded by the addresses served.

use super::Change;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

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
}
