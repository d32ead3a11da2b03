//! One commit: the lease changes of every batch waiting made durable at once, then the ACKs that announce
//! them sent. A lease is on disk before its client hears of it. If the commit fails the ACKs are withheld
//! (and counted: the client will ask again) and the changes kept to be tried again. The lease lines of the
//! log are written here too, once their fate is known: an ACK withheld is not logged as sent.
//!
//! Where this runs is the engine's choice (see `engine_loop`): on the engine thread itself
//! ([`InlineCommits`](super::inline_commit::InlineCommits)) or on the committer's own thread
//! ([`committer::run`](super::committer::run)).

use super::ack_pacing;
use super::clock::Clock;
use super::committer::{Counters, StoreJob};
use super::lease_log;
use crate::batched_stderr::Batch;
use crate::link::{LinkSender, SendBuffers};
use crate::store::{Change, LatestChanges, LeaseStore, keep_latest};
use dhcplab_engine::{LeaseEventKind, Transmit};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// The store with what its commits need: the changes still to try again, the links to send ACKs on, and
/// the pacing of a stall's ACKs.
pub struct Commits {
    store: Box<dyn LeaseStore>,
    acks: AckSender,
    clock: Clock,
    /// Changes not yet durable (bounded by the addresses however long commits fail).
    backlog: LatestChanges,
    /// The newest job seen: once a commit succeeds, every job up to it is durable.
    newest: u64,
    pacer: ack_pacing::Pacer,
    /// Reused each commit: its changes, and a stall's ACKs on their way to the pacer.
    changes: Vec<Change>,
    moving: Vec<ack_pacing::Waiting>,
    /// When a commit last took longer than [`SLOW`].
    slow_at: Option<Instant>,
}

/// A commit longer than this is a stall: on the engine thread it held the reading of packets meanwhile
/// (see `inline_commit`). At 16,000 datagrams a second the links' 4 MiB receive buffers hold about 100 ms
/// of them; a tenth of that keeps the backlog read after a stall small (its OFFERs leave together).
pub const SLOW: Duration = Duration::from_millis(10);

/// The commits, shared by the engine thread and the committer's, which take turns (see `engine_loop`).
pub type SharedCommits = Arc<Mutex<Commits>>;

/// The shared commits, to use: a thread that panicked holding them left them between two commits.
pub fn lock(commits: &Mutex<Commits>) -> MutexGuard<'_, Commits> {
    commits.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Commits {
    pub fn new(store: Box<dyn LeaseStore>, senders: Vec<LinkSender>, counters: Arc<Counters>, clock: Clock) -> Self {
        let pacer = ack_pacing::Pacer::new(senders.len(), Instant::now());
        let acks = AckSender { senders, sends: SendBuffers::default(), counters };
        let (backlog, changes, moving) = (LatestChanges::default(), Vec::new(), Vec::new());
        Commits { store, acks, clock, backlog, newest: 0, pacer, changes, moving, slow_at: None }
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.acks.counters
    }

    /// Whether a commit is a write to this machine's disk (see `LeaseStore::commits_locally`).
    pub fn commits_locally(&self) -> bool {
        self.store.commits_locally()
    }

    /// Whether no commit has stalled (taken longer than [`SLOW`]) for `calm` up to `now`.
    pub fn calm(&self, now: Instant, calm: Duration) -> bool {
        self.slow_at.is_none_or(|t| now.saturating_duration_since(t) >= calm)
    }

    /// Whether changes whose commit failed wait to be tried again.
    pub fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// When the next slice of paced ACKs is due, if any wait.
    pub fn pacing_due(&self) -> Option<Instant> {
        self.pacer.due()
    }

    /// Sends the paced ACKs whose slices are due.
    pub fn send_due(&mut self, now: Instant) {
        self.pacer.send_due(now, &mut self.acks);
    }

    /// Sends every paced ACK now (the daemon is stopping).
    pub fn send_all_paced(&mut self) {
        self.pacer.send_all(&mut self.acks);
    }

    /// Commits the changes of `jobs` (after those that failed before, so the newer ones win) in one
    /// transaction, then sends the jobs' ACKs: each link's in one go, in the order they were made; many at
    /// once (a commit that stalled), or any while some wait, behind those waiting, in slices (see
    /// `ack_pacing`). An ACK whose lease a shared store refused (another server's client holds the address)
    /// is never sent. Returns the shared store's records that won over this server's changes, for the
    /// engine to take (it NAKs those clients when they ask again). The jobs keep the ACKs not handed to the
    /// pacer, sent or withheld: their buffers are free.
    pub fn commit(&mut self, jobs: &mut [StoreJob]) -> Vec<Change> {
        let counters = self.acks.counters.clone();
        self.newest = jobs.iter().map(|j| j.batch).fold(self.newest, u64::max);
        self.changes.clear();
        self.changes.extend(self.backlog.take());
        self.changes.extend(jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.changes)));
        keep_latest(&mut self.changes);
        let (mut refused, mut adopt) = (Vec::new(), Vec::new());
        if !self.changes.is_empty() {
            let started = Instant::now();
            let result = self.store.commit(self.clock.now(), &self.changes);
            let took = started.elapsed();
            counters.commit_seconds.observe(took);
            if took > SLOW {
                self.slow_at = Some(Instant::now());
            }
            match result {
                Err(e) => {
                    error!("could not store leases, withholding their ACKs: {e}");
                    counters.store_failures.fetch_add(1, Ordering::Relaxed);
                    let n: usize = jobs.iter().map(|j| j.replies.len()).sum();
                    counters.acks_withheld.fetch_add(n as u64, Ordering::Relaxed);
                    counters.store_pending.store(self.changes.len() as u64, Ordering::Relaxed);
                    if let Ok(mut last) = counters.last_error.lock() {
                        *last = Some(e.to_string());
                    }
                    counters.store_failing.store(true, Ordering::Release);
                    self.backlog.add(self.changes.drain(..));
                    log_events(jobs, &self.acks.senders, |_| false);
                    return adopt;
                }
                Ok(report) => (refused, adopt) = (report.refused, report.adopt),
            }
            // Only the committing side writes the flag: read first, so a healthy store's commits leave its
            // line alone.
            if counters.store_failing.load(Ordering::Acquire) {
                counters.store_failing.store(false, Ordering::Release);
                info!("lease store commits work again");
            }
            if counters.store_pending.load(Ordering::Relaxed) != 0 {
                counters.store_pending.store(0, Ordering::Relaxed);
            }
            counters.store_commits.fetch_add(1, Ordering::Relaxed);
        }
        counters.durable_through.store(self.newest, Ordering::Release);
        let now = Instant::now();
        for i in 0..self.acks.senders.len() {
            let is_mine = |t: &Transmit| t.iface as usize == i && !refused.contains(&t.yiaddr);
            let count = jobs.iter().flat_map(|j| j.replies.iter()).filter(|t| is_mine(t)).count();
            if count == 0 {
                continue;
            }
            if self.pacer.committed(i, now, count) {
                self.acks.send_now(i, jobs, is_mine);
            } else {
                // A stall's ACKs move to the pacer; the rest (another link's, or held back) stay.
                for j in jobs.iter_mut() {
                    let received = j.received;
                    for t in std::mem::take(&mut j.replies) {
                        if is_mine(&t) {
                            self.moving.push(ack_pacing::Waiting { reply: t, received });
                        } else {
                            j.replies.push(t);
                        }
                    }
                }
                let queued = self.pacer.queue(i, now, self.moving.drain(..));
                counters.acks_paced.fetch_add(queued as u64, Ordering::Relaxed);
            }
        }
        self.pacer.send_due(now, &mut self.acks);
        // Logged after the ACKs have gone, not before: the log must not delay them.
        let _log = Batch::open();
        for t in jobs.iter().flat_map(|j| j.replies.iter()).filter(|t| refused.contains(&t.yiaddr)) {
            counters.store_conflicts.fetch_add(1, Ordering::Relaxed);
            warn!(ip = %t.yiaddr, xid = format_args!("{:#010x}", t.xid), "ACK held back: another server's client holds the address in the shared database");
        }
        log_events(jobs, &self.acks.senders, |ip| !refused.contains(&ip));
        adopt
    }
}

