//! `dhcplab probe IFACE`: the engine's client asks the link once and every answer is collected (see
//! `dhcplab_engine::probe`); this file only moves frames, keeps the clock and prints the report.

use crate::daemon::clock::Clock;
use crate::raw_link::{RawLink, RawLinkError};
use crate::sim_cmd::Lang;
use dhcplab_engine::HwAddr;
use dhcplab_engine::client::ClientConfig;
use dhcplab_engine::config::HexBytes;
use dhcplab_engine::duration_text;
use dhcplab_engine::probe::{Ask, Probe, ProbeConfig, ProbeReport, RelayAs, RelayInfoEcho, ServerAnswer, Verdict};
use dhcplab_engine::relay::RelayLink;
use ipnet::Ipv4Net;
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::Duration;

/// What `dhcplab probe` is told.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The interface to probe. It is not configured, and it needs no address.
    pub iface: String,
    /// REQUEST this address, as a client does after a reboot, instead of a DISCOVER: shows whether a
    /// server confirms it or refuses it with a NAK (and why). An address that is ACKed is RELEASEd at the end.
    #[arg(long, value_name = "IP", conflicts_with = "inform")]
    pub request: Option<Ipv4Addr>,
    /// Send an INFORM from this address: the options a host configured by hand would get.
    #[arg(long, value_name = "IP")]
    pub inform: Option<Ipv4Addr>,
    /// The client's MAC (default: the interface's own). Answers to another MAC are read in promiscuous mode.
    #[arg(long, value_name = "MAC")]
    pub mac: Option<HwAddr>,
    /// Option 61 in hex, e.g. 01:52:54:00:12:34:56 (default: 01 followed by the MAC).
    #[arg(long, value_name = "HEX")]
    pub client_id: Option<HexBytes>,
    /// Option 12.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Option 60, e.g. PXEClient or MSFT 5.0: servers that sort clients into classes by it answer differently.
    #[arg(long, value_name = "TEXT")]
    pub vendor_class: Option<String>,
    /// Option 93, the client's firmware (RFC 4578): 0 BIOS, 7 x64 UEFI, 11 ARM64 UEFI. Shows which boot
    /// file and next server a network-booting machine would be given.
    #[arg(long, value_name = "NUMBER")]
    pub arch: Option<u16>,
    /// Ask as a relay agent would, for the clients of the subnet GIADDR is on: the message goes to port 67
    /// from GIADDR with option 82, and servers answer GIADDR on port 67. GIADDR must be an address of the
    /// interface (or routed to it); without a value, the interface's first address is used. Shows what a
    /// server gives that subnet's clients, and whether it echoes option 82.
    #[arg(long, value_name = "GIADDR", num_args = 0..=1)]
    pub relay: Option<Option<Ipv4Addr>>,
    /// With --relay: option 82's circuit id (default: the interface's name).
    #[arg(long, value_name = "TEXT", requires = "relay")]
    pub circuit_id: Option<String>,
    /// With --relay: option 82's remote id.
    #[arg(long, value_name = "TEXT", requires = "relay")]
    pub remote_id: Option<String>,
    /// How long to collect answers, e.g. 5s or 500ms. Some servers check an address with a ping before
    /// offering it (dnsmasq waits up to 3 s), so a short wait can miss them.
    #[arg(long, default_value = "5s", value_parser = duration_text::parse)]
    pub wait: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The report's language.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

/// The probe could not run (no such interface, no permission): "unknown" to a monitoring check.
pub const EXIT_CANNOT_PROBE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Link(#[from] RawLinkError),
    #[error("--relay needs a giaddr, and {0} has no IPv4 address: give one, e.g. --relay 198.51.100.1")]
    NoGiaddr(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The interface's IPv4 addresses, each with its prefix.
fn interface_addrs(name: &str) -> Vec<Ipv4Net> {
    let all = if_addrs::get_if_addrs().unwrap_or_default();
    all.into_iter()
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) if i.name == name => Ipv4Net::with_netmask(v4.ip, v4.netmask).ok(),
            _ => None,
        })
        .collect()
}

