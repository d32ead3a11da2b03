//! The DHCP message types (option 53, RFC 2132 §9.6) and the two UDP ports (RFC 2131 §4.1): the one
//! definition that the server, the client, the simulator, the daemon's log and the web app all name.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Servers listen here; clients and relays send to it (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// Clients listen here; servers reply to it unless they answer a relay (RFC 2131 §4.1).
pub const CLIENT_PORT: u16 = 68;

/// A DHCP message type. On the wire, in JSON and on screen it is named as Wireshark and RFC 2131 name it,
/// `DHCPDISCOVER` … `DHCPINFORM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DhcpMessage {
    Discover,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
}

impl DhcpMessage {
    /// In option 53's order (codes 1 to 8).
    pub const ALL: [DhcpMessage; 8] = [
        DhcpMessage::Discover,
        DhcpMessage::Offer,
        DhcpMessage::Request,
        DhcpMessage::Decline,
        DhcpMessage::Ack,
        DhcpMessage::Nak,
        DhcpMessage::Release,
        DhcpMessage::Inform,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            DhcpMessage::Discover => "DHCPDISCOVER",
            DhcpMessage::Offer => "DHCPOFFER",
            DhcpMessage::Request => "DHCPREQUEST",
            DhcpMessage::Decline => "DHCPDECLINE",
            DhcpMessage::Ack => "DHCPACK",
            DhcpMessage::Nak => "DHCPNAK",
            DhcpMessage::Release => "DHCPRELEASE",
            DhcpMessage::Inform => "DHCPINFORM",
        }
    }

    /// The name without its `DHCP` prefix, where space is short (`ACK`).
    pub fn short_name(self) -> &'static str {
        &self.wire_name()[4..]
    }

    /// Option 53's value.
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    pub fn from_code(code: u8) -> Option<DhcpMessage> {
        DhcpMessage::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// Sent by clients (to port 67), as opposed to the server's OFFER, ACK and NAK (RFC 2131 §3.1).
    pub fn from_client(self) -> bool {
        !matches!(self, DhcpMessage::Offer | DhcpMessage::Ack | DhcpMessage::Nak)
    }

    pub fn from_type(t: dhcproto::v4::MessageType) -> Option<DhcpMessage> {
        DhcpMessage::from_code(u8::from(t))
    }

    pub fn message_type(self) -> dhcproto::v4::MessageType {
        dhcproto::v4::MessageType::from(self.code())
    }
}

impl fmt::Display for DhcpMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so widths and alignment in format strings apply.
        f.pad(self.wire_name())
    }
}

impl std::str::FromStr for DhcpMessage {
    type Err = UnknownMessage;

    fn from_str(s: &str) -> Result<Self, UnknownMessage> {
        DhcpMessage::ALL.into_iter().find(|m| m.wire_name() == s).ok_or_else(|| UnknownMessage(s.into()))
    }
}

// Serialized by its wire name, so that name is written once, in `wire_name`.
impl Serialize for DhcpMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.wire_name())
    }
}

impl<'de> Deserialize<'de> for DhcpMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <std::borrow::Cow<'de, str>>::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not one of the eight RFC 2131 message types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a DHCP message type (DHCPDISCOVER … DHCPINFORM)")]
pub struct UnknownMessage(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes_and_dhcproto_types_agree() {
        for m in DhcpMessage::ALL {
            assert_eq!(DhcpMessage::from_code(m.code()), Some(m));
            assert_eq!(DhcpMessage::from_type(m.message_type()), Some(m));
            assert_eq!(m.wire_name().parse::<DhcpMessage>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.wire_name()));
            assert_eq!(serde_json::from_str::<DhcpMessage>(&json).unwrap(), m);
            assert_eq!(format!("{m:<13}|").len(), 14);
        }
        assert_eq!(DhcpMessage::Discover.code(), 1);
        assert_eq!(DhcpMessage::Inform.code(), 8);
        assert_eq!(DhcpMessage::from_code(0), None);
        assert_eq!(DhcpMessage::from_code(9), None);
        assert!(serde_json::from_str::<DhcpMessage>("\"DHCPFOO\"").is_err());
        assert_eq!(DhcpMessage::Ack.short_name(), "ACK");
        assert!(DhcpMessage::Decline.from_client() && !DhcpMessage::Nak.from_client());
    }
}
