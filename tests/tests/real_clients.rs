//! `dhcplab serve` against real DHCP clients (ISC dhclient, BusyBox udhcpc, dhcpcd) and perfdhcp, each in
//! network namespaces made for the test: server ── veth ── bridge ── veth ── client(s).

use dhcplab_tests::{Daemon, NetLab, dhcpcd, env_file, perfdhcp_received, relay_pair, require_program, wait_for};
use std::time::Duration;

const SERVER: &str = "192.0.2.1";

/// The daemon's config for the test LAN; `extra` is appended (more subnets, knobs).
fn config(lab: &NetLab, lease: &str, extra: &str) -> String {
    format!(
        r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{db}"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.250"]
routers = ["192.0.2.1"]
dns = ["192.0.2.53"]
domain_name = "test.example"
lease_time = "{lease}"
{extra}"#,
        db = lab.dir.join("leases.sqlite3").display()
    )
}

/// Server namespace, a bridge, and `n` client namespaces, each with interface `iface`.
fn lan(lab: &mut NetLab, n: usize, iface: &str) -> (String, Vec<String>) {
    let srv = lab.ns("srv");
    let br = lab.ns("lan");
    lab.bridge(&br);
    lab.veth(&srv, "srv0", &br, "p-srv");
    lab.attach(&br, "p-srv");
    lab.addr(&srv, "srv0", &format!("{SERVER}/24"));
    let mut clients = vec![];
    for i in 0..n {
        let c = lab.ns(&format!("c{i}"));
        let port = format!("p-c{i}");
        lab.veth(&c, iface, &br, &port);
        lab.attach(&br, &port);
        clients.push(c);
    }
    (srv, clients)
}

