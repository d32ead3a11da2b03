//! What is unusual or wrong in a capture, found packet by packet: what a teacher would point at on the
//! screen. The narration says what each packet is; a finding says what it means next to the others.

use crate::client::ClientStateKind;
use crate::event::PacketSummary;
use crate::hwaddr::HwAddr;
use crate::message::{DhcpMessage, SERVER_PORT};
use crate::pcap::Frame;
use crate::text::Text;
use crate::time::Instant;
use serde::Serialize;
use std::collections::HashMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// The client sent this message again (same transaction): nothing answered it in `after_ms`.
    Retransmission { msg: DhcpMessage, after_ms: u64 },
    /// A REQUEST in SELECTING names one server; the others that offered see that their offer lost.
    ChoseAmongOffers { chosen: Ipv4Addr, passed_over: Vec<Ipv4Addr> },
    /// A REQUEST names a server that made none of the offers seen for this transaction.
    NamesUnknownServer { named: Ipv4Addr, offered: Vec<Ipv4Addr> },
    /// A second DHCP server answers on the link: planned (two servers sharing a pool) or rogue.
    AnotherServer { server: Ipv4Addr, first: Ipv4Addr },
    /// A NAK, and what it most likely answers, from the REQUEST it refuses.
    Nak { after: Option<ClientStateKind>, message: Option<String> },
    /// Nothing in the capture answers this message.
    Unanswered { msg: DhcpMessage },
    /// No REQUEST follows this OFFER in the capture.
    OfferNotTaken,
    /// The message crossed a relay agent (giaddr set, sent between port 67s).
    Relayed { giaddr: Ipv4Addr, hops: u8 },
}

impl Finding {
    /// Whether a teacher would call it a problem (drawn as a warning), not just worth noticing.
    pub fn is_problem(&self) -> bool {
        !matches!(self, Finding::ChoseAmongOffers { .. } | Finding::Relayed { .. })
    }

