//! Group commit, on its own thread: the engine hands over each batch's lease changes with the ACKs that
//! announce them; the committer makes the changes durable (one transaction, one fsync for every batch
//! waiting) and only then sends those ACKs. A lease is on disk before its client hears of it.
//!
//! The lease lines of the log are written here too, once their fate is known: an ACK withheld is not
//! logged as sent.
//!
//! Under steady load the committer also waits a little for the next batches before it commits (the
//! [`CommitWindow`]), so one fsync covers several ACKs: an fsync costs far more CPU than the exchange.

use super::ack_pacing;
use super::clock::Clock;
use super::command::{Command, CommandSender};
use super::lease_log;
use crate::batched_stderr::Batch;
use crate::link::{LinkSender, SendBuffers};
use crate::store::{Change, LatestChanges, LeaseStore, keep_latest};
use crossbeam_utils::CachePadded;
use dhcplab_engine::{LeaseEvent, LeaseEventKind, Transmit};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// Batches waiting for the store. When it is full the engine keeps one job, merging the next ones into it,
/// until the committer makes room; once that job holds `HELD_MAX` changes it stops reading packets (it
/// goes on answering the API and its timers), the sockets' kernel buffers fill, and the kernel drops (and
/// counts) what does not fit: memory stays bounded under overload.
pub const STORE_QUEUE: usize = 64;

/// How long the committer waits before trying again changes whose commit failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Counters kept outside the engine, and the store's health for `/healthz`.
///
/// The engine's thread and the committer's run on different cores: what one of them writes on every packet
/// or commit sits on a cache line of its own ([`CachePadded`]), so the other's reads (of the flags, on every
/// turn) do not miss each time. The flags themselves are written only when they change.
#[derive(Default)]
pub struct Counters {
    /// Written by the committer at each commit.
    pub store_commits: CachePadded<AtomicU64>,
    pub store_failures: AtomicU64,
    /// ACKs withheld because their lease could not be stored.
    pub acks_withheld: AtomicU64,
    /// ACKs held back because another server's lease for the address won in the shared database.
    pub store_conflicts: AtomicU64,
    /// Changes whose commit failed, waiting to be tried again.
    pub store_pending: AtomicU64,
    /// ACKs sent in slices because a commit carried more of them for one link than go out at once.
    pub acks_paced: AtomicU64,
    /// Times the engine found the store's queue full (and began gathering changes into one held job).
    pub store_queue_full: AtomicU64,
    /// Times the gathered changes reached their cap and the engine stopped reading packets.
    pub store_reading_paused: AtomicU64,
    /// The engine found the queue full and waits to be woken when the committer has taken jobs off it.
    pub store_room_wanted: AtomicBool,
    /// The last commit failed; `last_error` says why.
    pub store_failing: AtomicBool,
    /// The committer's thread has ended: nothing can be stored or ACKed any more.
    pub store_stopped: AtomicBool,
    /// Every store job up to this number is durable.
    pub durable_through: CachePadded<AtomicU64>,
    /// How long commits take (successful or not): the database's latency as the DHCP path sees it.
    pub commit_seconds: CachePadded<Histogram>,
    /// From reading a DISCOVER's batch to sending its OFFER (the engine's), and a REQUEST's to sending its
    /// ACK after the commit (the committer's): what a client waits, less the network.
    pub offer_seconds: CachePadded<Histogram>,
    pub ack_seconds: CachePadded<Histogram>,
    /// Nanoseconds the engine was held (packets, timers, API commands): the protocol's work, which runs
    /// one batch at a time however many packet threads read. Its rate is how busy that one engine is.
    pub engine_busy_nanos: CachePadded<AtomicU64>,
    pub last_error: Mutex<Option<String>>,
    /// Dynamic DNS: what became of the changes (shared with the updater).
    pub dns: Arc<crate::ddns::DnsCounters>,
    /// How far the SQLite file is behind its change log (none for PostgreSQL).
    pub file_lag: Option<Arc<crate::store::FileLag>>,
}

impl Counters {
    /// Why the store is unhealthy, if it is.
    pub fn store_problem(&self) -> Option<String> {
        if self.store_stopped.load(Ordering::Acquire) {
            return Some("the lease store's thread has stopped; restart the daemon".into());
        }
        if self.store_failing.load(Ordering::Acquire) {
            let why = self.last_error.lock().ok().and_then(|e| e.clone()).unwrap_or_default();
            return Some(format!("commits are failing ({why}); ACKs are withheld until they succeed"));
        }
        None
    }
}

