//! A deterministic virtual LAN: segments, client hosts, servers, relay agents and static hosts exchanging
//! real encoded DHCP packets in Ethernet/IPv4/UDP frames. Simulated time jumps from one event to the next,
//! so hours of lease time pass in microseconds. The same seed gives the same trace, byte for byte; "step
//! back" is a replay to an earlier step.
//!
//! This file holds the simulator and its event loop; the rest is in parts: `build` (adding segments,
//! NICs and nodes), `index` (who is where), `scheduler` (the time-ordered queue), `action` (what a user or
//! a scenario does, one method each), `wire` (Ethernet and IP delivery, ARP), `nodes` (draining the
//! nodes' state machines), `relay` (relay nodes around the engine's sans-IO `RelayAgent`), `explain` and
//! `trace` (the narration), `scenario` (the thirteen stories), `database` (servers sharing one lease database).

mod action;
mod build;
mod database;
mod explain;
mod index;
mod nodes;
mod relay;
pub mod scenario;
mod scheduler;
pub mod topology;
pub mod trace;
mod wire;

use crate::client::{Client, ClientEvent};
use crate::hwaddr::HwAddr;
use crate::pcap::{self, Frame};
use crate::server::Server;
use crate::time::Instant;
pub use action::Action;
use index::Index;
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use scheduler::Scheduler;
use std::net::{Ipv4Addr, SocketAddrV4};
pub use topology::{Nic, NicId, Node, NodeId, NodeKind, NodeRole, Segment, SegmentId};
pub use trace::{Text, TraceEntry, TraceKind};

pub const BROADCAST_MAC: HwAddr = HwAddr::ethernet([0xff; 6]);

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Deliver {
        nic: NicId,
        frame: Frame,
    },
    ArpReply {
        nic: NicId,
        ip: Ipv4Addr,
    },
    /// The echo reply to a server's ping.
    PingReply {
        node: NodeId,
        ip: Ipv4Addr,
    },
    Wake {
        node: NodeId,
    },
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
            Event::PingReply { node, ip } => {
                let now = self.now;
                if let NodeKind::Server { server, online: true, .. } = &mut self.nodes[node].kind {
                    server.handle_ping_reply(now, ip);
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

    /// The address a NIC answers to right now.
    pub fn nic_address(&self, nic: NicId) -> Option<Ipv4Addr> {
        let n = &self.nics[nic];
        if let Some((ip, _)) = n.fixed {
            return Some(ip);
        }
        let node = n.node;
        self.client(node, self.nic_index(node, nic)).and_then(Client::address)
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
