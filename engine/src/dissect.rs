//! A Wireshark-style dissection of a DHCP message: every header field and option with its name, its value
//! as people read it, and the bytes it occupies, so an inspector can link the field tree and the hex view.

use crate::message::DhcpMessage;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::ops::Range;

/// One field: a header field, an option, or an option's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
    /// Byte offsets in the DHCP payload.
    pub range: Range<usize>,
    pub children: Vec<Field>,
}

impl Field {
    fn new(name: impl Into<String>, value: impl Into<String>, range: Range<usize>) -> Self {
        Field { name: name.into(), value: value.into(), range, children: vec![] }
    }

    /// The innermost field covering byte `at`, as a path of indices from the root list.
    pub fn path_at(fields: &[Field], at: usize) -> Option<Vec<usize>> {
        for (i, f) in fields.iter().enumerate() {
            if f.range.contains(&at) {
                let mut path = vec![i];
                if let Some(rest) = Self::path_at(&f.children, at) {
                    path.extend(rest);
                }
                return Some(path);
            }
        }
        None
    }
}

fn ip(b: &[u8]) -> String {
    if b.len() == 4 { Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string() } else { hex(b) }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn u32be(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

fn secs(b: &[u8]) -> String {
    match u32be(b) {
        Some(s) => format!("{s} s ({})", crate::duration_text::format(std::time::Duration::from_secs(u64::from(s)))),
        None => hex(b),
    }
}

fn text(b: &[u8]) -> String {
    // Client-sent strings may hold any bytes: show them escaped, never raw.
    format!("{:?}", String::from_utf8_lossy(b))
}

/// Option names (RFC 2132 and later), for the ones the lab meets.
pub fn option_name(code: u8) -> &'static str {
    match code {
        0 => "Pad",
        1 => "Subnet Mask",
        2 => "Time Offset",
        3 => "Router",
        6 => "Domain Name Server",
        12 => "Host Name",
        15 => "Domain Name",
        26 => "Interface MTU",
        28 => "Broadcast Address",
        42 => "NTP Servers",
        43 => "Vendor-Specific Information",
        50 => "Requested IP Address",
        51 => "IP Address Lease Time",
        52 => "Option Overload",
        53 => "DHCP Message Type",
        54 => "DHCP Server Identifier",
        55 => "Parameter Request List",
        56 => "Message",
        57 => "Maximum DHCP Message Size",
        58 => "Renewal Time Value (T1)",
        59 => "Rebinding Time Value (T2)",
        60 => "Vendor Class Identifier",
        61 => "Client Identifier",
        66 => "TFTP Server Name",
        67 => "Bootfile Name",
        80 => "Rapid Commit",
        81 => "Client FQDN",
        82 => "Relay Agent Information",
        118 => "Subnet Selection",
        119 => "Domain Search",
        121 => "Classless Static Route",
        255 => "End",
        _ => "Unknown",
    }
}

fn message_type(v: u8) -> &'static str {
    DhcpMessage::from_code(v).map_or("unknown", DhcpMessage::wire_name)
}

fn option_value(code: u8, b: &[u8]) -> String {
    match code {
        1 | 28 | 50 | 54 | 118 => ip(b),
        3 | 6 | 42 => b.chunks(4).map(ip).collect::<Vec<_>>().join(", "),
        51 | 58 | 59 => secs(b),
        53 => b.first().map(|&v| format!("{} ({v})", message_type(v))).unwrap_or_default(),
        12 | 15 | 56 | 60 | 66 | 67 => text(b),
        55 => b.iter().map(|&c| format!("{c} {}", option_name(c))).collect::<Vec<_>>().join(", "),
        57 => b.try_into().map(|x: [u8; 2]| u16::from_be_bytes(x).to_string()).unwrap_or_else(|_| hex(b)),
        61 if b.len() == 7 && b[0] == 1 => format!("type 1 (Ethernet), {}", hex(&b[1..])),
        // RFC 3046: the sub-options, each named, as the field tree shows them.
        82 => relay_suboptions(0, b).iter().map(|f| format!("{} {}", f.name, f.value)).collect::<Vec<_>>().join(", "),
        _ => hex(b),
    }
}

