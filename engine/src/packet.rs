//! Inbound packets: checked byte by byte before `dhcproto` sees them. A request is read into a [`Request`]
//! straight from its bytes (`dhcproto` decodes option 81, which has a structure of its own, and checks
//! every option the server does not read; option 82 is kept as sent); a reply is decoded whole by
//! `dhcproto`. Anything malformed is refused with a [`DropReason`], never a panic.

use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::message::DhcpMessage;
use crate::relay_info::RelayAgentInfo;
use crate::short_bytes::ShortBytes;
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, OptionCode, fqdn::ClientFQDN};
use dhcproto::{Decodable, Decoder};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::Ipv4Addr;
use std::ops::Range;
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
    /// A DISCOVER read while the server was behind (its socket had lost datagrams and was not yet
    /// drained): shed so that the REQUESTs of exchanges already under way, and renewals, are answered
    /// first. The client sends its DISCOVER again (RFC 2131 §4.1).
    Overload,
}

impl DropReason {
    pub const ALL: [DropReason; 17] = [
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
        DropReason::Overload,
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
            DropReason::Overload => "overload",
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
    /// Borrowed when it is fixed text: a drop under a flood or overload (a shed DISCOVER) allocates no
    /// detail that only a debug log line reads.
    pub detail: Cow<'static, str>,
}

impl Dropped {
    pub fn new(reason: DropReason, detail: impl Into<Cow<'static, str>>) -> Self {
        Dropped { reason, detail: detail.into() }
    }
}

/// The fixed BOOTP fields of a request as received (RFC 2131 §2): what a reply copies and what the server
/// decides on. (chaddr is [`Request::hw`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub htype: HType,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: Flags,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
}

/// A validated client message: its header and the options the server reads, each decoded once. The
/// options are read straight from the packet (no option map is built): a request is parsed twice per
/// exchange and on the hot path, and the server reads a dozen of the codes a client may send.
#[derive(Debug, Clone)]
pub struct Request {
    pub header: Header,
    /// One of the client's five (DISCOVER, REQUEST, DECLINE, RELEASE, INFORM).
    pub kind: DhcpMessage,
    pub hw: HwAddr,
    pub client_id: Option<HexBytes>,
    pub hostname: Option<crate::lease::Hostname>,
    pub requested_ip: Option<Ipv4Addr>,
    pub server_id: Option<Ipv4Addr>,
    pub lease_time: Option<Duration>,
    /// Option 55 in the client's order; kept in the value (a real client's list is 7 to 20 codes), for it
    /// is read from every DISCOVER and REQUEST.
    pub prl: Option<ShortBytes>,
    /// Option 118, or sub-option 5 of option 82 (RFC 3527): the subnet the client is on.
    pub link_selection: Option<Ipv4Addr>,
    /// Option 81 (RFC 4702): the name the client wants in DNS, and who should update it.
    pub fqdn: Option<ClientFQDN>,
    /// Option 60, the vendor class, as sent (Windows sends `MSFT 5.0` in every request).
    pub vendor_class: Option<ShortBytes>,
    /// Option 77 (RFC 3004), as sent: (length, class) pairs.
    pub user_class: Option<Vec<u8>>,
    /// Option 93 (RFC 4578): the client's system architecture.
    pub arch: Option<u16>,
    /// Option 57 (RFC 2132 §9.10): the longest message the client takes, IP and UDP headers included.
    pub max_message_size: Option<u16>,
    /// Option 82 (RFC 3046), as a relay added it.
    pub relay_info: Option<RelayAgentInfo>,
}

impl Request {
    /// Whether the client asked for option `code` in its parameter request list (option 55), or sent none
    /// and so takes what the server gives (RFC 2132 §9.8).
    pub fn wants(&self, code: u8) -> bool {
        self.prl.as_ref().is_none_or(|prl| prl.contains(&code))
    }

