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

    /// Every state, in the order a lease usually lives them (the API's and the dashboard's filter list).
    pub const ALL: [LeaseState; 5] =
        [LeaseState::Offered, LeaseState::Bound, LeaseState::Declined, LeaseState::Released, LeaseState::Expired];

    /// The state's place in [`LeaseState::ALL`], for tables indexed by state.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The state's name on the wire, in the API, in the lease database and in `data-state`: the one
    /// spelling everything else parses back with `FromStr`.
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

impl fmt::Display for LeaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is none of `LeaseState::ALL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state `{0}` (a lease is offered, bound, declined, released or expired)")]
pub struct UnknownState(pub String);

impl std::str::FromStr for LeaseState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, UnknownState> {
        LeaseState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownState(s.to_string()))
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
    /// The server that made the record (its `server_name`), when several share a lease database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<std::sync::Arc<str>>,
    /// The client's first matching class when it was bound (`[[class]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<std::sync::Arc<str>>,
    /// The name registered in DNS for it (dynamic DNS), as registered: what its removal takes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<std::sync::Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_name_parses_back_and_matches_serde() {
        for (i, st) in LeaseState::ALL.into_iter().enumerate() {
            assert_eq!(st.index(), i);
            assert_eq!(st.as_str().parse::<LeaseState>(), Ok(st));
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{st}\""));
        }
        assert_eq!("Bound".parse::<LeaseState>(), Err(UnknownState("Bound".into())));
    }
}
