//! Address allocation within a subnet's pools. Each pool keeps a [`FreeSet`] and a round-robin cursor:
//! the iterative allocator hands out the address after the last one it gave, so a freed address is reused
//! as late as possible and its previous owner can usually get it back (RFC 2131 §4.3.1 asks servers to
//! prefer a client's previous address).

use crate::freeset::FreeSet;
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// How a free address is chosen when the client has no previous or requested one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllocatorKind {
    /// Next free address after the last one handed out (as Kea's iterative allocator).
    #[default]
    Iterative,
    /// A random free address; makes addresses harder to guess and spreads them over the pool.
    Random,
}

/// This server's part of every pool when several servers share one lease database: the `index`-th of `of`
/// equal blocks. A server hands out new addresses from its own block first, so servers rarely race for
/// the same address (the shared store still decides when they do, see [`crate::arbiter`]); when its block
/// is full it takes any free address. The live servers, ranked by name, each take one block; when one dies
/// the others' blocks grow over its part (takeover).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub index: u32,
    pub of: u32,
}

impl Share {
    /// The slots `[start, end)` of a pool of `len` that belong to this share.
    fn block(self, len: usize) -> (usize, usize) {
        let of = self.of.max(1) as usize;
        let i = (self.index as usize).min(of - 1);
        (len * i / of, len * (i + 1) / of)
    }
}

/// An inclusive range of addresses, `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AddrRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&ip)
    }

    pub fn len(&self) -> usize {
        (u32::from(self.last) - u32::from(self.first)) as usize + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone)]
struct Pool {
    range: AddrRange,
    free: FreeSet,
    cursor: usize,
}

impl Pool {
    fn index(&self, ip: Ipv4Addr) -> Option<usize> {
        self.range.contains(ip).then(|| (u32::from(ip) - u32::from(self.range.first)) as usize)
    }

    fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.range.first) + i as u32)
    }
}

/// The free addresses of one subnet.
#[derive(Debug, Clone)]
pub struct Allocator {
    pools: Vec<Pool>,
    kind: AllocatorKind,
    /// The pool the iterative allocator is working through.
    current: usize,
}

impl Allocator {
    /// All addresses of `ranges` start free. Ranges must not overlap (config validation ensures it).
    pub fn new(ranges: &[AddrRange], kind: AllocatorKind) -> Self {
        let pools = ranges.iter().map(|&range| Pool { range, free: FreeSet::full(range.len()), cursor: 0 }).collect();
        Allocator { pools, kind, current: 0 }
    }

    /// Whether `other` covers the same ranges with the same kind: a reload may keep this one, free set and
    /// cursor, in its place.
    pub fn same_pools(&self, other: &Allocator) -> bool {
        self.kind == other.kind && self.ranges().eq(other.ranges())
    }

