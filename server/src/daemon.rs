//! The running daemon's core: one task owns the engine's `Server` and is the only one that touches it.
//! Packets arrive from the links' receive tasks through a bounded queue (overflow is dropped and counted,
//! never buffered without limit); API calls arrive as commands with a reply channel. Replies that announce
//! a lease (ACKs) go out only after the store task has committed the batch's changes; OFFERs and NAKs
//! change nothing durable and go out at once.

use crate::link::{Link, LinkSender};
use crate::store::{Change, LeaseStore};
use dhcplab_engine::config::{ConfigError, Reservation, ServerConfig};
use dhcplab_engine::event::{Direction, PacketSeen, PacketSummary};
use dhcplab_engine::server::{PinError, RecvMeta, ServerMessage, SubnetUsage, Transmit};
use dhcplab_engine::stats::Stats;
use dhcplab_engine::{Instant, Lease, LeaseEvent, LeaseEventKind, LeaseState, Server};
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info, warn};

/// How many packets the engine reads before it flushes (one store job per batch at most).
const BATCH: usize = 256;
/// Batches waiting for the store. When it is full the engine waits, the sockets' kernel buffers fill, and
/// the kernel drops (and counts) what does not fit: memory stays bounded under overload.
const STORE_QUEUE: usize = 64;

/// The daemon's clock: monotonic, expressed as Unix milliseconds so stored times mean the same after a
/// restart.
#[derive(Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
    start_unix_ms: u64,
}

impl Clock {
    pub fn new() -> Self {
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Clock { start: tokio::time::Instant::now(), start_unix_ms: u64::try_from(unix.as_millis()).unwrap_or(0) }
    }

    pub fn now(&self) -> Instant {
        Instant::from_millis(self.start_unix_ms + u64::try_from(self.start.elapsed().as_millis()).unwrap_or(0))
    }

    /// The tokio instant at which engine time `t` falls.
    pub fn at(&self, t: Instant) -> tokio::time::Instant {
        self.start + std::time::Duration::from_millis(t.as_millis().saturating_sub(self.start_unix_ms))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Counters kept outside the engine.
#[derive(Default)]
pub struct Counters {
    pub store_commits: AtomicU64,
    pub store_failures: AtomicU64,
    /// ACKs withheld because their lease could not be stored.
    pub acks_withheld: AtomicU64,
}

/// Which leases an API call wants.
#[derive(Debug, Clone, Default)]
pub struct LeaseQuery {
    pub state: Option<LeaseState>,
    pub subnet: Option<ipnet::Ipv4Net>,
    /// Matches IP, MAC or hostname (case-insensitive substring).
    pub q: Option<String>,
}

impl LeaseQuery {
    fn matches(&self, l: &Lease) -> bool {
        self.state.is_none_or(|s| s == l.state)
            && self.subnet.is_none_or(|n| n == l.subnet)
            && self.q.as_ref().is_none_or(|q| {
                let q = q.to_lowercase();
                l.ip.to_string().contains(&q)
                    || l.hw.to_string().contains(&q)
                    || l.hostname.as_ref().is_some_and(|h| h.to_lowercase().contains(&q))
            })
    }
}

/// Everything the stats endpoint and /metrics report.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonStats {
    pub engine: Stats,
    pub leases: usize,
    pub bound: usize,
    /// Datagrams the kernel dropped because a link's receive buffer was full (overload).
    pub queue_overflow: u64,
    pub store_commits: u64,
    pub store_failures: u64,
    pub acks_withheld: u64,
    pub subnets: Vec<SubnetUsage>,
}

/// A reservation as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReservationView {
    pub subnet: ipnet::Ipv4Net,
    #[serde(flatten)]
    pub reservation: Reservation,
}

/// What watchers (the WebSocket bridge) are told, one message per change, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update<'a> {
    Snapshot {
        seq: u64,
        leases: &'a [Lease],
        subnets: &'a [SubnetUsage],
        stats: &'a DaemonStats,
        /// Addresses reserved in the running config.
        reserved: &'a [Ipv4Addr],
    },
    /// The running config changed (a reload or a new reservation).
    Config {
        seq: u64,
        reserved: &'a [Ipv4Addr],
    },
    Lease {
        seq: u64,
        event: &'a LeaseEvent,
    },
    Packet {
        seq: u64,
        packet: &'a PacketSeen,
    },
    Stats {
        seq: u64,
        stats: &'a DaemonStats,
    },
}

/// The lease table and counters at one moment (one sequence number).
pub struct Snapshot {
    pub seq: u64,
    pub leases: Vec<Lease>,
    pub stats: DaemonStats,
    pub reserved: Vec<Ipv4Addr>,
}

