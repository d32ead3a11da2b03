//! A lease: one address, the client that holds (or last held) it, and where it stands in its life.

use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::name::Name;
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
        self.as_ref().fmt(f)
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

/// A client's host name (option 12). Nearly all fit in 24 bytes, which this keeps inside the record or
/// event that holds it: a million leases then spend no heap on their names, and a packet none on its own.
pub type Hostname = compact_str::CompactString;

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

/// The same key, borrowed from where it lives: a lease record keeps its client's identifier and chaddr once,
/// and this reads the key from them without copying either. Hashes and compares as the owned key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKeyRef<'a> {
    ClientId(&'a HexBytes),
    Hw(&'a HwAddr),
}

impl ClientKey {
    pub fn as_ref(&self) -> ClientKeyRef<'_> {
        match self {
            ClientKey::ClientId(id) => ClientKeyRef::ClientId(id),
            ClientKey::Hw(hw) => ClientKeyRef::Hw(hw),
        }
    }
}

impl ClientKeyRef<'_> {
    /// The key kept beyond the borrow (a client whose OFFER waits for a probe of its address).
    pub fn into_owned(self) -> ClientKey {
        match self {
            ClientKeyRef::ClientId(id) => ClientKey::ClientId(id.clone()),
            ClientKeyRef::Hw(hw) => ClientKey::Hw(*hw),
        }
    }

    /// What the key is made of.
    pub fn keyed_by(self) -> KeyedBy {
        match self {
            ClientKeyRef::ClientId(_) => KeyedBy::ClientId,
            ClientKeyRef::Hw(_) => KeyedBy::Hw,
        }
    }
}

impl fmt::Display for ClientKeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKeyRef::ClientId(id) => write!(f, "id {id}"),
            ClientKeyRef::Hw(hw) => write!(f, "hw {hw}"),
        }
    }
}

/// Which of its client's two names a lease is filed under (RFC 2131 §4.2): the client identifier it sent
/// (with `match_client_id`, the default), or its hardware address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyedBy {
    ClientId,
    Hw,
}

/// One address's lease record.
///
/// Invariant (checked by `LeaseTable::check_invariants`): `obtained <= expires`; a record that holds its
/// address is absent from the free set; at most one record per client per subnet.
///
/// A million of these live in a daemon, so the record is compact: the client key is not stored beside the
/// identifier and chaddr it is made of (`keyed_by` says which), host names of up to 24 bytes sit inside it,
/// and the rarer names are thin shared pointers. On the wire it is the plain structure of [`LeaseWire`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "LeaseWire")]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub hw: HwAddr,
    pub client_id: Option<HexBytes>,
    /// Whether the client is known by `client_id` or by `hw`; see [`Lease::client`].
    pub keyed_by: KeyedBy,
    pub hostname: Option<Hostname>,
    pub state: LeaseState,
    /// When the current binding (or offer, or decline) began.
    pub obtained: Instant,
    /// When the current state ends: offer hold, lease end, probation end; for Released and Expired, when
    /// the address was freed.
    pub expires: Instant,
    /// The lease time granted with the last ACK, in whole seconds as option 51 carries it (RFC 2132
    /// §9.2; zero until bound).
    pub lease_secs: u32,
    /// The server that made the record (its `server_name`), when several share a lease database.
    pub server: Option<Name>,
    /// The client's first matching class when it was bound (`[[class]]`).
    pub class: Option<Name>,
    /// The name registered in DNS for it (dynamic DNS), as registered: what its removal takes away.
    pub dns_name: Option<Name>,
}

impl Lease {
    /// The key the server knows the client by. A record keyed by an identifier it does not have (which
    /// nothing builds) falls back to chaddr rather than failing.
    pub fn client(&self) -> ClientKeyRef<'_> {
        match (self.keyed_by, &self.client_id) {
            (KeyedBy::ClientId, Some(id)) => ClientKeyRef::ClientId(id),
            _ => ClientKeyRef::Hw(&self.hw),
        }
    }

    pub fn is_client(&self, key: ClientKeyRef<'_>) -> bool {
        self.client() == key
    }
}

/// A lease as the API, the live bridge and the lab's JSON write it: with its client key spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseWire {
    pub ip: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub client: ClientKey,
    pub hw: HwAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<HexBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Hostname>,
    pub state: LeaseState,
    pub obtained: Instant,
    pub expires: Instant,
    #[serde(with = "crate::duration_text")]
    pub lease_time: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<Name>,
}

