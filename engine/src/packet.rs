//! Inbound packets: checked byte by byte before `dhcproto` sees them, then decoded into a [`Request`] with
//! the fields the server decides on. Anything malformed is refused with a [`DropReason`], never a panic.

use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::message::DhcpMessage;
use dhcproto::v4::{DhcpOption, Message, Opcode, OptionCode, fqdn::ClientFQDN, relay::RelayCode, relay::RelayInfo};
use dhcproto::{Decodable, Decoder};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Fixed BOOTP header (236 bytes) plus the magic cookie.
pub const HEADER_LEN: usize = 240;
/// Largest request accepted: an Ethernet MTU less the IPv4 and UDP headers.
pub const MAX_MESSAGE_LEN: usize = 1472;
/// RFC 2131 §3: the first four octets of the options field.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Why a received packet was dropped. Counted per reason and exported as metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Shorter than the 240-byte header and cookie.
    TooShort,
    /// Longer than [`MAX_MESSAGE_LEN`].
    TooLong,
    /// op is not what the port expects: servers only take BOOTREQUESTs, clients only BOOTREPLYs.
    WrongOpcode,
    /// hlen above 16 (or not 6 for Ethernet).
    BadHardwareLength,
    NoMagicCookie,
    /// An option overruns the packet, has the wrong length, or does not decode.
    MalformedOption,
    /// No option 53: a BOOTP client, which dhcplab does not serve.
    NoMessageType,
    /// A message type a server never receives from clients (OFFER, ACK, NAK, unknown).
    UnexpectedMessageType,
    /// Neither chaddr nor a client identifier names the client.
    NoClientIdentity,
    /// A REQUEST with neither server id, requested address nor ciaddr; a DECLINE without an address.
    IncompleteRequest,
    /// No configured subnet matches the link, relay or requested subnet.
    NoSubnet,
    /// Every address of the subnet is in use.
    PoolExhausted,
    /// A relayed packet (giaddr set) from an address that is not one of the subnet's `relays`.
    UntrustedRelay,
    /// A client on a link named another link's subnet (option 118 or option 82 link selection); only
    /// relays may choose the subnet.
    ForeignSubnet,
    /// The client (by hardware address) sent more than `client_packets_per_second`.
    RateLimited,
    /// A REQUEST for a new binding while the lease store is down: nothing can be made durable, so nothing
    /// is promised; the client asks again.
    StoreDown,
}

impl DropReason {
    pub const ALL: [DropReason; 16] = [
        DropReason::TooShort,
        DropReason::TooLong,
        DropReason::WrongOpcode,
        DropReason::BadHardwareLength,
        DropReason::NoMagicCookie,
        DropReason::MalformedOption,
        DropReason::NoMessageType,
        DropReason::UnexpectedMessageType,
        DropReason::NoClientIdentity,
        DropReason::IncompleteRequest,
        DropReason::NoSubnet,
        DropReason::PoolExhausted,
        DropReason::UntrustedRelay,
        DropReason::ForeignSubnet,
        DropReason::RateLimited,
        DropReason::StoreDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::TooLong => "too_long",
            DropReason::WrongOpcode => "wrong_opcode",
            DropReason::BadHardwareLength => "bad_hardware_length",
            DropReason::NoMagicCookie => "no_magic_cookie",
            DropReason::MalformedOption => "malformed_option",
            DropReason::NoMessageType => "no_message_type",
            DropReason::UnexpectedMessageType => "unexpected_message_type",
            DropReason::NoClientIdentity => "no_client_identity",
            DropReason::IncompleteRequest => "incomplete_request",
            DropReason::NoSubnet => "no_subnet",
            DropReason::PoolExhausted => "pool_exhausted",
            DropReason::UntrustedRelay => "untrusted_relay",
            DropReason::ForeignSubnet => "foreign_subnet",
            DropReason::RateLimited => "rate_limited",
            DropReason::StoreDown => "store_down",
        }
    }

    /// Whether the packet itself was unreadable (Kea's `pkt4-parse-failed`), as opposed to readable but
    /// unanswerable.
    pub fn is_parse_failure(self) -> bool {
        matches!(
            self,
            DropReason::TooShort
                | DropReason::TooLong
                | DropReason::WrongOpcode
                | DropReason::BadHardwareLength
                | DropReason::NoMagicCookie
                | DropReason::MalformedOption
                | DropReason::NoMessageType
        )
    }
}

