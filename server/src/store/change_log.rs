//! The change log beside a SQLite lease database (`<db>.changes/`): what makes a lease durable before its ACK
//! while the daemon runs. Each commit appends its changes to the current segment, durably (see
//! `segment_file`: a direct, synchronous write where the filesystem allows, else `fdatasync`) — a few
//! hundred bytes a lease — where a SQLite commit wrote and synced whole b-tree pages of the table and
//! its index. The SQLite file gets the same changes seconds later, many commits at once, from a thread that
//! runs when the cores are free (`Applier`); a segment is removed once everything in it is in the file.
//!
//! Replaying changes is idempotent (an upsert or a delete per address), so any run of the newest segments
//! may be applied again over a file that has them already: at start the daemon applies whatever segments
//! it finds, then removes them. Segments are removed oldest first, so what survives a crash is always such
//! a run.
//!
//! A record is `len: u32 LE, crc32: u32 LE, the change` (`change_record`: binary; JSON in earlier builds,
//! still read). A crash in the middle of an append leaves
//! a torn last record, which was never synced and so never ACKed: reading stops there. A segment allocated
//! up front holds zeros after its records: a zero length with nothing but zeros after it is its end.

use super::Change;
use super::change_record;
use super::segment_file::SegmentFile;
use super::spare_segments::{Spares, is_spare};
#[cfg(test)]
use dhcplab_engine::{Instant, Lease};
use std::fs::File;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// A segment older than this is closed at the next commit and a new one started, so the applied ones can
/// be removed.
const SEGMENT_AGE: std::time::Duration = std::time::Duration::from_secs(1);
/// Nor may one grow past this, whatever its age.
const SEGMENT_BYTES: u64 = 16 << 20;
/// The least room a segment is allocated with; it gets twice what the last one used, up to `SEGMENT_BYTES`.
const SEGMENT_MIN_ROOM: u64 = 1 << 20;
/// No record is longer (a lease is a hundred bytes or so): a longer length is damage.
const MAX_RECORD: u32 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum ChangeLogError {
    #[error("the change log {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "the change log {} is held by another process: is a dhcplab daemon already serving this lease database?",
        .0.display()
    )]
    InUse(PathBuf),
    /// Written anyway, it would make the rest of its segment unreadable: nothing of the commit is written.
    #[error("a lease change for {ip} could not be written to the change log: {why}")]
    Encode { ip: Ipv4Addr, why: String },
}

/// Appends `changes` to `buf` as records.
pub fn encode(changes: &[Change], buf: &mut Vec<u8>) -> Result<(), ChangeLogError> {
    for c in changes {
        let start = buf.len();
        buf.extend_from_slice(&[0; 8]);
        let encode = |why: String| ChangeLogError::Encode { ip: c.ip(), why };
        change_record::encode(c, buf).map_err(|e| encode(e.to_string()))?;
        let body = &buf[start + 8..];
        let len = u32::try_from(body.len()).ok().filter(|l| *l <= MAX_RECORD);
        let len = len.ok_or_else(|| encode(format!("{} bytes, more than a record may hold", body.len())))?;
        let crc = crc32fast::hash(body);
        buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}

/// The changes in `bytes`, and how many bytes at the end (up to the last one not zero) were not a whole,
/// intact record.
pub fn decode(bytes: &[u8]) -> (Vec<Change>, usize) {
    let mut changes = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 8 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        // The unused room of a segment allocated up front.
        if len == 0 && rest.iter().all(|b| *b == 0) {
            return (changes, 0);
        }
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_RECORD || rest.len() < 8 + len as usize {
            break;
        }
        let body = &rest[8..8 + len as usize];
        if crc32fast::hash(body) != crc {
            break;
        }
        let Some(change) = change_record::decode(body) else { break };
        changes.push(change);
        rest = &rest[8 + len as usize..];
    }
    // Counted up to the last byte written: a preallocated segment's zeros after it were never records.
    let torn = rest.len() - rest.iter().rev().take_while(|b| **b == 0).count();
    (changes, torn)
}

/// The log's directory beside the database.
pub fn dir_of(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.changes", db.display()))
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.log"))
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut found: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// Makes the directory's entries (a segment made or removed) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Every change in the log at `dir`, oldest first, without locking or changing it (`dhcplab check --db`).
pub fn read(dir: &Path) -> Result<Vec<Change>, ChangeLogError> {
    let io = |source| ChangeLogError::Io { path: dir.to_path_buf(), source };
    if !dir.exists() {
        return Ok(vec![]);
    }
    let mut all = Vec::new();
    for n in segments(dir).map_err(io)? {
        let path = segment_path(dir, n);
        let mut bytes = Vec::new();
        File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io)?;
        let (changes, torn) = decode(&bytes);
        if torn > 0 {
            tracing::warn!(
                "{}: the last {torn} bytes are not a whole record (a write cut short by a crash); ignored",
                path.display()
            );
        }
        all.extend(changes);
    }
    Ok(all)
}

