//! Attacks from hosts on a served link, in network namespaces, sent by real DHCP tools (dhclient, perfdhcp)
//! the way an attacker would: claiming another link's subnet by option 118 or by giaddr, and using the
//! server as a reflector towards a giaddr of the attacker's choice.

use dhcplab_tests::{Daemon, NetLab, perfdhcp_received, require_program};

const SERVER: &str = "192.0.2.1";

/// The load tests run one at a time: two floods at once on two cores would measure each other.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn config(lab: &NetLab) -> String {
    format!(
        r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{db}"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.250"]

[[subnet]]
cidr = "198.51.100.0/24"
pools = ["198.51.100.10-198.51.100.200"]
relays = ["198.51.100.254"]
"#,
        db = lab.dir.join("leases.sqlite3").display()
    )
}

/// The drop counter for `reason` on /metrics.
fn dropped(d: &Daemon, lab: &NetLab, reason: &str) -> u64 {
    let text = d.get_text(lab, "/metrics").expect("/metrics");
    let line = format!("dhcplab_pkt4_drop_reason_total{{reason=\"{reason}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&line)?.parse().ok()).unwrap_or_else(|| panic!("no {line}"))
}

/// Runs perfdhcp in `ns` for about two seconds; the OFFERs it got.
fn perfdhcp_offers(lab: &NetLab, ns: &str, args: &[&str]) -> u64 {
    let mut all = vec!["-4", "-R", "20", "-r", "10", "-p", "2"];
    all.extend_from_slice(args);
    let out = lab.exec(ns, "perfdhcp", &all);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    perfdhcp_received(&text, "DISCOVER-OFFER").unwrap_or_else(|| panic!("perfdhcp output:\n{text}"))
}

#[test]
fn a_host_on_the_link_cannot_claim_another_links_subnet() {
    require_program("perfdhcp", "kea-admin");
    let mut lab = NetLab::new("atk");
    // The server's link, with one host on it (192.0.2.2). Later the host also takes the configured
    // relay's address (the legitimate path) and one of its own in the far subnet.
    let srv = lab.ns("srv");
    let host = lab.ns("host");
    lab.veth(&srv, "srv0", &host, "up0");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    lab.addr(&host, "up0", "192.0.2.2/24");
    lab.route(&srv, "198.51.100.0/24", "192.0.2.2");
    let cfg = config(&lab);
    let d = Daemon::start(&mut lab, &srv, &cfg);

    // 1. A client on the link (a real dhclient) naming the far subnet with option 118 (RFC 3011). It gets
    //    no lease; a client must take its own link's subnet.
    require_program("dhclient", "isc-dhcp-client");
    let conf = lab.dir.join("dhclient-118.conf");
    std::fs::write(
        &conf,
        "option subnet-selection code 118 = ip-address;\nsend subnet-selection 198.51.100.0;\ntimeout 4;\nretry 60;\n",
    )
    .unwrap();
    let (lf, pf) = (lab.dir.join("118.leases"), lab.dir.join("118.pid"));
    let (conf, lf, pf) = (conf.to_string_lossy(), lf.to_string_lossy(), pf.to_string_lossy());
    let out =
        lab.exec(&host, "dhclient", &["-v", "-1", "-sf", "/bin/true", "-cf", &conf, "-lf", &lf, "-pf", &pf, "up0"]);
    assert!(!out.status.success(), "dhclient got a lease:\n{}", String::from_utf8_lossy(&out.stderr));
    let foreign = dropped(&d, &lab, "foreign_subnet");
    assert!(foreign >= 1, "{foreign} dropped as foreign_subnet:\n{}", String::from_utf8_lossy(&out.stderr));
    // 2. A relay for the link's own subnet, which has no relays at all.
    assert_eq!(perfdhcp_offers(&lab, &host, &["-l", "192.0.2.2", SERVER]), 0);
    assert!(dropped(&d, &lab, "untrusted_relay") >= 10);
    // 3. A spoofed relay: giaddr in the far subnet, sent from an address that is not its relay. A reply
    //    would go to 198.51.100.77:67, wherever the attacker points it.
    lab.addr(&host, "up0", "198.51.100.77/24");
    let before = dropped(&d, &lab, "untrusted_relay");
    assert_eq!(perfdhcp_offers(&lab, &host, &["-l", "198.51.100.77", SERVER]), 0, "no OFFER to a spoofed relay");
    assert!(dropped(&d, &lab, "untrusted_relay") >= before + 10);
    assert!(d.get(&lab, "/api/leases").as_array().unwrap().is_empty(), "not one address was given out");

    // The configured relay still gets the far subnet's addresses.
    lab.addr(&host, "up0", "198.51.100.254/24");
    assert!(perfdhcp_offers(&lab, &host, &["-l", "198.51.100.254", SERVER]) >= 10);
    let leases = d.get(&lab, "/api/leases");
    assert!(leases.as_array().unwrap().iter().all(|l| l["subnet"] == "198.51.100.0/24"), "{leases}");
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon is running");
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).expect("VmRSS");
    line.trim().trim_end_matches("kB").trim().parse().expect("a number")
}

