//! A Wireshark-style dissection of a DHCP message: every header field and option with its name, its value
//! as people read it, and the bytes it occupies, so an inspector can link the field tree and the hex view.
//! Names and values come in English (Wireshark's words) and 中文 (the Chinese term, with the RFC's field
//! name beside it where it has one, such as chaddr).

use crate::message::DhcpMessage;
use crate::text::Text;
use serde::Serialize;
use std::net::Ipv4Addr;
use std::ops::Range;

/// One field: a header field, an option, or an option's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Wireshark's name, which tests and tools match on.
    pub name: String,
    pub name_zh: String,
    pub value: String,
    /// The value in Chinese, where its words differ (most values are numbers and addresses).
    pub value_zh: String,
    /// Byte offsets in the DHCP payload.
    pub range: Range<usize>,
    pub children: Vec<Field>,
}

/// A name or value in both languages.
fn t(en: impl Into<String>, zh: impl Into<String>) -> Text {
    Text::new(en, zh)
}

/// A value that reads the same in both (a number, an address).
fn same(v: impl Into<String>) -> Text {
    let v = v.into();
    Text::new(v.clone(), v)
}

impl Field {
    fn new(name: Text, value: Text, range: Range<usize>) -> Self {
        Field { name: name.en, name_zh: name.zh, value: value.en, value_zh: value.zh, range, children: vec![] }
    }

    /// The name and value in Chinese or English.
    pub fn label(&self, zh: bool) -> (&str, &str) {
        if zh { (&self.name_zh, &self.value_zh) } else { (&self.name, &self.value) }
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

/// Option names (RFC 2132 and later), for the ones the lab meets: (English, 中文).
fn option_names(code: u8) -> (&'static str, &'static str) {
    match code {
        0 => ("Pad", "填充"),
        1 => ("Subnet Mask", "子网掩码"),
        2 => ("Time Offset", "时间偏移"),
        3 => ("Router", "路由器"),
        6 => ("Domain Name Server", "域名服务器"),
        12 => ("Host Name", "主机名"),
        15 => ("Domain Name", "域名"),
        26 => ("Interface MTU", "接口 MTU"),
        28 => ("Broadcast Address", "广播地址"),
        42 => ("NTP Servers", "NTP 服务器"),
        43 => ("Vendor-Specific Information", "厂商特定信息"),
        50 => ("Requested IP Address", "请求的 IP 地址"),
        51 => ("IP Address Lease Time", "IP 地址租期"),
        52 => ("Option Overload", "选项过载"),
        53 => ("DHCP Message Type", "DHCP 消息类型"),
        54 => ("DHCP Server Identifier", "DHCP 服务器标识"),
        55 => ("Parameter Request List", "参数请求列表"),
        56 => ("Message", "消息"),
        57 => ("Maximum DHCP Message Size", "最大 DHCP 报文长度"),
        58 => ("Renewal Time Value (T1)", "续租时间 (T1)"),
        59 => ("Rebinding Time Value (T2)", "重新绑定时间 (T2)"),
        60 => ("Vendor Class Identifier", "厂商类别标识"),
        61 => ("Client Identifier", "客户端标识"),
        66 => ("TFTP Server Name", "TFTP 服务器名"),
        67 => ("Bootfile Name", "启动文件名"),
        80 => ("Rapid Commit", "快速提交"),
        81 => ("Client FQDN", "客户端 FQDN"),
        82 => ("Relay Agent Information", "中继代理信息"),
        93 => ("Client System Architecture", "客户端系统架构"),
        118 => ("Subnet Selection", "子网选择"),
        119 => ("Domain Search", "域名搜索列表"),
        121 => ("Classless Static Route", "无类别静态路由"),
        255 => ("End", "结束"),
        _ => ("Unknown", "未知"),
    }
}

/// An option's English name.
pub fn option_name(code: u8) -> &'static str {
    option_names(code).0
}

fn option_label(code: u8) -> Text {
    let (en, zh) = option_names(code);
    t(format!("Option: ({code}) {en}"), format!("选项 ({code}) {zh}"))
}

fn message_type(v: u8) -> &'static str {
    DhcpMessage::from_code(v).map_or("unknown", DhcpMessage::wire_name)
}