/// A drop with the detail a log line needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct Dropped {
    pub reason: DropReason,
    pub detail: String,
}

impl Dropped {
    pub fn new(reason: DropReason, detail: impl Into<String>) -> Self {
        Dropped { reason, detail: detail.into() }
    }
}

/// A decoded, validated client message and the fields the server decides on.
#[derive(Debug, Clone)]
pub struct Request {
    pub msg: Message,
    /// One of the client's five (DISCOVER, REQUEST, DECLINE, RELEASE, INFORM).
    pub kind: DhcpMessage,
    pub hw: HwAddr,
    pub client_id: Option<HexBytes>,
    pub hostname: Option<crate::lease::Hostname>,
    pub requested_ip: Option<Ipv4Addr>,
    pub server_id: Option<Ipv4Addr>,
    pub lease_time: Option<Duration>,
    /// Option 55 in the client's order.
    pub prl: Option<Vec<u8>>,
    /// Option 118, or sub-option 5 of option 82 (RFC 3527): the subnet the client is on.
    pub link_selection: Option<Ipv4Addr>,
    /// Option 81 (RFC 4702): the name the client wants in DNS, and who should update it.
    pub fqdn: Option<ClientFQDN>,
}

impl Request {
    /// Whether the client asked for option `code` in its parameter request list (option 55), or sent none
    /// and so takes what the server gives (RFC 2132 §9.8).
    pub fn wants(&self, code: u8) -> bool {
        self.prl.as_ref().is_none_or(|prl| prl.contains(&code))
    }
}

/// Whether an option's length fits its definition. Covers every option `dhcproto` 0.15 reads at a fixed
/// size without checking the length byte (it would read past the option, or hit a `debug_assert`), the
/// ones it subtracts from (`len - 1`, `len - 3`), and the RFC 2132 minimums of options the server uses.
fn length_ok(code: u8, len: usize) -> bool {
    match code {
        // u8 / bool values (RFC 2132 §4–§9, RFC 8925 DisableSLAAC, RFC 6926 bulk leasequery).
        19 | 20 | 23 | 27 | 29 | 30 | 31 | 34 | 36 | 37 | 39 | 46 | 52 | 53 | 116 | 156 | 157 => len == 1,
        // u16 values.
        13 | 22 | 26 | 57 | 93 => len == 2,
        // u32 / i32 values and single addresses.
        1 | 2 | 16 | 24 | 28 | 32 | 35 | 38 | 50 | 51 | 54 | 58 | 59 | 91 | 108 | 118 | 152..=155 => len == 4,
        80 => len == 0,
        94 => len == 3,
        81 => len >= 3,
        151 => len >= 1,
        3 | 6 => len >= 4 && len.is_multiple_of(4),
        12 | 55 => len >= 1,
        61 => len >= 2,
        _ => true,
    }
}

/// The option codes a packet carries, as a set of 256 bits: kept on the stack, walked in code order.
#[derive(Default)]
struct Codes([u64; 4]);

impl Codes {
    fn insert(&mut self, code: u8) {
        self.0[usize::from(code >> 6)] |= 1 << (code & 63);
    }

    fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().enumerate().flat_map(|(word, &bits)| {
            let mut left = bits;
            std::iter::from_fn(move || {
                let bit = (left != 0).then(|| left.trailing_zeros())?;
                left &= left - 1;
                u8::try_from(word * 64 + bit as usize).ok()
            })
        })
    }
}

/// Walks the options TLV by hand: `dhcproto` stops silently at the first bad option and reads some fixed
/// sizes without checking the length byte, so structure and lengths are checked here first. Returns the
/// option codes present.
fn scan_options(opts: &[u8]) -> Result<Codes, Dropped> {
    let mut codes = Codes::default();
    // dhcproto joins every occurrence of a code into one value (RFC 3396), adjacent or not, so the
    // joined length must be valid too: two 3-byte option 94s reach its decoder as one of 6 bytes.
    let mut joined = [0u16; 256];
    let mut i = 0;
    while i < opts.len() {
        let code = opts[i];
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = opts.get(i + 1) else {
            return Err(Dropped::new(DropReason::MalformedOption, format!("option {code} has no length byte")));
        };
        if i + 2 + usize::from(len) > opts.len() {
            return Err(Dropped::new(DropReason::MalformedOption, format!("option {code} overruns the packet")));
        }
        if !length_ok(code, usize::from(len)) {
            return Err(Dropped::new(DropReason::MalformedOption, format!("option {code} has bad length {len}")));
        }
        let sum = &mut joined[usize::from(code)];
        *sum = sum.saturating_add(u16::from(len));
        if !length_ok(code, usize::from(*sum)) {
            let why = format!("option {code} is repeated and its parts join to a bad length");
            return Err(Dropped::new(DropReason::MalformedOption, why));
        }
        codes.insert(code);
        i += 2 + usize::from(len);
    }
    Ok(codes)
}