    pub fn text(&self) -> Text {
        let list = |v: &[Ipv4Addr]| v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        match self {
            Finding::Retransmission { msg, after_ms } => {
                let s = format!("{:.1}", *after_ms as f64 / 1000.0);
                Text::new(
                    format!(
                        "Retransmission: the same {msg} again after {s} s with no answer, as a client does when its \
                         message or the reply was lost (RFC 2131 §4.1: wait about 4 s, then 8, 16, …)."
                    ),
                    format!(
                        "重传：{s} 秒内没有应答，客户端再次发送同一个 {msg}。报文或应答丢失时客户端就会这样做\
                         （RFC 2131 §4.1：约 4 秒后重发，然后 8 秒、16 秒……）。"
                    ),
                )
            }
            Finding::ChoseAmongOffers { chosen, passed_over } => Text::new(
                format!(
                    "Several servers offered; the client chose {chosen}. {} take this broadcast as their offer \
                     refused and free the address (RFC 2131 §3.1 step 3).",
                    list(passed_over)
                ),
                format!(
                    "有多台服务器提供了地址；客户端选择了 {chosen}。{} 收到这个广播后知道自己的提议被拒绝，\
                     于是释放地址（RFC 2131 §3.1 第 3 步）。",
                    list(passed_over)
                ),
            ),
            Finding::NamesUnknownServer { named, offered } => Text::new(
                format!(
                    "Unusual: this REQUEST names server {named}, but the offers seen came from {}. Either the \
                     capture missed an offer, or the client answers an offer it heard earlier.",
                    list(offered)
                ),
                format!(
                    "不寻常：这个 REQUEST 指明服务器 {named}，但看到的提议来自 {}。可能抓包漏掉了一个提议，\
                     或者客户端在回应更早听到的提议。",
                    list(offered)
                ),
            ),
            Finding::AnotherServer { server, first } => Text::new(
                format!(
                    "A second DHCP server, {server}, answers on this link (the first was {first}). Two servers can \
                     be planned (split pools, failover); if you run only one, {server} is a rogue server, and \
                     clients may take its addresses, router and DNS."
                ),
                format!(
                    "链路上出现了第二台 DHCP 服务器 {server}（第一台是 {first}）。两台服务器可以是有意安排的\
                     （分割地址池、故障切换）；如果你只运行一台，{server} 就是非法（rogue）服务器，客户端可能\
                     采用它给出的地址、网关和 DNS。"
                ),
            ),
            Finding::Nak { after, message } => {
                let said_en = message.as_ref().map(|m| format!(" The server says: \"{m}\".")).unwrap_or_default();
                let said_zh = message.as_ref().map(|m| format!(" 服务器的说明：“{m}”。")).unwrap_or_default();
                let (en, zh) = match after {
                    Some(ClientStateKind::Rebooting | ClientStateKind::InitReboot) => (
                        "Likely cause: the client rebooted on another network, or its lease is gone, so the \
                         address it remembers is wrong here (RFC 2131 §4.3.2, INIT-REBOOT).",
                        "可能的原因：客户端重启后处在另一个网络，或它的租约已不存在，所以它记得的地址在这里不对\
                         （RFC 2131 §4.3.2，INIT-REBOOT）。",
                    ),
                    Some(ClientStateKind::Renewing | ClientStateKind::Rebinding) => (
                        "Likely cause: the server no longer holds this lease for the client (it expired, the server \
                         lost its lease database, or a reservation moved the client), so it refuses to extend it.",
                        "可能的原因：服务器不再为该客户端保留这个租约（已过期、服务器丢失了租约数据库，或保留地址\
                         让客户端换了地址），所以拒绝续租。",
                    ),
                    Some(ClientStateKind::Requesting) => (
                        "Likely cause: the offered address was given to someone else meanwhile, or the REQUEST came \
                         too late and the offer had lapsed.",
                        "可能的原因：提供的地址在此期间给了别人，或 REQUEST 来得太晚，提议已失效。",
                    ),
                    _ => (
                        "The REQUEST it answers is not in the capture, so the cause cannot be told from here.",
                        "它所回应的 REQUEST 不在抓包中，无法从这里判断原因。",
                    ),
                };
                Text::new(format!("{en}{said_en}"), format!("{zh}{said_zh}"))
            }
            Finding::Unanswered { msg: DhcpMessage::Request } => Text::new(
                "Missing answer: no ACK or NAK for this REQUEST in the capture. The server did not answer, its \
                 reply was lost, or the capture stopped first.",
                "缺少应答：抓包中没有这个 REQUEST 的 ACK 或 NAK。服务器没有应答、应答丢失了，或者抓包先停止了。",
            ),
            Finding::Unanswered { msg } => Text::new(
                format!(
                    "Missing answer: nothing in the capture answers this {msg}. No server heard it, none is \
                     willing to serve this client, or the capture stopped first."
                ),
                format!(
                    "缺少应答：抓包中没有任何报文回应这个 {msg}。可能没有服务器收到，没有服务器愿意为该客户端服务，或者抓包先停止了。"
                ),
            ),
            Finding::OfferNotTaken => Text::new(
                "No REQUEST follows this offer in the capture: the asker was a probe that only looks for servers \
                 (nmap's dhcp-discover, dhcplab probe), the client took another server's offer, or the capture \
                 stopped first. The server frees the address when its hold runs out.",
                "抓包中这个提议之后没有 REQUEST：发问的可能是只寻找服务器的探测工具（nmap 的 dhcp-discover、\
                 dhcplab probe），客户端接受了另一台服务器的提议，或者抓包先停止了。保留时间到期后服务器会释放该地址。",
            ),
            Finding::Relayed { giaddr, hops } => Text::new(
                format!(
                    "Relayed: giaddr {giaddr} and hops {hops} show a relay agent between client and server; the \
                     server chooses the subnet by giaddr and answers the relay (RFC 2131 §4.1, RFC 1542)."
                ),
                format!(
                    "经过中继：giaddr {giaddr} 和 hops {hops} 表明客户端与服务器之间有中继代理；服务器按 giaddr \
                     选择子网并把应答发给中继（RFC 2131 §4.1，RFC 1542）。"
                ),
            ),
        }
    }
}

/// The client state a message shows its sender is in (RFC 2131 §4.4, figure 5); `None` for a server's
/// message.
pub fn sender_state(s: &PacketSummary, broadcast: bool) -> Option<ClientStateKind> {
    Some(match s.msg {
        DhcpMessage::Discover => ClientStateKind::Selecting,
        DhcpMessage::Request => match (s.server_id.is_some(), s.ciaddr.is_unspecified(), broadcast) {
            (true, true, _) => ClientStateKind::Requesting,
            (false, true, _) => ClientStateKind::Rebooting,
            (_, false, false) => ClientStateKind::Renewing,
            (_, false, true) => ClientStateKind::Rebinding,
        },
        DhcpMessage::Decline => ClientStateKind::Init,
        DhcpMessage::Inform => ClientStateKind::Informing,
        DhcpMessage::Release => ClientStateKind::Stopped,
        DhcpMessage::Offer | DhcpMessage::Ack | DhcpMessage::Nak => return None,
    })
}

/// The client state a server's reply puts its client in.
pub fn receiver_state(s: &PacketSummary) -> Option<ClientStateKind> {
    match s.msg {
        DhcpMessage::Ack if s.yiaddr.is_unspecified() => Some(ClientStateKind::Static),
        DhcpMessage::Ack => Some(ClientStateKind::Bound),
        DhcpMessage::Nak => Some(ClientStateKind::Init),
        _ => None,
    }
}