/// The wire's fields, borrowed from a record: writing a page of a million-lease table copies nothing.
#[derive(Serialize)]
struct LeaseWireRef<'a> {
    ip: Ipv4Addr,
    subnet: Ipv4Net,
    client: ClientKeyRef<'a>,
    hw: HwAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: &'a Option<HexBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: &'a Option<Hostname>,
    state: LeaseState,
    obtained: Instant,
    expires: Instant,
    #[serde(with = "crate::duration_text")]
    lease_time: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: &'a Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: &'a Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dns_name: &'a Option<Name>,
}

impl Serialize for Lease {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LeaseWireRef {
            ip: self.ip,
            subnet: self.subnet,
            client: self.client(),
            hw: self.hw,
            client_id: &self.client_id,
            hostname: &self.hostname,
            state: self.state,
            obtained: self.obtained,
            expires: self.expires,
            lease_time: Duration::from_secs(self.lease_secs.into()),
            server: &self.server,
            class: &self.class,
            dns_name: &self.dns_name,
        }
        .serialize(s)
    }
}

/// The key is what the record is filed under, so where the wire's key and its parts disagree, the key's
/// part wins.
impl From<LeaseWire> for Lease {
    fn from(w: LeaseWire) -> Self {
        let (keyed_by, hw, client_id) = match w.client {
            ClientKey::ClientId(id) => (KeyedBy::ClientId, w.hw, Some(id)),
            ClientKey::Hw(hw) => (KeyedBy::Hw, hw, w.client_id),
        };
        Lease {
            ip: w.ip,
            subnet: w.subnet,
            hw,
            client_id,
            keyed_by,
            hostname: w.hostname,
            state: w.state,
            obtained: w.obtained,
            expires: w.expires,
            lease_secs: crate::time::secs(w.lease_time),
            server: w.server,
            class: w.class,
            dns_name: w.dns_name,
        }
    }
}

/// For the engine's unit tests: client `client`'s record of 192.0.2.`last`, bound for a minute.
#[cfg(test)]
pub(crate) fn test_record(last: u8, client: u8) -> Lease {
    Lease {
        ip: Ipv4Addr::new(192, 0, 2, last),
        subnet: "192.0.2.0/24".parse().unwrap(),
        keyed_by: KeyedBy::Hw,
        hw: HwAddr::ethernet([2, 0, 0, 0, 0, client]),
        client_id: None,
        hostname: None,
        state: LeaseState::Bound,
        obtained: Instant::ZERO,
        expires: Instant::from_secs(60),
        lease_secs: 60,
        server: None,
        class: None,
        dns_name: None,
    }
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

    #[test]
    fn a_record_is_compact_and_its_wire_form_spells_out_the_key() {
        // A client identifier of up to 22 bytes is inside the record (`ShortBytes`), not a heap block of its own.
        assert!(std::mem::size_of::<Lease>() <= 120, "{} bytes", std::mem::size_of::<Lease>());
        let hw: HwAddr = "52:54:00:01:02:03".parse().unwrap();
        let id: HexBytes = "01:52:54:00:01:02:03".parse().unwrap();
        let mut l = Lease {
            ip: "192.0.2.10".parse().unwrap(),
            subnet: "192.0.2.0/24".parse().unwrap(),
            hw,
            client_id: Some(id.clone()),
            keyed_by: KeyedBy::ClientId,
            hostname: Some("laptop".into()),
            state: LeaseState::Bound,
            obtained: Instant::from_secs(10),
            expires: Instant::from_secs(3610),
            lease_secs: 3600,
            server: None,
            class: Some("phones".into()),
            dns_name: None,
        };
        assert!(l.is_client(ClientKeyRef::ClientId(&id)) && !l.is_client(ClientKeyRef::Hw(&hw)));
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["client"], serde_json::json!({ "client_id": "01:52:54:00:01:02:03" }));
        assert_eq!((&json["lease_time"], &json["class"], json.get("server")), (&"1h".into(), &"phones".into(), None));
        assert_eq!(serde_json::from_value::<Lease>(json).unwrap(), l);

        // Keyed by chaddr although it sent an identifier (`match_client_id = false`).
        l.keyed_by = KeyedBy::Hw;
        assert!(l.is_client(ClientKeyRef::Hw(&hw)) && !l.is_client(ClientKeyRef::ClientId(&id)));
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["client"], serde_json::json!({ "hw": "52:54:00:01:02:03" }));
        assert_eq!(serde_json::from_value::<Lease>(json).unwrap(), l);
    }
}
