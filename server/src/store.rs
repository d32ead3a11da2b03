//! Durable leases. The engine's table is authoritative while running; the store is what survives a crash.
//! Every lease change is committed (and fsync'd) before the ACK that announces it is sent; the daemon
//! batches the changes of many packets into one transaction (group commit).

use dhcplab_engine::config::HexBytes;
use dhcplab_engine::{ClientKey, Duration, HwAddr, Instant, Lease};
use rusqlite::{Connection, params};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// One change to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert(Lease),
    Delete(Ipv4Addr),
}

impl Change {
    /// The address whose record changes.
    pub fn ip(&self) -> Ipv4Addr {
        match self {
            Change::Upsert(l) => l.ip,
            Change::Delete(ip) => *ip,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("lease database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("lease database row for {ip}: {message}")]
    BadRow { ip: String, message: String },
    #[error("the lease database is damaged: {0}")]
    Corrupt(String),
}

/// Where leases are kept. SQLite is built in; a networked backend (PostgreSQL, for several servers sharing
/// one database) implements the same two calls.
pub trait LeaseStore: Send + 'static {
    fn load(&mut self) -> Result<Vec<Lease>, StoreError>;
    /// Makes all `changes` durable at once, or none of them.
    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError>;
}

pub struct SqliteStore {
    conn: Connection,
    /// Stops the checkpoint thread when the store is dropped.
    _checkpointer: Option<std::sync::mpsc::Sender<()>>,
    /// The write-ahead log, watched so it cannot grow without limit.
    wal: PathBuf,
    /// Past this size the writer checkpoints the WAL itself (the background checkpoints must be failing).
    wal_limit: u64,
    commits: u64,
}

/// How big the WAL may grow before the writer checkpoints it itself.
const WAL_LIMIT: u64 = 64 << 20;
/// The WAL's size is looked at every this many commits.
const WAL_CHECK_EVERY: u64 = 64;

fn client_text(c: &ClientKey) -> String {
    match c {
        ClientKey::ClientId(id) => format!("id:{id}"),
        ClientKey::Hw(hw) => format!("hw:{hw}"),
    }
}

fn parse_client(s: &str) -> Option<ClientKey> {
    if let Some(id) = s.strip_prefix("id:") {
        id.parse::<HexBytes>().ok().map(ClientKey::ClientId)
    } else {
        s.strip_prefix("hw:")?.parse::<HwAddr>().ok().map(ClientKey::Hw)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // WAL: readers never block the writer. FULL: the WAL is fsync'd at every commit, so a committed
        // lease survives power loss, not only a process crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints (copying the WAL into the database, with an fsync of its own) would otherwise run
        // inside a commit now and then and hold up every ACK behind it; a second connection does them in
        // the background, passively, so the writer never waits for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.execute_batch(
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
        )?;
        let checkpointer = Connection::open(path)
            .inspect_err(|e| tracing::error!("no background checkpoints for {}: {e}", path.display()))
            .ok()
            .map(|c| {
                let (stop, stopped) = std::sync::mpsc::channel::<()>();
                let _ = std::thread::Builder::new().name("lease-checkpoint".into()).spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(std::time::Duration::from_secs(1))
                    {
                        let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                });
                stop
            });
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        Ok(SqliteStore { conn, _checkpointer: checkpointer, wal, wal_limit: WAL_LIMIT, commits: 0 })
    }

    /// Checkpoints the WAL on the writer's own connection when it has outgrown `wal_limit`: background
    /// checkpoints keep it small, but when they fail (or a reader holds them back) it must not fill the disk.
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

impl SqliteStore {
    /// Checks a lease database without changing it (`dhcplab check --db`): SQLite's own integrity check,
    /// then every row read as the daemon would read it. Returns how many leases it holds.
    pub fn verify(path: &Path) -> Result<usize, StoreError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if verdict != "ok" {
            return Err(StoreError::Corrupt(verdict));
        }
        Ok(load_from(&conn)?.len())
    }
}

/// Every lease in the database, read and checked row by row.
fn load_from(conn: &Connection) -> Result<Vec<Lease>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT ip, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms, lease_secs FROM leases",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, i64>(8)?,
            r.get::<_, i64>(9)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (ip, subnet, client, hw, client_id, hostname, state, obtained, expires, secs) = row?;
        let bad = |message: &str| StoreError::BadRow { ip: ip.clone(), message: message.to_string() };
        out.push(Lease {
            ip: ip.parse().map_err(|_| bad("address"))?,
            subnet: subnet.parse().map_err(|_| bad("subnet"))?,
            client: parse_client(&client).ok_or_else(|| bad("client"))?,
            hw: hw.parse().map_err(|_| bad("hardware address"))?,
            client_id: match client_id {
                Some(c) => Some(c.parse().map_err(|_| bad("client id"))?),
                None => None,
            },
            hostname,
            state: state.parse().map_err(|_| bad("state"))?,
            obtained: Instant::from_millis(u64::try_from(obtained).map_err(|_| bad("obtained"))?),
            expires: Instant::from_millis(u64::try_from(expires).map_err(|_| bad("expires"))?),
            lease_time: Duration::from_secs(u64::try_from(secs).map_err(|_| bad("lease time"))?),
        });
    }
    Ok(out)
}