/// Header checks shared by both directions, then `dhcproto`'s decode, then the check that no option was
/// silently lost. `op` is 1 for requests (to port 67), 2 for replies (to port 68).
fn decode_checked(bytes: &[u8], op: u8) -> Result<Message, Dropped> {
    if bytes.len() < HEADER_LEN {
        return Err(Dropped::new(DropReason::TooShort, format!("{} bytes", bytes.len())));
    }
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(Dropped::new(DropReason::TooLong, format!("{} bytes", bytes.len())));
    }
    if bytes[0] != op {
        return Err(Dropped::new(DropReason::WrongOpcode, format!("op {} where {op} was expected", bytes[0])));
    }
    let (htype, hlen) = (bytes[1], bytes[2]);
    // dhcproto slices chaddr with hlen unchecked: hlen > 16 would panic.
    if hlen > 16 || (htype == 1 && hlen != 6) {
        return Err(Dropped::new(DropReason::BadHardwareLength, format!("htype {htype} hlen {hlen}")));
    }
    if bytes[236..240] != MAGIC_COOKIE {
        return Err(Dropped::new(DropReason::NoMagicCookie, format!("{:02x?}", &bytes[236..240])));
    }
    let codes = scan_options(&bytes[HEADER_LEN..])?;
    let msg = Message::decode(&mut Decoder::new(bytes))
        .map_err(|e| Dropped::new(DropReason::MalformedOption, format!("undecodable: {e}")))?;
    // Anything the scan saw but the decoder lost was malformed (e.g. a non-UTF-8 string option).
    if let Some(lost) = codes.iter().find(|&c| msg.opts().get(OptionCode::from(c)).is_none()) {
        return Err(Dropped::new(DropReason::MalformedOption, format!("option {lost} does not decode")));
    }
    Ok(msg)
}