#[test]
fn a_flood_of_50000_random_macs_leaves_memory_bounded_and_a_real_client_bound() {
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    require_program("perfdhcp", "kea-admin");
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("fld");
    // The server's LAN with a real client, and a second link to the attacker, which relays a flood of
    // DISCOVERs for the same subnet (it is a configured relay: the flood is what is tried here).
    let srv = lab.ns("srv");
    let cli = lab.ns("cli");
    let atk = lab.ns("atk");
    lab.veth(&srv, "srv0", &cli, "eth0");
    lab.veth(&srv, "srv1", &atk, "up0");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    lab.addr(&srv, "srv1", "10.9.0.1/24");
    lab.addr(&atk, "up0", "10.9.0.2/24");
    lab.addr(&atk, "up0", "192.0.2.2/32");
    lab.route(&atk, "192.0.2.1/32", "10.9.0.1");
    lab.route(&srv, "192.0.2.2/32", "10.9.0.2");
    let cfg = format!(
        "[dhcp]\ninterfaces = [\"srv0\", \"srv1\"]\nlease_db = \"{}\"\n[[subnet]]\ncidr = \"192.0.2.0/24\"\n\
         pools = [\"192.0.2.10-192.0.2.250\"]\nrelays = [\"192.0.2.2\"]\n",
        lab.dir.join("l.sqlite3").display()
    );
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let rss_before = rss_kib(d.pid);

    // 50,000 clients' DISCOVERs (none of them ever REQUESTs), 4,000 a second for 13 s; a real dhclient
    // starts 3 s into it.
    let (lf, pf) = (lab.dir.join("fld.leases"), lab.dir.join("fld.pid"));
    let (lf, pf) = (lf.to_string_lossy(), pf.to_string_lossy());
    let (flood, (out, took, reclaimed_then)) = std::thread::scope(|s| {
        let flood = s.spawn(|| {
            let args = ["-4", "-i", "-R", "50000", "-r", "4000", "-p", "13", "-l", "192.0.2.2", SERVER];
            lab.exec(&atk, "perfdhcp", &args)
        });
        std::thread::sleep(std::time::Duration::from_secs(3));
        let started = std::time::Instant::now();
        let args = ["30", "dhclient", "-v", "-1", "-sf", "/bin/true", "-lf", &lf, "-pf", &pf, "eth0"];
        let out = lab.exec(&cli, "timeout", &args);
        let took = started.elapsed();
        let reclaimed = d.stats(&lab)["engine"]["offers_reclaimed"].as_u64().unwrap_or(0);
        (flood.join().expect("perfdhcp ran"), (out, took, reclaimed))
    });
    assert!(out.status.success(), "dhclient got no lease during the flood:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < std::time::Duration::from_secs(10), "dhclient took {took:?}");
    assert!(reclaimed_then > 0, "the flood was running while dhclient got its lease");
    let sent = String::from_utf8_lossy(&flood.stdout).to_string();
    assert!(sent.contains("sent packets"), "perfdhcp:\n{sent}");

    let stats = d.stats(&lab);
    assert!(stats["engine"]["offers_reclaimed"].as_u64() > Some(40_000), "{stats}\n{sent}");
    assert!(stats["leases"].as_u64() <= Some(241), "records bounded by the pool: {stats}");
    assert_eq!(stats["bound"], 1, "{stats}");
    let grown = rss_kib(d.pid).saturating_sub(rss_before);
    eprintln!(
        "flood: dhclient bound in {took:?}; {} offers reclaimed; RSS grew {grown} KiB",
        stats["engine"]["offers_reclaimed"]
    );
    assert!(grown < 32 * 1024, "the daemon grew by {grown} KiB under the flood");
}

/// The drops ratio (percent) of one exchange in perfdhcp's summary.
fn drops_percent(text: &str, exchange: &str) -> f64 {
    let section = text.split("***Statistics for:").find(|s| s.trim_start().starts_with(exchange)).expect(exchange);
    let v = section.lines().find_map(|l| l.trim().strip_prefix("drops ratio:")).expect("drops ratio");
    v.trim().trim_end_matches('%').trim().parse().unwrap_or(100.0)
}

/// One raw HTTP request on loopback; whatever comes back is read and dropped.
fn hit(addr: &str, head: &str) {
    use std::io::{Read, Write};
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = write!(s, "{head}Host: {addr}\r\nConnection: close\r\n\r\n");
        let _ = s.read_to_end(&mut Vec::new());
    }
}