    /// Whether a relay agent forwarded the request (giaddr set, RFC 1542 §4).
    pub fn relayed(&self) -> bool {
        !self.header.giaddr.is_unspecified()
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

/// The client's hardware address (chaddr, its first `hlen` bytes: RFC 2131 §2) in a packet whose fixed
/// header is whole, whatever else is wrong with it: what a log line about a dropped packet names.
pub fn chaddr(bytes: &[u8]) -> Option<HwAddr> {
    let header = bytes.get(..HEADER_LEN)?;
    HwAddr::new(header.get(28..28 + usize::from(header[2]))?).ok()
}

/// The fixed header's checks, shared by both directions. `op` is 1 for requests (to port 67), 2 for
/// replies (to port 68). Returns the option codes present.
fn check_header(bytes: &[u8], op: u8) -> Result<Codes, Dropped> {
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
    scan_options(&bytes[HEADER_LEN..])
}

/// The header checks, then `dhcproto`'s decode, then the check that no option was silently lost.
fn decode_checked(bytes: &[u8], op: u8) -> Result<Message, Dropped> {
    let codes = check_header(bytes, op)?;
    let msg = Message::decode(&mut Decoder::new(bytes))
        .map_err(|e| Dropped::new(DropReason::MalformedOption, format!("undecodable: {e}")))?;
    // Anything the scan saw but the decoder lost was malformed (e.g. a non-UTF-8 string option).
    if let Some(lost) = codes.iter().find(|&c| msg.opts().get(OptionCode::from(c)).is_none()) {
        return Err(Dropped::new(DropReason::MalformedOption, format!("option {lost} does not decode")));
    }
    Ok(msg)
}

/// The options of a packet whose structure `scan_options` has checked: each instance's code and where it
/// lies (code and length bytes included), pads and End left out.
fn instances(opts: &[u8]) -> impl Iterator<Item = (u8, Range<usize>)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            match *opts.get(at)? {
                0 => at += 1,
                255 => return None,
                code => {
                    let end = at + 2 + usize::from(*opts.get(at + 1)?);
                    let tlv = at..end.min(opts.len());
                    at = end;
                    return Some((code, tlv));
                }
            }
        }
    })
}

/// The value of option `code` in a whole message's bytes (header, cookie, options), its parts joined in
/// order (RFC 3396): what a peer sent, byte for byte, where `dhcproto`'s decode gives a reading of it.
pub fn option_value(message: &[u8], code: u8) -> Option<Vec<u8>> {
    let opts = message.get(HEADER_LEN..)?;
    let mut value: Option<Cow<[u8]>> = None;
    for (_, tlv) in instances(opts).filter(|&(c, _)| c == code) {
        join(&mut value, opts.get(tlv.start + 2..tlv.end)?);
    }
    value.map(Cow::into_owned)
}

/// Adds an instance's value to what the option's earlier instances gave (RFC 3396: the parts of a long
/// option are joined in the order they came).
fn join<'a>(sofar: &mut Option<Cow<'a, [u8]>>, part: &'a [u8]) {
    match sofar {
        None => *sofar = Some(Cow::Borrowed(part)),
        Some(v) => v.to_mut().extend_from_slice(part),
    }
}

/// `dhcproto`'s decode of option instances laid end to end (it joins adjacent parts of one code).
fn decode_option(code: u8, tlvs: &[u8]) -> Result<DhcpOption, Dropped> {
    match DhcpOption::decode(&mut Decoder::new(tlvs)) {
        Ok(o) if u8::from(OptionCode::from(&o)) == code => Ok(o),
        _ => Err(Dropped::new(DropReason::MalformedOption, format!("option {code} does not decode"))),
    }
}

/// An option with structure of its own (81), present in `opts`: every instance, in order, decoded as
/// one by `dhcproto`.
fn decode_joined(opts: &[u8], code: u8) -> Result<DhcpOption, Dropped> {
    let mut tlvs: Vec<u8> = Vec::new();
    for (_, tlv) in instances(opts).filter(|&(c, _)| c == code) {
        tlvs.extend_from_slice(&opts[tlv]);
    }
    decode_option(code, &tlvs)
}

