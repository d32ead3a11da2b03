//! A DHCP relay agent (RFC 1542 §4, RFC 3046) as a sans-IO state machine, like the server and the client:
//! datagrams go in with the link they arrived on, and what to send comes out of `poll_transmit`. A relay
//! keeps no state between messages and sets no timers, so there is no `poll_timeout`; routing the
//! unicast to a server is the network's business, not the agent's.

use crate::hwaddr::HwAddr;
use crate::packet::{Dropped, decode_request, parse_reply};
use crate::reply::{Destination, encode};
use dhcproto::v4::relay::{RelayAgentInformation, RelayInfo};
use dhcproto::v4::{DhcpOption, OptionCode};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// RFC 1542 §4.1.1: a relay discards requests that have already crossed this many relays.
pub const MAX_HOPS: u8 = 16;

/// One of the agent's links: its address there (giaddr for clients on it) and the sub-options it puts in
/// option 82 for them (RFC 3046 §2.0): the circuit (port or VLAN) and, where the agent names itself, the
/// remote id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLink {
    pub addr: Ipv4Addr,
    pub circuit_id: Vec<u8>,
    pub remote_id: Option<Vec<u8>>,
}

impl RelayLink {
    pub fn new(addr: Ipv4Addr, circuit_id: impl Into<Vec<u8>>) -> Self {
        RelayLink { addr, circuit_id: circuit_id.into(), remote_id: None }
    }
}

/// Something the agent sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayTransmit {
    /// A client's message to a server, by unicast to port 67 (RFC 1542 §4.1.1).
    ToServer { server: Ipv4Addr, bytes: Vec<u8> },
    /// A server's reply, out of `link` from the agent's address there to the client (RFC 1542 §4.1.2).
    ToClient { link: usize, src: Ipv4Addr, dst: Destination, bytes: Vec<u8> },
}

/// Why the agent passed a message over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayDrop {
    #[error("not a DHCP message: {0}")]
    Unreadable(#[from] Dropped),
    #[error("the request has crossed {MAX_HOPS} relays already")]
    TooManyHops,
    #[error("giaddr {0} is none of this agent's addresses")]
    NotOurs(Ipv4Addr),
    #[error("no link {0}")]
    NoLink(usize),
    #[error("the relayed message does not encode: {0}")]
    Encode(String),
}

#[derive(Debug, Clone)]
pub struct RelayAgent {
    links: Vec<RelayLink>,
    servers: Vec<Ipv4Addr>,
    transmits: VecDeque<RelayTransmit>,
}

impl RelayAgent {
    pub fn new(links: Vec<RelayLink>, servers: Vec<Ipv4Addr>) -> Self {
        RelayAgent { links, servers, transmits: VecDeque::new() }
    }

    pub fn links(&self) -> &[RelayLink] {
        &self.links
    }

    pub fn servers(&self) -> &[Ipv4Addr] {
        &self.servers
    }

    /// The link whose address is `ip`.
    pub fn link_of(&self, ip: Ipv4Addr) -> Option<usize> {
        self.links.iter().position(|l| l.addr == ip)
    }

    /// A client's message heard on `link`: relayed to every server with giaddr and option 82 set.
    pub fn handle_request(&mut self, link: usize, bytes: &[u8]) -> Result<(), RelayDrop> {
        let here = self.links.get(link).ok_or(RelayDrop::NoLink(link))?;
        let mut msg = decode_request(bytes)?;
        if msg.hops() >= MAX_HOPS {
            return Err(RelayDrop::TooManyHops);
        }
        msg.set_hops(msg.hops() + 1);
        // RFC 1542 §4.1.1: the first relay sets giaddr; a later one leaves it.
        if msg.giaddr().is_unspecified() {
            msg.set_giaddr(here.addr);
        }
        if !msg.opts().contains(OptionCode::RelayAgentInformation) {
            // RFC 3046: the circuit the request came in on, so the server (and its logs) can tell.
            let mut info = RelayAgentInformation::default();
            info.insert(RelayInfo::AgentCircuitId(here.circuit_id.clone()));
            if let Some(remote) = &here.remote_id {
                info.insert(RelayInfo::AgentRemoteId(remote.clone()));
            }
            msg.opts_mut().insert(DhcpOption::RelayAgentInformation(info));
        }
        let bytes = encode(&msg).map_err(|e| RelayDrop::Encode(e.to_string()))?;
        for &server in &self.servers {
            self.transmits.push_back(RelayTransmit::ToServer { server, bytes: bytes.clone() });
        }
        Ok(())
    }