fn option_value(code: u8, b: &[u8]) -> Text {
    let joined = |f: &dyn Fn(bool) -> Vec<String>| t(f(false).join(", "), f(true).join("，"));
    match code {
        1 | 28 | 50 | 54 | 118 => same(ip(b)),
        3 | 6 | 42 => same(b.chunks(4).map(ip).collect::<Vec<_>>().join(", ")),
        51 | 58 | 59 => same(secs(b)),
        53 => same(b.first().map(|&v| format!("{} ({v})", message_type(v))).unwrap_or_default()),
        12 | 15 | 56 | 60 | 66 | 67 => same(text(b)),
        55 => joined(&|zh| {
            b.iter()
                .map(|&c| {
                    let (en, z) = option_names(c);
                    format!("{c} {}", if zh { z } else { en })
                })
                .collect()
        }),
        57 => same(b.try_into().map(|x: [u8; 2]| u16::from_be_bytes(x).to_string()).unwrap_or_else(|_| hex(b))),
        61 if b.len() == 7 && b[0] == 1 => {
            t(format!("type 1 (Ethernet), {}", hex(&b[1..])), format!("类型 1（以太网），{}", hex(&b[1..])))
        }
        // RFC 3046: the sub-options, each named, as the field tree shows them.
        82 => {
            let subs = relay_suboptions(0, b);
            joined(&|zh| {
                subs.iter()
                    .map(|f| {
                        let (n, v) = f.label(zh);
                        format!("{n} {v}")
                    })
                    .collect()
            })
        }
        _ => same(hex(b)),
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
                out.push((code, option_name(code), option_value(code, &b[i + 2..end]).en));
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
        let (en, zh) = match code {
            1 => ("Agent Circuit ID", "电路 ID (Agent Circuit ID)"),
            2 => ("Agent Remote ID", "远程 ID (Agent Remote ID)"),
            5 => ("Link Selection", "链路选择 (Link Selection)"),
            11 => ("Server Identifier Override", "服务器标识覆盖 (Server Identifier Override)"),
            _ => ("Sub-option", "子选项"),
        };
        let v = &b[i + 2..end];
        let value =
            if code == 1 || code == 2 { same(format!("{} ({})", text(v), hex(v))) } else { option_value(118, v) };
        out.push(Field::new(t(format!("({code}) {en}"), format!("({code}) {zh}")), value, base + i..base + end));
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
fn name_field(s: &[u8]) -> Text {
    if s.iter().all(|&x| x == 0) {
        t("not given", "未给出")
    } else {
        same(text(s.split(|&x| x == 0).next().unwrap_or(&[])))
    }
}

/// The fixed BOOTP header and the magic cookie (RFC 2131 §2, figure 1).
fn header(b: &[u8]) -> Vec<Field> {
    let mut f = vec![];
    let get = |r: Range<usize>| b.get(r.clone()).map(|s| (s, r));
    if let Some((s, r)) = get(0..1) {
        let v = match s[0] {
            1 => t("Boot Request (1)", "请求 Boot Request (1)"),
            2 => t("Boot Reply (2)", "应答 Boot Reply (2)"),
            x => t(format!("unknown ({x})"), format!("未知 ({x})")),
        };
        f.push(Field::new(t("Message type (op)", "消息类型 (op)"), v, r));
    }
    if let Some((s, r)) = get(1..2) {
        let v = if s[0] == 1 { t("Ethernet (0x01)", "以太网 (0x01)") } else { same(format!("{:#04x}", s[0])) };
        f.push(Field::new(t("Hardware type", "硬件类型 (htype)"), v, r));
    }
    if let Some((s, r)) = get(2..3) {
        f.push(Field::new(t("Hardware address length", "硬件地址长度 (hlen)"), same(s[0].to_string()), r));
    }
    if let Some((s, r)) = get(3..4) {
        f.push(Field::new(t("Hops", "跳数 (hops)"), same(s[0].to_string()), r));
    }
    if let Some((s, r)) = get(4..8) {
        f.push(Field::new(t("Transaction ID", "事务 ID (xid)"), same(format!("{:#010x}", u32be(s).unwrap_or(0))), r));
    }
    if let Some((s, r)) = get(8..10) {
        f.push(Field::new(
            t("Seconds elapsed", "已用秒数 (secs)"),
            same(u16::from_be_bytes([s[0], s[1]]).to_string()),
            r,
        ));
    }
    if let Some((s, r)) = get(10..12) {
        let v = u16::from_be_bytes([s[0], s[1]]);
        let bcast = v & 0x8000 != 0;
        let (en, zh) = if bcast { ("Broadcast", "广播") } else { ("Unicast", "单播") };
        let mut flags = Field::new(
            t("Bootp flags", "标志 (flags)"),
            t(format!("{v:#06x} ({en})"), format!("{v:#06x}（{zh}）")),
            r.clone(),
        );
        let (en, zh) = if bcast {
            ("1: reply by broadcast", "1：以广播应答")
        } else {
            ("0: unicast reply is fine", "0：可以单播应答")
        };
        flags.children.push(Field::new(t("Broadcast flag", "广播标志"), t(en, zh), r));
        f.push(flags);
    }
    for (en, zh, at) in [
        ("Client IP address (ciaddr)", "客户端 IP 地址 (ciaddr)", 12),
        ("Your (client) IP address (yiaddr)", "分配给客户端的 IP 地址 (yiaddr)", 16),
        ("Next server IP address (siaddr)", "下一个服务器 IP 地址 (siaddr)", 20),
        ("Relay agent IP address (giaddr)", "中继代理 IP 地址 (giaddr)", 24),
    ] {
        if let Some((s, r)) = get(at..at + 4) {
            f.push(Field::new(t(en, zh), same(ip(s)), r));
        }
    }
    if let Some((s, r)) = get(28..44) {
        let hlen = (b[2] as usize).min(16);
        f.push(Field::new(t("Client hardware address (chaddr)", "客户端硬件地址 (chaddr)"), same(hex(&s[..hlen])), r));
    }
    if let Some((s, r)) = get(44..108) {
        f.push(Field::new(t("Server host name (sname)", "服务器主机名 (sname)"), name_field(s), r));
    }
    if let Some((s, r)) = get(108..236) {
        f.push(Field::new(t("Boot file name (file)", "启动文件名 (file)"), name_field(s), r));
    }
    if let Some((s, r)) = get(236..240) {
        let ok = s == crate::packet::MAGIC_COOKIE;
        let v = if ok {
            same("DHCP (99.130.83.99)")
        } else {
            t(format!("{} (not DHCP)", hex(s)), format!("{}（不是 DHCP）", hex(s)))
        };
        f.push(Field::new(t("Magic cookie", "魔数 (magic cookie)"), v, r));
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
            f.push(padding(i - p, p..i));
        }
        if code == 255 {
            f.push(Field::new(option_label(255), same(""), i..i + 1));
            i += 1;
            continue;
        }
        let Some(&len) = b.get(i + 1) else {
            f.push(Field::new(option_label(code), t("truncated", "被截断"), i..b.len()));
            break;
        };
        let end = (i + 2 + len as usize).min(b.len());
        let value = &b[i + 2..end];
        let mut opt = Field::new(option_label(code), option_value(code, value), i..end);
        opt.children.push(Field::new(t("Length", "长度"), same(len.to_string()), i + 1..i + 2));
        if code == 82 {
            opt.children.extend(relay_suboptions(i + 2, value));
        }
        f.push(opt);
        i = end;
    }
    if let Some(p) = padding_from {
        f.push(padding(b.len() - p, p..b.len()));
    }
}

fn padding(n: usize, r: Range<usize>) -> Field {
    Field::new(t("Padding", "填充"), t(format!("{n} bytes"), format!("{n} 字节")), r)
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

    /// Every field, with its children.
    fn all(f: &[Field]) -> Vec<&Field> {
        f.iter().flat_map(|x| std::iter::once(x).chain(all(&x.children))).collect()
    }

    #[test]
    fn every_field_has_a_chinese_name_and_value() {
        let b = ClientMsg::new(MessageType::Request, HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x56]), 1)
            .hostname("laptop")
            .requested(Ipv4Addr::new(192, 168, 1, 100))
            .params(&[1, 3, 6])
            .client_id(vec![1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])
            .bytes();
        let fields = dissect(&b);
        let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for f in all(&fields) {
            assert!(han(&f.name_zh), "{} has no Chinese name: {:?}", f.name, f.name_zh);
            // A value in words is in Chinese; numbers, addresses, message names (DHCPREQUEST) and quoted
            // client strings read the same.
            let words =
                f.value.split(|c: char| !c.is_ascii_alphabetic()).any(|w| w.len() > 3 && !w.starts_with("DHCP"));
            if words && !f.value.starts_with('"') {
                assert!(han(&f.value_zh), "{}: {:?} is not translated", f.name, f.value_zh);
            }
        }
        let by = |n: &str| all(&fields).into_iter().find(|x| x.name.starts_with(n)).unwrap();
        assert_eq!(by("Client hardware address").label(true), ("客户端硬件地址 (chaddr)", "52:54:00:12:34:56"));
        assert_eq!(by("Option: (53)").label(true).0, "选项 (53) DHCP 消息类型");
        assert!(by("Option: (55)").value_zh.contains("子网掩码"), "{}", by("Option: (55)").value_zh);
    }
}
