//! The committer's thread: the engine hands over each batch's lease changes with the ACKs that announce
//! them, and this thread commits them (see [`Commits`]) while the engine reads on. The engine thread makes
//! its commits itself when that costs less (see `inline_commit`); with packet threads, a store across the
//! network (PostgreSQL), or a local disk that has stalled, they come here.
//!
//! Under steady load the committer also waits a little for the next batches before it commits (the
//! [`CommitWindow`]), so one fsync covers several ACKs: an fsync costs far more CPU than the exchange.

use super::command::{Command, CommandSender};
use super::commits::{Commits, SharedCommits, lock};
use crate::store::Change;
use crossbeam_utils::CachePadded;
use dhcplab_engine::{LeaseEvent, Transmit};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, warn};

/// Batches waiting for the store. When it is full the engine keeps one job, merging the next ones into it,
/// until the committer makes room; once that job holds `HELD_MAX` changes it stops reading packets (it
/// goes on answering the API and its timers), the sockets' kernel buffers fill, and the kernel drops (and
/// counts) what does not fit: memory stays bounded under overload.
pub const STORE_QUEUE: usize = 64;

/// How long to wait before trying again changes whose commit failed.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

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
    /// Commits are made on the committer's own thread (not the engine thread's, see `inline_commit`).
    pub store_thread: AtomicBool,
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

    /// The sum of the observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
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

impl StoreJob {
    /// Takes the newer job into this one. The merged job carries the newer number (once it is durable, so
    /// is everything up to it); its replies are timed from the older batch's reading, an upper bound for
    /// the newer ones.
    pub fn merge(&mut self, newer: StoreJob) {
        self.batch = newer.batch;
        self.received = self.received.or(newer.received);
        self.changes.extend(newer.changes);
        self.replies.extend(newer.replies);
        self.events.extend(newer.events);
    }
}

/// A job's changes or replies. Most jobs answer one REQUEST: one change and one ACK, kept inline, so
/// making a job allocates nothing on the engine's thread (nor frees anything on this one).
pub type JobItems<T> = smallvec::SmallVec<[T; 1]>;

/// How long a commit is held open after its first batch: for the batch expected next, with half a gap's
/// grace for its lateness (one and a half times the estimate of the batches' spacing), never longer than
/// `max`, and not at all while batches come further apart than `max`: a lone REQUEST on a quiet
/// network is committed at once, and a busy one pays a little extra delay for a several-fold cut in
/// fsyncs. The hold trades CPU for delay; on the Intel VM of 5 December (`bench/ceiling`, alternating
/// builds) one and a half gaps cost 1.62–1.66× the stateless responder's CPU and 0.40–0.46 ms from REQUEST
/// to ACK at 8,000/s, against 1.44–1.63× and 0.50–0.54 ms for two gaps and 1.72–2.21× and 0.37–0.43 ms for
/// one: the only one of the three inside both of the project's targets (2×, 0.5 ms) there. Holding for the
/// whole of `max` under any load (as it once did) cost ACKs more delay and saved few commits: with `max`
/// 1 ms, 0.87–1.15 ms at 8,000/s and 0.16 commits per DORA at 5,000/s.
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
        if self.gap < self.max {
            (self.gap + self.gap / 2).min(self.max).saturating_sub(waited)
        } else {
            Duration::ZERO
        }
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

/// Starts the committer's thread on `rx`, sending the engine (`engine`) the records of a shared store
/// that won over this server's changes.
pub fn start(
    commits: SharedCommits,
    rx: Receiver<StoreJob>,
    engine: Option<CommandSender>,
    window: CommitWindow,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("lease-store".into()).spawn(move || run(commits, rx, engine, window))?;
    Ok(())
}

/// The channel the engine hands its jobs to the committer's thread on.
pub fn channel() -> (SyncSender<StoreJob>, Receiver<StoreJob>) {
    std::sync::mpsc::sync_channel(STORE_QUEUE)
}

