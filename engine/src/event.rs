//! What the engine reports: lease events (the lease story) and packet summaries (the live flow). Shared with
//! the daemon, the WebSocket stream and the web app, hence serde.

use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::lease::{Lease, LeaseState};
use crate::message::DhcpMessage;
use crate::time::Instant;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};

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
    /// The pool was full of offers nobody had asked for yet: the oldest gave way to a newer DISCOVER (a
    /// DISCOVER flood from random MACs shows as these).
    OfferReclaimed,
    /// Another client's REQUEST for the offered address came first (an offer does not reserve the address,
    /// RFC 2131 §4.3.1): typically the client whose own, older offer of it a DISCOVER flood took.
    OfferTaken,
    /// A declined address finished probation and is back in the pool.
    Reclaimed,
    /// A REQUEST was refused with DHCPNAK.
    Nak,
    /// Another server sharing the lease database made or ended this record; this server took it over.
    Synced,
    /// A ping before the OFFER was answered: another host uses the address; it is quarantined as a declined
    /// one is (RFC 2131 §2.2).
    Conflict,
}

impl LeaseEventKind {
    pub const ALL: [LeaseEventKind; 14] = [
        LeaseEventKind::Offered,
        LeaseEventKind::Bound,
        LeaseEventKind::Renewed,
        LeaseEventKind::Released,
        LeaseEventKind::Declined,
        LeaseEventKind::Expired,
        LeaseEventKind::OfferWithdrawn,
        LeaseEventKind::OfferExpired,
        LeaseEventKind::OfferReclaimed,
        LeaseEventKind::OfferTaken,
        LeaseEventKind::Reclaimed,
        LeaseEventKind::Nak,
        LeaseEventKind::Synced,
        LeaseEventKind::Conflict,
    ];

    /// The kind's name on the wire (`offer_withdrawn`), which views show and tests select by.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseEventKind::Offered => "offered",
            LeaseEventKind::Bound => "bound",
            LeaseEventKind::Renewed => "renewed",
            LeaseEventKind::Released => "released",
            LeaseEventKind::Declined => "declined",
            LeaseEventKind::Expired => "expired",
            LeaseEventKind::OfferWithdrawn => "offer_withdrawn",
            LeaseEventKind::OfferExpired => "offer_expired",
            LeaseEventKind::OfferReclaimed => "offer_reclaimed",
            LeaseEventKind::OfferTaken => "offer_taken",
            LeaseEventKind::Reclaimed => "reclaimed",
            LeaseEventKind::Nak => "nak",
            LeaseEventKind::Synced => "synced",
            LeaseEventKind::Conflict => "conflict",
        }
    }
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
    pub hostname: Option<crate::lease::Hostname>,
    /// The lease's state after the event (none for a NAK, which changes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<LeaseState>,
    pub obtained: Instant,
    pub expires: Instant,
    /// Why, for NAKs and withdrawals: plain words for logs and the lab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The server that made the record, when several share a lease database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::name::Name>,
    /// The lease's client class and DNS name (see `Lease`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<crate::name::Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<crate::name::Name>,
    /// The exchange it came from: the client message's xid and the link it arrived on (none for timers and
    /// admin actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
}

/// Which packet an event answers: for logs (`xid`, link) and for following one client's exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub xid: u32,
    /// The receiving link, as the caller numbered it in `RecvMeta::iface`.
    pub iface: u32,
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
            server: lease.server.clone(),
            class: lease.class.clone(),
            dns_name: lease.dns_name.clone(),
            exchange: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// What this event does to the record at its address: the one projection of events onto a lease table,
    /// used by the daemon (what to store) and by every view that mirrors the table from events.
    pub fn change(&self) -> LeaseChange {
        match self.kind {
            // The offer is gone and the address free, with no client to remember.
            LeaseEventKind::OfferExpired
            | LeaseEventKind::OfferReclaimed
            | LeaseEventKind::OfferWithdrawn
            | LeaseEventKind::OfferTaken
            | LeaseEventKind::Reclaimed => LeaseChange::Remove,
            // A NAK refuses a request and leaves every record as it was.
            LeaseEventKind::Nak => LeaseChange::Keep,
            // Another server's record: as it now stands, or gone.
            LeaseEventKind::Synced => self.state.map_or(LeaseChange::Remove, LeaseChange::Set),
            _ => self.state.map_or(LeaseChange::Keep, LeaseChange::Set),
        }
    }
}

/// The effect of one lease event on the record at its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseChange {
    /// The record now exists in this state (created or updated).
    Set(LeaseState),
    /// The record is gone.
    Remove,
    /// Nothing changed.
    Keep,
}

/// The fields of one DHCP packet that a flow view or a log line shows. Built from the bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketSummary {
    pub msg: DhcpMessage,
    pub xid: u32,
    pub broadcast_flag: bool,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: HwAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_ip: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<crate::lease::Hostname>,
    pub size: usize,
}