/// The log, locked by its one writer for as long as it lives.
pub struct ChangeLog {
    dir: PathBuf,
    /// The `flock` on the directory, let go when the log is dropped.
    _lock: nix::fcntl::Flock<File>,
    segment: Option<Segment>,
    next: u64,
    buf: Vec<u8>,
    /// Bytes the last closed segment held, to size the next one's room.
    last_used: u64,
    /// Segments appended and `fdatasync`ed even where direct writes would work (tests of that path).
    appended_only: bool,
    /// Segments made ahead with their room zeroed, for a serving daemon (`make_spares`).
    spares: Option<Spares>,
}

struct Segment {
    n: u64,
    file: SegmentFile,
    opened: std::time::Instant,
}

impl ChangeLog {
    /// Takes the log beside `db` (made if missing) for this process alone.
    pub fn lock(db: &Path) -> Result<ChangeLog, ChangeLogError> {
        let dir = dir_of(db);
        let io = |source| ChangeLogError::Io { path: dir.clone(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let lock = File::open(&dir).map_err(io)?;
        let lock = match nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(guard) => guard,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Err(ChangeLogError::InUse(dir)),
            Err((_, e)) => return Err(io(e.into())),
        };
        let next = segments(&dir).map_err(io)?.last().map_or(1, |n| n + 1);
        // Spares a crashed daemon left: never part of the log.
        for entry in std::fs::read_dir(&dir).map_err(io)?.flatten() {
            if entry.file_name().to_str().is_some_and(is_spare) {
                std::fs::remove_file(entry.path()).map_err(io)?;
            }
        }
        let (last_used, appended_only, spares) = (0, false, None);
        Ok(ChangeLog { dir, _lock: lock, segment: None, next, buf: Vec::new(), last_used, appended_only, spares })
    }

    /// Has segments made ahead, their room zeroed, by a thread of their own (see `spare_segments`).
    pub fn make_spares(&mut self) -> Result<(), ChangeLogError> {
        let spares = Spares::start(&self.dir, SEGMENT_MIN_ROOM);
        self.spares = Some(spares.map_err(|source| ChangeLogError::Io { path: self.dir.clone(), source })?);
        Ok(())
    }

    /// Every change the log holds, oldest first (to apply at start).
    pub fn pending(&self) -> Result<Vec<Change>, ChangeLogError> {
        read(&self.dir)
    }

    /// Removes every segment (once their changes are in the database).
    pub fn clear(&mut self) -> Result<(), ChangeLogError> {
        self.segment = None;
        self.remover().remove_before(u64::MAX)
    }

    /// What removes applied segments, for the thread that applies them.
    pub fn remover(&self) -> SegmentRemover {
        SegmentRemover { dir: self.dir.clone() }
    }

    /// Appends `changes` and syncs them to the disk; returns the segment they are in.
    pub fn append(&mut self, changes: &[Change]) -> Result<u64, ChangeLogError> {
        self.buf.clear();
        encode(changes, &mut self.buf)?;
        let need = self.buf.len();
        let (current, closed) = match self.segment.take() {
            Some(s) if s.opened.elapsed() < SEGMENT_AGE && s.file.len() < SEGMENT_BYTES && s.file.has_room(need) => {
                (Some(s), None)
            }
            other => (None, other),
        };
        if let Some(closed) = closed {
            self.last_used = closed.file.len();
        }
        let mut seg = match current {
            Some(s) => s,
            None => self.open_segment(need)?,
        };
        // After a failed append the segment's end may be torn: it is let go, and the next append starts another.
        seg.file.append(&self.buf).map_err(|source| ChangeLogError::Io { path: self.dir.clone(), source })?;
        let n = seg.n;
        self.segment = Some(seg);
        Ok(n)
    }

    /// Starts the next segment, with room for `need` bytes at least, and asks for the spare after it.
    fn open_segment(&mut self, need: usize) -> Result<Segment, ChangeLogError> {
        let room = (self.last_used * 2).clamp(SEGMENT_MIN_ROOM, SEGMENT_BYTES).max(need as u64);
        let opened = self.start_segment(need, room);
        // Only now the next spare: made while the segment's name is synced (a new file in this directory,
        // written and synced), it slows that sync, and the commit and ACKs waiting on it (in a model, the
        // sync's p90 0.58 ms alone and 2.66 ms beside a 1 MiB spare; longest 0.78 and 11.7 ms).
        if let Some(spares) = &self.spares {
            spares.want(room);
        }
        opened
    }

    /// The next segment, `room` bytes: a spare renamed into the log when one is ready, else made here; its
    /// name synced before any change is written into it.
    fn start_segment(&mut self, need: usize, room: u64) -> Result<Segment, ChangeLogError> {
        let io = |source| ChangeLogError::Io { path: self.dir.clone(), source };
        let n = self.next;
        let path = segment_path(&self.dir, n);
        let spare = self.spares.as_mut().and_then(|s| s.take(need as u64));
        let renamed = spare.and_then(|s| match std::fs::rename(&s.path, &path) {
            Ok(()) => Some(s.file),
            Err(e) => {
                tracing::warn!("{}: {e}; the change log allocates its next segment itself", s.path.display());
                let _ = std::fs::remove_file(&s.path);
                None
            }
        });
        let file = match renamed {
            Some(file) => file,
            None if self.appended_only => SegmentFile::create_appended(&path).map_err(io)?,
            None => SegmentFile::create(&path, room).map_err(io)?,
        };
        // Numbered on at once: should the sync below fail, the next try must not find the name taken.
        self.next += 1;
        // A segment whose name were lost in a crash would take its synced changes with it.
        sync_dir(&self.dir).map_err(io)?;
        Ok(Segment { n, file, opened: std::time::Instant::now() })
    }
}

/// Removes segments whose changes are all in the database, oldest first.
pub struct SegmentRemover {
    dir: PathBuf,
}

impl SegmentRemover {
    /// Removes every segment numbered below `n`.
    pub fn remove_before(&self, n: u64) -> Result<(), ChangeLogError> {
        let io = |source| ChangeLogError::Io { path: self.dir.clone(), source };
        let old: Vec<u64> = segments(&self.dir).map_err(io)?.into_iter().filter(|s| *s < n).collect();
        if old.is_empty() {
            return Ok(());
        }
        for s in old {
            // One at a time, each removal durable before the next: what a crash leaves is the newest run.
            std::fs::remove_file(segment_path(&self.dir, s)).map_err(io)?;
            sync_dir(&self.dir).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_fixtures;
    use dhcplab_engine::LeaseState;

    fn lease(ip: &str) -> Lease {
        let l = test_fixtures::lease(ip, LeaseState::Bound);
        Lease { class: Some("phones".into()), dns_name: Some("laptop.example.".into()), ..l }
    }

    fn temp_db(name: &str) -> PathBuf {
        test_fixtures::fresh_db(&format!("changelog-{name}")).1
    }

    /// Segments written by earlier builds, in JSON, read back the same, and so do this build's records after them.
    #[test]
    fn the_records_earlier_builds_wrote_are_read() {
        let bodies = [
            r#"{"Put":{"ip":"192.0.2.10","subnet":"192.0.2.0/24","client":{"client_id":"01:52:54:00:01:02:03"},"hw":"52:54:00:01:02:03","client_id":"01:52:54:00:01:02:03","hostname":"<img src=x>","state":"bound","obtained":1700000000000,"expires":1700000021600,"lease_time":"6h"}}"#,
            r#"{"Remove":{"ip":"192.0.2.11","hw":"52:54:00:01:02:04","expires":9000}}"#,
        ];
        let mut written = Vec::new();
        for body in bodies {
            written.extend_from_slice(&(body.len() as u32).to_le_bytes());
            written.extend_from_slice(&crc32fast::hash(body.as_bytes()).to_le_bytes());
            written.extend_from_slice(body.as_bytes());
        }
        let changes = vec![
            Change::Put(test_fixtures::lease("192.0.2.10", LeaseState::Bound)),
            Change::Remove {
                ip: "192.0.2.11".parse().unwrap(),
                hw: "52:54:00:01:02:04".parse().unwrap(),
                expires: Instant::from_secs(9),
            },
        ];
        assert_eq!(decode(&written), (changes.clone(), 0));
        // A segment an earlier build began and this one went on with reads whole.
        encode(&changes, &mut written).unwrap();
        assert_eq!(decode(&written), ([changes.clone(), changes].concat(), 0));
    }

    #[test]
    fn records_round_trip_and_a_torn_or_damaged_tail_is_left_out() {
        let changes = vec![
            Change::Put(lease("192.0.2.10")),
            Change::Remove {
                ip: "192.0.2.11".parse().unwrap(),
                hw: "52:54:00:01:02:04".parse().unwrap(),
                expires: Instant::from_secs(9),
            },
            Change::Put(lease("192.0.2.12")),
        ];
        let mut buf = Vec::new();
        encode(&changes, &mut buf).unwrap();
        assert_eq!(decode(&buf), (changes.clone(), 0));
        // The zeros after the records of a segment allocated up front are its end, not damage; anything
        // else after a zero length is.
        let mut room = buf.clone();
        room.resize(buf.len() + 5000, 0);
        assert_eq!(decode(&room), (changes.clone(), 0));
        room[buf.len() + 4000] = 1;
        assert_eq!(decode(&room), (changes.clone(), 4001));
        // Cut inside the last record: the first two stand.
        let (read, torn) = decode(&buf[..buf.len() - 5]);
        assert_eq!(read, changes[..2]);
        assert!(torn > 0);
        // A flipped byte in the second record's body: reading stops before it.
        let mut damaged = buf.clone();
        let second = 8 + u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
        damaged[second + 12] ^= 0x20;
        assert_eq!(decode(&damaged).0, changes[..1]);
    }

    #[test]
    fn appends_span_segments_the_lock_is_exclusive_and_removal_keeps_the_newest() {
        segments_span_and_are_removed("segments", false);
    }

    #[test]
    fn appended_segments_span_and_are_removed_the_same_way() {
        segments_span_and_are_removed("segments-appended", true);
    }

    #[test]
    fn a_serving_log_starts_its_segments_from_spares_made_ahead() {
        let db = temp_db("spares");
        let dir = dir_of(&db);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spare-7.tmp"), b"left by a crash").unwrap();
        let mut log = ChangeLog::lock(&db).unwrap();
        let names = || std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap());
        assert_eq!(names().count(), 0, "a crash's spare is removed when the log is locked");
        log.make_spares().unwrap();
        log.spares.as_mut().unwrap().wait_ready();
        let first = log.append(&[Change::Put(lease("192.0.2.10"))]).unwrap();
        let segment = segment_path(&dir, first);
        assert!(!names().any(|n| n == "spare-1.tmp"), "the spare became the segment");
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), SEGMENT_MIN_ROOM, "with its zeroed room");
        assert!(log.segment.as_ref().unwrap().file.is_direct());
        log.append(&[Change::Put(lease("192.0.2.11"))]).unwrap();
        let ips: Vec<String> = read(&dir).unwrap().iter().map(|c| c.ip().to_string()).collect();
        assert_eq!(ips, ["192.0.2.10", "192.0.2.11"]);
    }

