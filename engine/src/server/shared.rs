//! Several servers, one lease database: what this server takes in from the shared store. The daemon (or
//! the simulator) reads the store and feeds the records other servers wrote, and the live servers' shares
//! of the pools; the engine never reads a store itself.

use super::Server;
use crate::allocator::Share;
use crate::arbiter::Proposal;
use crate::event::{LeaseEvent, LeaseEventKind};
use crate::time::Instant;

impl Server {
    /// Which part of every pool this server hands out first (`None`: all of it, a server on its own).
    pub fn set_share(&mut self, share: Option<Share>) {
        self.share = share;
    }

    pub fn share(&self) -> Option<Share> {
        self.share
    }

    /// This server's name among those sharing the lease database; its new records carry it.
    pub fn set_name(&mut self, name: &str) {
        self.name = Some(name.into());
    }

    /// A record of the shared store that another server wrote (or that won over this server's own change):
    /// this server's table takes it as it is, so that, say, a REBINDING client of a dead server is ACKed
    /// here from the shared state (RFC 2131 §4.4.5). A record for a subnet this server does not serve is
    /// ignored. Emits a `synced` event when the table changed; the store already has it.
    pub fn handle_shared(&mut self, now: Instant, record: Proposal) {
        match record {
            Proposal::Put(lease) => {
                if self.table.get(lease.ip) == Some(&lease) || !self.subnets.iter().any(|s| s.net == lease.subnet) {
                    return;
                }
                self.table.remove(lease.ip);
                let ev = LeaseEvent::from_lease(now, LeaseEventKind::Synced, &lease);
                // A client that moved to this address elsewhere gives up its other record here too.
                let _ = self.table.insert(lease);
                self.emit(ev);
            }
            Proposal::Remove { ip, .. } => {
                if let Some(gone) = self.table.remove(ip) {
                    let mut ev = LeaseEvent::from_lease(now, LeaseEventKind::Synced, &gone);
                    ev.state = None;
                    self.emit(ev);
                }
            }
        }
    }
}