    /// A server's reply to one of the agent's addresses: passed to the client on the giaddr's link.
    pub fn handle_reply(&mut self, bytes: &[u8]) -> Result<(), RelayDrop> {
        let mut msg = parse_reply(bytes)?.msg;
        let giaddr = msg.giaddr();
        let link = self.link_of(giaddr).ok_or(RelayDrop::NotOurs(giaddr))?;
        // RFC 3046 §2.2: option 82 is for the relay; it never reaches the client.
        msg.opts_mut().remove(OptionCode::RelayAgentInformation);
        let bytes = encode(&msg).map_err(|e| RelayDrop::Encode(e.to_string()))?;
        // RFC 1542 §5.4: broadcast if the client asked (or has no address), else unicast to yiaddr at
        // chaddr, or to ciaddr.
        let dst = if msg.flags().broadcast() || (msg.yiaddr().is_unspecified() && msg.ciaddr().is_unspecified()) {
            Destination::Broadcast
        } else if !msg.yiaddr().is_unspecified() {
            Destination::Hardware { ip: msg.yiaddr(), hw: HwAddr::new(msg.chaddr()).unwrap_or_default() }
        } else {
            Destination::Unicast { ip: msg.ciaddr() }
        };
        self.transmits.push_back(RelayTransmit::ToClient { link, src: giaddr, dst, bytes });
        Ok(())
    }

    pub fn poll_transmit(&mut self) -> Option<RelayTransmit> {
        self.transmits.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::ClientMsg;
    use dhcproto::v4::{Decodable, Decoder, Message, MessageType};

    fn agent() -> RelayAgent {
        let links = vec![
            RelayLink::new("198.51.100.1".parse().unwrap(), b"lab".to_vec()),
            RelayLink::new("192.0.2.254".parse().unwrap(), b"core".to_vec()),
        ];
        RelayAgent::new(links, vec!["192.0.2.1".parse().unwrap()])
    }

    fn decode(b: &[u8]) -> Message {
        Message::decode(&mut Decoder::new(b)).unwrap()
    }

    #[test]
    fn a_request_goes_to_each_server_with_giaddr_hops_and_circuit() {
        let mut a = agent();
        let hw = HwAddr::ethernet([2, 0, 0, 0, 0, 1]);
        a.handle_request(0, &ClientMsg::new(MessageType::Discover, hw, 9).bytes()).unwrap();
        let Some(RelayTransmit::ToServer { server, bytes }) = a.poll_transmit() else { panic!("nothing sent") };
        assert_eq!(server, "192.0.2.1".parse::<Ipv4Addr>().unwrap());
        let m = decode(&bytes);
        assert_eq!((m.giaddr(), m.hops()), ("198.51.100.1".parse().unwrap(), 1));
        let Some(DhcpOption::RelayAgentInformation(info)) = m.opts().get(OptionCode::RelayAgentInformation) else {
            panic!("no option 82")
        };
        assert!(info.iter().any(|(_, i)| *i == RelayInfo::AgentCircuitId(b"lab".to_vec())));
        assert_eq!(a.poll_transmit(), None);
    }

    #[test]
    fn a_request_past_the_hop_limit_or_on_no_link_is_dropped() {
        let mut a = agent();
        let hw = HwAddr::ethernet([2, 0, 0, 0, 0, 1]);
        let mut b = ClientMsg::new(MessageType::Discover, hw, 9).bytes();
        b[3] = MAX_HOPS;
        assert_eq!(a.handle_request(0, &b), Err(RelayDrop::TooManyHops));
        assert_eq!(a.handle_request(5, &b), Err(RelayDrop::NoLink(5)));
        assert!(matches!(a.handle_request(0, &b[..100]), Err(RelayDrop::Unreadable(_))));
        assert_eq!(a.poll_transmit(), None);
    }

    #[test]
    fn a_reply_goes_to_the_client_link_without_option_82() {
        let mut a = agent();
        let hw = HwAddr::ethernet([2, 0, 0, 0, 0, 1]);
        a.handle_request(0, &ClientMsg::new(MessageType::Discover, hw, 9).bytes()).unwrap();
        let Some(RelayTransmit::ToServer { bytes, .. }) = a.poll_transmit() else { panic!() };
        // The server's OFFER: the relayed request turned into a reply for 198.51.100.50.
        let mut offer = decode(&bytes);
        offer.set_opcode(dhcproto::v4::Opcode::BootReply);
        offer.set_yiaddr("198.51.100.50".parse::<Ipv4Addr>().unwrap());
        offer.opts_mut().insert(DhcpOption::MessageType(MessageType::Offer));
        a.handle_reply(&encode(&offer).unwrap()).unwrap();
        let Some(RelayTransmit::ToClient { link, src, dst, bytes }) = a.poll_transmit() else { panic!() };
        assert_eq!((link, src), (0, "198.51.100.1".parse().unwrap()));
        assert_eq!(dst, Destination::Hardware { ip: "198.51.100.50".parse().unwrap(), hw });
        assert!(!decode(&bytes).opts().contains(OptionCode::RelayAgentInformation));
        offer.set_giaddr("203.0.113.9".parse::<Ipv4Addr>().unwrap());
        assert_eq!(a.handle_reply(&encode(&offer).unwrap()), Err(RelayDrop::NotOurs("203.0.113.9".parse().unwrap())));
    }
}