    fn ranges(&self) -> impl Iterator<Item = AddrRange> + '_ {
        self.pools.iter().map(|p| p.range)
    }

    pub fn in_pool(&self, ip: Ipv4Addr) -> bool {
        self.pools.iter().any(|p| p.range.contains(ip))
    }

    pub fn is_free(&self, ip: Ipv4Addr) -> bool {
        self.pools.iter().any(|p| p.index(ip).is_some_and(|i| p.free.is_free(i)))
    }

    /// Takes `ip` out of the free set; false if it is not in a pool or not free.
    pub fn take(&mut self, ip: Ipv4Addr) -> bool {
        self.pools.iter_mut().any(|p| p.index(ip).is_some_and(|i| p.free.remove(i)))
    }

    /// Returns `ip` to the free set; false if it is not in a pool or already free.
    pub fn give_back(&mut self, ip: Ipv4Addr) -> bool {
        self.pools.iter_mut().any(|p| p.index(ip).is_some_and(|i| p.free.insert(i)))
    }

    /// The next address to hand out, without taking it: from `share`'s blocks if they have one free.
    pub fn pick(&mut self, rng: &mut impl Rng, share: Option<Share>) -> Option<Ipv4Addr> {
        self.pick_in(rng, share, &|_| true)
    }

    /// As [`Allocator::pick`], from the pools `allowed` accepts (by index, in the order given to `new`):
    /// client classes keep some pools for some clients.
    pub fn pick_in(
        &mut self,
        rng: &mut impl Rng,
        share: Option<Share>,
        allowed: &dyn Fn(usize) -> bool,
    ) -> Option<Ipv4Addr> {
        if let Some(share) = share.filter(|s| s.of > 1)
            && let Some(ip) = self.pick_in_share(rng, share, allowed)
        {
            return Some(ip);
        }
        match self.kind {
            AllocatorKind::Iterative => self.pick_iterative(allowed),
            AllocatorKind::Random => self.pick_random(rng, allowed),
        }
    }

    /// The index of the pool holding `ip`, if any.
    pub fn pool_of(&self, ip: Ipv4Addr) -> Option<usize> {
        self.pools.iter().position(|p| p.range.contains(ip))
    }

    /// A free address in `share`'s block of some pool: after the pool's cursor (iterative) or a random
    /// point (random), wrapping inside the block.
    fn pick_in_share(&mut self, rng: &mut impl Rng, share: Share, allowed: &dyn Fn(usize) -> bool) -> Option<Ipv4Addr> {
        let n = self.pools.len();
        let random = self.kind == AllocatorKind::Random;
        for step in 0..n {
            let k = (self.current + step) % n;
            if !allowed(k) {
                continue;
            }
            let pool = &mut self.pools[k];
            let (start, end) = share.block(pool.free.capacity());
            if start == end {
                continue;
            }
            let from = if random {
                start + (rng.next_u64() % (end - start) as u64) as usize
            } else {
                pool.cursor.clamp(start, end - 1)
            };
            let found = pool.free.next_free(from).filter(|&i| i < end).or_else(|| pool.free.next_free(start));
            if let Some(i) = found.filter(|&i| i < end) {
                if !random {
                    pool.cursor = i + 1;
                    self.current = k;
                }
                return Some(pool.addr(i));
            }
        }
        None
    }

    fn pick_iterative(&mut self, allowed: &dyn Fn(usize) -> bool) -> Option<Ipv4Addr> {
        let n = self.pools.len();
        for step in 0..n {
            let k = (self.current + step) % n;
            if !allowed(k) {
                continue;
            }
            let pool = &mut self.pools[k];
            if let Some(i) = pool.free.next_free_wrapping(pool.cursor) {
                pool.cursor = (i + 1) % pool.free.capacity();
                self.current = k;
                return Some(pool.addr(i));
            }
        }
        None
    }

    fn pick_random(&mut self, rng: &mut impl Rng, allowed: &dyn Fn(usize) -> bool) -> Option<Ipv4Addr> {
        let free = |k: usize, p: &Pool| if allowed(k) { p.free.free_count() } else { 0 };
        let total: usize = self.pools.iter().enumerate().map(|(k, p)| free(k, p)).sum();
        if total == 0 {
            return None;
        }
        // Choose a pool weighted by its free count, then a random start inside it.
        let mut target = (rng.next_u64() % total as u64) as usize;
        let pool = self.pools.iter().enumerate().find_map(|(k, p)| {
            let f = free(k, p);
            if target < f {
                Some(p)
            } else {
                target -= f;
                None
            }
        })?;
        let start = (rng.next_u64() % pool.free.capacity() as u64) as usize;
        pool.free.next_free_wrapping(start).map(|i| pool.addr(i))
    }

    pub fn size(&self) -> usize {
        self.pools.iter().map(|p| p.range.len()).sum()
    }

    pub fn free_count(&self) -> usize {
        self.pools.iter().map(|p| p.free.free_count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn range(a: [u8; 4], b: [u8; 4]) -> AddrRange {
        AddrRange { first: a.into(), last: b.into() }
    }

    #[test]
    fn iterative_hands_out_in_order_and_moves_to_the_next_pool() {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
        let mut a = Allocator::new(
            &[range([10, 0, 0, 10], [10, 0, 0, 11]), range([10, 0, 0, 50], [10, 0, 0, 50])],
            AllocatorKind::Iterative,
        );
        let mut got = vec![];
        while let Some(ip) = a.pick(&mut rng, None) {
            assert!(a.take(ip));
            got.push(ip.octets()[3]);
        }
        assert_eq!(got, vec![10, 11, 50]);
        assert_eq!(a.free_count(), 0);
        assert!(a.give_back([10, 0, 0, 10].into()));
        assert!(!a.give_back([10, 0, 0, 10].into()), "double free is refused");
        assert_eq!(a.pick(&mut rng, None), Some([10, 0, 0, 10].into()));
    }

    #[test]
    fn iterative_reuses_freed_addresses_last() {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
        let mut a = Allocator::new(&[range([10, 0, 0, 1], [10, 0, 0, 5])], AllocatorKind::Iterative);
        let first = a.pick(&mut rng, None).unwrap();
        a.take(first);
        a.give_back(first);
        assert_ne!(a.pick(&mut rng, None), Some(first));
    }

    #[test]
    fn random_picks_only_free_addresses() {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
        let mut a = Allocator::new(&[range([10, 0, 0, 0], [10, 0, 3, 255])], AllocatorKind::Random);
        for _ in 0..1024 {
            let ip = a.pick(&mut rng, None).unwrap();
            assert!(a.take(ip), "{ip} was picked but not free");
        }
        assert_eq!(a.pick(&mut rng, None), None);
    }

    #[test]
    fn each_share_hands_out_its_own_block_first_then_anything_free() {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
        for kind in [AllocatorKind::Iterative, AllocatorKind::Random] {
            let mut a = Allocator::new(&[range([10, 0, 0, 0], [10, 0, 0, 9])], kind);
            let second = Some(Share { index: 1, of: 2 });
            let mut got = vec![];
            for _ in 0..5 {
                let ip = a.pick(&mut rng, second).unwrap();
                assert!(a.take(ip));
                got.push(ip.octets()[3]);
            }
            got.sort();
            assert_eq!(got, vec![5, 6, 7, 8, 9], "{kind:?}");
            // Its block is full: the other block's addresses are still there for it.
            let ip = a.pick(&mut rng, second).unwrap();
            assert!(ip.octets()[3] < 5, "{kind:?}: {ip}");
        }
    }

    #[test]
    fn addresses_outside_pools_are_never_free() {
        let mut a = Allocator::new(&[range([10, 0, 0, 1], [10, 0, 0, 5])], AllocatorKind::Iterative);
        assert!(!a.is_free([10, 0, 0, 6].into()));
        assert!(!a.take([10, 0, 0, 6].into()));
        assert!(!a.give_back([10, 0, 0, 0].into()));
        assert!(a.in_pool([10, 0, 0, 5].into()));
    }
}
