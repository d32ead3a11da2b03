//! The engine thread making its own commits. With one packet thread and a store on this machine's disk, a
//! commit is one synced write of a few dozen microseconds, and handing it to the committer's thread cost
//! more CPU than the write: a wake-up and a sleep more on each side, about 49 µs of CPU a commit through
//! the thread against 23 µs made here (bench/ceiling, 5 December). So the engine holds the batches' jobs
//! for the commit window ([`CommitWindow`], from the first) while it reads on, then commits them together
//! and sends their ACKs.
//!
//! The thread's one advantage is kept for when it counts: a commit that stalls holds the reading of packets
//! meanwhile (the kernel's buffers hold them), so after one that took longer than [`STALL`] the engine hands
//! its commits to the committer's thread for good (see `engine_loop`).

use super::commits::Commits;
use super::committer::{CommitWindow, RETRY_AFTER, StoreJob};
use crate::store::Change;
use dhcplab_engine::Transmit;
use std::time::{Duration, Instant};

/// A commit longer than this moves the commits to the committer's thread. At 16,000 datagrams a second
/// the links' 4 MiB receive buffers hold about 100 ms of them; a tenth of that keeps the backlog read after
/// a stall small (its OFFERs leave together, as no paced ACKs do).
pub const STALL: Duration = Duration::from_millis(10);

pub struct InlineCommits {
    commits: Commits,
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
    pub fn new(commits: Commits, window: CommitWindow) -> Self {
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
        [self.due, self.commits.pacing_due(), self.retry_at].into_iter().flatten().min()
    }

    /// Sends the paced ACKs that are due and commits what is (every held job, with `all`), handing each
    /// reply's buffer to `free` once it is sent or withheld. What the commit did, if one was made.
    pub fn poll(&mut self, now: Instant, all: bool, mut free: impl FnMut(Transmit)) -> Option<Committed> {
        if self.commits.pacing_due().is_some_and(|d| d <= now) {
            self.commits.send_due(now);
        }
        let window_ended = self.due.is_some_and(|due| all || due <= now);
        if !window_ended && self.retry_at.is_none_or(|r| r > now) {
            return None;
        }
        self.due = None;
        let started = Instant::now();
        let adopt = self.commits.commit(&mut self.held);
        let took = started.elapsed();
        self.retry_at = self.commits.has_backlog().then(|| now + RETRY_AFTER);
        self.held.drain(..).flat_map(|j| j.replies).for_each(&mut free);
        Some(Committed { adopt, took })
    }

    /// Everything left to do now: the held jobs committed, every paced ACK sent (the engine is stopping).
    pub fn finish(&mut self, free: impl FnMut(Transmit)) -> Option<Committed> {
        let done = self.poll(Instant::now(), true, free);
        self.commits.send_all_paced();
        done
    }

    /// The commits, the jobs held and the window, for the committer's thread to take over.
    pub fn into_parts(self) -> (Commits, Vec<StoreJob>, CommitWindow) {
        (self.commits, self.held, self.window)
    }
}