/// Takes every batch waiting and commits them together (see [`Commits::commit`]). Changes whose commit
/// failed (releases and expiries too, which no client will repeat) are tried again with the next batch, or
/// after `RETRY_AFTER` when none comes.
pub fn run(commits: SharedCommits, rx: Receiver<StoreJob>, engine: Option<CommandSender>, mut window: CommitWindow) {
    let counters = lock(&commits).counters().clone();
    let _stopped = Stopped(counters.clone());
    wake_on_time();
    // Reused each commit: the batches taken.
    let mut jobs = Vec::new();
    loop {
        jobs.clear();
        // Wait for a batch; with changes still to retry, for `RETRY_AFTER` at most.
        let limit = lock(&commits).has_backlog().then(|| Instant::now() + RETRY_AFTER);
        let first = match next_job(&rx, limit, &commits) {
            Ok(j) => j,
            // The engine has stopped: with nothing to retry, the committer ends; else it keeps trying what
            // is left, at the retry pace.
            Err(RecvTimeoutError::Disconnected) => {
                let backlog = {
                    let mut c = lock(&commits);
                    c.send_all_paced();
                    c.has_backlog()
                };
                if !backlog {
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
                sleep_pacing(Instant::now() + hold, &commits);
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
            && let Some(engine) = &engine
        {
            engine.wake();
        }
        let adopt = lock(&commits).commit(&mut jobs);
        if !adopt.is_empty()
            && let Some(engine) = &engine
            && engine.blocking_send(Command::Shared(adopt)).is_err()
        {
            error!("the engine has stopped");
        }
    }
}

/// Waits for the engine's next job until `limit` (for ever without one), sending paced ACKs as their slices
/// fall due meanwhile.
fn next_job(
    rx: &Receiver<StoreJob>,
    limit: Option<Instant>,
    commits: &std::sync::Mutex<Commits>,
) -> Result<Option<StoreJob>, RecvTimeoutError> {
    loop {
        let until = match (limit, lock(commits).pacing_due()) {
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
                lock(commits).send_due(Instant::now());
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sleeps until `until`, sending paced ACKs as their slices fall due meanwhile.
fn sleep_pacing(until: Instant, commits: &std::sync::Mutex<Commits>) {
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        let due = lock(commits).pacing_due();
        match due {
            Some(d) if d < until => {
                std::thread::sleep(d.saturating_duration_since(now));
                lock(commits).send_due(Instant::now());
            }
            _ => {
                std::thread::sleep(until - now);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::Clock;
    use crate::store::{CommitReport, LeaseStore, StoreError};
    use std::net::Ipv4Addr;

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
    fn the_commit_window_holds_for_the_next_batch_while_batches_come_within_it() {
        let max = Duration::from_millis(1);
        let mut w = CommitWindow::new(max);
        let t0 = Instant::now();
        w.arrived(t0);
        assert_eq!(w.hold(Duration::ZERO), Duration::ZERO, "a first, lone batch is committed at once");
        // Steady load: a batch every 200 µs (two hundred batches, enough for the estimate to forget its first
        // second): a commit waits for the next on its way and half a gap more, about 300 µs.
        (1..=200).for_each(|i| w.arrived(t0 + Duration::from_micros(200 * i)));
        let near = |d: Duration, us: u64| d.as_micros().abs_diff(u128::from(us)) <= 2;
        assert!(near(w.hold(Duration::ZERO), 300), "{:?}", w.hold(Duration::ZERO));
        // A batch that waited 200 µs behind the last commit waits only the rest of its window; one that
        // waited longer than the window, not at all.
        assert!(near(w.hold(Duration::from_micros(200)), 100), "{:?}", w.hold(Duration::from_micros(200)));
        assert_eq!(w.hold(Duration::from_millis(2)), Duration::ZERO);
        // Batches 800 µs apart: the next is expected within the window, which stays open, for no more than
        // `max`.
        let t1 = t0 + Duration::from_millis(50);
        (1..=40).for_each(|i| w.arrived(t1 + Duration::from_micros(800 * i)));
        assert_eq!(w.hold(Duration::ZERO), max);
        // The network goes quiet: batches 5 ms apart close the window again.
        let t2 = t1 + Duration::from_millis(30);
        (1..=20).for_each(|i| w.arrived(t2 + Duration::from_millis(5 * i)));
        assert_eq!(w.hold(Duration::ZERO), Duration::ZERO);
        assert_eq!(CommitWindow::new(Duration::ZERO).hold(Duration::ZERO), Duration::ZERO, "0 turns it off");
    }

    #[test]
    fn a_failed_commit_is_tried_again_and_health_follows_it() {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let counters = Arc::new(Counters::default());
        let committed = Arc::new(Mutex::new(vec![]));
        let store = Box::new(Flaky { fail: 2, committed: committed.clone() });
        let commits = Arc::new(Mutex::new(Commits::new(store, vec![], counters.clone(), Clock::new())));
        let thread = std::thread::spawn(move || run(commits, rx, None, CommitWindow::new(Duration::ZERO)));
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