/// One transaction of one client: a client and the xid it chose.
type Transaction = (HwAddr, u32);

/// The client message of a transaction still waiting for its answer.
struct Waiting {
    /// The packet's index in the capture's list.
    index: usize,
    msg: DhcpMessage,
    state: Option<ClientStateKind>,
}

/// Reads packets in order and finds what [`Finding`] describes.
#[derive(Default)]
pub struct Detector {
    /// The last copy of each client message, by transaction, type and whether it came through a relay
    /// (a relayed copy of a message is a hop, not a retransmission).
    last_sent: HashMap<(Transaction, DhcpMessage, bool), Instant>,
    waiting: HashMap<Transaction, Waiting>,
    /// The state of each transaction's last REQUEST, for the NAK that answers it.
    requested: HashMap<Transaction, ClientStateKind>,
    offers: HashMap<Transaction, Vec<Ipv4Addr>>,
    /// The last OFFER of each transaction that no REQUEST has followed yet.
    untaken: HashMap<Transaction, usize>,
    servers: Vec<Ipv4Addr>,
}

impl Detector {
    /// The findings of packet `index`, and the state its message shows.
    pub fn packet(
        &mut self,
        index: usize,
        frame: &Frame,
        s: &PacketSummary,
        broadcast: bool,
    ) -> (Vec<Finding>, Option<ClientStateKind>) {
        let mut out = vec![];
        let tx = (s.chaddr, s.xid);
        if !s.giaddr.is_unspecified() && frame.src.port() == SERVER_PORT && frame.dst.port() == SERVER_PORT {
            out.push(Finding::Relayed { giaddr: s.giaddr, hops: hops(&frame.payload) });
        }
        if s.msg.from_client() {
            let state = sender_state(s, broadcast);
            let via_relay = frame.src.port() == SERVER_PORT;
            if let Some(before) = self.last_sent.insert((tx, s.msg, via_relay), frame.at) {
                let after_ms = u64::try_from((frame.at - before).as_millis()).unwrap_or(u64::MAX);
                out.push(Finding::Retransmission { msg: s.msg, after_ms });
            }
            if s.msg == DhcpMessage::Request {
                self.untaken.remove(&tx);
                if let Some(st) = state {
                    self.requested.insert(tx, st);
                }
                let offered = self.offers.get(&tx).cloned().unwrap_or_default();
                if let (Some(sid), Some(ClientStateKind::Requesting)) = (s.server_id, state)
                    && !offered.is_empty()
                {
                    if !offered.contains(&sid) {
                        out.push(Finding::NamesUnknownServer { named: sid, offered });
                    } else if offered.len() > 1 {
                        let passed_over = offered.into_iter().filter(|&o| o != sid).collect();
                        out.push(Finding::ChoseAmongOffers { chosen: sid, passed_over });
                    }
                }
            }
            if matches!(s.msg, DhcpMessage::Discover | DhcpMessage::Request | DhcpMessage::Inform) {
                self.waiting.insert(tx, Waiting { index, msg: s.msg, state });
            }
            return (out, state);
        }
        let server = s.server_id.unwrap_or(*frame.src.ip());
        if let Some(&first) = self.servers.first()
            && !self.servers.contains(&server)
        {
            out.push(Finding::AnotherServer { server, first });
        }
        if !self.servers.contains(&server) {
            self.servers.push(server);
        }
        // A server's answer ends the wait of the message it answers.
        let answered = self.waiting.remove(&tx);
        match s.msg {
            DhcpMessage::Offer => {
                let o = self.offers.entry(tx).or_default();
                if !o.contains(&server) {
                    o.push(server);
                }
                self.untaken.insert(tx, index);
            }
            DhcpMessage::Nak => {
                let after = self.requested.get(&tx).copied().or(answered.and_then(|w| w.state));
                let message = crate::packet::parse_reply(&frame.payload).ok().and_then(|r| r.message);
                out.push(Finding::Nak { after, message });
            }
            _ => {}
        }
        (out, receiver_state(s))
    }

    /// At the end of the capture: the messages nothing answered, as (packet index, finding).
    pub fn finish(self) -> Vec<(usize, Finding)> {
        let mut v: Vec<(usize, Finding)> =
            self.waiting.into_values().map(|w| (w.index, Finding::Unanswered { msg: w.msg })).collect();
        v.extend(self.untaken.into_values().map(|i| (i, Finding::OfferNotTaken)));
        v.sort_by_key(|(i, _)| *i);
        v
    }
}

/// The hops field (RFC 2131 §2: byte 3), which relays count up.
fn hops(payload: &[u8]) -> u8 {
    payload.get(3).copied().unwrap_or(0)
}
