//! What a probe heard, judged: one entry per server, the one a client would take, and what an admin should
//! know (a second server, options that disagree, an offer outside the link's subnet, a NAK and its likely
//! cause, silence and what a client does then). Every finding reads in English and 中文.

use super::Ask;
use crate::dissect::option_values;
use crate::duration_text;
use crate::hwaddr::HwAddr;
use crate::message::DhcpMessage;
use crate::packet::Reply;
use crate::pcap::Frame;
use crate::text::Text;
use crate::time::Duration;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddrV4};

/// One option of an answer, named and read as the packet inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionValue {
    pub code: u8,
    pub name: String,
    pub value: String,
}

/// One server's first answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAnswer {
    /// Its server identifier (option 54), or the source address when it sent none.
    pub server: Ipv4Addr,
    /// Where the answer came from, and the Ethernet address it came from.
    pub source: SocketAddrV4,
    pub mac: HwAddr,
    /// OFFER, ACK or NAK.
    pub reply: DhcpMessage,
    /// From our message to this answer.
    pub after_ms: u64,
    /// Answers heard from this server in all (retransmissions answered, or copies).
    pub copies: u32,
    /// The address offered or acknowledged (yiaddr), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Ipv4Addr>,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_secs: Option<u32>,
    /// Option 56: what a NAK says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Every option, as sent.
    pub options: Vec<OptionValue>,
    /// Network boot: `siaddr`, the server to load the boot file from (RFC 2131 §2), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_server: Option<Ipv4Addr>,
    /// Network boot: the `file` field, else option 67.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_file: Option<String>,
    /// Asked as a relay: whether the answer carried option 82 back, and unchanged (RFC 3046 §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_info: Option<RelayInfoEcho>,
}

/// What became of the relay's option 82 in a server's answer (RFC 3046 §2.2: echoed, all of it, as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayInfoEcho {
    /// Byte for byte as the relay sent it.
    Echoed,
    /// Back, but not as sent: sub-options reordered, dropped, added or rewritten.
    Changed,
    /// Not in the answer.
    Missing,
}

impl RelayInfoEcho {
    /// The option 82 value an answer carries, against the one the relay sent.
    pub fn of(sent: &[u8], answered: Option<&[u8]>) -> Self {
        match answered {
            None => RelayInfoEcho::Missing,
            Some(a) if a == sent => RelayInfoEcho::Echoed,
            Some(_) => RelayInfoEcho::Changed,
        }
    }
}

/// The boot file a PXE client would load: the `file` field (up to its first NUL), else option 67.
fn boot_file(m: &dhcproto::v4::Message) -> Option<String> {
    let field = m.fname().map(|f| f.split(|&b| b == 0).next().unwrap_or_default()).filter(|f| !f.is_empty());
    let option = match m.opts().get(dhcproto::v4::OptionCode::BootfileName) {
        Some(dhcproto::v4::DhcpOption::BootfileName(b)) => Some(b.as_slice()),
        _ => None,
    };
    field.or(option).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn secs(d: Option<Duration>) -> Option<u32> {
    d.map(crate::time::secs)
}

impl ServerAnswer {
    pub(super) fn new(reply: &Reply, frame: &Frame, after: Duration, bytes: &[u8]) -> Self {
        let yiaddr = reply.msg.yiaddr();
        ServerAnswer {
            server: reply.server_id.unwrap_or(*frame.src.ip()),
            source: frame.src,
            mac: frame.src_mac,
            reply: reply.kind,
            after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            copies: 1,
            address: (!yiaddr.is_unspecified()).then_some(yiaddr),
            mask: reply.mask,
            routers: reply.routers.clone(),
            dns: reply.dns.clone(),
            domain: reply.domain.clone(),
            lease_secs: secs(reply.lease_time),
            message: reply.message.clone(),
            options: option_values(bytes)
                .into_iter()
                .map(|(code, name, value)| OptionValue { code, name: name.to_string(), value })
                .collect(),
            next_server: Some(reply.msg.siaddr()).filter(|a| !a.is_unspecified()),
            boot_file: boot_file(&reply.msg),
            relay_info: None,
        }
    }

    /// The subnet the offered address lies in, by the offered mask.
    fn offered_net(&self) -> Option<Ipv4Net> {
        let mask = self.mask?;
        Ipv4Net::with_netmask(self.address?, mask).ok().map(|n| n.trunc())
    }

    fn field(&self, f: OfferField) -> String {
        let list = |v: &[Ipv4Addr]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(", ")
            }
        };
        match f {
            OfferField::Subnet => self.offered_net().map_or("-".into(), |n| n.to_string()),
            OfferField::Routers => list(&self.routers),
            OfferField::Dns => list(&self.dns),
            OfferField::Domain => self.domain.clone().unwrap_or_else(|| "-".into()),
            OfferField::LeaseTime => {
                self.lease_secs.map_or("-".into(), |s| duration_text::format(Duration::from_secs(u64::from(s))))
            }
        }
    }
}

