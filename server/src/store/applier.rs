//! The thread that brings the SQLite file up to the change log: once a second it writes every change
//! committed meanwhile in one transaction, then removes the segments that are wholly in the file. It runs at
//! the lowest priority: the log already made each change durable, so this work can wait for a free core,
//! and it never takes one from the packets (or from a load generator sharing the machine).

use super::Change;
use super::change_log::SegmentRemover;
use super::sqlite::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};
use tracing::{error, info};

/// How often the file is brought up to date, at most.
const APPLY_EVERY: Duration = Duration::from_secs(1);
/// Commits waiting for the applier, at most: past this the committer waits, and so the engine stops reading
/// packets (the file can fall no further behind than this).
const QUEUE: usize = 1 << 16;

/// How far the file is behind its change log, for `/metrics`.
#[derive(Default, Debug)]
pub struct FileLag {
    /// Changes durable in the log and not yet written into the file.
    pub behind: AtomicU64,
    /// Times writing them into the file failed (each tried again a second later).
    pub failures: AtomicU64,
}

/// One commit's changes, in the log's segment `segment`.
struct Committed {
    segment: u64,
    changes: Vec<Change>,
}

pub struct Applier {
    lag: Arc<FileLag>,
    tx: Option<SyncSender<Committed>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Applier {
    /// Starts the thread, which writes through `file` (a store of its own on the same database).
    pub fn start(file: SqliteStore, remover: SegmentRemover) -> std::io::Result<Applier> {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let lag = Arc::new(FileLag::default());
        let theirs = lag.clone();
        let thread =
            std::thread::Builder::new().name("lease-apply".into()).spawn(move || run(file, remover, rx, &theirs))?;
        Ok(Applier { lag, tx: Some(tx), thread: Some(thread) })
    }

    pub fn lag(&self) -> &Arc<FileLag> {
        &self.lag
    }

    /// Hands over a commit's changes (already durable in `segment` of the log).
    pub fn send(&self, segment: u64, changes: Vec<Change>) {
        self.lag.behind.fetch_add(changes.len() as u64, Ordering::Relaxed);
        if let Some(tx) = &self.tx
            && tx.send(Committed { segment, changes }).is_err()
        {
            error!("the lease database's applier has stopped: changes stay in the change log until the next start");
        }
    }
}

/// Stopping applies what is left and waits for it, so a clean stop leaves the file complete and the log
/// empty.
impl Drop for Applier {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Changes received and not yet in the file, and the newest segment any came from.
#[derive(Default)]
struct Pending {
    changes: Vec<Change>,
    newest: u64,
}

impl Pending {
    fn take(&mut self, c: Committed) {
        self.newest = self.newest.max(c.segment);
        self.changes.extend(c.changes);
    }
}

/// Gives the calling thread alone the lowest priority (on Linux a thread id is a process id to
/// `setpriority`): the store's background work takes only a core nothing else wants.
pub(super) fn lowest_priority() -> std::io::Result<()> {
    // SAFETY: gettid takes nothing, setpriority reads its three integer arguments only.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Takes every commit waiting; true when the committer has gone (nothing more will come).
fn drain(rx: &Receiver<Committed>, pending: &mut Pending) -> bool {
    loop {
        match rx.try_recv() {
            Ok(c) => pending.take(c),
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => return true,
        }
    }
}

fn run(mut file: SqliteStore, remover: SegmentRemover, rx: Receiver<Committed>, lag: &FileLag) {
    if let Err(e) = lowest_priority() {
        info!("the lease database's applier runs at normal priority: {e}");
    }
    let mut pending = Pending::default();
    let mut closed = false;
    while !closed {
        // The first commit; or, with changes that failed to apply, a second before trying again.
        let first = if pending.changes.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(APPLY_EVERY)
        };
        match first {
            Ok(c) => pending.take(c),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => closed = true,
        }
        // Then every commit for a second, written at once. The thread sleeps that second out rather than
        // waiting on the queue, so a commit sent meanwhile wakes nobody; a stop unparks it.
        let due = Instant::now() + APPLY_EVERY;
        while !closed {
            closed = drain(&rx, &mut pending);
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
        if pending.changes.is_empty() {
            continue;
        }
        if let Err(e) = file.write(&pending.changes) {
            // Nothing is lost: the changes are in the log, and the next start applies them if this never does.
            error!("could not bring the lease database up to its change log (tried again in a second): {e}");
            lag.failures.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        lag.behind.fetch_sub(pending.changes.len() as u64, Ordering::Relaxed);
        pending.changes.clear();
        // Every segment older than the newest written from is wholly in the file; at a clean stop, all are.
        let before = if closed { u64::MAX } else { pending.newest };
        if let Err(e) = remover.remove_before(before) {
            error!("could not remove applied change log segments: {e}");
        }
    }
}