    fn segments_span_and_are_removed(name: &str, appended_only: bool) {
        let db = temp_db(name);
        let mut log = ChangeLog::lock(&db).unwrap();
        log.appended_only = appended_only;
        assert!(matches!(ChangeLog::lock(&db), Err(ChangeLogError::InUse(_))), "a second writer is refused");
        let first = log.append(&[Change::Put(lease("192.0.2.10"))]).unwrap();
        assert_eq!(log.append(&[Change::Put(lease("192.0.2.11"))]).unwrap(), first, "young: the same segment");
        log.segment.as_mut().unwrap().opened -= SEGMENT_AGE;
        let second = log.append(&[Change::Put(lease("192.0.2.12"))]).unwrap();
        assert_eq!(log.segment.as_ref().unwrap().file.is_direct(), !appended_only);
        // A change too long for a record is refused whole, and the log reads on past the attempt.
        let huge = Lease { hostname: Some("h".repeat(MAX_RECORD as usize).into()), ..lease("192.0.2.99") };
        let refused = log.append(&[Change::Put(lease("192.0.2.98")), Change::Put(huge)]);
        assert!(matches!(refused, Err(ChangeLogError::Encode { .. })), "{refused:?}");
        assert_eq!(second, first + 1, "an old segment is closed and a new one started");
        let ips = |v: Vec<Change>| v.iter().map(|c| c.ip().to_string()).collect::<Vec<_>>();
        assert_eq!(ips(read(&dir_of(&db)).unwrap()), ["192.0.2.10", "192.0.2.11", "192.0.2.12"]);
        log.remover().remove_before(second).unwrap();
        assert_eq!(ips(log.pending().unwrap()), ["192.0.2.12"]);
        drop(log);
        // Released with its owner: the next writer numbers on from what is there.
        let mut log = ChangeLog::lock(&db).unwrap();
        log.appended_only = appended_only;
        assert_eq!(log.append(&[Change::Put(lease("192.0.2.13"))]).unwrap(), second + 1);
        log.clear().unwrap();
        assert!(log.pending().unwrap().is_empty());
    }
}
