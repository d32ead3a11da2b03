//! The SQLite lease store: one file, one server. WAL mode, the WAL synced at every commit; a serving
//! daemon commits to the change log beside the file instead (see `change_log`), and the file follows.

use super::applier::{Applier, FileLag};
use super::change_log::{self, ChangeLog, ChangeLogError};
use super::paced_write::sync_data_paced;
use super::row::{Row, RowText};
use super::{Change, CommitReport, Discard, LOAD_BATCH, LeaseStore, LoadSink, StoreError};
use dhcplab_engine::{Instant, Lease};
use rusqlite::{Connection, OpenFlags, params};
use std::path::{Path, PathBuf};

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// The applier's second connection, for its checkpoints (see `checkpoint`); none for other stores.
    checkpointer: Option<Connection>,
    /// The write-ahead log, synced after each commit and watched so it cannot grow without limit.
    wal: PathBuf,
    /// The WAL's directory entry is durable (synced once, the first time the WAL is).
    wal_named: bool,
    /// Past this size the writer checkpoints the WAL itself (the applier's checkpoints must be failing).
    wal_limit: u64,
    commits: u64,
    /// While a daemon serves from the file: the log its commits go to, and the thread that applies them.
    logged: Option<(ChangeLog, Applier)>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

/// Makes the file at `path` durable a slice at a time (`paced_write`).
fn sync_paced(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path).and_then(|f| sync_data_paced(&f)).map_err(io_error(path))
}

/// A connection that only reads. NO_MUTEX as rusqlite's own default: each connection is used by one thread
/// at a time, and in SQLite's serialized mode every column read takes a lock.
const READ_ONLY: OpenFlags = OpenFlags::SQLITE_OPEN_READ_ONLY.union(OpenFlags::SQLITE_OPEN_NO_MUTEX);

/// How big the WAL may grow before the writer checkpoints it itself.
const WAL_LIMIT: u64 = 64 << 20;
/// The WAL's size is looked at every this many commits.
const WAL_CHECK_EVERY: u64 = 64;

/// The schema, one step per version: a database at version `n` runs steps `n..` at start-up, in one
/// transaction each, and records the new version in `PRAGMA user_version`. Never edit a released step.
const MIGRATIONS: &[&str] = &[
    // 1: the lease table (databases made before versioning have it already, hence IF NOT EXISTS).
    "CREATE TABLE IF NOT EXISTS leases (
        ip TEXT PRIMARY KEY,
        subnet TEXT NOT NULL,
        client TEXT NOT NULL,
        hw TEXT NOT NULL,
        client_id TEXT,
        hostname TEXT,
        state TEXT NOT NULL,
        obtained_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        lease_secs INTEGER NOT NULL
    );",
    // 2: the client's class and the lease's name in DNS.
    "ALTER TABLE leases ADD COLUMN class TEXT; ALTER TABLE leases ADD COLUMN dns_name TEXT;",
];

