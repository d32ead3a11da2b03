//! The PostgreSQL lease store: one database shared by several dhcplab servers (active-active).
//!
//! Every commit runs as one transaction that first takes a database-wide advisory lock, so the servers'
//! commits are serialized: each reads the current records of the addresses it changes, applies the
//! engine's arbitration rule (`dhcplab_engine::arbiter`) to each change, writes what was granted, and
//! notifies the others (`NOTIFY dhcplab_leases`). Because commits are serialized, the `change` numbers they
//! write grow in commit order, and another server that has read every change up to `n` has missed none.
//! A removed record stays as a `gone` row, so the others learn of removals the same way.
//!
//! The servers' heartbeats live in the `servers` table, stamped by the database's clock: liveness needs no
//! agreement between the servers' clocks.

use super::PgConnect;
use super::row::{Row, RowText};
use super::{Change, CommitReport, LOAD_BATCH, LeaseStore, LoadSink, StoreError};
use dhcplab_engine::arbiter::{Verdict, arbitrate};
use dhcplab_engine::bridge::PeerStatus;
use dhcplab_engine::{Duration, Instant, Lease};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Statement, Transaction};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// The advisory lock every commit and migration takes ("dhcplab" in ASCII).
const LOCK: i64 = 0x0064_6863_706c_6162;

/// The channel other servers listen on.
pub const CHANNEL: &str = "dhcplab_leases";

/// The most rows one read of the others' changes takes. A server that wrote a million changes at once
/// (its leases ending together) is followed a batch at a time, each handed to the engine as a command of
/// its own, so that packets are served between them: in one command they held it for over a second.
pub const SYNC_BATCH: i64 = 2_000;

/// One read of the changes other servers made.
#[derive(Debug)]
pub struct PeerChanges {
    pub changes: Vec<Change>,
    /// The last change number read, this server's own included: where the next read starts.
    pub through: i64,
    /// The read was cut at [`SYNC_BATCH`]: more are waiting.
    pub more: bool,
}

/// The state a removed record keeps, so other servers see the removal.
const GONE: &str = "gone";

/// The schema, one step per version, recorded in `dhcplab_schema`. Never edit a released step.
const MIGRATIONS: &[&str] = &[
    // 1: leases with the server that last wrote them and a change number; the servers' heartbeats.
    "CREATE SEQUENCE lease_change;
     CREATE TABLE leases (
        ip inet PRIMARY KEY,
        subnet text NOT NULL,
        client text NOT NULL,
        hw text NOT NULL,
        client_id text,
        hostname text,
        state text NOT NULL,
        obtained_ms bigint NOT NULL,
        expires_ms bigint NOT NULL,
        lease_secs bigint NOT NULL,
        server text NOT NULL,
        change bigint NOT NULL
     );
     CREATE INDEX leases_by_change ON leases (change);
     CREATE TABLE servers (
        name text PRIMARY KEY,
        started timestamptz NOT NULL,
        heartbeat timestamptz NOT NULL
     );",
    // 2: the client's class and the lease's name in DNS.
    "ALTER TABLE leases ADD COLUMN class text; ALTER TABLE leases ADD COLUMN dns_name text;",
];

const COLUMNS: &str = "host(ip), subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms, lease_secs, server, class, dns_name";
/// The column after `COLUMNS` in `changes_since`.
const CHANGE_COLUMN: usize = 13;

fn row(r: &postgres::Row) -> Row<&str> {
    Row {
        ip: r.get(0),
        subnet: r.get(1),
        client: r.get(2),
        hw: r.get(3),
        client_id: r.get(4),
        hostname: r.get(5),
        state: r.get(6),
        obtained_ms: r.get(7),
        expires_ms: r.get(8),
        lease_secs: r.get(9),
        server: Some(r.get(10)),
        class: r.get(11),
        dns_name: r.get(12),
    }
}

/// Brings the schema up to date; several servers starting at once take turns (the advisory lock).
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS dhcplab_schema (version integer NOT NULL)")?;
    let found: i64 = match tx.query_opt("SELECT version FROM dhcplab_schema", &[])? {
        Some(r) => i64::from(r.get::<_, i32>(0)),
        None => {
            tx.execute("INSERT INTO dhcplab_schema VALUES (0)", &[])?;
            0
        }
    };
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tx.batch_execute(step)?;
        tx.execute("UPDATE dhcplab_schema SET version = $1", &[&(i as i32 + 1)])?;
    }
    tx.commit()?;
    Ok(())
}