/// A Prometheus histogram of durations with fixed buckets, updated without locks.
pub struct Histogram {
    /// Upper bounds, seconds.
    pub bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative); the last slot is +Inf.
    counts: [AtomicU64; 12],
    sum_micros: AtomicU64,
}

/// Commit latency buckets: 0.5 ms (an fsync on a fast disk) to 5 s (a database failing over).
const COMMIT_BOUNDS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0];

impl Default for Histogram {
    fn default() -> Self {
        Histogram { bounds: COMMIT_BOUNDS, counts: Default::default(), sum_micros: AtomicU64::new(0) }
    }
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = self.bounds.iter().position(|b| secs <= *b).unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Cumulative counts per bound (the last is +Inf, the total), and the sum in seconds.
    pub fn read(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self.counts.iter().take(self.bounds.len() + 1).map(|c| {
            total += c.load(Ordering::Relaxed);
            total
        });
        (cumulative.collect(), self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

/// Marks the store stopped when the committer's thread ends, however it ends.
struct Stopped(Arc<Counters>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.store_stopped.store(true, Ordering::Release);
    }
}

/// A batch whose lease changes must be durable before its replies leave.
pub struct StoreJob {
    /// Jobs are numbered in the order the engine sends them.
    pub batch: u64,
    /// When the batch of packets these replies answer was read.
    pub received: Option<std::time::Instant>,
    pub changes: JobItems<Change>,
    pub replies: JobItems<Transmit>,
    /// The events that made these changes, to be logged once the changes are durable (only those the log's
    /// level writes).
    pub events: Vec<LeaseEvent>,
}

/// A job's changes or replies. Most jobs answer one REQUEST: one change and one ACK, kept inline, so
/// making a job allocates nothing on the engine's thread (nor frees anything on this one).
pub type JobItems<T> = smallvec::SmallVec<[T; 1]>;

/// How long the committer holds a batch open for the ones that follow it. It waits only while batches
/// come faster than the window (its estimate of their spacing is under half the window, so at least two
/// more are expected), and never longer than `max`: a lone REQUEST on a quiet network is committed at once,
/// and a busy one pays at most `max` of extra delay for a several-fold cut in fsyncs.
#[derive(Debug, Clone)]
pub struct CommitWindow {
    pub max: Duration,
    /// Smoothed time between batches (an exponential average, 1/8 weight for the newest gap).
    gap: Duration,
    last: Option<Instant>,
}

impl CommitWindow {
    pub fn new(max: Duration) -> Self {
        CommitWindow { max, gap: Duration::from_secs(1), last: None }
    }

    /// A batch arrived at `at`.
    pub fn arrived(&mut self, at: Instant) {
        if let Some(last) = self.last {
            let newest = at.saturating_duration_since(last).min(Duration::from_secs(1));
            self.gap = (self.gap * 7 + newest) / 8;
        }
        self.last = Some(at);
    }

    /// How long to hold the commit open now, for a first batch whose packets were read `waited` ago: the
    /// window counts from then, so a batch that came while the last commit was being made does not wait a
    /// whole window more.
    pub fn hold(&self, waited: Duration) -> Duration {
        if self.gap * 2 < self.max { self.max.saturating_sub(waited) } else { Duration::ZERO }
    }
}

/// Asks the kernel to end this thread's sleeps on time. By default it may end one up to 50 µs late, to
/// wake several sleepers together; the commit window's sleep then lengthens every ACK it holds (a 0.7 ms
/// sleep overslept by 80 µs at the median on this project's VM, by 33 µs with a slack of 1 ns).
fn wake_on_time() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only the calling thread's slack.
    let r = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    if r != 0 {
        warn!("the lease store's thread keeps the kernel's timer slack: {}", std::io::Error::last_os_error());
    }
}

/// Where the committer sends what it learns: the replies' links, and the engine (records of the shared
/// store that won over this server's changes).
pub struct Outlets {
    pub senders: Vec<LinkSender>,
    pub engine: Option<CommandSender>,
}

/// Takes every batch waiting, commits all their changes in one transaction, then sends their ACKs. If the
/// commit fails the ACKs are not sent (and counted): the client will ask again. The changes themselves
/// (releases and expiries too, which no client will repeat) are kept and tried again with the next batch,
/// or after `RETRY_AFTER` when none comes. An ACK whose lease a shared store refused (another server's
/// client holds the address) is never sent; the engine takes the winning record and NAKs the client when
/// it asks again.
pub fn run(
    mut store: Box<dyn LeaseStore>,
    rx: Receiver<StoreJob>,
    out: Outlets,
    counters: Arc<Counters>,
    clock: Clock,
    mut window: CommitWindow,
) {
    let _stopped = Stopped(counters.clone());
    wake_on_time();
    // Changes not yet durable (bounded by the addresses however long commits fail).
    let mut backlog = LatestChanges::default();
    let mut newest = 0;
    let mut acks = AckSender { senders: &out.senders, sends: SendBuffers::default(), counters: &counters };
    let mut pacer = ack_pacing::Pacer::new(out.senders.len(), Instant::now());
    // Reused to hand a stall's ACKs to the pacer.
    let mut moving = Vec::new();
    // Reused each commit: the batches taken, and their changes.
    let (mut jobs, mut changes) = (Vec::new(), Vec::new());
    loop {
        jobs.clear();
        // Wait for a batch; with changes still to retry, for `RETRY_AFTER` at most.
        let limit = (!backlog.is_empty()).then(|| Instant::now() + RETRY_AFTER);
        let first = match next_job(&rx, limit, &mut pacer, &mut acks) {
            Ok(j) => j,
            // The engine has stopped: with nothing to retry, the committer ends; else it keeps trying what
            // is left, at the retry pace.
            Err(RecvTimeoutError::Disconnected) => {
                pacer.send_all(&mut acks);
                if backlog.is_empty() {
                    return;
                }
                std::thread::sleep(RETRY_AFTER);
                None
            }
            Err(RecvTimeoutError::Timeout) => None,
        };
        if let Some(first) = first {
            let waited = first.received.map_or(Duration::ZERO, |r| r.elapsed());
            jobs.push(first);
            window.arrived(Instant::now());
            // Hold the commit open for the batches on their way (see `CommitWindow`), asleep: a batch that
            // arrives meanwhile costs the engine no wake-up call and this thread no wake-up.
            let hold = window.hold(waited);
            if !hold.is_zero() {
                sleep_pacing(Instant::now() + hold, &mut pacer, &mut acks);
            }
        }
        let drained = Instant::now();
        while let Ok(j) = rx.try_recv() {
            window.arrived(drained);
            jobs.push(j);
        }
        // The engine sets the flag before it sleeps; a queue it found full is drained here again later.
        std::sync::atomic::fence(Ordering::SeqCst);
        if counters.store_room_wanted.load(Ordering::SeqCst)
            && counters.store_room_wanted.swap(false, Ordering::SeqCst)
            && let Some(engine) = &out.engine
        {
            engine.wake();
        }
        newest = jobs.iter().map(|j| j.batch).fold(newest, u64::max);
        // Changes whose commit failed (if any) go first, so the newer ones win.
        changes.clear();
        changes.extend(backlog.take());
        changes.extend(jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.changes)));
        keep_latest(&mut changes);
        let mut refused = Vec::new();
        if !changes.is_empty() {
            let started = std::time::Instant::now();
            let result = store.commit(clock.now(), &changes);
            counters.commit_seconds.observe(started.elapsed());
            match result {
                Err(e) => {
                    error!("could not store leases, withholding their ACKs: {e}");
                    counters.store_failures.fetch_add(1, Ordering::Relaxed);
                    let n: usize = jobs.iter().map(|j| j.replies.len()).sum();
                    counters.acks_withheld.fetch_add(n as u64, Ordering::Relaxed);
                    counters.store_pending.store(changes.len() as u64, Ordering::Relaxed);
                    if let Ok(mut last) = counters.last_error.lock() {
                        *last = Some(e.to_string());
                    }
                    counters.store_failing.store(true, Ordering::Release);
                    backlog.add(changes.drain(..));
                    log_events(&jobs, &out.senders, |_| false);
                    continue;
                }
                Ok(report) => {
                    refused = report.refused;
                    if !report.adopt.is_empty()
                        && let Some(engine) = &out.engine
                        && engine.blocking_send(Command::Shared(report.adopt)).is_err()
                    {
                        error!("the engine has stopped");
                    }
                }
            }
            // This thread alone writes the flag: read first, so a healthy store's commits leave its line alone.
            if counters.store_failing.load(Ordering::Acquire) {
                counters.store_failing.store(false, Ordering::Release);
                info!("lease store commits work again");
            }
            if counters.store_pending.load(Ordering::Relaxed) != 0 {
                counters.store_pending.store(0, Ordering::Relaxed);
            }
            counters.store_commits.fetch_add(1, Ordering::Relaxed);
        }
        counters.durable_through.store(newest, Ordering::Release);
        // Each link's ACKs in one go, in the order they were made; many at once (a commit that stalled),
        // or any while some wait, behind those waiting, in slices (see `ack_pacing`).
        let now = Instant::now();
        for i in 0..out.senders.len() {
            let is_mine = |t: &Transmit| t.iface as usize == i && !refused.contains(&t.yiaddr);
            let count = jobs.iter().flat_map(|j| j.replies.iter()).filter(|t| is_mine(t)).count();
            if count == 0 {
                continue;
            }
            if pacer.committed(i, now, count) {
                acks.send_now(i, &jobs, is_mine);
            } else {
                // A stall's ACKs move to the pacer; the rest (another link's, or held back) stay.
                for j in &mut jobs {
                    let received = j.received;
                    for t in std::mem::take(&mut j.replies) {
                        if is_mine(&t) {
                            moving.push(ack_pacing::Waiting { reply: t, received });
                        } else {
                            j.replies.push(t);
                        }
                    }
                }
                let queued = pacer.queue(i, now, moving.drain(..));
                counters.acks_paced.fetch_add(queued as u64, Ordering::Relaxed);
            }
        }
        pacer.send_due(now, &mut acks);
        // Logged after the ACKs have gone, not before: the log must not delay them.
        let _log = Batch::open();
        for t in jobs.iter().flat_map(|j| j.replies.iter()).filter(|t| refused.contains(&t.yiaddr)) {
            counters.store_conflicts.fetch_add(1, Ordering::Relaxed);
            warn!(ip = %t.yiaddr, xid = format_args!("{:#010x}", t.xid), "ACK held back: another server's client holds the address in the shared database");
        }
        log_events(&jobs, &out.senders, |ip| !refused.contains(&ip));
    }
}

