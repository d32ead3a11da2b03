//! Conflict probing with real hosts: a squatter configured by hand with the pool's first address answers
//! the daemon's ping, and a real dhclient is offered another address while the conflict shows in the API,
//! the log and the metrics. Namespaces on a bridge; needs root.

use dhcplab_tests::{Daemon, NetLab, require_program};

/// Server, squatter and client namespaces on one bridge.
fn lan(lab: &mut NetLab) -> (String, String, String) {
    let br = lab.ns("lan");
    lab.bridge(&br);
    let (srv, squatter, cli) =
        (lab.on_bridge(&br, "srv", "srv0"), lab.on_bridge(&br, "sq", "eth0"), lab.on_bridge(&br, "cli", "eth0"));
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    lab.addr(&squatter, "eth0", "192.0.2.10/24");
    (srv, squatter, cli)
}

#[test]
fn a_squatter_answers_the_ping_and_dhclient_gets_another_address() {
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("cfl");
    let (srv, _squatter, cli) = lan(&mut lab);
    let cfg = format!(
        r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{}"
conflict_probe = "300ms"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.20"]
"#,
        lab.dir.join("leases.sqlite3").display()
    );
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let lf = lab.dir.join("dhclient.leases").to_string_lossy().to_string();
    let pf = lab.dir.join("dhclient.pid").to_string_lossy().to_string();
    let out = lab.exec(&cli, "dhclient", &["-v", "-1", "-sf", "/bin/true", "-lf", &lf, "-pf", &pf, "eth0"]);
    assert!(out.status.success(), "dhclient failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let leases = std::fs::read_to_string(&lf).unwrap();
    let got = leases.rsplit("fixed-address ").next().and_then(|l| l.split(';').next()).unwrap_or_default();
    assert!(got.starts_with("192.0.2.") && got != "192.0.2.10", "dhclient got {got}:\n{leases}");
    // dhclient never had to DECLINE: the daemon found the squatter first.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("DHCPDECLINE"), "{said}");

    // The API shows the squatted address quarantined, and why; the metrics and stats count it.
    let squatted = d.lease(&lab, "192.0.2.10").expect("a record of the conflict");
    assert_eq!(squatted["state"], "declined", "{squatted}");
    assert_eq!(d.lease(&lab, got).expect("the client's lease")["state"], "bound");
    let stats = d.stats(&lab);
    assert_eq!(stats["engine"]["conflicts"], 1, "{stats}");
    assert!(stats["engine"]["conflict_probes"].as_u64().unwrap_or(0) >= 2, "{stats}");
    let metrics = d.get_text(&lab, "/metrics").unwrap_or_default();
    assert!(metrics.lines().any(|l| l == "dhcplab_conflicts_total 1"), "{metrics}");
    d.log_containing(&lab, "192.0.2.10 answered a ping");
}
