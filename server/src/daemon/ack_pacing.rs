//! ACKs that a slow commit held back go out in slices, not in one burst.
//!
//! A commit that stalls (the disk busy with another writer's flush, a database failing over) holds every
//! ACK that arrives meanwhile: at 8,000 REQUESTs a second a 50 ms stall holds 400. Sent at once, they reach
//! the one socket a relay agent (or a load generator) reads faster than it can read them; its receive
//! buffer holds a couple of hundred datagrams by default, the rest are dropped, and those clients wait
//! seconds to ask again. Measured with perfdhcp at 3,000/s and a million leases, a SIGHUP every second
//! (ACKs held up to 168 ms): 0.31 % of exchanges lost in one burst, 0.007 % paced.
//!
//! A commit under steady load carries a few ACKs per link (22–24 at 16,000/s), under two slices, and sends
//! them at once as before: pacing costs nothing until a stall.
//!
//! The committer goes on committing while a stall's ACKs wait for their slices ([`Pacer`]), and the slices
//! grow with the link's own rate ([`Pace`]): paced ACKs go out half as fast again as the link's ACKs have
//! been coming, never slower than [`SLICE`] a millisecond. When the committer slept between fixed slices
//! of 32, a relayed load of 30,000 DORAs a second (`bench/loadgen`) got 26,700 through however many cores
//! the daemon had: each stall's backlog kept the committer asleep, the next commit was larger still and
//! paced again, and the engine stopped reading while the store's queue was full.

use dhcplab_engine::Transmit;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Paced ACKs go out at least this many at a time…
pub const SLICE: usize = 32;
/// …this far apart: 32,000 a second at least.
pub const GAP: Duration = Duration::from_millis(1);
/// How long a link's ACKs are counted to know its rate.
const RATE_WINDOW: Duration = Duration::from_millis(100);

/// How fast one link's ACKs have been coming (committed, whether they went at once or wait), and so how
/// many paced ones may go in a stretch of time.
#[derive(Debug)]
pub struct Pace {
    /// ACKs counted since `since`.
    count: usize,
    since: Instant,
    /// ACKs a second over the last whole window.
    per_sec: f64,
}

impl Pace {
    pub fn new(now: Instant) -> Self {
        Pace { count: 0, since: now, per_sec: 0.0 }
    }

    /// `acks` were committed at `now`.
    pub fn counted(&mut self, now: Instant, acks: usize) {
        self.count += acks;
        let span = now.saturating_duration_since(self.since);
        if span >= RATE_WINDOW {
            self.per_sec = self.count as f64 / span.as_secs_f64();
            (self.count, self.since) = (0, now);
        }
    }

    /// How many paced ACKs may go after `elapsed` since the last slice: the link's rate half as much again,
    /// at least [`SLICE`] per [`GAP`]. A committer late by more than a few gaps does not make up all of it
    /// in one burst.
    pub fn slice(&self, elapsed: Duration) -> usize {
        let per_sec = (SLICE as f64 / GAP.as_secs_f64()).max(self.per_sec * 1.5);
        (per_sec * elapsed.min(GAP * 4).as_secs_f64()).ceil() as usize
    }
}

/// An ACK waiting for its slice, and when its REQUEST's batch was read.
pub struct Waiting {
    pub reply: Transmit,
    pub received: Option<Instant>,
}

/// Where the pacer's slices go: a link's sockets (the committer), a record (tests).
pub trait SendSlice {
    fn send_slice(&mut self, link: usize, slice: &[Waiting]);
}

impl<F: FnMut(usize, &[Waiting])> SendSlice for F {
    fn send_slice(&mut self, link: usize, slice: &[Waiting]) {
        self(link, slice)
    }
}

/// ACKs waiting to go out a slice at a time, per link. The committer goes on committing while they wait
/// (it sends each slice when it falls [`due`](Pacer::due)): pacing delays the ACKs of a stall, never the
/// commits after it.
pub struct Pacer {
    links: Vec<LinkAcks>,
}

struct LinkAcks {
    pace: Pace,
    waiting: VecDeque<Waiting>,
    /// When the last slice went.
    last: Instant,
}

impl Pacer {
    pub fn new(links: usize, now: Instant) -> Self {
        Pacer {
            links: (0..links)
                .map(|_| LinkAcks {
                    pace: Pace::new(now),
                    waiting: VecDeque::new(),
                    last: now.checked_sub(GAP).unwrap_or(now),
                })
                .collect(),
        }
    }

    /// A commit's `count` ACKs for `link`, at `now`: whether they go at once (none wait before them, and
    /// they are at most two slices' worth), or are to be [`queue`](Pacer::queue)d.
    pub fn committed(&mut self, link: usize, now: Instant, count: usize) -> bool {
        let Some(l) = self.links.get_mut(link) else { return true };
        let at_once = l.waiting.is_empty() && count <= 2 * l.pace.slice(GAP);
        l.pace.counted(now, count);
        at_once
    }

    /// Puts a commit's ACKs for `link` behind those waiting there; how many. If none waited, their first
    /// slice is due at once.
    pub fn queue(&mut self, link: usize, now: Instant, acks: impl Iterator<Item = Waiting>) -> usize {
        let Some(l) = self.links.get_mut(link) else { return 0 };
        if l.waiting.is_empty() {
            l.last = l.last.max(now.checked_sub(GAP).unwrap_or(now));
        }
        let before = l.waiting.len();
        l.waiting.extend(acks);
        l.waiting.len() - before
    }

