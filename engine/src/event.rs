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

/// The fields of one DHCP packet that a flow view or a log line shows. Built from the bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketSummary {
    /// `DHCPDISCOVER`, `DHCPOFFER`, … (or `BOOTP` without option 53).
    pub msg: String,
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
    pub hostname: Option<String>,
    pub size: usize,
}

/// `DHCPDISCOVER` etc. for a message type.
pub fn message_name(t: dhcproto::v4::MessageType) -> String {
    use dhcproto::v4::MessageType as M;
    match t {
        M::Discover => "DHCPDISCOVER".into(),
        M::Offer => "DHCPOFFER".into(),
        M::Request => "DHCPREQUEST".into(),
        M::Decline => "DHCPDECLINE".into(),
        M::Ack => "DHCPACK".into(),
        M::Nak => "DHCPNAK".into(),
        M::Release => "DHCPRELEASE".into(),
        M::Inform => "DHCPINFORM".into(),
        other => format!("DHCP({})", u8::from(other)),
    }
}

impl PacketSummary {
    /// Summarises a DHCP packet; `None` if it is not one (the same checks as the server's guard).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        use dhcproto::v4::{DhcpOption, OptionCode};
        let op = *bytes.first()?;
        let msg = if op == 1 {
            crate::packet::parse_request(bytes).ok()?.msg
        } else {
            crate::packet::parse_reply(bytes).ok()?.msg
        };
        let o = msg.opts();
        Some(PacketSummary {
            msg: o.msg_type().map(message_name).unwrap_or_else(|| "BOOTP".into()),
            xid: msg.xid(),
            broadcast_flag: msg.flags().broadcast(),
            ciaddr: msg.ciaddr(),
            yiaddr: msg.yiaddr(),
            siaddr: msg.siaddr(),
            giaddr: msg.giaddr(),
            chaddr: HwAddr::new(msg.chaddr()).unwrap_or_default(),
            requested_ip: match o.get(OptionCode::RequestedIpAddress) {
                Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
                _ => None,
            },
            server_id: match o.get(OptionCode::ServerIdentifier) {
                Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
                _ => None,
            },
            lease_secs: match o.get(OptionCode::AddressLeaseTime) {
                Some(DhcpOption::AddressLeaseTime(s)) => Some(*s),
                _ => None,
            },
            hostname: match o.get(OptionCode::Hostname) {
                Some(DhcpOption::Hostname(h)) => Some(h.clone()),
                _ => None,
            },
            size: bytes.len(),
        })
    }
}
