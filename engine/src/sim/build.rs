//! Building the network: segments, NICs and nodes, kept in the index as they are added.

use super::Sim;
use super::topology::{Nic, NicId, Node, NodeId, NodeKind, Segment, SegmentId};
use crate::client::{Client, ClientConfig};
use crate::config::ServerConfig;
use crate::hwaddr::HwAddr;
use crate::relay::{RelayAgent, RelayLink};
use crate::server::Server;
use crate::time::Duration;
use std::net::Ipv4Addr;

impl Sim {
    pub fn add_segment(&mut self, name: &str) -> SegmentId {
        self.segments.push(Segment { name: name.into(), delay: Duration::from_millis(1), loss: 0.0, duplicate: 0.0 });
        self.index.servers.push(vec![]);
        self.index.hosts.push(vec![]);
        self.segments.len() - 1
    }

    /// Files a NIC under its segment, MAC and address. Called once its node's kind is known.
    pub(super) fn index_nic(&mut self, nic: NicId) {
        let n = &self.nics[nic];
        let list = match self.nodes[n.node].kind {
            NodeKind::Host { .. } => Some(&mut self.index.hosts),
            NodeKind::Server { .. } | NodeKind::Relay { .. } => Some(&mut self.index.servers),
            NodeKind::Static { .. } | NodeKind::Database { .. } => None,
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

    pub(super) fn unindex_segment(&mut self, nic: NicId) {
        for list in self.index.servers.iter_mut().chain(self.index.hosts.iter_mut()) {
            list.retain(|&n| n != nic);
        }
    }

    /// Re-reads the addresses of a host's NICs after its clients ran.
    pub(super) fn refresh_addresses(&mut self, node: NodeId) {
        if let NodeKind::Host { nics, clients } = &self.nodes[node].kind {
            let pairs: Vec<(NicId, Option<Ipv4Addr>)> =
                nics.iter().zip(clients).map(|(&n, c)| (n, c.address())).collect();
            for (n, a) in pairs {
                self.index.set_addr(n, a);
            }
        }
    }

    pub(super) fn add_nic(
        &mut self,
        node: NodeId,
        segment: SegmentId,
        fixed: Option<(Ipv4Addr, u8)>,
        index: usize,
    ) -> NicId {
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

    pub(super) fn add_node(&mut self, name: &str, kind: NodeKind) -> NodeId {
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
        let node = self
            .add_node(name, NodeKind::Server { nics: vec![], server: Box::new(server), online: true, database: None });
        let ids: Vec<NicId> =
            nics.iter().enumerate().map(|(i, &(seg, ip, len))| self.add_nic(node, seg, Some((ip, len)), i)).collect();
        if let NodeKind::Server { nics, .. } = &mut self.nodes[node].kind {
            *nics = ids.clone();
        }
        ids.into_iter().for_each(|n| self.index_nic(n));
        Ok(node)
    }

    /// A host with one NIC (and one DHCP client) per segment given. The clients do not start until a
    /// [`Action::Start`](super::action::Action::Start). `hostname` goes in option 12.
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
        let links = nics.iter().map(|&(seg, addr, _)| RelayLink::new(addr, self.segments[seg].name.clone())).collect();
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
}
