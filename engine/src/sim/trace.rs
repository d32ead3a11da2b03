//! The simulator's record of what happened: every packet and every state change, each with a short
//! explanation in English and Simplified Chinese that cites the RFC rule behind it.

use super::topology::{NodeId, SegmentId};
use crate::client::{ClientEvent, ClientStateKind};
use crate::event::{LeaseEvent, PacketSummary};
use crate::pcap::Frame;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

pub use crate::text::Text;

/// One step of the story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// Position in the trace (0, 1, 2, …).
    pub seq: usize,
    pub at: Instant,
    /// The node the entry is about (the sender of a packet).
    pub node: NodeId,
    pub kind: TraceKind,
    pub text: Text,
    /// The RFC section the rule comes from, e.g. `RFC 2131 §4.3.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TraceKind {
    /// A DHCP packet sent on a segment. `to` lists the nodes that took it in (a broadcast reaches every
    /// node on the segment; only those listening on the port act on it).
    Packet {
        id: u64,
        segment: SegmentId,
        frame: Frame,
        summary: PacketSummary,
        broadcast: bool,
        to: Vec<NodeId>,
        lost: bool,
    },
    /// A client's RFC 2131 state changed.
    ClientState { nic: usize, from: ClientStateKind, to: ClientStateKind },
    /// Something else a client did or learned.
    Client { nic: usize, event: ClientEvent },
    /// A server's lease table changed.
    Lease { event: LeaseEvent },
    /// An ARP probe for an address, and who (if anyone) answered.
    Arp { nic: usize, ip: Ipv4Addr, answered_by: Option<NodeId> },
    /// A server's ping of an address before offering it, and who (if anyone) answered.
    Ping { ip: Ipv4Addr, answered_by: Option<NodeId> },
    /// A scenario action or a user's action (reboot, unplug, server on…).
    Action { what: Text },
    /// The shared lease database took (`stored`) or refused a server's change to `ip`.
    Database { ip: Ipv4Addr, stored: bool },
}
