//! Building OFFER, ACK and NAK messages (RFC 2131 §4.3.1 table 3) and choosing where they go (§4.1).

use crate::class::ClientClass;
use crate::hwaddr::HwAddr;
use crate::message::{CLIENT_PORT, DhcpMessage, SERVER_PORT};
use crate::packet::Request;
use crate::subnet::Subnet;
use crate::time::{Duration, secs};
use dhcproto::error::EncodeError;
use dhcproto::v4::{DhcpOption, DhcpOptions, Message, MessageType, Opcode, OptionCode, UnknownOption};
use dhcproto::{Encodable, Encoder, Name};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};

/// RFC 951/1542: BOOTP relays and some clients drop messages shorter than this.
pub const BOOTP_MIN_LEN: usize = 300;

/// Where a reply goes, per RFC 2131 §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Destination {
    /// To the relay agent at giaddr, server port.
    Relay { ip: Ipv4Addr },
    /// To ciaddr: the client already has a working address.
    Unicast { ip: Ipv4Addr },
    /// To 255.255.255.255 on the receiving link: the client asked for broadcast or cannot receive unicast yet.
    Broadcast,
    /// To yiaddr at chaddr without ARP (the client has no address to answer ARP with yet). An IO layer that
    /// cannot set an ARP entry sends it as a broadcast instead.
    Hardware { ip: Ipv4Addr, hw: HwAddr },
}

impl Destination {
    pub fn socket_addr(&self) -> SocketAddrV4 {
        match *self {
            Destination::Relay { ip } => SocketAddrV4::new(ip, SERVER_PORT),
            Destination::Unicast { ip } | Destination::Hardware { ip, .. } => SocketAddrV4::new(ip, CLIENT_PORT),
            Destination::Broadcast => SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT),
        }
    }

    /// RFC 2131 §4.1, in order: relay; NAK broadcast; ciaddr; broadcast bit; else unicast to chaddr/yiaddr.
    pub fn for_reply(req: &Request, kind: DhcpMessage, yiaddr: Ipv4Addr) -> Destination {
        let h = &req.header;
        if req.relayed() {
            Destination::Relay { ip: h.giaddr }
        } else if kind == DhcpMessage::Nak {
            Destination::Broadcast
        } else if !h.ciaddr.is_unspecified() {
            Destination::Unicast { ip: h.ciaddr }
        } else if h.flags.broadcast() || yiaddr.is_unspecified() {
            Destination::Broadcast
        } else {
            Destination::Hardware { ip: yiaddr, hw: req.hw }
        }
    }
}

/// The lease part of an OFFER or ACK.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTimes {
    pub lease: Duration,
    pub t1: Duration,
    pub t2: Duration,
}

/// RFC 2131 table 3: a reply's ciaddr is the client's in an ACK (renewal, INFORM), zero in an OFFER.
pub fn reply_ciaddr(req: &Request, kind: MessageType) -> Ipv4Addr {
    if kind == MessageType::Ack { req.header.ciaddr } else { Ipv4Addr::UNSPECIFIED }
}

/// The skeleton every reply shares: op, hardware fields, xid, flags and giaddr copied from the request.
fn skeleton(req: &Request, kind: MessageType, ciaddr: Ipv4Addr, yiaddr: Ipv4Addr, server_id: Ipv4Addr) -> Message {
    let h = &req.header;
    let mut r = Message::new_with_id(h.xid, ciaddr, yiaddr, Ipv4Addr::UNSPECIFIED, h.giaddr, req.hw.as_bytes());
    r.set_opcode(Opcode::BootReply).set_htype(h.htype).set_flags(h.flags);
    let opts = r.opts_mut();
    opts.insert(DhcpOption::MessageType(kind));
    opts.insert(DhcpOption::ServerIdentifier(server_id));
    // RFC 6842: echo the client identifier so the client can match the reply.
    if let Some(id) = &req.client_id {
        opts.insert(DhcpOption::ClientIdentifier(id.0.to_vec()));
    }
    // RFC 3046 §2.2: the relay agent information goes back to the relay unchanged.
    if req.relayed()
        && let Some(info) = &req.relay_info
    {
        let value = info.as_bytes().to_vec();
        opts.insert(DhcpOption::Unknown(UnknownOption::new(OptionCode::RelayAgentInformation, value)));
    }
    r
}

