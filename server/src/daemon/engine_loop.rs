//! The engine's loop, on a thread of its own and with no async runtime: it owns the `Server` (sharing it,
//! under a lock, only with its packet threads when `threads` is above one, see `packet_thread`). It waits
//! in `epoll` for API commands, datagrams on the links' sockets, the engine's next deadline and the
//! once-a-second stats tick; each turn serves whichever are ready (a bounded share of commands, a batch of
//! datagrams read straight from the sockets), then flushes. OFFERs and NAKs leave at once; ACKs wait with
//! the batch's lease changes and leave only after those are durable. With one packet thread and a store on
//! the local disk the engine thread commits them itself ([`InlineCommits`]), handing them to the
//! committer's thread while the disk stalls; otherwise the committer's thread does. While its queue is full
//! the engine reads no packets, but it still answers the API and keeps its timers.

use super::clock::Clock;
use super::command::{CommandReceiver, CommandSender};
use super::commits::{Commits, SLOW};
use super::committer::{self, CommitWindow, Counters, JobItems, StoreJob};
use super::inline_commit::{self, InlineCommits};
use super::lease_log;
use super::packet_path::PacketPath;
use super::packet_thread::PacketThreads;
use super::poller::{Poller, Source};
use super::timer::FdTimer;
use crate::batched_stderr::Batch;
use crate::bridge::publisher::Publisher;
use crate::link::Link;
use crate::pinger::Pinger;
use crate::recv_slots::MAX_SLOTS;
use crate::store::{Change, LeaseStore};
use dhcplab_engine::bridge::{DaemonStats, PeerStatus, Update};
use dhcplab_engine::ddns::DnsChange;
use dhcplab_engine::event::{Direction, LeaseChange, PacketSeen, PacketSummary};
use dhcplab_engine::message::{DhcpMessage, SERVER_PORT};
use dhcplab_engine::packet::chaddr;
use dhcplab_engine::server::RecvMeta;
use dhcplab_engine::{LeaseEventKind, LeaseState, Server};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// How many datagrams the engine thread reads in one turn before it looks at its commands and timers again.
const BATCH: usize = 256;
/// Changes and ACKs a held store job may gather (see `hand_to_store`) before the engine stops reading
/// packets. A store that falls behind by one slow commit (a PostgreSQL commit of tens of milliseconds, at
/// thousands of REQUESTs a second) fills the queue's jobs long before it holds much: reading on, the
/// OFFERs still leave and the ACKs wait for the commit, where a pause lost packets in the kernel.
const HELD_MAX: usize = 4096;

/// Changes not yet durable beyond which the store is behind: no record ends until it catches up (see
/// `Server::set_expiry_held`). Two slices of ending records; DHCP alone keeps a few dozen in flight.
const STORE_BEHIND: usize = 2 * dhcplab_engine::server::EXPIRY_SLICE;

/// DNS changes kept for the updater while its queue is full, beyond which they are counted as failed and
/// dropped (a DNS server that has stopped answering must not grow the daemon without bound). While any
/// wait here and the updater is not failing, no record ends: leases end at the DNS server's pace, so a
/// million ending together each have their names removed.
const DNS_BACKLOG: usize = 65_536;
/// How soon the engine looks again for room in the updater's queue while changes wait for it.
const DNS_RETRY: std::time::Duration = std::time::Duration::from_millis(5);

/// How many API commands the engine serves in one turn before it looks at its packets again.
const COMMANDS_PER_TURN: usize = 32;

/// Which of the loop's sources were ready.
#[derive(Default)]
struct Ready {
    commands: bool,
    timer: bool,
    stats: bool,
    pinger: bool,
    commit: bool,
    links: bool,
}

pub struct Engine {
    pub(super) server: Server,
    links: Arc<Vec<Link>>,
    pub(super) clock: Clock,
    counters: Arc<Counters>,
    /// Where the batches' jobs go to be committed.
    store: StorePath,
    pub(super) bridge: Publisher,
    /// Datagrams the kernel dropped on the links, as last read (once a second).
    kernel_drops: u64,
    /// The number of the last store job sent.
    batch: u64,
    /// A store job that found the committer's queue full, with the jobs made since merged into it: once it
    /// holds `HELD_MAX` changes the engine reads no packets (see `STORE_QUEUE`).
    held: Option<StoreJob>,
    /// How many changes and replies the held job may gather before the links are paused: `HELD_MAX`.
    held_max: usize,
    /// The addresses changed by store jobs not yet known to be durable, each with its job's number, oldest
    /// first: while the store is down these are not renewed (their records in the table may be ahead of
    /// the store). One entry per address, not a list per job: a job costs no allocation here.
    in_flight: std::collections::VecDeque<(u64, Ipv4Addr)>,
    /// The servers sharing the lease database, as last heard (this one alone on SQLite).
    pub(super) peers: Vec<PeerStatus>,
    /// When the packets being answered were read (for the exchange-latency histograms).
    batch_read: Option<std::time::Instant>,
    /// The ICMP socket for conflict probing, opened once the config asks for it.
    pinger: Option<Arc<Pinger>>,
    /// Where DNS changes go (to the `ddns` updater), when dynamic DNS is configured.
    dns: Option<mpsc::Sender<DnsChange>>,
    /// DNS changes waiting for room in the updater's queue, oldest first (see `DNS_BACKLOG`).
    dns_backlog: std::collections::VecDeque<DnsChange>,
    /// Changes are being dropped (the backlog is full): said once in the log, not once per change.
    dns_dropping: bool,
    /// The moment the engine thread's timer is set for, if it is: a packet thread that makes an earlier
    /// deadline wakes the engine thread to move it.
    armed: Option<dhcplab_engine::Instant>,
    /// Wakes the engine thread's loop (from the packet threads).
    wake_loop: CommandSender,
    /// `reading_paused`, for the packet threads to see before they read (without the lock).
    paused: Arc<AtomicBool>,
}

/// Who commits the engine's jobs.
enum StorePath {
    /// The committer's thread alone, through its queue (packet threads, or a store across the network).
    Thread(std::sync::mpsc::SyncSender<StoreJob>),
    /// A store on the local disk: the engine thread commits, and while the disk stalls the committer's.
    Local(Box<LocalStore>),
}

/// The engine thread's commits, and the committer's thread that takes its jobs while the disk stalls.
struct LocalStore {
    inline: InlineCommits,
    /// The committer's thread, started by the first stall and kept.
    thread: Option<std::sync::mpsc::SyncSender<StoreJob>>,
    /// Jobs go to the committer's thread (see `choose_commit_thread`).
    on_thread: bool,
    calm: std::time::Duration,
    /// At the last look: when, the engine's holds (ns) and the commits' time (s) so far.
    last_tick: Option<(std::time::Instant, u64, f64)>,
}

/// How often the engine thread looks at how busy it is: a load that overwhelms it loses packets within a
/// second (a whole second on its own commits at 50,000 DORA/s lost 0.4–0.8 % of them).
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Above this share of its time held (its commits included) the engine thread hands its commits over…
const BUSY_HIGH: f64 = 0.7;
/// …and below this, counting the commits it would make, it takes them back.
const BUSY_LOW: f64 = 0.4;

/// Whether the committer's thread should make the commits (`on_thread`: it does now), by the shares of the
/// time since the last look that the engine was `held` (its commits among them when the engine thread makes
/// them) and that the commits took. Between the two bounds whichever thread makes them goes on.
fn thread_wanted(on_thread: bool, held: f64, committing: f64) -> bool {
    if on_thread { held + committing >= BUSY_LOW } else { held > BUSY_HIGH }
}

