//! What the engine reports: lease events (the lease story) and packet summaries (the live flow). Shared with
//! the daemon, the WebSocket stream and the web app, hence serde.

use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::lease::{Lease, LeaseState};
use crate::time::Instant;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseEventKind {
    /// DISCOVER answered: the address is held for the client (RFC 2131 §4.3.1).
    Offered,
    /// A new binding was ACKed.
    Bound,
    /// An existing binding was extended (RENEWING, REBINDING, or INIT-REBOOT of a live lease).
    Renewed,
    /// The client sent RELEASE (or an admin released it).
    Released,
    /// The client reported the address in use (DECLINE); it is quarantined.
    Declined,
    /// The lease ran out without renewal.
    Expired,
    /// The client chose another server's offer (REQUEST naming another server id, RFC 2131 §4.3.2).
    OfferWithdrawn,
    /// The client never came back for the offer.
    OfferExpired,
    /// A declined address finished probation and is back in the pool.
    Reclaimed,
    /// A REQUEST was refused with DHCPNAK.
    Nak,
}

/// One change to the lease table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseEvent {
    pub at: Instant,
    pub kind: LeaseEventKind,
    pub ip: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub hw: HwAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<HexBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The lease's state after the event (none for a NAK, which changes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<LeaseState>,
    pub obtained: Instant,
    pub expires: Instant,
    /// Why, for NAKs and withdrawals: plain words for logs and the lab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LeaseEvent {
    pub fn from_lease(at: Instant, kind: LeaseEventKind, lease: &Lease) -> Self {
        LeaseEvent {
            at,
            kind,
            ip: lease.ip,
            subnet: lease.subnet,
            hw: lease.hw,
            client_id: lease.client_id.clone(),
            hostname: lease.hostname.clone(),
            state: Some(lease.state),
            obtained: lease.obtained,
            expires: lease.expires,
            reason: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}