/// An OFFER, ACK (with a lease) or INFORM ACK (without): the subnet's options, overridden by the client's
/// classes' (the first class that sets a value wins), filtered by the client's parameter request list
/// (option 55) when it sent one.
#[allow(clippy::too_many_arguments)]
pub fn offer_or_ack(
    req: &Request,
    kind: MessageType,
    yiaddr: Ipv4Addr,
    server_id: Ipv4Addr,
    subnet: &Subnet,
    lease: Option<LeaseTimes>,
    hostname: Option<&str>,
    classes: &[&ClientClass],
) -> Message {
    let mut r = skeleton(req, kind, reply_ciaddr(req, kind), yiaddr, server_id);
    let c = &subnet.config;
    let routers = classes.iter().find_map(|k| k.routers.as_ref()).unwrap_or(&c.routers);
    let dns = classes.iter().find_map(|k| k.dns.as_ref()).unwrap_or(&c.dns);
    let domain_name = classes.iter().find_map(|k| k.domain_name.as_ref()).or(c.domain_name.as_ref());
    boot(&mut r, req, classes);
    let opts = r.opts_mut();
    if let Some(t) = lease {
        opts.insert(DhcpOption::AddressLeaseTime(secs(t.lease)));
        opts.insert(DhcpOption::Renewal(secs(t.t1)));
        opts.insert(DhcpOption::Rebinding(secs(t.t2)));
    }
    // The mask always: a client without it would guess a classful one (RFC 2131 §3.3 asks servers to send it).
    opts.insert(DhcpOption::SubnetMask(subnet.net.netmask()));
    if !routers.is_empty() && req.wants(3) {
        opts.insert(DhcpOption::Router(routers.clone()));
    }
    if !dns.is_empty() && req.wants(6) {
        opts.insert(DhcpOption::DomainNameServer(dns.clone()));
    }
    if let Some(h) = hostname
        && req.wants(12)
    {
        opts.insert(DhcpOption::Hostname(h.to_string()));
    }
    if let Some(d) = domain_name
        && req.wants(15)
    {
        opts.insert(DhcpOption::DomainName(d.clone()));
    }
    if req.wants(28) && subnet.net.prefix_len() < 31 {
        opts.insert(DhcpOption::BroadcastAddr(subnet.net.broadcast()));
    }
    if !c.ntp.is_empty() && req.wants(42) {
        opts.insert(DhcpOption::NtpServers(c.ntp.clone()));
    }
    if !c.domain_search.is_empty() && req.wants(119) {
        let names: Vec<Name> = c.domain_search.iter().filter_map(|d| Name::from_ascii(d).ok()).collect();
        opts.insert(DhcpOption::DomainSearch(names));
    }
    if !c.routes.is_empty() && req.wants(121) {
        opts.insert(DhcpOption::ClasslessStaticRoute(c.routes.iter().map(|r| (r.destination, r.gateway)).collect()));
    }
    for (code, payload) in custom_options(req, subnet, classes) {
        opts.insert(DhcpOption::Unknown(UnknownOption::new(code.into(), payload)));
    }
    r
}

/// The options set in the config (`[[subnet.option]]`, a class's `option`) that a reply to `req` carries:
/// the subnet's, then each class's from the last to the first. Inserted in this order, an option of the
/// same code replaces the one before, so the first class wins; any of them replaces the option of that
/// code the server would send.
pub fn custom_options<'a>(
    req: &'a Request,
    subnet: &'a Subnet,
    classes: &'a [&ClientClass],
) -> impl Iterator<Item = (u8, Vec<u8>)> + 'a {
    let by_class = classes.iter().rev().flat_map(|k| &k.options);
    subnet
        .config
        .options
        .iter()
        .chain(by_class)
        .filter(|o| req.wants(o.code))
        .filter_map(|o| Some((o.code, o.payload().ok()?)))
}

