//! A lease: one address, the client that holds (or last held) it, and where it stands in its life.

use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::time::{Duration, Instant};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

/// How the server recognises a client across messages (RFC 2131 §4.2: client identifier if sent, else
/// chaddr).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKey {
    ClientId(HexBytes),
    Hw(HwAddr),
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::ClientId(id) => write!(f, "id {id}"),
            ClientKey::Hw(hw) => write!(f, "hw {hw}"),
        }
    }
}

impl PartialOrd for HexBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HexBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// Where a lease stands. Offered, Bound and Declined hold the address; Released and Expired leave it free
/// but remember the client, so it can get the same address back (RFC 2131 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// Reserved for a client between OFFER and REQUEST, until the offer hold runs out.
    Offered,
    /// ACKed; the client may use the address until `expires`.
    Bound,
    /// The client found the address in use (DECLINE); out of the pool until probation ends.
    Declined,
    /// Given back by the client (RELEASE).
    Released,
    /// Not renewed in time.
    Expired,
}

impl LeaseState {
    /// Whether the address is held (not available to anyone else).
    pub fn holds_address(self) -> bool {
        matches!(self, LeaseState::Offered | LeaseState::Bound | LeaseState::Declined)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LeaseState::Offered => "offered",
            LeaseState::Bound => "bound",
            LeaseState::Declined => "declined",
            LeaseState::Released => "released",
            LeaseState::Expired => "expired",
        }
    }
}

/// One address's lease record.
///
/// Invariant (checked by `LeaseTable::check_invariants`): `obtained <= expires`; a record that holds its
/// address is absent from the free set; at most one record per client per subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub client: ClientKey,
    pub hw: HwAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<HexBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub state: LeaseState,
    /// When the current binding (or offer, or decline) began.
    pub obtained: Instant,
    /// When the current state ends: offer hold, lease end, probation end; for Released and Expired, when
    /// the address was freed.
    pub expires: Instant,
    /// The lease time granted with the last ACK (zero until bound).
    #[serde(with = "crate::duration_text")]
    pub lease_time: Duration,
}