/// As a relay: giaddr (the interface's first address unless given) and the subnet it is on, if known.
fn relay(args: &ProbeArgs, giaddr: Option<Ipv4Addr>, mac: HwAddr, addrs: &[Ipv4Net]) -> Result<RelayAs, ProbeError> {
    let giaddr = match giaddr {
        None => addrs.first().map(Ipv4Net::addr).ok_or_else(|| ProbeError::NoGiaddr(args.iface.clone()))?,
        Some(giaddr) => giaddr,
    };
    if !addrs.iter().any(|n| n.addr() == giaddr) {
        eprintln!(
            "dhcplab probe: {giaddr} is not an address of {}: answers are heard only if it is routed here",
            args.iface
        );
    }
    let mut link = RelayLink::new(giaddr, args.circuit_id.clone().unwrap_or_else(|| args.iface.clone()));
    link.remote_id = args.remote_id.clone().map(String::into_bytes);
    Ok(RelayAs { link, mac })
}

/// Runs the probe and returns its report.
pub fn run(args: &ProbeArgs) -> Result<ProbeReport, ProbeError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    rt.block_on(async {
        // Another MAC than the interface's needs promiscuous mode to hear the unicast answers to it.
        let interface_mac = crate::raw_link::interface_mac(&args.iface);
        let promiscuous = args.mac.is_some() && args.mac != interface_mac;
        let link = RawLink::open(&args.iface, promiscuous)?;
        let mut client = ClientConfig::new(args.mac.unwrap_or(link.mac));
        client.client_id = args.client_id.clone();
        client.hostname = args.hostname.clone();
        client.vendor_class = args.vendor_class.clone();
        client.arch = args.arch;
        if args.arch.is_some() {
            // A booting firmware asks for the TFTP server and boot file names (options 66, 67).
            client.params.extend([66, 67]);
        }
        let ask = match (args.request, args.inform) {
            (Some(ip), _) => Ask::Request(ip),
            (None, Some(ip)) => Ask::Inform(ip),
            (None, None) => Ask::Discover,
        };
        let mut config = ProbeConfig::new(client, ask);
        config.wait = args.wait;
        let addrs = interface_addrs(&args.iface);
        config.relay = args.relay.map(|giaddr| relay(args, giaddr, link.mac, &addrs)).transpose()?;
        // Answers are judged against the subnet they are for: giaddr's as a relay, else the interface's.
        let giaddr = config.relay.as_ref().map(|r| r.link.addr);
        config.subnet = addrs.iter().find(|n| giaddr.is_none_or(|g| n.contains(&g))).map(Ipv4Net::trunc);
        let clock = Clock::new();
        let seed = u64::from(std::process::id()) ^ clock.now().as_millis();
        let mut probe = Probe::new(config, seed);
        probe.start(clock.now());
        loop {
            while let Some(frame) = probe.poll_transmit() {
                link.send(&frame)?;
            }
            let Some(deadline) = probe.poll_timeout() else { break };
            tokio::select! {
                received = link.recv(|| clock.now()) => probe.handle_frame(clock.now(), &received?.0),
                _ = tokio::time::sleep_until(clock.at(deadline)) => probe.handle_timeout(clock.now()),
            }
        }
        Ok(probe.report())
    })
}