/// What a client takes from an answer, compared between servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferField {
    Subnet,
    Routers,
    Dns,
    Domain,
    LeaseTime,
}

impl OfferField {
    const ALL: [OfferField; 5] =
        [OfferField::Subnet, OfferField::Routers, OfferField::Dns, OfferField::Domain, OfferField::LeaseTime];

    fn names(self) -> (&'static str, &'static str) {
        match self {
            OfferField::Subnet => ("subnet", "子网"),
            OfferField::Routers => ("gateway", "网关"),
            OfferField::Dns => ("DNS server list", "DNS 服务器列表"),
            OfferField::Domain => ("domain", "域名"),
            OfferField::LeaseTime => ("lease time", "租期"),
        }
    }
}

/// Something an admin should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// Nobody answered.
    NoServer { sent: u32, waited_ms: u64 },
    /// More than one server answered; a client takes `chosen`'s (the first to arrive).
    SeveralServers { servers: Vec<Ipv4Addr>, chosen: Ipv4Addr },
    /// A server's answer disagrees with the chosen one's.
    Differs { server: Ipv4Addr, field: OfferField, value: String, chosen: Ipv4Addr, chosen_value: String },
    /// An address offered outside the subnet the interface is on.
    OutsideSubnet { server: Ipv4Addr, address: Ipv4Addr, subnet: Ipv4Net },
    /// A REQUEST refused.
    Nak { server: Ipv4Addr, requested: Ipv4Addr, message: Option<String>, outside: Option<Ipv4Net> },
    /// A REQUEST confirmed; the probe gave the address back.
    Released { server: Ipv4Addr, address: Ipv4Addr },
    /// Asked as a relay, a server answered without the relay's option 82.
    RelayInfoNotEchoed { server: Ipv4Addr, giaddr: Ipv4Addr },
    /// Asked as a relay, a server answered with an option 82 other than the relay's.
    RelayInfoChanged { server: Ipv4Addr, giaddr: Ipv4Addr },
}