    /// When the next slice is due, if any ACK waits.
    pub fn due(&self) -> Option<Instant> {
        self.links.iter().filter(|l| !l.waiting.is_empty()).map(|l| l.last + GAP).min()
    }

    /// Sends, with `send`, a slice of each link whose slice is due by `now`: as many as the time since its
    /// last slice allows.
    pub fn send_due(&mut self, now: Instant, send: &mut impl SendSlice) {
        for (i, l) in self.links.iter_mut().enumerate() {
            if l.waiting.is_empty() || l.last + GAP > now {
                continue;
            }
            let n = l.pace.slice(now - l.last).min(l.waiting.len());
            send.send_slice(i, &l.waiting.make_contiguous()[..n]);
            l.waiting.drain(..n);
            l.last = now;
        }
    }

    /// Sends everything waiting at once (the committer is ending).
    pub fn send_all(&mut self, send: &mut impl SendSlice) {
        for (i, l) in self.links.iter_mut().enumerate() {
            send.send_slice(i, l.waiting.make_contiguous());
            l.waiting.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(xid: u32) -> Waiting {
        let reply = Transmit {
            iface: 0,
            src: "192.0.2.1".parse().unwrap(),
            dst: dhcplab_engine::reply::Destination::Relay { ip: "192.0.2.2".parse().unwrap() },
            kind: dhcplab_engine::message::DhcpMessage::Ack,
            yiaddr: "192.0.2.10".parse().unwrap(),
            needs_store: true,
            xid,
            bytes: vec![],
        };
        Waiting { reply, received: None }
    }

    /// Calls `send_due` at `at`; the xids each link's slice carried.
    fn due_at(p: &mut Pacer, at: Instant) -> Vec<(usize, Vec<u32>)> {
        let mut sent = vec![];
        p.send_due(at, &mut |link, slice: &[Waiting]| sent.push((link, slice.iter().map(|w| w.reply.xid).collect())));
        sent
    }

    #[test]
    fn a_steady_commits_acks_go_at_once() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1, t0);
        assert!(p.committed(0, t0, 2 * SLICE));
        assert!(!p.committed(0, t0, 2 * SLICE + 1));
        assert_eq!(p.due(), None);
    }

    #[test]
    fn a_stalled_commits_acks_go_in_slices_in_order_and_later_acks_wait_behind_them() {
        let t0 = Instant::now();
        let mut p = Pacer::new(2, t0);
        assert!(!p.committed(1, t0, 100));
        assert_eq!(p.queue(1, t0, (0..100).map(ack)), 100);
        assert_eq!(p.due(), Some(t0), "the first slice is due at once");
        assert_eq!(due_at(&mut p, t0), vec![(1, (0..32).collect())]);
        assert_eq!(p.due(), Some(t0 + GAP));
        assert!(due_at(&mut p, t0 + GAP / 2).is_empty(), "nothing before the gap has passed");
        // The next commit's ACKs, however few, wait behind: the relay's socket is still full of the burst.
        assert!(!p.committed(1, t0 + GAP / 2, 3));
        assert!(p.committed(0, t0 + GAP / 2, 1), "another link's go at once");
        p.queue(1, t0 + GAP / 2, (100..103).map(ack));
        let mut all: Vec<u32> = (0..32).collect();
        for k in 1..=3 {
            let sent = due_at(&mut p, t0 + GAP * k);
            assert_eq!(sent.len(), 1);
            all.extend(&sent[0].1);
        }
        assert_eq!(all, (0..103).collect::<Vec<_>>(), "every ACK once, in order");
        assert_eq!(p.due(), None);
        assert!(p.committed(1, t0 + GAP * 3, 1));
    }

    #[test]
    fn slices_grow_with_the_links_rate_so_a_backlog_drains_faster_than_acks_come() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1, t0);
        // 800 ACKs in 100 ms (8,000/s), as at the stall measured: 12 a millisecond, so slices stay at 32.
        (1..=10).for_each(|i| _ = p.committed(0, t0 + Duration::from_millis(10 * i), 80));
        assert_eq!(p.links[0].pace.slice(GAP), SLICE);
        // 4,000 in the next 100 ms (40,000/s): 40 a millisecond, half as many again.
        (11..=20).for_each(|i| _ = p.committed(0, t0 + Duration::from_millis(10 * i), 400));
        assert_eq!(p.links[0].pace.slice(GAP), 60);
        // 120 ACKs at that rate go at once; 121 are paced, by 60.
        let now = t0 + Duration::from_millis(200);
        assert!(!p.committed(0, now, 121));
        p.queue(0, now, (0..400).map(ack));
        let sizes: Vec<usize> = (0..3).flat_map(|k| due_at(&mut p, now + GAP * k)).map(|(_, x)| x.len()).collect();
        assert_eq!(sizes, vec![60, 60, 60]);
        // A committer late for its slice sends what the time since the last one allows: here 2.5 gaps.
        let late = due_at(&mut p, now + GAP * 2 + GAP * 5 / 2);
        assert_eq!(late[0].1.len(), 150);
    }
}
