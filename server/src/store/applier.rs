//! The thread that brings the SQLite file up to the change log: every five seconds it writes every change
//! committed meanwhile in one transaction, removes the segments that are wholly in the file, and
//! checkpoints the WAL into the file, both writes paced (`paced_write`) so no commit of the log meets a
//! whole write's worth of them on the disk at once. It runs at the lowest priority: the log already made each
//! change durable, so this work can wait for a free core, and it never takes one from the packets (or from
//! a load generator sharing the machine).
//!
//! Nothing on the DHCP path waits for it. The committer hands each commit's changes over through a map of
//! the latest change per address, so however long the thread waits for a core what it has yet to write is
//! bounded by the addresses served, and the log on disk keeps every change until it is written (`/metrics`
//! shows how far behind the file is). The committer only ever tries the map's lock: a thread this low may
//! lose its core while it holds the lock, and a committer waiting for it would wait for a free core too
//! (priority inversion). When the lock is taken, the changes wait on the committer's side for its next
//! commit.

use super::change_log::SegmentRemover;
use super::sqlite::SqliteStore;
use super::{Change, LatestChanges};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};
use tracing::{error, info};

/// How often the file is brought up to date, at most (and how soon a failed write is tried again).
///
/// SQLite writes whole pages, and under load a second's changes already touch most pages of the leases
/// table: five seconds' changes cost little more than one second's. Measured on this project's VM
/// (`bench/ceiling`'s CPU run, three alternating pairs, 5 December): the thread took 0.57 µs per DORA at
/// 20,000/s against 1.63 every second, and 1.1 against 2.0 at 5,000/s. The file is a copy for tools and
/// restarts; the change log holds every change until it is in the file, so the longer wait loses nothing.
const APPLY_EVERY: Duration = Duration::from_secs(5);

/// How far the file is behind its change log, for `/metrics`.
#[derive(Default, Debug)]
pub struct FileLag {
    /// Changes durable in the log and not yet written into the file: the latest for each address handed
    /// over, and those the thread has taken and not yet written.
    pub behind: AtomicU64,
    /// Times writing them into the file failed (each tried again `APPLY_EVERY` later).
    pub failures: AtomicU64,
}

/// Changes durable in the log and not yet in the file, and the newest log segment any of them came from.
#[derive(Default)]
struct Changes {
    latest: LatestChanges,
    newest: u64,
}

impl Changes {
    fn add(&mut self, segment: u64, changes: impl IntoIterator<Item = Change>) {
        self.latest.add(changes);
        self.newest = self.newest.max(segment);
    }

    /// Adds `newer` over these: its change for an address wins.
    fn absorb(&mut self, newer: Changes) {
        self.latest.absorb(newer.latest);
        self.newest = self.newest.max(newer.newest);
    }
}

/// What the committer and the thread share, under a lock each holds only to add or take.
#[derive(Default)]
struct Shared {
    /// Handed over and not yet taken.
    waiting: Changes,
    /// Taken by the thread and not yet written into the file.
    taken: usize,
    /// The store is closing: write what is left, empty the log and end.
    closing: bool,
}

impl Shared {
    fn behind(&self) -> u64 {
        (self.waiting.latest.len() + self.taken) as u64
    }
}

/// No code holding the lock can leave the map half-changed: a panic elsewhere in the thread that held it
/// leaves it as sound as ever.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Applier {
    lag: Arc<FileLag>,
    shared: Arc<Mutex<Shared>>,
    /// Changes that found the lock taken, handed over with the next commit.
    unsent: Changes,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The thread's end has been reported.
    gone: bool,
}

impl Applier {
    /// Starts the thread, which writes through `file` (a store of its own on the same database).
    pub fn start(file: SqliteStore, remover: SegmentRemover) -> std::io::Result<Applier> {
        let lag = Arc::new(FileLag::default());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (their_lag, theirs) = (lag.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("lease-apply".into())
            .spawn(move || run(file, remover, &theirs, &their_lag))?;
        Ok(Applier { lag, shared, unsent: Changes::default(), thread: Some(thread), gone: false })
    }

    pub fn lag(&self) -> &Arc<FileLag> {
        &self.lag
    }

    /// Hands over a commit's changes (already durable in `segment` of the log), without waiting: see the
    /// module's notes. The first after a write wakes the thread, which then gathers `APPLY_EVERY`'s worth.
    pub fn send(&mut self, segment: u64, changes: &[Change]) {
        let mut shared = match self.shared.try_lock() {
            Ok(s) => s,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                self.unsent.add(segment, changes.iter().cloned());
                return;
            }
        };
        let was_empty = shared.waiting.latest.is_empty();
        if !self.unsent.latest.is_empty() {
            shared.waiting.absorb(std::mem::take(&mut self.unsent));
        }
        shared.waiting.add(segment, changes.iter().cloned());
        self.lag.behind.store(shared.behind(), Ordering::Relaxed);
        drop(shared);
        let Some(t) = &self.thread else { return };
        if t.is_finished() {
            if !self.gone {
                self.gone = true;
                error!("the lease database's applier has stopped: changes stay in the change log until the next start");
            }
        } else if was_empty {
            t.thread().unpark();
        }
    }
}

