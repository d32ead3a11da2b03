//! The lease table: every lease record, the free-address sets, and the deadlines that end offers, leases
//! and probations. All changes go through a few methods here so the invariants hold in one place:
//! an address is free iff it is in a pool, not reserved, and no record holds it; a client has at most one
//! record per subnet; every holding record has exactly one deadline.

use crate::addr_key::AddrKey;
use crate::allocator::Allocator;
use crate::client_index::ClientIndex;
use crate::lease::{ClientKeyRef, Lease, LeaseState};
use crate::stored_leases::StoredLeases;
use crate::time::Instant;
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;

/// How many records one subnet has in each state, kept as records change: stats and metrics never scan
/// the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubnetCounts {
    by_state: [usize; 5],
    /// Declined records whose address lies in a dynamic pool (a declined reserved or out-of-pool address
    /// takes nothing from the pool).
    pub declined_in_pool: usize,
}

impl SubnetCounts {
    pub fn of(&self, state: LeaseState) -> usize {
        self.by_state[state.index()]
    }
}

#[derive(Debug, Clone, Default)]
pub struct LeaseTable {
    /// In address order, so the API and the dashboard page through a million records from a cursor.
    leases: BTreeMap<AddrKey, Lease>,
    /// Touched on every change, so hashed with foldhash rather than SipHash (as the client index is).
    counts: HashMap<Ipv4Net, SubnetCounts, foldhash::fast::RandomState>,
    clients: ClientIndex,
    /// The deadlines of the records that hold their address, one set per state, earliest first. The
    /// table's next deadline is the earliest of their first ones. An offer is filed once, in the small set
    /// of offers, and moves to the bound set when it is bound; the offers and the declined addresses, oldest
    /// first, are what gives way when a pool is full of offers or too much of it is quarantined.
    bound: BTreeSet<(Instant, AddrKey)>,
    offers: BTreeSet<(Instant, AddrKey)>,
    quarantine: BTreeSet<(Instant, AddrKey)>,
    allocators: Vec<(Ipv4Net, Allocator)>,
    reserved: HashSet<Ipv4Addr, foldhash::fast::RandomState>,
}

impl LeaseTable {
    /// A table over these subnets' pools; reserved addresses never enter a free set.
    pub fn new(allocators: Vec<(Ipv4Net, Allocator)>, reserved: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        let mut t = LeaseTable { allocators, ..Default::default() };
        for ip in reserved {
            t.take_addr(ip);
            t.reserved.insert(ip);
        }
        t
    }

    /// Swaps in new pools and reservations (a reload), keeping every record: held addresses stay held. A
    /// subnet whose pools did not change keeps its free set (and the iterative allocator's place in it);
    /// a changed one is filled again from the records at its addresses. So a reload that changes options,
    /// lease times or a reservation costs next to nothing at a million leases, where rebuilding the whole
    /// table kept the engine from its packets for half a second.
    pub fn rebuild(&mut self, allocators: Vec<(Ipv4Net, Allocator)>, reserved: impl IntoIterator<Item = Ipv4Addr>) {
        let mut old = std::mem::take(&mut self.allocators);
        let reserved: HashSet<Ipv4Addr, foldhash::fast::RandomState> = reserved.into_iter().collect();
        let old_reserved = std::mem::replace(&mut self.reserved, reserved);
        let mut refill = vec![];
        for (net, fresh) in allocators {
            match old.iter().position(|(n, a)| *n == net && a.same_pools(&fresh)) {
                Some(i) => self.allocators.push(old.swap_remove(i)),
                None => {
                    refill.push(net);
                    self.allocators.push((net, fresh));
                }
            }
        }
        // Subnets gone from the config: their declined records no longer take from a pool.
        for (net, _) in &old {
            if let Some(c) = self.counts.get_mut(net) {
                c.declined_in_pool = 0;
            }
        }
        for net in refill {
            self.refill(net);
        }
        // In the subnets kept, a new reservation takes its address; a dropped one gives it back unless a
        // record holds it.
        let added: Vec<Ipv4Addr> = self.reserved.difference(&old_reserved).copied().collect();
        added.into_iter().for_each(|ip| self.take_addr(ip));
        let dropped: Vec<Ipv4Addr> = old_reserved.difference(&self.reserved).copied().collect();
        for ip in dropped {
            if !self.get(ip).is_some_and(|l| l.state.holds_address()) {
                self.give_back_addr(ip);
            }
        }
    }