impl Snapshot {
    pub fn to_json(&self) -> String {
        let msg = Update::Snapshot {
            seq: self.seq,
            leases: &self.leases,
            subnets: &self.stats.subnets,
            stats: &self.stats,
            reserved: &self.reserved,
        };
        serde_json::to_string(&msg).unwrap_or_default()
    }
}

/// An update already serialized (once, however many watchers there are), with its sequence number.
#[derive(Debug, Clone)]
pub struct Published {
    pub seq: u64,
    /// Shared, not copied, by every watcher that sends it.
    pub json: axum::extract::ws::Utf8Bytes,
}

pub enum Command {
    Leases(LeaseQuery, oneshot::Sender<Vec<Lease>>),
    Lease(Ipv4Addr, oneshot::Sender<Option<Lease>>),
    Release(Ipv4Addr, oneshot::Sender<Option<LeaseEvent>>),
    Stats(oneshot::Sender<DaemonStats>),
    /// Everything a new watcher needs, with the sequence number of the last update before it. A copy, not
    /// JSON: the watcher's side serializes it, off the engine's thread.
    Snapshot(oneshot::Sender<Snapshot>),
    Reconfigure(Box<ServerConfig>, oneshot::Sender<Result<(), Vec<ConfigError>>>),
    /// The reservation that would pin the lease at this address to its client (checked, not applied).
    Pin(Ipv4Addr, oneshot::Sender<Result<Reservation, PinError>>),
    /// Every reservation in the running config, with its subnet.
    Reservations(oneshot::Sender<Vec<ReservationView>>),
    /// Adds a reservation to the running config only (the demo, which has no file).
    AddReservation(Reservation, oneshot::Sender<Result<(), String>>),
}

/// A batch whose lease changes must be durable before its replies leave.
struct StoreJob {
    changes: Vec<Change>,
    replies: Vec<Transmit>,
}

pub struct Engine {
    server: Server,
    links: Arc<Vec<Link>>,
    clock: Clock,
    counters: Arc<Counters>,
    store_tx: mpsc::Sender<StoreJob>,
    updates: broadcast::Sender<Published>,
    /// The sequence number of the last update published.
    seq: u64,
}

fn names(links: &[Link], id: u32) -> &str {
    links.get(id as usize).map_or("?", |l| l.name.as_str())
}

impl Engine {
    /// Starts the store task and returns the engine, ready to `run`.
    pub fn new(
        server: Server,
        links: Arc<Vec<Link>>,
        store: Box<dyn LeaseStore>,
        clock: Clock,
        counters: Arc<Counters>,
        updates: broadcast::Sender<Published>,
    ) -> Self {
        let (store_tx, store_rx) = mpsc::channel(STORE_QUEUE);
        let senders: Vec<Option<LinkSender>> = links
            .iter()
            .map(|l| l.sender().inspect_err(|e| error!(link = %l.name, "no sender for the store: {e}")).ok())
            .collect();
        let c = counters.clone();
        std::thread::Builder::new()
            .name("lease-store".into())
            .spawn(move || store_thread(store, store_rx, senders, c))
            .expect("spawning the lease store thread");
        Engine { server, links, clock, counters, store_tx, updates, seq: 0 }
    }

    /// Whether anyone is watching (updates cost nothing otherwise).
    fn watched(&self) -> bool {
        self.updates.receiver_count() > 0
    }

    fn publish(&mut self, make: impl FnOnce(u64) -> Option<String>) {
        let seq = self.seq + 1;
        if let Some(json) = make(seq) {
            self.seq = seq;
            let _ = self.updates.send(Published { seq, json: json.into() });
        }
    }

    fn config_changed(&mut self) {
        if self.watched() {
            let reserved: Vec<Ipv4Addr> = self.server.reserved().collect();
            self.publish(|seq| serde_json::to_string(&Update::Config { seq, reserved: &reserved }).ok());
        }
    }

    fn daemon_stats(&self) -> DaemonStats {
        let c = &self.counters;
        DaemonStats {
            engine: self.server.stats().clone(),
            leases: self.server.leases().count(),
            bound: self.server.leases().filter(|l| l.state == LeaseState::Bound).count(),
            queue_overflow: self.links.iter().map(Link::kernel_drops).sum(),
            store_commits: c.store_commits.load(Ordering::Relaxed),
            store_failures: c.store_failures.load(Ordering::Relaxed),
            acks_withheld: c.acks_withheld.load(Ordering::Relaxed),
            subnets: self.server.subnet_usage(),
        }
    }

    fn packet_seen(&mut self, dir: Direction, link: u32, src: SocketAddrV4, dst: SocketAddrV4, bytes: &[u8]) {
        // What the engine would drop is counted there; the live view shows what it could read.
        let Some(summary) = PacketSummary::from_bytes(bytes) else { return };
        let packet = PacketSeen {
            dir,
            link: names(&self.links, link).to_string(),
            at: self.clock.now(),
            src,
            dst,
            summary,
            payload: bytes.to_vec(),
        };
        self.publish(|seq| serde_json::to_string(&Update::Packet { seq, packet: &packet }).ok());
    }

