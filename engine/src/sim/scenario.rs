//! The lab's named scenarios: each builds a small network and schedules what happens, so the same story
//! plays in the browser, in `dhcplab sim`, and in the tests.

use super::trace::Text;
use super::{Action, NodeId, Sim};
use crate::config::{PoolRange, Reservation, ServerConfig, SubnetConfig};
use crate::time::{Duration, Instant};
use serde::Serialize;
use std::net::Ipv4Addr;

/// A scenario's name and what it shows.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioInfo {
    pub name: &'static str,
    pub title: Text,
}

/// A built scenario: the network with its actions queued, how long to run it, and the client to watch.
pub struct Scenario {
    pub name: &'static str,
    pub sim: Sim,
    pub end: Instant,
    pub client: NodeId,
}

impl Scenario {
    /// Runs to the end.
    pub fn run(&mut self) {
        self.sim.run_until(self.end);
    }
}

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 240);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);

fn secs(s: u64) -> Instant {
    Instant::from_secs(s)
}

/// The seed's example LAN: 192.168.1.0/24, gateway and DNS 192.168.1.10, a 6-hour lease.
fn lan(pool: &str) -> SubnetConfig {
    let mut s =
        SubnetConfig::new("192.168.1.0/24".parse().expect("literal"), pool.parse::<PoolRange>().expect("literal").0);
    s.routers = vec![GATEWAY];
    s.dns = vec![GATEWAY];
    s.domain_name = Some("lab.example".into());
    s.lease_time = Duration::from_secs(6 * 3600);
    s
}

fn server_config(subnets: Vec<SubnetConfig>) -> ServerConfig {
    ServerConfig { subnets, ..ServerConfig::default() }
}

fn start(sim: &mut Sim, at: Instant, node: NodeId) {
    sim.schedule(at, Action::Start { node, nic: 0 });
}

/// One LAN with `dhcp-server` at 192.168.1.240 serving `subnet`. Returns (segment, server).
fn lan_server(sim: &mut Sim, subnet: SubnetConfig) -> (usize, NodeId) {
    let seg = sim.add_segment("lan");
    let srv = sim
        .add_server("dhcp-server", server_config(vec![subnet]), &[(seg, SERVER, 24)])
        .expect("scenario server config is valid");
    (seg, srv)
}

/// The seed's example: one LAN, `dhcp-server` at 192.168.1.240 serving `subnet`, and a laptop switched on
/// at 1 s. Returns (segment, server, laptop).
fn lan_server_laptop(sim: &mut Sim, subnet: SubnetConfig) -> (usize, NodeId, NodeId) {
    let (seg, srv) = lan_server(sim, subnet);
    let laptop = sim.add_host("laptop", &[seg]);
    start(sim, secs(1), laptop);
    (seg, srv, laptop)
}

/// A scenario's network and schedule: it returns when the story ends and which client to watch.
type Build = fn(&mut Sim) -> (Instant, NodeId);

/// Every scenario, in the order the lab lists them: its name, what it shows, and how it is built.
const SCENARIOS: &[(&str, &str, &str, Build)] = &[
    ("dora", "DORA: a laptop gets its first address", "DORA：笔记本电脑获得第一个地址", dora),
    ("two-servers", "Two servers offer; the client picks one", "两台服务器都提供地址；客户端选择其一", two_servers),
    ("reboot", "Reboot: INIT-REBOOT asks for the last address", "重启：INIT-REBOOT 请求上次的地址", reboot),
    (
        "moved-subnet",
        "Moved to another subnet: NAK, then a new lease",
        "换到另一个子网：NAK，然后获得新租约",
        moved_subnet,
    ),
    (
        "no-server",
        "No server: a 169.254 address, then a real lease",
        "没有服务器：169.254 地址，然后获得真正的租约",
        no_server,
    ),
    ("multi-nic", "Two network cards, two leases", "两块网卡，两个租约", multi_nic),
    ("renew-rebind", "Renewing at T1, rebinding at T2, expiry", "T1 续租、T2 重新绑定、租约到期", renew_rebind),
    (
        "reservation",
        "A reservation wins: NAK at the renewal, then the reserved address",
        "保留地址优先：续租时收到 NAK，然后获得保留的地址",
        reservation,
    ),
    ("decline", "Address conflict: DECLINE", "地址冲突：DECLINE", decline),
    (
        "conflict",
        "The server pings first: a conflict caught before the OFFER",
        "服务器先 ping：在 OFFER 之前发现地址冲突",
        conflict,
    ),
    ("release", "Shut down politely: RELEASE", "正常关机：RELEASE", release),
    ("inform", "A fixed address asks for options: INFORM", "固定地址请求配置参数：INFORM", inform),
    ("relay", "Through a relay agent: giaddr and option 82", "经过中继代理：giaddr 与选项 82", relay),
    ("exhaustion", "The pool runs out", "地址池耗尽", exhaustion),
    (
        "failover",
        "Two servers, one lease database: a server dies, the other ACKs the renewal",
        "两台服务器共享租约数据库：一台宕机，另一台确认续租",
        failover,
    ),
];

