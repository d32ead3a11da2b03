//! What each step of the trace means, in plain words (English and Simplified Chinese), and which RFC rule
//! it follows: the simulator's actions and client events here, each packet by `crate::narrate`.

use super::Action;
use super::Sim;
use super::topology::{NicId, NodeKind};
use super::trace::{Text, TraceKind};
use crate::arbiter::{Proposal, Verdict};
use crate::client::{ClientEvent, ClientLease, ClientStateKind};
use crate::event::{LeaseEvent, LeaseEventKind, PacketSummary};
use crate::lease::LeaseState;
use crate::message::SERVER_PORT;
use crate::pcap::Frame;
use std::net::Ipv4Addr;

use crate::narrate::{delivery, relayed_down, relayed_up, rfc, routed, sent};

pub(super) fn action(node: &str, a: &Action) -> Text {
    match a {
        Action::Start { .. } => Text::new(format!("{node} is switched on."), format!("{node} 开机。")),
        Action::Release { .. } => {
            Text::new(format!("{node} shuts down and releases its lease."), format!("{node} 关机并释放租约。"))
        }
        Action::Reboot { .. } => Text::new(
            format!("{node} reboots; it remembers its last lease."),
            format!("{node} 重启；它记得上一次的租约。"),
        ),
        Action::Renew { .. } => {
            Text::new(format!("{node} is asked to renew its lease now."), format!("{node} 被要求立即续租。"))
        }
        Action::Unplug { .. } => Text::new(format!("{node}'s cable is pulled out."), format!("{node} 的网线被拔掉。")),
        Action::Move { .. } => Text::new(
            format!("{node} is plugged into another network segment; the link comes up."),
            format!("{node} 被接到另一个网段；链路接通。"),
        ),
        Action::Inform { ip, .. } => Text::new(
            format!("{node} has the fixed address {ip} and wants only configuration options."),
            format!("{node} 使用固定地址 {ip}，只需要配置参数。"),
        ),
        Action::ServerPower { online: true, .. } => {
            Text::new(format!("{node} is switched on."), format!("{node} 启动。"))
        }
        Action::ServerPower { online: false, .. } => {
            Text::new(format!("{node} is switched off."), format!("{node} 关闭。"))
        }
        Action::AddHost { .. } | Action::AddServer { .. } => {
            Text::new(format!("{node} is connected to the network."), format!("{node} 接入网络。"))
        }
        Action::Reconfigure { config, .. } => {
            let reserved: Vec<String> = config
                .subnets
                .iter()
                .flat_map(|s| &s.reservations)
                .map(|r| match (&r.mac, &r.client_id) {
                    (Some(hw), _) => format!("{hw} → {}", r.ip),
                    (None, Some(id)) => format!("client id {id} → {}", r.ip),
                    (None, None) => r.ip.to_string(),
                })
                .collect();
            match reserved.is_empty() {
                true => Text::new(
                    format!("{node} gets a new configuration; its leases are kept."),
                    format!("{node} 更新了配置；已有租约保持不变。"),
                ),
                false => {
                    let list = reserved.join(", ");
                    Text::new(
                        format!(
                            "{node} gets a new configuration with reservations ({list}); its leases are kept. A \
                             client whose reservation names another address than the one it holds is moved there \
                             at its next REQUEST: the server refuses the old address with a NAK."
                        ),
                        format!(
                            "{node} 更新了配置，包含保留地址（{list}）；已有租约保持不变。如果客户端的保留地址与它\
                             当前持有的地址不同，它下次发送 REQUEST 时服务器会以 NAK 拒绝旧地址，让它改用保留地址。"
                        ),
                    )
                }
            }
        }
        Action::AddNic { .. } => Text::new(
            format!("{node} gets another network card; it asks for its own lease."),
            format!("{node} 增加了一块网卡；它会申请自己的租约。"),
        ),
        Action::Remove { .. } => Text::new(format!("{node} is disconnected for good."), format!("{node} 被永久断开。")),
    }
}