/// Every option of a message as (code, name, value), in the order sent: padding and End left out.
pub fn option_values(b: &[u8]) -> Vec<(u8, &'static str, String)> {
    let mut out = vec![];
    let mut i = 240;
    while let Some(&code) = b.get(i) {
        match code {
            0 => i += 1,
            255 => break,
            _ => {
                let Some(&len) = b.get(i + 1) else { break };
                let end = (i + 2 + len as usize).min(b.len());
                out.push((code, option_name(code), option_value(code, &b[i + 2..end])));
                i = end;
            }
        }
    }
    out
}

fn relay_suboptions(base: usize, b: &[u8]) -> Vec<Field> {
    let mut out = vec![];
    let mut i = 0;
    while i + 2 <= b.len() {
        let (code, len) = (b[i], b[i + 1] as usize);
        let end = (i + 2 + len).min(b.len());
        let name = match code {
            1 => "Agent Circuit ID",
            2 => "Agent Remote ID",
            5 => "Link Selection",
            11 => "Server Identifier Override",
            _ => "Sub-option",
        };
        let v = &b[i + 2..end];
        let value = if code == 1 || code == 2 { format!("{} ({})", text(v), hex(v)) } else { option_value(118, v) };
        out.push(Field::new(format!("({code}) {name}"), value, base + i..base + end));
        i = end;
    }
    out
}

/// Dissects a DHCP payload. Never panics: a truncated packet yields the fields that fit.
pub fn dissect(b: &[u8]) -> Vec<Field> {
    let mut f = header(b);
    options(b, &mut f);
    f
}

/// A `sname` or `file` field: its text up to the first NUL, or "not given".
fn name_field(s: &[u8]) -> String {
    if s.iter().all(|&x| x == 0) { "not given".into() } else { text(s.split(|&x| x == 0).next().unwrap_or(&[])) }
}

/// The fixed BOOTP header and the magic cookie (RFC 2131 §2, figure 1).
fn header(b: &[u8]) -> Vec<Field> {
    let mut f = vec![];
    let get = |r: Range<usize>| b.get(r.clone()).map(|s| (s, r));
    if let Some((s, r)) = get(0..1) {
        let v = match s[0] {
            1 => "Boot Request (1)",
            2 => "Boot Reply (2)",
            _ => "unknown",
        };
        f.push(Field::new("Message type (op)", v, r));
    }
    if let Some((s, r)) = get(1..2) {
        f.push(Field::new(
            "Hardware type",
            if s[0] == 1 { "Ethernet (0x01)".into() } else { format!("{:#04x}", s[0]) },
            r,
        ));
    }
    if let Some((s, r)) = get(2..3) {
        f.push(Field::new("Hardware address length", s[0].to_string(), r));
    }
    if let Some((s, r)) = get(3..4) {
        f.push(Field::new("Hops", s[0].to_string(), r));
    }
    if let Some((s, r)) = get(4..8) {
        f.push(Field::new("Transaction ID", format!("{:#010x}", u32be(s).unwrap_or(0)), r));
    }
    if let Some((s, r)) = get(8..10) {
        f.push(Field::new("Seconds elapsed", u16::from_be_bytes([s[0], s[1]]).to_string(), r));
    }
    if let Some((s, r)) = get(10..12) {
        let v = u16::from_be_bytes([s[0], s[1]]);
        let bcast = v & 0x8000 != 0;
        let mut flags =
            Field::new("Bootp flags", format!("{v:#06x} ({})", if bcast { "Broadcast" } else { "Unicast" }), r.clone());
        flags.children.push(Field::new(
            "Broadcast flag",
            if bcast { "1: reply by broadcast" } else { "0: unicast reply is fine" },
            r,
        ));
        f.push(flags);
    }
    for (name, at) in [
        ("Client IP address (ciaddr)", 12),
        ("Your (client) IP address (yiaddr)", 16),
        ("Next server IP address (siaddr)", 20),
        ("Relay agent IP address (giaddr)", 24),
    ] {
        if let Some((s, r)) = get(at..at + 4) {
            f.push(Field::new(name, ip(s), r));
        }
    }
    if let Some((s, r)) = get(28..44) {
        let hlen = (b[2] as usize).min(16);
        f.push(Field::new("Client hardware address (chaddr)", hex(&s[..hlen]), r));
    }
    if let Some((s, r)) = get(44..108) {
        f.push(Field::new("Server host name (sname)", name_field(s), r));
    }
    if let Some((s, r)) = get(108..236) {
        f.push(Field::new("Boot file name (file)", name_field(s), r));
    }
    if let Some((s, r)) = get(236..240) {
        let ok = s == crate::packet::MAGIC_COOKIE;
        f.push(Field::new(
            "Magic cookie",
            if ok { "DHCP (99.130.83.99)".into() } else { format!("{} (not DHCP)", hex(s)) },
            r,
        ));
    }
    f
}