/// Every scenario, in the order the lab lists them.
pub fn list() -> Vec<ScenarioInfo> {
    SCENARIOS.iter().map(|&(name, en, zh, _)| ScenarioInfo { name, title: Text::new(en, zh) }).collect()
}

/// Builds a scenario by name; `None` for an unknown name.
pub fn build(name: &str, seed: u64) -> Option<Scenario> {
    let &(name, _, _, build) = SCENARIOS.iter().find(|s| s.0 == name)?;
    let mut sim = Sim::new(seed);
    let (end, client) = build(&mut sim);
    Some(Scenario { name, sim, end, client })
}

/// A server the scenario's literals make valid; a failure here is a bug in this file.
fn add_server(sim: &mut Sim, name: &str, cfg: ServerConfig, nics: &[(usize, Ipv4Addr, u8)]) -> NodeId {
    sim.add_server(name, cfg, nics).expect("scenario server config is valid")
}

fn dora(sim: &mut Sim) -> (Instant, NodeId) {
    let (_, _, laptop) = lan_server_laptop(sim, lan("192.168.1.100-192.168.1.199"));
    (secs(30), laptop)
}

fn two_servers(sim: &mut Sim) -> (Instant, NodeId) {
    let seg = sim.add_segment("lan");
    add_server(sim, "server-a", server_config(vec![lan("192.168.1.100-192.168.1.149")]), &[(seg, SERVER, 24)]);
    let b = Ipv4Addr::new(192, 168, 1, 241);
    add_server(sim, "server-b", server_config(vec![lan("192.168.1.150-192.168.1.199")]), &[(seg, b, 24)]);
    let laptop = sim.add_host("laptop", &[seg]);
    start(sim, secs(1), laptop);
    (secs(30), laptop)
}

fn reboot(sim: &mut Sim) -> (Instant, NodeId) {
    let (_, _, laptop) = lan_server_laptop(sim, lan("192.168.1.100-192.168.1.199"));
    sim.schedule(secs(3600), Action::Reboot { node: laptop, nic: 0 });
    (secs(3630), laptop)
}

fn moved_subnet(sim: &mut Sim) -> (Instant, NodeId) {
    let office = sim.add_segment("office");
    let lab = sim.add_segment("lab");
    let mut second = SubnetConfig::new(
        "192.168.2.0/24".parse().expect("literal"),
        "192.168.2.100-192.168.2.199".parse::<PoolRange>().expect("literal").0,
    );
    second.routers = vec![Ipv4Addr::new(192, 168, 2, 10)];
    second.lease_time = Duration::from_secs(6 * 3600);
    let cfg = server_config(vec![lan("192.168.1.100-192.168.1.199"), second]);
    add_server(sim, "dhcp-server", cfg, &[(office, SERVER, 24), (lab, Ipv4Addr::new(192, 168, 2, 240), 24)]);
    let laptop = sim.add_host("laptop", &[office]);
    start(sim, secs(1), laptop);
    sim.schedule(secs(3600), Action::Move { node: laptop, nic: 0, segment: lab });
    (secs(3660), laptop)
}

