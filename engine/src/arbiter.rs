//! The rule that keeps several servers sharing one lease database from giving one address to two clients.
//!
//! Each server decides on its own, from its copy of the table, and may be behind the others. So before a
//! change becomes durable the shared store checks it against the record it holds now (under a row lock, in
//! the same transaction): a server may write an address's record only if no *other* client holds that
//! address there, and may remove one only if it is the record the server knew. An ACK leaves only after
//! its lease was written, so an address is never ACKed to two clients whose leases overlap in time.
//!
//! The store applies [`arbitrate`] to each change; the daemon withholds the ACKs of refused changes and
//! adopts the record that won, so the client is NAKed when it asks again (RFC 2131 §4.3.2) and starts over.

use crate::hwaddr::HwAddr;
use crate::lease::Lease;
use crate::time::Instant;
use std::net::Ipv4Addr;

/// A change one server wants to make to the shared record of one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// Write this record (a new lease, a renewal, a release, a decline).
    Put(Lease),
    /// Remove the record at `ip`, which this server last saw for hardware address `hw`, ending at `expires`.
    Remove { ip: Ipv4Addr, hw: HwAddr, expires: Instant },
}

impl Proposal {
    pub fn ip(&self) -> Ipv4Addr {
        match self {
            Proposal::Put(l) => l.ip,
            Proposal::Remove { ip, .. } => *ip,
        }
    }

    /// The removal of `lease`, as this server knows it.
    pub fn remove(lease: &Lease) -> Self {
        Proposal::Remove { ip: lease.ip, hw: lease.hw, expires: lease.expires }
    }
}

/// What the shared store does with a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted,
    /// Another client holds the address in the shared store (or the record changed since this server saw
    /// it): this is the record that stands.
    Refused(Box<Lease>),
    /// The record to remove was already gone, or was changed by another server since: nothing to do, and
    /// the server should adopt what the store holds (if anything).
    Stale(Option<Box<Lease>>),
}

/// Whether `record` keeps its address from every other client at `now`.
fn holds(record: &Lease, now: Instant) -> bool {
    record.state.holds_address() && record.expires > now
}

