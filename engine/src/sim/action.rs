//! What the user or a scenario does to the network: the lab's buttons and the scenarios' scripts.

use super::Sim;
use super::explain;
use super::topology::{NicId, NodeId, NodeKind, SegmentId};
use super::trace::{Text, TraceKind};
use crate::client::{Client, ClientConfig};
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
    pub fn what(&self) -> Text {
        let (en, zh) = match self {
            Action::Start { .. } => ("power on", "开机"),
            Action::Release { .. } => ("release the lease and shut down", "释放租约并关机"),
            Action::Reboot { .. } => ("reboot", "重启"),
            Action::Renew { .. } => ("renew now", "立即续租"),
            Action::Unplug { .. } => ("unplug the cable", "拔掉网线"),
            Action::Move { .. } => ("plug into another segment", "接到另一个网段"),
            Action::Inform { .. } => ("ask for options (INFORM)", "请求配置参数 (INFORM)"),
            Action::ServerPower { online: true, .. } => ("server on", "服务器开机"),
            Action::ServerPower { online: false, .. } => ("server off", "服务器关机"),
            Action::AddHost { .. } | Action::AddServer { .. } => ("connect", "接入网络"),
            Action::Reconfigure { .. } => ("reconfigure", "修改配置"),
            Action::AddNic { .. } => ("add a network card", "添加网卡"),
            Action::Remove { .. } => ("disconnect", "断开连接"),
        };
        Text::new(en, zh)
    }
}

impl Sim {
    pub(super) fn nic_index(&self, node: NodeId, nic: NicId) -> usize {
        self.nodes[node].nics().iter().position(|&n| n == nic).unwrap_or(0)
    }

    /// Records an action in the trace, then carries it out.
    pub(super) fn apply(&mut self, a: Action) {
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
        self.record(node, TraceKind::Action { what }, text, None);
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

    pub(super) fn connect_host(&mut self, name: String, segment: SegmentId, what: Text) {
        if segment >= self.segments.len() {
            return;
        }
        let id = self.add_host(&name, &[segment]);
        let text = explain::action(&name, &Action::AddHost { name: name.clone(), segment });
        self.record(id, TraceKind::Action { what }, text, None);
        let now = self.now;
        self.with_client(id, 0, |c| c.start(now));
        self.drain(id);
    }

    pub(super) fn connect_server(
        &mut self,
        name: String,
        segment: SegmentId,
        (addr, prefix): (Ipv4Addr, u8),
        config: ServerConfig,
        what: Text,
    ) {
        if segment >= self.segments.len() {
            return;
        }
        if let Ok(id) = self.add_server(&name, config, &[(segment, addr, prefix)]) {
            let text = explain::action(&name, &Action::AddHost { name: name.clone(), segment });
            self.record(id, TraceKind::Action { what }, text, None);
        }
    }

    pub(super) fn unplug(&mut self, node: NodeId, nic: usize) {
        if let Some(&id) = self.nodes[node].nics().get(nic) {
            self.nics[id].up = false;
        }
        let now = self.now;
        self.with_client(node, nic, |c| c.unplug(now));
    }

    /// The cable goes into another segment; the client reboots there (RFC 2131 §3.2: INIT-REBOOT).
    pub(super) fn move_nic(&mut self, node: NodeId, nic: usize, segment: SegmentId) {
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

    pub(super) fn server_power(&mut self, node: NodeId, on: bool) {
        let now = self.now;
        if let NodeKind::Server { online, server, .. } = &mut self.nodes[node].kind {
            *online = on;
            if on {
                server.handle_timeout(now);
            }
        }
        // Sharing a database: back on, it reads what the others wrote meanwhile; on or off, the servers
        // that are on split the pools again.
        if on {
            self.catch_up(node);
        } else if let Some(db) = self.database_of(node) {
            self.share_pools(db);
        }
    }

    pub(super) fn reconfigure_server(&mut self, node: NodeId, config: ServerConfig) {
        if let NodeKind::Server { server, .. } = &mut self.nodes[node].kind
            && let Err(errs) = server.reconfigure(config)
        {
            let why = errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
            let name = self.nodes[node].name.clone();
            let text = Text::new(
                format!("{name} refuses the new configuration: {why}"),
                format!("{name} 拒绝了新配置：{why}"),
            );
            self.record(node, TraceKind::Action { what: Text::new("configuration refused", "配置被拒绝") }, text, None);
        }
    }

    pub(super) fn remove_node(&mut self, node: NodeId) {
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
    pub(super) fn add_client_nic(&mut self, node: NodeId, segment: SegmentId) {
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

    pub(super) fn with_client(&mut self, node: NodeId, nic: usize, f: impl FnOnce(&mut Client)) {
        if let Some(c) = self.client_mut(node, nic) {
            f(c);
        }
    }
}