/// Stopping applies what is left and waits for it, so a clean stop leaves the file complete and the log
/// empty.
impl Drop for Applier {
    fn drop(&mut self) {
        {
            let mut shared = lock(&self.shared);
            shared.waiting.absorb(std::mem::take(&mut self.unsent));
            shared.closing = true;
        }
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Gives the calling thread alone the lowest priority: the idle scheduling class (`SCHED_IDLE`), whose
/// threads anything else that wakes on their core preempts at once, and which weigh a fifth of a nice-19
/// thread when they share a core with a busy one; where that is refused, nice 19. Measured on this
/// project's VM at 14,000–16,000 DORA/s (six runs at each rate, `bench/README.md`, 4 December), perfdhcp
/// lost 4 of 18 runs' worth of replies (drops ≥ 0.1 %) with the store's threads idle-class against 8 of 18
/// at nice 19: they had been taking its core in slices of up to 4.5 ms.
pub(super) fn lowest_priority() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; the kernel only reads `param`, which lives across the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return Ok(());
    }
    crate::thread_priority::set_own_nice(19)
}

/// Sleeps `for` (or until the store closes): commits handed over meanwhile wake nobody.
fn sleep_out(shared: &Mutex<Shared>, r#for: Duration) {
    let due = Instant::now() + r#for;
    while !lock(shared).closing {
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left);
    }
}

fn run(mut file: SqliteStore, remover: SegmentRemover, shared: &Mutex<Shared>, lag: &FileLag) {
    if let Err(e) = lowest_priority() {
        info!("the lease database's applier runs at normal priority: {e}");
    }
    // Taken and not yet written (kept here when a write fails, to be tried again).
    let mut pending = Changes::default();
    loop {
        // Asleep until a commit comes (its `send` wakes the thread), unless changes are to be tried again.
        if pending.latest.is_empty() {
            let idle = {
                let s = lock(shared);
                s.waiting.latest.is_empty() && !s.closing
            };
            if idle {
                std::thread::park();
                continue;
            }
        }
        // Then every commit for `APPLY_EVERY` (or, after a failure, as long before trying again), written at once.
        sleep_out(shared, APPLY_EVERY);
        // Only the map changes hands under the lock; merging and dropping it are done outside.
        let (taken, closing) = {
            let mut s = lock(shared);
            let taken = std::mem::take(&mut s.waiting);
            s.taken = pending.latest.len() + taken.latest.len();
            (taken, s.closing)
        };
        pending.absorb(taken);
        let newest = pending.newest;
        let changes = pending.latest.take();
        let any = !changes.is_empty();
        let written = !any || {
            match file.write(&changes) {
                Ok(()) => true,
                Err(e) => {
                    // Nothing is lost: the changes are in the log, and the next start applies them if this
                    // never does.
                    error!(
                        "could not bring the lease database up to its change log (tried again in {} s): {e}",
                        APPLY_EVERY.as_secs()
                    );
                    lag.failures.fetch_add(1, Ordering::Relaxed);
                    pending.add(newest, changes);
                    false
                }
            }
        };
        {
            let mut s = lock(shared);
            s.taken = pending.latest.len();
            lag.behind.store(s.behind(), Ordering::Relaxed);
        }
        if written {
            // Every segment older than the newest written from is wholly in the file; at a clean stop, all are.
            let before = if closing { u64::MAX } else { newest };
            if let Err(e) = remover.remove_before(before) {
                error!("could not remove applied change log segments: {e}");
            }
            // The WAL's commits into the file, so the next write can start the WAL over: the changes
            // go down twice (WAL, then file), both paced, neither on any ACK's path.
            if any && let Err(e) = file.checkpoint() {
                error!("could not checkpoint the lease database (tried again after the next write): {e}");
            }
        }
        if closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LeaseStore;
    use crate::store::change_log::ChangeLog;
    use crate::store::test_fixtures::{fresh_db, lease};
    use dhcplab_engine::LeaseState;

    #[test]
    fn a_commit_never_waits_for_the_lock_and_what_found_it_taken_goes_with_the_next() {
        let (dir, path) = fresh_db("handoff");
        let log = ChangeLog::lock(&path).unwrap();
        let applier = Applier::start(SqliteStore::open(&path).unwrap(), log.remover()).unwrap();
        let shared = applier.shared.clone();
        let first = Change::Put(lease("192.0.2.10", LeaseState::Bound));
        let second = Change::Put(lease("192.0.2.11", LeaseState::Bound));
        // Held as the thread would hold it had it lost its core meanwhile: the commit goes on regardless.
        let held = lock(&shared);
        let (done, finished) = std::sync::mpsc::channel();
        let committer = std::thread::spawn(move || {
            let mut applier = applier;
            applier.send(1, &[first]);
            let _ = done.send(());
            applier
        });
        finished.recv_timeout(Duration::from_secs(10)).expect("the commit waited for the applier's lock");
        let mut applier = committer.join().unwrap();
        assert!(held.waiting.latest.is_empty(), "the change waits on the committer's side");
        drop(held);
        applier.send(2, std::slice::from_ref(&second));
        // A clean stop writes everything handed over into the file.
        drop(applier);
        drop(log);
        let mut all = SqliteStore::open(&path).unwrap().load().unwrap();
        all.sort_by_key(|l| l.ip);
        assert_eq!(all, vec![lease("192.0.2.10", LeaseState::Bound), lease("192.0.2.11", LeaseState::Bound)]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_lowest_priority_is_the_idle_class_for_the_calling_thread_alone() {
        let policy = || {
            // SAFETY: pid 0 is the calling thread; the call only reads its policy.
            unsafe { libc::sched_getscheduler(0) }
        };
        let before = policy();
        let inside = std::thread::spawn(move || {
            lowest_priority().unwrap();
            policy()
        })
        .join()
        .unwrap();
        assert_eq!(inside, libc::SCHED_IDLE);
        assert_eq!(policy(), before, "the thread that started it keeps its class");
    }
}