    /// Reads every link, serves commands and timers, until the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; 65_536];
        // One timer, moved only when the engine's next deadline changes (not re-armed per packet).
        let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
        let timer = tokio::time::sleep_until(far());
        tokio::pin!(timer);
        let mut armed: Option<tokio::time::Instant> = None;
        let mut stats_tick = tokio::time::interval(std::time::Duration::from_secs(1));
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let deadline = self.server.poll_timeout().map(|t| self.clock.at(t));
            if deadline != armed {
                timer.as_mut().reset(deadline.unwrap_or_else(far));
                armed = deadline;
            }
            let readable = async {
                if self.links.is_empty() {
                    std::future::pending::<()>().await;
                }
                let _ =
                    futures_util::future::select_all(self.links.iter().map(|l| Box::pin(l.socket.readable()))).await;
            };
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                _ = readable => self.read_batch(&mut buf),
                _ = &mut timer => {
                    self.server.handle_timeout(self.clock.now());
                    armed = None;
                }
                _ = stats_tick.tick() => {
                    // Expiries are published as they happen; counters once a second, to watchers only.
                    self.server.handle_timeout(self.clock.now());
                    if self.watched() {
                        let stats = self.daemon_stats();
                        self.publish(|seq| serde_json::to_string(&Update::Stats { seq, stats: &stats }).ok());
                    }
                }
            }
            self.flush().await;
        }
    }

    /// Takes up to `BATCH` datagrams from the links without waiting.
    fn read_batch(&mut self, buf: &mut [u8]) {
        let links = self.links.clone();
        let mut n = 0;
        for link in links.iter() {
            while n < BATCH {
                match link.socket.try_recv_from(buf) {
                    Ok((len, SocketAddr::V4(src))) => {
                        n += 1;
                        let meta = RecvMeta { iface: link.id, local_addr: link.addr, src };
                        if self.watched() {
                            let dst = SocketAddrV4::new(link.addr, 67);
                            self.packet_seen(Direction::In, link.id, src, dst, &buf[..len]);
                        }
                        if let Err(d) = self.server.handle_packet(self.clock.now(), meta, &buf[..len]) {
                            debug!(link = %link.name, %src, "dropped packet: {d}");
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        warn!(link = %link.name, "receive failed: {e}");
                        break;
                    }
                }
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = self.clock.now();
        self.server.handle_timeout(now);
        match cmd {
            Command::Leases(q, tx) => {
                let mut v: Vec<Lease> = self.server.leases().filter(|l| q.matches(l)).cloned().collect();
                v.sort_by_key(|l| l.ip);
                let _ = tx.send(v);
            }
            Command::Lease(ip, tx) => {
                let _ = tx.send(self.server.lease(ip).cloned());
            }
            Command::Release(ip, tx) => {
                let _ = tx.send(self.server.admin_release(now, ip));
            }
            Command::Stats(tx) => {
                let _ = tx.send(self.daemon_stats());
            }
            Command::Snapshot(tx) => {
                let mut leases: Vec<Lease> = self.server.leases().cloned().collect();
                leases.sort_by_key(|l| l.ip);
                let reserved = self.server.reserved().collect();
                let _ = tx.send(Snapshot { seq: self.seq, leases, stats: self.daemon_stats(), reserved });
            }
            Command::Reconfigure(cfg, tx) => {
                let r = self.server.reconfigure(*cfg);
                match &r {
                    Ok(()) => {
                        info!("configuration reloaded; {} leases kept", self.server.leases().count());
                        self.config_changed();
                    }
                    Err(e) => warn!("new configuration refused ({} problems); the old one keeps serving", e.len()),
                }
                let _ = tx.send(r);
            }
            Command::Reservations(tx) => {
                let v = self
                    .server
                    .config()
                    .subnets
                    .iter()
                    .flat_map(|s| {
                        s.reservations.iter().map(|r| ReservationView { subnet: s.cidr, reservation: r.clone() })
                    })
                    .collect();
                let _ = tx.send(v);
            }
            Command::Pin(ip, tx) => {
                let _ = tx.send(self.server.reservation_from_lease(ip));
            }
            Command::AddReservation(r, tx) => {
                let ip = r.ip;
                let result = self.server.config().with_reservation(r).map_err(|e| e.to_string()).and_then(|cfg| {
                    self.server
                        .reconfigure(cfg)
                        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
                });
                if result.is_ok() {
                    info!("{ip} is now reserved (running config only)");
                    self.config_changed();
                }
                let _ = tx.send(result);
            }
        }
    }

    /// Sends what can go now, hands the rest to the store with the batch's lease changes.
    async fn flush(&mut self) {
        let mut now_out = Vec::new();
        let mut durable = Vec::new();
        let watched = self.watched();
        while let Some(t) = self.server.poll_transmit() {
            debug!(link = %names(&self.links, t.iface), xid = format_args!("{:#010x}", t.xid), dst = ?t.dst, "send {:?}", t.kind);
            if watched {
                let src = SocketAddrV4::new(t.src, 67);
                self.packet_seen(Direction::Out, t.iface, src, t.dst.socket_addr(), &t.bytes);
            }
            if t.kind == ServerMessage::Ack { durable.push(t) } else { now_out.push(t) }
        }
        let mut changes = Vec::new();
        while let Some(ev) = self.server.poll_event() {
            log_event(&ev);
            if ev.kind != LeaseEventKind::Offered && ev.kind != LeaseEventKind::Nak {
                match self.server.lease(ev.ip) {
                    Some(l) if l.state == LeaseState::Offered => {}
                    Some(l) => changes.push(Change::Upsert(l.clone())),
                    None => changes.push(Change::Delete(ev.ip)),
                }
            }
            if watched {
                self.publish(|seq| serde_json::to_string(&Update::Lease { seq, event: &ev }).ok());
            }
        }
        for t in &now_out {
            if let Some(link) = self.links.get(t.iface as usize)
                && let Err(e) = link.send(t).await
            {
                warn!(link = %link.name, "send failed: {e}");
            }
        }
        if !changes.is_empty() || !durable.is_empty() {
            // A full store queue slows the engine down instead of growing memory.
            if self.store_tx.send(StoreJob { changes, replies: durable }).await.is_err() {
                error!("lease store task has stopped");
            }
        }
    }
}

fn log_event(ev: &LeaseEvent) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    // Client-sent strings are shown escaped: a hostname may hold any bytes.
    let host = ev.hostname.as_deref().map(|h| format!(" ({h:?})")).unwrap_or_default();
    let (ip, hw, subnet) = (ev.ip, ev.hw, ev.subnet);
    match ev.kind {
        LeaseEventKind::Bound => {
            info!("DHCPACK {ip} to {hw}{host} in {subnet}, lease {}s", (ev.expires - ev.obtained).as_secs())
        }
        LeaseEventKind::Renewed => {
            info!("DHCPACK renewed {ip} for {hw}{host} until +{}s", (ev.expires - ev.obtained).as_secs())
        }
        LeaseEventKind::Released => info!("released {ip} by {hw}{host}"),
        LeaseEventKind::Declined => warn!("DHCPDECLINE {ip} by {hw}{host}: address in use; quarantined"),
        LeaseEventKind::Expired => info!("expired {ip} of {hw}{host}"),
        LeaseEventKind::Nak => info!("DHCPNAK to {hw}{host} for {ip}: {}", ev.reason.as_deref().unwrap_or("")),
        LeaseEventKind::OfferWithdrawn => info!("offer of {ip} to {hw} withdrawn: client chose another server"),
        LeaseEventKind::Reclaimed => info!("{ip} back in the pool after probation"),
        LeaseEventKind::Offered => debug!("DHCPOFFER {ip} to {hw}{host}"),
        LeaseEventKind::OfferExpired => debug!("offer of {ip} to {hw} expired"),
    }
}

/// Group commit, on its own thread: takes every batch waiting, commits all their changes in one
/// transaction (one fsync), then sends their ACKs itself. If the commit fails the ACKs are not sent — the
/// client will ask again.
fn store_thread(
    mut store: Box<dyn LeaseStore>,
    mut rx: mpsc::Receiver<StoreJob>,
    senders: Vec<Option<LinkSender>>,
    counters: Arc<Counters>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while let Ok(j) = rx.try_recv() {
            jobs.push(j);
        }
        let changes: Vec<Change> = jobs.iter().flat_map(|j| j.changes.iter().cloned()).collect();
        if !changes.is_empty() {
            if let Err(e) = store.commit(&changes) {
                error!("could not store leases, withholding their ACKs: {e}");
                counters.store_failures.fetch_add(1, Ordering::Relaxed);
                let n: usize = jobs.iter().map(|j| j.replies.len()).sum();
                counters.acks_withheld.fetch_add(n as u64, Ordering::Relaxed);
                continue;
            }
            counters.store_commits.fetch_add(1, Ordering::Relaxed);
        }
        for t in jobs.iter().flat_map(|j| j.replies.iter()) {
            if let Some(Some(sender)) = senders.get(t.iface as usize)
                && let Err(e) = sender.send(t)
            {
                warn!("send failed: {e}");
            }
        }
    }
}