pub(super) fn packet(
    sim: &Sim,
    from: NicId,
    frame: &Frame,
    s: &PacketSummary,
    broadcast: bool,
    lost: bool,
) -> (Text, Option<String>) {
    let node = &sim.nodes[sim.nics[from].node];
    let who = node.name.as_str();
    let seg = &sim.segments[sim.nics[from].segment].name;
    let is_relay = matches!(node.kind, NodeKind::Relay { .. });
    // A router forwarding someone else's unicast keeps the original source address.
    let is_routed = is_relay && !node.nics().iter().any(|&n| sim.nics[n].fixed.map(|f| f.0) == Some(*frame.src.ip()));
    let (mut text, r) = if is_routed {
        routed(who, s.msg, frame)
    } else if is_relay && frame.dst.port() == SERVER_PORT {
        relayed_up(who, s.msg, s)
    } else if is_relay {
        relayed_down(who, s.msg, seg)
    } else {
        sent(who, seg, s, broadcast)
    };
    let d = if is_routed { Text::default() } else { delivery(frame, s, broadcast, is_relay) };
    text.en.push_str(&d.en);
    text.zh.push_str(&d.zh);
    if lost {
        text.en.push_str(" The frame is lost on the way.");
        text.zh.push_str(" 该帧在途中丢失。");
    }
    (text, r)
}

fn state_meaning(s: ClientStateKind) -> (&'static str, &'static str) {
    match s {
        ClientStateKind::Init => ("starts looking for a server", "开始寻找服务器"),
        ClientStateKind::Selecting => ("waits for offers", "等待服务器的提议"),
        ClientStateKind::Requesting => ("has chosen an offer and requested it", "已选定一个提议并发出请求"),
        ClientStateKind::Checking => {
            ("checks with ARP that nobody else uses the address", "用 ARP 检查地址是否已被他人使用")
        }
        ClientStateKind::Bound => ("uses its address", "正在使用它的地址"),
        ClientStateKind::Renewing => ("asks its server to extend the lease", "请求原服务器续租"),
        ClientStateKind::Rebinding => ("asks any server to extend the lease", "请求任意服务器续租"),
        ClientStateKind::InitReboot => ("starts with the address it remembers", "从记得的地址开始"),
        ClientStateKind::Rebooting => ("waits for its address to be confirmed", "等待地址被确认"),
        ClientStateKind::Informing => ("asks for options for its fixed address", "为固定地址请求配置参数"),
        ClientStateKind::Static => ("uses its fixed address", "使用固定地址"),
        ClientStateKind::Stopped => ("is off the network", "已离开网络"),
    }
}