impl StorePath {
    /// The committer's queue, when jobs go there now.
    fn thread(&self) -> Option<&std::sync::mpsc::SyncSender<StoreJob>> {
        match self {
            StorePath::Thread(tx) => Some(tx),
            StorePath::Local(local) if local.on_thread => local.thread.as_ref(),
            StorePath::Local(_) => None,
        }
    }
}

fn names(links: &[Link], id: u32) -> &str {
    links.get(id as usize).map_or("?", |l| l.name.as_str())
}

impl Engine {
    /// Returns the engine, ready to `run`: committing its jobs itself with one packet thread and a store on
    /// the local disk, else on the committer's thread, started here.
    pub fn new(
        server: Server,
        links: Arc<Vec<Link>>,
        store: (Box<dyn LeaseStore>, CommitWindow),
        clock: Clock,
        counters: Arc<Counters>,
        bridge: Publisher,
        feedback: CommandSender,
    ) -> std::io::Result<Self> {
        let (store, window) = store;
        let commits = Commits::new(store, links.iter().map(Link::sender).collect(), counters.clone(), clock);
        let packet_threads = links.iter().any(|l| !l.more_sockets.is_empty());
        let local = commits.commits_locally() && !packet_threads;
        let commits = Arc::new(Mutex::new(commits));
        let store = if local {
            debug!("lease commits are made on the engine's thread");
            let inline = InlineCommits::new(commits, window);
            let calm = inline_commit::CALM;
            StorePath::Local(Box::new(LocalStore { inline, thread: None, on_thread: false, calm, last_tick: None }))
        } else {
            debug!("lease commits are made on their own thread");
            let (tx, rx) = committer::channel();
            committer::start(commits, rx, Some(feedback.clone()), window)?;
            counters.store_thread.store(true, Ordering::Relaxed);
            StorePath::Thread(tx)
        };
        let wake_loop = feedback;
        Ok(Engine {
            server,
            links,
            clock,
            counters,
            store,
            bridge,
            kernel_drops: 0,
            batch: 0,
            held: None,
            held_max: HELD_MAX,
            in_flight: Default::default(),
            peers: vec![],
            batch_read: None,
            pinger: None,
            dns: None,
            dns_backlog: Default::default(),
            dns_dropping: false,
            armed: None,
            wake_loop,
            paused: Arc::default(),
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
            acks_paced: c.acks_paced.load(Ordering::Relaxed),
            store_queue_full: c.store_queue_full.load(Ordering::Relaxed),
            store_reading_paused: c.store_reading_paused.load(Ordering::Relaxed),
            file_behind: c.file_lag.as_ref().map_or(0, |l| l.behind.load(Ordering::Relaxed)),
            file_apply_failures: c.file_lag.as_ref().map_or(0, |l| l.failures.load(Ordering::Relaxed)),
            dns_updated: c.dns.updated.load(Ordering::Relaxed),
            dns_conflicts: c.dns.conflicts.load(Ordering::Relaxed),
            dns_failed: c.dns.failed.load(Ordering::Relaxed),
            dns_waiting: (self.dns_backlog.len() + self.dns.as_ref().map_or(0, |tx| tx.max_capacity() - tx.capacity()))
                as u64,
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

    /// Reads every link, serves commands and timers, until the command channel closes. One epoll set holds
    /// them all; each turn serves what is ready in a fixed order: commands, timers and stats under the
    /// engine's lock, then the links, a slotful at a time, read and answered outside it (see
    /// [`PacketPath`]). With more than one socket per link (`threads`), a packet thread reads each further
    /// one (see [`packet_thread`](super::packet_thread)) the same way.
    pub fn run(self, mut commands: CommandReceiver) {
        let links = self.links.clone();
        let shared = Arc::new(Mutex::new(self));
        let threads = match PacketThreads::start(&shared, &links) {
            Ok(t) => t,
            Err(e) => {
                error!("the engine cannot start its packet threads: {e}");
                return;
            }
        };
        let (counters, _, paused) = lock(&shared).for_reading_thread();
        let mut path = PacketPath::new(0, counters);
        // Which links may hold more datagrams, in a turn's reading: kept, so a turn allocates nothing.
        let mut more = Vec::with_capacity(links.len());
        // One timer moved only when the engine's next deadline changes, one for the once-a-second stats, one
        // for the commits this thread makes (see `InlineCommits::poll_timeout`).
        let setup = || -> std::io::Result<(Poller, FdTimer, FdTimer, FdTimer)> {
            let (mut poller, timer, stats_tick, commit_timer) =
                (Poller::new()?, FdTimer::new()?, FdTimer::new()?, FdTimer::new()?);
            stats_tick.every(std::time::Duration::from_secs(1))?;
            poller.add(commands.wake(), Source::Commands)?;
            poller.add(&timer, Source::Timer)?;
            poller.add(&stats_tick, Source::Stats)?;
            poller.add(&commit_timer, Source::Commit)?;
            for (i, l) in links.iter().enumerate() {
                poller.add(&*l.socket, Source::Link(i))?;
            }
            Ok((poller, timer, stats_tick, commit_timer))
        };
        let (mut poller, timer, stats_tick, commit_timer) = match setup() {
            Ok(v) => v,
            Err(e) => {
                error!("the engine cannot set up its loop: {e}");
                return;
            }
        };
        lock(&shared).open_pinger();
        let mut pinger: Option<Arc<Pinger>> = None;
        let mut links_paused = false;
        // The moment the commit timer is set for, if it is.
        let mut commit_armed = None;
        'turns: loop {
            let mut e = lock(&shared);
            let mut deadline = e.server.poll_timeout();
            if !e.dns_backlog.is_empty() {
                let retry = e.clock.now() + DNS_RETRY;
                deadline = Some(deadline.map_or(retry, |d| d.min(retry)));
            }
            // A timer armed for an earlier moment is left alone: it fires, finds nothing due, and is armed
            // for what is. Moving it later whenever the earliest offer is taken up cost a system call per
            // REQUEST.
            if deadline.is_some() && e.armed.is_none_or(|a| deadline < Some(a)) {
                let after = deadline.map(|t| e.clock.at(t).saturating_duration_since(tokio::time::Instant::now()));
                if let Err(e) = timer.once(after) {
                    error!("the engine's timer: {e}");
                }
                e.armed = deadline;
            }
            // The ICMP socket is opened when a config first asks for conflict probing.
            if pinger.is_none()
                && let Some(p) = &e.pinger
            {
                match poller.add(&**p, Source::Pinger) {
                    Ok(()) => pinger = Some(p.clone()),
                    Err(e) => error!("the engine cannot wait for echo replies: {e}"),
                }
            }
            // While the held store job is full the links are not read: their packets wait in the kernel.
            let stop_reading = e.reading_paused();
            if links_paused != stop_reading {
                links_paused = stop_reading;
                if stop_reading {
                    e.counters.store_reading_paused.fetch_add(1, Ordering::Relaxed);
                    warn!("the lease store is far behind: no packets are read until it catches up");
                }
                for (i, l) in links.iter().enumerate() {
                    if let Err(e) = poller.pause(&*l.socket, Source::Link(i), links_paused) {
                        error!(link = %l.name, "the engine cannot pause or resume reading: {e}");
                    }
                }
            }
            // Armed only when the moment moves (about once a commit), like the engine's timer.
            let commit_due = e.commit_timeout();
            if commit_due.is_some() && commit_due != commit_armed {
                let after = commit_due.map(|t| t.saturating_duration_since(std::time::Instant::now()));
                if let Err(e) = commit_timer.once(after) {
                    error!("the engine's commit timer: {e}");
                }
                commit_armed = commit_due;
            }
            drop(e);
            let mut ready = Ready::default();
            match poller.wait() {
                Ok(sources) => {
                    for s in sources {
                        match s {
                            Source::Commands => ready.commands = true,
                            Source::Timer => ready.timer = true,
                            Source::Stats => ready.stats = true,
                            Source::Pinger => ready.pinger = true,
                            Source::Commit => ready.commit = true,
                            Source::Link(_) => ready.links = true,
                        }
                    }
                }
                Err(e) => {
                    error!("the engine's wait failed, it stops: {e}");
                    break;
                }
            }
            // The turn's log lines go out together when it ends (see `batched_stderr`).
            let _log = Batch::open();
            let mut e = lock(&shared);
            if ready.commands {
                // Cleared first: a command sent from here on wakes the next wait.
                commands.wake().clear();
                // A bounded share per turn, so a flood of API calls cannot hold the packets back.
                for served in 0.. {
                    if served == COMMANDS_PER_TURN {
                        commands.wake().wake();
                        break;
                    }
                    match commands.try_recv() {
                        Ok(Some(cmd)) => e.command(cmd),
                        Ok(None) => break,
                        Err(_) => break 'turns,
                    }
                }
            }
            if ready.commit && commit_timer.fired() > 0 {
                commit_armed = None;
            }
            if ready.timer && timer.fired() > 0 {
                let now = e.clock.now();
                e.server.handle_timeout(now);
                e.armed = None;
            }
            if ready.stats && stats_tick.fired() > 0 {
                // Expiries are published as they happen; counters once a second, to watchers only.
                let now = e.clock.now();
                e.server.handle_timeout(now);
                // Read from /proc once a second here, not on every /metrics scrape.
                e.kernel_drops = links.iter().map(Link::kernel_drops).sum();
                if e.bridge.watched() {
                    let stats = e.daemon_stats();
                    e.bridge.publish(|seq| Update::Stats { seq, stats });
                }
            }
            if ready.pinger
                && let Some(p) = &pinger
            {
                let now = e.clock.now();
                for ip in p.replies() {
                    e.server.handle_ping_reply(now, ip);
                }
            }
            // What timers and commands made to go at once leaves without the lock.
            let read = e.collect(path.out());
            drop(e);
            path.send(&links, read);
            if ready.links && !links_paused {
                read_links(&mut path, &shared, &links, &paused, &mut more);
            }
            // The commit whose window has ended, made once the turn's packets are answered; and which thread
            // makes them.
            let mut e = lock(&shared);
            if e.poll_store(false) {
                e.follow_store();
            }
            e.choose_commit_thread();
        }
        threads.stop();
        let mut e = lock(&shared);
        e.poll_store(true);
        if let Some(job) = e.held.take()
            && let Some(tx) = e.store.thread()
            && tx.send(job).is_err()
        {
            error!("the lease store's thread has stopped");
        }
    }

    /// A thread's datagrams (those of them that are its to answer), read from `link` at `read_at`: handed
    /// to the engine, and its replies that leave at once gathered into `out` (see `collect`). `behind`:
    /// they were read while the thread was behind on its socket (see `backlog`). Returns when the batch was
    /// read, and whether the engine thread must be woken to set its timer for an earlier deadline.
    pub(super) fn packet_batch<'a>(
        &mut self,
        link: &Link,
        read_at: std::time::Instant,
        behind: bool,
        datagrams: impl Iterator<Item = (SocketAddrV4, &'a [u8])>,
        out: &mut Vec<dhcplab_engine::Transmit>,
    ) -> (Option<std::time::Instant>, bool) {
        self.batch_read = Some(read_at);
        for (src, bytes) in datagrams {
            self.receive(link, src, bytes, behind);
        }
        let read = self.collect(out);
        let earlier = self.server.poll_timeout().is_some_and(|d| self.armed.is_none_or(|a| d < a));
        (read, earlier)
    }

    /// What a thread that reads packets (the engine thread or a packet thread) needs of the engine beside
    /// the lock: its counters, a way to wake the engine thread, and whether reading is paused.
    pub(super) fn for_reading_thread(&self) -> (Arc<Counters>, CommandSender, Arc<AtomicBool>) {
        (self.counters.clone(), self.wake_loop.clone(), self.paused.clone())
    }

    /// The held store job is full: no packets are read until the committer takes it.
    pub(super) fn reading_paused(&self) -> bool {
        self.held.as_ref().is_some_and(|j| j.changes.len() + j.replies.len() >= self.held_max)
    }

    /// One datagram from a link: shown to watchers, handed to the engine (which sheds it if it is a
    /// DISCOVER read `behind`).
    fn receive(&mut self, link: &Link, src: SocketAddrV4, bytes: &[u8], behind: bool) {
        let meta = RecvMeta { iface: link.id, local_addr: link.addr, src };
        if self.bridge.watched() {
            let dst = SocketAddrV4::new(link.addr, SERVER_PORT);
            self.packet_seen(Direction::In, link.id, src, dst, bytes);
        }
        let now = self.clock.now();
        let handled = if behind {
            self.server.handle_packet_behind(now, meta, bytes)
        } else {
            self.server.handle_packet(now, meta, bytes)
        };
        if let Err(d) = handled {
            // The fields are read only when the line is written: a flood's drops cost nothing more.
            debug!(link = %link.name, %src, chaddr = chaddr(bytes).map(tracing::field::display), "dropped packet: {d}");
        }
    }

    /// A shorter calm before the engine thread takes its commits back, so a test sees it.
    #[cfg(test)]
    fn with_calm(mut self, calm: std::time::Duration) -> Self {
        if let StorePath::Local(local) = &mut self.store {
            local.calm = calm;
        }
        self
    }

    /// A smaller cap on the held job, so a test reaches it with few clients.
    #[cfg(test)]
    fn with_held_max(mut self, cap: usize) -> Self {
        self.held_max = cap;
        self
    }

    /// Gives back the buffers of the replies in `out` (sent by now: they take the next replies), then
    /// gathers what the engine has to send and store (see `gather`). (The ACKs' buffers are sent and freed
    /// by the committer: handing them back through a lock cost it more instructions than it saved here,
    /// under bench/daemon-work.)
    pub(super) fn collect(&mut self, out: &mut Vec<dhcplab_engine::Transmit>) -> Option<std::time::Instant> {
        out.drain(..).for_each(|t| self.server.recycle(t.bytes));
        self.gather(out)
    }

    /// Takes what the engine has to send and store: the replies that leave at once into `now_out` (to be
    /// sent by the caller), the batch's lease changes and ACKs to the store. Returns when the batch's
    /// packets were read.
    pub(super) fn gather(&mut self, now_out: &mut Vec<dhcplab_engine::Transmit>) -> Option<std::time::Instant> {
        while let Some(p) = self.server.poll_ping() {
            if let Some(pinger) = &self.pinger
                && let Err(e) = pinger.send(p.ip)
            {
                debug!("ping {}: {e}", p.ip);
            }
        }
        self.forward_dns();
        let mut durable = JobItems::new();
        let watched = self.bridge.watched();
        while let Some(t) = self.server.poll_transmit() {
            debug!(link = %names(&self.links, t.iface), xid = format_args!("{:#010x}", t.xid), dst = ?t.dst, "send {:?}", t.kind);
            if watched {
                let src = SocketAddrV4::new(t.src, SERVER_PORT);
                self.packet_seen(Direction::Out, t.iface, src, t.dst.socket_addr(), &t.bytes);
            }
            if t.kind == DhcpMessage::Ack && t.needs_store { durable.push(t) } else { now_out.push(t) }
        }
        let mut changes = JobItems::new();
        let mut stored_events = Vec::new();
        while let Some(ev) = self.server.poll_event() {
            // The engine's table is the truth; the event says whether this address's durable record changed.
            // Offers are never stored: a restart forgets them, and the client asks again.
            // A synced record came from the shared store: nothing to write back.
            let change = match (ev.change(), self.server.lease(ev.ip)) {
                _ if ev.kind == LeaseEventKind::Synced => None,
                (LeaseChange::Keep | LeaseChange::Set(LeaseState::Offered), _) => None,
                (_, Some(l)) if l.state == LeaseState::Offered => None,
                (_, Some(l)) => Some(Change::Put(l.clone())),
                (_, None) => Some(Change::Remove { ip: ev.ip, hw: ev.hw, expires: ev.expires }),
            };
            // A stored change's line is the committer's to write, once it knows whether the change (and the
            // ACK announcing it) made it to the disk.
            let log_later = change.is_some() && lease_log::logged(&ev);
            changes.extend(change);
            match (log_later, watched) {
                (true, true) => stored_events.push(ev.clone()),
                (true, false) => {
                    stored_events.push(ev);
                    continue;
                }
                (false, _) => lease_log::log_event(&ev, ev.exchange.map(|x| names(&self.links, x.iface))),
            }
            if watched {
                self.bridge.publish(|seq| Update::Lease { seq, event: ev });
            }
        }
        let read = self.batch_read.take();
        let job = (!changes.is_empty() || !durable.is_empty()).then(|| {
            self.batch += 1;
            self.in_flight.extend(changes.iter().map(|c| (self.batch, c.ip())));
            StoreJob { batch: self.batch, received: read, changes, replies: durable, events: stored_events }
        });
        self.hand_to_store(job);
        self.follow_store();
        read
    }

    /// Hands the engine's DNS changes to the updater, oldest first. DNS never holds an ACK: what finds the
    /// updater's queue full waits in the backlog (and holds lease ends, see `follow_store`); only beyond
    /// `DNS_BACKLOG` is a change dropped and counted as failed.
    fn forward_dns(&mut self) {
        let mut dropped = 0;
        while let Some(c) = self.server.poll_dns() {
            if self.dns_backlog.len() < DNS_BACKLOG { self.dns_backlog.push_back(c) } else { dropped += 1 }
        }
        match &self.dns {
            Some(tx) => {
                use tokio::sync::mpsc::error::TrySendError;
                while let Some(c) = self.dns_backlog.pop_front() {
                    match tx.try_send(c) {
                        Ok(()) => {}
                        Err(TrySendError::Full(c)) => {
                            self.dns_backlog.push_front(c);
                            break;
                        }
                        Err(TrySendError::Closed(_)) => {
                            error!("the DNS updater has stopped");
                            dropped += 1 + self.dns_backlog.len();
                            self.dns_backlog.clear();
                        }
                    }
                }
            }
            None => self.dns_backlog.clear(),
        }
        if dropped > 0 {
            if !self.dns_dropping {
                warn!("DNS changes dropped (counted as failed): {DNS_BACKLOG} already wait for the DNS server");
            }
            self.counters.dns.failed.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        self.dns_dropping = dropped > 0 || (self.dns_dropping && self.dns_backlog.len() == DNS_BACKLOG);
    }

    /// Hands the job to the committer (see `hand_over`), and tells the packet threads whether reading is
    /// now paused.
    fn hand_to_store(&mut self, job: Option<StoreJob>) {
        self.hand_over(job);
        let paused = self.reading_paused();
        if self.paused.load(Ordering::Relaxed) != paused {
            self.paused.store(paused, Ordering::Release);
        }
    }

    /// Hands the committer the held job with this one merged into it, or this one. When its queue is full
    /// the job is held instead of waiting for room: a thread blocked in `send` would answer nothing, the API
    /// included, for as long as a slow commit lasts.
    fn hand_over(&mut self, job: Option<StoreJob>) {
        let Some(tx) = self.store.thread() else {
            if let (StorePath::Local(local), Some(job)) = (&mut self.store, job) {
                local.inline.hold(job, std::time::Instant::now());
            }
            // A window of nothing (a quiet network) commits at once; `gather` then follows the store.
            self.poll_store(false);
            return;
        };
        let was_held = self.held.is_some();
        let job = match (self.held.take(), job) {
            (Some(mut held), Some(new)) => {
                held.merge(new);
                held
            }
            (Some(job), None) | (None, Some(job)) => job,
            (None, None) => return,
        };
        use std::sync::mpsc::TrySendError;
        let job = match tx.try_send(job) {
            Ok(()) => return,
            Err(TrySendError::Disconnected(_)) => return error!("the lease store's thread has stopped"),
            Err(TrySendError::Full(job)) => job,
        };
        // Ask the committer to wake this loop when it next drains the queue, then try once more: it may
        // have drained it between the try above and the flag (the fences order the flag and the queue).
        self.counters.store_room_wanted.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Disconnected(_)) => error!("the lease store's thread has stopped"),
            Err(TrySendError::Full(job)) => {
                if !was_held {
                    self.counters.store_queue_full.fetch_add(1, Ordering::Relaxed);
                    debug!("the lease store's queue is full: changes gathered until it has room");
                }
                self.held = Some(job);
            }
        }
    }

    /// When the engine thread's commits next have something to do (none while the committer's thread
    /// makes them).
    fn commit_timeout(&self) -> Option<std::time::Instant> {
        match &self.store {
            StorePath::Local(local) if !local.on_thread => local.inline.poll_timeout(),
            _ => None,
        }
    }

    /// Makes the engine thread's commit if its window has ended (every held job, with `all`), and sends the
    /// paced ACKs due. After a commit that stalled, the jobs go to the committer's thread. Whether a commit
    /// was made (the caller then follows the store, see `follow_store`).
    fn poll_store(&mut self, all: bool) -> bool {
        let StorePath::Local(local) = &mut self.store else { return false };
        if local.on_thread {
            return false;
        }
        let calm = local.calm;
        let server = &mut self.server;
        let now = std::time::Instant::now();
        let done = if all {
            local.inline.finish(|t| server.recycle(t.bytes))
        } else {
            local.inline.poll(now, false, |t| server.recycle(t.bytes))
        };
        let Some(done) = done else { return false };
        let now = self.clock.now();
        for record in done.adopt {
            self.server.handle_shared(now, record);
        }
        if done.took > SLOW && !all {
            warn!(
                "a lease commit took {:.1} ms, reading no packets meanwhile: commits go to their own thread until \
                 none has taken over {} ms for {} s",
                done.took.as_secs_f64() * 1000.0,
                SLOW.as_millis(),
                calm.as_secs()
            );
            self.commits_to_thread();
        }
        true
    }

    /// Hands the engine thread's jobs to the committer's thread (started the first time): while the disk
    /// stalls, a stall holds ACKs and the engine reads on; under heavy load, the two cores overlap.
    fn commits_to_thread(&mut self) {
        let StorePath::Local(local) = &mut self.store else { return };
        if local.thread.is_none() {
            let (tx, rx) = committer::channel();
            let (commits, window) = local.inline.shared();
            if let Err(e) = committer::start(commits, rx, Some(self.wake_loop.clone()), window) {
                return error!("the lease store's thread cannot start, commits stay on the engine's: {e}");
            }
            local.thread = Some(tx);
        }
        local.on_thread = true;
        self.counters.store_thread.store(true, Ordering::Relaxed);
        for job in local.inline.take_held() {
            self.hand_to_store(Some(job));
        }
    }

    /// Chooses, every [`LOOK_EVERY`], which thread makes the commits. The engine thread's own cost less CPU,
    /// but it reads nothing while it waits in a write: once its holds of the engine (its commits among them)
    /// fill more than [`BUSY_HIGH`] of its time, the committer's thread makes them and the two overlap
    /// (one packet thread on two cores under `dora-load` was clean to 40,000 DORA/s committing itself, to
    /// 70,000 through the committer's thread, bench/ceiling on the AMD VM, 5 December). They come back once
    /// the engine thread would be held less than [`BUSY_LOW`] of its time making them, every job given to
    /// the committer's thread is durable, and no commit has stalled for `calm`.
    fn choose_commit_thread(&mut self) {
        let StorePath::Local(local) = &mut self.store else { return };
        let now = std::time::Instant::now();
        if local.last_tick.is_some_and(|(then, ..)| now.saturating_duration_since(then) < LOOK_EVERY) {
            return;
        }
        let held = self.counters.engine_busy_nanos.load(Ordering::Relaxed);
        let committing = self.counters.commit_seconds.sum_seconds();
        let Some((then, held_then, committing_then)) = local.last_tick.replace((now, held, committing)) else {
            return;
        };
        let wall = now.saturating_duration_since(then).as_secs_f64();
        let held = held.saturating_sub(held_then) as f64 / 1e9 / wall;
        let committing = (committing - committing_then).max(0.0) / wall;
        let wanted = thread_wanted(local.on_thread, held, committing);
        if !local.on_thread {
            if wanted {
                info!("the engine's thread is busy {:.0} % of its time: commits go to their own thread", held * 100.0);
                self.commits_to_thread();
            }
            return;
        }
        let durable = self.counters.durable_through.load(Ordering::Acquire);
        if wanted || self.held.is_some() || durable < self.batch || !local.inline.calm(now, local.calm) {
            return;
        }
        local.on_thread = false;
        self.counters.store_thread.store(false, Ordering::Relaxed);
        info!("lease commits are quick and the load is light: the engine's thread makes them");
    }

    /// Tells the engine when the store goes down or comes back, and which addresses' records it may not
    /// have: those of every job since the last durable one.
    fn follow_store(&mut self) {
        let durable = self.counters.durable_through.load(Ordering::Acquire);
        while self.in_flight.front().is_some_and(|(b, _)| *b <= durable) {
            self.in_flight.pop_front();
        }
        // Leases ending together are ended at the store's pace, not the engine's, and at the DNS server's
        // while it answers (one that does not would otherwise keep every lease from ending).
        let dns_behind = !self.dns_backlog.is_empty() && !self.counters.dns.failing.load(Ordering::Relaxed);
        self.server.set_expiry_held(self.in_flight.len() > STORE_BEHIND || dns_behind);
        let failing =
            self.counters.store_failing.load(Ordering::Acquire) || self.counters.store_stopped.load(Ordering::Acquire);
        if failing && !self.server.is_store_down() {
            let unconfirmed = self.in_flight.iter().map(|&(_, ip)| ip).collect();
            warn!("the lease store is down: renewing stored leases only, no new ones");
            self.server.set_store_down(Some(unconfirmed));
        } else if !failing && self.server.is_store_down() {
            info!("the lease store is back: serving new leases again");
            self.server.set_store_down(None);
        }
    }
}

/// The engine thread's reading: up to `BATCH` datagrams without waiting, a slotful from each link in turn
/// (a flooded link gets its share and no more, and never starves the others), each slotful answered as
/// the packet threads answer theirs ([`PacketPath`]). Stops early when the store is far behind.
fn read_links(
    path: &mut PacketPath,
    engine: &Mutex<Engine>,
    links: &[Link],
    paused: &AtomicBool,
    more: &mut Vec<bool>,
) {
    more.clear();
    more.resize(links.len(), true);
    let mut n = 0;
    while n < BATCH && more.contains(&true) && !paused.load(Ordering::Acquire) {
        for (link, more) in links.iter().zip(more.iter_mut()).filter(|(_, more)| **more) {
            let want = MAX_SLOTS.min(BATCH - n);
            if want == 0 {
                break;
            }
            // The engine thread's own timer is set at the top of its next turn: no wake needed.
            let (read, _) = path.serve(engine, links, link, &link.socket, want);
            n += read;
            *more = read == want;
        }
    }
}

/// The engine, once its loop has started: shared by the engine thread and the packet threads.
pub(super) fn lock(engine: &Mutex<Engine>) -> Held<'_> {
    // A thread that panicked holding it left the engine as it was between two packets: go on with it.
    let guard = engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Held { guard, since: std::time::Instant::now() }
}