/// Sends ACKs on their links, and times them.
struct AckSender {
    senders: Vec<LinkSender>,
    sends: SendBuffers,
    counters: Arc<Counters>,
}

impl AckSender {
    fn send(&mut self, link: usize, acks: &mut dyn Iterator<Item = &Transmit>) {
        let Some(sender) = self.senders.get(link) else { return };
        if let Err(e) = sender.send_all(&mut self.sends, acks) {
            warn!("{} replies not sent: {}", e.count, e.last);
        }
    }

    /// Sends the jobs' ACKs for `link` that `mine` picks, at once.
    fn send_now(&mut self, link: usize, jobs: &[StoreJob], mine: impl Fn(&Transmit) -> bool) {
        self.send(link, &mut jobs.iter().flat_map(|j| j.replies.iter()).filter(|t| mine(t)));
        for j in jobs {
            if let Some(received) = j.received {
                let waited = received.elapsed();
                j.replies.iter().filter(|t| mine(t)).for_each(|_| self.counters.ack_seconds.observe(waited));
            }
        }
    }
}

impl ack_pacing::SendSlice for AckSender {
    fn send_slice(&mut self, link: usize, slice: &[ack_pacing::Waiting]) {
        self.send(link, &mut slice.iter().map(|w| &w.reply));
        for received in slice.iter().filter_map(|w| w.received) {
            self.counters.ack_seconds.observe(received.elapsed());
        }
    }
}

/// Logs the jobs' lease events, in one write. An ACK's line (a lease bound or renewed in an exchange) is
/// left out when `sent` says the ACK was withheld; every other event happened whatever became of the
/// commit (the engine's table is the truth, and its changes are tried again).
fn log_events(jobs: &[StoreJob], links: &[LinkSender], sent: impl Fn(Ipv4Addr) -> bool) {
    let _log = Batch::open();
    for ev in jobs.iter().flat_map(|j| j.events.iter()) {
        let acked = matches!(ev.kind, LeaseEventKind::Bound | LeaseEventKind::Renewed) && ev.exchange.is_some();
        if acked && !sent(ev.ip) {
            continue;
        }
        let link = ev.exchange.map(|x| links.get(x.iface as usize).map_or("?", LinkSender::name));
        lease_log::log_event(ev, link);
    }
}