/// The options after the cookie, with runs of padding as one field each (RFC 2132 §2).
fn options(b: &[u8], f: &mut Vec<Field>) {
    let mut i = 240;
    let mut padding_from = None;
    while i < b.len() {
        let code = b[i];
        if code == 0 {
            padding_from.get_or_insert(i);
            i += 1;
            continue;
        }
        if let Some(p) = padding_from.take() {
            f.push(Field::new("Padding", format!("{} bytes", i - p), p..i));
        }
        if code == 255 {
            f.push(Field::new("Option: (255) End", "", i..i + 1));
            i += 1;
            continue;
        }
        let Some(&len) = b.get(i + 1) else {
            f.push(Field::new(format!("Option: ({code}) {}", option_name(code)), "truncated", i..b.len()));
            break;
        };
        let end = (i + 2 + len as usize).min(b.len());
        let value = &b[i + 2..end];
        let mut opt = Field::new(format!("Option: ({code}) {}", option_name(code)), option_value(code, value), i..end);
        opt.children.push(Field::new("Length", len.to_string(), i + 1..i + 2));
        if code == 82 {
            opt.children.extend(relay_suboptions(i + 2, value));
        }
        f.push(opt);
        i = end;
    }
    if let Some(p) = padding_from {
        f.push(Field::new("Padding", format!("{} bytes", b.len() - p), p..b.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::ClientMsg;
    use crate::hwaddr::HwAddr;
    use dhcproto::v4::MessageType;

    #[test]
    fn a_discover_dissects_with_ranges_for_every_field() {
        let b = ClientMsg::new(MessageType::Discover, HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x56]), 0xdeadbeef)
            .hostname("laptop")
            .requested(Ipv4Addr::new(192, 168, 1, 100))
            .bytes();
        let f = dissect(&b);
        let by = |n: &str| f.iter().find(|x| x.name.starts_with(n)).unwrap_or_else(|| panic!("no {n}"));
        assert_eq!(by("Transaction ID").value, "0xdeadbeef");
        assert_eq!(by("Transaction ID").range, 4..8);
        assert_eq!(by("Client hardware address").value, "52:54:00:12:34:56");
        assert_eq!(by("Option: (53)").value, "DHCPDISCOVER (1)");
        assert_eq!(by("Option: (50)").value, "192.168.1.100");
        assert_eq!(by("Option: (12)").value, "\"laptop\"");
        assert!(by("Padding").range.end == 300, "padding to 300 bytes is shown");
        // Byte 5 belongs to the xid; byte 245 (inside an option) to that option's tree.
        assert_eq!(Field::path_at(&f, 5), Some(vec![4]));
        let flags_path = Field::path_at(&f, 10).unwrap();
        assert_eq!(flags_path.len(), 2, "into the broadcast-flag child");
        // Every byte of the packet is covered by some field.
        for at in 0..b.len() {
            assert!(Field::path_at(&f, at).is_some(), "byte {at} uncovered");
        }
    }

    #[test]
    fn truncated_and_hostile_bytes_never_panic() {
        for len in [0, 1, 11, 100, 239, 240, 243] {
            let _ = dissect(&vec![0xff; len]);
        }
        let mut b = vec![1u8; 300];
        b[236..240].copy_from_slice(&crate::packet::MAGIC_COOKIE);
        b[240] = 12;
        b[241] = 200; // longer than the packet
        let f = dissect(&b);
        assert!(f.iter().any(|x| x.name.contains("Host Name")));
    }
}
