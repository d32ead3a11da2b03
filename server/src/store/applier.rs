//! The thread that brings the SQLite file up to the change log: once a second it writes every change
//! committed meanwhile in one transaction, then removes the segments that are wholly in the file. It runs at
//! the lowest priority: the log already made each change durable, so this work can wait for a free core,
//! and it never takes one from the packets (or from a load generator sharing the machine).
//!
//! Nothing on the DHCP path waits for it. The committer hands over each commit's changes under a lock held
//! only to add them, keeping the latest per address: however long the thread waits for a core, what it has
//! yet to write is bounded by the addresses served (twice that while a write is under way), and the log on
//! disk keeps every change until it is written (`/metrics` shows how far behind the file is).

use super::Change;
use super::change_log::SegmentRemover;
use super::sqlite::SqliteStore;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tracing::{error, info};

/// How often the file is brought up to date, at most.
const APPLY_EVERY: Duration = Duration::from_secs(1);

/// How far the file is behind its change log, for `/metrics`.
#[derive(Default, Debug)]
pub struct FileLag {
    /// Changes durable in the log and not yet written into the file: the latest for each address, and those
    /// of a write under way.
    pub behind: AtomicU64,
    /// Times writing them into the file failed (each tried again a second later).
    pub failures: AtomicU64,
}

/// What the committer has handed over and the thread has not yet written.
#[derive(Default)]
struct Waiting {
    /// The latest change per address.
    changes: BTreeMap<Ipv4Addr, Change>,
    /// The newest log segment any change handed over came from.
    newest: u64,
    /// Changes taken and being written into the file (still behind until they are).
    writing: usize,
    /// The store is closing: write what is left, empty the log and end.
    closing: bool,
}

impl Waiting {
    /// Adds `changes` under any already waiting for the same addresses: the newer one wins.
    fn add(&mut self, changes: impl IntoIterator<Item = Change>, newer: bool) {
        for c in changes {
            if newer {
                self.changes.insert(c.ip(), c);
            } else {
                self.changes.entry(c.ip()).or_insert(c);
            }
        }
    }

    fn behind(&self) -> u64 {
        (self.changes.len() + self.writing) as u64
    }
}

/// The lock is held only to add or take changes, and no code holding it can leave them half-changed: a
/// panic elsewhere in the thread that held it leaves the map as sound as ever.
fn lock(waiting: &Mutex<Waiting>) -> MutexGuard<'_, Waiting> {
    waiting.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Applier {
    lag: Arc<FileLag>,
    waiting: Arc<Mutex<Waiting>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The thread's end has been reported.
    gone: AtomicBool,
}

impl Applier {
    /// Starts the thread, which writes through `file` (a store of its own on the same database).
    pub fn start(file: SqliteStore, remover: SegmentRemover) -> std::io::Result<Applier> {
        let lag = Arc::new(FileLag::default());
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let (their_lag, theirs) = (lag.clone(), waiting.clone());
        let thread = std::thread::Builder::new()
            .name("lease-apply".into())
            .spawn(move || run(file, remover, &theirs, &their_lag))?;
        Ok(Applier { lag, waiting, thread: Some(thread), gone: AtomicBool::new(false) })
    }

    pub fn lag(&self) -> &Arc<FileLag> {
        &self.lag
    }

    /// Hands over a commit's changes (already durable in `segment` of the log). The first after a write wakes
    /// the thread, which then gathers a second's worth.
    pub fn send(&self, segment: u64, changes: &[Change]) {
        let mut w = lock(&self.waiting);
        let was_empty = w.changes.is_empty();
        w.add(changes.iter().cloned(), true);
        w.newest = w.newest.max(segment);
        self.lag.behind.store(w.behind(), Ordering::Relaxed);
        drop(w);
        let Some(t) = &self.thread else { return };
        if t.is_finished() {
            if !self.gone.swap(true, Ordering::Relaxed) {
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
        lock(&self.waiting).closing = true;
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Gives the calling thread alone the lowest priority: the idle scheduling class (`SCHED_IDLE`), whose
/// threads anything else that wakes on their core preempts at once, and which weigh a fifth of a nice-19
/// thread when they share a core with a busy one; where that is refused, nice 19 (on Linux a thread id is a
/// process id to `setpriority`). Measured on this project's VM at 14,000–16,000 DORA/s (six runs at each
/// rate, `bench/README.md`, 4 December), perfdhcp lost 4 of 18 runs' worth of replies (drops ≥ 0.1 %) with
/// the store's threads idle-class against 8 of 18 at nice 19: they had been taking its core in slices of up
/// to 4.5 ms.
pub(super) fn lowest_priority() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; the kernel only reads `param`, which lives across the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return Ok(());
    }
    // SAFETY: gettid takes nothing, setpriority reads its three integer arguments only.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sleeps `for` (or until the store closes): commits handed over meanwhile wake nobody.
fn sleep_out(waiting: &Mutex<Waiting>, r#for: Duration) {
    let due = Instant::now() + r#for;
    while !lock(waiting).closing {
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left);
    }
}

fn run(mut file: SqliteStore, remover: SegmentRemover, waiting: &Mutex<Waiting>, lag: &FileLag) {
    if let Err(e) = lowest_priority() {
        info!("the lease database's applier runs at normal priority: {e}");
    }
    let mut failed = false;
    loop {
        // Asleep until a commit comes (its `send` wakes the thread), unless changes are to be tried again.
        if !failed {
            let idle = {
                let w = lock(waiting);
                w.changes.is_empty() && !w.closing
            };
            if idle {
                std::thread::park();
                continue;
            }
        }
        // Then every commit for a second (or, after a failure, a second before trying again), written at once.
        sleep_out(waiting, APPLY_EVERY);
        let (changes, newest, closing) = {
            let mut w = lock(waiting);
            let changes: Vec<Change> = std::mem::take(&mut w.changes).into_values().collect();
            w.writing = changes.len();
            (changes, w.newest, w.closing)
        };
        failed = !changes.is_empty() && {
            let result = file.write(&changes);
            let mut w = lock(waiting);
            w.writing = 0;
            if let Err(e) = &result {
                // Nothing is lost: the changes are in the log, and the next start applies them if this never does.
                error!("could not bring the lease database up to its change log (tried again in a second): {e}");
                lag.failures.fetch_add(1, Ordering::Relaxed);
                w.add(changes, false);
            }
            lag.behind.store(w.behind(), Ordering::Relaxed);
            result.is_err()
        };
        if !failed {
            // Every segment older than the newest written from is wholly in the file; at a clean stop, all are.
            let before = if closing { u64::MAX } else { newest };
            if let Err(e) = remover.remove_before(before) {
                error!("could not remove applied change log segments: {e}");
            }
        }
        if closing {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lowest_priority_is_the_idle_class_for_the_calling_thread_alone() {
        let policy = || {
            // SAFETY: pid 0 is the calling thread; the call only reads its policy.
            unsafe { libc::sched_getscheduler(0) }
        };
        let before = policy();
        let inside = std::thread::spawn(move || {
            super::lowest_priority().unwrap();
            policy()
        })
        .join()
        .unwrap();
        assert_eq!(inside, libc::SCHED_IDLE);
        assert_eq!(policy(), before, "the thread that started it keeps its class");
    }
}
