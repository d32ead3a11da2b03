//! Several dhcplab servers on one LAN sharing one PostgreSQL lease database (a throwaway cluster the test
//! starts on a Unix socket), with real clients: the servers know each other's leases, and when one dies its
//! clients rebind to another and keep their addresses (RFC 2131 §4.4.5).

use dhcplab_tests::postgres::Postgres;
use dhcplab_tests::{Daemon, NetLab, require_program, wait_for};
use std::time::{Duration, Instant};

/// The servers' addresses on the LAN, in server-name order (a, b, c).
const SERVERS: [&str; 3] = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];

/// One server's config: the same subnet and database for all, its own name.
fn config(name: &str, db: &str, lease: &str) -> String {
    format!(
        r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{db}"
server_name = "{name}"
takeover_after = "3s"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.250"]
lease_time = "{lease}"
"#
    )
}

/// A bridge, `n` server namespaces on it (srv0 = SERVERS[i]) and `clients` client namespaces (eth0).
fn lan(lab: &mut NetLab, n: usize, clients: usize) -> (Vec<String>, Vec<String>) {
    let br = lab.ns("lan");
    lab.bridge(&br);
    let servers: Vec<String> = (0..n)
        .map(|i| {
            let s = lab.ns(&format!("s{i}"));
            let port = format!("p-s{i}");
            lab.veth(&s, "srv0", &br, &port);
            lab.attach(&br, &port);
            lab.addr(&s, "srv0", &format!("{}/24", SERVERS[i]));
            s
        })
        .collect();
    let clients = (0..clients)
        .map(|i| {
            let c = lab.ns(&format!("c{i}"));
            let port = format!("p-c{i}");
            lab.veth(&c, "eth0", &br, &port);
            lab.attach(&br, &port);
            c
        })
        .collect();
    (servers, clients)
}

/// Starts one daemon per server namespace, named a, b, c.
fn start_servers(lab: &mut NetLab, servers: &[String], db: &str, lease: &str) -> Vec<Daemon> {
    let names = ["a", "b", "c"];
    servers.iter().zip(names).map(|(ns, name)| Daemon::start(lab, ns, &config(name, db, lease))).collect()
}

/// Waits until `d` sees `n` servers up.
fn wait_until_up(lab: &NetLab, d: &Daemon, n: usize) {
    wait_for(Duration::from_secs(15), &format!("{n} servers up"), || {
        let v = d.get(lab, "/api/servers");
        (v.as_array()?.iter().filter(|p| p["up"] == true).count() == n).then_some(())
    });
}

/// dhclient as a daemon in `ns`, with a script that configures the address (so RENEWING is real unicast)
/// and logs each binding: `<ms since start> <reason> <address> <server id>`.
fn start_dhclient(lab: &mut NetLab, ns: &str) -> std::path::PathBuf {
    require_program("dhclient", "isc-dhcp-client");
    let log = lab.dir.join(format!("{ns}.bindings"));
    let script = lab.dir.join(format!("{ns}.script"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$reason\" in BOUND|RENEW|REBIND|REBOOT)\n\
             ip addr replace \"$new_ip_address/24\" dev \"$interface\"\n\
             echo \"$(date +%s%3N) $reason $new_ip_address $new_dhcp_server_identifier\" >> {}\n;;\nesac\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod").args(["+x", &script.to_string_lossy()]).status().unwrap();
    // Retransmissions at most 2 s apart: with the tests' short leases, dhclient's usual backoff can jump
    // from RENEWING straight past the whole REBINDING window (T2 to expiry).
    let conf = lab.dir.join(format!("{ns}.conf"));
    std::fs::write(&conf, "initial-interval 1;\nbackoff-cutoff 2;\n").unwrap();
    let (lf, pf) = (lab.dir.join(format!("{ns}.leases")), lab.dir.join(format!("{ns}.pid")));
    let (lf, pf, sf, cf) =
        (lf.to_string_lossy(), pf.to_string_lossy(), script.to_string_lossy(), conf.to_string_lossy());
    let args = ["-d", "-v", "-cf", &cf, "-sf", &sf, "-lf", &lf, "-pf", &pf, "eth0"];
    lab.spawn(ns, "dhclient", &args, &format!("{ns}.dhclient.log"));
    log
}

/// The bindings a client's script logged: (unix ms, reason, address, server id).
fn bindings(log: &std::path::Path) -> Vec<(u128, String, String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.first()?.parse().ok()?, f.get(1)?.to_string(), f.get(2)?.to_string(), f.get(3)?.to_string()))
        })
        .collect()
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
}