/// Brings the database's schema up to the newest version this build knows.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` for a tool (`leases import`, `export`): commits
    /// go straight to the file. Changes a daemon left in the change log (it was killed) are applied first,
    /// unless a daemon is serving from the file now.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut store = Self::open_file(path, false)?;
        match ChangeLog::lock(path) {
            Ok(mut log) => store.catch_up(&mut log)?,
            Err(ChangeLogError::InUse(_)) => tracing::warn!(
                "a dhcplab daemon serves from {}: its last five seconds of changes may not be in the file yet",
                path.display()
            ),
            Err(e) => return Err(e.into()),
        }
        Ok(store)
    }

    /// Opens the database at `path` for the daemon that serves from it, alone: every commit is made durable
    /// in the change log, and the file follows within five seconds. A second daemon on the same file is refused.
    pub fn open_serving(path: &Path) -> Result<Self, StoreError> {
        let mut log = ChangeLog::lock(path)?;
        // The applier's store does the checkpoints: this connection reads at start and catches up.
        let mut store = Self::open_file(path, false)?;
        store.catch_up(&mut log)?;
        log.make_spares()?;
        let applier = Applier::start(Self::open_file(path, true)?, log.remover())
            .map_err(|e| ChangeLogError::Io { path: change_log::dir_of(path), source: e })?;
        store.logged = Some((log, applier));
        Ok(store)
    }

    /// Writes what the change log holds into the file, then empties the log.
    fn catch_up(&mut self, log: &mut ChangeLog) -> Result<(), StoreError> {
        let pending = log.pending()?;
        if !pending.is_empty() {
            tracing::info!("{} changes from the change log written into {}", pending.len(), self.path.display());
            self.write(&pending)?;
        }
        log.clear()?;
        Ok(())
    }

    fn open_file(path: &Path, checkpoints: bool) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        // WAL: readers never block the writer. NORMAL: SQLite syncs nothing at a commit; `write` then syncs
        // the WAL itself, a slice at a time (`paced_write`), so a committed lease survives power loss, not
        // only a process crash, and a write's changes never reach the disk at once.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // No checkpoint inside a commit: the applier's own come after its writes (`checkpoint`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        migrate(&mut conn)?;
        let checkpointer = checkpoints
            .then(|| {
                let c = Connection::open(path)?;
                // `checkpoint` syncs the file itself, paced; SQLite's own syncs would put it down at once.
                c.pragma_update(None, "synchronous", "OFF")?;
                Ok::<_, rusqlite::Error>(c)
            })
            .transpose()
            .inspect_err(|e| tracing::error!("no checkpoints for {} but the writer's own: {e}", path.display()))
            .ok()
            .flatten();
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let path = path.to_path_buf();
        Ok(SqliteStore {
            conn,
            path,
            checkpointer,
            wal,
            wal_named: false,
            wal_limit: WAL_LIMIT,
            commits: 0,
            logged: None,
        })
    }

    /// Checkpoints the WAL on the writer's own connection when it has outgrown `wal_limit`: the applier's
    /// checkpoints keep it small, but when they fail (or a reader holds them back) it must not fill the disk;
    /// a tool's long import has no others.
    fn bound_wal(&mut self) {
        self.commits += 1;
        if !self.commits.is_multiple_of(WAL_CHECK_EVERY) {
            return;
        }
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if size > self.wal_limit {
            tracing::warn!("the lease database's WAL is {size} bytes: checkpointing it now");
            if let Err(e) = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::error!("could not checkpoint the lease database's WAL: {e}");
            }
        }
    }
}

/// Closing the store folds the WAL into the database file and empties it: the next start reads one file,
/// not a WAL it must first scan and copy (after `leases import` of a million leases, 137 MB of it).
impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The applier first: it writes what is left of the log into the file.
        drop(self.logged.take());
        // Then the checkpointer, which syncs nothing: the last connection to close checkpoints and deletes
        // the WAL, and that must be the writer's, which syncs.
        drop(self.checkpointer.take());
        if let Err(e) = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!("closing the lease database, its WAL could not be checkpointed: {e}");
        }
    }
}

impl SqliteStore {
    /// Checks a lease database without changing it (`dhcplab check --db`): SQLite's own integrity check,
    /// then every row read as the daemon would read it. Returns how many leases it holds.
    pub fn verify(path: &Path) -> Result<usize, StoreError> {
        let conn = Connection::open_with_flags(path, READ_ONLY)?;
        let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if verdict != "ok" {
            return Err(StoreError::Corrupt(verdict));
        }
        let mut counted = Discard::default();
        load_from(&conn, None, &mut counted)?;
        Ok(counted.read)
    }
}

/// Below this many rows one thread reads them all: a second connection costs more than it saves.
const READ_IN_HALVES_FROM: i64 = 4 * LOAD_BATCH as i64;

