//! Attacks from hosts on a served link, in network namespaces, sent by real DHCP tools (dhclient, perfdhcp)
//! the way an attacker would: claiming another link's subnet by option 118 or by giaddr, and using the
//! server as a reflector towards a giaddr of the attacker's choice.

use dhcplab_tests::{Daemon, NetLab, perfdhcp_received, require_program};

const SERVER: &str = "192.0.2.1";

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