fn lease_text(l: &ClientLease) -> Text {
    let list = |v: &[Ipv4Addr]| {
        if v.is_empty() { "none".to_string() } else { v.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ") }
    };
    let (routers, dns) = (list(&l.routers), list(&l.dns));
    Text::new(
        format!(
            "IP {} mask {}, gateway {routers}, DNS {dns}, DHCP server {}; lease obtained {} expires {}.",
            l.ip, l.mask, l.server, l.obtained, l.expires
        ),
        format!(
            "IP {} 掩码 {}，网关 {routers}，DNS {dns}，DHCP 服务器 {}；租约获得于 {}，到期于 {}。",
            l.ip, l.mask, l.server, l.obtained, l.expires
        ),
    )
}

pub(super) fn client_event(host: &str, nic: &str, idx: usize, ev: &ClientEvent) -> (TraceKind, Text, Option<String>) {
    let who = format!("{host} ({nic})");
    let (text, r) = match ev {
        ClientEvent::StateChanged { from, to } => {
            let (en, zh) = state_meaning(*to);
            let kind = TraceKind::ClientState { nic: idx, from: *from, to: *to };
            return (
                kind,
                Text::new(format!("{who}: {from} → {to}: it {en}."), format!("{who}：{from} → {to}：{zh}。")),
                rfc("RFC 2131 §4.4, figure 5"),
            );
        }
        ClientEvent::Bound { lease } => {
            let l = lease_text(lease);
            (
                Text::new(format!("{who} is configured. {}", l.en), format!("{who} 配置完成。{}", l.zh)),
                rfc("RFC 2131 §4.4.1"),
            )
        }
        ClientEvent::Extended { lease } => (
            Text::new(
                format!("{who} keeps {} until {}: the lease was extended.", lease.ip, lease.expires),
                format!("{who} 的租约已延长：{} 可用到 {}。", lease.ip, lease.expires),
            ),
            rfc("RFC 2131 §4.4.5"),
        ),
        ClientEvent::Nak { server, message } => {
            let why = message.clone().unwrap_or_default();
            (
                Text::new(
                    format!("{who} got a NAK from {server} ({why}); it drops the address and starts over."),
                    format!("{who} 收到来自 {server} 的 NAK（{why}）；它放弃该地址并重新开始。"),
                ),
                rfc("RFC 2131 §3.1.4, §3.2"),
            )
        }
        ClientEvent::Declined { ip } => (
            Text::new(
                format!("{who} will not use {ip}: it is taken. It waits 10 seconds and starts over."),
                format!("{who} 不会使用 {ip}：它已被占用。等待 10 秒后重新开始。"),
            ),
            rfc("RFC 2131 §3.1.5"),
        ),
        ClientEvent::Expired { ip } => (
            Text::new(
                format!("{who}'s lease on {ip} has run out with no server answering: it must stop using the address."),
                format!("{who} 在 {ip} 上的租约已到期且没有服务器答复：必须停止使用该地址。"),
            ),
            rfc("RFC 2131 §4.4.5"),
        ),
        ClientEvent::Released { ip } => {
            (Text::new(format!("{who} no longer uses {ip}."), format!("{who} 不再使用 {ip}。")), rfc("RFC 2131 §4.4.6"))
        }
        ClientEvent::LinkLocalClaimed { ip } => (
            Text::new(
                format!(
                    "No DHCP server answered, so {who} gives itself {ip} from 169.254.0.0/16. It can talk to \
                     neighbours on this link only, and keeps looking for a server every 5 minutes."
                ),
                format!(
                    "没有 DHCP 服务器应答，{who} 从 169.254.0.0/16 为自己分配了 {ip}。它只能与本链路上的邻居通信，并每 5 分钟重新寻找服务器。"
                ),
            ),
            rfc("RFC 3927 §2.1"),
        ),
        ClientEvent::LinkLocalDropped { ip } => (
            Text::new(
                format!("{who} stops using the link-local address {ip}."),
                format!("{who} 停止使用链路本地地址 {ip}。"),
            ),
            rfc("RFC 3927 §1.9"),
        ),
        ClientEvent::Informed { lease } => (
            Text::new(
                format!("{who} keeps its fixed address {} and now has the network's options.", lease.ip),
                format!("{who} 保留固定地址 {}，并获得了网络配置参数。", lease.ip),
            ),
            rfc("RFC 2131 §4.4.3"),
        ),
    };
    (TraceKind::Client { nic: idx, event: ev.clone() }, text, r)
}

/// What the shared lease database did with one server's change.
pub(super) fn database(db: &str, server: &str, change: &Proposal, verdict: &Verdict) -> (Text, Option<String>) {
    match (change, verdict) {
        (Proposal::Put(l), Verdict::Granted) if l.state == LeaseState::Bound => (
            Text::new(
                format!(
                    "{db} stores what {server} granted: {} belongs to {} until {}. Only now may the ACK leave; \
                     the other servers read the change at once.",
                    l.ip, l.hw, l.expires
                ),
                format!(
                    "{db} 保存 {server} 批准的租约：{} 归 {} 使用，直到 {}。此后 ACK 才能发出；其他服务器立即读到这项变更。",
                    l.ip, l.hw, l.expires
                ),
            ),
            Some("RFC 2131 §4.3.2".into()),
        ),
        (Proposal::Put(l), Verdict::Granted) => (
            Text::new(
                format!("{db} records {server}'s change: {} is now {}.", l.ip, l.state),
                format!("{db} 记录 {server} 的变更：{} 现在是 {}。", l.ip, l.state),
            ),
            None,
        ),
        (Proposal::Remove { ip, .. }, Verdict::Granted) => (
            Text::new(
                format!("{db} deletes the record of {ip} ({server})."),
                format!("{db} 删除 {ip} 的记录（{server}）。"),
            ),
            None,
        ),
        (_, Verdict::Refused(w)) => (
            Text::new(
                format!(
                    "{db} refuses {server}'s change: {} already belongs to {} there. The ACK is held back.",
                    w.ip, w.hw
                ),
                format!("{db} 拒绝 {server} 的变更：{} 在数据库中已归 {} 使用。ACK 被扣下。", w.ip, w.hw),
            ),
            None,
        ),
        (_, Verdict::Stale(_)) => (Text::default(), None),
    }
}

pub(super) fn lease_event(server: &str, e: &LeaseEvent) -> (Text, Option<String>) {
    let (ip, hw, until) = (e.ip, e.hw, e.expires);
    match e.kind {
        LeaseEventKind::Offered => (
            Text::new(
                format!("{server} holds {ip} for {hw} while it waits for the client's REQUEST."),
                format!("{server} 为 {hw} 保留 {ip}，等待客户端的 REQUEST。"),
            ),
            rfc("RFC 2131 §4.3.1"),
        ),
        LeaseEventKind::Bound => (
            Text::new(
                format!("{server} records the lease: {ip} belongs to {hw} until {until}."),
                format!("{server} 记录租约：{ip} 归 {hw} 使用，直到 {until}。"),
            ),
            rfc("RFC 2131 §4.3.2"),
        ),
        LeaseEventKind::Renewed => (
            Text::new(
                format!("{server} extends the lease of {ip} to {until}."),
                format!("{server} 将 {ip} 的租约延长到 {until}。"),
            ),
            rfc("RFC 2131 §4.3.2"),
        ),
        LeaseEventKind::Released => (
            Text::new(
                format!("{server} marks {ip} free; it remembers {hw} in case it comes back."),
                format!("{server} 将 {ip} 标记为空闲；并记住 {hw}，以便它回来时分配同一地址。"),
            ),
            rfc("RFC 2131 §4.3.4"),
        ),
        LeaseEventKind::Declined => (
            Text::new(
                format!("{server} quarantines {ip} until {until}: some host is using it without a lease."),
                format!("{server} 将 {ip} 隔离到 {until}：有主机未经租约使用了它。"),
            ),
            rfc("RFC 2131 §4.3.3"),
        ),
        LeaseEventKind::Expired => (
            Text::new(
                format!("{server}: the lease of {ip} has expired; the address is free again."),
                format!("{server}：{ip} 的租约已到期；地址重新空闲。"),
            ),
            rfc("RFC 2131 §4.3.1"),
        ),
        LeaseEventKind::OfferWithdrawn => (
            Text::new(
                format!("The client chose another server, so {server} frees {ip} at once."),
                format!("客户端选择了其他服务器，{server} 立即释放 {ip}。"),
            ),
            rfc("RFC 2131 §3.1.4, §4.3.2"),
        ),
        LeaseEventKind::OfferExpired => (
            Text::new(
                format!("Nobody came back for {ip}, so {server} frees the offered address."),
                format!("没有客户端回来领取 {ip}，{server} 释放了这个提议的地址。"),
            ),
            rfc("RFC 2131 §4.3.1"),
        ),
        LeaseEventKind::OfferReclaimed => (
            Text::new(
                format!(
                    "The pool is full of offers nobody has asked for yet, so {server} takes back the oldest, of \
                     {ip} to {hw}, for a newer DISCOVER: a flood of DISCOVERs cannot hold the addresses."
                ),
                format!(
                    "地址池里全是尚无人请求的提议，{server} 收回最早的一个（给 {hw} 的 {ip}），让给更新的 DISCOVER：大量 DISCOVER 无法占住地址。"
                ),
            ),
            rfc("RFC 2131 §4.3.1"),
        ),
        LeaseEventKind::OfferTaken => (
            Text::new(
                format!(
                    "Another client asked for {ip} first, so {server} gives it to that client and takes back \
                     its newer offer to {hw}: an offer does not reserve the address."
                ),
                format!(
                    "另一个客户端先请求了 {ip}，{server} 把它给了那个客户端，并收回给 {hw} 的较新提议：提议并不预留地址。"
                ),
            ),
            rfc("RFC 2131 §4.3.1"),
        ),
        LeaseEventKind::Reclaimed => (
            Text::new(
                format!("{ip} has served its probation; {server} puts it back in the pool."),
                format!("{ip} 隔离期满；{server} 将其放回地址池。"),
            ),
            None,
        ),
        LeaseEventKind::Conflict => (
            Text::new(
                format!(
                    "{ip} answered {server}'s ping: a host uses it without a lease. {server} quarantines it until \
                     {until} and offers {hw} another address instead, so the client never has to DECLINE."
                ),
                format!(
                    "{ip} 回应了 {server} 的 ping：有主机未经租约使用了它。{server} 将其隔离到 {until}，\
                     并改为给 {hw} 提供另一个地址，客户端因此不必发送 DECLINE。"
                ),
            ),
            rfc("RFC 2131 §2.2"),
        ),
        LeaseEventKind::Nak => {
            let why = e.reason.clone().unwrap_or_default();
            (Text::new(format!("{server} says no: {why}."), format!("{server} 拒绝：{why}。")), rfc("RFC 2131 §4.3.2"))
        }
        LeaseEventKind::Synced if e.state.is_some() => (
            Text::new(
                format!("{server} reads from the shared lease database that {ip} belongs to {hw} until {until}."),
                format!("{server} 从共享租约数据库得知：{ip} 归 {hw} 使用，直到 {until}。"),
            ),
            rfc("RFC 2131 §4.4.5"),
        ),
        LeaseEventKind::Synced => (
            Text::new(
                format!("{server} reads from the shared lease database that the record of {ip} is gone."),
                format!("{server} 从共享租约数据库得知：{ip} 的记录已删除。"),
            ),
            None,
        ),
    }
}

pub(super) fn ping(server: &str, ip: Ipv4Addr, answered_by: Option<&str>) -> Text {
    match answered_by {
        Some(owner) => Text::new(
            format!(
                "Before offering {ip}, {server} pings it (ICMP echo) to check nobody uses it: {owner} answers — \
                 the address is taken."
            ),
            format!(
                "在提供 {ip} 之前，{server} 先 ping 它（ICMP 回显请求），确认没有主机在用：{owner} 应答——该地址已被占用。"
            ),
        ),
        None => Text::new(
            format!(
                "Before offering {ip}, {server} pings it (ICMP echo) to check nobody uses it, and waits for an \
                 answer."
            ),
            format!("在提供 {ip} 之前，{server} 先 ping 它（ICMP 回显请求），确认没有主机在用，并等待应答。"),
        ),
    }
}

pub(super) fn arp(host: &str, ip: Ipv4Addr, answered_by: Option<&str>) -> Text {
    match answered_by {
        Some(owner) => Text::new(
            format!("{host} asks by ARP whether anyone uses {ip}: {owner} answers — the address is taken."),
            format!("{host} 用 ARP 询问是否有人在使用 {ip}：{owner} 应答——该地址已被占用。"),
        ),
        None => Text::new(
            format!("{host} asks by ARP whether anyone uses {ip}: no answer, so the address is free to use."),
            format!("{host} 用 ARP 询问是否有人在使用 {ip}：无人应答，地址可以使用。"),
        ),
    }
}