/// Checks and decodes a packet received on port 67.
pub fn parse_request(bytes: &[u8]) -> Result<Request, Dropped> {
    let msg = decode_checked(bytes, 1)?;
    if msg.opcode() != Opcode::BootRequest {
        return Err(Dropped::new(DropReason::WrongOpcode, "not a BOOTREQUEST"));
    }
    let kind = match msg.opts().msg_type() {
        None => return Err(Dropped::new(DropReason::NoMessageType, "BOOTP request without option 53")),
        Some(t) => DhcpMessage::from_type(t)
            .filter(|m| m.from_client())
            .ok_or_else(|| Dropped::new(DropReason::UnexpectedMessageType, format!("{t:?}")))?,
    };
    let hw = HwAddr::new(&bytes[28..28 + usize::from(bytes[2])])
        .map_err(|e| Dropped::new(DropReason::BadHardwareLength, e.to_string()))?;

    let mut req = Request {
        kind,
        hw,
        client_id: None,
        hostname: None,
        requested_ip: None,
        server_id: None,
        lease_time: None,
        prl: None,
        link_selection: None,
        fqdn: None,
        msg,
    };
    for (_, opt) in req.msg.opts().iter() {
        match opt {
            DhcpOption::ClientIdentifier(id) => req.client_id = Some(HexBytes(id.as_slice().into())),
            DhcpOption::Hostname(h) => req.hostname = Some(h.as_str().into()),
            DhcpOption::RequestedIpAddress(ip) => req.requested_ip = Some(*ip),
            DhcpOption::ServerIdentifier(ip) => req.server_id = Some(*ip),
            DhcpOption::AddressLeaseTime(s) => req.lease_time = Some(Duration::from_secs(u64::from(*s))),
            DhcpOption::ParameterRequestList(codes) => {
                req.prl = Some(codes.iter().map(|&c| u8::from(c)).collect());
            }
            DhcpOption::SubnetSelection(ip) => req.link_selection = Some(*ip),
            DhcpOption::ClientFQDN(f) => req.fqdn = Some(f.clone()),
            DhcpOption::RelayAgentInformation(info) if req.link_selection.is_none() => {
                if let Some(RelayInfo::LinkSelection(ip)) = info.get(RelayCode::LinkSelection) {
                    req.link_selection = Some(*ip);
                }
            }
            _ => {}
        }
    }
    // A client that names itself only in option 81 is known by that name (its first label is the host).
    if req.hostname.is_none() {
        let named = req.fqdn.as_ref().map(|f| f.domain().to_string().trim_end_matches('.').into());
        req.hostname = named.filter(|n: &crate::lease::Hostname| !n.is_empty());
    }
    if req.hw.as_bytes().iter().all(|&b| b == 0) && req.client_id.is_none() {
        return Err(Dropped::new(DropReason::NoClientIdentity, "empty chaddr and no client identifier"));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::MessageType;
    use dhcproto::{Encodable, Encoder};

    #[test]
    fn the_set_of_option_codes_holds_each_code_once_and_walks_them_in_order() {
        let mut codes = Codes::default();
        for c in [255, 64, 1, 63, 128, 64, 127, 0] {
            codes.insert(c);
        }
        assert_eq!(codes.iter().collect::<Vec<_>>(), [0, 1, 63, 64, 127, 128, 255]);
        assert_eq!(Codes::default().iter().count(), 0);
    }

    pub(crate) fn discover_bytes() -> Vec<u8> {
        let mut m = Message::new_with_id(
            0x1234,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &[0x52, 0x54, 0, 0x12, 0x34, 0x56],
        );
        m.opts_mut().insert(DhcpOption::MessageType(MessageType::Discover));
        m.opts_mut().insert(DhcpOption::Hostname("laptop".into()));
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![OptionCode::SubnetMask, OptionCode::Router]));
        let mut buf = Vec::new();
        m.encode(&mut Encoder::new(&mut buf)).unwrap();
        buf
    }

    fn reason(bytes: &[u8]) -> DropReason {
        parse_request(bytes).unwrap_err().reason
    }

    #[test]
    fn a_good_discover_parses() {
        let r = parse_request(&discover_bytes()).unwrap();
        assert_eq!(r.kind, DhcpMessage::Discover);
        assert_eq!(r.hw.to_string(), "52:54:00:12:34:56");
        assert_eq!(r.hostname.as_deref(), Some("laptop"));
        assert_eq!(r.prl, Some(vec![1, 3]));
    }

    #[test]
    fn malformed_packets_are_refused_with_a_reason() {
        let good = discover_bytes();
        assert_eq!(reason(&good[..100]), DropReason::TooShort);
        assert_eq!(reason(&[good.clone(), vec![0; 2000]].concat()), DropReason::TooLong);
        let mut b = good.clone();
        b[0] = 2;
        assert_eq!(reason(&b), DropReason::WrongOpcode);
        let mut b = good.clone();
        b[2] = 255; // hlen 255 would panic inside dhcproto
        assert_eq!(reason(&b), DropReason::BadHardwareLength);
        let mut b = good.clone();
        b[236] = 0;
        assert_eq!(reason(&b), DropReason::NoMagicCookie);
        // The hostname option claims 200 bytes.
        let mut b = good.clone();
        let at = HEADER_LEN + b[HEADER_LEN..].iter().position(|&x| x == 12).unwrap();
        b[at + 1] = 200;
        assert_eq!(reason(&b), DropReason::MalformedOption);
    }

    #[test]
    fn lease_time_with_wrong_length_is_refused() {
        let mut b = discover_bytes();
        b.truncate(b.len() - 1); // drop End
        b.extend_from_slice(&[51, 2, 0, 10, 255]);
        assert_eq!(reason(&b), DropReason::MalformedOption);
    }

    #[test]
    fn fixed_size_options_with_other_lengths_are_refused() {
        // Found by the fuzzer: dhcproto debug_asserts on these lengths and misreads them in release builds.
        for (code, len) in [(153u8, 2u8), (80, 1), (94, 2), (81, 1), (151, 0), (13, 3), (19, 0)] {
            let mut b = discover_bytes();
            b.truncate(b.len() - 1);
            b.extend_from_slice(&[code, len]);
            b.extend(std::iter::repeat_n(0u8, len as usize));
            b.push(255);
            assert_eq!(reason(&b), DropReason::MalformedOption, "option {code} with length {len}");
        }
    }

    #[test]
    fn non_utf8_hostname_is_caught_not_silently_lost() {
        let mut b = discover_bytes();
        let at = HEADER_LEN + b[HEADER_LEN..].iter().position(|&x| x == 12).unwrap();
        b[at + 2] = 0xff;
        assert_eq!(reason(&b), DropReason::MalformedOption);
    }

    #[test]
    fn a_repeated_fixed_size_option_is_refused_before_dhcproto_joins_it() {
        // Two 3-byte option 94s (client network interface): each is fine, but dhcproto would decode them
        // as one 6-byte option and trip its assertion (found by a 30-minute fuzz run).
        let mut b = discover_bytes();
        let end = b.iter().rposition(|&x| x == 255).unwrap();
        b.splice(end..end, [94, 3, 1, 2, 0, 94, 3, 1, 2, 0]);
        assert_eq!(reason(&b), DropReason::MalformedOption);
        let mut once = discover_bytes();
        let end = once.iter().rposition(|&x| x == 255).unwrap();
        once.splice(end..end, [94, 3, 1, 2, 0]);
        assert!(parse_request(&once).is_ok(), "one option 94 is fine");
    }

    #[test]
    fn bootp_and_server_messages_are_refused() {
        let mut b = discover_bytes();
        let at = HEADER_LEN + b[HEADER_LEN..].iter().position(|&x| x == 53).unwrap();
        b[at + 2] = 2; // OFFER
        assert_eq!(reason(&b), DropReason::UnexpectedMessageType);
        b[at] = 0; // turn option 53 into pads… its length and value bytes become pads too
        b[at + 1] = 0;
        b[at + 2] = 0;
        assert_eq!(reason(&b), DropReason::NoMessageType);
    }
}

