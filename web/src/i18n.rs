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

/// The UI string `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> &'static str {
    let (en, zh) = match key {
        "lab" => ("Lab", "实验室"),
        "dashboard" => ("Dashboard", "仪表盘"),
        "scenario" => ("Scenario", "场景"),
        "play" => ("Play", "播放"),
        "pause" => ("Pause", "暂停"),
        "step" => ("Step", "单步"),
        "back" => ("Back", "后退"),
        "reset" => ("Reset", "重置"),
        "speed" => ("Speed", "速度"),
        "events" => ("Events", "事件"),
        "all_messages" => ("All messages", "全部消息"),
        "all_nodes" => ("All nodes", "全部节点"),
        "inspector" => ("Packet inspector", "数据包检查器"),
        "pick_packet" => {
            ("Select a packet in the event list or the flow graph.", "在事件列表或流程图中选择一个数据包。")
        }
        "why" => ("What happened and why", "发生了什么，为什么"),
        "flow" => ("Flow graph", "流程图"),
        "topology" => ("Network", "网络"),
        "client" => ("IP configuration", "IP 配置"),
        "leases" => ("Server lease table", "服务器租约表"),
        "no_leases" => ("No leases yet.", "还没有租约。"),
        "no_match" => ("No lease matches these filters.", "没有符合这些筛选条件的租约。"),
        "state" => ("State", "状态"),
        "address" => ("IPv4 address", "IPv4 地址"),
        "mask" => ("Subnet mask", "子网掩码"),
        "gateway" => ("Default gateway", "默认网关"),
        "dns" => ("DNS servers", "DNS 服务器"),
        "server" => ("DHCP server", "DHCP 服务器"),
        "obtained" => ("Lease obtained", "租约获得时间"),
        "expires" => ("Lease expires", "租约过期时间"),
        "autoconf" => ("Autoconfiguration IPv4 address", "自动配置 IPv4 地址"),
        "none" => ("none", "无"),
        "time" => ("Simulated time", "模拟时间"),
        "export" => ("Export pcap", "导出 pcap"),
        "share" => ("Copy link", "复制链接"),
        "actions" => ("Act on this client", "操作此客户端"),
        "release" => ("Release", "释放"),
        "renew" => ("Renew", "续租"),
        "reboot" => ("Reboot", "重启"),
        "unplug" => ("Unplug", "拔线"),
        "move" => ("Move to", "移到"),
        "link" => ("Link", "链路"),
        "loss" => ("loss", "丢包"),
        "delay" => ("delay", "延迟"),
        "end" => ("End of the scenario.", "场景结束。"),
        "hex" => ("Bytes", "字节"),
        "crowd" => ("200 computers boot at once", "200 台电脑同时开机"),
        "pool" => ("Pool", "地址池"),
        "lease_time" => ("Lease time", "租期"),
        "reserve" => ("Reserve", "保留"),
        "apply" => ("Apply", "应用"),
        "power_off" => ("Switch off", "关机"),
        "power_on" => ("Switch on", "开机"),
        "remove" => ("Remove", "移除"),
        "client_word" => ("client", "客户端"),
        "server_word" => ("server", "服务器"),
        "add_nic" => ("Add a NIC", "添加网卡"),
        "log" => ("Log", "日志"),
        "daemon" => ("Daemon", "守护进程"),
        "token" => ("Admin token", "管理令牌"),
        "subnets" => ("Subnets", "子网"),
        "rates" => ("Activity", "活动"),
        "pkt_rate" => ("packets/s", "数据包/秒"),
        "bound_count" => ("bound leases", "已绑定租约"),
        "feed" => ("Lease events", "租约事件"),
        "leases_live" => ("Leases", "租约"),
        "search" => ("IP, MAC or hostname", "IP、MAC 或主机名"),
        "all_states" => ("All states", "全部状态"),
        "all_subnets" => ("All subnets", "全部子网"),
        "ip" => ("IP", "IP"),
        "hostname" => ("Hostname", "主机名"),
        "expires_in" => ("Expires in", "剩余时间"),
        "keys" => ("Keys: space play/pause, → step, ← back", "快捷键：空格 播放/暂停，→ 单步，← 后退"),
        "live_flow" => ("Live packets", "实时数据包"),
        "pick_live_packet" => (
            "Select a packet in the live flow; click a lease's MAC to follow that client.",
            "在实时流程图中选择一个数据包；点击租约的 MAC 可跟踪该客户端。",
        ),
        "follow" => ("Follow a MAC, IP, xid or hostname", "跟踪 MAC、IP、xid 或主机名"),
        "follow_packets" => ("Show this client's packets", "显示此客户端的数据包"),
        "resume" => ("Resume", "继续"),
        "held" => ("packets while paused", "个数据包（暂停期间）"),
        "no_packets" => ("No packets yet.", "还没有数据包。"),
        "reserved" => ("Reserved: this client always gets this address", "已保留：此客户端总是获得此地址"),
        "reserved_badge" => ("reserved", "已保留"),
        "reserve_hint" => (
            "Always give this address to this client, keeping its hostname",
            "总是把此地址分配给此客户端，并保留其主机名",
        ),
        _ => ("?", "?"),
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}
