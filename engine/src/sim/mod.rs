//! A deterministic virtual LAN: segments, client hosts, servers, relay agents and static hosts exchanging
//! real encoded DHCP packets in Ethernet/IPv4/UDP frames. Simulated time jumps from one event to the next,
//! so hours of lease time pass in microseconds. The same seed gives the same trace, byte for byte; "step
//! back" is a replay to an earlier step.

mod action;
mod explain;
mod index;
mod relay;
pub mod scenario;
mod scheduler;
pub mod topology;
pub mod trace;

use crate::client::{Client, ClientConfig, ClientEvent, ClientTransmit};
use crate::config::ServerConfig;
use crate::event::PacketSummary;
use crate::hwaddr::HwAddr;
use crate::message::{CLIENT_PORT, SERVER_PORT};
use crate::pcap::{self, Frame};
use crate::relay::{RelayAgent, RelayLink};
use crate::server::{RecvMeta, Server};
use crate::time::{Duration, Instant};
pub use action::Action;
use index::Index;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use scheduler::Scheduler;
use std::net::{Ipv4Addr, SocketAddrV4};
pub use topology::{Nic, NicId, Node, NodeId, NodeKind, NodeRole, Segment, SegmentId};
pub use trace::{Text, TraceEntry, TraceKind};

pub const BROADCAST_MAC: HwAddr = HwAddr::ethernet([0xff; 6]);

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Deliver { nic: NicId, frame: Frame },
    ArpReply { nic: NicId, ip: Ipv4Addr },
    Wake { node: NodeId },
    Act(Action),
}

/// A datagram a node wants sent.
struct Outgoing {
    nic: NicId,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    /// Set when the sender addresses the frame itself (broadcast, or chaddr without ARP).
    dst_mac: Option<HwAddr>,
    payload: Vec<u8>,
}

pub struct Sim {
    pub segments: Vec<Segment>,
    pub nics: Vec<Nic>,
    pub nodes: Vec<Node>,
    seed: u64,
    now: Instant,
    queue: Scheduler<Event>,
    rng: Pcg32,
    trace: Vec<TraceEntry>,
    packets: u64,
    /// The wake-up each node has queued, so a node is not queued twice for the same instant.
    wakes: Vec<Option<Instant>>,
    /// Events processed; a guard against runaway loops.
    pub events_processed: u64,
    /// Indexes, so that a frame or an ARP probe never scans every NIC (10,000-host networks).
    index: Index,
}