    /// Fills `net`'s new allocator (all free) from the reservations and records at its addresses, and
    /// counts its declined records again against its new pools.
    fn refill(&mut self, net: Ipv4Net) {
        let Some((_, alloc)) = self.allocators.iter_mut().find(|(n, _)| *n == net) else { return };
        for &ip in &self.reserved {
            alloc.take(ip);
        }
        let mut declined_in_pool = 0;
        let (first, last) = (AddrKey::from(net.network()), AddrKey::from(net.broadcast()));
        for l in self.leases.range(first..=last).map(|(_, l)| l).filter(|l| l.state.holds_address()) {
            alloc.take(l.ip);
            if l.state == LeaseState::Declined && l.subnet == net && alloc.in_pool(l.ip) {
                declined_in_pool += 1;
            }
        }
        if let Some(c) = self.counts.get_mut(&net) {
            c.declined_in_pool = declined_in_pool;
        }
    }

    /// Loads stored records into an empty table in one pass (a lease database at start-up): the ordered
    /// maps are built bottom-up from the records in address order, every tree node full, instead of by a
    /// million inserts that leave nodes half empty; then each record is filed and counted.
    ///
    /// Returns the records this pass leaves out, for the caller to insert one by one with the usual rules:
    /// a second record at one address, a client's second record in one subnet, or every record when the
    /// table is not empty.
    pub fn load(&mut self, stored: StoredLeases) -> Vec<Lease> {
        if !self.leases.is_empty() {
            return stored.into_sorted().collect();
        }
        let mut rest = Vec::new();
        let mut sorted: Vec<(AddrKey, Lease)> = Vec::with_capacity(stored.len());
        for lease in stored.into_sorted() {
            match sorted.last() {
                Some((last, _)) if *last == lease.ip.into() => rest.push(lease),
                _ => sorted.push((lease.ip.into(), lease)),
            }
        }
        // Sorted and unique: `from_iter` sees one run and builds the tree bottom-up.
        let mut leases: BTreeMap<AddrKey, Lease> = sorted.into_iter().collect();
        // Declined records are not filed: the address is no longer the client's.
        let twice = self.clients.file_all(&leases, |l| l.state == LeaseState::Declined);
        rest.extend(twice.into_iter().filter_map(|ip| leases.remove(&ip.into())));
        let mut bound = Vec::new();
        for l in leases.values() {
            self.count(l, true);
            if l.state.holds_address() {
                self.take_addr(l.ip);
            }
            match l.state {
                // Most of a big table: collected, and the set built from them at once below.
                LeaseState::Bound => bound.push((l.expires, l.ip.into())),
                state => {
                    if let Some(set) = self.by_deadline(state) {
                        set.insert((l.expires, l.ip.into()));
                    }
                }
            }
        }
        self.bound = bound.into_iter().collect();
        self.leases = leases;
        rest
    }

    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.leases.get(&ip.into())
    }

    /// Every record, in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    /// The records after `after` (all when `None`), in address order.
    pub fn iter_after(&self, after: Option<Ipv4Addr>) -> impl Iterator<Item = &Lease> {
        use std::ops::Bound::{Excluded, Unbounded};
        let from = after.map_or(Unbounded, |ip| Excluded(AddrKey::from(ip)));
        self.leases.range((from, Unbounded)).map(|(_, l)| l)
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// The records of one subnet by state.
    pub fn counts(&self, subnet: Ipv4Net) -> SubnetCounts {
        self.counts.get(&subnet).copied().unwrap_or_default()
    }

    /// The deadlines of the records in `state`: one set for each state that holds its address, none for
    /// the others.
    fn by_deadline(&mut self, state: LeaseState) -> Option<&mut BTreeSet<(Instant, AddrKey)>> {
        match state {
            LeaseState::Offered => Some(&mut self.offers),
            LeaseState::Bound => Some(&mut self.bound),
            LeaseState::Declined => Some(&mut self.quarantine),
            LeaseState::Released | LeaseState::Expired => None,
        }
    }

    /// Each holding state with its deadlines (the sets `by_deadline` files into).
    fn deadline_sets(&self) -> [(LeaseState, &BTreeSet<(Instant, AddrKey)>); 3] {
        [
            (LeaseState::Bound, &self.bound),
            (LeaseState::Offered, &self.offers),
            (LeaseState::Declined, &self.quarantine),
        ]
    }

    /// The earliest deadline of any holding record, and its address.
    fn first_deadline(&self) -> Option<(Instant, AddrKey)> {
        self.deadline_sets().into_iter().filter_map(|(_, set)| set.first().copied()).min()
    }

    /// The record in `state` (Offered or Declined) of `subnet` whose deadline comes first, passing over
    /// the client `except`'s.
    pub fn oldest(&self, state: LeaseState, subnet: Ipv4Net, except: Option<ClientKeyRef<'_>>) -> Option<&Lease> {
        let set = match state {
            LeaseState::Offered => &self.offers,
            LeaseState::Declined => &self.quarantine,
            _ => return None,
        };
        set.iter()
            .filter_map(|(_, k)| self.leases.get(k))
            .find(|l| l.subnet == subnet && except.is_none_or(|c| !l.is_client(c)))
    }

    /// Records in `state`, in every subnet.
    pub fn count_in(&self, state: LeaseState) -> usize {
        self.counts.values().map(|c| c.of(state)).sum()
    }

    /// Adds (or takes away) one record from its subnet's counts.
    fn count(&mut self, l: &Lease, add: bool) {
        self.count_parts(l.subnet, l.ip, l.state, add);
    }

    /// As [`Self::count`], for a record given by the fields the counts read.
    fn count_parts(&mut self, subnet: Ipv4Net, ip: Ipv4Addr, state: LeaseState, add: bool) {
        let in_pool = state == LeaseState::Declined && self.allocator(subnet).is_some_and(|a| a.in_pool(ip));
        let c = self.counts.entry(subnet).or_default();
        let n = &mut c.by_state[state.index()];
        *n = if add { *n + 1 } else { n.saturating_sub(1) };
        if in_pool {
            c.declined_in_pool = if add { c.declined_in_pool + 1 } else { c.declined_in_pool.saturating_sub(1) };
        }
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// The record this client holds or last held in this subnet.
    pub fn client_lease(&self, subnet: Ipv4Net, client: ClientKeyRef<'_>) -> Option<&Lease> {
        self.clients.get(&self.leases, subnet, client).and_then(|ip| self.leases.get(&ip.into()))
    }

    pub fn allocator_mut(&mut self, subnet: Ipv4Net) -> Option<&mut Allocator> {
        self.allocators.iter_mut().find(|(n, _)| *n == subnet).map(|(_, a)| a)
    }

    pub fn allocator(&self, subnet: Ipv4Net) -> Option<&Allocator> {
        self.allocators.iter().find(|(n, _)| *n == subnet).map(|(_, a)| a)
    }

    /// Whether a dynamic pool has `ip` free.
    pub fn is_free(&self, ip: Ipv4Addr) -> bool {
        self.allocators.iter().any(|(_, a)| a.is_free(ip))
    }

    fn take_addr(&mut self, ip: Ipv4Addr) {
        for (_, a) in &mut self.allocators {
            if a.take(ip) {
                return;
            }
        }
    }

    fn give_back_addr(&mut self, ip: Ipv4Addr) {
        if self.reserved.contains(&ip) {
            return;
        }
        for (_, a) in &mut self.allocators {
            if a.give_back(ip) {
                return;
            }
        }
    }

    /// Removes the record at `ip` entirely, returning its address to the pool if it held it.
    pub fn remove(&mut self, ip: Ipv4Addr) -> Option<Lease> {
        let lease = self.leases.remove(&ip.into())?;
        self.count(&lease, false);
        self.clients.remove(lease.subnet, lease.client(), ip);
        if lease.state.holds_address() {
            if let Some(set) = self.by_deadline(lease.state) {
                set.remove(&(lease.expires, ip.into()));
            }
            self.give_back_addr(ip);
        }
        Some(lease)
    }

    /// Inserts or replaces the record for `lease.ip`. A different client's old (free) record at that
    /// address is forgotten, and so is this client's record for another address in the same subnet; if
    /// that one still held its address it is returned, so the caller can report it.
    /// Declined records are not indexed by client: the address is no longer the client's.
    pub fn insert(&mut self, lease: Lease) -> Option<Lease> {
        let ip = lease.ip;
        // One lookup for the common case (an offer becoming a binding, a renewal): the record is replaced
        // where it lies (see `same_filing`).
        if let Some(slot) = self.leases.get_mut(&ip.into()) {
            if Self::same_filing(slot, &lease) {
                let (subnet, now) = (lease.subnet, (lease.state, lease.expires));
                let old = std::mem::replace(slot, lease);
                self.refile(ip, subnet, (old.state, old.expires), now);
                return None;
            }
            debug_assert!(
                !slot.state.holds_address() || slot.client() == lease.client() || lease.state == LeaseState::Declined,
                "{ip} is held by {} and would be given to {}",
                slot.client(),
                lease.client()
            );
            self.remove(ip);
        }
        let mut displaced = None;
        if let Some(prev) = self.clients.get(&self.leases, lease.subnet, lease.client())
            && prev != ip
        {
            displaced = self.remove(prev).filter(|l| l.state.holds_address());
        }
        if lease.state.holds_address() {
            self.take_addr(ip);
            if let Some(set) = self.by_deadline(lease.state) {
                set.insert((lease.expires, ip.into()));
            }
        } else {
            // A free record: the address stays (or becomes) available to anyone.
            self.give_back_addr(ip);
        }
        if lease.state != LeaseState::Declined {
            self.clients.set(&self.leases, lease.subnet, lease.client(), ip);
        }
        self.count(&lease, true);
        self.leases.insert(ip.into(), lease);
        displaced
    }

    /// Whether `new` can take `old`'s place at its address as it stands: the same client in the same subnet,
    /// neither declined (a declined record is kept out of the client index). Then the address map and the
    /// client index already say what they must (an offer becoming a binding, a renewal, a release).
    fn same_filing(old: &Lease, new: &Lease) -> bool {
        old.subnet == new.subnet
            && old.client() == new.client()
            && old.state != LeaseState::Declined
            && new.state != LeaseState::Declined
    }

    /// Moves the record at `ip` from its `old` state and deadline to `new` ones in what follows them: the
    /// deadlines, the address's ownership and the counts. The address map and the client index stay.
    fn refile(&mut self, ip: Ipv4Addr, subnet: Ipv4Net, old: (LeaseState, Instant), new: (LeaseState, Instant)) {
        let ((was, was_due), (state, due)) = (old, new);
        self.count_parts(subnet, ip, was, false);
        self.count_parts(subnet, ip, state, true);
        if let Some(set) = self.by_deadline(was) {
            set.remove(&(was_due, ip.into()));
        }
        if state.holds_address() {
            if !was.holds_address() {
                self.take_addr(ip);
            }
            if let Some(set) = self.by_deadline(state) {
                set.insert((due, ip.into()));
            }
        } else {
            self.give_back_addr(ip);
        }
    }

    /// Changes the state and times of an existing record, keeping the free set and deadlines in step.
    pub fn update(&mut self, ip: Ipv4Addr, state: LeaseState, obtained: Instant, expires: Instant) -> Option<&Lease> {
        let l = self.leases.get_mut(&ip.into())?;
        if l.state == LeaseState::Declined || state == LeaseState::Declined {
            // Refiled whole: a declined record is kept out of the client index. Same address, same client:
            // nothing else is displaced.
            let lease = Lease { state, obtained, expires, ..l.clone() };
            let _ = self.insert(lease);
        } else {
            let (subnet, was) = (l.subnet, (l.state, l.expires));
            (l.state, l.obtained, l.expires) = (state, obtained, expires);
            self.refile(ip, subnet, was, (state, expires));
        }
        self.leases.get(&ip.into())
    }

    /// The earliest deadline of any holding record.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.first_deadline().map(|(t, _)| t)
    }

    /// The address whose deadline is earliest, if that deadline is at or before `now`.
    pub fn due(&self, now: Instant) -> Option<Ipv4Addr> {
        self.first_deadline().filter(|&(t, _)| t <= now).map(|(_, k)| k.into())
    }

    /// Checks every invariant; used by tests, the property test and the fuzzer.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut held_per_client: HashMap<(Ipv4Net, ClientKeyRef<'_>), usize> = HashMap::new();
        for (&key, l) in &self.leases {
            let ip = Ipv4Addr::from(key);
            if ip != l.ip {
                return Err(format!("record for {} filed under {ip}", l.ip));
            }
            if l.obtained > l.expires {
                return Err(format!("{ip}: obtained {} after expires {}", l.obtained, l.expires));
            }
            if self.allocators.iter().any(|(_, a)| a.in_pool(ip)) {
                let free = self.is_free(ip);
                if l.state.holds_address() && free {
                    return Err(format!("{ip} is {} but also free", l.state.as_str()));
                }
                if !l.state.holds_address() && !free && !self.reserved.contains(&ip) {
                    return Err(format!("{ip} is {} but not free", l.state.as_str()));
                }
            }
            let filed = self.deadline_sets().into_iter().filter(|(_, set)| set.contains(&(l.expires, key))).count();
            if filed != usize::from(l.state.holds_address()) {
                return Err(format!("{ip}: deadline out of step with state {}", l.state.as_str()));
            }
            if l.state.holds_address() && l.state != LeaseState::Declined {
                *held_per_client.entry((l.subnet, l.client())).or_default() += 1;
            }
        }
        let mut counts: HashMap<Ipv4Net, SubnetCounts> = HashMap::new();
        for l in self.leases.values() {
            let c = counts.entry(l.subnet).or_default();
            c.by_state[l.state.index()] += 1;
            if l.state == LeaseState::Declined && self.allocator(l.subnet).is_some_and(|a| a.in_pool(l.ip)) {
                c.declined_in_pool += 1;
            }
        }
        for (net, c) in self.counts.iter().filter(|(_, c)| **c != SubnetCounts::default()) {
            if counts.get(net) != Some(c) {
                return Err(format!("{net}: counts {c:?} but the records say {:?}", counts.get(net)));
            }
        }
        if counts.keys().any(|n| !self.counts.contains_key(n)) {
            return Err("records in a subnet with no counts".into());
        }
        if let Some(((net, c), n)) = held_per_client.iter().find(|(_, n)| **n > 1) {
            return Err(format!("{c} holds {n} addresses in {net}"));
        }
        for ip in self.clients.iter() {
            match self.leases.get(&ip.into()) {
                Some(l) if self.clients.get(&self.leases, l.subnet, l.client()) == Some(ip) => {}
                Some(l) => return Err(format!("client index for {} points at {ip}, which is not theirs", l.client())),
                None => return Err(format!("client index points at {ip}, which has no record")),
            }
        }
        let indexed = self.leases.values().filter(|l| l.state != LeaseState::Declined).count();
        if self.clients.len() != indexed {
            return Err(format!("{} clients indexed for {indexed} records", self.clients.len()));
        }
        for (state, set) in self.deadline_sets() {
            let records = self.leases.values().filter(|l| l.state == state).count();
            let filed =
                set.iter().filter(|(t, k)| self.leases.get(k).is_some_and(|l| l.state == state && l.expires == *t));
            if filed.count() != records || set.len() != records {
                return Err(format!("the {} deadlines are out of step with the records", state.as_str()));
            }
        }
        // Every in-pool address that is not free is accounted for by a holding record or a reservation.
        for (net, a) in &self.allocators {
            let held = self
                .leases
                .values()
                .filter(|l| l.state.holds_address() && a.in_pool(l.ip) && !self.reserved.contains(&l.ip))
                .count();
            let reserved = self.reserved.iter().filter(|ip| a.in_pool(**ip)).count();
            if a.size() - a.free_count() != held + reserved {
                return Err(format!(
                    "{net}: {} addresses taken but {held} held and {reserved} reserved",
                    a.size() - a.free_count()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::{AddrRange, AllocatorKind};
    use crate::hwaddr::HwAddr;
    use crate::lease::KeyedBy;

    fn table() -> (LeaseTable, Ipv4Net) {
        let net: Ipv4Net = "192.0.2.0/24".parse().unwrap();
        let range = AddrRange { first: Ipv4Addr::new(192, 0, 2, 10), last: Ipv4Addr::new(192, 0, 2, 20) };
        (LeaseTable::new(vec![(net, Allocator::new(&[range], AllocatorKind::Iterative))], []), net)
    }

    fn lease(net: Ipv4Net, state: LeaseState, from: u64, to: u64) -> Lease {
        Lease {
            ip: Ipv4Addr::new(192, 0, 2, 12),
            subnet: net,
            hw: HwAddr::ethernet([2, 0, 0, 0, 0, 1]),
            client_id: None,
            keyed_by: KeyedBy::Hw,
            hostname: None,
            state,
            obtained: Instant::from_secs(from),
            expires: Instant::from_secs(to),
            lease_secs: 0,
            server: None,
            class: None,
            dns_name: None,
        }
    }

    /// What a caller can see of the table at the test's address.
    fn seen(t: &LeaseTable, net: Ipv4Net, l: &Lease) -> String {
        format!(
            "{:?} free={} next={:?} offers={:?} counts={:?} client={:?} {:?}",
            t.get(l.ip),
            t.is_free(l.ip),
            t.next_deadline(),
            t.oldest(LeaseState::Offered, net, None).map(|o| o.ip),
            t.counts(net),
            t.client_lease(net, ClientKeyRef::Hw(&l.hw)).map(|c| c.ip),
            t.check_invariants(),
        )
    }

    #[test]
    fn a_record_changed_or_updated_in_place_leaves_the_table_as_refiling_it_would() {
        let (mut fast, net) = table();
        let (mut slow, _) = table();
        let (mut updated, _) = table();
        // Offer, binding, renewal, release, a new offer: each taken in place by one table, removed and
        // inserted again by the other.
        let life = [
            lease(net, LeaseState::Offered, 0, 30),
            lease(net, LeaseState::Bound, 5, 3605),
            lease(net, LeaseState::Bound, 1800, 5400),
            lease(net, LeaseState::Released, 1800, 2000),
            lease(net, LeaseState::Offered, 2100, 2130),
        ];
        for l in life {
            fast.insert(l.clone());
            slow.remove(l.ip);
            slow.insert(l.clone());
            assert_eq!(seen(&fast, net, &l), seen(&slow, net, &l), "after {:?}", l.state);
            assert!(fast.check_invariants().is_ok());
            // `update` changes the record where it stands, to the same end.
            match updated.get(l.ip) {
                Some(_) => assert!(updated.update(l.ip, l.state, l.obtained, l.expires).is_some()),
                None => assert!(updated.insert(l.clone()).is_none()),
            }
            assert_eq!(seen(&updated, net, &l), seen(&slow, net, &l), "updated to {:?}", l.state);
        }
        // The binding held the address and the release gave it back.
        let (mut t, _) = table();
        t.insert(lease(net, LeaseState::Offered, 0, 30));
        t.insert(lease(net, LeaseState::Bound, 5, 3605));
        assert!(!t.is_free(Ipv4Addr::new(192, 0, 2, 12)));
        assert_eq!(t.next_deadline(), Some(Instant::from_secs(3605)));
        assert_eq!(t.counts(net).of(LeaseState::Offered), 0);
        assert_eq!(t.counts(net).of(LeaseState::Bound), 1);
        t.update(Ipv4Addr::new(192, 0, 2, 12), LeaseState::Released, Instant::from_secs(5), Instant::from_secs(9));
        assert!(t.is_free(Ipv4Addr::new(192, 0, 2, 12)));
        assert_eq!(t.next_deadline(), None);
        // Declining is refiled: the address leaves the client's record.
        t.insert(lease(net, LeaseState::Bound, 10, 3610));
        t.update(Ipv4Addr::new(192, 0, 2, 12), LeaseState::Declined, Instant::from_secs(11), Instant::from_secs(611));
        assert_eq!(t.client_lease(net, ClientKeyRef::Hw(&HwAddr::ethernet([2, 0, 0, 0, 0, 1]))), None);
        assert!(t.check_invariants().is_ok());
    }
}
