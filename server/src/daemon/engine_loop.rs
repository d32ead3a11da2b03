//! The engine's loop, on a thread and runtime of its own: it alone owns the `Server`. Each turn it takes
//! one of: API commands, a batch of datagrams read straight from the links' sockets, the engine's next
//! deadline, or the once-a-second stats tick; then it flushes. OFFERs and NAKs leave at once; ACKs go to the
//! committer with the batch's lease changes and leave only after those are durable.

use super::clock::Clock;
use super::command::Command;
use super::committer::{self, CommitWindow, Counters, Outlets, STORE_QUEUE, StoreJob};
use super::lease_log;
use super::timer::FdTimer;
use crate::bridge::publisher::Publisher;
use crate::link::{Link, LinkSender};
use crate::pinger::Pinger;
use crate::store::{Change, LeaseStore};
use dhcplab_engine::bridge::{DaemonStats, PeerStatus, Update};
use dhcplab_engine::ddns::DnsChange;
use dhcplab_engine::event::{Direction, LeaseChange, PacketSeen, PacketSummary};
use dhcplab_engine::message::{DhcpMessage, SERVER_PORT};
use dhcplab_engine::server::RecvMeta;
use dhcplab_engine::{LeaseEventKind, LeaseState, Server};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// How many packets the engine reads before it flushes (one store job per batch at most).
const BATCH: usize = 256;

pub struct Engine {
    pub(super) server: Server,
    links: Arc<Vec<Link>>,
    pub(super) clock: Clock,
    counters: Arc<Counters>,
    store_tx: std::sync::mpsc::SyncSender<StoreJob>,
    pub(super) bridge: Publisher,
    /// Datagrams the kernel dropped on the links, as last read (once a second).
    kernel_drops: u64,
    /// The number of the last store job sent.
    batch: u64,
    /// The addresses each store job not yet known to be durable changed, oldest first: while the store
    /// is down these are not renewed (their records in the table may be ahead of the store).
    in_flight: std::collections::VecDeque<(u64, Vec<Ipv4Addr>)>,
    /// The servers sharing the lease database, as last heard (this one alone on SQLite).
    pub(super) peers: Vec<PeerStatus>,
    /// When the packets being answered were read (for the exchange-latency histograms).
    batch_read: Option<std::time::Instant>,
    /// The ICMP socket for conflict probing, opened once the config asks for it.
    pinger: Option<Arc<Pinger>>,
    /// Where DNS changes go (to the `ddns` updater), when dynamic DNS is configured.
    dns: Option<mpsc::Sender<DnsChange>>,
}

fn names(links: &[Link], id: u32) -> &str {
    links.get(id as usize).map_or("?", |l| l.name.as_str())
}

impl Engine {
    /// Starts the committer's thread and returns the engine, ready to `run`.
    pub fn new(
        server: Server,
        links: Arc<Vec<Link>>,
        store: (Box<dyn LeaseStore>, CommitWindow),
        clock: Clock,
        counters: Arc<Counters>,
        bridge: Publisher,
        feedback: mpsc::Sender<Command>,
    ) -> std::io::Result<Self> {
        let (store, window) = store;
        let (store_tx, store_rx) = std::sync::mpsc::sync_channel(STORE_QUEUE);
        let senders: Vec<Option<LinkSender>> = links
            .iter()
            .map(|l| l.sender().inspect_err(|e| error!(link = %l.name, "no sender for the store: {e}")).ok())
            .collect();
        let c = counters.clone();
        std::thread::Builder::new().name("lease-store".into()).spawn(move || {
            committer::run(store, store_rx, Outlets { senders, engine: Some(feedback) }, c, clock, window)
        })?;
        Ok(Engine {
            server,
            links,
            clock,
            counters,
            store_tx,
            bridge,
            kernel_drops: 0,
            batch: 0,
            in_flight: Default::default(),
            peers: vec![],
            batch_read: None,
            pinger: None,
            dns: None,
        })
    }

    /// The servers sharing the lease database as known at start (this one alone on SQLite).
    pub fn with_peers(mut self, peers: Vec<PeerStatus>) -> Self {
        self.peers = peers;
        self
    }

    /// Sends the lease's DNS changes to the dynamic DNS updater.
    pub fn with_dns(mut self, updater: mpsc::Sender<DnsChange>) -> Self {
        self.dns = Some(updater);
        self
    }

    pub(super) fn config_changed(&mut self) {
        self.open_pinger();
        if self.bridge.watched() {
            let reserved: Vec<Ipv4Addr> = self.server.reserved().collect();
            self.bridge.publish(|seq| Update::Config { seq, reserved });
        }
    }