/// Every lease in the database, read and checked row by row. With a `helper` connection to the same
/// database, a big table is read in two halves by rowid at once, this thread reading the first: parsing
/// the rows is most of a start-up's work, and the table is built on a third thread meanwhile. The caller
/// makes the two reads one snapshot (see `SqliteStore::load_into`). Returns how many connections read.
fn load_from(conn: &Connection, helper: Option<Connection>, sink: &mut dyn LoadSink) -> Result<usize, StoreError> {
    // Three queries, each answered from the b-tree alone: asked together, they scanned every row.
    let count: i64 = conn.query_row("SELECT count(*) FROM leases", [], |r| r.get(0))?;
    let first: Option<i64> = conn.query_row("SELECT min(rowid) FROM leases", [], |r| r.get(0))?;
    let last: Option<i64> = conn.query_row("SELECT max(rowid) FROM leases", [], |r| r.get(0))?;
    sink.expect(usize::try_from(count).unwrap_or(0));
    let (Some(first), Some(last)) = (first, last) else { return Ok(1) };
    let Some(helper) = helper.filter(|_| count >= READ_IN_HALVES_FROM) else {
        return read_rows(conn, (first, last), &mut |batch| sink.take(batch)).map(|()| 1);
    };
    let middle = first + (last - first) / 2;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        let second = std::thread::Builder::new()
            .name("lease-load".into())
            .spawn_scoped(scope, move || read_rows(&helper, (middle + 1, last), &mut |batch| drop(tx.send(batch))));
        let second = match second {
            Ok(thread) => thread,
            // No thread to spare: read the other half here.
            Err(_) => return read_rows(conn, (first, last), &mut |batch| sink.take(batch)).map(|()| 1),
        };
        // The other half's batches are passed on between this half's, so the table's thread has both.
        read_rows(conn, (first, middle), &mut |batch| {
            sink.take(batch);
            rx.try_iter().for_each(|theirs| sink.take(theirs));
        })?;
        rx.iter().for_each(|theirs| sink.take(theirs));
        second.join().unwrap_or_else(|_| Err(StoreError::Corrupt("the second reader panicked".into())))?;
        Ok(2)
    })
}

/// The leases whose rowids run from `first` to `last`, both included, in batches of up to [`LOAD_BATCH`].
fn read_rows(conn: &Connection, (first, last): (i64, i64), take: &mut dyn FnMut(Vec<Lease>)) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(
        "SELECT ip, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms, lease_secs, class, dns_name
         FROM leases WHERE rowid BETWEEN ?1 AND ?2",
    )?;
    let mut rows = stmt.query(params![first, last])?;
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    while let Some(r) = rows.next()? {
        let text = |i: usize| r.get_ref(i).and_then(|v| v.as_str().map_err(Into::into));
        let maybe = |i: usize| r.get_ref(i).and_then(|v| v.as_str_or_null().map_err(Into::into));
        let row = Row {
            ip: text(0)?,
            subnet: text(1)?,
            client: text(2)?,
            hw: text(3)?,
            client_id: maybe(4)?,
            hostname: maybe(5)?,
            state: text(6)?,
            obtained_ms: r.get(7)?,
            expires_ms: r.get(8)?,
            lease_secs: r.get(9)?,
            server: None,
            class: maybe(10)?,
            dns_name: maybe(11)?,
        };
        batch.push(row.lease()?);
        if batch.len() == LOAD_BATCH {
            take(std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH)));
        }
    }
    take(batch);
    Ok(())
}

impl LeaseStore for SqliteStore {
    /// Reads in two halves at once (see `load_from`), holding the database's write lock meanwhile: no
    /// other process can commit between the two connections' reads, so they see one state of the table.
    fn load_into(&mut self, sink: &mut dyn LoadSink) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let helper = Connection::open_with_flags(&self.path, READ_ONLY)
            .inspect_err(|e| tracing::warn!("reading the lease database on one connection only: {e}"))
            .ok();
        let read = load_from(&self.conn, helper, sink);
        self.conn.execute_batch(if read.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        tracing::debug!("the lease database was read on {} connection(s)", read?);
        Ok(())
    }

