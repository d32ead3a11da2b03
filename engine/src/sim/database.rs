//! Several simulated servers sharing one lease database, as `dhcplab serve` does on PostgreSQL: each change
//! a server makes is arbitrated by the database (the engine's rule, `crate::arbiter`) before its ACK goes
//! out, and the other servers take in what was stored at once (the daemon's LISTEN/NOTIFY). The database
//! splits the pools between the servers that are on, so a server's death hands its block to the others.

use super::topology::{NodeId, NodeKind};
use super::trace::TraceKind;
use super::{Outgoing, Sim};
use crate::allocator::Share;
use crate::arbiter::{Proposal, Verdict, arbitrate};
use crate::event::{LeaseChange, LeaseEvent, LeaseEventKind};
use crate::lease::LeaseState;
use crate::server::Server;
use std::net::Ipv4Addr;

impl Sim {
    /// A lease database shared by `servers` (each a server node); they split the pools between them.
    pub fn add_database(&mut self, name: &str, servers: &[NodeId]) -> NodeId {
        let db = self.add_node(name, NodeKind::Database { servers: servers.to_vec(), records: Default::default() });
        for &s in servers {
            let server_name = self.nodes[s].name.clone();
            if let NodeKind::Server { server, database, .. } = &mut self.nodes[s].kind {
                server.set_name(&server_name);
                *database = Some(db);
            }
        }
        self.share_pools(db);
        db
    }

    /// The servers that are on split every pool into equal blocks, in the order they were added.
    pub(super) fn share_pools(&mut self, db: NodeId) {
        let NodeKind::Database { servers, .. } = &self.nodes[db].kind else { return };
        let servers = servers.clone();
        let on: Vec<NodeId> = servers
            .iter()
            .copied()
            .filter(|&s| matches!(self.nodes[s].kind, NodeKind::Server { online: true, .. }))
            .collect();
        for s in servers {
            let share = on.iter().position(|&x| x == s).map(|i| Share { index: i as u32, of: on.len() as u32 });
            if let NodeKind::Server { server, .. } = &mut self.nodes[s].kind {
                server.set_share(share);
            }
        }
    }

    fn server_mut(&mut self, node: NodeId) -> Option<&mut Server> {
        match &mut self.nodes[node].kind {
            NodeKind::Server { server, .. } => Some(server),
            _ => None,
        }
    }

    /// A server that was off takes in every record the database holds.
    pub(super) fn catch_up(&mut self, node: NodeId) {
        let Some(db) = self.database_of(node) else { return };
        let records: Vec<_> = match &self.nodes[db].kind {
            NodeKind::Database { records, .. } => records.values().cloned().collect(),
            _ => return,
        };
        let now = self.now;
        if let Some(server) = self.server_mut(node) {
            for r in records {
                server.handle_shared(now, Proposal::Put(r));
            }
        }
        self.share_pools(db);
    }

    pub(super) fn database_of(&self, node: NodeId) -> Option<NodeId> {
        match &self.nodes[node].kind {
            NodeKind::Server { database, .. } => *database,
            _ => None,
        }
    }

    /// Puts a server's lease changes to its database; returns the addresses whose change lost (their ACKs
    /// must not leave). The other servers take in what was stored.
    pub(super) fn commit_to_database(
        &mut self,
        node: NodeId,
        events: &[LeaseEvent],
        out: &mut Vec<(Outgoing, Ipv4Addr)>,
    ) {
        let Some(db) = self.database_of(node) else { return };
        let now = self.now;
        let mut stored = vec![];
        for ev in events.iter().filter(|e| e.kind != LeaseEventKind::Synced) {
            let Some(server) = self.server_mut(node) else { return };
            // As the daemon does: offers are not stored; the table's record is what is written.
            let change = match (ev.change(), server.lease(ev.ip)) {
                (LeaseChange::Keep | LeaseChange::Set(LeaseState::Offered), _) => continue,
                (_, Some(l)) if l.state == LeaseState::Offered => continue,
                (_, Some(l)) => Proposal::Put(l.clone()),
                (_, None) => Proposal::Remove { ip: ev.ip, hw: ev.hw, expires: ev.expires },
            };
            let NodeKind::Database { records, .. } = &mut self.nodes[db].kind else { return };
            let verdict = arbitrate(now, records.get(&ev.ip), &change);
            match &verdict {
                Verdict::Granted => {
                    match &change {
                        Proposal::Put(l) => records.insert(l.ip, l.clone()),
                        Proposal::Remove { ip, .. } => records.remove(ip),
                    };
                    stored.push(change.clone());
                }
                Verdict::Refused(winner) => {
                    out.retain(|(_, yiaddr)| *yiaddr != ev.ip);
                    let winner = (**winner).clone();
                    if let Some(s) = self.server_mut(node) {
                        s.handle_shared(now, Proposal::Put(winner));
                    }
                }
                Verdict::Stale(Some(cur)) => {
                    let cur = (**cur).clone();
                    if let Some(s) = self.server_mut(node) {
                        s.handle_shared(now, Proposal::Put(cur));
                    }
                }
                Verdict::Stale(None) => {}
            }
            let (text, rfc) = super::explain::database(&self.nodes[db].name, &self.nodes[node].name, &change, &verdict);
            let granted = verdict == Verdict::Granted;
            if !matches!(verdict, Verdict::Stale(_)) {
                self.record(db, TraceKind::Database { ip: ev.ip, stored: granted }, text, rfc);
            }
        }
        if stored.is_empty() {
            return;
        }
        let NodeKind::Database { servers, .. } = &self.nodes[db].kind else { return };
        let others: Vec<NodeId> = servers.iter().copied().filter(|&s| s != node).collect();
        for other in others {
            if !matches!(self.nodes[other].kind, NodeKind::Server { online: true, .. }) {
                continue;
            }
            if let Some(s) = self.server_mut(other) {
                for c in &stored {
                    s.handle_shared(now, c.clone());
                }
            }
            self.drain(other);
        }
    }
}
