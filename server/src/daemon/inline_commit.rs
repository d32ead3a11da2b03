//! The engine thread making its own commits. With one packet thread and a store on this machine's disk, a
//! commit is one synced write of a few dozen microseconds, and handing it to the committer's thread cost
//! more CPU than the write: a wake-up and a sleep more on each side, about 49 µs of CPU a commit through
//! the thread against 23 µs made here (bench/ceiling, 5 December). So the engine holds the batches' jobs
//! for the commit window ([`CommitWindow`], from the first) while it reads on, then commits them together
//! and sends their ACKs.
//!
//! The thread's one advantage is kept for when it counts: a commit that stalls holds the reading of packets
//! meanwhile (the kernel's buffers hold them), so after one that took longer than
//! [`SLOW`](super::commits::SLOW) the engine hands its jobs to the committer's thread until no commit has
//! taken that long for [`CALM`] (see `engine_loop`). The two take turns with one
//! [`Commits`](super::commits::Commits).

use super::commits::{SharedCommits, lock};
use super::committer::{CommitWindow, RETRY_AFTER, StoreJob};
use crate::store::Change;
use dhcplab_engine::Transmit;
use std::time::{Duration, Instant};

/// How long no commit may have stalled before the engine thread makes them again.
pub const CALM: Duration = Duration::from_secs(60);

pub struct InlineCommits {
    commits: SharedCommits,
    window: CommitWindow,
    /// The jobs made since the last commit (each timed from its own batch's reading)…
    held: Vec<StoreJob>,
    /// …and when their window ends.
    due: Option<Instant>,
    /// When changes whose commit failed are tried again, if any wait.
    retry_at: Option<Instant>,
}

/// What a commit made here did.
pub struct Committed {
    /// Records of a shared store that won over this server's changes.
    pub adopt: Vec<Change>,
    /// How long the commit took.
    pub took: Duration,
}

impl InlineCommits {
    pub fn new(commits: SharedCommits, window: CommitWindow) -> Self {
        InlineCommits { commits, window, held: Vec::new(), due: None, retry_at: None }
    }

    /// A batch's job, held until the window of the first since the last commit ends.
    pub fn hold(&mut self, job: StoreJob, now: Instant) {
        self.window.arrived(now);
        if self.held.is_empty() {
            let waited = job.received.map_or(Duration::ZERO, |r| now.saturating_duration_since(r));
            self.due = Some(now + self.window.hold(waited));
        }
        self.held.push(job);
    }

    /// When `poll` next has something to do: a window ends, paced ACKs fall due, or failed changes are
    /// tried again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.due, lock(&self.commits).pacing_due(), self.retry_at].into_iter().flatten().min()
    }

    /// Sends the paced ACKs that are due and commits what is (every held job, with `all`), handing each
    /// reply's buffer to `free` once it is sent or withheld. What the commit did, if one was made.
    pub fn poll(&mut self, now: Instant, all: bool, mut free: impl FnMut(Transmit)) -> Option<Committed> {
        let mut commits = lock(&self.commits);
        if commits.pacing_due().is_some_and(|d| d <= now) {
            commits.send_due(now);
        }
        let window_ended = self.due.is_some_and(|due| all || due <= now);
        if !window_ended && self.retry_at.is_none_or(|r| r > now) {
            return None;
        }
        self.due = None;
        let started = Instant::now();
        let adopt = commits.commit(&mut self.held);
        let took = started.elapsed();
        self.retry_at = commits.has_backlog().then(|| now + RETRY_AFTER);
        drop(commits);
        self.held.drain(..).flat_map(|j| j.replies).for_each(&mut free);
        Some(Committed { adopt, took })
    }

    /// Everything left to do now: the held jobs committed, every paced ACK sent (the engine is stopping).
    pub fn finish(&mut self, free: impl FnMut(Transmit)) -> Option<Committed> {
        let done = self.poll(Instant::now(), true, free);
        lock(&self.commits).send_all_paced();
        done
    }

    /// Whether no commit, here or on the committer's thread, has stalled for `calm`.
    pub fn calm(&self, now: Instant, calm: Duration) -> bool {
        lock(&self.commits).calm(now, calm)
    }

    /// The jobs held, for the committer's thread to take over.
    pub fn take_held(&mut self) -> Vec<StoreJob> {
        self.due = None;
        std::mem::take(&mut self.held)
    }

    /// The commits and the window, for the committer's thread to share.
    pub fn shared(&self) -> (SharedCommits, CommitWindow) {
        (self.commits.clone(), self.window.clone())
    }
}
