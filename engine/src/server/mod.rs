//! The DHCPv4 server as a sans-IO state machine (RFC 2131 §4.3).
//!
//! Feed it with [`Server::handle_packet`] and [`Server::handle_timeout`]; after each call drain
//! [`Server::poll_transmit`] and [`Server::poll_event`], and wake it again at [`Server::poll_timeout`].
//! Calling `handle_timeout` early is harmless.

use crate::allocator::{Allocator, Share};
use crate::class::{ClientFacts, Membership};
use crate::config::HexBytes;
use crate::config::{ConfigError, ServerConfig};
use crate::ddns::{self, DnsChange, DnsOp};
use crate::event::{LeaseEvent, LeaseEventKind};
use crate::hwaddr::HwAddr;
use crate::lease::{ClientKeyRef, Lease, LeaseState};
use crate::lease_table::LeaseTable;
use crate::message::DhcpMessage;
use crate::packet::{DropReason, Dropped, Request, parse_request};
use crate::reply::{self, Destination, LeaseTimes};
use crate::stats::Stats;
use crate::stored_leases::StoredLeases;
use crate::subnet::Subnet;
use crate::time::{Duration, Instant};
use dhcproto::v4::MessageType;
use ipnet::Ipv4Net;
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use rate_limit::RateLimit;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

mod conflict;
mod expiry;
mod message_size;
mod pin;
mod reply_template;
mod shared;
mod store_down;
pub use conflict::{MAX_TRIES, Ping, QUIET_MEMORY};
pub use expiry::{EXPIRY_PAUSE, EXPIRY_SLICE};
pub use pin::PinError;

/// Where a packet came from and which of the server's links it arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// The caller's name for the receiving link (an interface index, a simulated NIC); echoed on replies.
    pub iface: u32,
    /// The server's own address on that link: it selects the subnet for directly attached clients and is
    /// the server identifier (RFC 2131 §4.1, option 54).
    pub local_addr: Ipv4Addr,
    /// The sender's address and port (0.0.0.0:68 for a client without an address, giaddr:67 for a relay).
    pub src: SocketAddrV4,
}

/// Who has an address a client may be given by its REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// This client: its offer, its lease, or its reservation.
    Own,
    /// Nobody.
    Free,
    /// Another client we offered it to, who has not asked for it yet.
    Offered,
}

/// A reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub iface: u32,
    /// Send from this address, port 67.
    pub src: Ipv4Addr,
    pub dst: Destination,
    /// OFFER, ACK or NAK.
    pub kind: DhcpMessage,
    /// The address the reply grants (0.0.0.0 for a NAK or the ACK of an INFORM): an ACK whose lease the
    /// store refuses is held back by this.
    pub yiaddr: Ipv4Addr,
    /// An ACK that announces a lease change, which must be durable before the ACK leaves. False for the
    /// ACK of a renewal answered while the store is down (it extends nothing).
    pub needs_store: bool,
    pub xid: u32,
    pub bytes: Vec<u8>,
}

/// Address use of one subnet, for the API and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetUsage {
    pub cidr: Ipv4Net,
    /// Addresses in the dynamic pools.
    pub pool_size: usize,
    /// Held by offers and bindings (and reservations inside the pools).
    pub used: usize,
    pub free: usize,
    pub declined: usize,
}

/// A stored lease that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("{ip} is already held by {holder}")]
    Conflict { ip: Ipv4Addr, holder: String },
}

pub struct Server {
    config: ServerConfig,
    subnets: Vec<Subnet>,
    table: LeaseTable,
    rng: Pcg32,
    transmits: VecDeque<Transmit>,
    events: VecDeque<LeaseEvent>,
    stats: Stats,
    per_client: RateLimit<HwAddr>,
    per_link: RateLimit<u32>,
    /// This server's part of the pools when several servers share one lease database.
    share: Option<Share>,
    /// This server's name in a shared lease database, written into the records it makes.
    name: Option<crate::name::Name>,
    /// While the lease store is down: the addresses whose latest change it may not have (see
    /// [`Server::set_store_down`]).
    store_down: Option<std::collections::BTreeSet<Ipv4Addr>>,
    /// The reply being built announces nothing new to store (a renewal while the store is down).
    reply_needs_store: bool,
    /// The packet being handled, stamped on the events it causes.
    exchange: Option<crate::event::Exchange>,
    /// DISCOVERs whose OFFER waits for a ping of the address to go unanswered.
    prober: conflict::Prober,
    /// DNS records to add or remove (`ddns`), for the caller to send.
    dns: VecDeque<DnsChange>,
    /// The configured classes' names, shared by the leases that record them.
    class_names: Vec<crate::name::Name>,
    /// What replies share, by subnet, classes and option 55 (see `reply_template`).
    templates: reply_template::Templates,
    reply_scratch: reply_template::Scratch,
    /// While a backlog of records due is worked off: when its next slice may run.
    expiry_resume: Option<Instant>,
    /// The caller's store is behind: no record ends until it catches up (see `set_expiry_held`).
    expiry_held: bool,
}

fn build_table(subnets: &[Subnet], config: &ServerConfig) -> (Vec<(Ipv4Net, Allocator)>, Vec<Ipv4Addr>) {
    let allocators = subnets
        .iter()
        .map(|s| {
            let ranges: Vec<_> = s.config.pool_ranges().map(|(r, _)| r).collect();
            (s.net, Allocator::new(&ranges, config.policy.allocator))
        })
        .collect();
    let reserved = subnets.iter().flat_map(|s| s.reserved_ips()).collect();
    (allocators, reserved)
}

/// At most 1/`MAX_QUARANTINED_SHARE` of a pool stays quarantined after DECLINEs.
const MAX_QUARANTINED_SHARE: usize = 4;

