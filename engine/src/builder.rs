//! Building client messages (DISCOVER, REQUEST, …) field by field. The client state machine, the tests and
//! the fuzzer's seeds all use it, so every client message in dhcplab is made one way.

use crate::hwaddr::HwAddr;
use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, OptionCode};
use std::net::Ipv4Addr;

/// A client message under construction.
#[derive(Debug, Clone)]
pub struct ClientMsg {
    msg: Message,
}

impl ClientMsg {
    pub fn new(kind: MessageType, hw: HwAddr, xid: u32) -> Self {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut msg = Message::new_with_id(xid, z, z, z, z, hw.as_bytes());
        msg.opts_mut().insert(DhcpOption::MessageType(kind));
        ClientMsg { msg }
    }

    pub fn opt(mut self, o: DhcpOption) -> Self {
        self.msg.opts_mut().insert(o);
        self
    }

    /// Option 50.
    pub fn requested(self, ip: Ipv4Addr) -> Self {
        self.opt(DhcpOption::RequestedIpAddress(ip))
    }

    /// Option 54.
    pub fn server(self, ip: Ipv4Addr) -> Self {
        self.opt(DhcpOption::ServerIdentifier(ip))
    }

    /// Option 61.
    pub fn client_id(self, id: Vec<u8>) -> Self {
        self.opt(DhcpOption::ClientIdentifier(id))
    }

    /// Option 12.
    pub fn hostname(self, name: &str) -> Self {
        self.opt(DhcpOption::Hostname(name.to_string()))
    }

    /// Option 55.
    pub fn params(self, codes: &[u8]) -> Self {
        self.opt(DhcpOption::ParameterRequestList(codes.iter().map(|&c| OptionCode::from(c)).collect()))
    }

    pub fn ciaddr(mut self, ip: Ipv4Addr) -> Self {
        self.msg.set_ciaddr(ip);
        self
    }

    pub fn giaddr(mut self, ip: Ipv4Addr) -> Self {
        self.msg.set_giaddr(ip);
        self
    }

    pub fn secs(mut self, secs: u16) -> Self {
        self.msg.set_secs(secs);
        self
    }

    /// Asks the server to broadcast its reply (RFC 2131 §4.1).
    pub fn broadcast(mut self) -> Self {
        self.msg.set_flags(Flags::default().set_broadcast());
        self
    }

    pub fn message(&self) -> &Message {
        &self.msg
    }

    /// Encoded bytes, padded to the 300-byte BOOTP minimum as real clients do (RFC 1542 §2.1). Builder
    /// values are always encodable (no over-long sname/file are ever set).
    pub fn bytes(&self) -> Vec<u8> {
        // Encoding only fails on values the builder cannot produce.
        crate::reply::encode(&self.msg).unwrap_or_default()
    }
}