impl PacketSummary {
    /// Summarises a DHCP packet; `None` if it is not one (the same checks as the server's guard).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        use dhcproto::v4::{DhcpOption, OptionCode};
        if *bytes.first()? == 1 {
            let r = crate::packet::parse_request(bytes).ok()?;
            let h = r.header;
            return Some(PacketSummary {
                msg: r.kind,
                xid: h.xid,
                broadcast_flag: h.flags.broadcast(),
                ciaddr: h.ciaddr,
                yiaddr: h.yiaddr,
                siaddr: h.siaddr,
                giaddr: h.giaddr,
                chaddr: r.hw,
                requested_ip: r.requested_ip,
                server_id: r.server_id,
                lease_secs: r.lease_time.map(crate::time::secs),
                hostname: r.hostname,
                size: bytes.len(),
            });
        }
        let r = crate::packet::parse_reply(bytes).ok()?;
        let (m, o) = (&r.msg, r.msg.opts());
        Some(PacketSummary {
            msg: r.kind,
            xid: m.xid(),
            broadcast_flag: m.flags().broadcast(),
            ciaddr: m.ciaddr(),
            yiaddr: m.yiaddr(),
            siaddr: m.siaddr(),
            giaddr: m.giaddr(),
            chaddr: HwAddr::new(m.chaddr()).unwrap_or_default(),
            requested_ip: match o.get(OptionCode::RequestedIpAddress) {
                Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
                _ => None,
            },
            server_id: r.server_id,
            lease_secs: r.lease_time.map(crate::time::secs),
            hostname: match o.get(OptionCode::Hostname) {
                Some(DhcpOption::Hostname(h)) => Some(h.as_str().into()),
                _ => None,
            },
            size: bytes.len(),
        })
    }
}

/// Which way a packet went, seen from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received on port 67.
    In,
    /// Sent by the server.
    Out,
}

/// A packet the daemon received or sent on one of its links: the dashboard's live flow and inspector.
/// It carries the DHCP payload, so the browser dissects exactly the bytes that were on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketSeen {
    pub dir: Direction,
    /// The link's name (interface, or `demo`).
    pub link: String,
    pub at: Instant,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub summary: PacketSummary,
    /// The UDP payload, as plain hex.
    #[serde(with = "plain_hex")]
    pub payload: Vec<u8>,
}

impl PacketSeen {
    /// The packet as an Ethernet frame, for a pcap of the live flow. The daemon keeps no MAC addresses, so
    /// the client's is its chaddr, a broadcast's is ff:ff:ff:ff:ff:ff, and the server's is left zero.
    pub fn frame(&self) -> crate::pcap::Frame {
        let client = self.summary.chaddr;
        let unknown = HwAddr::ethernet([0; 6]);
        let to = if self.dst.ip().is_broadcast() { HwAddr::ethernet([0xff; 6]) } else { unknown };
        let (src_mac, dst_mac) = match self.dir {
            Direction::In => (client, to),
            Direction::Out if self.dst.ip().is_broadcast() => (unknown, to),
            Direction::Out => (unknown, client),
        };
        crate::pcap::Frame {
            at: self.at,
            src_mac,
            dst_mac,
            src: self.src,
            dst: self.dst,
            payload: self.payload.clone(),
        }
    }
}

/// `Vec<u8>` as one hex string without separators: half the size of `01:02:…`, and no JSON number arrays.
mod plain_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let text: String =
            b.iter().flat_map(|x| [DIGITS[usize::from(x >> 4)], DIGITS[usize::from(x & 15)]]).map(char::from).collect();
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let t = text.as_bytes();
        if !t.len().is_multiple_of(2) {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        t.chunks(2)
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("not hex"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kind_names_are_the_wire_names() {
        for k in LeaseEventKind::ALL {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn a_seen_packet_round_trips_through_json_with_its_bytes() {
        let bytes = crate::builder::ClientMsg::new(
            dhcproto::v4::MessageType::Discover,
            HwAddr::ethernet([2, 0, 0, 0, 0, 9]),
            0x1234,
        )
        .hostname("pc")
        .bytes();
        let p = PacketSeen {
            dir: Direction::In,
            link: "eth1".into(),
            at: Instant::from_millis(5),
            src: "0.0.0.0:68".parse().unwrap(),
            dst: "192.0.2.1:67".parse().unwrap(),
            summary: PacketSummary::from_bytes(&bytes).unwrap(),
            payload: bytes.clone(),
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"dir\":\"in\""), "{json}");
        assert!(json.contains("\"payload\":\"0101060000001234"), "{json}");
        let back: PacketSeen = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<PacketSeen>(&json.replace("\"payload\":\"01", "\"payload\":\"0")).is_err());
    }
}
