//! With a shared PostgreSQL lease database: the thread that keeps this server in step with the others.
//! It stamps this server's heartbeat, reads the others' (a server whose heartbeat is older than
//! `takeover_after` is down, and the live ones split the pools between them again), and feeds the engine
//! every lease change another server committed, woken by their NOTIFY or, at the latest, at the next
//! heartbeat.

use super::command::{Command, CommandSender};
use crate::store::PgPeers;
use dhcplab_engine::Duration;
use dhcplab_engine::bridge::PeerStatus;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// The servers as last seen, for `/api/servers`.
pub type PeerBoard = Arc<Mutex<Vec<PeerStatus>>>;

/// Every live server's block of the pools: the live servers, ranked by name, take one block each.
pub fn assign_shares(peers: &mut [PeerStatus]) {
    use dhcplab_engine::allocator::Share;
    let live = peers.iter().filter(|p| p.up).count() as u32;
    let mut index = 0;
    for p in peers.iter_mut() {
        p.share = p.up.then(|| {
            index += 1;
            Share { index: index - 1, of: live }
        });
    }
}

pub struct PeerWatch {
    pub peers: PgPeers,
    /// The last change number read (at start: the one the loaded leases include).
    pub mark: i64,
    pub takeover_after: Duration,
    pub engine: CommandSender,
    pub board: PeerBoard,
}

impl PeerWatch {
    /// Runs until the engine stops.
    pub fn run(mut self) {
        let quarter = u64::try_from(self.takeover_after.as_millis() / 4).unwrap_or(u64::MAX);
        let beat = std::time::Duration::from_millis(quarter.clamp(200, 2000));
        let mut next_beat = std::time::Instant::now();
        let mut failing = false;
        let mut live: Vec<String> = vec![];
        loop {
            let result = (|| -> Result<(), crate::store::StoreError> {
                if std::time::Instant::now() >= next_beat {
                    next_beat = std::time::Instant::now() + beat;
                    let mut peers = self.peers.heartbeat(self.takeover_after)?;
                    assign_shares(&mut peers);
                    let now_live: Vec<String> = peers.iter().filter(|p| p.up).map(|p| p.name.clone()).collect();
                    if now_live != live {
                        info!("servers up on the shared lease database: {}", now_live.join(", "));
                        live = now_live;
                    }
                    if let Ok(mut b) = self.board.lock() {
                        b.clone_from(&peers);
                    }
                    if self.engine.blocking_send(Command::Peers(peers)).is_err() {
                        return Ok(());
                    }
                }
                let read = self.peers.changes_since(self.mark)?;
                self.mark = read.through;
                if !read.changes.is_empty() {
                    let _ = self.engine.blocking_send(Command::Shared(read.changes));
                }
                // A cut read is followed at once by the next; then wait for news or the next heartbeat.
                if !read.more {
                    let left = next_beat.saturating_duration_since(std::time::Instant::now());
                    self.peers.wait(left)?;
                }
                Ok(())
            })();
            if self.engine.is_closed() {
                return;
            }
            match result {
                Ok(()) if failing => {
                    info!("the shared lease database answers again");
                    failing = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        warn!("the shared lease database does not answer: {e}");
                        failing = true;
                    }
                    std::thread::sleep(beat);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcplab_engine::allocator::Share;

    fn peer(name: &str, up: bool) -> PeerStatus {
        PeerStatus { name: name.into(), up, heartbeat_age_ms: 0, share: None, this: false }
    }

    #[test]
    fn live_servers_split_the_pools_and_a_dead_ones_block_is_taken_over() {
        let mut peers = vec![peer("a", true), peer("b", true), peer("c", true)];
        assign_shares(&mut peers);
        let shares: Vec<_> = peers.iter().map(|p| p.share).collect();
        assert_eq!(
            shares,
            vec![Some(Share { index: 0, of: 3 }), Some(Share { index: 1, of: 3 }), Some(Share { index: 2, of: 3 })]
        );
        peers[1].up = false;
        assign_shares(&mut peers);
        let shares: Vec<_> = peers.iter().map(|p| p.share).collect();
        assert_eq!(shares, vec![Some(Share { index: 0, of: 2 }), None, Some(Share { index: 1, of: 2 })]);
    }
}