#[test]
fn a_hostile_http_loop_during_perfdhcp_keeps_dhcp_drops_under_a_tenth_of_a_percent() {
    let _one_at_a_time = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    require_program("perfdhcp", "kea-admin");
    let mut lab = NetLab::new("hot");
    let srv = lab.ns("srv");
    let relay = lab.ns("relay");
    lab.veth(&srv, "srv0", &relay, "up0");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    lab.addr(&relay, "up0", "192.0.2.2/24");
    lab.addr(&relay, "up0", "10.200.255.254/16");
    lab.route(&srv, "10.200.0.0/16", "192.0.2.2");
    let cfg = format!(
        "[dhcp]\ninterfaces = [\"srv0\"]\nlease_db = \"{}\"\n[[subnet]]\ncidr = \"10.200.0.0/16\"\n\
         pools = [\"10.200.0.10-10.200.255.250\"]\nrelays = [\"10.200.255.254\"]\nlease_time = \"1h\"\n",
        lab.dir.join("l.sqlite3").display()
    );
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let http = d.http.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The hostile side, on the daemon's own host: huge searches, /metrics and /api/stats as fast as they
    // come back, and 500 WebSocket connects held open, for as long as perfdhcp runs.
    let attackers: Vec<_> = (0..3)
        .map(|kind| {
            let (http, stop) = (http.clone(), stop.clone());
            dhcplab_tests::in_netns(&srv, move || {
                let mut n = 0u64;
                let huge = "a".repeat(255);
                let mut held = vec![];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match kind {
                        0 => hit(&http, &format!("GET /api/leases?q={huge} HTTP/1.1\r\n")),
                        1 => {
                            hit(&http, "GET /metrics HTTP/1.1\r\n");
                            hit(&http, "GET /api/stats HTTP/1.1\r\n");
                        }
                        _ if held.len() < 500 => {
                            if let Ok(mut s) = std::net::TcpStream::connect(&http) {
                                use std::io::Write;
                                let _ = write!(
                                    s,
                                    "GET /ws HTTP/1.1\r\nHost: {http}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                                );
                                held.push(s);
                            }
                        }
                        _ => std::thread::sleep(std::time::Duration::from_millis(50)),
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    // 1,000 DORA exchanges a second for 10 s, as a relay, over 20,000 clients; -W: a second for the last
    // answers, so packets still in flight when perfdhcp stops are not counted as drops.
    let out = lab.exec(
        &relay,
        "perfdhcp",
        &["-4", "-R", "20000", "-r", "1000", "-p", "10", "-W", "1000000", "-l", "10.200.255.254", SERVER],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let requests: Vec<u64> = attackers.into_iter().map(|a| a.join().expect("attacker")).collect();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let acks = perfdhcp_received(&text, "REQUEST-ACK").unwrap_or(0);
    let (offer_drops, ack_drops) = (drops_percent(&text, "DISCOVER-OFFER"), drops_percent(&text, "REQUEST-ACK"));
    eprintln!("hostile HTTP: {requests:?} requests; {acks} ACKs; drops {offer_drops} % / {ack_drops} %");
    assert!(acks >= 9_000, "perfdhcp:\n{text}");
    assert!(offer_drops < 0.1 && ack_drops < 0.1, "drops {offer_drops} % / {ack_drops} % under the HTTP load:\n{text}");
    assert!(requests[0] > 100 && requests[1] > 100, "the HTTP loop really ran: {requests:?}");
    let refused = d.get_text(&lab, "/metrics").unwrap_or_default();
    assert!(refused.contains("dhcplab_http_refused_total{reason=\"watchers\"}"), "metrics answer after the storm");
}