/// A decoded, validated server reply and the fields the client decides on.
#[derive(Debug, Clone)]
pub struct Reply {
    pub msg: Message,
    /// One of the server's three (OFFER, ACK, NAK).
    pub kind: DhcpMessage,
    pub server_id: Option<Ipv4Addr>,
    pub lease_time: Option<Duration>,
    pub t1: Option<Duration>,
    pub t2: Option<Duration>,
    pub mask: Option<Ipv4Addr>,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    /// Option 56: a NAK's reason.
    pub message: Option<String>,
}

/// Checks and decodes a packet received on port 68.
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, Dropped> {
    let msg = decode_checked(bytes, 2)?;
    let kind = match msg.opts().msg_type() {
        None => return Err(Dropped::new(DropReason::NoMessageType, "BOOTP reply without option 53")),
        Some(t) => DhcpMessage::from_type(t)
            .filter(|m| !m.from_client())
            .ok_or_else(|| Dropped::new(DropReason::UnexpectedMessageType, format!("{t:?}")))?,
    };
    let secs = |s: &u32| Duration::from_secs(u64::from(*s));
    let mut r = Reply {
        kind,
        server_id: None,
        lease_time: None,
        t1: None,
        t2: None,
        mask: None,
        routers: vec![],
        dns: vec![],
        domain: None,
        message: None,
        msg,
    };
    for (_, opt) in r.msg.opts().iter() {
        match opt {
            DhcpOption::ServerIdentifier(ip) => r.server_id = Some(*ip),
            DhcpOption::AddressLeaseTime(s) => r.lease_time = Some(secs(s)),
            DhcpOption::Renewal(s) => r.t1 = Some(secs(s)),
            DhcpOption::Rebinding(s) => r.t2 = Some(secs(s)),
            DhcpOption::SubnetMask(m) => r.mask = Some(*m),
            DhcpOption::Router(v) => r.routers = v.clone(),
            DhcpOption::DomainNameServer(v) => r.dns = v.clone(),
            DhcpOption::DomainName(d) => r.domain = Some(d.clone()),
            DhcpOption::Message(m) => r.message = Some(m.clone()),
            _ => {}
        }
    }
    Ok(r)
}