/// What the server decided for one message.
enum Outcome {
    /// The reply's bytes, its kind and the address it gives.
    Reply(Vec<u8>, DhcpMessage, Ipv4Addr),
    Silent,
}

impl Server {
    /// A server for `config`; `seed` drives the random allocator, so a run is reproducible.
    pub fn new(config: ServerConfig, seed: u64) -> Result<Self, Vec<ConfigError>> {
        config.validate()?;
        let subnets: Vec<Subnet> = config.subnets.iter().cloned().map(Subnet::new).collect();
        let (allocators, reserved) = build_table(&subnets, &config);
        Ok(Server {
            table: LeaseTable::new(allocators, reserved),
            subnets,
            config,
            rng: Pcg32::seed_from_u64(seed),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            per_client: RateLimit::default(),
            per_link: RateLimit::default(),
            share: None,
            name: None,
            store_down: None,
            reply_needs_store: true,
            exchange: None,
            prober: conflict::Prober::default(),
            dns: VecDeque::new(),
            class_names: vec![],
            templates: reply_template::Templates::default(),
            reply_scratch: reply_template::Scratch::default(),
            expiry_resume: None,
            expiry_held: false,
        }
        .with_class_names())
    }

    fn with_class_names(mut self) -> Self {
        self.class_names = self.config.classes.iter().map(|c| c.name.as_str().into()).collect();
        self
    }

    /// Applies a new config, keeping every lease. A config that does not validate changes nothing.
    pub fn reconfigure(&mut self, config: ServerConfig) -> Result<(), Vec<ConfigError>> {
        config.validate()?;
        self.subnets = config.subnets.iter().cloned().map(Subnet::new).collect();
        let (allocators, reserved) = build_table(&self.subnets, &config);
        self.table.rebuild(allocators, reserved);
        self.config = config;
        self.class_names = self.config.classes.iter().map(|c| c.name.as_str().into()).collect();
        self.templates.clear();
        Ok(())
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Loads a lease from storage at start-up. Leases whose time has passed expire from the next
    /// `handle_timeout` on. A lease that conflicts with one already loaded is refused.
    pub fn restore(&mut self, lease: Lease) -> Result<(), RestoreError> {
        if let Some(existing) = self.table.get(lease.ip)
            && existing.state.holds_address()
            && lease.state.holds_address()
        {
            return Err(RestoreError::Conflict { ip: lease.ip, holder: existing.client().to_string() });
        }
        // A stored client with two records in one subnet keeps the one restored last.
        let _ = self.table.insert(lease);
        Ok(())
    }

    /// Loads every stored lease at start-up, before any packet: in one pass when they are consistent (see
    /// `LeaseTable::load`), and otherwise as `restore` would one by one, the records of the pass first.
    /// Returns those refused. Of a damaged database's two holders of an address, the one read first keeps
    /// it; a client with several records in one subnet keeps the one at the highest address.
    pub fn restore_all(&mut self, stored: impl Into<StoredLeases>) -> Vec<RestoreError> {
        let rest = self.table.load(stored.into());
        rest.into_iter().filter_map(|l| self.restore(l).err()).collect()
    }

    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.table.iter()
    }

    /// The records after `after` (all when `None`), in address order: where a page of the API starts.
    pub fn leases_after(&self, after: Option<Ipv4Addr>) -> impl Iterator<Item = &Lease> {
        self.table.iter_after(after)
    }

    pub fn lease(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.table.get(ip)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn subnet_usage(&self) -> Vec<SubnetUsage> {
        self.subnets
            .iter()
            .map(|s| {
                let (pool_size, free) =
                    self.table.allocator(s.net).map(|a| (a.size(), a.free_count())).unwrap_or_default();
                let counts = self.table.counts(s.net);
                // Saturating: a pool that shrank on reload may hold fewer addresses than records in it.
                let used = pool_size.saturating_sub(free + counts.declined_in_pool);
                SubnetUsage { cidr: s.net, pool_size, used, free, declined: counts.of(LeaseState::Declined) }
            })
            .collect()
    }

    /// How many lease records there are.
    pub fn lease_count(&self) -> usize {
        self.table.len()
    }

    /// How many leases are bound now.
    pub fn bound_count(&self) -> usize {
        self.table.count_in(LeaseState::Bound)
    }

    /// How many records are in each state, in [`LeaseState::ALL`] order.
    pub fn state_counts(&self) -> Vec<usize> {
        LeaseState::ALL.iter().map(|&s| self.table.count_in(s)).collect()
    }

    /// Checks the lease table's invariants (tests, fuzzing).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.table.check_invariants()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// A transmit's bytes, once sent: the next reply is encoded into them instead of a new allocation.
    /// Optional; a caller that drops them costs an allocation per reply.
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        self.reply_scratch.give_back(bytes);
    }

    pub fn poll_event(&mut self) -> Option<LeaseEvent> {
        self.events.pop_front()
    }

    /// A DNS change a lease needs (with `ddns` configured): the caller sends it, and never holds an ACK
    /// for it.
    pub fn poll_dns(&mut self) -> Option<DnsChange> {
        self.dns.pop_front()
    }

    /// An ICMP echo request to send before an OFFER (with `conflict_probe` on).
    pub fn poll_ping(&mut self) -> Option<Ping> {
        self.prober.poll_ping()
    }

