//! What a virtual LAN is made of: segments (broadcast domains), NICs on them, and the nodes that own the
//! NICs — client hosts, DHCP servers, relay agents (which also route), and hosts with fixed addresses.

use crate::client::Client;
use crate::hwaddr::HwAddr;
use crate::relay::RelayAgent;
use crate::server::Server;
use crate::time::Duration;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

pub type NodeId = usize;
pub type SegmentId = usize;
pub type NicId = usize;

/// A broadcast domain and its link impairments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    /// One-way delay for every frame on this segment.
    pub delay: Duration,
    /// Probability (0–1) that a frame is lost.
    pub loss: f64,
    /// Probability (0–1) that a frame arrives twice.
    pub duplicate: f64,
}

/// A network interface. Servers', relays' and static hosts' NICs have fixed addresses; a client NIC's
/// address is whatever its DHCP client holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    pub node: NodeId,
    pub segment: SegmentId,
    pub mac: HwAddr,
    pub name: String,
    /// Fixed address and prefix length.
    pub fixed: Option<(Ipv4Addr, u8)>,
    /// Unplugged NICs neither send nor receive.
    pub up: bool,
}

/// What a node is.
pub enum NodeKind {
    /// A computer with one DHCP client per NIC (`clients[i]` drives `nics[i]`).
    Host { nics: Vec<NicId>, clients: Vec<Client> },
    /// A DHCP server; it answers on each of its NICs with that NIC's address as server identifier.
    Server { nics: Vec<NicId>, server: Box<Server>, online: bool, database: Option<NodeId> },
    /// A router that is also a DHCP relay agent (RFC 1542): its agent forwards client broadcasts to the
    /// servers, setting giaddr and option 82 (`agent.links()[i]` is `nics[i]`); unicast is routed between
    /// its segments.
    Relay { nics: Vec<NicId>, agent: RelayAgent },
    /// A host with a fixed address and no DHCP (a printer, say): it answers ARP for its address.
    Static { nic: NicId },
    /// A lease database shared by `servers` (PostgreSQL in the daemon): it arbitrates their changes and
    /// tells each what the others wrote. It is not on a segment: the picture links it to its servers.
    Database { servers: Vec<NodeId>, records: std::collections::BTreeMap<Ipv4Addr, crate::lease::Lease> },
}

/// A node with its display name.
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// Taken off the network for good ([`super::Action::Remove`]); kept so node ids stay stable.
    pub removed: bool,
}

impl Node {
    pub fn nics(&self) -> Vec<NicId> {
        match &self.kind {
            NodeKind::Host { nics, .. } | NodeKind::Server { nics, .. } | NodeKind::Relay { nics, .. } => nics.clone(),
            NodeKind::Static { nic } => vec![*nic],
            NodeKind::Database { .. } => vec![],
        }
    }

    /// The role, for the lab's pictures and filters.
    pub fn role(&self) -> NodeRole {
        match self.kind {
            NodeKind::Host { .. } => NodeRole::Client,
            NodeKind::Server { .. } => NodeRole::Server,
            NodeKind::Relay { .. } => NodeRole::Relay,
            NodeKind::Static { .. } => NodeRole::Static,
            NodeKind::Database { .. } => NodeRole::Database,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    Client,
    Server,
    Relay,
    Static,
    Database,
}
