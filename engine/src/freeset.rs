//! A set of free slots with O(log₆₄ n) "next free at or after i": a bitmap plus summary levels where each bit
//! says "the word below has a free bit". A /16 pool needs three words of summary on top of 1,024 words of
//! bitmap, so finding a free address never scans the pool, however full it is.

#[derive(Clone, Debug)]
pub struct FreeSet {
    /// `levels[0]` is the bitmap (bit set = slot free); `levels[k + 1]` bit j is set iff `levels[k][j] != 0`.
    levels: Vec<Vec<u64>>,
    len: usize,
    free: usize,
}

impl FreeSet {
    /// A set of `len` slots, all free.
    pub fn full(len: usize) -> Self {
        let mut levels = Vec::new();
        let mut bits = len;
        loop {
            let words = bits.div_ceil(64).max(1);
            let mut level = vec![u64::MAX; words];
            let tail = bits % 64;
            if tail != 0 {
                level[words - 1] = (1u64 << tail) - 1;
            }
            if bits == 0 {
                level[0] = 0;
            }
            levels.push(level);
            if words == 1 {
                break;
            }
            bits = words;
        }
        FreeSet { levels, len, free: len }
    }

    pub fn capacity(&self) -> usize {
        self.len
    }

    pub fn free_count(&self) -> usize {
        self.free
    }

    pub fn is_free(&self, i: usize) -> bool {
        i < self.len && self.levels[0][i / 64] & (1 << (i % 64)) != 0
    }

    /// Marks slot `i` free; returns false if it already was (or is out of range).
    pub fn insert(&mut self, i: usize) -> bool {
        if i >= self.len || self.is_free(i) {
            return false;
        }
        self.free += 1;
        let mut pos = i;
        for level in &mut self.levels {
            let word = &mut level[pos / 64];
            let was_empty = *word == 0;
            *word |= 1 << (pos % 64);
            if !was_empty {
                break;
            }
            pos /= 64;
        }
        true
    }

    /// Marks slot `i` used; returns false if it already was (or is out of range).
    pub fn remove(&mut self, i: usize) -> bool {
        if !self.is_free(i) {
            return false;
        }
        self.free -= 1;
        let mut pos = i;
        for level in &mut self.levels {
            let word = &mut level[pos / 64];
            *word &= !(1 << (pos % 64));
            if *word != 0 {
                break;
            }
            pos /= 64;
        }
        true
    }

    /// The first free slot at or after `from`, if any (no wrap-around).
    pub fn next_free(&self, from: usize) -> Option<usize> {
        if from >= self.len {
            return None;
        }
        // Climb until some word holds a set bit at or after the position, then descend to the lowest one.
        let mut level = 0;
        let mut pos = from;
        loop {
            let words = &self.levels[level];
            let w = pos / 64;
            if w >= words.len() {
                return None;
            }
            let masked = words[w] & (u64::MAX << (pos % 64));
            if masked != 0 {
                pos = w * 64 + masked.trailing_zeros() as usize;
                break;
            }
            level += 1;
            if level == self.levels.len() {
                return None;
            }
            pos = w + 1;
        }
        while level > 0 {
            level -= 1;
            pos = pos * 64 + self.levels[level][pos].trailing_zeros() as usize;
        }
        Some(pos)
    }

    /// The first free slot at or after `from`, wrapping around to the start.
    pub fn next_free_wrapping(&self, from: usize) -> Option<usize> {
        self.next_free(from).or_else(|| self.next_free(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn full_set_finds_each_slot_in_order() {
        let s = FreeSet::full(130);
        assert_eq!(s.free_count(), 130);
        assert_eq!(s.next_free(0), Some(0));
        assert_eq!(s.next_free(129), Some(129));
        assert_eq!(s.next_free(130), None);
    }

    #[test]
    fn finds_the_last_free_slot_of_a_big_nearly_full_set() {
        let n = 1 << 16;
        let mut s = FreeSet::full(n);
        for i in 0..n - 1 {
            assert!(s.remove(i));
        }
        assert_eq!(s.free_count(), 1);
        assert_eq!(s.next_free(0), Some(n - 1));
        assert!(s.remove(n - 1));
        assert_eq!(s.next_free_wrapping(5), None);
        assert!(s.insert(7));
        assert_eq!(s.next_free_wrapping(100), Some(7));
    }

    #[test]
    fn empty_and_tiny_sets() {
        let s = FreeSet::full(0);
        assert_eq!(s.next_free(0), None);
        let mut s = FreeSet::full(1);
        assert!(s.remove(0));
        assert!(!s.remove(0));
        assert_eq!(s.next_free_wrapping(0), None);
    }

    proptest! {
        /// The summary levels always agree with a plain ordered set.
        #[test]
        fn agrees_with_a_btreeset(len in 1usize..5000, ops in prop::collection::vec((any::<bool>(), any::<usize>()), 0..400), probes in prop::collection::vec(any::<usize>(), 1..20)) {
            let mut s = FreeSet::full(len);
            let mut model: BTreeSet<usize> = (0..len).collect();
            for (ins, i) in ops {
                let i = i % (len + 3);
                if ins {
                    prop_assert_eq!(s.insert(i), i < len && model.insert(i));
                } else {
                    prop_assert_eq!(s.remove(i), model.remove(&i));
                }
                prop_assert_eq!(s.free_count(), model.len());
            }
            for p in probes {
                let p = p % (len + 2);
                prop_assert_eq!(s.next_free(p), model.range(p..).next().copied());
            }
        }
    }
}