impl LeaseStore for SqliteStore {
    fn load(&mut self) -> Result<Vec<Lease>, StoreError> {
        load_from(&self.conn)
    }

    fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO leases (ip, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms, lease_secs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(ip) DO UPDATE SET subnet=?2, client=?3, hw=?4, client_id=?5, hostname=?6, state=?7,
                     obtained_ms=?8, expires_ms=?9, lease_secs=?10",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM leases WHERE ip = ?1")?;
            for c in changes {
                match c {
                    Change::Upsert(l) => {
                        upsert.execute(params![
                            l.ip.to_string(),
                            l.subnet.to_string(),
                            client_text(&l.client),
                            l.hw.to_string(),
                            l.client_id.as_ref().map(|c| c.to_string()),
                            l.hostname,
                            l.state.as_str(),
                            i64::try_from(l.obtained.as_millis()).unwrap_or(i64::MAX),
                            i64::try_from(l.expires.as_millis()).unwrap_or(i64::MAX),
                            i64::try_from(l.lease_time.as_secs()).unwrap_or(i64::MAX),
                        ])?;
                    }
                    Change::Delete(ip) => {
                        delete.execute(params![ip.to_string()])?;
                    }
                }
            }
        }
        tx.commit()?;
        self.bound_wal();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcplab_engine::LeaseState;

    fn lease(ip: &str, state: LeaseState) -> Lease {
        Lease {
            ip: ip.parse().unwrap(),
            subnet: "192.0.2.0/24".parse().unwrap(),
            client: ClientKey::ClientId(HexBytes(vec![1, 0x52, 0x54, 0, 1, 2, 3])),
            hw: "52:54:00:01:02:03".parse().unwrap(),
            client_id: Some(HexBytes(vec![1, 0x52, 0x54, 0, 1, 2, 3])),
            hostname: Some("<img src=x>".into()),
            state,
            obtained: Instant::from_millis(1_700_000_000_000),
            expires: Instant::from_millis(1_700_000_021_600),
            lease_time: Duration::from_secs(21_600),
        }
    }

    #[test]
    fn leases_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("dhcplab-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leases.sqlite3");
        let _ = std::fs::remove_file(&path);
        {
            let mut s = SqliteStore::open(&path).unwrap();
            s.commit(&[
                Change::Upsert(lease("192.0.2.10", LeaseState::Bound)),
                Change::Upsert(lease("192.0.2.11", LeaseState::Declined)),
            ])
            .unwrap();
            s.commit(&[
                Change::Delete("192.0.2.11".parse().unwrap()),
                Change::Upsert(lease("192.0.2.10", LeaseState::Released)),
            ])
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
    fn client_keys_round_trip_as_text() {
        for c in [ClientKey::Hw("52:54:00:01:02:03".parse().unwrap()), ClientKey::ClientId(HexBytes(vec![0xff, 0, 1]))]
        {
            assert_eq!(parse_client(&client_text(&c)), Some(c));
        }
        assert_eq!(parse_client("nonsense"), None);
    }

    #[test]
    fn the_wal_stays_bounded_when_background_checkpoints_fail() {
        let dir = std::env::temp_dir().join(format!("dhcplab-wal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leases.sqlite3");
        let mut s = SqliteStore::open(&path).unwrap();
        // As if the checkpoint thread could not open its connection: only the writer's own bound is left.
        s._checkpointer = None;
        s.wal_limit = 64 << 10;
        for i in 0..2_000u32 {
            let ip = std::net::Ipv4Addr::from(0xc000_0200 + (i % 200)).to_string();
            s.commit(&[Change::Upsert(lease(&ip, LeaseState::Bound))]).unwrap();
        }
        let wal = std::fs::metadata(&s.wal).map_or(0, |m| m.len());
        // At most one check interval's worth of frames beyond the limit.
        assert!(wal <= (64 << 10) + WAL_CHECK_EVERY * 16 * 1024, "the WAL grew to {wal} bytes");
        assert_eq!(s.load().unwrap().len(), 200);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
