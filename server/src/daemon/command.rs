//! What the HTTP API and the bridge ask of the engine's thread, each with a channel for the answer. The
//! engine answers between packet batches; nothing else touches the `Server`.

use super::wake::Wake;
use crate::store::Change;
use dhcplab_engine::Lease;
use dhcplab_engine::LeaseEvent;
use dhcplab_engine::bridge::PeerStatus;
use dhcplab_engine::bridge::{DaemonStats, LeasePage, LeaseQuery, Update};
use dhcplab_engine::config::{ConfigError, Reservation, ServerConfig};
use dhcplab_engine::server::PinError;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A channel of commands for the engine's loop: every send also wakes the loop, which polls the channel's
/// [`Wake`] with its sockets and timers rather than awaiting the channel.
pub fn channel(capacity: usize) -> std::io::Result<(CommandSender, CommandReceiver)> {
    let (tx, rx) = mpsc::channel(capacity);
    let wake = Arc::new(Wake::new()?);
    Ok((CommandSender { tx, wake: wake.clone() }, CommandReceiver { rx, wake }))
}

/// The engine has stopped: the command was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("the engine has stopped")]
pub struct EngineStopped;

#[derive(Clone)]
pub struct CommandSender {
    tx: mpsc::Sender<Command>,
    wake: Arc<Wake>,
}

impl CommandSender {
    /// Waits for room in the channel (from async code: the API, the reloader).
    pub async fn send(&self, cmd: Command) -> Result<(), EngineStopped> {
        self.tx.send(cmd).await.map_err(|_| EngineStopped)?;
        self.wake.wake();
        Ok(())
    }

    /// Waits for room in the channel, blocking the thread (from the store's threads).
    pub fn blocking_send(&self, cmd: Command) -> Result<(), EngineStopped> {
        self.tx.blocking_send(cmd).map_err(|_| EngineStopped)?;
        self.wake.wake();
        Ok(())
    }

    /// Wakes the loop with no command: something it waits for has changed (room in the store's queue).
    pub fn wake(&self) {
        self.wake.wake();
    }

    /// The engine has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

pub struct CommandReceiver {
    rx: mpsc::Receiver<Command>,
    wake: Arc<Wake>,
}

impl CommandReceiver {
    /// The next command, waiting for it (`dhcplab watch`'s async loop).
    pub async fn recv(&mut self) -> Option<Command> {
        self.rx.recv().await
    }

    /// The next command waiting, if any: `Err(EngineStopped)` once every sender is gone.
    pub fn try_recv(&mut self) -> Result<Option<Command>, EngineStopped> {
        match self.rx.try_recv() {
            Ok(cmd) => Ok(Some(cmd)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(EngineStopped),
        }
    }

    /// What the loop polls: readable after a send (or a `wake`) until `clear`ed.
    pub fn wake(&self) -> &Wake {
        &self.wake
    }
}

pub enum Command {
    /// Answered at once: the engine's loop is turning (`/healthz`).
    Ping(oneshot::Sender<()>),
    /// One page of matches after a cursor (see `LeaseQuery::page`).
    Leases(LeasePageRequest, oneshot::Sender<LeasePage>),
    Lease(Ipv4Addr, oneshot::Sender<Option<Lease>>),
    Release(Ipv4Addr, oneshot::Sender<Option<LeaseEvent>>),
    Stats(oneshot::Sender<DaemonStats>),
    /// Everything a new watcher needs, with the sequence number of the last update before it. A copy, not
    /// JSON: the watcher's side serializes it, off the engine's thread.
    Snapshot(oneshot::Sender<Snapshot>),
    Reconfigure(Box<ServerConfig>, oneshot::Sender<Result<(), Vec<ConfigError>>>),
    /// The reservation that would pin the lease at this address to its client (checked, not applied).
    Pin(Ipv4Addr, oneshot::Sender<Result<Reservation, PinError>>),
    /// Whether a reservation fits the running config (checked, not applied).
    CheckReservation(Reservation, oneshot::Sender<Result<(), PinError>>),
    /// Every reservation in the running config, with its subnet.
    Reservations(oneshot::Sender<Vec<ReservationView>>),
    /// Adds a reservation to the running config only (the demo, which has no file).
    AddReservation(Reservation, oneshot::Sender<Result<(), String>>),
    /// Records of the shared lease database that other servers wrote (or that won over this server's own
    /// changes), for the engine's table. No answer: they come from the committer and the peer watcher.
    Shared(Vec<Change>),
    /// The servers sharing the lease database as their heartbeats show (this one's entry gives its block
    /// of the pools), for the engine and the bridge.
    Peers(Vec<PeerStatus>),
}

/// What `GET /api/leases` asks: the query, and which page.
pub struct LeasePageRequest {
    pub query: LeaseQuery,
    pub after: Option<Ipv4Addr>,
    pub limit: usize,
}

/// The lease table and counters at one moment (one sequence number): a copy, serialized off the engine's
/// thread.
pub struct Snapshot {
    pub seq: u64,
    pub leases: Vec<Lease>,
    pub leases_total: usize,
    pub stats: DaemonStats,
    pub reserved: Vec<Ipv4Addr>,
    pub servers: Vec<PeerStatus>,
    /// The link `dhcplab watch` listens to (`None` from the daemon).
    pub watching: Option<String>,
}

impl Snapshot {
    pub fn into_json(self) -> String {
        let Snapshot { seq, leases, leases_total, stats, reserved, servers, watching } = self;
        Update::Snapshot { seq, leases, leases_total, stats, reserved, servers, watching }.to_json()
    }
}

/// A reservation as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReservationView {
    pub subnet: ipnet::Ipv4Net,
    #[serde(flatten)]
    pub reservation: Reservation,
}