    /// Opens the ICMP socket when the config probes for conflicts and none is open. Without one, OFFERs
    /// still wait for `conflict_probe` (nothing can answer), and the log says why.
    fn open_pinger(&mut self) {
        if self.pinger.is_some() || self.server.config().policy.conflict_probe.is_none() {
            return;
        }
        match Pinger::open() {
            Ok(p) => self.pinger = Some(Arc::new(p)),
            Err(e) => error!("{e}"),
        }
    }

    pub(super) fn daemon_stats(&self) -> DaemonStats {
        let c = &self.counters;
        DaemonStats {
            engine: self.server.stats().clone(),
            leases: self.server.lease_count(),
            bound: self.server.bound_count(),
            by_state: self.server.state_counts(),
            queue_overflow: self.kernel_drops,
            store_commits: c.store_commits.load(Ordering::Relaxed),
            store_failures: c.store_failures.load(Ordering::Relaxed),
            acks_withheld: c.acks_withheld.load(Ordering::Relaxed),
            store_conflicts: c.store_conflicts.load(Ordering::Relaxed),
            store_pending: c.store_pending.load(Ordering::Relaxed),
            dns_updated: c.dns.updated.load(Ordering::Relaxed),
            dns_conflicts: c.dns.conflicts.load(Ordering::Relaxed),
            dns_failed: c.dns.failed.load(Ordering::Relaxed),
            subnets: self.server.subnet_usage(),
        }
    }

    pub(super) fn packet_seen(
        &mut self,
        dir: Direction,
        link: u32,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        bytes: &[u8],
    ) {
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
        self.bridge.publish(|seq| Update::Packet { seq, packet: Box::new(packet) });
    }