    /// When `handle_timeout` has work next: an offer, lease or probation running out, or a ping's wait.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_expiry(), self.prober.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ends the offers, leases and probations due at `now` (a backlog a slice at a time, see
    /// [`EXPIRY_SLICE`]) and offers the addresses whose pings went unanswered.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_due(now);
        // Nobody answered these pings: the addresses are free to offer.
        while let Some(w) = self.prober.due(now) {
            let still_held =
                self.table.get(w.ip).is_some_and(|l| l.is_client(w.key.as_ref()) && l.state == LeaseState::Offered);
            let Some(si) = self.subnets.iter().position(|s| s.net == w.subnet) else { continue };
            if !still_held {
                continue;
            }
            self.exchange = Some(crate::event::Exchange { xid: w.req.header.xid, iface: w.meta.iface });
            let m = self.membership(si, &w.req);
            let offer = self.make_offer(now, &w.meta, &w.req, si, w.ip, &m);
            if let Err(d) = offer.and_then(|bytes| self.queue(&w.meta, &w.req, bytes, DhcpMessage::Offer, w.ip)) {
                self.stats.count_drop(d.reason);
            }
            self.exchange = None;
        }
    }

    /// An ICMP echo reply from `ip` (to a [`Ping`] this server asked for): another host uses the address.
    /// It is quarantined like a declined one, counted, and the waiting client is offered another address.
    pub fn handle_ping_reply(&mut self, now: Instant, ip: Ipv4Addr) {
        let Some(w) = self.prober.answered(ip) else { return };
        self.stats.conflicts += 1;
        self.exchange = Some(crate::event::Exchange { xid: w.req.header.xid, iface: w.meta.iface });
        if self.table.get(ip).is_some_and(|l| l.is_client(w.key.as_ref()) && l.state == LeaseState::Offered) {
            self.make_room_in_quarantine(now, w.subnet);
            if let Some(d) =
                self.table.update(ip, LeaseState::Declined, now, now + self.config.policy.decline_probation)
            {
                let ev = LeaseEvent::from_lease(now, LeaseEventKind::Conflict, d)
                    .with_reason(format!("{ip} answered a ping: another host uses it"));
                self.emit(ev);
            }
        }
        let result = match w.tries + 1 >= MAX_TRIES {
            true => Err(Dropped::new(
                DropReason::PoolExhausted,
                format!("{MAX_TRIES} addresses in a row answered a ping (the last {ip})"),
            )),
            false => self.offer(now, &w.meta, &w.req, w.tries + 1),
        };
        match result {
            Ok(Outcome::Reply(bytes, kind, yiaddr)) => {
                if let Err(d) = self.queue(&w.meta, &w.req, bytes, kind, yiaddr) {
                    self.stats.count_drop(d.reason);
                }
            }
            Ok(Outcome::Silent) => {}
            Err(d) => self.stats.count_drop(d.reason),
        }
        self.exchange = None;
    }

    /// An admin releases a lease (the API's DELETE): the address is free again at once.
    pub fn admin_release(&mut self, now: Instant, ip: Ipv4Addr) -> Option<LeaseEvent> {
        let lease = self.table.get(ip)?.clone();
        if !matches!(lease.state, LeaseState::Bound | LeaseState::Offered) {
            return None;
        }
        let l = self.table.update(ip, LeaseState::Released, lease.obtained, now.max(lease.obtained))?;
        let ev = LeaseEvent::from_lease(now, LeaseEventKind::Released, l).with_reason("released by an administrator");
        self.emit(ev.clone());
        Some(ev)
    }

    /// One packet received on port 67. Replies and events are queued; a packet that cannot be served is
    /// counted and its reason returned (for the caller's log), and the server carries on.
    pub fn handle_packet(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<(), Dropped> {
        self.serve(now, meta, bytes, false)
    }

    /// One packet read while its link is behind: the caller's socket lost datagrams for want of room and
    /// still held more when this one was read. A DISCOVER is then dropped (`DropReason::Overload`), so the
    /// time it would take goes to the REQUESTs of exchanges already under way: each DISCOVER answered
    /// brings a REQUEST, and one lost after its OFFER wastes both. Everything else is served as by
    /// `handle_packet`.
    pub fn handle_packet_behind(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<(), Dropped> {
        self.serve(now, meta, bytes, true)
    }

    fn serve(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8], behind: bool) -> Result<(), Dropped> {
        self.handle_timeout(now);
        self.stats.received += 1;
        self.reply_needs_store = true;
        let result = parse_request(bytes).and_then(|req| {
            if behind && req.kind == DhcpMessage::Discover {
                return Err(Dropped::new(DropReason::Overload, "a DISCOVER while the link is behind"));
            }
            let policy = &self.config.policy;
            if !self.per_link.allow(now, meta.iface, policy.link_packets_per_second) {
                return Err(Dropped::new(DropReason::RateLimited, "the link is flooded"));
            }
            if !self.per_client.allow(now, req.hw, policy.client_packets_per_second) {
                // Fixed text, so a flooding client costs no formatting: the daemon's log line names its
                // hardware address (`packet::chaddr`) only when it is written.
                return Err(Dropped::new(DropReason::RateLimited, "the client sends too fast"));
            }
            self.stats.received_by_type.count(req.kind);
            self.exchange = Some(crate::event::Exchange { xid: req.header.xid, iface: meta.iface });
            let outcome = match req.kind {
                DhcpMessage::Discover => self.discover(now, &meta, &req),
                DhcpMessage::Request => self.request(now, &meta, &req),
                DhcpMessage::Decline => self.decline(now, &meta, &req),
                DhcpMessage::Release => self.release(now, &meta, &req),
                DhcpMessage::Inform => self.inform(&meta, &req),
                // `parse_request` lets only client messages through.
                DhcpMessage::Offer | DhcpMessage::Ack | DhcpMessage::Nak => {
                    Err(Dropped::new(DropReason::UnexpectedMessageType, req.kind.wire_name()))
                }
            }?;
            if let Outcome::Reply(bytes, kind, yiaddr) = outcome {
                self.queue(&meta, &req, bytes, kind, yiaddr)?;
            }
            Ok(())
        });
        self.exchange = None;
        if let Err(d) = &result {
            self.stats.count_drop(d.reason);
        }
        result
    }

    fn queue(
        &mut self,
        meta: &RecvMeta,
        req: &Request,
        bytes: Vec<u8>,
        kind: DhcpMessage,
        yiaddr: Ipv4Addr,
    ) -> Result<(), Dropped> {
        self.stats.sent += 1;
        self.stats.sent_by_type.count(kind);
        self.transmits.push_back(Transmit {
            iface: meta.iface,
            src: meta.local_addr,
            dst: Destination::for_reply(req, kind, yiaddr),
            kind,
            xid: req.header.xid,
            yiaddr,
            needs_store: kind == DhcpMessage::Ack && std::mem::replace(&mut self.reply_needs_store, true),
            bytes,
        });
        Ok(())
    }

    /// A client that starts over (DISCOVER, or INIT-REBOOT for another address) has given up its old
    /// address (RFC 2131 §4.4.1: INIT has no address); say so rather than drop it silently.
    /// A full pool: the oldest offer that nobody has requested yet gives way to a new DISCOVER, so a flood
    /// of DISCOVERs (random MACs) cannot keep real clients from an address. RFC 2131 §4.3.1 lets a server
    /// reserve an offered address; it need not.
    fn reclaim_offer(&mut self, now: Instant, si: usize, key: ClientKeyRef<'_>) -> Option<Ipv4Addr> {
        let oldest = self.table.oldest(LeaseState::Offered, self.subnets[si].net, Some(key))?.ip;
        let lease = self.table.remove(oldest)?;
        self.stats.offers_reclaimed += 1;
        let ev = LeaseEvent::from_lease(now, LeaseEventKind::OfferReclaimed, &lease)
            .with_reason("the pool was full: the oldest offer gave way to a newer DISCOVER");
        self.emit(ev);
        Some(oldest)
    }

    /// At most a quarter of a subnet's pool is quarantined after DECLINEs: beyond that the oldest
    /// quarantined address is released early, so a DECLINE flood cannot take the whole pool out.
    fn make_room_in_quarantine(&mut self, now: Instant, subnet: Ipv4Net) {
        let pool = self.table.allocator(subnet).map_or(0, |a| a.size());
        let cap = (pool / MAX_QUARANTINED_SHARE).max(1);
        if self.table.counts(subnet).of(LeaseState::Declined) < cap {
            return;
        }
        let Some(oldest) = self.table.oldest(LeaseState::Declined, subnet, None).map(|l| l.ip) else { return };
        if let Some(lease) = self.table.remove(oldest) {
            self.stats.quarantine_evictions += 1;
            let mut ev = LeaseEvent::from_lease(now, LeaseEventKind::Reclaimed, &lease)
                .with_reason("a quarter of the pool was quarantined: the oldest declined address came back early");
            ev.state = None;
            self.emit(ev);
        }
    }

    /// The client's binding at `ip` ends now, so the address is free at once: it will DISCOVER and be
    /// offered `reserved`.
    fn move_to_reservation(&mut self, now: Instant, ip: Ipv4Addr, reserved: Ipv4Addr, key: ClientKeyRef<'_>) {
        if !self.table.get(ip).is_some_and(|l| l.is_client(key) && l.state.holds_address()) {
            return;
        }
        if let Some(mut old) = self.table.remove(ip) {
            old.state = LeaseState::Released;
            old.expires = now.max(old.obtained);
            let ev = LeaseEvent::from_lease(now, LeaseEventKind::Released, &old)
                .with_reason(format!("a reservation gives this client {reserved}"));
            self.emit(ev);
        }
    }

    fn report_displaced(&mut self, now: Instant, displaced: Option<Lease>) {
        if let Some(mut old) = displaced {
            old.state = LeaseState::Released;
            old.expires = now.max(old.obtained);
            let ev = LeaseEvent::from_lease(now, LeaseEventKind::Released, &old)
                .with_reason("the client started over and was given another address");
            self.emit(ev);
        }
    }

    fn emit(&mut self, mut ev: LeaseEvent) {
        ev.exchange = ev.exchange.or(self.exchange);
        // A binding gets its records; its end (release, expiry, the client moving on) takes them away.
        // Renewals keep them (a new name is handled in `bind`); other servers' records are theirs.
        let op = match ev.kind {
            LeaseEventKind::Bound => Some(DnsOp::Add),
            LeaseEventKind::Released | LeaseEventKind::Expired => Some(DnsOp::Remove),
            _ => None,
        };
        if let Some(op) = op {
            self.dns_change(op, ev.dns_name.as_deref(), ev.ip, &ev.hw, ev.client_id.as_ref());
        }
        self.events.push_back(ev);
    }

    /// The name a client called `sent` gets in DNS, when dynamic DNS is on.
    fn dns_name(&self, sent: Option<&str>) -> Option<crate::name::Name> {
        let names = self.config.ddns.as_ref()?;
        ddns::fqdn(sent?, &names.forward_zone).map(Into::into)
    }

    /// Queues the change of the records of `fqdn` (the name a lease registered).
    fn dns_change(&mut self, op: DnsOp, fqdn: Option<&str>, ip: Ipv4Addr, hw: &HwAddr, id: Option<&HexBytes>) {
        let (Some(names), Some(fqdn)) = (&self.config.ddns, fqdn) else { return };
        self.dns.push_back(ddns::change(op, names, fqdn, ip, hw, id));
    }

    /// Borrowed from the request: looking a client up copies nothing.
    fn client_key<'r>(&self, req: &'r Request) -> ClientKeyRef<'r> {
        match &req.client_id {
            Some(id) if self.config.policy.match_client_id => ClientKeyRef::ClientId(id),
            _ => ClientKeyRef::Hw(&req.hw),
        }
    }

    /// RFC 2131 §4.3.1 and RFC 3011/3527: link selection, else giaddr, else ciaddr, else the receiving link.
    fn subnet_of(&self, ip: Ipv4Addr) -> Result<usize, Dropped> {
        self.subnets
            .iter()
            .position(|s| s.net.contains(&ip))
            .ok_or_else(|| Dropped::new(DropReason::NoSubnet, format!("no subnet for {ip}")))
    }

    /// The subnet a message is about. Relayed, it is the one the relay names (link selection, else
    /// giaddr), if the sender is one of that subnet's relays (RFC 1542 §4, RFC 3527). From a client on the
    /// link, it is the link's own subnet, or for a client that already has an address (RENEWING,
    /// REBINDING, RELEASE, INFORM) that address's; a client cannot name another link's subnet.
    fn select_subnet(&self, meta: &RecvMeta, req: &Request) -> Result<usize, Dropped> {
        let giaddr = req.header.giaddr;
        if req.relayed() {
            let si = self.subnet_of(req.link_selection.unwrap_or(giaddr))?;
            let relay = *meta.src.ip();
            if !self.subnets[si].config.relays.contains(&relay) {
                let why = format!("{relay} is not a relay of {} ([[subnet]] relays)", self.subnets[si].net);
                return Err(Dropped::new(DropReason::UntrustedRelay, why));
            }
            return Ok(si);
        }
        let own = self.subnet_of(meta.local_addr)?;
        if let Some(named) = req.link_selection
            && !self.subnets[own].net.contains(&named)
        {
            return Err(Dropped::new(
                DropReason::ForeignSubnet,
                format!("a client on {} named {named}", self.subnets[own].net),
            ));
        }
        let ciaddr = req.header.ciaddr;
        if req.kind != DhcpMessage::Discover && !ciaddr.is_unspecified() { self.subnet_of(ciaddr) } else { Ok(own) }
    }

    /// RFC 2131 §4.3.1: the client's reservation, else its current or previous address, else the address
    /// it asks for, else a free one.
    fn choose_address(&mut self, si: usize, req: &Request, key: ClientKeyRef<'_>, m: &Membership) -> Option<Ipv4Addr> {
        let s = &self.subnets[si];
        if let Some(r) = s.reservation_at(m.reservation)
            && !self.held_by_other(r.ip, key)
        {
            return Some(r.ip);
        }
        if let Some(l) = self.table.client_lease(s.net, key)
            && (l.state.holds_address() || self.table.is_free(l.ip))
            && !s.reserved_for_other(l.ip, &req.hw, req.client_id.as_ref())
            && self.pool_allows(si, l.ip, m)
        {
            return Some(l.ip);
        }
        if let Some(ip) = req.requested_ip
            && s.net.contains(&ip)
            && self.table.is_free(ip)
            && self.pool_allows(si, ip, m)
        {
            return Some(ip);
        }
        let (net, rng, share) = (s.net, &mut self.rng, self.share);
        if s.config.class_pools.is_empty() {
            return self.table.allocator_mut(net)?.pick(rng, share);
        }
        // The pools kept for the client's classes first, then the open ones (see `crate::class`).
        let classes = &self.config.classes;
        let kept: Vec<bool> = s.config.pool_ranges().map(|(_, c)| c.iter().any(|n| m.is_in(classes, n))).collect();
        let open: Vec<bool> = s.config.pool_ranges().map(|(_, c)| c.is_empty()).collect();
        let allocator = self.table.allocator_mut(net)?;
        allocator.pick_in(rng, share, &|k| kept[k]).or_else(|| allocator.pick_in(rng, share, &|k| open[k]))
    }

    /// The classes the client of `req` belongs to in subnet `si`, and its reservation there.
    fn membership(&self, si: usize, req: &Request) -> Membership {
        let reservation = self.subnets[si].reservation_index(&req.hw, req.client_id.as_ref());
        if self.config.classes.is_empty() {
            return Membership { classes: vec![], reservation };
        }
        Membership::of(&self.config.classes, &ClientFacts::of(req), reservation)
    }

    /// Whether a client of these classes may have `ip`: outside every pool (a reservation, an address the
    /// rules below decide), or in a pool open to all or kept for one of its classes.
    fn pool_allows(&self, si: usize, ip: Ipv4Addr, m: &Membership) -> bool {
        let s = &self.subnets[si];
        let Some(k) = self.table.allocator(s.net).and_then(|a| a.pool_of(ip)) else { return true };
        s.config
            .pool_ranges()
            .nth(k)
            .is_none_or(|(_, c)| c.is_empty() || c.iter().any(|n| m.is_in(&self.config.classes, n)))
    }

    /// An OFFER or ACK for this client, with the options of its classes `m` (counted per class).
    #[allow(clippy::too_many_arguments)]
    fn reply_to(
        &mut self,
        req: &Request,
        kind: MessageType,
        ip: Ipv4Addr,
        server_id: Ipv4Addr,
        si: usize,
        times: Option<LeaseTimes>,
        hostname: Option<&str>,
        m: &Membership,
    ) -> Result<Vec<u8>, Dropped> {
        for &c in &m.classes {
            *self.stats.class_replies.entry(self.config.classes[c].name.clone()).or_default() += 1;
        }
        // RFC 4702 §4: a client that sent option 81 learns the name the server registers, and that the server
        // updates both records (S), overriding its wish if it asked to do the A record itself (O).
        let fqdn = match (&req.fqdn, self.dns_name(hostname.or(req.hostname.as_deref()))) {
            (Some(asked), Some(fqdn)) => dhcproto::Name::from_ascii(&*fqdn).ok().map(|domain| {
                let flags = asked.flags().set_s(true).set_o(!asked.flags().s()).set_n(false);
                dhcproto::v4::DhcpOption::ClientFQDN(dhcproto::v4::fqdn::ClientFQDN::new(flags, domain))
            }),
            _ => None,
        };
        let malformed =
            |e: dhcproto::error::EncodeError| Dropped::new(DropReason::MalformedOption, format!("reply: {e}"));
        let template = self.templates.get(req, si, &self.subnets[si], m, &self.config.classes).map_err(malformed)?;
        let own = reply_template::Own { kind, yiaddr: ip, server_id, lease: times, hostname, fqdn };
        let mut bytes = template.encode(req, &own, &mut self.reply_scratch).map_err(malformed)?;
        let limit = message_size::limit(req);
        if bytes.len() > limit && message_size::fit(&mut bytes, limit, req.prl.as_deref()) > 0 {
            self.stats.replies_shortened += 1;
        }
        Ok(bytes)
    }

    /// True when another client holds `ip`, or it is quarantined after a DECLINE.
    fn held_by_other(&self, ip: Ipv4Addr, key: ClientKeyRef<'_>) -> bool {
        self.table
            .get(ip)
            .is_some_and(|l| l.state.holds_address() && (!l.is_client(key) || l.state == LeaseState::Declined))
    }

    /// The address reserved for this client in subnet `si`, when that is not `ip` and is free for it: the
    /// client must move there. A reservation wins over the dynamic lease it had before the reservation was
    /// made (as Kea does), so the REQUEST that would keep the old address is refused.
    fn reservation_elsewhere(
        &self,
        si: usize,
        ip: Ipv4Addr,
        key: ClientKeyRef<'_>,
        m: &Membership,
    ) -> Option<Ipv4Addr> {
        let r = self.subnets[si].reservation_at(m.reservation)?;
        (r.ip != ip && !self.held_by_other(r.ip, key)).then_some(r.ip)
    }

    /// Whether `ip` may be bound to this client (and who has it now), or why not (the NAK's message).
    /// `selecting`: the client answers an OFFER of ours (RFC 2131 §4.3.2).
    fn check_bindable(
        &self,
        si: usize,
        ip: Ipv4Addr,
        req: &Request,
        key: ClientKeyRef<'_>,
        m: &Membership,
        selecting: bool,
    ) -> Result<Claim, String> {
        let s = &self.subnets[si];
        if !s.net.contains(&ip) {
            return Err(format!("{ip} is not on this network ({})", s.net));
        }
        if s.reserved_for_other(ip, &req.hw, req.client_id.as_ref()) {
            return Err(format!("{ip} is reserved for another client"));
        }
        let reserved_here = s.reservation_at(m.reservation).is_some_and(|r| r.ip == ip);
        if !reserved_here && !self.pool_allows(si, ip, m) {
            return Err(format!("{ip} is in a pool kept for other classes of clients"));
        }
        match self.table.get(ip) {
            Some(l) if l.state == LeaseState::Declined => Err(format!("{ip} was declined and is in probation")),
            Some(l) if l.is_client(key) => Ok(Claim::Own),
            // RFC 2131 §4.3.1: an offer does not reserve the address, so the first REQUEST for it wins. A
            // client in SELECTING asks for what we offered it; if a newer DISCOVER has since been offered the
            // same address (see `reclaim_offer`: a flood of them takes the oldest offers), the client that
            // comes back first must not be refused for it.
            Some(l) if selecting && l.state == LeaseState::Offered && l.server == self.name => Ok(Claim::Offered),
            Some(l) if l.state.holds_address() => Err(format!("{ip} is leased to another client")),
            _ if reserved_here => Ok(Claim::Own),
            _ if self.table.is_free(ip) => Ok(Claim::Free),
            _ => Err(format!("{ip} is not in an address pool")),
        }
    }

    fn discover(&mut self, now: Instant, meta: &RecvMeta, req: &Request) -> Result<Outcome, Dropped> {
        // A retransmission while the address is being probed: the OFFER is on its way.
        if self.prober.is_waiting(self.client_key(req)) {
            return Ok(Outcome::Silent);
        }
        self.offer(now, meta, req, 0)
    }

    /// RFC 2131 §4.3.1: an address is chosen and held for the client; the OFFER goes now, or once a ping
    /// of the address has gone unanswered (`tries`: addresses of this DISCOVER that answered already).
    fn offer(&mut self, now: Instant, meta: &RecvMeta, req: &Request, tries: u8) -> Result<Outcome, Dropped> {
        let si = self.select_subnet(meta, req)?;
        let key = self.client_key(req);
        let m = self.membership(si, req);
        let ip = match self.choose_address(si, req, key, &m) {
            Some(ip) => ip,
            None => self.reclaim_offer(now, si, key).ok_or_else(|| {
                Dropped::new(DropReason::PoolExhausted, format!("no free address in {}", self.subnets[si].net))
            })?,
        };
        let s = &self.subnets[si];
        let lease_time = s.lease_time(req.lease_time);
        // An address this client holds or held last needs no probe: nobody else was given it since.
        let own_state = self.table.get(ip).filter(|l| l.is_client(key)).map(|l| l.state);
        let already_bound = own_state == Some(LeaseState::Bound);
        if !already_bound {
            let displaced = self.table.insert(Lease {
                ip,
                subnet: s.net,
                keyed_by: key.keyed_by(),
                hw: req.hw,
                client_id: req.client_id.clone(),
                hostname: req.hostname.clone(),
                state: LeaseState::Offered,
                obtained: now,
                expires: now + self.config.policy.offer_hold,
                lease_secs: crate::time::secs(lease_time),
                server: self.name.clone(),
                class: None,
                dns_name: None,
            });
            self.report_displaced(now, displaced);
        }
        if let Some(wait) = self.config.policy.conflict_probe
            && own_state.is_none()
            && !self.prober.recently_quiet(now, ip)
        {
            let subnet = self.subnets[si].net;
            self.stats.conflict_probes += 1;
            let (meta, req, key) = (*meta, req.clone(), key.into_owned());
            self.prober.start(conflict::Waiting { ip, subnet, key, deadline: now + wait, meta, req, tries });
            return Ok(Outcome::Silent);
        }
        let bytes = self.make_offer(now, meta, req, si, ip, &m)?;
        Ok(Outcome::Reply(bytes, DhcpMessage::Offer, ip))
    }

    /// The OFFER of `ip`, held for the client already, and its event.
    fn make_offer(
        &mut self,
        now: Instant,
        meta: &RecvMeta,
        req: &Request,
        si: usize,
        ip: Ipv4Addr,
        m: &Membership,
    ) -> Result<Vec<u8>, Dropped> {
        if let Some(l) = self.table.get(ip) {
            let ev = LeaseEvent::from_lease(now, LeaseEventKind::Offered, l);
            self.emit(ev);
        }
        let s = &self.subnets[si];
        let lease_time = s.lease_time(req.lease_time);
        let (t1, t2) = s.timers(lease_time);
        let hostname = s.reservation_at(m.reservation).and_then(|r| r.hostname.clone());
        let times = LeaseTimes { lease: lease_time, t1, t2 };
        self.reply_to(req, MessageType::Offer, ip, meta.local_addr, si, Some(times), hostname.as_deref(), m)
    }

    fn request(&mut self, now: Instant, meta: &RecvMeta, req: &Request) -> Result<Outcome, Dropped> {
        let si = self.select_subnet(meta, req)?;
        let key = self.client_key(req);
        let net = self.subnets[si].net;
        let ciaddr = req.header.ciaddr;
        // RFC 2131 §4.3.2: the client's state shows in which fields it filled in.
        let (ip, selecting) = match (req.server_id, req.requested_ip) {
            (Some(sid), _) if sid != meta.local_addr => {
                // SELECTING, and the client chose another server: our offer is free again.
                if let Some(l) = self.table.client_lease(net, key).cloned()
                    && l.state == LeaseState::Offered
                {
                    self.table.remove(l.ip);
                    let ev = LeaseEvent::from_lease(now, LeaseEventKind::OfferWithdrawn, &l)
                        .with_reason(format!("client chose server {sid}"));
                    self.emit(ev);
                }
                return Ok(Outcome::Silent);
            }
            (Some(_), requested) => {
                let ip = requested.or(Some(ciaddr).filter(|a| !a.is_unspecified()));
                (
                    ip.ok_or_else(|| {
                        Dropped::new(DropReason::IncompleteRequest, "SELECTING without requested address")
                    })?,
                    true,
                )
            }
            // INIT-REBOOT: requested address, no ciaddr.
            (None, Some(ip)) if ciaddr.is_unspecified() => (ip, false),
            // RENEWING (unicast) or REBINDING (broadcast): ciaddr.
            (None, _) if !ciaddr.is_unspecified() => (ciaddr, false),
            (None, _) => {
                return Err(Dropped::new(
                    DropReason::IncompleteRequest,
                    "REQUEST without server id, address or ciaddr",
                ));
            }
        };
        if let Some(unconfirmed) = &self.store_down {
            return self.answer_while_store_down(now, meta, req, si, ip, key, unconfirmed.contains(&ip));
        }
        let m = self.membership(si, req);
        if let Some(reserved) = self.reservation_elsewhere(si, ip, key, &m) {
            // This server holds the client's record, so it answers even when not authoritative.
            self.move_to_reservation(now, ip, reserved, key);
            let reason = format!("{reserved} is reserved for this client; {ip} is no longer its address");
            return self.nak(now, meta, req, net, ip, reason);
        }
        match self.check_bindable(si, ip, req, key, &m, selecting) {
            Ok(Claim::Own) => self.bind(now, meta, req, si, ip, key, &m),
            Ok(Claim::Offered) => {
                if let Some(taken) = self.table.remove(ip) {
                    self.stats.offers_taken += 1;
                    let ev = LeaseEvent::from_lease(now, LeaseEventKind::OfferTaken, &taken)
                        .with_reason(format!("{} asked for it first", req.hw));
                    self.emit(ev);
                }
                self.bind(now, meta, req, si, ip, key, &m)
            }
            // No record of this client for a free address: an authoritative server adopts it (its database
            // may have been lost); others must stay silent (RFC 2131 §4.3.2).
            Ok(Claim::Free) if selecting || self.config.policy.authoritative => {
                self.bind(now, meta, req, si, ip, key, &m)
            }
            Ok(Claim::Free) => Ok(Outcome::Silent),
            Err(reason) if selecting || self.config.policy.authoritative || !self.subnets[si].net.contains(&ip) => {
                self.nak(now, meta, req, net, ip, reason)
            }
            Err(_) => Ok(Outcome::Silent),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        now: Instant,
        meta: &RecvMeta,
        req: &Request,
        si: usize,
        ip: Ipv4Addr,
        key: ClientKeyRef<'_>,
        m: &Membership,
    ) -> Result<Outcome, Dropped> {
        let s = &self.subnets[si];
        let lease_time = s.lease_time(req.lease_time);
        let (t1, t2) = s.timers(lease_time);
        let prev = self.table.get(ip).filter(|l| l.is_client(key));
        let renewed = prev.is_some_and(|l| l.state == LeaseState::Bound);
        let reservation = s.reservation_at(m.reservation);
        let hostname = reservation.and_then(|r| r.hostname.clone());
        let sent = req.hostname.clone().or_else(|| prev.and_then(|p| p.hostname.clone()));
        // A reservation's host name is the client's name in DNS too.
        let dns_name = self.dns_name(hostname.as_deref().or(sent.as_deref()));
        // A renewal under a new name moves the records to it: the old ones go under the old identity.
        let renamed =
            prev.filter(|p| renewed && p.dns_name != dns_name).map(|p| (p.dns_name.clone(), p.hw, p.client_id.clone()));
        let class = m.classes.first().and_then(|&i| self.class_names.get(i).cloned());
        let lease = Lease {
            ip,
            subnet: s.net,
            keyed_by: key.keyed_by(),
            hw: req.hw,
            client_id: req.client_id.clone(),
            dns_name,
            hostname: sent,
            state: LeaseState::Bound,
            obtained: now,
            expires: now + lease_time,
            lease_secs: crate::time::secs(lease_time),
            server: self.name.clone(),
            class,
        };
        let kind = if renewed { LeaseEventKind::Renewed } else { LeaseEventKind::Bound };
        let event = LeaseEvent::from_lease(now, kind, &lease);
        let update_on_renew = self.config.ddns.as_ref().is_some_and(|d| d.update_on_renew);
        if let Some((old_name, old_hw, old_id)) = renamed {
            self.dns_change(DnsOp::Remove, old_name.as_deref(), ip, &old_hw, old_id.as_ref());
            self.dns_change(DnsOp::Add, lease.dns_name.as_deref(), ip, &lease.hw, lease.client_id.as_ref());
        } else if renewed && update_on_renew {
            self.dns_change(DnsOp::Add, lease.dns_name.as_deref(), ip, &lease.hw, lease.client_id.as_ref());
        }
        let displaced = self.table.insert(lease);
        self.report_displaced(now, displaced);
        self.emit(event);
        let times = LeaseTimes { lease: lease_time, t1, t2 };
        let bytes =
            self.reply_to(req, MessageType::Ack, ip, meta.local_addr, si, Some(times), hostname.as_deref(), m)?;
        Ok(Outcome::Reply(bytes, DhcpMessage::Ack, ip))
    }

    fn nak(
        &mut self,
        now: Instant,
        meta: &RecvMeta,
        req: &Request,
        net: Ipv4Net,
        ip: Ipv4Addr,
        reason: String,
    ) -> Result<Outcome, Dropped> {
        self.emit(LeaseEvent {
            at: now,
            kind: LeaseEventKind::Nak,
            ip,
            subnet: net,
            hw: req.hw,
            client_id: req.client_id.clone(),
            hostname: req.hostname.clone(),
            state: None,
            obtained: now,
            expires: now,
            reason: Some(reason.clone()),
            server: self.name.clone(),
            exchange: None,
            class: None,
            dns_name: None,
        });
        let bytes = reply::encode(&reply::nak(req, meta.local_addr, &reason))
            .map_err(|e| Dropped::new(DropReason::MalformedOption, format!("reply: {e}")))?;
        Ok(Outcome::Reply(bytes, DhcpMessage::Nak, Ipv4Addr::UNSPECIFIED))
    }

    /// RFC 2131 §4.3.3: the client found the address in use; quarantine it.
    fn decline(&mut self, now: Instant, meta: &RecvMeta, req: &Request) -> Result<Outcome, Dropped> {
        let ip =
            req.requested_ip.ok_or_else(|| Dropped::new(DropReason::IncompleteRequest, "DECLINE without option 50"))?;
        if req.server_id.is_some_and(|s| s != meta.local_addr) {
            return Ok(Outcome::Silent);
        }
        let key = self.client_key(req);
        if let Some(l) = self.table.get(ip).cloned()
            && l.is_client(key)
            && matches!(l.state, LeaseState::Offered | LeaseState::Bound)
        {
            self.make_room_in_quarantine(now, l.subnet);
        }
        if let Some(l) = self.table.get(ip).cloned()
            && l.is_client(key)
            && matches!(l.state, LeaseState::Offered | LeaseState::Bound)
            && let Some(d) =
                self.table.update(ip, LeaseState::Declined, now, now + self.config.policy.decline_probation)
        {
            let ev = LeaseEvent::from_lease(now, LeaseEventKind::Declined, d);
            self.emit(ev);
        }
        Ok(Outcome::Silent)
    }

    /// RFC 2131 §4.3.4: the client gives its address back; we remember it as the client's for next time.
    fn release(&mut self, now: Instant, meta: &RecvMeta, req: &Request) -> Result<Outcome, Dropped> {
        if req.server_id.is_some_and(|s| s != meta.local_addr) {
            return Ok(Outcome::Silent);
        }
        let ip = req.header.ciaddr;
        let key = self.client_key(req);
        if let Some(l) = self.table.get(ip).cloned()
            && l.is_client(key)
            && l.state == LeaseState::Bound
            && let Some(r) = self.table.update(ip, LeaseState::Released, l.obtained, now.max(l.obtained))
        {
            let ev = LeaseEvent::from_lease(now, LeaseEventKind::Released, r);
            self.emit(ev);
        }
        Ok(Outcome::Silent)
    }

    /// RFC 2131 §4.3.5: configuration only, no lease, no lease time.
    fn inform(&mut self, meta: &RecvMeta, req: &Request) -> Result<Outcome, Dropped> {
        let si = self.select_subnet(meta, req)?;
        let m = self.membership(si, req);
        let hostname = self.subnets[si].reservation_at(m.reservation).and_then(|r| r.hostname.clone());
        let none = Ipv4Addr::UNSPECIFIED;
        let bytes = self.reply_to(req, MessageType::Ack, none, meta.local_addr, si, None, hostname.as_deref(), &m)?;
        Ok(Outcome::Reply(bytes, DhcpMessage::Ack, none))
    }

    /// How long the server keeps an offered address for the client (for tests and the lab).
    pub fn offer_hold(&self) -> Duration {
        self.config.policy.offer_hold
    }
}

mod rate_limit;

#[cfg(test)]
mod tests;
