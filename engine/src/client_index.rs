//! Which address each client holds (or last held) in each subnet. With a million clients a map keyed by
//! (subnet, client) copied every client's key, a quarter of a lease's memory; this index keeps only the
//! addresses, with 32 bits of each key's hash, and reads a client's key from its lease record when a
//! lookup's hash matches.

use crate::addr_key::AddrKey;
use crate::lease::{ClientKeyRef, Lease};
use hashbrown::HashTable;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;

/// One client's filing: its address, and the hash it is filed under. Growing the table moves every entry
/// at once; with the hash at hand it does not look up each one's record (a million lookups in the address
/// map, hundreds of milliseconds with the engine stopped, at a million clients).
#[derive(Debug, Clone, Copy)]
struct Filed {
    ip: Ipv4Addr,
    hash: u32,
}

#[derive(Debug, Clone, Default)]
pub struct ClientIndex {
    /// Addresses whose records carry the key they are filed under.
    table: HashTable<Filed>,
    hasher: foldhash::fast::RandomState,
}

/// The lease records the index reads keys from.
pub type Records = BTreeMap<AddrKey, Lease>;

/// The table's hash from the 32 bits kept: hashbrown takes the bucket from the low bits and a tag from the
/// top seven, so both halves carry the same bits.
fn spread(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

fn rehash(e: &Filed) -> u64 {
    spread(e.hash)
}

impl ClientIndex {
    fn hash(&self, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> u32 {
        self.hasher.hash_one((subnet, client)) as u32
    }

    fn is_key(records: &Records, ip: Ipv4Addr, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> bool {
        records.get(&ip.into()).is_some_and(|l| l.subnet == subnet && l.client() == client)
    }

    /// The address filed for this client in this subnet.
    pub fn get(&self, records: &Records, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> Option<Ipv4Addr> {
        let h = self.hash(subnet, client);
        self.table.find(spread(h), |e| e.hash == h && Self::is_key(records, e.ip, subnet, client)).map(|e| e.ip)
    }

    /// Files `ip` for the client's key, replacing the address filed for it while that record still
    /// exists. The record at `ip` must carry the key by the next call that reads keys (the caller inserts
    /// it right after); a record removed must be unfiled with `remove` first.
    pub fn set(&mut self, records: &Records, subnet: Ipv4Net, client: ClientKeyRef<'_>, ip: Ipv4Addr) {
        let h = self.hash(subnet, client);
        let filed = |e: &Filed| e.hash == h && (e.ip == ip || Self::is_key(records, e.ip, subnet, client));
        if let Ok(old) = self.table.find_entry(spread(h), filed) {
            old.remove();
        }
        self.table.insert_unique(spread(h), Filed { ip, hash: h }, rehash);
    }

    /// Files every record of a table just loaded, but the ones `skip` passes over, into an empty index.
    /// Returns the records left unfiled because their client already had one filed in their subnet (a
    /// client's records in address order).
    pub fn file_all(&mut self, records: &Records, skip: impl Fn(&Lease) -> bool) -> Vec<Ipv4Addr> {
        let mut keyed: Vec<(u32, Ipv4Addr, &Lease)> =
            records.values().filter(|l| !skip(l)).map(|l| (self.hash(l.subnet, l.client()), l.ip, l)).collect();
        self.reserve(keyed.len());
        // In the order of their buckets, so filing walks the table front to back instead of touching a
        // random cache line for each of a million clients. (hashbrown puts a hash at `hash & (buckets - 1)`,
        // with buckets a power of two above capacity × 8/7; were that to change, the order would only lose
        // its use.) A record itself is read only when its hash matches another's. A client's records
        // share a bucket; of those, the one at the lowest address is filed, whatever the hash's seed.
        let buckets = (self.table.capacity() / 7 * 8).next_power_of_two().max(1) as u64;
        keyed.sort_unstable_by_key(|&(h, ip, _)| (spread(h) & (buckets - 1), ip));
        let mut twice = Vec::new();
        for (h, ip, l) in keyed {
            let same = |e: &Filed| e.hash == h && Self::is_key(records, e.ip, l.subnet, l.client());
            if self.table.find(spread(h), same).is_some() {
                twice.push(ip);
            } else {
                self.table.insert_unique(spread(h), Filed { ip, hash: h }, rehash);
            }
        }
        twice
    }

    /// Unfiles `ip` if it is filed under this key.
    pub fn remove(&mut self, subnet: Ipv4Net, client: ClientKeyRef<'_>, ip: Ipv4Addr) {
        let h = self.hash(subnet, client);
        if let Ok(e) = self.table.find_entry(spread(h), |e| e.ip == ip) {
            e.remove();
        }
    }

    /// Makes room for `more` clients at once (before a database loads).
    pub fn reserve(&mut self, more: usize) {
        self.table.reserve(more, rehash);
    }

    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.table.iter().map(|e| e.ip)
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
            records.insert(l.ip.into(), l);
        }
        // The table grew several times on the way, moving entries by the hashes they keep.
        for i in 1..=200u8 {
            let l = record(i, i);
            assert_eq!(index.get(&records, l.subnet, l.client()), Some(l.ip), "client {i} after the table grew");
        }
        let seven = record(7, 7);
        assert_eq!(index.get(&records, seven.subnet, seven.client()), Some(seven.ip));
        assert_eq!(index.get(&records, "198.51.100.0/24".parse().unwrap(), seven.client()), None, "another subnet");
        // Client 7 moves to .250: its old record goes (and is unfiled, as the lease table does), the new
        // address is filed.
        let moved = record(250, 7);
        records.remove(&seven.ip.into());
        index.remove(seven.subnet, seven.client(), seven.ip);
        index.set(&records, moved.subnet, moved.client(), moved.ip);
        records.insert(moved.ip.into(), moved.clone());
        assert_eq!(index.get(&records, moved.subnet, moved.client()), Some(moved.ip));
        assert_eq!(index.len(), 200);
        index.remove(moved.subnet, moved.client(), moved.ip);
        assert_eq!(index.get(&records, moved.subnet, moved.client()), None);
        assert_eq!(index.len(), 199);
    }
}