    fn commits_locally(&self) -> bool {
        true
    }

    fn file_lag(&self) -> Option<std::sync::Arc<FileLag>> {
        self.logged.as_ref().map(|(_, applier)| applier.lag().clone())
    }

    /// One server owns the file: every change is granted.
    fn commit(&mut self, _now: Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
        match &mut self.logged {
            Some((log, applier)) => {
                let segment = log.append(changes)?;
                applier.send(segment, changes);
            }
            None => self.write(changes)?,
        }
        Ok(CommitReport::default())
    }
}

impl SqliteStore {
    /// Writes `changes` into the file in one transaction.
    pub(super) fn write(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO leases (ip, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms, lease_secs,
                     class, dns_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(ip) DO UPDATE SET subnet=?2, client=?3, hw=?4, client_id=?5, hostname=?6, state=?7,
                     obtained_ms=?8, expires_ms=?9, lease_secs=?10, class=?11, dns_name=?12",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM leases WHERE ip = ?1")?;
            let mut text = RowText::default();
            for c in changes {
                match c {
                    Change::Put(l) => {
                        let r = text.row(l);
                        upsert.execute(params![
                            r.ip,
                            r.subnet,
                            r.client,
                            r.hw,
                            r.client_id,
                            r.hostname,
                            r.state,
                            r.obtained_ms,
                            r.expires_ms,
                            r.lease_secs,
                            r.class,
                            r.dns_name
                        ])?;
                    }
                    Change::Remove { ip, .. } => {
                        delete.execute(params![ip.to_string()])?;
                    }
                }
            }
        }
        tx.commit()?;
        self.sync_wal()?;
        self.bound_wal();
        Ok(())
    }

    /// Makes the commits in the WAL durable (`synchronous = NORMAL` left it to this).
    fn sync_wal(&mut self) -> Result<(), StoreError> {
        sync_paced(&self.wal)?;
        if !self.wal_named {
            let dir = self.wal.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
            self.wal_named = true;
        }
        Ok(())
    }

    /// Copies the WAL's commits into the database file, the file synced a slice at a time, so the next
    /// commit can start the WAL over. The writer's connection holds the write lock meanwhile: a WAL started
    /// over (by a tool writing to the file) before the copied pages are durable could lose them in a power
    /// cut, and SQLite's own checkpoint, which would sync them first, would put them down at once.
    pub(super) fn checkpoint(&mut self) -> Result<(), StoreError> {
        let Some(checkpointer) = &self.checkpointer else { return Ok(()) };
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let copied = checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(StoreError::from)
            .and_then(|()| sync_paced(&self.path));
        self.conn.execute_batch(if copied.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        copied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_fixtures::{fresh_db, lease};
    use dhcplab_engine::LeaseState;
    use std::collections::BTreeMap;

    #[test]
    fn a_big_table_is_read_in_two_halves_every_row_once() {
        // Enough rows for two readers, with holes in the rowids where leases were removed; and a reader
        // of the database (the checkpointer, `dhcplab check`) open meanwhile.
        let (dir, path) = fresh_db("halves");
        let n = READ_IN_HALVES_FROM as u32 + 10_000;
        let ip = |i: u32| std::net::Ipv4Addr::from(u32::from_be_bytes([10, 0, 0, 0]) + i);
        let mut s = SqliteStore::open(&path).unwrap();
        let put = |i: u32| {
            Change::Put(Lease {
                ip: ip(i),
                subnet: "10.0.0.0/8".parse().unwrap(),
                ..lease("10.0.0.1", LeaseState::Bound)
            })
        };
        s.commit(Instant::from_millis(0), &(0..n).map(put).collect::<Vec<_>>()).unwrap();
        let gone: Vec<Change> = (0..n)
            .filter(|i| i % 7 == 3)
            .map(|i| Change::remove(&lease(&ip(i).to_string(), LeaseState::Bound)))
            .collect();
        s.commit(Instant::from_millis(0), &gone).unwrap();
        let other = Connection::open(&path).unwrap();
        let mut batches = Vec::<Vec<Lease>>::new();
        struct Batches<'a>(&'a mut Vec<Vec<Lease>>);
        impl LoadSink for Batches<'_> {
            fn take(&mut self, batch: Vec<Lease>) {
                self.0.push(batch);
            }
        }
        s.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let helper = Connection::open_with_flags(&path, READ_ONLY).unwrap();
        assert_eq!(load_from(&s.conn, Some(helper), &mut Batches(&mut batches)).unwrap(), 2, "two readers");
        s.conn.execute_batch("COMMIT").unwrap();
        let mut again = Vec::new();
        s.load_into(&mut again).unwrap();
        assert_eq!(again.len(), batches.iter().map(Vec::len).sum::<usize>());
        assert!(batches.iter().all(|b| b.len() <= LOAD_BATCH));
        let mut loaded: Vec<u32> = batches.iter().flatten().map(|l| u32::from(l.ip) - u32::from(ip(0))).collect();
        loaded.sort_unstable();
        let expected: Vec<u32> = (0..n).filter(|i| i % 7 != 3).collect();
        assert_eq!(loaded, expected);
        // The write lock taken for the read is given back: the store commits, another connection reads.
        s.commit(Instant::from_millis(0), &[put(n)]).unwrap();
        let rows: i64 = other.query_row("SELECT count(*) FROM leases", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, expected.len() as i64 + 1);
        drop(s);
        assert_eq!(SqliteStore::verify(&path).unwrap(), expected.len() + 1, "`check --db` counts every row");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn leases_survive_reopening() {
        let (dir, path) = fresh_db("store");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            s.commit(
                Instant::from_millis(0),
                &[
                    Change::Put(lease("192.0.2.10", LeaseState::Bound)),
                    Change::Put(lease("192.0.2.11", LeaseState::Declined)),
                ],
            )
            .unwrap();
            s.commit(
                Instant::from_millis(0),
                &[
                    Change::remove(&lease("192.0.2.11", LeaseState::Declined)),
                    Change::Put(lease("192.0.2.10", LeaseState::Released)),
                ],
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let all = s.load().unwrap();
        assert_eq!(all, vec![lease("192.0.2.10", LeaseState::Released)]);
        let mode: String = s.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_serving_daemon_commits_to_the_change_log_alone_and_the_file_follows() {
        let (dir, path) = fresh_db("serving");
        let log_dir = change_log::dir_of(&path);
        let mut s = SqliteStore::open_serving(&path).unwrap();
        assert!(
            matches!(SqliteStore::open_serving(&path), Err(StoreError::ChangeLog(ChangeLogError::InUse(_)))),
            "a second daemon on the same file is refused"
        );
        let put = Change::Put(lease("192.0.2.10", LeaseState::Bound));
        s.commit(Instant::from_millis(0), std::slice::from_ref(&put)).unwrap();
        // Durable in the log at once (what the ACK waits for); a tool opening meanwhile leaves the log alone.
        assert_eq!(change_log::read(&log_dir).unwrap(), vec![put.clone()]);
        drop(SqliteStore::open(&path).unwrap());
        assert_eq!(change_log::read(&log_dir).unwrap(), vec![put.clone()]);
        let lag = s.file_lag().expect("a serving store follows its log");
        assert_eq!(lag.behind.load(std::sync::atomic::Ordering::Relaxed), 1);
        // In the file within five seconds or so.
        let reader = Connection::open_with_flags(&path, READ_ONLY).unwrap();
        let in_file = || reader.query_row("SELECT count(*) FROM leases", [], |r| r.get::<_, i64>(0)).unwrap();
        let start = std::time::Instant::now();
        while in_file() == 0 {
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "the file never got the change");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // Counted as written once the file's transaction is done (a moment after its rows are visible).
        while lag.behind.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            assert!(start.elapsed() < std::time::Duration::from_secs(10), "still counted behind");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        s.commit(Instant::from_millis(0), &[Change::remove(&lease("192.0.2.10", LeaseState::Bound))]).unwrap();
        // A clean stop writes the rest into the file and empties the log.
        drop(s);
        assert_eq!(in_file(), 0);
        assert!(change_log::read(&log_dir).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_applier_that_cannot_write_holds_one_change_per_address_and_never_holds_up_a_commit() {
        use std::sync::atomic::Ordering::Relaxed;
        let (dir, path) = fresh_db("stuck-applier");
        let mut s = SqliteStore::open_serving(&path).unwrap();
        let lag = s.file_lag().expect("a serving store follows its log");
        // Another connection holds the file's write lock: every write the applier tries fails, as if it were
        // starved of a core for as long.
        let blocker = Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let ips: Vec<String> = (10..20).map(|n| format!("192.0.2.{n}")).collect();
        let mut latest = BTreeMap::new();
        let started = std::time::Instant::now();
        let mut commits = 0;
        // A thousand commits for ten addresses, and on until the applier has tried and failed at least once.
        while commits < 1000 || lag.failures.load(Relaxed) == 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "the applier never tried to write");
            let ip = &ips[commits % ips.len()];
            let change = if commits % 3 == 0 {
                Change::remove(&lease(ip, LeaseState::Bound))
            } else {
                Change::Put(lease(ip, LeaseState::Bound))
            };
            latest.insert(ip.clone(), change.clone());
            s.commit(Instant::from_millis(0), &[change]).unwrap();
            commits += 1;
            // The latest change for each address, and those of a write under way.
            let behind = lag.behind.load(Relaxed);
            assert!(behind <= 2 * ips.len() as u64, "after {commits} commits {behind} changes wait for the file");
            if commits >= 1000 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        assert!(lag.behind.load(Relaxed) > 0, "nothing could be written, so something waits");
        // Once the lock goes, the file catches up with the latest change for each address.
        blocker.execute_batch("ROLLBACK").unwrap();
        while lag.behind.load(Relaxed) > 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "the file never caught up");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let reader = Connection::open_with_flags(&path, READ_ONLY).unwrap();
        let mut rows = reader.prepare("SELECT ip FROM leases ORDER BY ip").unwrap();
        let in_file: Vec<String> = rows.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let bound: Vec<String> =
            latest.iter().filter(|(_, c)| matches!(c, Change::Put(_))).map(|(ip, _)| ip.clone()).collect();
        assert_eq!(in_file, bound);
        drop(s);
        assert!(change_log::read(&change_log::dir_of(&path)).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn changes_left_in_the_log_by_a_killed_daemon_are_applied_at_the_next_open() {
        let (dir, path) = fresh_db("replay");
        drop(SqliteStore::open(&path).unwrap());
        // What a daemon killed before its applier ran leaves: synced records, the last one cut short.
        {
            let mut log = ChangeLog::lock(&path).unwrap();
            log.append(&[
                Change::Put(lease("192.0.2.10", LeaseState::Bound)),
                Change::Put(lease("192.0.2.11", LeaseState::Bound)),
            ])
            .unwrap();
            log.append(&[Change::remove(&lease("192.0.2.11", LeaseState::Bound))]).unwrap();
            log.append(&[Change::Put(lease("192.0.2.12", LeaseState::Bound))]).unwrap();
        }
        let log_dir = change_log::dir_of(&path);
        let segment = std::fs::read_dir(&log_dir).unwrap().next().unwrap().unwrap().path();
        // The last record's end never reached the disk: zeros where it was to be (room allocated up front).
        let mut bytes = std::fs::read(&segment).unwrap();
        let end = bytes.iter().rposition(|b| *b != 0).unwrap() + 1;
        bytes[end - 3..end].fill(0);
        std::fs::write(&segment, &bytes).unwrap();
        assert_eq!(SqliteStore::verify(&path).unwrap(), 0, "the file itself has none of them");
        let mut s = SqliteStore::open_serving(&path).unwrap();
        assert_eq!(s.load().unwrap(), vec![lease("192.0.2.10", LeaseState::Bound)]);
        assert!(change_log::read(&log_dir).unwrap().is_empty(), "applied, then removed");
        drop(s);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_schema_is_versioned_and_a_newer_one_is_refused() {
        let (dir, path) = fresh_db("schema");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().expect("refused");
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_version_1_database_is_upgraded_and_keeps_its_leases_and_then_classes_and_dns_names() {
        let (dir, path) = fresh_db("v1");
        {
            // As the previous release left it: step 1 only, one lease.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO leases VALUES ('192.0.2.9', '192.0.2.0/24', 'hw:52:54:00:01:02:09', '52:54:00:01:02:09',
                 NULL, 'old', 'bound', 1700000000000, 1700000021600, 21600)",
                [],
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let old = s.load().unwrap();
        assert_eq!((old.len(), old[0].hostname.as_deref(), old[0].class.as_deref()), (1, Some("old"), None));
        let mut l = lease("192.0.2.10", LeaseState::Bound);
        l.class = Some("phones".into());
        l.dns_name = Some("laptop.lab.example.".into());
        s.commit(Instant::from_millis(0), &[Change::Put(l.clone())]).unwrap();
        drop(s);
        let mut s = SqliteStore::open(&path).unwrap();
        assert!(s.load().unwrap().contains(&l));
        let v: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_appliers_checkpoints_let_the_wal_start_over_and_lose_nothing() {
        let (dir, path) = fresh_db("checkpoints");
        let mut s = SqliteStore::open_file(&path, true).unwrap();
        let wal_len = |s: &SqliteStore| std::fs::metadata(&s.wal).map_or(0, |m| m.len());
        let put =
            |i: u32| Change::Put(lease(&std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string(), LeaseState::Bound));
        let mut first = 0;
        for round in 0..100u32 {
            s.write(&(0..50).map(|i| put(round * 50 + i)).collect::<Vec<_>>()).unwrap();
            s.checkpoint().unwrap();
            if round == 0 {
                first = wal_len(&s);
            }
        }
        // Each write starts the WAL over from the checkpoint before it; without them it would hold all 100.
        assert!(first > 0 && wal_len(&s) <= 4 * first, "the WAL grew from {first} to {} bytes", wal_len(&s));
        // Every lease is in the file itself: read with the WAL ignored (a copy of the file alone).
        let copy = dir.join("copy.sqlite3");
        std::fs::copy(&path, &copy).unwrap();
        let n: i64 =
            Connection::open(&copy).unwrap().query_row("SELECT count(*) FROM leases", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 5_000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_wal_stays_bounded_without_the_appliers_checkpoints() {
        let (dir, path) = fresh_db("wal");
        // A tool's store: no checkpoints but the writer's own bound.
        let mut s = SqliteStore::open(&path).unwrap();
        s.wal_limit = 64 << 10;
        for i in 0..2_000u32 {
            let ip = std::net::Ipv4Addr::from(0xc000_0200 + (i % 200)).to_string();
            s.commit(Instant::from_millis(0), &[Change::Put(lease(&ip, LeaseState::Bound))]).unwrap();
        }
        let wal = std::fs::metadata(&s.wal).map_or(0, |m| m.len());
        // At most one check interval's worth of frames beyond the limit.
        assert!(wal <= (64 << 10) + WAL_CHECK_EVERY * 16 * 1024, "the WAL grew to {wal} bytes");
        assert_eq!(s.load().unwrap().len(), 200);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