    /// Reads every link, serves commands and timers, until the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut buf = vec![0u8; 65_536];
        // Timerfds, not tokio timers (see `timer`): one moved only when the engine's next deadline changes,
        // one for the once-a-second stats.
        let (timer, stats_tick) = match (FdTimer::new(), FdTimer::new()) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(e), _) | (_, Err(e)) => {
                error!("the engine cannot make its timers: {e}");
                return;
            }
        };
        if let Err(e) = stats_tick.every(std::time::Duration::from_secs(1)) {
            error!("the stats timer: {e}");
        }
        self.open_pinger();
        let mut armed: Option<dhcplab_engine::Instant> = None;
        loop {
            let deadline = self.server.poll_timeout();
            if deadline != armed {
                let after = deadline.map(|t| self.clock.at(t).saturating_duration_since(tokio::time::Instant::now()));
                if let Err(e) = timer.once(after) {
                    error!("the engine's timer: {e}");
                }
                armed = deadline;
            }
            let readable = async {
                if self.links.is_empty() {
                    std::future::pending::<()>().await;
                }
                let _ =
                    futures_util::future::select_all(self.links.iter().map(|l| Box::pin(l.socket.readable()))).await;
            };
            let pinger = self.pinger.clone();
            let echoed = async {
                match &pinger {
                    Some(p) => p.readable().await,
                    None => std::future::pending().await,
                }
            };
            // No `biased`: when packets, API commands and timers are all ready, each gets its turn at random,
            // so a flood of API calls cannot hold the packets back (nor a packet flood the health check).
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                _ = readable => self.read_batch(&mut buf),
                _ = echoed => {
                    let now = self.clock.now();
                    for ip in pinger.as_ref().map(|p| p.replies()).unwrap_or_default() {
                        self.server.handle_ping_reply(now, ip);
                    }
                }
                _ = timer.fired() => {
                    self.server.handle_timeout(self.clock.now());
                    armed = None;
                }
                _ = stats_tick.fired() => {
                    // Expiries are published as they happen; counters once a second, to watchers only.
                    self.server.handle_timeout(self.clock.now());
                    // Read from /proc once a second here, not on every /metrics scrape.
                    self.kernel_drops = self.links.iter().map(Link::kernel_drops).sum();
                    if self.bridge.watched() {
                        let stats = self.daemon_stats();
                        self.bridge.publish(|seq| Update::Stats { seq, stats });
                    }
                }
            }
            self.flush().await;
        }
    }

    /// Takes up to `BATCH` datagrams without waiting, one from each link in turn: a flooded link gets its
    /// share of the batch and no more, and never starves the others.
    fn read_batch(&mut self, buf: &mut [u8]) {
        self.batch_read = Some(std::time::Instant::now());
        let links = self.links.clone();
        let mut pending = vec![true; links.len()];
        let mut n = 0;
        while n < BATCH && pending.contains(&true) {
            for (link, more) in links.iter().zip(pending.iter_mut()).filter(|(_, more)| **more) {
                if n == BATCH {
                    break;
                }
                match link.socket.try_recv_from(buf) {
                    Ok((len, SocketAddr::V4(src))) => {
                        n += 1;
                        self.receive(link, src, &buf[..len]);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if e.kind() != std::io::ErrorKind::WouldBlock {
                            warn!(link = %link.name, "receive failed: {e}");
                        }
                        *more = false;
                    }
                }
            }
        }
    }

    /// One datagram from a link: shown to watchers, handed to the engine.
    fn receive(&mut self, link: &Link, src: SocketAddrV4, bytes: &[u8]) {
        let meta = RecvMeta { iface: link.id, local_addr: link.addr, src };
        if self.bridge.watched() {
            let dst = SocketAddrV4::new(link.addr, SERVER_PORT);
            self.packet_seen(Direction::In, link.id, src, dst, bytes);
        }
        if let Err(d) = self.server.handle_packet(self.clock.now(), meta, bytes) {
            debug!(link = %link.name, %src, "dropped packet: {d}");
        }
    }

    /// Sends what can go now, hands the rest to the store with the batch's lease changes.
    async fn flush(&mut self) {
        while let Some(p) = self.server.poll_ping() {
            if let Some(pinger) = &self.pinger
                && let Err(e) = pinger.send(p.ip)
            {
                debug!("ping {}: {e}", p.ip);
            }
        }
        // DNS never holds an ACK: changes are queued for the updater, and counted as failed if it is swamped.
        while let Some(c) = self.server.poll_dns() {
            if let Some(tx) = &self.dns
                && tx.try_send(c).is_err()
            {
                self.counters.dns.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut now_out = Vec::new();
        let mut durable = Vec::new();
        let watched = self.bridge.watched();
        while let Some(t) = self.server.poll_transmit() {
            debug!(link = %names(&self.links, t.iface), xid = format_args!("{:#010x}", t.xid), dst = ?t.dst, "send {:?}", t.kind);
            if watched {
                let src = SocketAddrV4::new(t.src, SERVER_PORT);
                self.packet_seen(Direction::Out, t.iface, src, t.dst.socket_addr(), &t.bytes);
            }
            if t.kind == DhcpMessage::Ack && t.needs_store { durable.push(t) } else { now_out.push(t) }
        }
        let mut changes = Vec::new();
        while let Some(ev) = self.server.poll_event() {
            lease_log::log_event(&ev, ev.exchange.map(|x| names(&self.links, x.iface)));
            // The engine's table is the truth; the event says whether this address's durable record changed.
            // Offers are never stored: a restart forgets them, and the client asks again.
            // A synced record came from the shared store: nothing to write back.
            match (ev.change(), self.server.lease(ev.ip)) {
                _ if ev.kind == LeaseEventKind::Synced => {}
                (LeaseChange::Keep | LeaseChange::Set(LeaseState::Offered), _) => {}
                (_, Some(l)) if l.state == LeaseState::Offered => {}
                (_, Some(l)) => changes.push(Change::Put(l.clone())),
                (_, None) => changes.push(Change::Remove { ip: ev.ip, hw: ev.hw, expires: ev.expires }),
            }
            if watched {
                self.bridge.publish(|seq| Update::Lease { seq, event: ev });
            }
        }
        for t in &now_out {
            if let Some(link) = self.links.get(t.iface as usize)
                && let Err(e) = link.send(t).await
            {
                warn!(link = %link.name, "send failed: {e}");
            }
        }
        let read = self.batch_read.take();
        if let Some(read) = read {
            let waited = read.elapsed();
            let offers = now_out.iter().filter(|t| t.kind == DhcpMessage::Offer).count();
            (0..offers).for_each(|_| self.counters.offer_seconds.observe(waited));
        }
        if !changes.is_empty() || !durable.is_empty() {
            self.batch += 1;
            self.in_flight.push_back((self.batch, changes.iter().map(|c| c.ip()).collect()));
            // A full store queue blocks the engine's thread (its runtime serves nothing else): the engine
            // slows down instead of memory growing.
            if self.store_tx.send(StoreJob { batch: self.batch, received: read, changes, replies: durable }).is_err() {
                error!("the lease store's thread has stopped");
            }
        }
        self.follow_store();
    }

    /// Tells the engine when the store goes down or comes back, and which addresses' records it may not
    /// have: those of every job since the last durable one.
    fn follow_store(&mut self) {
        let durable = self.counters.durable_through.load(Ordering::Acquire);
        while self.in_flight.front().is_some_and(|(b, _)| *b <= durable) {
            self.in_flight.pop_front();
        }
        let failing =
            self.counters.store_failing.load(Ordering::Acquire) || self.counters.store_stopped.load(Ordering::Acquire);
        if failing && !self.server.is_store_down() {
            let unconfirmed = self.in_flight.iter().flat_map(|(_, ips)| ips.iter().copied()).collect();
            warn!("the lease store is down: renewing stored leases only, no new ones");
            self.server.set_store_down(Some(unconfirmed));
        } else if !failing && self.server.is_store_down() {
            info!("the lease store is back: serving new leases again");
            self.server.set_store_down(None);
        }
    }
}
