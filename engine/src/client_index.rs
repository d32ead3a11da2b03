//! Which address each client holds (or last held) in each subnet. With a million clients a map keyed by
//! (subnet, client) copied every client's key, a quarter of a lease's memory; this index keeps only the
//! addresses and reads each client's key from its lease record when it needs it.

use crate::lease::{ClientKeyRef, Lease};
use hashbrown::HashTable;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Default)]
pub struct ClientIndex {
    /// Addresses whose records carry the key they are filed under.
    table: HashTable<Ipv4Addr>,
    hasher: foldhash::fast::RandomState,
}

/// The lease records the index reads keys from.
pub type Records = BTreeMap<Ipv4Addr, Lease>;

impl ClientIndex {
    fn hash(&self, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> u64 {
        self.hasher.hash_one((subnet, client))
    }

    /// The hash of an address already filed, read from its record: what the table asks when it grows.
    /// (A function of the hasher, not of `self`, so the table can be borrowed beside it.)
    fn rehash<'a>(hasher: &'a foldhash::fast::RandomState, records: &'a Records) -> impl Fn(&Ipv4Addr) -> u64 + 'a {
        move |e| records.get(e).map_or(0, |l| hasher.hash_one((l.subnet, l.client())))
    }

    fn is_key(records: &Records, ip: Ipv4Addr, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> bool {
        records.get(&ip).is_some_and(|l| l.subnet == subnet && l.client() == client)
    }

    /// The address filed for this client in this subnet.
    pub fn get(&self, records: &Records, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> Option<Ipv4Addr> {
        let h = self.hash(subnet, client);
        self.table.find(h, |&ip| Self::is_key(records, ip, subnet, client)).copied()
    }

    /// Files `ip` for the client's key, replacing the address filed for it while that record still
    /// exists. The record at `ip` must carry the key by the next call that reads keys (the caller inserts
    /// it right after); a record removed must be unfiled with `remove` first.
    pub fn set(&mut self, records: &Records, subnet: Ipv4Net, client: ClientKeyRef<'_>, ip: Ipv4Addr) {
        let h = self.hash(subnet, client);
        if let Ok(old) = self.table.find_entry(h, |&e| e == ip || Self::is_key(records, e, subnet, client)) {
            old.remove();
        }
        self.table.insert_unique(h, ip, Self::rehash(&self.hasher, records));
    }

    /// Files every record of a table just loaded, but the ones `skip` passes over, into an empty index.
    /// Returns the records left unfiled because their client already had one filed in their subnet (a
    /// client's records in address order).
    pub fn file_all(&mut self, records: &Records, skip: impl Fn(&Lease) -> bool) -> Vec<Ipv4Addr> {
        let mut keyed: Vec<(u64, Ipv4Addr, &Lease)> =
            records.values().filter(|l| !skip(l)).map(|l| (self.hash(l.subnet, l.client()), l.ip, l)).collect();
        self.reserve(records, keyed.len());
        // In the order of their buckets, so filing walks the table front to back instead of touching a
        // random cache line for each of a million clients. (hashbrown puts a hash at `hash & (buckets - 1)`,
        // with buckets a power of two above capacity × 8/7; were that to change, the order would only lose
        // its use.) A record itself is read only when its hash's tag matches another's. A client's records
        // share a bucket; of those, the one at the lowest address is filed, whatever the hash's seed.
        let buckets = (self.table.capacity() / 7 * 8).next_power_of_two().max(1) as u64;
        keyed.sort_unstable_by_key(|&(h, ip, _)| (h & (buckets - 1), ip));
        let rehash = Self::rehash(&self.hasher, records);
        let mut twice = Vec::new();
        for (h, ip, l) in keyed {
            if self.table.find(h, |&e| Self::is_key(records, e, l.subnet, l.client())).is_some() {
                twice.push(ip);
            } else {
                self.table.insert_unique(h, ip, &rehash);
            }
        }
        twice
    }

    /// Unfiles `ip` if it is filed under this key.
    pub fn remove(&mut self, subnet: Ipv4Net, client: ClientKeyRef<'_>, ip: Ipv4Addr) {
        let h = self.hash(subnet, client);
        if let Ok(e) = self.table.find_entry(h, |&e| e == ip) {
            e.remove();
        }
    }

    /// Makes room for `more` clients at once (before a database loads): growing step by step re-reads
    /// every filed client's key from its record at each step.
    pub fn reserve(&mut self, records: &Records, more: usize) {
        self.table.reserve(more, Self::rehash(&self.hasher, records));
    }

    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.table.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::test_record as record;

    #[test]
    fn finds_a_client_by_the_key_its_record_carries_and_forgets_it_on_remove() {
        let mut records = Records::new();
        let mut index = ClientIndex::default();
        for i in 1..=200u8 {
            let l = record(i, i);
            index.set(&records, l.subnet, l.client(), l.ip);
            records.insert(l.ip, l);
        }
        let seven = record(7, 7);
        assert_eq!(index.get(&records, seven.subnet, seven.client()), Some(seven.ip));
        assert_eq!(index.get(&records, "198.51.100.0/24".parse().unwrap(), seven.client()), None, "another subnet");
        // Client 7 moves to .250: its old record goes (and is unfiled, as the lease table does), the new
        // address is filed.
        let moved = record(250, 7);
        records.remove(&seven.ip);
        index.remove(seven.subnet, seven.client(), seven.ip);
        index.set(&records, moved.subnet, moved.client(), moved.ip);
        records.insert(moved.ip, moved.clone());
        assert_eq!(index.get(&records, moved.subnet, moved.client()), Some(moved.ip));
        assert_eq!(index.len(), 200);
        index.remove(moved.subnet, moved.client(), moved.ip);
        assert_eq!(index.get(&records, moved.subnet, moved.client()), None);
        assert_eq!(index.len(), 199);
    }
}