/// The report for people.
pub fn print(r: &ProbeReport, iface: &str, lang: Lang, out: &mut impl Write) -> std::io::Result<()> {
    let t = |en: &'static str, zh: &'static str| if lang == Lang::Zh { zh } else { en };
    let asked = match r.asked {
        Ask::Discover => "DHCPDISCOVER".to_string(),
        Ask::Request(ip) => format!("DHCPREQUEST {ip}"),
        Ask::Inform(ip) => format!("DHCPINFORM {ip}"),
    };
    let subnet = r.subnet.map(|n| format!(" ({n})")).unwrap_or_default();
    let waited = duration_text::format(Duration::from_millis(r.waited_ms));
    let relayed = r.giaddr.map(|g| format!(" {} giaddr {g}", t("relayed as", "以中继身份，"))).unwrap_or_default();
    writeln!(out, "dhcplab probe {iface}{subnet}: {asked}{relayed}, {} {waited}", t("listened", "监听"))?;
    for s in &r.servers {
        writeln!(out)?;
        server(s, r.chosen == Some(s.server) && r.servers.len() > 1, lang, out)?;
    }
    if !r.findings.is_empty() {
        writeln!(out)?;
    }
    for f in &r.findings {
        let text = f.text();
        writeln!(out, "! {}", if lang == Lang::Zh { text.zh } else { text.en })?;
    }
    let verdict = match r.verdict {
        Verdict::OneServer => t("one DHCP server", "一台 DHCP 服务器"),
        Verdict::NoServer => t("no DHCP server", "没有 DHCP 服务器"),
        Verdict::SeveralServers => t("more than one DHCP server", "不止一台 DHCP 服务器"),
    };
    writeln!(out, "\n{}: {verdict} ({} {})", t("verdict", "结论"), t("exit", "退出码"), r.verdict.exit_code())
}

/// Options printed as rows of their own: mask, router, DNS, domain, lease time, message type, server id, message.
const SHOWN: [u8; 8] = [1, 3, 6, 15, 51, 53, 54, 56];

fn server(s: &ServerAnswer, chosen: bool, lang: Lang, out: &mut impl Write) -> std::io::Result<()> {
    let t = |en: &'static str, zh: &'static str| if lang == Lang::Zh { zh } else { en };
    let list = |v: &[Ipv4Addr]| v.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(", ");
    let pick = if chosen {
        t("  ← a client takes this one (first to answer)", "  ← 客户端会接受这一个（最先应答）")
    } else {
        ""
    };
    writeln!(
        out,
        "{} {}  MAC {}  {} {}  {} {} {} ms{pick}",
        t("server", "服务器"),
        s.server,
        s.mac,
        t("from", "来自"),
        s.source,
        s.reply,
        t("after", "用时"),
        s.after_ms
    )?;
    let mut row = |label: &str, value: String| writeln!(out, "  {label:<12} {value}");
    if let Some(a) = s.address {
        row(t("address", "地址"), a.to_string())?;
    }
    if let Some(m) = s.mask {
        row(t("mask", "掩码"), m.to_string())?;
    }
    if !s.routers.is_empty() {
        row(t("gateway", "网关"), list(&s.routers))?;
    }
    if !s.dns.is_empty() {
        row("DNS", list(&s.dns))?;
    }
    if let Some(d) = &s.domain {
        row(t("domain", "域名"), d.clone())?;
    }
    if let Some(l) = s.lease_secs {
        row(t("lease", "租期"), duration_text::format(Duration::from_secs(u64::from(l))))?;
    }
    if let Some(m) = &s.message {
        row(t("message", "消息"), format!("{m:?}"))?;
    }
    if let Some(n) = s.next_server {
        row(t("next server", "下一服务器"), n.to_string())?;
    }
    if let Some(f) = &s.boot_file {
        row(t("boot file", "启动文件"), format!("{f:?}"))?;
    }
    if s.copies > 1 {
        row(t("answers", "应答次数"), s.copies.to_string())?;
    }
    if let Some(echo) = s.relay_info {
        let said = match echo {
            RelayInfoEcho::Echoed => t("echoed (RFC 3046 §2.2)", "已带回（RFC 3046 §2.2）"),
            RelayInfoEcho::Changed => t("CHANGED: not as the relay sent it", "已改动：与中继发出的不同"),
            RelayInfoEcho::Missing => t("NOT echoed", "未带回"),
        };
        row(t("option 82", "选项 82"), said.to_string())?;
    }
    // The options shown above, and the message type, are not repeated (`--json` has them all).
    for o in s.options.iter().filter(|o| !SHOWN.contains(&o.code)) {
        row(t("option", "选项"), format!("({}) {}: {}", o.code, o.name, o.value))?;
    }
    Ok(())
}