impl Sim {
    pub fn new(seed: u64) -> Self {
        Sim {
            segments: vec![],
            nics: vec![],
            nodes: vec![],
            seed,
            now: Instant::ZERO,
            queue: Scheduler::default(),
            rng: Pcg32::seed_from_u64(seed),
            trace: vec![],
            packets: 0,
            wakes: vec![],
            events_processed: 0,
            index: Index::default(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    pub fn add_segment(&mut self, name: &str) -> SegmentId {
        self.segments.push(Segment { name: name.into(), delay: Duration::from_millis(1), loss: 0.0, duplicate: 0.0 });
        self.index.servers.push(vec![]);
        self.index.hosts.push(vec![]);
        self.segments.len() - 1
    }

    /// Files a NIC under its segment, MAC and address. Called once its node's kind is known.
    fn index_nic(&mut self, nic: NicId) {
        let n = &self.nics[nic];
        let list = match self.nodes[n.node].kind {
            NodeKind::Host { .. } => Some(&mut self.index.hosts),
            NodeKind::Server { .. } | NodeKind::Relay { .. } => Some(&mut self.index.servers),
            NodeKind::Static { .. } => None,
        };
        if let Some(list) = list
            && let Some(seg) = list.get_mut(n.segment)
            && !seg.contains(&nic)
        {
            seg.push(nic);
        }
        self.index.by_mac.insert(n.mac, nic);
        let fixed = n.fixed.map(|(ip, _)| ip);
        self.index.set_addr(nic, fixed);
    }

    fn unindex_segment(&mut self, nic: NicId) {
        for list in self.index.servers.iter_mut().chain(self.index.hosts.iter_mut()) {
            list.retain(|&n| n != nic);
        }
    }

    /// Re-reads the addresses of a host's NICs after its clients ran.
    fn refresh_addresses(&mut self, node: NodeId) {
        if let NodeKind::Host { nics, clients } = &self.nodes[node].kind {
            let pairs: Vec<(NicId, Option<Ipv4Addr>)> =
                nics.iter().zip(clients).map(|(&n, c)| (n, c.address())).collect();
            for (n, a) in pairs {
                self.index.set_addr(n, a);
            }
        }
    }

    fn add_nic(&mut self, node: NodeId, segment: SegmentId, fixed: Option<(Ipv4Addr, u8)>, index: usize) -> NicId {
        let id = self.nics.len() as u32 + 1;
        let b = id.to_be_bytes();
        self.nics.push(Nic {
            node,
            segment,
            mac: HwAddr::ethernet([0x52, 0x54, 0x00, b[1], b[2], b[3]]),
            name: format!("eth{index}"),
            fixed,
            up: true,
        });
        self.index.addr.push(None);
        self.nics.len() - 1
    }

    fn add_node(&mut self, name: &str, kind: NodeKind) -> NodeId {
        self.nodes.push(Node { name: name.into(), kind, removed: false });
        self.wakes.push(None);
        self.nodes.len() - 1
    }

    /// A DHCP server with one NIC per `(segment, address, prefix length)`.
    pub fn add_server(
        &mut self,
        name: &str,
        config: ServerConfig,
        nics: &[(SegmentId, Ipv4Addr, u8)],
    ) -> Result<NodeId, Vec<crate::config::ConfigError>> {
        let server = Server::new(config, self.seed ^ (self.nodes.len() as u64) << 32)?;
        let node = self.add_node(name, NodeKind::Server { nics: vec![], server: Box::new(server), online: true });
        let ids: Vec<NicId> =
            nics.iter().enumerate().map(|(i, &(seg, ip, len))| self.add_nic(node, seg, Some((ip, len)), i)).collect();
        if let NodeKind::Server { nics, .. } = &mut self.nodes[node].kind {
            *nics = ids.clone();
        }
        ids.into_iter().for_each(|n| self.index_nic(n));
        Ok(node)
    }

    /// A host with one NIC (and one DHCP client) per segment given. The clients do not start until a
    /// [`Action::Start`]. `hostname` goes in option 12.
    pub fn add_host(&mut self, name: &str, segments: &[SegmentId]) -> NodeId {
        let node = self.add_node(name, NodeKind::Host { nics: vec![], clients: vec![] });
        let mut nics = vec![];
        let mut clients = vec![];
        for (i, &seg) in segments.iter().enumerate() {
            let nic = self.add_nic(node, seg, None, i);
            let mut cfg = ClientConfig::new(self.nics[nic].mac);
            cfg.hostname = Some(name.to_string());
            let seed = self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (nic as u64 + 1);
            clients.push(Client::new(cfg, seed));
            nics.push(nic);
        }
        self.nodes[node].kind = NodeKind::Host { nics: nics.clone(), clients };
        nics.into_iter().for_each(|n| self.index_nic(n));
        node
    }

    /// A router and relay agent with one NIC per `(segment, address, prefix length)`; it relays to `servers`.
    pub fn add_relay(&mut self, name: &str, nics: &[(SegmentId, Ipv4Addr, u8)], servers: Vec<Ipv4Addr>) -> NodeId {
        let links = nics
            .iter()
            .map(|&(seg, addr, _)| RelayLink { addr, circuit_id: self.segments[seg].name.clone().into_bytes() })
            .collect();
        let node = self.add_node(name, NodeKind::Relay { nics: vec![], agent: RelayAgent::new(links, servers) });
        let ids: Vec<NicId> =
            nics.iter().enumerate().map(|(i, &(seg, ip, len))| self.add_nic(node, seg, Some((ip, len)), i)).collect();
        if let NodeKind::Relay { nics, .. } = &mut self.nodes[node].kind {
            *nics = ids.clone();
        }
        ids.into_iter().for_each(|n| self.index_nic(n));
        node
    }

    /// A host with a fixed address and no DHCP client.
    pub fn add_static(&mut self, name: &str, segment: SegmentId, ip: Ipv4Addr, prefix: u8) -> NodeId {
        let node = self.add_node(name, NodeKind::Static { nic: 0 });
        let nic = self.add_nic(node, segment, Some((ip, prefix)), 0);
        self.nodes[node].kind = NodeKind::Static { nic };
        self.index_nic(nic);
        node
    }

    /// The DHCP client behind a host's `nic`-th NIC.
    pub fn client(&self, node: NodeId, nic: usize) -> Option<&Client> {
        match &self.nodes.get(node)?.kind {
            NodeKind::Host { clients, .. } => clients.get(nic),
            _ => None,
        }
    }

    /// Mutable access, e.g. to change a client's configuration before it starts.
    pub fn client_mut(&mut self, node: NodeId, nic: usize) -> Option<&mut Client> {
        match &mut self.nodes.get_mut(node)?.kind {
            NodeKind::Host { clients, .. } => clients.get_mut(nic),
            _ => None,
        }
    }

    pub fn server(&self, node: NodeId) -> Option<&Server> {
        match &self.nodes.get(node)?.kind {
            NodeKind::Server { server, .. } => Some(server),
            _ => None,
        }
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Queues an action at `at` (at least now).
    pub fn schedule(&mut self, at: Instant, action: Action) {
        self.push(at.max(self.now), Event::Act(action));
    }

    /// Does an action now and processes what it sets off at this instant.
    pub fn act(&mut self, action: Action) {
        self.schedule(self.now, action);
        self.run_until(self.now);
    }

    fn push(&mut self, at: Instant, event: Event) {
        self.queue.push(at, event);
    }

    /// When the next event happens, if any.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.next_at()
    }

    /// Processes the next event; false when there is none.
    pub fn step_event(&mut self) -> bool {
        let Some((at, event)) = self.queue.pop() else { return false };
        self.now = self.now.max(at);
        self.events_processed += 1;
        match event {
            Event::Deliver { nic, frame } => self.deliver(nic, frame),
            Event::ArpReply { nic, ip } => {
                let node = self.nics[nic].node;
                let idx = self.nic_index(node, nic);
                let now = self.now;
                if let Some(c) = self.client_mut(node, idx) {
                    c.handle_arp_reply(now, ip);
                }
                self.drain(node);
            }
            Event::Wake { node } => {
                if self.wakes[node] == Some(at) {
                    self.wakes[node] = None;
                }
                let now = self.now;
                match &mut self.nodes[node].kind {
                    NodeKind::Host { clients, .. } => clients.iter_mut().for_each(|c| c.handle_timeout(now)),
                    // A server that is off keeps no time; it catches up when switched on.
                    NodeKind::Server { server, online: true, .. } => server.handle_timeout(now),
                    _ => {}
                }
                self.drain(node);
            }
            Event::Act(a) => self.apply(a),
        }
        true
    }

    /// Runs every event up to and including `until`; simulated time is then `until`.
    pub fn run_until(&mut self, until: Instant) {
        while self.next_event_at().is_some_and(|t| t <= until) {
            self.step_event();
        }
        self.now = self.now.max(until);
    }

    /// Runs until the trace has more than `n` entries (or nothing is left to happen). The lab's "step".
    pub fn run_to_entry(&mut self, n: usize) -> bool {
        self.run_to_entry_until(n, Instant::from_millis(u64::MAX))
    }

    /// As [`Sim::run_to_entry`], but never past `until` (a scenario's end).
    pub fn run_to_entry_until(&mut self, n: usize, until: Instant) -> bool {
        while self.trace.len() <= n {
            if self.next_event_at().is_none_or(|t| t > until) || !self.step_event() {
                return false;
            }
        }
        true
    }

    fn nic_index(&self, node: NodeId, nic: NicId) -> usize {
        self.nodes[node].nics().iter().position(|&n| n == nic).unwrap_or(0)
    }

    /// Records an action in the trace, then carries it out.
    fn apply(&mut self, a: Action) {
        let now = self.now;
        let what = a.what();
        // New nodes exist once added; their action is recorded against them.
        match a {
            Action::AddHost { name, segment } => return self.connect_host(name, segment, what),
            Action::AddServer { name, segment, addr, prefix, config } => {
                return self.connect_server(name, segment, (addr, prefix), *config, what);
            }
            _ => {}
        }
        let Some(node) = a.node().filter(|&n| n < self.nodes.len()) else { return };
        let text = explain::action(&self.nodes[node].name, &a);
        self.record(node, TraceKind::Action { what: what.into() }, text, None);
        match a {
            Action::Start { node, nic } => self.with_client(node, nic, |c| c.start(now)),
            Action::Release { node, nic } => self.with_client(node, nic, |c| c.release(now)),
            Action::Reboot { node, nic } => self.with_client(node, nic, |c| c.reboot(now)),
            Action::Renew { node, nic } => self.with_client(node, nic, |c| c.renew(now)),
            Action::Inform { node, nic, ip } => self.with_client(node, nic, |c| c.inform(now, ip)),
            Action::Unplug { node, nic } => self.unplug(node, nic),
            Action::Move { node, nic, segment } => self.move_nic(node, nic, segment),
            Action::ServerPower { node, online } => self.server_power(node, online),
            Action::Reconfigure { node, config } => self.reconfigure_server(node, *config),
            Action::Remove { node } => self.remove_node(node),
            Action::AddNic { node, segment } => self.add_client_nic(node, segment),
            Action::AddHost { .. } | Action::AddServer { .. } => {}
        }
        self.drain(node);
    }

    fn connect_host(&mut self, name: String, segment: SegmentId, what: &str) {
        if segment >= self.segments.len() {
            return;
        }
        let id = self.add_host(&name, &[segment]);
        let text = explain::action(&name, &Action::AddHost { name: name.clone(), segment });
        self.record(id, TraceKind::Action { what: what.into() }, text, None);
        let now = self.now;
        self.with_client(id, 0, |c| c.start(now));
        self.drain(id);
    }

    fn connect_server(
        &mut self,
        name: String,
        segment: SegmentId,
        (addr, prefix): (Ipv4Addr, u8),
        config: ServerConfig,
        what: &str,
    ) {
        if segment >= self.segments.len() {
            return;
        }
        if let Ok(id) = self.add_server(&name, config, &[(segment, addr, prefix)]) {
            let text = explain::action(&name, &Action::AddHost { name: name.clone(), segment });
            self.record(id, TraceKind::Action { what: what.into() }, text, None);
        }
    }

    fn unplug(&mut self, node: NodeId, nic: usize) {
        if let Some(&id) = self.nodes[node].nics().get(nic) {
            self.nics[id].up = false;
        }
        let now = self.now;
        self.with_client(node, nic, |c| c.unplug(now));
    }

    /// The cable goes into another segment; the client reboots there (RFC 2131 §3.2: INIT-REBOOT).
    fn move_nic(&mut self, node: NodeId, nic: usize, segment: SegmentId) {
        if let Some(&id) = self.nodes[node].nics().get(nic)
            && segment < self.segments.len()
        {
            self.unindex_segment(id);
            self.nics[id].segment = segment;
            self.nics[id].up = true;
            self.index_nic(id);
        }
        let now = self.now;
        self.with_client(node, nic, |c| c.reboot(now));
    }

    fn server_power(&mut self, node: NodeId, on: bool) {
        let now = self.now;
        if let NodeKind::Server { online, server, .. } = &mut self.nodes[node].kind {
            *online = on;
            if on {
                server.handle_timeout(now);
            }
        }
    }

    fn reconfigure_server(&mut self, node: NodeId, config: ServerConfig) {
        if let NodeKind::Server { server, .. } = &mut self.nodes[node].kind
            && let Err(errs) = server.reconfigure(config)
        {
            let why = errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
            let name = self.nodes[node].name.clone();
            let text = Text::new(
                format!("{name} refuses the new configuration: {why}"),
                format!("{name} 拒绝了新配置：{why}"),
            );
            self.record(node, TraceKind::Action { what: "configuration refused".into() }, text, None);
        }
    }

    fn remove_node(&mut self, node: NodeId) {
        let now = self.now;
        self.nodes[node].removed = true;
        for nic in self.nodes[node].nics() {
            self.nics[nic].up = false;
            self.unindex_segment(nic);
        }
        match &mut self.nodes[node].kind {
            NodeKind::Host { clients, .. } => clients.iter_mut().for_each(|c| c.unplug(now)),
            NodeKind::Server { online, .. } => *online = false,
            _ => {}
        }
    }

    /// A host gets another network card, with a client of its own that starts at once (one lease per NIC).
    fn add_client_nic(&mut self, node: NodeId, segment: SegmentId) {
        if segment >= self.segments.len() || !matches!(self.nodes[node].kind, NodeKind::Host { .. }) {
            return;
        }
        let index = self.nodes[node].nics().len();
        let nic = self.add_nic(node, segment, None, index);
        let mut cfg = ClientConfig::new(self.nics[nic].mac);
        cfg.hostname = Some(self.nodes[node].name.clone());
        let mut client = Client::new(cfg, self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (nic as u64 + 1));
        client.start(self.now);
        if let NodeKind::Host { nics, clients } = &mut self.nodes[node].kind {
            nics.push(nic);
            clients.push(client);
        }
        self.index_nic(nic);
    }

    fn with_client(&mut self, node: NodeId, nic: usize, f: impl FnOnce(&mut Client)) {
        if let Some(c) = self.client_mut(node, nic) {
            f(c);
        }
    }

    /// The address a NIC answers to right now.
    pub fn nic_address(&self, nic: NicId) -> Option<Ipv4Addr> {
        let n = &self.nics[nic];
        if let Some((ip, _)) = n.fixed {
            return Some(ip);
        }
        let node = n.node;
        self.client(node, self.nic_index(node, nic)).and_then(Client::address)
    }

    /// The MAC to send an IP unicast to on `segment`: the owner's if it is on the segment, else a router's.
    fn resolve(&self, segment: SegmentId, ip: Ipv4Addr, except: NicId) -> Option<HwAddr> {
        self.resolve_direct(segment, ip, except).or_else(|| self.router_on(segment, except))
    }

    /// The MAC of the NIC on `segment` that has `ip`, if any.
    fn resolve_direct(&self, segment: SegmentId, ip: Ipv4Addr, except: NicId) -> Option<HwAddr> {
        self.owner_on(segment, ip, except).map(|i| self.nics[i].mac)
    }

    /// The NIC on `segment` (other than `except`) that answers to `ip`.
    fn owner_on(&self, segment: SegmentId, ip: Ipv4Addr, except: NicId) -> Option<NicId> {
        self.index.by_addr.get(&ip)?.iter().copied().find(|&i| {
            let n = &self.nics[i];
            i != except && n.segment == segment && n.up
        })
    }

    /// A router's MAC on `segment` (the first relay NIC there).
    fn router_on(&self, segment: SegmentId, except: NicId) -> Option<HwAddr> {
        self.index.servers.get(segment)?.iter().copied().find_map(|i| {
            let n = &self.nics[i];
            (i != except && n.up && matches!(self.nodes[n.node].kind, NodeKind::Relay { .. })).then_some(n.mac)
        })
    }

    /// Sends a UDP datagram out of `nic`. Broadcast when `dst` is 255.255.255.255 or `dst_mac` says so.
    fn send(&mut self, nic: NicId, src: SocketAddrV4, dst: SocketAddrV4, dst_mac: Option<HwAddr>, payload: Vec<u8>) {
        let n = &self.nics[nic];
        if !n.up {
            return;
        }
        let dst_mac = match dst_mac {
            Some(m) => m,
            None if dst.ip().is_broadcast() => BROADCAST_MAC,
            None => match self.resolve(n.segment, *dst.ip(), nic) {
                Some(m) => m,
                None => {
                    let text = Text::new(
                        format!("{} has no route to {}: the packet is not sent.", self.nodes[n.node].name, dst.ip()),
                        format!("{} 没有到 {} 的路由：数据包未发出。", self.nodes[n.node].name, dst.ip()),
                    );
                    self.record(n.node, TraceKind::Action { what: "no route".into() }, text, None);
                    return;
                }
            },
        };
        let frame = Frame { at: self.now, src_mac: n.mac, dst_mac, src, dst, payload };
        self.emit(nic, frame);
    }

    /// Puts a frame on the sender's segment: trace it, then deliver it to every NIC that takes it in.
    fn emit(&mut self, from: NicId, frame: Frame) {
        let Some(summary) = PacketSummary::from_bytes(&frame.payload) else { return };
        let seg = self.nics[from].segment;
        let segment = self.segments[seg].clone();
        let broadcast = frame.dst_mac == BROADCAST_MAC;
        let port = frame.dst.port();
        // Only nodes listening on the port take the datagram in: servers and relays on 67, hosts on 68;
        // a relay also takes unicast frames addressed to it, to route them.
        let candidates: Vec<NicId> = if broadcast {
            match port {
                SERVER_PORT => self.index.servers[seg].clone(),
                CLIENT_PORT => self.index.hosts[seg].clone(),
                _ => vec![],
            }
        } else {
            self.index.by_mac.get(&frame.dst_mac).copied().into_iter().collect()
        };
        let to: Vec<NicId> = candidates
            .into_iter()
            .filter(|&i| {
                let n = &self.nics[i];
                i != from
                    && n.segment == seg
                    && n.up
                    && match self.nodes[n.node].kind {
                        NodeKind::Host { .. } => port == CLIENT_PORT,
                        NodeKind::Server { .. } => port == SERVER_PORT,
                        NodeKind::Relay { .. } => port == SERVER_PORT || !broadcast,
                        NodeKind::Static { .. } => false,
                    }
            })
            .collect();
        let lost = segment.loss > 0.0 && self.chance(segment.loss);
        let duplicated = !lost && segment.duplicate > 0.0 && self.chance(segment.duplicate);
        let id = self.packets;
        self.packets += 1;
        let node = self.nics[from].node;
        let (text, rfc) = explain::packet(self, from, &frame, &summary, broadcast, lost);
        let to_nodes: Vec<NodeId> = to.iter().map(|&i| self.nics[i].node).collect();
        let kind = TraceKind::Packet { id, segment: seg, frame: frame.clone(), summary, broadcast, to: to_nodes, lost };
        self.record(node, kind, text, rfc);
        if lost {
            return;
        }
        let at = self.now + segment.delay;
        for &nic in &to {
            self.push(at, Event::Deliver { nic, frame: frame.clone() });
            if duplicated {
                self.push(at + segment.delay, Event::Deliver { nic, frame: frame.clone() });
            }
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        (f64::from(self.rng.next_u32()) / f64::from(u32::MAX)) < p
    }

    fn deliver(&mut self, nic: NicId, frame: Frame) {
        let n = self.nics[nic].clone();
        if !n.up {
            return;
        }
        let now = self.now;
        let node = n.node;
        let idx = self.nic_index(node, nic);
        match &mut self.nodes[node].kind {
            NodeKind::Host { clients, .. } => {
                if frame.dst.port() == CLIENT_PORT
                    && let Some(c) = clients.get_mut(idx)
                {
                    let _ = c.handle_packet(now, &frame.payload);
                }
            }
            NodeKind::Server { server, online, .. } => {
                let Some((local_addr, _)) = n.fixed else { return };
                let for_us = frame.dst.ip().is_broadcast() || *frame.dst.ip() == local_addr;
                if *online && frame.dst.port() == SERVER_PORT && for_us {
                    let meta = RecvMeta { iface: idx as u32, local_addr, src: frame.src };
                    let _ = server.handle_packet(now, meta, &frame.payload);
                }
            }
            NodeKind::Relay { .. } => {
                relay::receive(self, node, nic, frame);
                return;
            }
            NodeKind::Static { .. } => {}
        }
        self.drain(node);
    }

    /// Takes a node's queued transmits and events, sends and records them, and queues its next wake-up.
    fn drain(&mut self, node: NodeId) {
        let now = self.now;
        let nics = self.nodes[node].nics();
        let mut out: Vec<Outgoing> = vec![];
        let mut probes: Vec<(NicId, Ipv4Addr)> = vec![];
        let mut traces: Vec<(TraceKind, Text, Option<String>)> = vec![];
        let name = self.nodes[node].name.clone();
        let next = match &mut self.nodes[node].kind {
            NodeKind::Host { clients, .. } => {
                for (i, c) in clients.iter_mut().enumerate() {
                    while let Some(t) = c.poll_transmit() {
                        match t {
                            ClientTransmit::Dhcp { src, dst, bytes, .. } => {
                                out.push(Outgoing { nic: nics[i], src, dst, dst_mac: None, payload: bytes })
                            }
                            ClientTransmit::ArpProbe { ip } => probes.push((nics[i], ip)),
                        }
                    }
                    while let Some((_, ev)) = c.poll_event() {
                        let (kind, text, rfc) = explain::client_event(&name, &self.nics[nics[i]].name, i, &ev);
                        traces.push((kind, text, rfc));
                    }
                }
                clients.iter().filter_map(Client::poll_timeout).min()
            }
            NodeKind::Server { server, .. } => {
                while let Some(t) = server.poll_transmit() {
                    let nic = nics.get(t.iface as usize).copied().unwrap_or(nics[0]);
                    let src = SocketAddrV4::new(t.src, SERVER_PORT);
                    let dst_mac = match t.dst {
                        crate::reply::Destination::Hardware { hw, .. } => Some(hw),
                        crate::reply::Destination::Broadcast => Some(BROADCAST_MAC),
                        _ => None,
                    };
                    out.push(Outgoing { nic, src, dst: t.dst.socket_addr(), dst_mac, payload: t.bytes });
                }
                while let Some(ev) = server.poll_event() {
                    let (text, rfc) = explain::lease_event(&name, &ev);
                    traces.push((TraceKind::Lease { event: ev }, text, rfc));
                }
                server.poll_timeout()
            }
            _ => None,
        };
        let next = match self.nodes[node].kind {
            NodeKind::Server { online: false, .. } => None,
            _ => next,
        };
        self.refresh_addresses(node);
        for (kind, text, rfc) in traces {
            self.record(node, kind, text, rfc);
        }
        for o in out {
            self.send(o.nic, o.src, o.dst, o.dst_mac, o.payload);
        }
        for (nic, ip) in probes {
            self.arp_probe(node, nic, ip);
        }
        if let Some(t) = next
            && self.wakes[node].is_none_or(|w| t < w || w < now)
        {
            self.wakes[node] = Some(t);
            self.push(t.max(now), Event::Wake { node });
        }
    }

    /// An ARP probe: does any other NIC on the segment use `ip`? Its owner answers after one delay.
    fn arp_probe(&mut self, node: NodeId, nic: NicId, ip: Ipv4Addr) {
        let seg = self.nics[nic].segment;
        let owner = self.owner_on(seg, ip, nic);
        let answered_by = owner.map(|i| self.nics[i].node);
        let idx = self.nic_index(node, nic);
        let text = explain::arp(&self.nodes[node].name, ip, answered_by.map(|n| self.nodes[n].name.as_str()));
        self.record(node, TraceKind::Arp { nic: idx, ip, answered_by }, text, Some("RFC 5227 §2.1".into()));
        if owner.is_some() {
            let at = self.now + self.segments[seg].delay * 2;
            self.push(at, Event::ArpReply { nic, ip });
        }
    }

    fn record(&mut self, node: NodeId, kind: TraceKind, text: Text, rfc: Option<String>) {
        let seq = self.trace.len();
        self.trace.push(TraceEntry { seq, at: self.now, node, kind, text, rfc });
    }

    /// Every packet of the trace so far as a pcap file.
    pub fn pcap(&self) -> Result<Vec<u8>, pcap::PcapError> {
        let frames: Vec<Frame> = self
            .trace
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Packet { frame, .. } => Some(frame.clone()),
                _ => None,
            })
            .collect();
        pcap::write(&frames)
    }

    /// The client events of the trace, for tests and summaries.
    pub fn client_events(&self, node: NodeId) -> impl Iterator<Item = &ClientEvent> {
        self.trace.iter().filter(move |e| e.node == node).filter_map(|e| match &e.kind {
            TraceKind::Client { event, .. } => Some(event),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests;