impl Finding {
    /// The finding in both languages.
    pub fn text(&self) -> Text {
        match self {
            Finding::NoServer { sent, waited_ms } => {
                let waited = duration_text::format(Duration::from_millis(*waited_ms));
                Text::new(
                    format!(
                        "No DHCP server answered ({sent} message(s), {waited} of listening). A client here would \
                         now give itself an address in 169.254.0.0/16 (RFC 3927 link-local: it reaches only this \
                         link, with no gateway and no DNS) and send a new DISCOVER about every 5 minutes until a \
                         server answers; the lab's `no-server` story shows it. Check that a server runs and \
                         listens on this link, that a relay forwards this VLAN to one, and that nothing filters \
                         UDP ports 67 and 68."
                    ),
                    format!(
                        "没有 DHCP 服务器应答（发送 {sent} 个报文，监听 {waited}）。这里的客户端会给自己分配一个 \
                         169.254.0.0/16 中的地址（RFC 3927 链路本地地址：只能访问本链路，没有网关和 DNS），\
                         并大约每 5 分钟重新发送一次 DISCOVER，直到有服务器应答；实验室的 `no-server` 故事演示了这一过程。\
                         请检查：服务器是否在运行并监听这条链路，中继是否把这个 VLAN 转发到服务器，\
                         以及 UDP 67 和 68 端口是否被过滤。"
                    ),
                )
            }
            Finding::SeveralServers { servers, chosen } => {
                let list = servers.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(", ");
                Text::new(
                    format!(
                        "{} DHCP servers answered: {list}. A client takes the first offer that arrives (dhclient, \
                         udhcpc, Windows and Android all do; RFC 2131 §4.4.1 lets it choose), here {chosen}'s. \
                         Which one is first can change from one DISCOVER to the next, so clients on this link get \
                         their settings from either. If only one of them should serve, the other is a rogue: \
                         its MAC, shown with its answer, leads to its switch port.",
                        servers.len()
                    ),
                    format!(
                        "有 {} 台 DHCP 服务器应答：{list}。客户端会接受最先到达的提议（dhclient、udhcpc、Windows 和 \
                         Android 都是如此；RFC 2131 §4.4.1 允许客户端自行选择），这里是 {chosen} 的。\
                         哪一台最先应答可能每次都不同，所以这条链路上的客户端会从任意一台获得配置。\
                         如果只应该有一台服务器，另一台就是非法服务器：它的应答中列出的 MAC 地址可以找到它所在的交换机端口。",
                        servers.len()
                    ),
                )
            }
            Finding::Differs { server, field, value, chosen, chosen_value } => {
                let (en, zh) = field.names();
                Text::new(
                    format!(
                        "{server} gives another {en} ({value}) than {chosen} ({chosen_value}): the {en} a \
                         client gets depends on which server answers first."
                    ),
                    format!(
                        "{server} 给出的{zh}（{value}）与 {chosen}（{chosen_value}）不同：客户端得到哪个{zh}，\
                         取决于哪台服务器先应答。"
                    ),
                )
            }
            Finding::OutsideSubnet { server, address, subnet } => Text::new(
                format!(
                    "{server} offers {address}, outside this interface's subnet {subnet}: a client taking it could \
                     not reach the hosts and the gateway of this link. A server configured for another network \
                     (or a relay with the wrong giaddr) is answering here."
                ),
                format!(
                    "{server} 提供的 {address} 不在本接口的子网 {subnet} 内：接受它的客户端无法访问本链路上的主机和网关。\
                     说明有一台为其他网络配置的服务器（或 giaddr 设置错误的中继）在这里应答。"
                ),
            ),
            Finding::Nak { server, requested, message, outside } => {
                let said = message.as_ref().map(|m| format!(" It says: \"{m}\".")).unwrap_or_default();
                let said_zh = message.as_ref().map(|m| format!("它的说明是：“{m}”。")).unwrap_or_default();
                let (cause, cause_zh) = match outside {
                    Some(net) => (
                        format!(
                            "{requested} is not in this link's subnet {net}: the client has moved to another \
                             network (the lab's `moved-subnet` story)."
                        ),
                        format!(
                            "{requested} 不在本链路的子网 {net} 内：客户端换到了另一个网络（实验室的 `moved-subnet` 故事）。"
                        ),
                    ),
                    None => (
                        format!(
                            "Likely causes: {requested} belongs to another subnet than the one this server serves \
                             on this link (the client moved), it is leased to another client, or it is outside \
                             the server's pools or reserved for another host."
                        ),
                        format!(
                            "可能的原因：{requested} 属于另一个子网而不是该服务器在本链路上服务的子网（客户端换了网络），\
                             它已租给其他客户端，或者它不在服务器的地址池中、已为其他主机保留。"
                        ),
                    ),
                };
                Text::new(
                    format!(
                        "{server} refused {requested} with DHCPNAK (RFC 2131 §4.3.2).{said} {cause} A client that \
                         gets a NAK forgets the address and starts again with DISCOVER (RFC 2131 §3.2)."
                    ),
                    format!(
                        "{server} 以 DHCPNAK 拒绝了 {requested}（RFC 2131 §4.3.2）。{said_zh}{cause_zh}\
                         收到 NAK 的客户端会放弃该地址，重新从 DISCOVER 开始（RFC 2131 §3.2）。"
                    ),
                )
            }
            Finding::RelayInfoNotEchoed { server, giaddr } => Text::new(
                format!(
                    "{server} answered the relay at {giaddr} without its option 82 (relay agent information). RFC \
                     3046 §2.2 says a server that supports the option echoes it in every reply; relays that find \
                     the client's port by its circuit id cannot deliver such an answer, and clients behind them \
                     get no address."
                ),
                format!(
                    "{server} 应答 {giaddr} 处的中继时没有带回它的选项 82（中继代理信息）。RFC 3046 §2.2 规定，\
                     支持该选项的服务器必须在每个应答中原样带回；靠电路 ID 找到客户端端口的中继无法投递这样的应答，\
                     其后的客户端因此得不到地址。"
                ),
            ),
            Finding::RelayInfoChanged { server, giaddr } => Text::new(
                format!(
                    "{server} answered the relay at {giaddr} with an option 82 (relay agent information) other \
                     than the one the relay sent: sub-options reordered, dropped, added or rewritten. RFC 3046 §2.2 \
                     asks for the whole option back as it was; a relay that checks it, or keeps its own state in \
                     it, may drop the answer."
                ),
                format!(
                    "{server} 应答 {giaddr} 处的中继时带回的选项 82（中继代理信息）与中继发出的不同：子选项被重排、\
                     删除、添加或改写。RFC 3046 §2.2 要求原样带回整个选项；会核对它或在其中保存自身状态的中继\
                     可能丢弃这样的应答。"
                ),
            ),
            Finding::Released { server, address } => Text::new(
                format!("{server} confirmed {address} with DHCPACK; the probe released it again (RFC 2131 §4.4.6)."),
                format!("{server} 以 DHCPACK 确认了 {address}；探测结束时已将其释放（RFC 2131 §4.4.6）。"),
            ),
        }
    }
}