fn no_server(sim: &mut Sim) -> (Instant, NodeId) {
    let (seg, srv) = lan_server(sim, lan("192.168.1.100-192.168.1.199"));
    let laptop = sim.add_host("laptop", &[seg]);
    sim.schedule(Instant::ZERO, Action::ServerPower { node: srv, online: false });
    start(sim, secs(1), laptop);
    sim.schedule(secs(12 * 60), Action::ServerPower { node: srv, online: true });
    (secs(16 * 60), laptop)
}

fn multi_nic(sim: &mut Sim) -> (Instant, NodeId) {
    let (seg, _) = lan_server(sim, lan("192.168.1.100-192.168.1.199"));
    let ws = sim.add_host("workstation", &[seg, seg]);
    sim.schedule(secs(1), Action::Start { node: ws, nic: 0 });
    sim.schedule(secs(1), Action::Start { node: ws, nic: 1 });
    (secs(30), ws)
}

fn renew_rebind(sim: &mut Sim) -> (Instant, NodeId) {
    let mut s = lan("192.168.1.100-192.168.1.199");
    s.lease_time = Duration::from_secs(3600);
    let (_, srv, laptop) = lan_server_laptop(sim, s);
    // Renews once at T1; then the server is down for the next T1, T2 and expiry; then back.
    sim.schedule(secs(45 * 60), Action::ServerPower { node: srv, online: false });
    sim.schedule(secs(100 * 60), Action::ServerPower { node: srv, online: true });
    (secs(110 * 60), laptop)
}

/// The laptop leases a pool address; ten minutes later the admin reserves 192.168.1.50 for its MAC and
/// reloads; at T1 the renewal of the old address is refused, and the laptop starts over and gets .50.
fn reservation(sim: &mut Sim) -> (Instant, NodeId) {
    let mut s = lan("192.168.1.100-192.168.1.199");
    s.lease_time = Duration::from_secs(3600);
    let (_, srv, laptop) = lan_server_laptop(sim, s.clone());
    let hw = sim.client(laptop, 0).expect("the laptop has a client").config().hw;
    s.reservations.push(Reservation {
        mac: Some(hw),
        client_id: None,
        ip: Ipv4Addr::new(192, 168, 1, 50),
        hostname: None,
    });
    sim.schedule(secs(600), Action::Reconfigure { node: srv, config: Box::new(server_config(vec![s])) });
    (secs(35 * 60), laptop)
}

fn decline(sim: &mut Sim) -> (Instant, NodeId) {
    let (seg, _) = lan_server(sim, lan("192.168.1.100-192.168.1.199"));
    // A printer someone configured by hand with the pool's first address.
    sim.add_static("printer", seg, Ipv4Addr::new(192, 168, 1, 100), 24);
    let laptop = sim.add_host("laptop", &[seg]);
    start(sim, secs(1), laptop);
    (secs(60), laptop)
}

/// The `decline` network, but the server pings each address before offering it (as ISC dhcpd and dnsmasq
/// do): the printer answers for .100, which is quarantined, and the laptop is offered another address.
fn conflict(sim: &mut Sim) -> (Instant, NodeId) {
    let seg = sim.add_segment("lan");
    let mut cfg = server_config(vec![lan("192.168.1.100-192.168.1.199")]);
    cfg.policy.conflict_probe = Some(Duration::from_millis(500));
    add_server(sim, "dhcp-server", cfg, &[(seg, SERVER, 24)]);
    sim.add_static("printer", seg, Ipv4Addr::new(192, 168, 1, 100), 24);
    let laptop = sim.add_host("laptop", &[seg]);
    start(sim, secs(1), laptop);
    (secs(60), laptop)
}

fn release(sim: &mut Sim) -> (Instant, NodeId) {
    let (_, _, laptop) = lan_server_laptop(sim, lan("192.168.1.100-192.168.1.199"));
    sim.schedule(secs(1800), Action::Release { node: laptop, nic: 0 });
    (secs(1810), laptop)
}

fn inform(sim: &mut Sim) -> (Instant, NodeId) {
    let (seg, _) = lan_server(sim, lan("192.168.1.100-192.168.1.199"));
    let nas = sim.add_host("nas", &[seg]);
    sim.schedule(secs(1), Action::Inform { node: nas, nic: 0, ip: Ipv4Addr::new(192, 168, 1, 5) });
    (secs(30), nas)
}

