//! Switching to dhcplab without clients losing their addresses: a real Kea leases an address to a real
//! dhclient, its memfile CSV (and a dnsmasq lease file) is imported, and the clients get the same addresses
//! from dhcplab. Then the leases go out again as Kea CSV and JSON.

use dhcplab_tests::{Daemon, NetLab, dhcplab_bin, require_program};

const CLIENT_A: &str = "02:00:00:00:0a:01";
const CLIENT_B: &str = "02:00:00:00:0b:01";

fn dhclient(lab: &NetLab, ns: &str, lease_file: &str) -> (bool, String) {
    let pid = format!("{lease_file}.pid");
    let out = lab.exec(
        ns,
        "timeout",
        &["30", "dhclient", "-v", "-1", "-sf", "/bin/true", "-lf", lease_file, "-pf", &pid, "eth0"],
    );
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn leases_from_kea_and_dnsmasq_are_kept_and_go_out_again() {
    require_program("kea-dhcp4", "kea-dhcp4-server");
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("mig");
    let srv = lab.ns("srv");
    let br = lab.ns("lan");
    lab.bridge(&br);
    lab.veth(&srv, "srv0", &br, "p-srv");
    lab.attach(&br, "p-srv");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    let mut clients = vec![];
    for (name, mac) in [("a", CLIENT_A), ("b", CLIENT_B)] {
        let c = lab.ns(name);
        lab.veth(&c, "eth0", &br, &format!("p-{name}"));
        lab.attach(&br, &format!("p-{name}"));
        lab.exec(&c, "ip", &["link", "set", "eth0", "address", mac]);
        clients.push(c);
    }

    // Kea serves first, keeping its leases in a memfile CSV.
    let kea_csv = lab.dir.join("kea-leases4.csv");
    let kea = lab.dir.join("kea.json");
    std::fs::write(
        &kea,
        format!(
            r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "srv0" ] }},
  "lease-database": {{ "type": "memfile", "persist": true, "name": "{}", "lfc-interval": 0 }},
  "valid-lifetime": 3600,
  "subnet4": [ {{ "id": 1, "subnet": "192.0.2.0/24", "pools": [ {{ "pool": "192.0.2.100 - 192.0.2.110" }} ] }} ]
}} }}"#,
            kea_csv.display()
        ),
    )
    .unwrap();
    let (locks, kea_s) = (format!("KEA_LOCKFILE_DIR={}", lab.dir.display()), kea.to_string_lossy().to_string());
    let pids = format!("KEA_PIDFILE_DIR={}", lab.dir.display());
    let kea_pid = lab.spawn(&srv, "env", &[&locks, &pids, "kea-dhcp4", "-c", &kea_s], "kea.log");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let lease_a = lab.dir.join("a.leases").to_string_lossy().to_string();
    let (ok, said) = dhclient(&lab, &clients[0], &lease_a);
    assert!(ok, "dhclient got no lease from Kea:\n{said}\n{}", lab.log("kea.log"));
    assert!(said.contains("DHCPACK of 192.0.2.100"), "{said}");
    lab.kill(kea_pid, false);
    let csv = std::fs::read_to_string(&kea_csv).expect("Kea's lease file");
    assert!(csv.contains("192.0.2.100") && csv.contains(CLIENT_A), "{csv}");

    // dnsmasq's lease file for the second client (the line dnsmasq writes: expiry, MAC, IP, name, client id).
    let dnsmasq = lab.dir.join("dnsmasq.leases");
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    std::fs::write(&dnsmasq, format!("{until} {CLIENT_B} 192.0.2.120 printer *\n")).unwrap();

    // dhcplab takes over with both files imported.
    let config = lab.dir.join("dhcplab.toml");
    std::fs::write(
        &config,
        format!(
            "[dhcp]\ninterfaces = [\"srv0\"]\nlease_db = \"{}\"\n[http]\nlisten = \"127.0.0.1:8067\"\n\
             admin_token = \"test-token-0123456789\"\n[[subnet]]\ncidr = \"192.0.2.0/24\"\n\
             pools = [\"192.0.2.10-192.0.2.250\"]\n",
            lab.dir.join("l.sqlite3").display()
        ),
    )
    .unwrap();
    let cfg = config.to_string_lossy().to_string();
    let bin = dhcplab_bin();
    for (from, file) in [("kea-csv", &kea_csv), ("dnsmasq", &dnsmasq)] {
        let out = std::process::Command::new(bin)
            .args(["leases", "import", "--config", &cfg, "--from", from])
            .arg(file)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && said.contains("imported 1 lease into"),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let d = Daemon::start_with(&mut lab, &srv, config.clone(), "127.0.0.1:8067".into(), "test-token-0123456789".into());
    // The Kea client reboots: INIT-REBOOT asks for its address, and dhcplab confirms it.
    let (ok, said) = dhclient(&lab, &clients[0], &lease_a);
    assert!(ok, "{said}");
    assert!(said.contains("DHCPREQUEST for 192.0.2.100") && said.contains("DHCPACK of 192.0.2.100"), "{said}");
    assert!(!said.contains("DHCPDISCOVER"), "INIT-REBOOT, no new lease:\n{said}");
    // The dnsmasq client starts fresh and is offered the address it had.
    let lease_b = lab.dir.join("b.leases").to_string_lossy().to_string();
    let (ok, said) = dhclient(&lab, &clients[1], &lease_b);
    assert!(ok && said.contains("DHCPACK of 192.0.2.120"), "{said}");
    assert_eq!(d.lease(&lab, "192.0.2.100").expect("listed")["hw"], CLIENT_A);
    assert_eq!(d.lease(&lab, "192.0.2.120").expect("listed")["hw"], CLIENT_B);

    // And out again (the daemon stopped, as for any SQLite tool).
    lab.kill(d.pid, false);
    let export = |format: &str| {
        let out = std::process::Command::new(bin)
            .args(["leases", "export", "--config", &cfg, "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let kea_out = export("kea-csv");
    assert!(kea_out.starts_with("address,hwaddr,client_id,valid_lifetime,expire,subnet_id"), "{kea_out}");
    assert!(kea_out.lines().any(|l| l.starts_with(&format!("192.0.2.100,{CLIENT_A},"))), "{kea_out}");
    let json: serde_json::Value = serde_json::from_str(&export("json")).unwrap();
    let ips: Vec<&str> = json.as_array().unwrap().iter().filter_map(|l| l["ip"].as_str()).collect();
    assert_eq!(ips, ["192.0.2.100", "192.0.2.120"]);
}