/// Decides `proposal` against `current`, the shared store's record for the same address, at `now` (the
/// proposing server's clock: servers sharing a database must keep their clocks in step, as with NTP).
pub fn arbitrate(now: Instant, current: Option<&Lease>, proposal: &Proposal) -> Verdict {
    match (proposal, current) {
        (Proposal::Put(_), None) => Verdict::Granted,
        // The same client's record (renewal, release, decline), or an address nobody holds any more.
        (Proposal::Put(new), Some(cur)) if cur.client() == new.client() || !holds(cur, now) => Verdict::Granted,
        (Proposal::Put(_), Some(cur)) => Verdict::Refused(Box::new(cur.clone())),
        (Proposal::Remove { .. }, None) => Verdict::Stale(None),
        // Only the record this server knew, unchanged: a renewal made elsewhere since must survive.
        (Proposal::Remove { hw, expires, .. }, Some(cur)) if cur.hw == *hw && cur.expires == *expires => {
            Verdict::Granted
        }
        (Proposal::Remove { .. }, Some(cur)) => Verdict::Stale(Some(Box::new(cur.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HexBytes;
    use crate::lease::{KeyedBy, LeaseState};
    use crate::time::Duration;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn lease(ip: u8, client: u8, state: LeaseState, from: u64, until: u64) -> Lease {
        let hw: crate::HwAddr = format!("02:00:00:00:00:{client:02x}").parse().unwrap();
        Lease {
            ip: Ipv4Addr::new(192, 0, 2, ip),
            subnet: "192.0.2.0/24".parse().unwrap(),
            keyed_by: KeyedBy::Hw,
            hw,
            client_id: None::<HexBytes>,
            hostname: None,
            state,
            obtained: Instant::from_secs(from),
            expires: Instant::from_secs(until),
            lease_secs: crate::time::secs(Duration::from_secs(until.saturating_sub(from))),
            server: None,
            class: None,
            dns_name: None,
        }
    }

    #[test]
    fn another_clients_live_lease_wins_and_an_expired_one_does_not() {
        let held = lease(10, 1, LeaseState::Bound, 0, 100);
        let mine = Proposal::Put(lease(10, 2, LeaseState::Bound, 50, 150));
        assert_eq!(arbitrate(Instant::from_secs(50), Some(&held), &mine), Verdict::Refused(Box::new(held.clone())));
        assert_eq!(arbitrate(Instant::from_secs(100), Some(&held), &mine), Verdict::Granted);
        let released = lease(10, 1, LeaseState::Released, 0, 40);
        assert_eq!(arbitrate(Instant::from_secs(50), Some(&released), &mine), Verdict::Granted);
        // The holder's own renewal, through any server.
        let renewal = Proposal::Put(lease(10, 1, LeaseState::Bound, 50, 150));
        assert_eq!(arbitrate(Instant::from_secs(50), Some(&held), &renewal), Verdict::Granted);
    }

    #[test]
    fn a_removal_only_takes_the_record_its_server_knew() {
        let old = lease(10, 1, LeaseState::Bound, 0, 100);
        let renewed = lease(10, 1, LeaseState::Bound, 90, 190);
        let expire = Proposal::remove(&old);
        assert_eq!(arbitrate(Instant::from_secs(100), Some(&old), &expire), Verdict::Granted);
        assert_eq!(
            arbitrate(Instant::from_secs(100), Some(&renewed), &expire),
            Verdict::Stale(Some(Box::new(renewed.clone())))
        );
        assert_eq!(arbitrate(Instant::from_secs(100), None, &expire), Verdict::Stale(None));
    }

    /// One step of a random run: a server acts on its own (possibly stale) view, or learns the store.
    #[derive(Debug, Clone)]
    enum Step {
        /// Server `s` grants `ip` to `client` for `secs`, if its view says it may.
        Ack {
            s: usize,
            ip: u8,
            client: u8,
            secs: u64,
        },
        /// Server `s` expires what its view has at `ip`, if that ran out.
        Expire {
            s: usize,
            ip: u8,
        },
        /// Server `s` catches up with the store (LISTEN/NOTIFY or a poll).
        Sync {
            s: usize,
        },
        /// Server `s` crashes and restarts with the store's records.
        Crash {
            s: usize,
        },
        Tick {
            secs: u64,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..3usize, 0..4u8, 0..6u8, 1..30u64).prop_map(|(s, ip, client, secs)| Step::Ack { s, ip, client, secs }),
            1 => (0..3usize, 0..4u8).prop_map(|(s, ip)| Step::Expire { s, ip }),
            2 => (0..3usize).prop_map(|s| Step::Sync { s }),
            1 => (0..3usize).prop_map(|s| Step::Crash { s }),
            2 => (1..20u64).prop_map(|secs| Step::Tick { secs }),
        ]
    }

    proptest! {
        /// Three servers with views that lag the shared store by arbitrary amounts, and crash at random:
        /// every lease the store accepted (each ACK that left) overlaps in time with no other client's
        /// accepted lease of the same address.
        #[test]
        fn no_address_is_ever_acked_to_two_clients_at_once(steps in prop::collection::vec(step(), 1..200)) {
            let mut store: BTreeMap<u8, Lease> = BTreeMap::new();
            let mut views: Vec<BTreeMap<u8, Lease>> = vec![BTreeMap::new(); 3];
            let mut acked: Vec<Lease> = vec![];
            let mut now = 0u64;
            for step in steps {
                let t = Instant::from_secs(now);
                match step {
                    Step::Ack { s, ip, client, secs } => {
                        // The server's own check, on its view: free, or this client's already.
                        let free = views[s].get(&ip).is_none_or(|l| l.client() == lease(ip, client, LeaseState::Bound, 0, 0).client() || !holds(l, t));
                        if !free { continue }
                        let new = lease(ip, client, LeaseState::Bound, now, now + secs);
                        match arbitrate(t, store.get(&ip), &Proposal::Put(new.clone())) {
                            Verdict::Granted => {
                                store.insert(ip, new.clone());
                                views[s].insert(ip, new.clone());
                                acked.push(new);
                            }
                            Verdict::Refused(winner) => { views[s].insert(ip, *winner); }
                            Verdict::Stale(_) => prop_assert!(false, "a Put is never stale"),
                        }
                    }
                    Step::Expire { s, ip } => {
                        let Some(known) = views[s].get(&ip).cloned() else { continue };
                        if known.expires > t { continue }
                        match arbitrate(t, store.get(&ip), &Proposal::remove(&known)) {
                            Verdict::Granted => { store.remove(&ip); views[s].remove(&ip); }
                            Verdict::Stale(Some(cur)) => { views[s].insert(ip, *cur); }
                            Verdict::Stale(None) => { views[s].remove(&ip); }
                            Verdict::Refused(_) => prop_assert!(false, "a removal is never refused"),
                        }
                    }
                    Step::Sync { s } | Step::Crash { s } => views[s] = store.clone(),
                    Step::Tick { secs } => now += secs,
                }
            }
            // A client holds an address from its ACK until the lease ends or a newer ACK for the same address
            // replaces it (a renewal may also shorten it).
            let held: Vec<(Lease, Instant)> = acked.iter().enumerate().map(|(i, a)| {
                let next = acked[i + 1..].iter().find(|b| b.ip == a.ip && b.client() == a.client());
                (a.clone(), next.map_or(a.expires, |b| a.expires.min(b.obtained)))
            }).collect();
            for (i, (a, a_end)) in held.iter().enumerate() {
                for (b, b_end) in &held[i + 1..] {
                    let overlap = a.ip == b.ip && a.obtained < *b_end && b.obtained < *a_end;
                    prop_assert!(!(overlap && a.client() != b.client()), "{a:?} and {b:?} overlap");
                }
            }
        }
    }
}