/// Sends ACKs on their links, and times them.
struct AckSender<'a> {
    senders: &'a [LinkSender],
    sends: SendBuffers,
    counters: &'a Counters,
}

impl AckSender<'_> {
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

impl ack_pacing::SendSlice for AckSender<'_> {
    fn send_slice(&mut self, link: usize, slice: &[ack_pacing::Waiting]) {
        self.send(link, &mut slice.iter().map(|w| &w.reply));
        for received in slice.iter().filter_map(|w| w.received) {
            self.counters.ack_seconds.observe(received.elapsed());
        }
    }
}

/// Waits for the engine's next job until `limit` (for ever without one), sending paced ACKs as their slices
/// fall due meanwhile.
fn next_job(
    rx: &Receiver<StoreJob>,
    limit: Option<Instant>,
    pacer: &mut ack_pacing::Pacer,
    send: &mut impl ack_pacing::SendSlice,
) -> Result<Option<StoreJob>, RecvTimeoutError> {
    loop {
        let until = match (limit, pacer.due()) {
            (Some(l), Some(d)) => Some(l.min(d)),
            (l, d) => l.or(d),
        };
        let got = match until {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(u) => rx.recv_timeout(u.saturating_duration_since(Instant::now())),
        };
        match got {
            Ok(j) => return Ok(Some(j)),
            Err(RecvTimeoutError::Timeout) if limit.is_none_or(|l| Instant::now() < l) => {
                pacer.send_due(Instant::now(), send);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sleeps until `until`, sending paced ACKs as their slices fall due meanwhile.
fn sleep_pacing(until: Instant, pacer: &mut ack_pacing::Pacer, send: &mut impl ack_pacing::SendSlice) {
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        match pacer.due() {
            Some(d) if d < until => {
                std::thread::sleep(d.saturating_duration_since(now));
                pacer.send_due(Instant::now(), send);
            }
            _ => {
                std::thread::sleep(until - now);
                return;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CommitReport, StoreError};

    /// A store whose first `fail` commits fail as a full disk would.
    struct Flaky {
        fail: usize,
        committed: Arc<Mutex<Vec<Change>>>,
    }

    impl LeaseStore for Flaky {
        fn load_into(&mut self, _: &mut dyn crate::store::LoadSink) -> Result<(), StoreError> {
            Ok(())
        }

        fn commit(&mut self, _now: dhcplab_engine::Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
            if self.fail > 0 {
                self.fail -= 1;
                let full = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL);
                return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(full, None)));
            }
            self.committed.lock().unwrap().extend_from_slice(changes);
            Ok(CommitReport::default())
        }
    }

    #[test]
    fn the_committer_thread_sleeps_with_no_timer_slack() {
        // SAFETY: PR_GET_TIMERSLACK takes no argument and returns the calling thread's slack in ns.
        let slack = || unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        let (before, after) = std::thread::spawn(move || {
            let before = slack();
            wake_on_time();
            (before, slack())
        })
        .join()
        .unwrap();
        assert!(before > 1, "a new thread has the kernel's slack (50 µs by default): {before} ns");
        assert_eq!(after, 1, "then 1 ns");
    }

    #[test]
    fn the_commit_window_opens_only_while_batches_come_faster_than_it() {
        let max = Duration::from_millis(1);
        let mut w = CommitWindow::new(max);
        let t0 = Instant::now();
        w.arrived(t0);
        assert_eq!(w.hold(Duration::ZERO), Duration::ZERO, "a first, lone batch is committed at once");
        // Steady load: a batch every 200 µs (a few dozen batches, some milliseconds, to notice it).
        (1..=100).for_each(|i| w.arrived(t0 + Duration::from_micros(200 * i)));
        assert_eq!(w.hold(Duration::ZERO), max, "under load a commit waits for the batches on their way");
        // A batch that waited 300 µs behind the last commit waits only the rest of its window; one that
        // waited longer than the window, not at all.
        assert_eq!(w.hold(Duration::from_micros(300)), Duration::from_micros(700));
        assert_eq!(w.hold(Duration::from_millis(2)), Duration::ZERO);
        // The network goes quiet: batches 5 ms apart close the window again.
        let t1 = t0 + Duration::from_millis(20);
        (1..=20).for_each(|i| w.arrived(t1 + Duration::from_millis(5 * i)));
        assert_eq!(w.hold(Duration::ZERO), Duration::ZERO);
        assert_eq!(CommitWindow::new(Duration::ZERO).hold(Duration::ZERO), Duration::ZERO, "0 turns it off");
    }

    #[test]
    fn a_failed_commit_is_tried_again_and_health_follows_it() {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let counters = Arc::new(Counters::default());
        let committed = Arc::new(Mutex::new(vec![]));
        let store = Box::new(Flaky { fail: 2, committed: committed.clone() });
        let c = counters.clone();
        let out = Outlets { senders: vec![], engine: None };
        let thread =
            std::thread::spawn(move || run(store, rx, out, c, Clock::new(), CommitWindow::new(Duration::ZERO)));
        // An expiry: no client will ask again, so only a retry can make it durable.
        let hw = "52:54:00:00:00:01".parse().unwrap();
        let gone =
            Change::Remove { ip: Ipv4Addr::new(192, 0, 2, 10), hw, expires: dhcplab_engine::Instant::from_secs(9) };
        tx.send(StoreJob {
            batch: 1,
            received: None,
            changes: [gone.clone()].into(),
            replies: JobItems::new(),
            events: vec![],
        })
        .unwrap();
        let start = std::time::Instant::now();
        while counters.store_failures.load(Ordering::Relaxed) == 0 {
            assert!(start.elapsed() < Duration::from_secs(5), "never failed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(counters.store_problem().is_some_and(|p| p.contains("failing")), "{:?}", counters.store_problem());
        while committed.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(10), "never retried");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(*committed.lock().unwrap(), vec![gone]);
        assert_eq!(counters.store_failures.load(Ordering::Relaxed), 2);
        assert_eq!(counters.store_problem(), None, "healthy again");
        drop(tx);
        thread.join().unwrap();
        assert!(counters.store_problem().is_some_and(|p| p.contains("stopped")));
    }
}