/// Network boot from the client's classes: `siaddr` is the next server (RFC 2131 §2); the boot file goes in
/// the `file` field and the TFTP server name in `sname`, where PXE firmware reads them, and also as options
/// 67 and 66 when the client asks for those (RFC 2132 §9.4, §9.5) or when a name does not fit its field.
/// The fields hold names, never options, so option overload (52) is never used.
fn boot(r: &mut Message, req: &Request, classes: &[&ClientClass]) {
    if let Some(ip) = classes.iter().find_map(|k| k.next_server) {
        r.set_siaddr(ip);
    }
    // Room for the name and its terminating NUL.
    if let Some(file) = classes.iter().find_map(|k| k.boot_file.as_ref()) {
        if file.len() < 128 {
            r.set_fname_str(file);
        }
        if req.wants(67) || file.len() >= 128 {
            r.opts_mut().insert(DhcpOption::BootfileName(file.as_bytes().to_vec()));
        }
    }
    if let Some(name) = classes.iter().find_map(|k| k.tftp_server.as_ref()) {
        if name.len() < 64 {
            r.set_sname_str(name);
        }
        if req.wants(66) || name.len() >= 64 {
            r.opts_mut().insert(DhcpOption::TFTPServerName(name.as_bytes().to_vec()));
        }
    }
}

/// A NAK: no address, no lease, only the reason (option 56) for the client's log (RFC 2131 table 3).
pub fn nak(req: &Request, server_id: Ipv4Addr, reason: &str) -> Message {
    let mut r = skeleton(req, MessageType::Nak, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, server_id);
    // RFC 2131 §4.3.2: a NAK through a relay has the broadcast bit set so the relay broadcasts it.
    if req.relayed() {
        let f = r.flags().set_broadcast();
        r.set_flags(f);
    }
    r.opts_mut().insert(DhcpOption::Message(reason.to_string()));
    r
}

/// Encodes and pads to the BOOTP minimum. The fixed header (RFC 2131 §2) is written here, each field in
/// one copy, and dhcproto encodes the options: its own header encoding pads sname and file, 192 bytes that
/// are almost always zeros, one byte at a time (a tenth of a DORA's work in the engine). The bytes are the
/// same; a chaddr length over 16, which only a malformed message carries, is left to dhcproto whole.
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(BOOTP_MIN_LEN + 64);
    if usize::from(msg.hlen()) <= CHADDR_LEN {
        Header::of(msg).write(&mut buf)?;
        write_options(msg.opts(), &mut buf)?;
    } else {
        msg.encode(&mut Encoder::new(&mut buf))?;
    }
    pad(&mut buf);
    Ok(buf)
}

/// The options in code order, then option 82 (RFC 3046 §2.1: relay agents add it last and look for it
/// there), then END: dhcproto's order. Written here because dhcproto's encoder writes an option of a
/// known code set as raw bytes (`DhcpOption::Unknown`, as the echoed option 82 is) twice: such an option
/// is keyed apart from the typed code, which its filter compares and its lookup does not.
fn write_options(opts: &DhcpOptions, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    let relay_info = |code: &OptionCode| u8::from(*code) == u8::from(OptionCode::RelayAgentInformation);
    let mut encoded = Vec::new();
    // dhcproto's encoder writes from the start of the buffer it is given.
    let mut e = Encoder::new(&mut encoded);
    for (_, opt) in opts.iter().filter(|(c, _)| !relay_info(c)).chain(opts.iter().filter(|(c, _)| relay_info(c))) {
        opt.encode(&mut e)?;
    }
    DhcpOption::End.encode(&mut e)?;
    buf.extend_from_slice(&encoded);
    Ok(())
}

/// Pads a message to the BOOTP minimum (RFC 1542 §3.3).
pub fn pad(buf: &mut Vec<u8>) {
    if buf.len() < BOOTP_MIN_LEN {
        buf.resize(BOOTP_MIN_LEN, 0);
    }
}

/// The fixed header of a message (RFC 2131 §2, figure 1), up to and including the magic cookie.
pub struct Header<'a> {
    pub op: Opcode,
    pub htype: dhcproto::v4::HType,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: dhcproto::v4::Flags,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: &'a [u8],
    pub sname: &'a [u8],
    pub file: &'a [u8],
}

