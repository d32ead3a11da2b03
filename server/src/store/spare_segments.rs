//! Change-log segments made ahead of need, by a thread of their own at the lowest priority: their room
//! written with zeros and synced before the committer ever sees them. A direct write into room that
//! `fallocate` only reserved makes ext4 record a newly written extent, and flush, on every append; into
//! blocks already written it does not. Zeroing on the committer's thread would hold a commit up for the
//! time it takes to write megabytes, so it is done here, one spare at a time, and the committer takes the
//! spare when it starts a segment — or allocates one itself, as before, when none is ready.
//!
//! A spare is named `spare-N.tmp` until the committer renames it into the log, so a reader never takes it
//! for a segment; any left by a crash are removed when the log is next locked.

use super::segment_file::SegmentFile;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A segment made ahead, under its temporary name.
pub struct Spare {
    pub path: PathBuf,
    pub file: SegmentFile,
}

/// The committer's side: spares to take, and requests for the next one.
pub struct Spares {
    ready: Receiver<Spare>,
    wanted: SyncSender<u64>,
    /// A spare too small for the segment that was wanted, kept for the next one.
    held: Option<Spare>,
}

/// Whether `name` is a spare's.
pub fn is_spare(name: &str) -> bool {
    name.starts_with("spare-") && name.ends_with(".tmp")
}

impl Spares {
    /// Starts the thread that makes spares in `dir`, and asks it for one of `room` bytes.
    pub fn start(dir: &Path, room: u64) -> std::io::Result<Spares> {
        let (ready_tx, ready) = sync_channel(1);
        let (wanted, wanted_rx) = sync_channel(1);
        let dir = dir.to_path_buf();
        std::thread::Builder::new().name("lease-spare".into()).spawn(move || make(&dir, &wanted_rx, &ready_tx))?;
        let spares = Spares { ready, wanted, held: None };
        spares.want(room);
        Ok(spares)
    }

    /// A spare with room for `need` bytes, if one is ready.
    pub fn take(&mut self, need: u64) -> Option<Spare> {
        let spare = match self.held.take() {
            Some(s) => s,
            None => self.ready.try_recv().ok()?,
        };
        if spare.file.has_room(need as usize) {
            Some(spare)
        } else {
            self.held = Some(spare);
            None
        }
    }

    /// Waits (10 s at most) until a spare is ready, and holds it for `take`.
    #[cfg(test)]
    pub fn wait_ready(&mut self) {
        if self.held.is_none() {
            self.held = self.ready.recv_timeout(std::time::Duration::from_secs(10)).ok();
        }
    }

    /// Asks for the next spare, of `room` bytes (ignored while one is being made or waits to be taken).
    pub fn want(&self, room: u64) {
        let _ = self.wanted.try_send(room);
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        for s in self.held.take().into_iter().chain(self.ready.try_iter()) {
            let _ = std::fs::remove_file(&s.path);
        }
    }
}

/// The spare-making thread: one spare per request, until the committer's side is dropped.
fn make(dir: &Path, wanted: &Receiver<u64>, ready: &SyncSender<Spare>) {
    if let Err(e) = super::applier::lowest_priority() {
        tracing::debug!("spare change-log segments are made at normal priority: {e}");
    }
    for n in 1.. {
        let Ok(room) = wanted.recv() else { return };
        let path = dir.join(format!("spare-{n}.tmp"));
        match SegmentFile::create_zeroed(&path, room) {
            Ok(file) => {
                if let Err(unsent) = ready.send(Spare { path, file }) {
                    let _ = std::fs::remove_file(&unsent.0.path);
                    return;
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                tracing::debug!(
                    "{}: no spare change-log segment ({e}); segments are allocated as needed",
                    path.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_fixtures::fresh_db;

    #[test]
    fn a_spare_is_made_zeroed_taken_when_big_enough_and_none_is_left_behind() {
        let (dir, _) = fresh_db("spares");
        let mut spares = Spares::start(&dir, 64 << 10).unwrap();
        let start = std::time::Instant::now();
        let spare = loop {
            if let Some(s) = spares.take(1000) {
                break s;
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "no spare made in 10 s");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let name = spare.path.file_name().unwrap().to_string_lossy().to_string();
        assert!(is_spare(&name), "{name}");
        assert_eq!(std::fs::read(&spare.path).unwrap(), vec![0; 64 << 10], "its room written with zeros");
        // The next is too small for what is wanted: kept, not handed out, and removed with the rest.
        spares.want(64 << 10);
        let start = std::time::Instant::now();
        while !std::fs::read_dir(&dir).unwrap().any(|e| e.unwrap().file_name() == "spare-2.tmp") {
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "no second spare in 10 s");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(spares.take(1 << 20).is_none(), "too small");
        std::fs::remove_file(&spare.path).unwrap();
        drop(spares);
        // The thread removes a spare it could no longer hand over.
        let start = std::time::Instant::now();
        loop {
            let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
            if left.is_empty() {
                break;
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "left behind: {left:?}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