#[test]
fn a_dead_servers_client_rebinds_to_another_and_keeps_its_address() {
    let mut lab = NetLab::new("ha");
    let pg = Postgres::start(&lab.dir, "dhcplab");
    let (servers, clients) = lan(&mut lab, 2, 2);
    // 30 s leases: RENEWING at 15 s, REBINDING at 26.25 s.
    let mut d = start_servers(&mut lab, &servers, &pg.url, "30s");
    wait_until_up(&lab, &d[0], 2);
    let shares = d[0].get(&lab, "/api/servers");
    assert_eq!(shares[0]["share"], serde_json::json!({"index": 0, "of": 2}), "{shares}");
    assert_eq!(shares[1]["share"], serde_json::json!({"index": 1, "of": 2}), "{shares}");

    let log = start_dhclient(&mut lab, &clients[0]);
    let (_, _, ip, server_id) =
        wait_for(Duration::from_secs(20), "dhclient bound", || bindings(&log).into_iter().find(|b| b.1 == "BOUND"));
    let maker = SERVERS.iter().position(|s| *s == server_id).expect("a known server");
    let survivor = 1 - maker;
    // The other server learns the lease from the database.
    wait_for(Duration::from_secs(5), "the other server knows the lease", || {
        d[survivor].lease(&lab, &ip).filter(|l| l["state"] == "bound")
    });
    let row = pg.query(&format!("SELECT server, state FROM leases WHERE ip = '{ip}'"));
    assert_eq!(row, format!("{}|bound", ["a", "b"][maker]));

    // The server that made the lease dies. The client's unicast renewal at T1 goes unanswered; at T2 it
    // broadcasts, and the survivor ACKs the same address from the shared record.
    let killed = unix_ms();
    lab.kill(d[maker].pid, true);
    let rebound = wait_for(Duration::from_secs(40), "the client rebinds to the survivor", || {
        bindings(&log).into_iter().find(|b| b.0 > killed && b.3 == SERVERS[survivor])
    });
    let failover_ms = rebound.0 - killed;
    eprintln!("failover: {} {} from {} after {failover_ms} ms", rebound.1, rebound.2, rebound.3);
    assert_eq!(rebound.2, ip, "the client kept its address");
    // Not a new lease (BOUND): the old one extended. dhclient names it RENEW or REBIND; its log shows the
    // unicast to the dead server, then the broadcast that the survivor answered.
    assert!(rebound.1 == "RENEW" || rebound.1 == "REBIND", "{rebound:?}");
    let said = lab.log(&format!("{}.dhclient.log", clients[0]));
    let unicast = said.find(&format!("DHCPREQUEST for {ip} on eth0 to {}", SERVERS[maker])).expect(&said);
    let broadcast = said[unicast..].find(&format!("DHCPREQUEST for {ip} on eth0 to 255.255.255.255"));
    assert!(broadcast.is_some(), "REBINDING by broadcast after the unicast renewal failed:\n{said}");
    assert!(failover_ms < 30_000, "the lease never lapsed: {failover_ms} ms");
    let row = pg.query(&format!("SELECT server, state FROM leases WHERE ip = '{ip}'"));
    assert_eq!(row, format!("{}|bound", ["a", "b"][survivor]));

    // A new client is served by the survivor at once, which has taken the dead server's block over.
    wait_until_up(&lab, &d[survivor], 1);
    let started = Instant::now();
    let second = start_dhclient(&mut lab, &clients[1]);
    let (_, _, ip2, sid2) = wait_for(Duration::from_secs(15), "a new client bound", || {
        bindings(&second).into_iter().find(|b| b.1 == "BOUND")
    });
    assert_eq!(sid2, SERVERS[survivor]);
    assert_ne!(ip2, ip);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    // The dead server comes back: it rejoins, learns what happened while it was down, and shares again.
    let ns = servers[maker].clone();
    let cfg = d[maker].config.clone();
    let (http, token) = (d[maker].http.clone(), d[maker].token.clone());
    d[maker] = Daemon::start_with(&mut lab, &ns, cfg, http, token);
    wait_until_up(&lab, &d[survivor], 2);
    wait_for(Duration::from_secs(5), "the restarted server knows both leases", || {
        let a = d[maker].lease(&lab, &ip)?;
        let b = d[maker].lease(&lab, &ip2)?;
        (a["state"] == "bound" && b["state"] == "bound").then_some(())
    });
    // An operator's check of the shared database, read only.
    let out =
        std::process::Command::new(dhcplab_tests::dhcplab_bin()).args(["check", "--db", &pg.url]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("ok (2 leases, schema version 2, 2 servers)"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let empty = Postgres::start(&lab.dir.join("other"), "empty");
    let out =
        std::process::Command::new(dhcplab_tests::dhcplab_bin()).args(["check", "--db", &empty.url]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a database no server has used: {}", String::from_utf8_lossy(&out.stderr));
}

/// The load tests run one at a time: two at once on two cores would measure each other.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A config for servers that also serve the relayed subnet 10.200.0.0/16, with 3,000 addresses in its pool
/// (fewer than perfdhcp's clients, so the servers run out of their own blocks and contend for the rest).
fn relayed_config(name: &str, db: &str, lan_lease: &str) -> String {
    format!(
        "{}\n[[subnet]]\ncidr = \"10.200.0.0/16\"\npools = [\"10.200.0.10-10.200.11.193\"]\n\
         relays = [\"10.200.255.254\", \"10.200.255.253\"]\nlease_time = \"1h\"\n",
        config(name, db, lan_lease)
    )
}

/// Two relay namespaces on the bridge: r0 (192.0.2.101, giaddr 10.200.255.254) and r1 (192.0.2.102, giaddr
/// 10.200.255.253); every server routes each giaddr back through its relay.
fn relays(lab: &mut NetLab, servers: &[String]) -> Vec<String> {
    let br = format!("{}-lan", servers[0].rsplit_once('-').map_or("", |(p, _)| p));
    [("192.0.2.101", "10.200.255.254"), ("192.0.2.102", "10.200.255.253")]
        .iter()
        .enumerate()
        .map(|(i, (on_lan, giaddr))| {
            let r = lab.ns(&format!("r{i}"));
            let port = format!("p-r{i}");
            lab.veth(&r, "up0", &br, &port);
            lab.attach(&br, &port);
            lab.addr(&r, "up0", &format!("{on_lan}/24"));
            lab.addr(&r, "up0", &format!("{giaddr}/16"));
            for s in servers {
                lab.route(s, &format!("{giaddr}/32"), on_lan);
            }
            r
        })
        .collect()
}

/// One ACK seen on the bridge.
#[derive(Debug)]
struct Ack {
    /// Unix seconds.
    at: f64,
    ip: String,
    mac: String,
    lease_secs: u64,
    server: String,
}

/// Captures DHCP on the bridge with dumpcap; `acks` stops it and reads the ACKs with tshark.
struct Capture {
    pid: u32,
    file: std::path::PathBuf,
}

impl Capture {
    fn start(lab: &mut NetLab, br: &str) -> Capture {
        require_program("dumpcap", "tshark");
        let file = lab.dir.join("bridge.pcapng");
        let path = file.to_string_lossy().to_string();
        let pid = lab.spawn(
            br,
            "dumpcap",
            &["-q", "-i", "br0", "-f", "udp port 67 or udp port 68", "-w", &path],
            "dumpcap.log",
        );
        wait_for(Duration::from_secs(10), "dumpcap writing", || file.exists().then_some(()));
        Capture { pid, file }
    }

    fn acks(self, lab: &mut NetLab) -> Vec<Ack> {
        std::thread::sleep(Duration::from_millis(500));
        lab.kill(self.pid, false);
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&self.file)
            .args(["-Y", "dhcp.option.dhcp == 5", "-T", "fields", "-E", "separator=,", "-E", "occurrence=f"])
            .args(["-e", "frame.time_epoch", "-e", "dhcp.ip.your", "-e", "dhcp.hw.mac_addr"])
            .args(["-e", "dhcp.option.ip_address_lease_time", "-e", "dhcp.option.dhcp_server_id"])
            .output()
            .expect("tshark");
        assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Some(Ack {
                    at: f.first()?.parse().ok()?,
                    ip: f.get(1)?.to_string(),
                    mac: f.get(2)?.to_string(),
                    lease_secs: f.get(3)?.parse().ok()?,
                    server: f.get(4)?.to_string(),
                })
            })
            .collect()
    }
}