fn ipv4(b: &[u8]) -> Ipv4Addr {
    <[u8; 4]>::try_from(b).map(Ipv4Addr::from).unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Checks a packet received on port 67 and reads the request from it.
pub fn parse_request(bytes: &[u8]) -> Result<Request, Dropped> {
    check_header(bytes, 1)?;
    let opts = &bytes[HEADER_LEN..];
    let field = |at: usize| Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
    let header = Header {
        htype: HType::from(bytes[1]),
        hops: bytes[3],
        xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        secs: u16::from_be_bytes([bytes[8], bytes[9]]),
        flags: Flags::from(u16::from_be_bytes([bytes[10], bytes[11]])),
        ciaddr: field(12),
        yiaddr: field(16),
        siaddr: field(20),
        giaddr: field(24),
    };
    // Fixed-size options cannot repeat (`scan_options` refuses parts that join to a bad length); the
    // variable ones are joined.
    let (mut msg_type, mut requested_ip, mut server_id, mut lease_time, mut link_selection, mut arch) =
        (None, None, None, None, None, None);
    let mut max_message_size = None;
    let (mut client_id, mut hostname, mut prl, mut vendor_class, mut user_class) = (None, None, None, None, None);
    let mut relay_info = None;
    // The options read here cannot fail `dhcproto`'s decode once their lengths are right (the hostname's
    // UTF-8 is checked below). Every other option must still decode, for a malformed packet is dropped,
    // but is not kept: a run of adjacent parts of one code is decoded as one, as `dhcproto` does.
    // A run: its code, where it lies, and whether the code is one read here.
    let check_run = |run: Option<(u8, Range<usize>, bool)>| match run {
        Some((code, r, false)) => decode_option(code, &opts[r]).map(drop),
        _ => Ok(()),
    };
    let mut run: Option<(u8, Range<usize>, bool)> = None;
    let mut has_fqdn = false;
    for (code, tlv) in instances(opts) {
        let value = &opts[tlv.start + 2..tlv.end];
        let mut read = true;
        match code {
            53 => msg_type = value.first().copied(),
            50 => requested_ip = Some(ipv4(value)),
            54 => server_id = Some(ipv4(value)),
            51 => {
                lease_time = <[u8; 4]>::try_from(value).ok().map(|b| Duration::from_secs(u32::from_be_bytes(b).into()))
            }
            118 => link_selection = Some(ipv4(value)),
            93 => arch = <[u8; 2]>::try_from(value).ok().map(u16::from_be_bytes),
            57 => max_message_size = <[u8; 2]>::try_from(value).ok().map(u16::from_be_bytes),
            61 => join(&mut client_id, value),
            12 => join(&mut hostname, value),
            55 => join(&mut prl, value),
            60 => join(&mut vendor_class, value),
            77 => join(&mut user_class, value),
            81 => has_fqdn = true,
            // Kept as sent (a reply echoes it); its sub-options need not decode (RFC 3046 §2.2).
            82 => join(&mut relay_info, value),
            _ => read = false,
        }
        match &mut run {
            Some((c, r, _)) if *c == code && r.end == tlv.start => r.end = tlv.end,
            _ => check_run(run.replace((code, tlv, read)))?,
        }
    }
    check_run(run)?;
    let hostname: Option<crate::lease::Hostname> = match hostname {
        None => None,
        Some(h) => Some(
            std::str::from_utf8(&h)
                .map_err(|_| Dropped::new(DropReason::MalformedOption, "option 12 does not decode"))?
                .into(),
        ),
    };
    let fqdn = match has_fqdn.then(|| decode_joined(opts, 81)).transpose()? {
        Some(DhcpOption::ClientFQDN(f)) => Some(f),
        _ => None,
    };
    let relay_info = relay_info.map(|v| RelayAgentInfo::new(v.into_owned()));
    let kind = match msg_type.map(MessageType::from) {
        None => return Err(Dropped::new(DropReason::NoMessageType, "BOOTP request without option 53")),
        Some(t) => DhcpMessage::from_type(t)
            .filter(|m| m.from_client())
            .ok_or_else(|| Dropped::new(DropReason::UnexpectedMessageType, format!("{t:?}")))?,
    };
    let hw = chaddr(bytes).ok_or_else(|| Dropped::new(DropReason::BadHardwareLength, "hlen over 16"))?;
    if link_selection.is_none() {
        link_selection = relay_info.as_ref().and_then(RelayAgentInfo::link_selection);
    }
    // A client that names itself only in option 81 is known by that name (its first label is the host).
    let hostname = hostname.or_else(|| {
        let named = fqdn.as_ref().map(|f| f.domain().to_string().trim_end_matches('.').into());
        named.filter(|n: &crate::lease::Hostname| !n.is_empty())
    });
    let client_id = client_id.map(|id| HexBytes(id.as_ref().into()));
    if hw.as_bytes().iter().all(|&b| b == 0) && client_id.is_none() {
        return Err(Dropped::new(DropReason::NoClientIdentity, "empty chaddr and no client identifier"));
    }
    Ok(Request {
        header,
        kind,
        hw,
        client_id,
        hostname,
        requested_ip,
        server_id,
        lease_time,
        prl: prl.as_deref().map(ShortBytes::new),
        link_selection,
        fqdn,
        vendor_class: vendor_class.as_deref().map(ShortBytes::new),
        user_class: user_class.map(Cow::into_owned),
        arch,
        max_message_size,
        relay_info,
    })
}

/// Checks a packet received on port 67 as [`parse_request`] does, and decodes all of it with `dhcproto`
/// (for a relay agent, which passes every option on).
pub fn decode_request(bytes: &[u8]) -> Result<Message, Dropped> {
    parse_request(bytes)?;
    decode_checked(bytes, 1)
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
        assert_eq!(r.prl.as_deref(), Some(&[1, 3][..]));
    }

    #[test]
    fn a_dropped_packets_chaddr_is_read_whenever_its_header_is_whole() {
        let good = discover_bytes();
        let mut wrong_op = good.clone();
        wrong_op[0] = 2;
        assert_eq!(chaddr(&wrong_op).map(|h| h.to_string()).as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(chaddr(&good[..HEADER_LEN - 1]), None, "a short packet has no whole header");
        let mut b = good.clone();
        b[2] = 17;
        assert_eq!(chaddr(&b), None, "chaddr is 16 bytes");
        b[2] = 0;
        assert_eq!(chaddr(&b).map(|h| h.as_bytes().len()), Some(0));
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

#[cfg(test)]
mod against_dhcproto {
    //! The hand reader of requests checked against `dhcproto`'s decode of the same bytes.
    use super::*;
    use dhcproto::v4::relay::{RelayCode, RelayInfo};

    /// What the server reads from a request, as `dhcproto`'s decode of the whole message gives it.
    fn by_dhcproto(bytes: &[u8]) -> Result<Request, Dropped> {
        let msg = decode_checked(bytes, 1)?;
        let kind = match msg.opts().msg_type() {
            None => return Err(Dropped::new(DropReason::NoMessageType, "")),
            Some(t) => DhcpMessage::from_type(t)
                .filter(|m| m.from_client())
                .ok_or_else(|| Dropped::new(DropReason::UnexpectedMessageType, ""))?,
        };
        let o = msg.opts();
        let get = |c: OptionCode| o.get(c);
        // Option 82 is kept as the relay sent it, which `dhcproto`'s map of sub-options cannot give back
        // (see `relay_info`).
        let relay_info = option_value(bytes, 82).map(RelayAgentInfo::new);
        // The link selection sub-option as `dhcproto` reads it, where it decodes as one.
        let link_selection = match get(OptionCode::SubnetSelection) {
            Some(DhcpOption::SubnetSelection(ip)) => Some(*ip),
            _ => match get(OptionCode::RelayAgentInformation) {
                Some(DhcpOption::RelayAgentInformation(i)) => match i.get(RelayCode::LinkSelection) {
                    Some(RelayInfo::LinkSelection(ip)) => Some(*ip),
                    _ => None,
                },
                _ => None,
            },
        };
        let fqdn = match get(OptionCode::ClientFQDN) {
            Some(DhcpOption::ClientFQDN(f)) => Some(f.clone()),
            _ => None,
        };
        let hostname = match get(OptionCode::Hostname) {
            Some(DhcpOption::Hostname(h)) => Some(h.as_str().into()),
            _ => fqdn
                .as_ref()
                .map(|f| f.domain().to_string().trim_end_matches('.').into())
                .filter(|n: &crate::lease::Hostname| !n.is_empty()),
        };
        let req = Request {
            header: Header {
                htype: msg.htype(),
                hops: msg.hops(),
                xid: msg.xid(),
                secs: msg.secs(),
                flags: msg.flags(),
                ciaddr: msg.ciaddr(),
                yiaddr: msg.yiaddr(),
                siaddr: msg.siaddr(),
                giaddr: msg.giaddr(),
            },
            kind,
            hw: HwAddr::new(msg.chaddr()).map_err(|e| Dropped::new(DropReason::BadHardwareLength, e.to_string()))?,
            client_id: match get(OptionCode::ClientIdentifier) {
                Some(DhcpOption::ClientIdentifier(id)) => Some(HexBytes(id.as_slice().into())),
                _ => None,
            },
            hostname,
            requested_ip: match get(OptionCode::RequestedIpAddress) {
                Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
                _ => None,
            },
            server_id: match get(OptionCode::ServerIdentifier) {
                Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
                _ => None,
            },
            lease_time: match get(OptionCode::AddressLeaseTime) {
                Some(DhcpOption::AddressLeaseTime(s)) => Some(Duration::from_secs(u64::from(*s))),
                _ => None,
            },
            prl: match get(OptionCode::ParameterRequestList) {
                Some(DhcpOption::ParameterRequestList(c)) => {
                    Some(c.iter().map(|&c| u8::from(c)).collect::<Vec<u8>>().into())
                }
                _ => None,
            },
            link_selection,
            fqdn,
            vendor_class: match get(OptionCode::ClassIdentifier) {
                Some(DhcpOption::ClassIdentifier(b)) => Some(b[..].into()),
                _ => None,
            },
            user_class: match get(OptionCode::UserClass) {
                Some(DhcpOption::UserClass(b)) => Some(b.clone()),
                _ => None,
            },
            arch: match get(OptionCode::ClientSystemArchitecture) {
                Some(DhcpOption::ClientSystemArchitecture(a)) => Some(u16::from(*a)),
                _ => None,
            },
            max_message_size: match get(OptionCode::MaxMessageSize) {
                Some(DhcpOption::MaxMessageSize(m)) => Some(*m),
                _ => None,
            },
            relay_info,
        };
        if req.hw.as_bytes().iter().all(|&b| b == 0) && req.client_id.is_none() {
            return Err(Dropped::new(DropReason::NoClientIdentity, ""));
        }
        Ok(req)
    }

    fn corpus() -> Vec<Vec<u8>> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/packet");
        let mut out = vec![];
        for f in std::fs::read_dir(dir).expect("the fuzz corpus") {
            let data = std::fs::read(f.expect("entry").path()).expect("readable");
            let mut start = 0;
            while let Some(pos) = data[start..].windows(4).position(|w| w == crate::fuzzing::SEPARATOR) {
                out.push(data[start..start + pos].to_vec());
                start += pos + 4;
            }
            out.push(data[start..].to_vec());
        }
        out
    }

    /// Whether some option code comes in more than one run of adjacent parts: `dhcproto` then keeps the
    /// last run where the parser joins them all (RFC 3396).
    fn parts_apart(bytes: &[u8]) -> bool {
        let opts = &bytes[HEADER_LEN..];
        let mut seen = [false; 256];
        let mut last: Option<(u8, usize)> = None;
        for (code, tlv) in instances(opts) {
            if last.is_some_and(|(c, end)| c == code && end == tlv.start) {
                last = Some((code, tlv.end));
                continue;
            }
            if std::mem::replace(&mut seen[usize::from(code)], true) {
                return true;
            }
            last = Some((code, tlv.end));
        }
        false
    }

    #[test]
    fn the_parser_reads_every_request_of_the_fuzz_corpus_as_dhcproto_decodes_it() {
        let (mut equal, mut refused, mut joined) = (0, 0, 0);
        for p in corpus() {
            let (theirs, ours) = (by_dhcproto(&p), parse_request(&p));
            match (theirs, ours) {
                (Err(a), Err(b)) => {
                    assert_eq!(a.reason, b.reason, "{:02x?}: {a} against {b}", p);
                    refused += 1;
                }
                (Ok(a), Ok(b)) if !parts_apart(&p) => {
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{:02x?}", p);
                    equal += 1;
                }
                // Parts of one option apart: the fields read from single-part options still agree.
                (Ok(a), Ok(b)) => {
                    assert_eq!((a.header, a.kind, a.hw), (b.header, b.kind, b.hw));
                    assert_eq!(
                        (a.requested_ip, a.server_id, a.lease_time),
                        (b.requested_ip, b.server_id, b.lease_time)
                    );
                    joined += 1;
                }
                // `dhcproto` keeps the first run of a code that decodes and stops at a later one that does
                // not, which its check then misses (the code is there): the parser checks every run.
                (Ok(_), Err(b)) if parts_apart(&p) && b.reason == DropReason::MalformedOption => joined += 1,
                // And the other way: a later run of option 81 that does not decode alone stops `dhcproto`'s
                // decode (the options after it are lost, and refused), where the parts, joined as RFC 3396
                // says, decode as one (found by the fuzzer on 3 December).
                (Err(a), Ok(_)) if parts_apart(&p) && a.reason == DropReason::MalformedOption => joined += 1,
                (a, b) => panic!("{:02x?}: dhcproto {a:?}, the parser {b:?}", p),
            }
        }
        assert!(equal > 1000 && refused > 1000 && joined > 10, "{equal} equal, {refused} refused, {joined} joined");
    }

    #[test]
    fn parts_of_an_option_apart_are_joined_in_order() {
        // RFC 3396 §5: a client may split an option; the parts are joined whatever comes between them.
        let mut b = super::tests::discover_bytes();
        let end = b.iter().rposition(|&x| x == 255).unwrap();
        b.splice(end..end, [55, 2, 6, 15, 0, 51, 4, 0, 0, 1, 0, 55, 1, 42]);
        let r = parse_request(&b).unwrap();
        assert_eq!(r.prl.as_deref(), Some(&[1, 3, 6, 15, 42][..]));
        assert_eq!(r.lease_time, Some(Duration::from_secs(256)));
    }

    #[test]
    fn an_option_the_server_does_not_read_must_still_decode() {
        // A domain name (15) that is not UTF-8; time servers (4) that are not a list of addresses.
        for (bad, why) in
            [(&[15, 2, 0xc3, 0x28][..], "option 15 is not UTF-8"), (&[4, 5, 192, 0, 2, 1, 7], "option 4 of 5 bytes")]
        {
            let mut b = super::tests::discover_bytes();
            let end = b.iter().rposition(|&x| x == 255).unwrap();
            b.splice(end..end, bad.iter().copied());
            assert_eq!(parse_request(&b).unwrap_err().reason, DropReason::MalformedOption, "{why}");
        }
    }
}