pub struct PgStore {
    client: Client,
    config: PgConnect,
    /// This server's name in the `server` column and the heartbeat table.
    server: String,
    /// The highest change number when the leases were loaded: where reading others' changes starts.
    mark: i64,
    /// A commit's statements, prepared once per connection: each statement sent by its text is parsed
    /// again, one more round trip each time.
    prepared: Option<Prepared>,
}

/// What a commit sends, whatever the number of changes it holds: a commit costs the same few round trips
/// for one change or a thousand (a mass expiry), where a statement per change cost one each.
#[derive(Clone)]
struct Prepared {
    lock: Statement,
    current: Statement,
    put: Statement,
    remove: Statement,
    notify: Statement,
}

impl Prepared {
    fn new(client: &mut Client) -> Result<Self, StoreError> {
        Ok(Prepared {
            lock: client.prepare("SELECT pg_advisory_xact_lock($1)")?,
            current: client.prepare(&format!(
                "SELECT {COLUMNS} FROM leases WHERE ip = ANY($1::text[]::inet[]) AND state <> '{GONE}' FOR UPDATE"
            ))?,
            // Each address at most once in a commit (the committer keeps the latest change of each), as ON
            // CONFLICT requires; `nextval` numbers the rows in the order given.
            put: client.prepare(
                "INSERT INTO leases (ip, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms,
                     lease_secs, server, class, dns_name, change)
                 SELECT ip::inet, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms,
                     lease_secs, $11, class, dns_name, nextval('lease_change')
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::int8[], $9::int8[], $10::int8[], $12::text[], $13::text[])
                     AS t(ip, subnet, client, hw, client_id, hostname, state, obtained_ms, expires_ms, lease_secs,
                         class, dns_name)
                 ON CONFLICT (ip) DO UPDATE SET subnet = EXCLUDED.subnet, client = EXCLUDED.client,
                     hw = EXCLUDED.hw, client_id = EXCLUDED.client_id, hostname = EXCLUDED.hostname,
                     state = EXCLUDED.state, obtained_ms = EXCLUDED.obtained_ms, expires_ms = EXCLUDED.expires_ms,
                     lease_secs = EXCLUDED.lease_secs, server = EXCLUDED.server, class = EXCLUDED.class,
                     dns_name = EXCLUDED.dns_name, change = EXCLUDED.change",
            )?,
            remove: client.prepare(&format!(
                "UPDATE leases SET state = '{GONE}', server = $2, change = nextval('lease_change')
                 WHERE ip = ANY($1::text[]::inet[])"
            ))?,
            notify: client.prepare("SELECT pg_notify($1, $2)")?,
        })
    }
}

/// The granted puts of a commit, column by column, for `Prepared::put`.
#[derive(Default)]
struct PutColumns {
    ip: Vec<String>,
    subnet: Vec<String>,
    client: Vec<String>,
    hw: Vec<String>,
    client_id: Vec<Option<String>>,
    hostname: Vec<Option<String>>,
    state: Vec<String>,
    obtained_ms: Vec<i64>,
    expires_ms: Vec<i64>,
    lease_secs: Vec<i64>,
    class: Vec<Option<String>>,
    dns_name: Vec<Option<String>>,
}

impl PutColumns {
    fn push(&mut self, r: Row<&str>) {
        let owned = |s: Option<&str>| s.map(str::to_string);
        self.ip.push(r.ip.into());
        self.subnet.push(r.subnet.into());
        self.client.push(r.client.into());
        self.hw.push(r.hw.into());
        self.client_id.push(owned(r.client_id));
        self.hostname.push(owned(r.hostname));
        self.state.push(r.state.into());
        self.obtained_ms.push(r.obtained_ms);
        self.expires_ms.push(r.expires_ms);
        self.lease_secs.push(r.lease_secs);
        self.class.push(owned(r.class));
        self.dns_name.push(owned(r.dns_name));
    }
}

impl PgStore {
    /// Connects, and creates or upgrades the schema.
    pub fn open(config: PgConnect, server: &str) -> Result<Self, StoreError> {
        let mut client = config.connect()?;
        migrate(&mut client)?;
        Ok(PgStore { client, config, server: server.to_string(), mark: 0, prepared: None })
    }

    /// The change number up to which `load` read.
    pub fn mark(&self) -> i64 {
        self.mark
    }