/// Every pair of ACKs of one address to two different clients, with overlapping leases.
fn double_assignments(acks: &[Ack]) -> Vec<String> {
    let mut by_ip: std::collections::BTreeMap<&str, Vec<&Ack>> = Default::default();
    for a in acks {
        by_ip.entry(a.ip.as_str()).or_default().push(a);
    }
    let mut bad = vec![];
    for (ip, mut v) in by_ip {
        v.sort_by(|a, b| a.at.total_cmp(&b.at));
        for (i, a) in v.iter().enumerate() {
            for b in &v[i + 1..] {
                if a.mac != b.mac && b.at < a.at + a.lease_secs as f64 {
                    bad.push(format!(
                        "{ip}: {} from {} at {:.3}, then {} from {} at {:.3}",
                        a.mac, a.server, a.at, b.mac, b.server, b.at
                    ));
                }
            }
        }
    }
    bad
}

/// Every ACKed lease is in the database: its address is held by the client it was ACKed to, for at least
/// as long as the ACK said (a lease that has run out since stays there as `expired`, with its end).
fn every_ack_is_stored(pg: &Postgres, acks: &[Ack]) {
    let rows = pg.query("SELECT host(ip), hw, state, expires_ms FROM leases");
    let stored: std::collections::HashMap<&str, (&str, &str, f64)> = rows
        .lines()
        .filter_map(|l| {
            let mut f = l.split('|');
            Some((f.next()?, (f.next()?, f.next()?, f.next()?.parse::<f64>().ok()? / 1000.0)))
        })
        .collect();
    let lost: Vec<_> = acks
        .iter()
        .filter(|a| {
            !stored.get(a.ip.as_str()).is_some_and(|(hw, state, until)| {
                *hw == a.mac && ["bound", "expired"].contains(state) && *until >= a.at + a.lease_secs as f64 - 2.0
            })
        })
        .map(|a| {
            format!("{} to {} at {:.3} for {} s: {:?}", a.ip, a.mac, a.at, a.lease_secs, stored.get(a.ip.as_str()))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} ACKed leases not in the database as ACKed, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

#[test]
fn three_servers_under_load_never_give_one_address_to_two_clients_even_when_one_dies() {
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    require_program("perfdhcp", "kea-admin");
    let mut lab = NetLab::new("aa");
    let pg = Postgres::start(&lab.dir, "dhcplab");
    let (servers, clients) = lan(&mut lab, 3, 2);
    let r = relays(&mut lab, &servers);
    let br = format!("{}-lan", servers[0].rsplit_once('-').unwrap().0);
    let capture = Capture::start(&mut lab, &br);
    let mut d: Vec<Daemon> = servers
        .iter()
        .zip(["a", "b", "c"])
        .map(|(ns, name)| Daemon::start(&mut lab, ns, &relayed_config(name, &pg.url, "30s")))
        .collect();
    wait_until_up(&lab, &d[0], 3);

    // Real clients on the LAN, answered by all three servers at once: each takes one offer.
    let bound = start_dhclient(&mut lab, &clients[0]);
    require_program("udhcpc", "udhcpc");
    let udhcpc = lab.exec(&clients[1], "udhcpc", &["-i", "eth0", "-n", "-q", "-f", "-s", "/bin/true", "-t", "5"]);
    assert!(udhcpc.status.success(), "udhcpc: {}", String::from_utf8_lossy(&udhcpc.stderr));
    let (_, _, lan_ip, sid) =
        wait_for(Duration::from_secs(20), "dhclient bound", || bindings(&bound).into_iter().find(|b| b.1 == "BOUND"));
    // The server dhclient chose is the one that will die.
    let v = SERVERS.iter().position(|s| *s == sid).expect("a known server");
    let c = lab.ns("dcd");
    lab.veth(&c, "dha0", &br, "p-dcd");
    lab.attach(&br, "p-dcd");
    let env = dhcplab_tests::dhcpcd(&lab, &c, "dha0");
    let server = env.get("new_dhcp_server_identifier").cloned().unwrap_or_default();
    assert!(SERVERS.contains(&server.as_str()), "dhcpcd bound from {server:?}: {env:?}");

    // Two relays bring 2,000 clients each to two different servers, 400 exchanges a second each, for a
    // 3,000-address pool (LAN leases last 30 s, relayed ones an hour); four seconds in, the first relay's
    // server, dhclient's, is killed.
    // DHCPLAB_SHARED_RATE: another rate per relay (a release build, run by hand).
    let rate = std::env::var("DHCPLAB_SHARED_RATE").ok().and_then(|r| r.parse::<u64>().ok()).unwrap_or(400);
    let rate_arg = rate.to_string();
    let run = |ns: &str, server: &str, mac: &str| {
        let args = ["-4", "-R", "2000", "-r", &rate_arg, "-p", "8", "-W", "1000000", "-b", mac];
        let giaddr = if ns.ends_with("r0") { "10.200.255.254" } else { "10.200.255.253" };
        let out = lab.exec(ns, "perfdhcp", &[&args[..], &["-l", giaddr, server]].concat());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let (victim, other) = (d[v].pid, (v + 1) % 3);
    let mut killed = 0;
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| run(&r[0], SERVERS[v], "mac=00:0c:01:00:00:00"));
        let second = s.spawn(|| run(&r[1], SERVERS[other], "mac=00:0c:02:00:00:00"));
        std::thread::sleep(Duration::from_secs(4));
        killed = unix_ms();
        let _ = std::process::Command::new("kill").args(["-KILL", &victim.to_string()]).status();
        (first.join().unwrap(), second.join().unwrap())
    });
    // Its client rebinds to another server and keeps its address.
    let rebound = wait_for(Duration::from_secs(45), "dhclient rebinds to a surviving server", || {
        bindings(&bound).into_iter().find(|b| b.0 > killed && b.3 != SERVERS[v])
    });
    eprintln!("under load: dhclient kept {} through {} after {} ms", rebound.2, rebound.3, rebound.0 - killed);
    assert_eq!(rebound.2, lan_ip, "the same address: {rebound:?}");
    assert_ne!(rebound.1, "BOUND", "the lease was extended, not made anew: {rebound:?}");
    let acks = capture.acks(&mut lab);
    let (a1, a2) = (
        dhcplab_tests::perfdhcp_received(&first, "REQUEST-ACK").unwrap_or(0),
        dhcplab_tests::perfdhcp_received(&second, "REQUEST-ACK").unwrap_or(0),
    );
    let conflicts: u64 = d
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != v)
        .map(|(_, x)| x.stats(&lab)["store_conflicts"].as_u64().unwrap_or(0))
        .sum();
    eprintln!(
        "three servers: {} ACKs on the bridge; perfdhcp got {a1} + {a2}; {conflicts} ACKs held back by the database",
        acks.len()
    );
    assert!(a2 >= 1_400.min(rate * 3), "the second relay was served:\n{second}");
    assert!(acks.len() as u64 >= a1 + a2, "the capture saw every ACK perfdhcp got");
    let bad = double_assignments(&acks);
    assert!(bad.is_empty(), "{} addresses ACKed to two clients, e.g. {:?}", bad.len(), &bad[..bad.len().min(5)]);
    every_ack_is_stored(&pg, &acks);

    // The killed server comes back and rejoins.
    let ns = servers[v].clone();
    let (cfg, http, token) = (d[v].config.clone(), d[v].http.clone(), d[v].token.clone());
    d[v] = Daemon::start_with(&mut lab, &ns, cfg, http, token);
    wait_until_up(&lab, &d[other], 3);
}

