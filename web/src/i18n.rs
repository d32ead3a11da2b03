//! The app's two languages. Every piece of UI text goes through [`t`] (or, for the engine's enums, the
//! functions beside it); the choice is kept in localStorage.

use dhcplab_engine::client::ClientEvent;
use dhcplab_engine::{LeaseEventKind, LeaseState};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    En,
    Zh,
}

const KEY: &str = "dhcplab.lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The saved choice, else the browser's language.
    pub fn load() -> Lang {
        let w = web_sys::window();
        let saved =
            w.as_ref().and_then(|w| w.local_storage().ok().flatten()).and_then(|s| s.get_item(KEY).ok().flatten());
        let browser = w.and_then(|w| w.navigator().language()).unwrap_or_default();
        match saved.as_deref().unwrap_or(&browser) {
            s if s.starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    pub fn save(self) {
        if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = s.set_item(KEY, self.code());
        }
    }
}

/// Declares [`Key`] and `Key::ALL`, every key, so a test can check each one's translation.
macro_rules! keys {
    ($($(#[$doc:meta])* $key:ident,)*) => {
        /// Every piece of UI text, by meaning: a key that does not exist does not compile.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum Key {
            $($(#[$doc])* $key,)*
        }

        impl Key {
            pub const ALL: &[Key] = &[$(Key::$key,)*];
        }
    };
}

keys! {
    Lab,
    Dashboard,
    Scenario,
    Play,
    Pause,
    Step,
    Back,
    Reset,
    Speed,
    Events,
    AllMessages,
    AllNodes,
    Inspector,
    PickPacket,
    Why,
    Flow,
    Topology,
    Client,
    Leases,
    NoLeases,
    NoMatch,
    /// The lease table is served by the daemon, page by page.
    DaemonPages,
    Page,
    State,
    Address,
    Mask,
    Gateway,
    Dns,
    Server,
    Obtained,
    Expires,
    Autoconf,
    None,
    Time,
    Export,
    Share,
    Actions,
    Release,
    Renew,
    Reboot,
    Unplug,
    Move,
    Link,
    Loss,
    Delay,
    End,
    Hex,
    CopyHexDump,
    CopyHexStream,
    /// `{n}` is the count.
    Crowd,
    Pool,
    LeaseTime,
    Reserve,
    Apply,
    PowerOff,
    PowerOn,
    Remove,
    ClientWord,
    ServerWord,
    AddNic,
    Log,
    Daemon,
    ClientClass,
    DnsName,
    Watcher,
    Watching,
    WatchingHint,
    ReadOnly,
    LeasesSeen,
    Token,
    Subnets,
    Rates,
    PktRate,
    BoundCount,
    Feed,
    LeasesLive,
    Search,
    AllStates,
    AllSubnets,
    Ip,
    Hostname,
    ExpiresIn,
    Keys,
    LiveFlow,
    PickLivePacket,
    Follow,
    FollowPackets,
    Resume,
    Held,
    NoPackets,
    NoLeaseEvents,
    Reserved,
    ReservedBadge,
    ReserveHint,
    Connected,
    Disconnected,
    Servers,
    ServerUp,
    ServerDown,
    HeartbeatAgo,
    ShareOf,
    ThisServer,
    MadeBy,
    /// `{n}` is replaced by the count.
    LeaseRecords,
    OpenCapture,
    DropCapture,
    CloseCapture,
    CaptureKeys,
    CapturePackets,
    CaptureUnreadable,
    FrameNo,
    TimeWord,
    Source,
    Destination,
    Message,
    ClientState,
    ProblemsOnly,
    Problem,
    Note,
    RelayWord,
    Everyone,
    /// `{n}` is replaced by the number of arrows.
    FlowAlt,
    /// The network picture in words; `{nodes}` is the list.
    TopologyAlt,
    Clock,
    Seq,
    SeqHint,
    Exercise,
    NoExercise,
    Predict,
    AskMsg,
    AskFrom,
    AskTo,
    AskWhy,
    AskFields,
    ExportLiveHint,
    Broadcast,
    Unicast,
    Check,
    Score,
    Right,
    Wrong,
    RightAnswer,
    ExerciseDone,
    ExerciseNext,
    /// `{n}` is the count.
    CrowdOf,
    /// `{p}` is the percentage.
    Counting,
}

/// A lease event's name, as lists and feeds show it.
pub fn lease_event(lang: Lang, kind: LeaseEventKind) -> &'static str {
    use LeaseEventKind::*;
    let (en, zh) = match kind {
        Offered => ("lease offered", "租约已提供"),
        Bound => ("lease bound", "租约已绑定"),
        Renewed => ("lease renewed", "租约已续期"),
        Released => ("lease released", "租约已释放"),
        Declined => ("address declined", "地址被拒绝 (DECLINE)"),
        Expired => ("lease expired", "租约已过期"),
        OfferWithdrawn => ("offer withdrawn", "提议已撤回"),
        OfferExpired => ("offer expired", "提议已过期"),
        OfferReclaimed => ("offer reclaimed (pool full)", "提议已收回（地址池已满）"),
        OfferTaken => ("offer given to an earlier request", "提议让给了先到的请求"),
        Reclaimed => ("address reclaimed", "地址已回收"),
        Nak => ("refused (NAK)", "已拒绝 (NAK)"),
        Synced => ("synced from the database", "已从数据库同步"),
        Conflict => ("address in use (ping answered)", "地址已被占用（ping 有应答）"),
    };
    pick(lang, en, zh)
}

/// A lease's state, as tables show it (the `data-state` attributes keep the API's words).
pub fn lease_state(lang: Lang, state: LeaseState) -> &'static str {
    let (en, zh) = match state {
        LeaseState::Offered => ("offered", "已提供"),
        LeaseState::Bound => ("bound", "已绑定"),
        LeaseState::Declined => ("declined", "已拒绝"),
        LeaseState::Released => ("released", "已释放"),
        LeaseState::Expired => ("expired", "已过期"),
    };
    pick(lang, en, zh)
}

/// What a client's event was, in a word or two.
pub fn client_event(lang: Lang, e: &ClientEvent) -> &'static str {
    let (en, zh) = match e {
        ClientEvent::StateChanged { .. } => ("state changed", "状态改变"),
        ClientEvent::Bound { .. } => ("address configured", "地址已配置"),
        ClientEvent::Extended { .. } => ("lease extended", "租约已延长"),
        ClientEvent::Nak { .. } => ("told NAK: start again", "收到 NAK：重新开始"),
        ClientEvent::Declined { .. } => ("address in use: declined", "地址已被占用：已拒绝"),
        ClientEvent::Expired { .. } => ("lease ran out", "租约到期"),
        ClientEvent::Released { .. } => ("lease given back", "租约已归还"),
        ClientEvent::LinkLocalClaimed { .. } => ("169.254 address claimed", "已启用 169.254 地址"),
        ClientEvent::LinkLocalDropped { .. } => ("169.254 address dropped", "已放弃 169.254 地址"),
        ClientEvent::Informed { .. } => ("options received", "已收到配置参数"),
    };
    pick(lang, en, zh)
}