    /// A fresh connection when the database went away (restarted, failed over to a standby).
    fn connected(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = self.config.connect()?;
            self.prepared = None;
        }
        Ok(&mut self.client)
    }

    /// The connection, and the commit's statements prepared on it.
    fn prepared(&mut self) -> Result<(&mut Client, Prepared), StoreError> {
        self.connected()?;
        let prepared = match &self.prepared {
            Some(p) => p.clone(),
            None => self.prepared.insert(Prepared::new(&mut self.client)?).clone(),
        };
        Ok((&mut self.client, prepared))
    }

    /// One try at a commit: every change arbitrated against the current records, the granted ones written.
    fn commit_once(&mut self, now: Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
        let server = self.server.clone();
        let (client, stmts) = self.prepared()?;
        let mut tx = client.transaction()?;
        tx.execute(&stmts.lock, &[&LOCK])?;
        let ips: Vec<String> = changes.iter().map(|c| c.ip().to_string()).collect();
        let records = current(&mut tx, &stmts.current, &ips)?;
        let mut report = CommitReport::default();
        let (mut puts, mut removes) = (PutColumns::default(), Vec::new());
        let mut text = RowText::default();
        for (c, ip) in changes.iter().zip(&ips) {
            match arbitrate(now, records.get(&c.ip()), c) {
                Verdict::Granted => match c {
                    Change::Put(l) => puts.push(text.row(l)),
                    Change::Remove { .. } => removes.push(ip.clone()),
                },
                Verdict::Refused(winner) => {
                    report.refused.push(c.ip());
                    report.adopt.push(Change::Put(*winner));
                }
                Verdict::Stale(Some(cur)) => report.adopt.push(Change::Put(*cur)),
                Verdict::Stale(None) => {}
            }
        }
        if !puts.ip.is_empty() {
            let p = &puts;
            tx.execute(
                &stmts.put,
                &[
                    &p.ip,
                    &p.subnet,
                    &p.client,
                    &p.hw,
                    &p.client_id,
                    &p.hostname,
                    &p.state,
                    &p.obtained_ms,
                    &p.expires_ms,
                    &p.lease_secs,
                    &server,
                    &p.class,
                    &p.dns_name,
                ],
            )?;
        }
        if !removes.is_empty() {
            tx.execute(&stmts.remove, &[&removes, &server])?;
        }
        if !puts.ip.is_empty() || !removes.is_empty() {
            tx.execute(&stmts.notify, &[&CHANNEL, &server])?;
        }
        tx.commit()?;
        Ok(report)
    }
}

/// The current (not `gone`) records of `ips`, locked until the commit.
fn current(tx: &mut Transaction<'_>, stmt: &Statement, ips: &[String]) -> Result<HashMap<Ipv4Addr, Lease>, StoreError> {
    let rows = tx.query(stmt, &[&ips])?;
    rows.iter().map(|r| row(r).lease().map(|l| (l.ip, l))).collect()
}

impl LeaseStore for PgStore {
    fn load_into(&mut self, sink: &mut dyn LoadSink) -> Result<(), StoreError> {
        let mut tx = self.connected()?.transaction()?;
        // The mark and the rows from one snapshot: a change after it is read later, never missed.
        tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        let mark: i64 = tx.query_one("SELECT coalesce(max(change), 0) FROM leases", &[])?.get(0);
        let rows = tx.query(&format!("SELECT {COLUMNS} FROM leases WHERE state <> '{GONE}'"), &[])?;
        sink.expect(rows.len());
        for chunk in rows.chunks(LOAD_BATCH) {
            sink.take(chunk.iter().map(|r| row(r).lease()).collect::<Result<Vec<_>, _>>()?);
        }
        tx.commit()?;
        self.mark = mark;
        Ok(())
    }

    fn commit(&mut self, now: Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
        let result = self.commit_once(now, changes);
        // Prepared again for the next try: a statement the server no longer knows fails every commit.
        if result.is_err() {
            self.prepared = None;
        }
        result
    }
}

/// What `dhcplab check --db URL` found.
pub struct Verified {
    pub leases: usize,
    pub schema: i64,
    pub servers: i64,
}