#[test]
fn a_burst_of_another_servers_changes_is_read_in_batches_and_none_is_lost() {
    // 10,000 leases written at once by server "b" (as when its leases end together): server "a" reads them
    // 2,000 rows at a time (`SYNC_BATCH`), each batch straight after the last, and takes up every one.
    let mut lab = NetLab::new("burst");
    let pg = Postgres::start(&lab.dir, "dhcplab");
    let (servers, _) = lan(&mut lab, 1, 0);
    let wide = format!(
        "{}\n[[subnet]]\ncidr = \"10.64.0.0/16\"\npools = [\"10.64.0.1-10.64.255.250\"]\nrelays = [\"10.64.255.254\"]\n",
        config("a", &pg.url, "1h")
    );
    let a = Daemon::start(&mut lab, &servers[0], &wide);
    wait_until_up(&lab, &a, 1);
    let now_ms = unix_ms();
    pg.query(&format!(
        "INSERT INTO leases (ip, subnet, client, hw, state, obtained_ms, expires_ms, lease_secs, server, change)
         SELECT '10.64.0.1'::inet + i, '10.64.0.0/16', 'hw:' || m, m, 'bound', {now_ms}, {now_ms} + 3600000, 3600,
                'b', nextval('lease_change')
         FROM (SELECT i, '02:00:00:00:' || lpad(to_hex(i / 256), 2, '0') || ':' || lpad(to_hex(i % 256), 2, '0') AS m
               FROM generate_series(0, 9999) AS i) AS rows;
         NOTIFY dhcplab_leases;"
    ));
    let started = Instant::now();
    wait_for(Duration::from_secs(10), "10,000 leases taken up from server b", || {
        (a.get(&lab, "/api/stats")["bound"] == 10_000).then_some(())
    });
    let took = started.elapsed();
    // Every one as written: the last of them, say, bound to its client by server b.
    let last = a.get(&lab, "/api/leases/10.64.39.16");
    assert_eq!(
        (last["hw"].as_str(), last["state"].as_str(), last["server"].as_str()),
        (Some("02:00:00:00:27:0f"), Some("bound"), Some("b")),
        "{last}"
    );
    // Five reads in a row, not one a heartbeat (`takeover_after` of 3 s: 750 ms apart, 3 s for the five).
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn with_the_database_down_new_acks_are_withheld_and_service_resumes_when_it_returns() {
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    require_program("perfdhcp", "kea-admin");
    let mut lab = NetLab::new("pgd");
    let pg = Postgres::start(&lab.dir, "dhcplab");
    let (servers, clients) = lan(&mut lab, 2, 1);
    let r = relays(&mut lab, &servers);
    let br = format!("{}-lan", servers[0].rsplit_once('-').unwrap().0);
    let capture = Capture::start(&mut lab, &br);
    let d: Vec<Daemon> = servers
        .iter()
        .zip(["a", "b"])
        .map(|(ns, name)| Daemon::start(&mut lab, ns, &relayed_config(name, &pg.url, "1h")))
        .collect();
    wait_until_up(&lab, &d[0], 2);
    // A real client with an hour's lease, which will renew while the database is down.
    require_program("udhcpc", "udhcpc");
    let said = lab.dir.join("udhcpc.said");
    let script = lab.dir.join("udhcpc.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in bound|renew) ip addr replace \"$ip/24\" dev \"$interface\"\n\
             echo \"$(date +%s%3N) $1 $ip $lease $serverid\" >> {};; esac\nexit 0\n",
            said.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod").args(["+x", &script.to_string_lossy()]).status().unwrap();
    let client = lab.spawn(&clients[0], "udhcpc", &["-f", "-i", "eth0", "-s", &script.to_string_lossy()], "udhcpc.log");
    let said_lines = || -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(&said).unwrap_or_default();
        text.lines().map(|l| l.split_whitespace().map(String::from).collect()).collect()
    };
    let bound =
        wait_for(Duration::from_secs(20), "udhcpc bound", || said_lines().into_iter().find(|l| l[1] == "bound"));

    // 200 new clients a second at each server for 30 s; the database is down from 5 s to 25 s.
    let run = |ns: &str, server: &str, mac: &str, giaddr: &str| {
        let args = ["-4", "-R", "6000", "-r", "100", "-p", "30", "-W", "1000000", "-b", mac, "-l", giaddr, server];
        String::from_utf8_lossy(&lab.exec(ns, "perfdhcp", &args).stdout).to_string()
    };
    let (down, up, unhealthy, outs) = std::thread::scope(|s| {
        let one = s.spawn(|| run(&r[0], SERVERS[0], "mac=00:0c:01:00:00:00", "10.200.255.254"));
        let two = s.spawn(|| run(&r[1], SERVERS[1], "mac=00:0c:02:00:00:00", "10.200.255.253"));
        std::thread::sleep(Duration::from_secs(5));
        pg.halt();
        let down = unix_ms() as f64 / 1000.0;
        std::thread::sleep(Duration::from_secs(5));
        let unhealthy = d[0].get_text(&lab, "/healthz").unwrap_or_default();
        // SIGUSR1: udhcpc renews now (RENEWING, unicast to its server).
        let _ = std::process::Command::new("kill").args(["-USR1", &client.to_string()]).status();
        std::thread::sleep(Duration::from_secs(15));
        pg.resume();
        let up = unix_ms() as f64 / 1000.0;
        (down, up, unhealthy, [one.join().unwrap(), two.join().unwrap()])
    });
    let acks = capture.acks(&mut lab);
    // The real client's renewal during the outage was answered, for the rest of its stored lease only.
    let renewed = said_lines().into_iter().find(|l| l[1] == "renew").expect("udhcpc renewed during the outage");
    let at = renewed[0].parse::<f64>().unwrap() / 1000.0;
    let secs: u64 = renewed[3].parse().unwrap();
    eprintln!("renewal while the database was down: {} for {secs} s from {}", renewed[2], renewed[4]);
    assert!(at > down && at < up, "renewed during the outage: {renewed:?}");
    assert_eq!(renewed[2], bound[2], "the same address");
    assert!(secs < 3600 && secs > 3500, "not extended beyond the stored lease: {renewed:?}");
    let during: Vec<_> = acks.iter().filter(|a| a.at > down + 1.0 && a.at < up && a.ip.starts_with("10.")).collect();
    let after = acks.iter().filter(|a| a.at > up).count();
    let before = acks.iter().filter(|a| a.at < down).count();
    let resumed = acks.iter().map(|a| a.at).filter(|t| *t > up).fold(f64::INFINITY, f64::min) - up;
    eprintln!(
        "database down {:.1} s: {before} ACKs before, {} during, {after} after (first {resumed:.2} s after it returned)",
        up - down,
        during.len()
    );
    assert!(unhealthy.contains("commits are failing") || unhealthy.contains("lease"), "/healthz said: {unhealthy}");
    assert!(before > 500, "served before the outage: {outs:?}");
    assert!(during.is_empty(), "ACKs while the database was down, e.g. {:?}", &during[..during.len().min(3)]);
    assert!(after > 500, "served again once it returned: {outs:?}");
    assert!(resumed < 5.0, "service resumed {resumed:.2} s after the database");
    let bad = double_assignments(&acks);
    assert!(bad.is_empty(), "{} addresses ACKed to two clients, e.g. {:?}", bad.len(), &bad[..bad.len().min(5)]);
    every_ack_is_stored(&pg, &acks);
}

fn report(lab: &NetLab, state: &std::path::Path, name: &str) -> serde_json::Value {
    dhcplab_tests::browser_report(lab, state, name, Duration::from_secs(90))
}

#[test]
fn the_dashboard_shows_the_servers_and_which_one_made_each_lease() {
    require_program("node", "nodejs");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(root.join("tests/browser/node_modules/playwright-core").is_dir(), "Playwright missing: run scripts/setup");
    assert!(root.join("dist/index.html").is_file(), "the web app is not built: run scripts/build-web");
    let mut lab = NetLab::new("srvs");
    let pg = Postgres::start(&lab.dir, "dhcplab");
    let (servers, clients) = lan(&mut lab, 2, 1);
    let mut d = start_servers(&mut lab, &servers, &pg.url, "1h");
    wait_until_up(&lab, &d[0], 2);
    let state = lab.dir.join("browser");
    std::fs::create_dir_all(&state).unwrap();
    let artifacts = root.join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let helper = root.join("tests/browser/servers-netns.helper.mjs").to_string_lossy().to_string();
    let base = format!("http://{}", d[0].http);
    let (st, art) = (state.to_string_lossy().to_string(), artifacts.to_string_lossy().to_string());
    lab.spawn(&servers[0], "node", &[&helper, &base, &st, &art], "browser.log");
    let log = start_dhclient(&mut lab, &clients[0]);
    let (_, _, _, sid) =
        wait_for(Duration::from_secs(20), "dhclient bound", || bindings(&log).into_iter().find(|b| b.1 == "BOUND"));
    let up = report(&lab, &state, "up");
    assert_eq!(up["servers"], serde_json::json!(["a:up", "b:up"]), "{up}");
    let maker = if sid == SERVERS[0] { "a" } else { "b" };
    assert_eq!(up["made"], maker, "the lease row names the server that ACKed it: {up}");
    lab.kill(d[1].pid, true);
    let result = report(&lab, &state, "result");
    assert_eq!(result["servers"], serde_json::json!(["a:up", "b:down"]), "{result}");
    assert_eq!(result["problems"], serde_json::json!([]));
    d.truncate(1);
}

#[test]
fn the_daemon_reaches_its_database_over_tls_and_verifies_it() {
    let mut lab = NetLab::new("tls");
    let (servers, clients) = lan(&mut lab, 1, 1);
    let (pg, ca) = Postgres::start_tls_in(&lab.dir, "dhcplab", &servers[0]);
    // Without the test's CA the server's certificate is not trusted, and the daemon says so at start.
    let untrusted = "postgresql://postgres@localhost/dhcplab?sslmode=require";
    let cfg = lab.dir.join("untrusted.toml");
    std::fs::write(&cfg, config("a", untrusted, "1h")).unwrap();
    let bin = dhcplab_tests::dhcplab_bin().to_string_lossy().to_string();
    let out = lab.exec(&servers[0], "timeout", &["10", &bin, "serve", "--config", &cfg.to_string_lossy()]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && (said.contains("TLS") || said.contains("certificate")), "{said}");
    // With it, leases are stored over TLS.
    let url = format!("{untrusted}&sslrootcert={}", ca.display());
    let d = Daemon::start(&mut lab, &servers[0], &config("a", &url, "1h"));
    let log = start_dhclient(&mut lab, &clients[0]);
    let (_, _, ip, _) =
        wait_for(Duration::from_secs(20), "dhclient bound", || bindings(&log).into_iter().find(|b| b.1 == "BOUND"));
    assert_eq!(pg.query(&format!("SELECT state FROM leases WHERE ip = '{ip}'")), "bound");
    let tls = pg.query(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND application_name = 'dhcplab'",
    );
    assert_eq!(tls, "2", "both of the daemon's connections use TLS");
    assert!(d.get(&lab, "/api/servers")[0]["up"] == true);
}