impl<'a> Header<'a> {
    fn of(msg: &'a Message) -> Self {
        Header {
            op: msg.opcode(),
            htype: msg.htype(),
            hops: msg.hops(),
            xid: msg.xid(),
            secs: msg.secs(),
            flags: msg.flags(),
            ciaddr: msg.ciaddr(),
            yiaddr: msg.yiaddr(),
            siaddr: msg.siaddr(),
            giaddr: msg.giaddr(),
            chaddr: msg.chaddr(),
            sname: msg.sname().unwrap_or_default(),
            file: msg.fname().unwrap_or_default(),
        }
    }

    /// Appends the header; a chaddr, sname or file longer than its field is an error.
    pub fn write(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        let hlen =
            u8::try_from(self.chaddr.len()).map_err(|_| EncodeError::StringSizeTooBig { len: self.chaddr.len() })?;
        buf.extend_from_slice(&[u8::from(self.op), u8::from(self.htype), hlen, self.hops]);
        buf.extend_from_slice(&self.xid.to_be_bytes());
        buf.extend_from_slice(&self.secs.to_be_bytes());
        buf.extend_from_slice(&u16::from(self.flags).to_be_bytes());
        for addr in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            buf.extend_from_slice(&addr.octets());
        }
        padded(buf, self.chaddr, CHADDR_LEN)?;
        padded(buf, self.sname, 64)?;
        padded(buf, self.file, 128)?;
        buf.extend_from_slice(&dhcproto::v4::MAGIC);
        Ok(())
    }
}

/// The chaddr field's length in the fixed header.
const CHADDR_LEN: usize = 16;

/// `bytes` in a field of `len`, zero-filled after them.
fn padded(buf: &mut Vec<u8>, bytes: &[u8], len: usize) -> Result<(), EncodeError> {
    if bytes.len() > len {
        return Err(EncodeError::StringSizeTooBig { len: bytes.len() });
    }
    buf.extend_from_slice(bytes);
    buf.resize(buf.len() + len - bytes.len(), 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::Flags;

    /// dhcproto's own encoding of the whole message, padded as `encode` pads.
    fn theirs(msg: &Message) -> Vec<u8> {
        let mut buf = Vec::new();
        msg.encode(&mut Encoder::new(&mut buf)).unwrap();
        buf.resize(buf.len().max(BOOTP_MIN_LEN), 0);
        buf
    }

    #[test]
    fn the_header_written_here_is_the_one_dhcproto_writes() {
        let hw = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let mut m = Message::new_with_id(
            0xdead_beef,
            Ipv4Addr::new(192, 0, 2, 7),
            Ipv4Addr::new(192, 0, 2, 10),
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 51, 100, 1),
            &hw,
        );
        m.set_opcode(Opcode::BootReply).set_secs(513).set_hops(2).set_flags(Flags::default().set_broadcast());
        m.opts_mut().insert(DhcpOption::MessageType(MessageType::Ack));
        m.opts_mut().insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)));
        m.opts_mut().insert(DhcpOption::AddressLeaseTime(3600));
        assert_eq!(encode(&m).unwrap(), theirs(&m), "no sname or file");
        m.set_sname_str("boot.example").set_fname_str("pxelinux.0");
        assert_eq!(encode(&m).unwrap(), theirs(&m), "with sname and file");
        // A long option list runs past the BOOTP minimum: nothing is padded then.
        for i in 0..40u8 {
            m.opts_mut().insert(DhcpOption::Unknown(UnknownOption::new(
                dhcproto::v4::OptionCode::from(200 + i % 50),
                vec![i; 8],
            )));
        }
        let long = encode(&m).unwrap();
        assert!(long.len() > BOOTP_MIN_LEN);
        assert_eq!(long, theirs(&m), "options past the minimum");
        m.set_chaddr(&[7; 16]);
        assert_eq!(encode(&m).unwrap(), theirs(&m), "a full 16-byte chaddr");
    }

    #[test]
    fn a_value_too_long_for_its_field_is_an_error() {
        let mut buf = vec![];
        assert!(matches!(padded(&mut buf, &[b'x'; 129], 128), Err(EncodeError::StringSizeTooBig { len: 129 })));
        padded(&mut buf, b"pxelinux.0", 128).unwrap();
        assert_eq!(buf.len(), 128);
        assert!(buf.starts_with(b"pxelinux.0") && buf[10..].iter().all(|&b| b == 0));
    }
}
