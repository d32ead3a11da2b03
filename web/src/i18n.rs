//! The app's two languages. Every piece of UI text goes through [`t`]; the choice is kept in localStorage.

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

/// Every piece of UI text, by meaning: a key that does not exist does not compile.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Key {
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
        Key::Crowd => ("200 computers boot at once", "200 台电脑同时开机"),
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
        Key::Reserved => ("Reserved: this client always gets this address", "已保留：此客户端总是获得此地址"),
        Key::ReservedBadge => ("reserved", "已保留"),
        Key::ReserveHint => (
            "Always give this address to this client, keeping its hostname",
            "总是把此地址分配给此客户端，并保留其主机名",
        ),
        Key::Connected => ("connected", "已连接"),
        Key::Disconnected => ("disconnected", "未连接"),
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}
