//! Durable leases. The engine's table is authoritative while running; the store is what survives a crash.
//! Every lease change is committed (and fsync'd) before the ACK that announces it is sent; the daemon
//! batches the changes of many packets into one transaction (group commit).
//!
//! Two backends: SQLite, a file for one server; PostgreSQL, one database shared by several servers, which
//! arbitrates every change (see `dhcplab_engine::arbiter`) so no address is ACKed to two clients.

mod applier;
pub mod change_log;
mod change_record;
mod latest_changes;
mod lease_db;
mod paced_write;
mod pg_connect;
mod postgresql;
mod row;
mod segment_file;
mod spare_segments;
mod sqlite;
#[cfg(test)]
mod test_fixtures;

pub use applier::FileLag;
pub use dhcplab_engine::arbiter::Proposal as Change;
pub use latest_changes::{LatestChanges, keep_latest};
pub use lease_db::LeaseDb;
pub use pg_connect::PgConnect;
pub use postgresql::{PgPeers, PgStore};
pub use sqlite::SqliteStore;

use dhcplab_engine::{Instant, Lease};
use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("lease database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("lease database: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("lease database row for {ip}: {message}")]
    BadRow { ip: String, message: String },
    #[error(transparent)]
    ChangeLog(#[from] change_log::ChangeLogError),
    #[error("lease database {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the lease database is damaged: {0}")]
    Corrupt(String),
    #[error(
        "the lease database has schema version {found}; this dhcplab knows up to {known}: upgrade dhcplab, or \
         use a database of this version"
    )]
    TooNew { found: i64, known: i64 },
    #[error("lease database password file {file}: {message}")]
    Password { file: String, message: String },
    #[error("lease database TLS: {0}")]
    Tls(String),
}

/// What a commit decided beyond "done": changes another server's record won over, and records this server
/// should take as the shared store holds them. Always empty for a store of one server.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Addresses whose lease lost: their ACKs must not leave.
    pub refused: Vec<Ipv4Addr>,
    /// Records as they stand in the shared store, for the engine to take over.
    pub adopt: Vec<Change>,
}

/// Where a store's load hands what it reads, as it reads it: at start-up the daemon sorts each batch on
/// another thread while the store reads on, then builds its table from them in one pass.
pub trait LoadSink {
    /// How many leases are coming: room is made for them at once.
    fn expect(&mut self, _leases: usize) {}
    fn take(&mut self, batch: Vec<Lease>);
}

/// Every lease at once (`leases export`, `check --db`, tests).
impl LoadSink for Vec<Lease> {
    fn expect(&mut self, leases: usize) {
        self.reserve(leases);
    }
    fn take(&mut self, batch: Vec<Lease>) {
        self.extend(batch);
    }
}

/// Every row read and checked, none kept, only counted (`leases import` opens the store it writes to;
/// `check --db` says how many leases it found).
#[derive(Default)]
pub struct Discard {
    pub read: usize,
}

impl LoadSink for Discard {
    fn take(&mut self, batch: Vec<Lease>) {
        self.read += batch.len();
    }
}

/// How many leases a load hands over at a time: big enough that the hand-over costs nothing, small
/// enough that sorting starts at once.
pub const LOAD_BATCH: usize = 8192;

/// Where leases are kept.
pub trait LeaseStore: Send + 'static {
    /// Reads every stored lease into `sink`, in batches of up to [`LOAD_BATCH`].
    fn load_into(&mut self, sink: &mut dyn LoadSink) -> Result<(), StoreError>;

    /// Every stored lease at once.
    #[cfg(test)]
    fn load(&mut self) -> Result<Vec<Lease>, StoreError> {
        let mut all = Vec::new();
        self.load_into(&mut all)?;
        Ok(all)
    }
    /// Makes all granted `changes` durable at once, or none of them. `now` is the committing server's
    /// clock, against which a shared store decides whether another client's lease still runs.
    fn commit(&mut self, now: Instant, changes: &[Change]) -> Result<CommitReport, StoreError>;

    /// Whether a commit is a write to this machine's disk, with no network round trip: quick enough, most
    /// times, for the thread that reads the packets to make it itself (see `daemon::inline_commit`).
    fn commits_locally(&self) -> bool {
        false
    }

    /// How far a file is behind the log its commits go to, when they go to one (SQLite under a daemon).
    fn file_lag(&self) -> Option<std::sync::Arc<FileLag>> {
        None
    }
}
