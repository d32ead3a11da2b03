//! What one DHCP message on the wire means, in plain words (English and Simplified Chinese), and which RFC
//! rule it follows: the narrator the lab's simulator, `dhcplab watch` and the dashboard share. Where
//! tutorials simplify ("the OFFER is broadcast"), the text says when that holds.

use crate::duration_text;
use crate::event::PacketSummary;
use crate::message::{CLIENT_PORT, DhcpMessage, SERVER_PORT};
use crate::pcap::Frame;
use crate::text::Text;
use crate::time::Duration;
use std::net::Ipv4Addr;

pub(crate) fn dur(secs: u32) -> String {
    duration_text::format(Duration::from_secs(u64::from(secs)))
}

pub(crate) fn rfc(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// How the frame is addressed, and why.
pub fn delivery(frame: &Frame, s: &PacketSummary, broadcast: bool, via_relay: bool) -> Text {
    let to = frame.dst;
    if via_relay && to.port() == SERVER_PORT {
        return Text::new(
            format!(" It goes by unicast to {to}: a relay talks to the server directly."),
            format!(" 它以单播发往 {to}：中继直接与服务器通信。"),
        );
    }
    if broadcast && s.broadcast_flag && s.msg != DhcpMessage::Nak {
        Text::new(
            " It is broadcast because the client set the broadcast flag (RFC 2131 §4.1).",
            " 因为客户端设置了广播标志，所以它被广播（RFC 2131 §4.1）。",
        )
    } else if broadcast && s.msg == DhcpMessage::Nak {
        Text::new(" A NAK to a client on the link is always broadcast.", " 发给本链路客户端的 NAK 总是广播。")
    } else if !broadcast && to.port() == CLIENT_PORT && s.ciaddr.is_unspecified() && !s.yiaddr.is_unspecified() {
        Text::new(
            format!(
                " It is sent to the client's MAC {} and to {}, not broadcast: the client has no address to answer \
                 ARP with, so the frame is addressed by chaddr (RFC 2131 §4.1). Tutorials often say this reply is \
                 broadcast; that is true only when the client sets the broadcast flag.",
                frame.dst_mac, to
            ),
            format!(
                " 它直接发往客户端的 MAC {} 和 {}，而不是广播：客户端还没有地址，无法应答 ARP，所以按 chaddr 发送\
                 （RFC 2131 §4.1）。教程常说这个应答是广播的——只有客户端设置了广播标志时才如此。",
                frame.dst_mac, to
            ),
        )
    } else if broadcast {
        Text::new(" Everyone on the segment receives it.", " 网段上的每个节点都会收到它。")
    } else {
        Text::new(format!(" It is unicast to {to}."), format!(" 它以单播发往 {to}。"))
    }
}

/// A router forwarding a unicast it did not relay.
pub fn routed(who: &str, msg: DhcpMessage, frame: &Frame) -> (Text, Option<String>) {
    (
        Text::new(
            format!(
                "{who} routes the {msg} from {} on to {} unchanged: ordinary IP forwarding, no relaying needed \
                 once the client has an address.",
                frame.src, frame.dst
            ),
            format!(
                "{who} 将来自 {} 的 {msg} 原样路由到 {}：客户端有了地址后，只需普通的 IP 转发，无需中继。",
                frame.src, frame.dst
            ),
        ),
        rfc("RFC 2131 §4.4.5"),
    )
}

/// A relay agent passing a client's message up to the server.
pub fn relayed_up(who: &str, msg: DhcpMessage, s: &PacketSummary) -> (Text, Option<String>) {
    (
        Text::new(
            format!(
                "{who} relays the client's {msg} to the server, setting giaddr to {} so the server picks the \
                 client's subnet, and adding option 82 (the circuit it came in on).",
                s.giaddr
            ),
            format!(
                "{who} 把客户端的 {msg} 转发给服务器，并把 giaddr 设为 {}，让服务器选择客户端所在的子网，\
                 同时加上选项 82（报文进入的线路）。",
                s.giaddr
            ),
        ),
        rfc("RFC 1542 §4.1.1, RFC 3046"),
    )
}

/// A relay agent passing the server's reply down to the client's segment.
pub fn relayed_down(who: &str, msg: DhcpMessage, seg: &str) -> (Text, Option<String>) {
    (
        Text::new(
            format!("{who} passes the server's {msg} on to the client on {seg}, without option 82."),
            format!("{who} 把服务器的 {msg} 转交给 {seg} 上的客户端，并去掉选项 82。"),
        ),
        rfc("RFC 1542 §4.1.2, RFC 3046 §2.2"),
    )
}

/// A client's or a server's own message, by type.
pub fn sent(who: &str, seg: &str, s: &PacketSummary, broadcast: bool) -> (Text, Option<String>) {
    match s.msg {
        DhcpMessage::Discover => discover(who, seg, s),
        DhcpMessage::Offer => offer(who, s),
        DhcpMessage::Request => request_text(who, s, broadcast),
        DhcpMessage::Ack if s.yiaddr.is_unspecified() => inform_ack(who),
        DhcpMessage::Ack => ack(who, s),
        DhcpMessage::Nak => nak(who),
        DhcpMessage::Decline => decline(who, s),
        DhcpMessage::Release => release(who, s),
        DhcpMessage::Inform => inform(who, s),
    }
}

fn discover(who: &str, seg: &str, s: &PacketSummary) -> (Text, Option<String>) {
    let mut t = Text::new(
        format!(
            "{who} broadcasts DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67: it has no address \
             yet and knows no server, so it asks everyone on {seg}."
        ),
        format!(
            "{who} 从 0.0.0.0:68 向 255.255.255.255:67 广播 DHCPDISCOVER：它还没有地址，也不认识任何服务器，\
             所以询问 {seg} 上的所有节点。"
        ),
    );
    if let Some(ip) = s.requested_ip {
        t.en.push_str(&format!(" It asks for {ip} again (option 50), the address it had last."));
        t.zh.push_str(&format!(" 它请求再次使用上次的地址 {ip}（选项 50）。"));
    }
    (t, rfc("RFC 2131 §4.4.1"))
}

fn offer(who: &str, s: &PacketSummary) -> (Text, Option<String>) {
    let lease = s.lease_secs.map(dur).unwrap_or_default();
    (
        Text::new(
            format!(
                "{who} offers {} for {lease}, with its mask, router and server identifier; it holds the \
                 address for this client until the client answers.",
                s.yiaddr
            ),
            format!(
                "{who} 提供地址 {}，租期 {lease}，并附上掩码、网关和服务器标识；在客户端答复之前为其保留该地址。",
                s.yiaddr
            ),
        ),
        rfc("RFC 2131 §4.3.1"),
    )
}

fn inform_ack(who: &str) -> (Text, Option<String>) {
    (
        Text::new(
            format!("{who} answers the INFORM with options only: no address, no lease time."),
            format!("{who} 只用配置参数答复 INFORM：没有地址，也没有租期。"),
        ),
        rfc("RFC 2131 §4.3.5"),
    )
}

fn ack(who: &str, s: &PacketSummary) -> (Text, Option<String>) {
    let lease = s.lease_secs.map(dur).unwrap_or_default();
    (
        Text::new(
            format!(
                "{who} confirms {} for {lease}: the lease is recorded, and the client may use the address.",
                s.yiaddr
            ),
            format!("{who} 确认地址 {}，租期 {lease}：租约已记录，客户端可以使用该地址。", s.yiaddr),
        ),
        rfc("RFC 2131 §4.3.1, §4.3.2"),
    )
}

fn nak(who: &str) -> (Text, Option<String>) {
    (
        Text::new(
            format!(
                "{who} refuses with DHCPNAK: the address the client asked for is wrong for this network or \
             not the client's. The client must start again with DISCOVER."
            ),
            format!(
                "{who} 以 DHCPNAK 拒绝：客户端请求的地址不属于这个网络或不属于它。客户端必须重新从 DISCOVER 开始。"
            ),
        ),
        rfc("RFC 2131 §4.3.2, §3.2"),
    )
}

fn decline(who: &str, s: &PacketSummary) -> (Text, Option<String>) {
    (
        Text::new(
            format!(
                "{who} tells the server that {} is already in use (another host answered its ARP probe); \
             the server takes it out of the pool.",
                s.requested_ip.unwrap_or(Ipv4Addr::UNSPECIFIED)
            ),
            format!(
                "{who} 告诉服务器 {} 已被占用（另一台主机应答了它的 ARP 探测）；服务器把它移出地址池。",
                s.requested_ip.unwrap_or(Ipv4Addr::UNSPECIFIED)
            ),
        ),
        rfc("RFC 2131 §3.1.5, §4.4.1"),
    )
}

fn release(who: &str, s: &PacketSummary) -> (Text, Option<String>) {
    (
        Text::new(
            format!("{who} gives {} back, by unicast to the server that leased it.", s.ciaddr),
            format!("{who} 以单播把 {} 还给出租它的服务器。", s.ciaddr),
        ),
        rfc("RFC 2131 §4.4.6"),
    )
}

fn inform(who: &str, s: &PacketSummary) -> (Text, Option<String>) {
    (
        Text::new(
            format!("{who} already has the address {} and asks only for configuration options.", s.ciaddr),
            format!("{who} 已有地址 {}，只请求配置参数。", s.ciaddr),
        ),
        rfc("RFC 2131 §4.4.3"),
    )
}

fn request_text(who: &str, s: &PacketSummary, broadcast: bool) -> (Text, Option<String>) {
    let req = s.requested_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    match (s.server_id, s.ciaddr.is_unspecified(), broadcast) {
        (Some(sid), true, _) => (
            Text::new(
                format!(
                    "{who} broadcasts DHCPREQUEST for {req}, naming server {sid}: it takes that offer. Broadcasting \
                     tells every other server that its own offer was not chosen, so they free it (SELECTING)."
                ),
                format!(
                    "{who} 广播 DHCPREQUEST 请求 {req}，并指明服务器 {sid}：它接受这个提议。广播让其他服务器知道\
                     它们的提议未被选中，从而释放地址（SELECTING 状态）。"
                ),
            ),
            rfc("RFC 2131 §4.3.2, §4.4.1"),
        ),
        (None, true, _) => (
            Text::new(
                format!(
                    "{who} has rebooted and asks to keep {req} (INIT-REBOOT): no server identifier, so any server \
                     that knows this network may confirm it or say it is wrong here."
                ),
                format!(
                    "{who} 重启后请求继续使用 {req}（INIT-REBOOT）：没有服务器标识，任何了解本网络的服务器都可以确认或否定它。"
                ),
            ),
            rfc("RFC 2131 §3.2, §4.3.2"),
        ),
        (_, false, false) => (
            Text::new(
                format!(
                    "At T1 (half the lease) {who} asks the server that gave the lease to extend it, by unicast from \
                     its own address {} (RENEWING).",
                    s.ciaddr
                ),
                format!(
                    "到达 T1（租期的一半）时，{who} 从自己的地址 {} 以单播请求原服务器续租（RENEWING 状态）。",
                    s.ciaddr
                ),
            ),
            rfc("RFC 2131 §4.4.5"),
        ),
        (_, false, true) => (
            Text::new(
                format!(
                    "Its server has not answered by T2 (87.5 % of the lease), so {who} broadcasts to any server to \
                     extend the lease on {} (REBINDING).",
                    s.ciaddr
                ),
                format!(
                    "原服务器在 T2（租期的 87.5%）前没有答复，{who} 广播请求任何服务器为 {} 续租（REBINDING 状态）。",
                    s.ciaddr
                ),
            ),
            rfc("RFC 2131 §4.4.5"),
        ),
    }
}