/// Runs dhclient once in `ns`; returns the lease file's text once it binds.
fn dhclient(lab: &NetLab, ns: &str, iface: &str, lease_file: &str) -> String {
    require_program("dhclient", "isc-dhcp-client");
    let pid = lab.dir.join(format!("{ns}.dhclient.pid"));
    let out = lab.exec(
        ns,
        "dhclient",
        &["-v", "-1", "-sf", "/bin/true", "-lf", lease_file, "-pf", &pid.to_string_lossy(), iface],
    );
    assert!(out.status.success(), "dhclient failed:\n{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(lease_file).expect("dhclient lease file")
}

/// Configures the leased address on the interface, as dhclient's own script would (the tests run it with
/// `-sf /bin/true` so it touches nothing); RENEWING and RELEASE are unicast from that address.
fn configure(lab: &NetLab, ns: &str, iface: &str, ip: &str) {
    let r = lab.exec(ns, "ip", &["addr", "add", &format!("{ip}/24"), "dev", iface]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// The value of `key` (e.g. `option routers`, `fixed-address`) in the last lease of a dhclient lease file.
fn lease_field(text: &str, key: &str) -> Option<String> {
    let last = text.rsplit("lease {").next()?;
    last.lines().map(str::trim).find_map(|l| l.strip_prefix(key).map(|v| v.trim().trim_end_matches(';').to_string()))
}

#[test]
fn dhclient_gets_a_correct_lease() {
    let mut lab = NetLab::new("dhcl");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let lf = lab.dir.join("dhclient.leases").to_string_lossy().to_string();
    let text = dhclient(&lab, &clients[0], "eth0", &lf);
    let ip = lease_field(&text, "fixed-address").expect("an address");
    assert_eq!(ip, "192.0.2.10");
    assert_eq!(lease_field(&text, "option subnet-mask").as_deref(), Some("255.255.255.0"));
    assert_eq!(lease_field(&text, "option routers").as_deref(), Some("192.0.2.1"));
    assert_eq!(lease_field(&text, "option domain-name-servers").as_deref(), Some("192.0.2.53"));
    assert_eq!(lease_field(&text, "option dhcp-lease-time").as_deref(), Some("3600"));
    assert_eq!(lease_field(&text, "option dhcp-server-identifier").as_deref(), Some(SERVER));
    let l = d.lease(&lab, &ip).expect("the API lists the lease");
    assert_eq!(l["state"], "bound");
    assert_eq!(l["lease_time"], "1h");
}

#[test]
fn udhcpc_gets_a_correct_lease() {
    require_program("busybox", "busybox");
    let mut lab = NetLab::new("udhc");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "2h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let out = lab.dir.join("udhcpc.env");
    let script = lab.dir.join("udhcpc.sh");
    std::fs::write(&script, format!("#!/bin/sh\n[ \"$1\" = bound ] && env > {}\nexit 0\n", out.display())).unwrap();
    std::process::Command::new("chmod").args(["+x", &script.to_string_lossy()]).status().unwrap();
    let r = lab.exec(
        &clients[0],
        "busybox",
        &["udhcpc", "-f", "-q", "-n", "-i", "eth0", "-s", &script.to_string_lossy(), "-t", "3", "-T", "2"],
    );
    assert!(r.status.success(), "udhcpc failed:\n{}", String::from_utf8_lossy(&r.stderr));
    let env = env_file(&out);
    assert_eq!(env.get("ip").map(String::as_str), Some("192.0.2.10"));
    assert_eq!(env.get("subnet").map(String::as_str), Some("255.255.255.0"));
    assert_eq!(env.get("router").map(|s| s.trim()), Some("192.0.2.1"));
    assert_eq!(env.get("dns").map(|s| s.trim()), Some("192.0.2.53"));
    assert_eq!(env.get("lease").map(String::as_str), Some("7200"));
    assert_eq!(env.get("serverid").map(String::as_str), Some(SERVER));
    assert_eq!(d.lease(&lab, "192.0.2.10").expect("listed")["state"], "bound");
}

#[test]
fn dhcpcd_gets_a_correct_lease() {
    let mut lab = NetLab::new("dcpd");
    let (srv, clients) = lan(&mut lab, 1, "dlt0");
    let cfg = config(&lab, "3h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let env = dhcpcd(&lab, &clients[0], "dlt0");
    assert_eq!(env.get("new_ip_address").map(String::as_str), Some("192.0.2.10"));
    assert_eq!(env.get("new_subnet_mask").map(String::as_str), Some("255.255.255.0"));
    assert_eq!(env.get("new_routers").map(String::as_str), Some("192.0.2.1"));
    assert_eq!(env.get("new_domain_name_servers").map(String::as_str), Some("192.0.2.53"));
    assert_eq!(env.get("new_dhcp_lease_time").map(String::as_str), Some("10800"));
    assert_eq!(d.lease(&lab, "192.0.2.10").expect("listed")["state"], "bound");
}

#[test]
fn three_clients_on_one_bridge_get_three_addresses() {
    let mut lab = NetLab::new("tri");
    let (srv, clients) = lan(&mut lab, 3, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let mut ips = vec![];
    for (i, c) in clients.iter().enumerate() {
        let lf = lab.dir.join(format!("c{i}.leases")).to_string_lossy().to_string();
        ips.push(lease_field(&dhclient(&lab, c, "eth0", &lf), "fixed-address").expect("address"));
    }
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "{ips:?}");
    let listed = d.get(&lab, "/api/leases?state=bound");
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    let hws: std::collections::HashSet<String> =
        listed.as_array().unwrap().iter().map(|l| l["hw"].as_str().unwrap().to_string()).collect();
    assert_eq!(hws.len(), 3, "three MACs");
}

#[test]
fn three_packet_threads_answer_each_broadcast_of_real_clients_once() {
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("thr");
    let (srv, clients) = lan(&mut lab, 3, "eth0");
    // Each thread has a socket in one SO_REUSEPORT group; the kernel gives a broadcast to all three.
    let cfg = config(&lab, "1h", "").replacen("lease_db", "threads = 3\nlease_db", 1);
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let (mut sent, mut ips) = (0, vec![]);
    for (i, c) in clients.iter().enumerate() {
        let lf = lab.dir.join(format!("c{i}.leases")).to_string_lossy().to_string();
        let pid = lab.dir.join(format!("c{i}.pid")).to_string_lossy().to_string();
        let out = lab.exec(c, "dhclient", &["-v", "-1", "-sf", "/bin/true", "-lf", &lf, "-pf", &pid, "eth0"]);
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "dhclient failed:\n{log}");
        // What dhclient sent: each DISCOVER and REQUEST is a line of its log.
        sent += log.lines().filter(|l| l.starts_with("DHCPDISCOVER") || l.starts_with("DHCPREQUEST")).count();
        let lease = std::fs::read_to_string(&lf).expect("dhclient lease file");
        ips.push(lease_field(&lease, "fixed-address").expect("address"));
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "three clients, three addresses: {ips:?}");
    let metrics = d.get_text(&lab, "/metrics").expect("metrics");
    let received: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("dhcplab_pkt4_received_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("dhcplab_pkt4_received_total");
    assert_eq!(received as usize, sent, "every datagram the clients sent is handled once, by one thread");
    assert_eq!(d.get(&lab, "/api/leases?state=bound").as_array().map(Vec::len), Some(3));
}

#[test]
fn dhclient_renews_and_the_api_shows_it() {
    let mut lab = NetLab::new("renw");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    // dhclient does not renew leases shorter than its own minimum; 40 s gives T1 at 20 s.
    let cfg = config(&lab, "40s", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let lf = lab.dir.join("renew.leases").to_string_lossy().to_string();
    let ip = lease_field(&dhclient(&lab, &clients[0], "eth0", &lf), "fixed-address").unwrap();
    configure(&lab, &clients[0], "eth0", &ip);
    let first = d.lease(&lab, &ip).unwrap()["obtained"].as_u64().unwrap();
    let renewed = wait_for(Duration::from_secs(45), "a renewal in /api/leases", || {
        let l = d.lease(&lab, &ip)?;
        (l["obtained"].as_u64()? > first && l["state"] == "bound").then_some(l)
    });
    let gap = renewed["obtained"].as_u64().unwrap() - first;
    // dhclient renews at a random point between 3/4·T1 and T1 (15–20 s here), counted from its own
    // clock, which keeps whole seconds: a renewal can come up to a second before 15 s of ours.
    assert!((14_000..=30_000).contains(&gap), "renewed {gap} ms after binding, expected 15–20 s (3/4·T1 to T1)");
    d.log_containing(&lab, "renewed");
}

#[test]
fn init_reboot_from_another_subnet_is_naked_then_leased() {
    let mut lab = NetLab::new("nak");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    // A lease dhclient remembers from another network, still valid: it starts in INIT-REBOOT.
    let lf = lab.dir.join("moved.leases");
    std::fs::write(
        &lf,
        "lease {\n  interface \"eth0\";\n  fixed-address 198.51.100.77;\n  option subnet-mask 255.255.255.0;\n  \
         option dhcp-server-identifier 198.51.100.1;\n  renew 4 2037/12/31 00:00:00;\n  rebind 4 2037/12/31 00:00:00;\n  \
         expire 4 2037/12/31 00:00:00;\n}\n",
    )
    .unwrap();
    let text = dhclient(&lab, &clients[0], "eth0", &lf.to_string_lossy());
    assert_eq!(lease_field(&text, "fixed-address").as_deref(), Some("192.0.2.10"));
    let stats = d.stats(&lab);
    assert_eq!(stats["engine"]["sent_by_type"]["nak"], 1, "{stats}");
    d.log_containing(&lab, "DHCPNAK");
}

#[test]
fn release_sent_by_dhclient_shows_as_released() {
    let mut lab = NetLab::new("rel");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let lf = lab.dir.join("rel.leases").to_string_lossy().to_string();
    let ip = lease_field(&dhclient(&lab, &clients[0], "eth0", &lf), "fixed-address").unwrap();
    configure(&lab, &clients[0], "eth0", &ip);
    let pid = lab.dir.join(format!("{}.dhclient.pid", clients[0])).to_string_lossy().to_string();
    let r = lab.exec(&clients[0], "dhclient", &["-r", "-sf", "/bin/true", "-lf", &lf, "-pf", &pid, "eth0"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    wait_for(Duration::from_secs(5), "the released state", || {
        (d.lease(&lab, &ip)?["state"] == "released").then_some(())
    });
}

#[test]
fn decline_after_a_real_address_conflict_shows_as_declined() {
    let mut lab = NetLab::new("dcl");
    let (srv, clients) = lan(&mut lab, 2, "dcl0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    // The second "client" is a host squatting on the pool's first address without a lease.
    lab.addr(&clients[1], "dcl0", "192.0.2.10/24");
    let env = dhcpcd(&lab, &clients[0], "dcl0");
    assert_eq!(env.get("new_ip_address").map(String::as_str), Some("192.0.2.11"), "the conflicting .10 was declined");
    assert_eq!(d.lease(&lab, "192.0.2.10").expect("listed")["state"], "declined");
    let stats = d.stats(&lab);
    assert_eq!(stats["engine"]["received_by_type"]["decline"], 1);
}

#[test]
fn perfdhcp_as_a_relay_gets_leases_from_the_giaddr_subnet() {
    require_program("perfdhcp", "kea-admin");
    let mut lab = NetLab::new("rly");
    let (srv, relay) = relay_pair(&mut lab);
    let far = "\n[[subnet]]\ncidr = \"198.51.100.0/24\"\npools = [\"198.51.100.10-198.51.100.200\"]\nrouters = [\"198.51.100.254\"]\nrelays = [\"198.51.100.254\"]\n";
    let cfg = config(&lab, "1h", far);
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let out = lab.exec(&relay, "perfdhcp", &["-4", "-l", "198.51.100.254", "-R", "100", "-r", "50", "-p", "3", SERVER]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // perfdhcp exits 3 when any packet went unanswered (in-flight ones at the end count): read its numbers.
    let acks = perfdhcp_received(&text, "REQUEST-ACK").unwrap_or_else(|| panic!("perfdhcp output:\n{text}"));
    assert!(acks >= 50, "perfdhcp got {acks} ACKs:\n{text}");
    let leases = d.get(&lab, "/api/leases?state=bound");
    let leases = leases.as_array().unwrap();
    // 100 simulated clients; perfdhcp re-requests for some of them, so ACKs may outnumber leases.
    assert_eq!(leases.len() as u64, acks.min(100), "{} leases for {acks} ACKs", leases.len());
    assert!(leases.iter().all(|l| l["subnet"] == "198.51.100.0/24"), "every lease from the giaddr's subnet");
}

#[test]
fn leases_survive_a_clean_restart() {
    let mut lab = NetLab::new("rst");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let lf = lab.dir.join("rst.leases").to_string_lossy().to_string();
    let ip = lease_field(&dhclient(&lab, &clients[0], "eth0", &lf), "fixed-address").unwrap();
    let before = d.lease(&lab, &ip).unwrap();
    lab.kill(d.pid, false);
    let d2 = Daemon::start_with(&mut lab, &srv, d.config.clone(), d.http.clone(), d.token.clone());
    let after = d2.lease(&lab, &ip).expect("the lease is back after restart");
    assert_eq!(after, before);
}

#[test]
fn every_acked_lease_survives_kill_9_in_the_middle_of_a_perfdhcp_run() {
    every_acked_lease_survives_kill_9("k9", 1);
}

/// The same with two packet threads: the engine answers under its lock from either thread, and every ACK
/// still leaves only after its lease is durable.
#[test]
fn every_acked_lease_survives_kill_9_with_two_packet_threads() {
    every_acked_lease_survives_kill_9("k9t", 2);
}

/// perfdhcp through a relay against a daemon reading with `threads` threads, the daemon killed with
/// SIGKILL mid-run: every ACK captured on the server's link is bound to its client after a restart.
fn every_acked_lease_survives_kill_9(name: &str, threads: u32) {
    require_program("perfdhcp", "kea-admin");
    require_program("tshark", "tshark");
    let mut lab = NetLab::new(name);
    let (srv, relay) = relay_pair(&mut lab);
    let far = "\n[[subnet]]\ncidr = \"198.51.100.0/24\"\npools = [\"198.51.100.10-198.51.100.250\"]\nrelays = [\"198.51.100.254\"]\n";
    let cfg = config(&lab, "1h", far).replacen("lease_db", &format!("threads = {threads}\nlease_db"), 1);
    let d = Daemon::start(&mut lab, &srv, &cfg);
    // Record every packet on the server's link: the ACKs that really left.
    let pcap = lab.dir.join(format!("{name}.pcap"));
    let tshark = lab.capture(&srv, "srv0", "udp port 67", &pcap, "192.0.2.2");
    let perf = lab.spawn(
        &relay,
        "perfdhcp",
        &["-4", "-l", "198.51.100.254", "-R", "200", "-r", "150", "-p", "4", SERVER],
        "perfdhcp.log",
    );
    std::thread::sleep(Duration::from_millis(2000));
    lab.kill(d.pid, true);
    lab.kill(perf, false);
    std::thread::sleep(Duration::from_millis(500));
    lab.kill(tshark, false);
    let frames = dhcplab_engine::capture::read(&std::fs::read(&pcap).expect("capture")).expect("pcap").into_frames();
    let mut acked = std::collections::HashMap::new();
    for f in frames.iter().filter(|f| f.src.ip().to_string() == SERVER) {
        let Some(s) = dhcplab_engine::event::PacketSummary::from_bytes(&f.payload) else { continue };
        if s.msg == dhcplab_engine::message::DhcpMessage::Ack {
            acked.insert(s.yiaddr.to_string(), s.chaddr.to_string());
        }
    }
    assert!(acked.len() >= 50, "only {} ACKs before the kill; perfdhcp: {}", acked.len(), lab.log("perfdhcp.log"));
    let d2 = Daemon::start_with(&mut lab, &srv, d.config.clone(), d.http.clone(), d.token.clone());
    let leases = d2.get(&lab, "/api/leases");
    let by_ip: std::collections::HashMap<String, &serde_json::Value> =
        leases.as_array().unwrap().iter().map(|l| (l["ip"].as_str().unwrap().to_string(), l)).collect();
    for (ip, hw) in &acked {
        let l = by_ip.get(ip).unwrap_or_else(|| panic!("{ip} was ACKed to {hw} but is not leased after kill -9"));
        assert_eq!(l["hw"].as_str(), Some(hw.as_str()), "{ip} belongs to another client after restart");
        assert_eq!(l["state"], "bound", "{ip}");
    }
    println!(
        "{} ACKs on the wire before kill -9 ({threads} packet thread(s)), every one bound to its client after the restart",
        acked.len()
    );
    let mut hws: Vec<&str> = leases
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["state"] == "bound")
        .map(|l| l["hw"].as_str().unwrap())
        .collect();
    let n = hws.len();
    hws.sort();
    hws.dedup();
    assert_eq!(hws.len(), n, "a client holds two bound leases");
}

#[test]
fn a_dhclient_lease_pinned_from_the_api_is_written_to_the_config_and_kept_across_a_restart() {
    let mut lab = NetLab::new("pin");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let lf = lab.dir.join("pin.leases").to_string_lossy().to_string();
    let first = dhclient(&lab, &clients[0], "eth0", &lf);
    let ip = lease_field(&first, "fixed-address").unwrap();
    assert_eq!(lease_field(&first, "option host-name"), None, "no hostname is sent back before the reservation");
    let lease = d.lease(&lab, &ip).unwrap();
    let host = lease["hostname"].as_str().expect("dhclient sent its host name").to_string();

    let (code, body) = d.call(&lab, "POST", &format!("/api/leases/{ip}/reservation"));
    assert_eq!(code, 201, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(made["persisted_to"], d.config.to_string_lossy().as_ref());
    // The file now holds it, and still checks clean.
    let text = std::fs::read_to_string(&d.config).unwrap();
    let added = text.split("[[subnet.reservation]]").nth(1).expect("a reservation table in the file");
    for want in [format!("mac = {}", lease["hw"]), format!("ip = \"{ip}\""), format!("hostname = \"{host}\"")] {
        assert!(added.contains(&want), "{want} missing from:\n{text}");
    }
    let check = std::process::Command::new(dhcplab_tests::dhcplab_bin()).arg("check").arg(&d.config).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // After a restart the reservation is loaded from the file, and the client's INIT-REBOOT is ACKed with the
    // same address and, from the reservation, its host name (option 12).
    lab.kill(d.pid, false);
    let d2 = Daemon::start_with(&mut lab, &srv, d.config.clone(), d.http.clone(), d.token.clone());
    let listed = d2.get(&lab, "/api/reservations");
    assert!(listed.as_array().unwrap().iter().any(|r| r["ip"] == ip.as_str() && r["hostname"] == host.as_str()));
    let again = dhclient(&lab, &clients[0], "eth0", &lf);
    assert_eq!(lease_field(&again, "fixed-address"), Some(ip.clone()));
    assert_eq!(lease_field(&again, "option host-name"), Some(format!("\"{host}\"")));
}

#[test]
fn the_json_log_of_a_real_dhclient_exchange_has_every_field() {
    let mut lab = NetLab::new("jlog");
    let (srv, clients) = lan(&mut lab, 1, "eth0");
    let cfg = config(&lab, "1h", "");
    let d = Daemon::start_as(&mut lab, &srv, &cfg, &["env", "DHCPLAB_LOG_FORMAT=json"]);
    let lf = lab.dir.join("j.leases").to_string_lossy().to_string();
    dhclient(&lab, &clients[0], "eth0", &lf);
    let log = wait_for(Duration::from_secs(5), "the ACK's log line", || {
        let text = d.log_text(&lab);
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["fields"]["message"].as_str().is_some_and(|m| m.starts_with("DHCPACK(srv0) 192.0.2.10 ")))
    });
    let f = &log["fields"];
    assert_eq!(
        (f["link"].as_str(), f["ip"].as_str(), f["subnet"].as_str()),
        (Some("srv0"), Some("192.0.2.10"), Some("192.0.2.0/24")),
        "{log}"
    );
    let mac = String::from_utf8_lossy(&lab.exec(&clients[0], "cat", &["/sys/class/net/eth0/address"]).stdout)
        .trim()
        .to_string();
    assert_eq!(f["mac"].as_str(), Some(mac.as_str()), "{log}");
    assert!(f["xid"].as_str().is_some_and(|x| x.starts_with("0x") && x.len() == 10), "{log}");
    assert!(f["hostname"].is_string(), "{log}");
    assert_eq!(log["level"], "INFO");
}

#[test]
fn readyz_says_a_server_with_its_link_down_cannot_serve_while_healthz_says_it_runs() {
    let mut lab = NetLab::new("rdy");
    let (srv, _, cfg) = dhcplab_tests::one_client_lan(&mut lab);
    let d = Daemon::start(&mut lab, &srv, &cfg);
    assert_eq!(d.get_text(&lab, "/readyz").as_deref(), Some("ready"));
    lab.exec(&srv, "ip", &["link", "set", "srv0", "down"]);
    let said = d.get_text(&lab, "/readyz").unwrap_or_default();
    assert!(said.contains("srv0 is down"), "{said}");
    assert_eq!(d.get_text(&lab, "/healthz").as_deref(), Some("ok"), "the process itself is fine");
    lab.up(&srv, "srv0");
    wait_for(Duration::from_secs(5), "ready again", || {
        (d.get_text(&lab, "/readyz").as_deref() == Some("ready")).then_some(())
    });
}
