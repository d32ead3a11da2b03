//! The engine's answers to API commands, given between packet batches.

use super::command::{Command, ReservationView, Snapshot};
use super::engine_loop::Engine;
use dhcplab_engine::Lease;
use dhcplab_engine::bridge::{PAGE_SCAN_BUDGET, SNAPSHOT_MAX_LEASES};
use tracing::{info, warn};

impl Engine {
    pub(super) fn command(&mut self, cmd: Command) {
        let now = self.clock.now();
        self.server.handle_timeout(now);
        match cmd {
            Command::Ping(tx) => {
                let _ = tx.send(());
            }
            Command::Leases(r, tx) => {
                let page = r.query.page(self.server.leases_after(r.after), r.limit, PAGE_SCAN_BUDGET);
                let _ = tx.send(page);
            }
            Command::Lease(ip, tx) => {
                let _ = tx.send(self.server.lease(ip).cloned());
            }
            Command::Release(ip, tx) => {
                let _ = tx.send(self.server.admin_release(now, ip));
            }
            Command::Stats(tx) => {
                let _ = tx.send(self.daemon_stats());
            }
            Command::Snapshot(tx) => {
                // The first leases only, in address order: a million would be hundreds of megabytes of JSON.
                let leases: Vec<Lease> = self.server.leases().take(SNAPSHOT_MAX_LEASES).cloned().collect();
                let leases_total = self.server.lease_count();
                let reserved = self.server.reserved().collect();
                let servers = self.peers.clone();
                let (seq, stats) = (self.bridge.seq(), self.daemon_stats());
                let _ = tx.send(Snapshot { seq, leases, leases_total, stats, reserved, servers, watching: None });
            }
            Command::Reconfigure(cfg, tx) => {
                let r = self.server.reconfigure(*cfg);
                match &r {
                    Ok(()) => {
                        info!("configuration reloaded; {} leases kept", self.server.lease_count());
                        self.config_changed();
                    }
                    Err(e) => warn!("new configuration refused ({} problems); the old one keeps serving", e.len()),
                }
                let _ = tx.send(r);
            }
            Command::Reservations(tx) => {
                let v = self
                    .server
                    .config()
                    .subnets
                    .iter()
                    .flat_map(|s| {
                        s.reservations.iter().map(|r| ReservationView { subnet: s.cidr, reservation: r.clone() })
                    })
                    .collect();
                let _ = tx.send(v);
            }
            Command::Pin(ip, tx) => {
                let _ = tx.send(self.server.reservation_from_lease(ip));
            }
            Command::CheckReservation(r, tx) => {
                let _ = tx.send(self.server.config().with_reservation(r).map(|_| ()));
            }
            Command::AddReservation(r, tx) => {
                let ip = r.ip;
                let result = self.server.config().with_reservation(r).map_err(|e| e.to_string()).and_then(|cfg| {
                    self.server
                        .reconfigure(cfg)
                        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
                });
                if result.is_ok() {
                    info!("{ip} is now reserved (running config only)");
                    self.config_changed();
                }
                let _ = tx.send(result);
            }
            Command::Shared(records) => {
                for r in records {
                    self.server.handle_shared(now, r);
                }
            }
            Command::Peers(peers) => {
                let share = peers.iter().find(|p| p.this).and_then(|p| p.share);
                if self.server.share() != share {
                    info!("this server's share of the pools is now {share:?}");
                    self.server.set_share(share);
                }
                if self.bridge.watched() {
                    let servers = peers.clone();
                    self.bridge.publish(|seq| dhcplab_engine::bridge::Update::Servers { seq, servers });
                }
                self.peers = peers;
            }
        }
    }
}
