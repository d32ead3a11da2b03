//! What the user or a scenario does to the network: the lab's buttons and the scenarios' scripts.

use super::topology::{NodeId, SegmentId};
use crate::config::ServerConfig;
use std::net::Ipv4Addr;

/// Something the user or a scenario does to a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Power on a host's NIC `nic` (its DHCP client starts).
    Start { node: NodeId, nic: usize },
    /// Release the lease and stop (a polite shutdown).
    Release { node: NodeId, nic: usize },
    /// Reboot: INIT-REBOOT with the remembered lease.
    Reboot { node: NodeId, nic: usize },
    /// Renew now, before T1.
    Renew { node: NodeId, nic: usize },
    /// Pull the cable.
    Unplug { node: NodeId, nic: usize },
    /// Plug the NIC into `segment` (another one, or back) and bring the link up, which reboots its client.
    Move { node: NodeId, nic: usize, segment: SegmentId },
    /// A statically addressed host asks for options only.
    Inform { node: NodeId, nic: usize, ip: Ipv4Addr },
    /// Turn a server on or off.
    ServerPower { node: NodeId, online: bool },
    /// Connect a new computer to `segment` and switch it on.
    AddHost { name: String, segment: SegmentId },
    /// Connect a new DHCP server to `segment` at `addr`/`prefix`.
    AddServer { name: String, segment: SegmentId, addr: Ipv4Addr, prefix: u8, config: Box<ServerConfig> },
    /// Give a server a new configuration (pools, lease time, reservations); its leases are kept. A config
    /// that does not validate changes nothing.
    Reconfigure { node: NodeId, config: Box<ServerConfig> },
    /// Give a host another NIC (with its own DHCP client) on `segment`, and switch it on.
    AddNic { node: NodeId, segment: SegmentId },
    /// Take a node off the network for good (its NICs go down; its id stays, so replays line up).
    Remove { node: NodeId },
}

impl Action {
    /// The node it acts on; `None` for a node that does not exist yet.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Action::Start { node, .. }
            | Action::Release { node, .. }
            | Action::Reboot { node, .. }
            | Action::Renew { node, .. }
            | Action::Unplug { node, .. }
            | Action::Move { node, .. }
            | Action::Inform { node, .. }
            | Action::ServerPower { node, .. }
            | Action::Reconfigure { node, .. }
            | Action::AddNic { node, .. }
            | Action::Remove { node } => Some(*node),
            Action::AddHost { .. } | Action::AddServer { .. } => None,
        }
    }

    /// A few words for the trace.
    pub fn what(&self) -> &'static str {
        match self {
            Action::Start { .. } => "power on",
            Action::Release { .. } => "release the lease and shut down",
            Action::Reboot { .. } => "reboot",
            Action::Renew { .. } => "renew now",
            Action::Unplug { .. } => "unplug the cable",
            Action::Move { .. } => "plug into another segment",
            Action::Inform { .. } => "ask for options (INFORM)",
            Action::ServerPower { online: true, .. } => "server on",
            Action::ServerPower { online: false, .. } => "server off",
            Action::AddHost { .. } | Action::AddServer { .. } => "connect",
            Action::Reconfigure { .. } => "reconfigure",
            Action::AddNic { .. } => "add a network card",
            Action::Remove { .. } => "disconnect",
        }
    }
}