impl PgStore {
    /// Checks a shared lease database without changing it: its schema version, and every live row read as
    /// the daemon would read it.
    pub fn verify(connect: &PgConnect) -> Result<Verified, StoreError> {
        let mut client = connect.connect()?;
        let mut tx = client.build_transaction().read_only(true).start()?;
        let schema = match tx.query_opt("SELECT to_regclass('dhcplab_schema') IS NOT NULL", &[])? {
            Some(r) if r.get::<_, bool>(0) => {
                i64::from(tx.query_one("SELECT version FROM dhcplab_schema", &[])?.get::<_, i32>(0))
            }
            _ => {
                return Err(StoreError::Corrupt("no dhcplab schema here: no server has used this database yet".into()));
            }
        };
        let known = MIGRATIONS.len() as i64;
        if schema > known {
            return Err(StoreError::TooNew { found: schema, known });
        }
        let rows = tx.query(&format!("SELECT {COLUMNS} FROM leases WHERE state <> '{GONE}'"), &[])?;
        let leases = rows.iter().map(|r| row(r).lease()).collect::<Result<Vec<_>, _>>()?.len();
        let servers: i64 = tx.query_one("SELECT count(*) FROM servers", &[])?.get(0);
        tx.commit()?;
        Ok(Verified { leases, schema, servers })
    }
}

/// A second connection, for what runs beside the commits: heartbeats, the other servers' liveness, and
/// reading the changes they made.
pub struct PgPeers {
    client: Client,
    config: PgConnect,
    server: String,
    listening: bool,
}

impl PgPeers {
    pub fn open(config: PgConnect, server: &str) -> Result<Self, StoreError> {
        let client = config.connect()?;
        Ok(PgPeers { client, config, server: server.to_string(), listening: false })
    }

    fn connected(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = self.config.connect()?;
            self.listening = false;
        }
        if !self.listening {
            self.client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            self.listening = true;
        }
        Ok(&mut self.client)
    }

    /// Stamps this server's heartbeat with the database's clock, then reads every server's, sorted by
    /// name. A server is up while its heartbeat is younger than `takeover_after`.
    pub fn heartbeat(&mut self, takeover_after: Duration) -> Result<Vec<PeerStatus>, StoreError> {
        let server = self.server.clone();
        let c = self.connected()?;
        c.execute(
            "INSERT INTO servers (name, started, heartbeat) VALUES ($1, now(), now())
             ON CONFLICT (name) DO UPDATE SET heartbeat = now()",
            &[&server],
        )?;
        let rows = c.query(
            "SELECT name, (extract(epoch FROM now() - heartbeat) * 1000)::bigint FROM servers ORDER BY name",
            &[],
        )?;
        let limit = i64::try_from(takeover_after.as_millis()).unwrap_or(i64::MAX);
        Ok(rows
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                let age: i64 = r.get(1);
                PeerStatus {
                    this: name == server,
                    up: age < limit || name == server,
                    heartbeat_age_ms: u64::try_from(age).unwrap_or(0),
                    share: None,
                    name,
                }
            })
            .collect())
    }

    /// The changes after `mark` by other servers, in order, at most [`SYNC_BATCH`] rows' worth.
    pub fn changes_since(&mut self, mark: i64) -> Result<PeerChanges, StoreError> {
        let server = self.server.clone();
        let rows = self.connected()?.query(
            &format!("SELECT {COLUMNS}, change FROM leases WHERE change > $1 ORDER BY change LIMIT $2"),
            &[&mark, &SYNC_BATCH],
        )?;
        let mut out = Vec::new();
        let mut last = mark;
        for r in &rows {
            last = last.max(r.get::<_, i64>(CHANGE_COLUMN));
            if r.get::<_, String>(10) == server {
                continue;
            }
            let gone = r.get::<_, String>(6) == GONE;
            let mut fields = row(r);
            if gone {
                // The removal: the engine needs only the address.
                fields.state = "expired";
                let lease = fields.lease()?;
                out.push(Change::remove(&lease));
            } else {
                out.push(Change::Put(fields.lease()?));
            }
        }
        let more = rows.len() as i64 == SYNC_BATCH;
        Ok(PeerChanges { changes: out, through: last, more })
    }

    /// Waits up to `timeout` for another server's notification; true if one came.
    pub fn wait(&mut self, timeout: std::time::Duration) -> Result<bool, StoreError> {
        let mut n = self.connected()?.notifications();
        let got = n.timeout_iter(timeout).next()?.is_some();
        // Several notifications count as one: the next read takes every change anyway.
        while n.iter().next()?.is_some() {}
        Ok(got)
    }
}