fn relay(sim: &mut Sim) -> (Instant, NodeId) {
    let branch = sim.add_segment("branch");
    let core = sim.add_segment("core");
    let mut far = SubnetConfig::new(
        "10.2.0.0/24".parse().expect("literal"),
        "10.2.0.100-10.2.0.199".parse::<PoolRange>().expect("literal").0,
    );
    far.routers = vec![Ipv4Addr::new(10, 2, 0, 1)];
    far.dns = vec![GATEWAY];
    // The router relays from its core-side address.
    far.relays = vec![GATEWAY];
    far.lease_time = Duration::from_secs(6 * 3600);
    let cfg = server_config(vec![lan("192.168.1.100-192.168.1.199"), far]);
    add_server(sim, "dhcp-server", cfg, &[(core, SERVER, 24)]);
    sim.add_relay("router", &[(branch, Ipv4Addr::new(10, 2, 0, 1), 24), (core, GATEWAY, 24)], vec![SERVER]);
    let laptop = sim.add_host("laptop", &[branch]);
    start(sim, secs(1), laptop);
    // Past T1, so the unicast renewal is routed back through the router too.
    (secs(3 * 3600 + 60), laptop)
}

fn exhaustion(sim: &mut Sim) -> (Instant, NodeId) {
    let seg = sim.add_segment("lan");
    add_server(sim, "dhcp-server", server_config(vec![lan("192.168.1.100-192.168.1.102")]), &[(seg, SERVER, 24)]);
    let mut first = None;
    for i in 0..5 {
        let h = sim.add_host(&format!("pc-{}", i + 1), &[seg]);
        start(sim, secs(1 + i), h);
        first.get_or_insert(h);
    }
    (secs(120), first.expect("five hosts"))
}

fn failover(sim: &mut Sim) -> (Instant, NodeId) {
    let seg = sim.add_segment("lan");
    let mut pool = lan("192.168.1.100-192.168.1.199");
    pool.lease_time = Duration::from_secs(3600);
    let a = add_server(sim, "server-a", server_config(vec![pool.clone()]), &[(seg, SERVER, 24)]);
    let b = Ipv4Addr::new(192, 168, 1, 241);
    let b = add_server(sim, "server-b", server_config(vec![pool]), &[(seg, b, 24)]);
    sim.add_database("lease-db", &[a, b]);
    let laptop = sim.add_host("laptop", &[seg]);
    start(sim, secs(1), laptop);
    // server-a made the lease and dies: the unicast renewal at T1 (30 min) goes unanswered, and at T2
    // (52.5 min) the laptop broadcasts; server-b knows the lease from the database and ACKs it.
    sim.schedule(secs(10 * 60), Action::ServerPower { node: a, online: false });
    (secs(55 * 60), laptop)
}

/// `n` clients on one segment doing DORA at once: the lab's "big network" and the simulator benchmark.
pub fn crowd(n: usize, seed: u64) -> Scenario {
    let mut sim = Sim::new(seed);
    let seg = sim.add_segment("lan");
    let mut s = SubnetConfig::new(
        "10.200.0.0/16".parse().expect("literal"),
        "10.200.0.10-10.200.255.250".parse::<PoolRange>().expect("literal").0,
    );
    s.lease_time = Duration::from_secs(6 * 3600);
    s.routers = vec![Ipv4Addr::new(10, 200, 0, 1)];
    sim.add_server("dhcp-server", server_config(vec![s]), &[(seg, Ipv4Addr::new(10, 200, 0, 2), 16)])
        .expect("crowd server config is valid");
    let mut first = 0;
    for i in 0..n {
        let h = sim.add_host(&format!("host-{i}"), &[seg]);
        if i == 0 {
            first = h;
        }
        // Spread the starts over a second, as real machines would not all boot in the same millisecond.
        sim.schedule(Instant::from_millis(1 + (i as u64 * 1000 / n.max(1) as u64)), Action::Start { node: h, nic: 0 });
    }
    Scenario { name: "crowd", sim, end: Instant::from_secs(10), client: first }
}