/// The overall answer, which sets `dhcplab probe`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Exactly one server answered.
    OneServer,
    NoServer,
    SeveralServers,
}

impl Verdict {
    /// 0 one server, 1 none, 2 more than one: what a monitoring check reads.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::OneServer => 0,
            Verdict::NoServer => 1,
            Verdict::SeveralServers => 2,
        }
    }
}

/// Everything `dhcplab probe` prints (and, as JSON, hands to scripts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub asked: Ask,
    /// The subnet answers are for: the interface's, or giaddr's when asked as a relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Ipv4Net>,
    /// Asked as a relay agent with this giaddr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub giaddr: Option<Ipv4Addr>,
    pub waited_ms: u64,
    /// Messages the probe sent (retransmissions included).
    pub sent: u32,
    /// One per server, first to answer first.
    pub servers: Vec<ServerAnswer>,
    /// The server whose answer a client would take: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Ipv4Addr>,
    pub findings: Vec<Finding>,
    pub verdict: Verdict,
}

impl ProbeReport {
    pub(super) fn new(
        asked: Ask,
        subnet: Option<Ipv4Net>,
        giaddr: Option<Ipv4Addr>,
        wait: Duration,
        sent: u32,
        mut servers: Vec<ServerAnswer>,
        released: Option<Ipv4Addr>,
    ) -> Self {
        servers.sort_by_key(|s| s.after_ms);
        let waited_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let chosen = servers.first().map(|s| s.server);
        let mut findings = vec![];
        if servers.is_empty() {
            findings.push(Finding::NoServer { sent, waited_ms });
        }
        if let (Some(first), true) = (servers.first(), servers.len() > 1) {
            findings.push(Finding::SeveralServers {
                servers: servers.iter().map(|s| s.server).collect(),
                chosen: first.server,
            });
            for other in &servers[1..] {
                for field in OfferField::ALL {
                    let (value, chosen_value) = (other.field(field), first.field(field));
                    if value != chosen_value {
                        findings.push(Finding::Differs {
                            server: other.server,
                            field,
                            value,
                            chosen: first.server,
                            chosen_value,
                        });
                    }
                }
            }
        }
        for s in &servers {
            if let (Some(net), Some(address)) = (subnet, s.address)
                && s.reply != DhcpMessage::Nak
                && !net.contains(&address)
            {
                findings.push(Finding::OutsideSubnet { server: s.server, address, subnet: net });
            }
            if let (DhcpMessage::Nak, Ask::Request(requested)) = (s.reply, asked) {
                let outside = subnet.filter(|n| !n.contains(&requested));
                findings.push(Finding::Nak { server: s.server, requested, message: s.message.clone(), outside });
            }
        }
        for s in &servers {
            match (s.relay_info, giaddr) {
                (Some(RelayInfoEcho::Missing), Some(giaddr)) => {
                    findings.push(Finding::RelayInfoNotEchoed { server: s.server, giaddr })
                }
                (Some(RelayInfoEcho::Changed), Some(giaddr)) => {
                    findings.push(Finding::RelayInfoChanged { server: s.server, giaddr })
                }
                _ => {}
            }
        }
        if let Some(address) = released {
            let server = servers.iter().find(|s| s.reply == DhcpMessage::Ack && s.address == Some(address));
            findings.push(Finding::Released { server: server.map_or(Ipv4Addr::UNSPECIFIED, |s| s.server), address });
        }
        let verdict = match servers.len() {
            0 => Verdict::NoServer,
            1 => Verdict::OneServer,
            _ => Verdict::SeveralServers,
        };
        ProbeReport { asked, subnet, giaddr, waited_ms, sent, servers, chosen, findings, verdict }
    }
}