/// A server's power, as its box shows it.
pub fn power(lang: Lang, online: bool) -> &'static str {
    match online {
        true => pick(lang, "ON", "运行中"),
        false => pick(lang, "OFF", "已关闭"),
    }
}

fn pick(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// The UI string `key` in `lang`.
pub fn t(lang: Lang, key: Key) -> &'static str {
    let (en, zh) = match key {
        Key::Lab => ("Lab", "实验室"),
        Key::Dashboard => ("Dashboard", "仪表盘"),
        Key::Scenario => ("Scenario", "场景"),
        Key::Play => ("Play", "播放"),
        Key::Pause => ("Pause", "暂停"),
        Key::Step => ("Step", "单步"),
        Key::Back => ("Back", "后退"),
        Key::Reset => ("Reset", "重置"),
        Key::Speed => ("Speed", "速度"),
        Key::Events => ("Events", "事件"),
        Key::AllMessages => ("All messages", "全部消息"),
        Key::AllNodes => ("All nodes", "全部节点"),
        Key::Inspector => ("Packet inspector", "数据包检查器"),
        Key::PickPacket => {
            ("Select a packet in the event list or the flow graph.", "在事件列表或流程图中选择一个数据包。")
        }
        Key::Why => ("What happened and why", "发生了什么，为什么"),
        Key::Flow => ("Flow graph", "流程图"),
        Key::Topology => ("Network", "网络"),
        Key::Client => ("IP configuration", "IP 配置"),
        Key::Leases => ("Server lease table", "服务器租约表"),
        Key::NoLeases => ("No leases yet.", "还没有租约。"),
        Key::NoMatch => ("No lease matches these filters.", "没有符合这些筛选条件的租约。"),
        Key::DaemonPages => (
            "Too many leases to hold in the browser: the daemon serves them page by page, in address order, read again every 2 s while they change.",
            "租约太多，浏览器不全部保存：由守护进程按地址顺序分页提供，有变化时每 2 秒重新读取。",
        ),
        Key::Page => ("Page", "页"),
        Key::State => ("State", "状态"),
        Key::Address => ("IPv4 address", "IPv4 地址"),
        Key::Mask => ("Subnet mask", "子网掩码"),
        Key::Gateway => ("Default gateway", "默认网关"),
        Key::Dns => ("DNS servers", "DNS 服务器"),
        Key::Server => ("DHCP server", "DHCP 服务器"),
        Key::Obtained => ("Lease obtained", "租约获得时间"),
        Key::Expires => ("Lease expires", "租约过期时间"),
        Key::Autoconf => ("Autoconfiguration IPv4 address", "自动配置 IPv4 地址"),
        Key::None => ("none", "无"),
        Key::Time => ("Simulated time", "模拟时间"),
        Key::Export => ("Export pcap", "导出 pcap"),
        Key::Share => ("Copy link", "复制链接"),
        Key::Actions => ("Act on this client", "操作此客户端"),
        Key::Release => ("Release", "释放"),
        Key::Renew => ("Renew", "续租"),
        Key::Reboot => ("Reboot", "重启"),
        Key::Unplug => ("Unplug", "拔线"),
        Key::Move => ("Move to", "移到"),
        Key::Link => ("Link", "链路"),
        Key::Loss => ("loss", "丢包"),
        Key::Delay => ("delay", "延迟"),
        Key::End => ("End of the scenario.", "场景结束。"),
        Key::Hex => ("Bytes", "字节"),
        Key::CopyHexDump => ("Copy as hex dump", "复制为十六进制转储"),
        Key::CopyHexStream => ("Copy as hex stream", "复制为十六进制流"),
        Key::Crowd => ("{n} computers boot at once", "{n} 台电脑同时开机"),
        Key::Pool => ("Pool", "地址池"),
        Key::LeaseTime => ("Lease time", "租期"),
        Key::Reserve => ("Reserve", "保留"),
        Key::Apply => ("Apply", "应用"),
        Key::PowerOff => ("Switch off", "关机"),
        Key::PowerOn => ("Switch on", "开机"),
        Key::Remove => ("Remove", "移除"),
        Key::ClientWord => ("client", "客户端"),
        Key::ServerWord => ("server", "服务器"),
        Key::AddNic => ("Add a NIC", "添加网卡"),
        Key::Log => ("Log", "日志"),
        Key::Daemon => ("Daemon", "守护进程"),
        Key::ClientClass => ("Class", "客户端类别"),
        Key::DnsName => ("DNS name", "DNS 名称"),
        Key::Watcher => ("Watcher", "监听器"),
        Key::Watching => ("Listening to", "正在监听"),
        Key::WatchingHint => (
            "Served by dhcplab watch: the leases and packets of a link another server runs, as heard on it",
            "由 dhcplab watch 提供：另一台服务器所管理链路上的租约和报文，均为在链路上监听所得",
        ),
        Key::ReadOnly => ("read only", "只读"),
        Key::LeasesSeen => ("Leases seen on the link", "链路上看到的租约"),
        Key::Token => ("Admin token", "管理令牌"),
        Key::Subnets => ("Subnets", "子网"),
        Key::Servers => ("Servers sharing the lease database", "共享租约数据库的服务器"),
        Key::ServerUp => ("up", "在线"),
        Key::ServerDown => ("down", "离线"),
        Key::HeartbeatAgo => ("last heartbeat", "上次心跳"),
        Key::ShareOf => ("hands out block", "分配地址块"),
        Key::ThisServer => ("this server", "本服务器"),
        Key::MadeBy => ("Server", "服务器"),
        Key::LeaseRecords => ("leases: {n}", "租约：{n}"),
        Key::Rates => ("Activity", "活动"),
        Key::PktRate => ("packets/s", "数据包/秒"),
        Key::BoundCount => ("bound leases", "已绑定租约"),
        Key::Feed => ("Lease events", "租约事件"),
        Key::LeasesLive => ("Leases", "租约"),
        Key::Search => ("IP, MAC or hostname", "IP、MAC 或主机名"),
        Key::AllStates => ("All states", "全部状态"),
        Key::AllSubnets => ("All subnets", "全部子网"),
        Key::Ip => ("IP", "IP"),
        Key::Hostname => ("Hostname", "主机名"),
        Key::ExpiresIn => ("Expires in", "剩余时间"),
        Key::Keys => ("Keys: space play/pause, → step, ← back", "快捷键：空格 播放/暂停，→ 单步，← 后退"),
        Key::LiveFlow => ("Live packets", "实时数据包"),
        Key::PickLivePacket => (
            "Select a packet in the live flow; click a lease's MAC to follow that client.",
            "在实时流程图中选择一个数据包；点击租约的 MAC 可跟踪该客户端。",
        ),
        Key::Follow => ("Follow a MAC, IP, xid or hostname", "跟踪 MAC、IP、xid 或主机名"),
        Key::FollowPackets => ("Show this client's packets", "显示此客户端的数据包"),
        Key::Resume => ("Resume", "继续"),
        Key::Held => ("packets while paused", "个数据包（暂停期间）"),
        Key::NoPackets => ("No packets yet.", "还没有数据包。"),
        Key::NoLeaseEvents => ("No lease events yet.", "还没有租约事件。"),
        Key::Reserved => ("Reserved: this client always gets this address", "已保留：此客户端总是获得此地址"),
        Key::ReservedBadge => ("reserved", "已保留"),
        Key::ReserveHint => (
            "Always give this address to this client, keeping its hostname",
            "总是把此地址分配给此客户端，并保留其主机名",
        ),
        Key::Connected => ("connected", "已连接"),
        Key::OpenCapture => ("Open a capture", "打开抓包文件"),
        Key::DropCapture => (
            "Pick a .pcap or .pcapng file, or drop one on the page; it is read here, in the browser, and sent nowhere.",
            "选择一个 .pcap 或 .pcapng 文件，或把它拖到页面上；文件只在浏览器中读取，不会上传。",
        ),
        Key::CloseCapture => ("Back to the scenarios", "返回场景"),
        Key::CaptureKeys => ("Keys: ↑ ↓ or ← → move between packets", "快捷键：↑ ↓ 或 ← → 在报文之间移动"),
        Key::CapturePackets => ("Packets in the capture", "抓包中的报文"),
        Key::CaptureUnreadable => ("This file cannot be opened:", "无法打开这个文件："),
        Key::FrameNo => ("Frame", "帧"),
        Key::TimeWord => ("Time", "时间"),
        Key::Source => ("Source", "源地址"),
        Key::Destination => ("Destination", "目的地址"),
        Key::Message => ("Message", "消息"),
        Key::ClientState => ("Client state", "客户端状态"),
        Key::ProblemsOnly => ("Only packets with a problem", "只看有问题的报文"),
        Key::Problem => ("problem", "问题"),
        Key::Note => ("note", "说明"),
        Key::RelayWord => ("relay", "中继"),
        Key::Everyone => ("everyone (no answer)", "所有节点（无应答）"),
        Key::FlowAlt => ("Flow graph, {n} packets, oldest first:", "流程图，共 {n} 个报文，从早到晚："),
        Key::TopologyAlt => ("Network picture:", "网络图："),
        Key::Clock => ("t =", "时间 ="),
        Key::CrowdOf => ("{n} clients", "{n} 台客户端"),
        Key::Counting => ("working out the scenario's length: {p} %", "正在计算场景长度：{p} %"),
        Key::Exercise => ("Exercise", "练习"),
        Key::NoExercise => ("— no exercise —", "— 不做练习 —"),
        Key::Predict => ("Before the next packet: what will it be?", "下一个报文出现之前：它会是什么？"),
        Key::AskMsg => ("Which message", "哪种消息"),
        Key::AskFrom => ("Who sends it", "谁发送"),
        Key::AskTo => ("Where it goes", "发往哪里"),
        Key::AskWhy => ("Why", "为什么"),
        Key::ExportLiveHint => (
            "The packets shown, as a pcap for Wireshark or the lab's \"Open a capture\"",
            "把显示的报文导出为 pcap，可用 Wireshark 或实验室的“打开抓包文件”查看",
        ),
        Key::AskFields => ("Which fields it fills in (set, not zero)", "它填写了哪些字段（已设置、非零）"),
        Key::Broadcast => ("broadcast, to 255.255.255.255", "广播，发往 255.255.255.255"),
        Key::Unicast => ("unicast, to one address", "单播，发往一个地址"),
        Key::Check => ("Check", "检查答案"),
        Key::Score => ("Score", "得分"),
        Key::Right => ("right", "正确"),
        Key::Wrong => ("wrong", "错误"),
        Key::RightAnswer => ("the answer:", "答案："),
        Key::ExerciseDone => ("Exercise done. Score", "练习完成。得分"),
        Key::ExerciseNext => ("Step on (→) to the next question.", "继续单步（→）进入下一题。"),
        Key::Seq => ("seq", "序号"),
        Key::SeqHint => {
            ("The number of the last change the daemon sent over /ws", "守护进程通过 /ws 发来的最后一个变化的序号")
        }
        Key::Disconnected => ("disconnected", "未连接"),
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys whose Chinese is rightly the same as their English: protocol words.
    const SAME: [Key; 1] = [Key::Ip];

    /// Whether a text has Chinese in it.
    fn han(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_key_is_translated() {
        for &k in Key::ALL {
            let (en, zh) = (t(Lang::En, k), t(Lang::Zh, k));
            assert!(!en.is_empty(), "{k:?} has no English");
            if SAME.contains(&k) {
                assert_eq!(en, zh, "{k:?}");
                continue;
            }
            assert!(han(zh), "{k:?} is not translated: {zh:?}");
            // Placeholders survive translation.
            for p in ["{n}", "{nodes}", "{p}"] {
                assert_eq!(en.contains(p), zh.contains(p), "{k:?}: {p}");
            }
        }
        assert!(Key::ALL.len() > 100, "every key is listed: {}", Key::ALL.len());
    }

    #[test]
    fn the_enum_labels_are_translated() {
        for k in dhcplab_engine::LeaseEventKind::ALL {
            assert!(han(lease_event(Lang::Zh, k)), "{k:?}");
        }
        for st in LeaseState::ALL {
            assert!(han(lease_state(Lang::Zh, st)), "{st:?}");
        }
        assert!(han(power(Lang::Zh, true)) && han(power(Lang::Zh, false)));
    }
}