/// The engine, held by one thread. How long each hold lasts is added up as the engine's busy time (see
/// `Counters::engine_busy_nanos`): with several packet threads, what runs under the lock is the part
/// that does not spread over cores.
pub(super) struct Held<'a> {
    guard: MutexGuard<'a, Engine>,
    since: std::time::Instant,
}

impl std::ops::Deref for Held<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.guard
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        &mut self.guard
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let held = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.guard.counters.engine_busy_nanos.fetch_add(held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::command::{self, Command};
    use crate::daemon::committer::STORE_QUEUE;
    use crate::store::{CommitReport, StoreError};
    use dhcplab_engine::bridge::DaemonStats;
    use dhcplab_engine::builder::ClientMsg;
    use dhcplab_engine::ddns::DnsOp;
    use dhcplab_engine::hwaddr::HwAddr;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};
    use tokio::sync::oneshot;

    /// A store whose commits wait until the gate opens, as a disk stalled behind a checkpoint would.
    struct Gated(Arc<AtomicBool>);

    impl LeaseStore for Gated {
        fn load_into(&mut self, _: &mut dyn crate::store::LoadSink) -> Result<(), StoreError> {
            Ok(())
        }

        fn commit(&mut self, _: dhcplab_engine::Instant, _: &[Change]) -> Result<CommitReport, StoreError> {
            while !self.0.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(CommitReport::default())
        }
    }

    /// The next reply on the clients' socket, if one comes within two seconds.
    fn reply(clients: &std::net::UdpSocket) -> Option<PacketSummary> {
        let mut buf = [0u8; 1500];
        let n = clients.recv(&mut buf).ok()?;
        PacketSummary::from_bytes(&buf[..n])
    }

    /// Waits for a command's answer; `None` after `limit`.
    fn answer<T>(mut rx: oneshot::Receiver<T>, limit: Duration) -> Option<T> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(v) = rx.try_recv() {
                return Some(v);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// An engine on its own thread, configured by `toml` (and `configure`), on a link that sends every reply
    /// to `clients`; returns the API's command channel and the link's address.
    fn spawn_engine(
        toml: &str,
        clients: &std::net::UdpSocket,
        store: Box<dyn LeaseStore>,
        counters: Arc<Counters>,
        configure: impl FnOnce(Engine) -> Engine + Send + 'static,
    ) -> (CommandSender, std::net::SocketAddr) {
        spawn_engine_threads(1, toml, clients, store, counters, configure)
    }

    /// `spawn_engine` with `threads` packet threads (the link a group of as many sockets).
    fn spawn_engine_threads(
        threads: usize,
        toml: &str,
        clients: &std::net::UdpSocket,
        store: Box<dyn LeaseStore>,
        counters: Arc<Counters>,
        configure: impl FnOnce(Engine) -> Engine + Send + 'static,
    ) -> (CommandSender, std::net::SocketAddr) {
        let clients_addr = clients.local_addr().unwrap();
        let cfg = crate::config_file::parse(toml, "test.toml").unwrap().server_config();
        let server = Server::new(cfg, 7).unwrap();
        let (cmd_tx, cmd_rx) = command::channel(16).unwrap();
        let (link_tx, link_rx) = std::sync::mpsc::channel();
        let feedback = cmd_tx.clone();
        std::thread::spawn(move || {
            let link =
                Link::demo(0, (Ipv4Addr::LOCALHOST, 0).into(), Ipv4Addr::new(192, 0, 2, 1), clients_addr, threads);
            let link = link.unwrap();
            link_tx.send(link.socket.local_addr().unwrap()).unwrap();
            let bridge = Publisher::new(tokio::sync::broadcast::channel(16).0);
            let store = (store, CommitWindow::new(Duration::ZERO));
            let engine = Engine::new(server, Arc::new(vec![link]), store, Clock::new(), counters, bridge, feedback);
            configure(engine.unwrap()).run(cmd_rx);
        });
        (cmd_tx, link_rx.recv().unwrap())
    }

    const SUBNET: &str = "[[subnet]]\ncidr = \"192.0.2.0/24\"\npools = [\"192.0.2.10-192.0.2.250\"]\n";

    /// The clients' socket, on loopback; a reply it waits for more than two seconds is none.
    fn clients() -> std::net::UdpSocket {
        let clients = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        clients.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        clients
    }

    fn hw(i: u32) -> HwAddr {
        HwAddr::ethernet([2, 0, 0, 0, (i >> 8) as u8, i as u8])
    }

    /// `n` clients' DISCOVERs, one at a time, each answered with an OFFER (offers never wait for the
    /// store); the addresses offered.
    fn offers(clients: &std::net::UdpSocket, server: std::net::SocketAddr, n: u32) -> Vec<Ipv4Addr> {
        (0..n)
            .map(|i| {
                let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(i), i).bytes();
                clients.send_to(&discover, server).unwrap();
                let offer = reply(clients).expect("an OFFER");
                assert_eq!(offer.msg, DhcpMessage::Offer);
                offer.yiaddr
            })
            .collect()
    }

    /// The offered clients' REQUESTs, 3 ms apart (each its own batch and store job), until `done`; how many
    /// were sent.
    fn request_until(
        clients: &std::net::UdpSocket,
        server: std::net::SocketAddr,
        offered: &[Ipv4Addr],
        done: impl Fn() -> bool,
    ) -> usize {
        let mut requests = 0;
        for (i, ip) in (0..).zip(offered) {
            let request = ClientMsg::new(DhcpMessage::Request.message_type(), hw(i), i)
                .requested(*ip)
                .server(Ipv4Addr::new(192, 0, 2, 1))
                .bytes();
            clients.send_to(&request, server).unwrap();
            requests += 1;
            std::thread::sleep(Duration::from_millis(3));
            if done() {
                break;
            }
        }
        requests
    }

    fn stats(cmd_tx: &CommandSender) -> DaemonStats {
        let (tx, rx) = oneshot::channel();
        cmd_tx.blocking_send(Command::Stats(tx)).unwrap();
        answer(rx, Duration::from_secs(5)).expect("stats")
    }

    #[test]
    fn a_stalled_store_holds_the_acks_not_the_offers_or_the_api_and_every_ack_follows_once_it_commits() {
        let clients = clients();
        let open = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let store = Box::new(Gated(open.clone()));
        let (cmd_tx, server_addr) = spawn_engine(SUBNET, &clients, store, counters.clone(), |e| e);
        let offered = offers(&clients, server_addr, 200);
        // One REQUEST at a time, each its own batch and store job, until the engine finds the queue full.
        let requests =
            request_until(&clients, server_addr, &offered, || counters.store_queue_full.load(Ordering::Relaxed) > 0);
        assert_eq!(counters.store_queue_full.load(Ordering::Relaxed), 1, "{requests} jobs never filled the queue");
        assert!(requests > STORE_QUEUE, "{requests}");

        // The store is still stalled; the API is answered all the same.
        let (tx, rx) = oneshot::channel();
        cmd_tx.blocking_send(Command::Ping(tx)).unwrap();
        assert!(answer(rx, Duration::from_secs(5)).is_some(), "the engine answers nothing while the store stalls");
        assert_eq!(stats(&cmd_tx).store_queue_full, 1);
        assert!(reply(&clients).is_none(), "no ACK may leave before its lease is stored");
        // Packets are still read: a new client is offered an address.
        let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(1000), 1000).bytes();
        clients.send_to(&discover, server_addr).unwrap();
        assert_eq!(reply(&clients).map(|r| r.msg), Some(DhcpMessage::Offer), "no OFFER while the store stalls");

        // The disk comes back: every REQUEST is ACKed, the held job's too.
        open.store(true, Ordering::Release);
        let acks = (0..requests).filter_map(|_| reply(&clients)).filter(|r| r.msg == DhcpMessage::Ack).count();
        assert_eq!(acks, requests);
    }

    #[test]
    fn leases_end_no_faster_than_their_dns_changes_are_taken_and_none_is_dropped() {
        let clients = clients();
        let counters = Arc::new(Counters::default());
        let toml = "[[subnet]]\ncidr = \"192.0.2.0/24\"\npools = [\"192.0.2.10-192.0.2.250\"]\nlease_time = \"2s\"\n\n\
                    [ddns]\nserver = \"127.0.0.1:53\"\nforward_zone = \"lab.example\"\n";
        // An updater that has fallen behind: its queue holds 16 changes and nobody takes them yet.
        let (dns_tx, mut dns_rx) = mpsc::channel(16);
        let store = Box::new(Gated(Arc::new(AtomicBool::new(true))));
        let (cmd_tx, server_addr) = spawn_engine(toml, &clients, store, counters.clone(), |e| e.with_dns(dns_tx));

        let clients_bound = 100;
        for i in 0..clients_bound {
            let name = format!("host-{i}");
            let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(i), i).hostname(&name).bytes();
            clients.send_to(&discover, server_addr).unwrap();
            let offer = reply(&clients).expect("an OFFER");
            let request = ClientMsg::new(DhcpMessage::Request.message_type(), hw(i), i)
                .requested(offer.yiaddr)
                .server(Ipv4Addr::new(192, 0, 2, 1))
                .hostname(&name)
                .bytes();
            clients.send_to(&request, server_addr).unwrap();
            assert_eq!(reply(&clients).map(|r| r.msg), Some(DhcpMessage::Ack));
        }

        // Past the leases' end they are still bound: their removals would find no room either.
        std::thread::sleep(Duration::from_millis(3500));
        let s = stats(&cmd_tx);
        assert_eq!((s.bound, s.dns_failed), (clients_bound as usize, 0), "adds dropped, or leases ended regardless");
        assert_eq!(s.dns_waiting, 100, "every add waits, 16 in the updater's queue and the rest here");
        // A DNS server that stopped answering does not keep leases from ending.
        counters.dns.failing.store(true, Ordering::Relaxed);
        wait_until(|| stats(&cmd_tx).bound == 0, "the leases to end while the updater is failing");
        counters.dns.failing.store(false, Ordering::Relaxed);

        // The updater catches up: every add, then every removal, in order, none lost.
        let mut taken = vec![];
        let start = Instant::now();
        while taken.len() < 2 * clients_bound as usize && start.elapsed() < Duration::from_secs(10) {
            match dns_rx.try_recv() {
                Ok(c) => taken.push(c),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        let ops = |op: DnsOp| taken.iter().filter(|c| c.op == op).count();
        assert_eq!((ops(DnsOp::Add), ops(DnsOp::Remove)), (100, 100), "{} changes taken", taken.len());
        for c in taken.iter().filter(|c| c.op == DnsOp::Remove) {
            let added = taken.iter().position(|a| a.op == DnsOp::Add && a.fqdn == c.fqdn);
            let removed = taken.iter().position(|r| r == c);
            assert!(added < removed, "{} removed before it was added", c.fqdn);
        }
        let s = stats(&cmd_tx);
        assert_eq!((s.dns_failed, s.dns_waiting), (0, 0));
    }

    fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(10), "waited 10 s for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_store_stalled_long_stops_the_reading_once_the_gathered_changes_reach_their_cap_and_loses_nothing() {
        stalled_store_pauses_reading(1);
    }

    #[test]
    fn a_store_stalled_long_stops_every_packet_thread_reading_too() {
        stalled_store_pauses_reading(2);
    }

    /// An engine with `threads` packet threads whose store stalls until `open` is set, made to stop
    /// reading: 200 clients offered addresses, then their REQUESTs one at a time until the held job
    /// reaches its cap (of `CAP`).
    struct Paused {
        clients: std::net::UdpSocket,
        open: Arc<AtomicBool>,
        cmd_tx: CommandSender,
        server_addr: std::net::SocketAddr,
        offered: Vec<Ipv4Addr>,
        /// The REQUESTs sent until reading stopped (the first `requests` of `offered`).
        requests: usize,
    }

    fn paused_engine(threads: usize) -> Paused {
        const CAP: usize = 40;
        let clients = clients();
        let open = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let store = Box::new(Gated(open.clone()));
        let (cmd_tx, server_addr) =
            spawn_engine_threads(threads, SUBNET, &clients, store, counters.clone(), |e| e.with_held_max(CAP));
        let offered = offers(&clients, server_addr, 200);
        // REQUESTs one at a time: the queue fills, a held job gathers the next ones, and at its cap the
        // engine stops reading.
        let paused = || counters.store_reading_paused.load(Ordering::Relaxed) > 0;
        let requests = request_until(&clients, server_addr, &offered, paused);
        assert_eq!(counters.store_reading_paused.load(Ordering::Relaxed), 1, "{requests} REQUESTs never paused it");
        // Each of the queue's jobs holds one REQUEST; the held one gathered a change and an ACK for each.
        assert!(requests >= STORE_QUEUE + CAP / 2, "paused after {requests} REQUESTs");
        Paused { clients, open, cmd_tx, server_addr, offered, requests }
    }

    fn stalled_store_pauses_reading(threads: usize) {
        let Paused { clients, open, cmd_tx, server_addr, requests, .. } = paused_engine(threads);

        // The API is still answered; packets wait in the kernel, unread, whichever socket they reach.
        let (tx, rx) = oneshot::channel();
        cmd_tx.blocking_send(Command::Ping(tx)).unwrap();
        assert!(answer(rx, Duration::from_secs(5)).is_some(), "the engine answers nothing while it is paused");
        for i in [1000, 1001] {
            let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(i), i).bytes();
            clients.send_to(&discover, server_addr).unwrap();
        }
        assert!(reply(&clients).is_none(), "a packet was read (and answered) while the engine was paused");

        // The store catches up: every REQUEST is ACKed, and the waiting DISCOVERs are read and offered.
        open.store(true, Ordering::Release);
        let replies: Vec<DhcpMessage> = std::iter::from_fn(|| reply(&clients)).map(|r| r.msg).collect();
        let count = |m: DhcpMessage| replies.iter().filter(|r| **r == m).count();
        assert_eq!((count(DhcpMessage::Ack), count(DhcpMessage::Offer)), (requests, 2));
        assert_eq!(stats(&cmd_tx).store_reading_paused, 1);
    }

    #[test]
    fn a_socket_that_overflowed_sheds_its_discovers_and_every_request_waiting_there_is_answered() {
        sheds_discovers_while_behind(1);
    }

    #[test]
    fn every_packet_thread_sheds_the_discovers_of_its_own_overflowed_socket() {
        sheds_discovers_while_behind(2);
    }

    /// The engine stops reading (a stalled store, as above) while REQUESTs and then a flood of DISCOVERs
    /// wait in its sockets, more than they hold. Once it reads again it is behind: the REQUESTs are ACKed,
    /// the DISCOVERs shed and counted, and once the sockets are drained a new DISCOVER is offered again.
    fn sheds_discovers_while_behind(threads: usize) {
        use dhcplab_engine::packet::DropReason;
        // Well past what a socket holds at the 4 MiB this daemon asks for (the kernel doubles it): a few
        // thousand datagrams each.
        const FLOOD: u32 = 12_000;
        let Paused { clients, open, cmd_tx, server_addr, offered, requests } = paused_engine(threads);
        // Twenty more offered clients' REQUESTs wait first; then the flood overflows every socket.
        let waiting = requests..requests + 20;
        for i in waiting.clone() {
            let request = ClientMsg::new(DhcpMessage::Request.message_type(), hw(i as u32), i as u32)
                .requested(offered[i])
                .server(Ipv4Addr::new(192, 0, 2, 1))
                .bytes();
            clients.send_to(&request, server_addr).unwrap();
        }
        for i in 0..FLOOD {
            let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(10_000 + i), i).bytes();
            clients.send_to(&discover, server_addr).unwrap();
        }
        open.store(true, Ordering::Release);
        let replies: Vec<DhcpMessage> = std::iter::from_fn(|| reply(&clients)).map(|r| r.msg).collect();
        let count = |m: DhcpMessage| replies.iter().filter(|r| **r == m).count();
        assert_eq!(count(DhcpMessage::Ack), requests + waiting.len(), "every REQUEST is ACKed: {replies:?}");
        let st = stats(&cmd_tx);
        let shed = st.engine.dropped.get(&DropReason::Overload).copied().unwrap_or(0);
        assert!(shed > 0, "no DISCOVER was shed: {} OFFERs, stats {st:?}", count(DhcpMessage::Offer));
        assert!(st.queue_overflow > 0, "the flood never overflowed a socket: the test shows nothing");
        // Drained, the link is not behind: a new client is offered an address (the oldest unrequested offer
        // gives way if the pool is full).
        let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(60_000), 60_000).bytes();
        clients.send_to(&discover, server_addr).unwrap();
        assert_eq!(reply(&clients).map(|r| r.msg), Some(DhcpMessage::Offer), "shed after the sockets drained");
    }

    #[test]
    fn commits_go_to_their_own_thread_under_heavy_load_and_come_back_only_well_below_it() {
        // The engine thread committing: it hands over only when held most of its time.
        assert!(!thread_wanted(false, 0.45, 0.2), "a moderate load (8,000/s here) keeps its own commits");
        assert!(thread_wanted(false, 0.8, 0.3));
        // The committer's thread committing: the engine thread takes them back only if, with them, it
        // would be held well under the bound it left at, so the two do not swap every second.
        assert!(thread_wanted(true, 0.35, 0.3), "0.65 with the commits: stays on the committer's thread");
        assert!(!thread_wanted(true, 0.2, 0.1));
    }

    /// A store on the local disk, as far as the engine can tell: it makes its commits itself.
    struct Local<S>(S);

    impl<S: LeaseStore> LeaseStore for Local<S> {
        fn load_into(&mut self, sink: &mut dyn crate::store::LoadSink) -> Result<(), StoreError> {
            self.0.load_into(sink)
        }

        fn commit(&mut self, now: dhcplab_engine::Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
            self.0.commit(now, changes)
        }

        fn commits_locally(&self) -> bool {
            true
        }
    }

    /// A store whose first commit fails, as a full disk would; then it keeps what it is given.
    struct FailsOnce(bool, Arc<std::sync::Mutex<Vec<Change>>>);

    impl LeaseStore for FailsOnce {
        fn load_into(&mut self, _: &mut dyn crate::store::LoadSink) -> Result<(), StoreError> {
            Ok(())
        }

        fn commit(&mut self, _: dhcplab_engine::Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
            if !std::mem::replace(&mut self.0, true) {
                let full = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL);
                return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(full, None)));
            }
            self.1.lock().unwrap().extend_from_slice(changes);
            Ok(CommitReport::default())
        }
    }

    /// Client `i`'s REQUEST for `ip`, offered by the test link's server.
    fn request(i: u32, ip: Ipv4Addr) -> Vec<u8> {
        ClientMsg::new(DhcpMessage::Request.message_type(), hw(i), i)
            .requested(ip)
            .server(Ipv4Addr::new(192, 0, 2, 1))
            .bytes()
    }

    #[test]
    fn with_a_local_store_the_engine_thread_commits_and_no_ack_leaves_before_its_lease_is_stored() {
        let clients = clients();
        let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
        let counters = Arc::new(Counters::default());
        let store = Box::new(Local(FailsOnce(false, kept.clone())));
        let (cmd_tx, server_addr) = spawn_engine(SUBNET, &clients, store, counters.clone(), |e| e);
        let offered = offers(&clients, server_addr, 1)[0];
        // The commit fails: the ACK is withheld, and the lease is not bound for anyone to see.
        clients.send_to(&request(0, offered), server_addr).unwrap();
        assert!(reply(&clients).is_none(), "an ACK left though its lease was not stored");
        assert_eq!(counters.acks_withheld.load(Ordering::Relaxed), 1);
        // The engine thread tries the change again on its own (a second later: the two seconds waited for
        // the ACK above may have seen it), and the store is healthy.
        wait_until(|| !kept.lock().unwrap().is_empty(), "the failed change was never tried again");
        wait_until(|| counters.store_problem().is_none(), "the store never came back");
        // The client asks again and is ACKed, its lease stored first; no committer's thread ever ran.
        clients.send_to(&request(0, offered), server_addr).unwrap();
        let ack = reply(&clients).expect("an ACK once the store works");
        assert_eq!((ack.msg, ack.yiaddr), (DhcpMessage::Ack, offered));
        assert!(kept.lock().unwrap().iter().any(|c| c.ip() == offered));
        assert!(!counters.store_thread.load(Ordering::Relaxed), "the commits went to a thread of their own");
        assert_eq!(stats(&cmd_tx).bound, 1);
    }

    #[test]
    fn a_local_commit_that_stalls_sends_the_commits_to_their_own_thread_until_the_disk_is_calm_again() {
        let clients = clients();
        let open = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let store = Box::new(Local(Gated(open.clone())));
        let calm = Duration::from_millis(300);
        let (cmd_tx, server_addr) = spawn_engine(SUBNET, &clients, store, counters.clone(), move |e| e.with_calm(calm));
        let offered = offers(&clients, server_addr, 2);
        // The first commit is made on the engine thread and stalls, past `STALL`.
        clients.send_to(&request(0, offered[0]), server_addr).unwrap();
        std::thread::sleep(SLOW * 5);
        assert!(!counters.store_thread.load(Ordering::Relaxed), "moved before the stall was over");
        open.store(true, Ordering::Release);
        assert_eq!(reply(&clients).map(|r| r.msg), Some(DhcpMessage::Ack));
        wait_until(
            || counters.store_thread.load(Ordering::Relaxed),
            "a stalled commit left the commits where they were",
        );
        // The next stall holds the ACK on the committer's thread: the engine reads on and answers the API.
        open.store(false, Ordering::Release);
        clients.send_to(&request(1, offered[1]), server_addr).unwrap();
        let (tx, rx) = oneshot::channel();
        cmd_tx.blocking_send(Command::Ping(tx)).unwrap();
        assert!(answer(rx, Duration::from_secs(5)).is_some(), "the engine answers nothing while the store stalls");
        let discover = ClientMsg::new(DhcpMessage::Discover.message_type(), hw(7), 7).bytes();
        clients.send_to(&discover, server_addr).unwrap();
        assert_eq!(reply(&clients).map(|r| r.msg), Some(DhcpMessage::Offer), "no OFFER while the store stalls");
        open.store(true, Ordering::Release);
        let ack = reply(&clients).expect("the held ACK once the store commits");
        assert_eq!((ack.msg, ack.yiaddr), (DhcpMessage::Ack, offered[1]));
        // The disk is quick again: once no commit has stalled for `calm`, the engine thread commits again.
        wait_until(|| !counters.store_thread.load(Ordering::Relaxed), "the commits never came back");
        let offer = offers(&clients, server_addr, 3)[2];
        clients.send_to(&request(2, offer), server_addr).unwrap();
        assert_eq!(reply(&clients).map(|r| (r.msg, r.yiaddr)), Some((DhcpMessage::Ack, offer)));
        assert!(!counters.store_thread.load(Ordering::Relaxed), "a quick commit sent them away again");
    }

    /// A store that keeps what it is given.
    struct Kept(Arc<std::sync::Mutex<Vec<Change>>>);

    impl LeaseStore for Kept {
        fn load_into(&mut self, _: &mut dyn crate::store::LoadSink) -> Result<(), StoreError> {
            Ok(())
        }

        fn commit(&mut self, _: dhcplab_engine::Instant, changes: &[Change]) -> Result<CommitReport, StoreError> {
            self.0.lock().unwrap().extend_from_slice(changes);
            Ok(CommitReport::default())
        }
    }

    #[test]
    fn three_packet_threads_share_one_engine_and_every_client_gets_one_address_stored_before_its_ack() {
        let clients = clients();
        let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
        let counters = Arc::new(Counters::default());
        let started = std::time::Instant::now();
        let (cmd_tx, server_addr) =
            spawn_engine_threads(3, SUBNET, &clients, Box::new(Kept(kept.clone())), counters.clone(), |e| e);
        // 240 clients (the pool holds 241), 40 at once, from one address and port: the kernel spreads them
        // over the three sockets by hardware address (`hw(i)` gives 0..240 there), and only the packet
        // threads read the second and third. (Waves of 40, so the replies fit the clients' receive buffer.)
        let exchange = |kind: DhcpMessage, offered: &std::collections::HashMap<u32, Ipv4Addr>| {
            let mut got = std::collections::HashMap::new();
            for wave in (0..240u32).collect::<Vec<_>>().chunks(40) {
                for &i in wave {
                    let mut m = ClientMsg::new(kind.message_type(), hw(i), i);
                    if let Some(ip) = offered.get(&i) {
                        m = m.requested(*ip).server(Ipv4Addr::new(192, 0, 2, 1));
                    }
                    clients.send_to(&m.bytes(), server_addr).unwrap();
                }
                for _ in wave {
                    let Some(r) = reply(&clients) else { break };
                    let expected = if kind == DhcpMessage::Discover { DhcpMessage::Offer } else { DhcpMessage::Ack };
                    assert_eq!(r.msg, expected);
                    assert!(got.insert(r.xid, r.yiaddr).is_none(), "two replies to client {}", r.xid);
                }
            }
            got
        };
        let offered = exchange(DhcpMessage::Discover, &Default::default());
        assert_eq!(offered.len(), 240, "every client is offered an address");
        let distinct: std::collections::HashSet<_> = offered.values().collect();
        assert_eq!(distinct.len(), 240, "no address offered twice");
        let acked = exchange(DhcpMessage::Request, &offered);
        assert_eq!(acked, offered, "every client ACKed the address it was offered");
        let stored: std::collections::HashSet<Ipv4Addr> = kept.lock().unwrap().iter().map(Change::ip).collect();
        assert!(acked.values().all(|ip| stored.contains(ip)), "an ACK left before its lease was stored");
        assert_eq!(stats(&cmd_tx).bound, 240);
        // Every thread's holds of the engine are counted, and being one at a time they add up to no more
        // than the time since the engine was made.
        let busy = std::time::Duration::from_nanos(counters.engine_busy_nanos.load(Ordering::Relaxed));
        assert!(!busy.is_zero(), "the engine's busy time is counted");
        assert!(busy <= started.elapsed(), "holds of one lock add up to {busy:?}, more than the time since");
    }
}
