//! `dhcplab probe` against real servers the project does not write (Kea, and dnsmasq as a rogue), on a
//! bridge inside namespaces. Needs root (CI is root); fails with a clear message otherwise.

use dhcplab_tests::{NetLab, dhcplab_bin, require_program};
use std::process::Output;

/// The probe's MAC, set on its interface.
const PROBE_MAC: &str = "52:54:00:aa:bb:01";

/// A LAN: a bridge, the probing host on it, and whatever servers a test adds.
struct Lan {
    lab: NetLab,
    bridge: String,
    probe: String,
}

impl Lan {
    fn new(tag: &str, probe_addr: Option<&str>) -> Lan {
        let mut lab = NetLab::new(tag);
        let bridge = lab.ns("lan");
        lab.bridge(&bridge);
        let probe = lab.ns("probe");
        lab.veth(&probe, "eth0", &bridge, "p-probe");
        lab.attach(&bridge, "p-probe");
        lab.exec(&probe, "ip", &["link", "set", "eth0", "address", PROBE_MAC]);
        if let Some(a) = probe_addr {
            lab.addr(&probe, "eth0", a);
        }
        Lan { lab, bridge, probe }
    }

    /// A namespace on the bridge with `iface` addressed `cidr`.
    fn host(&mut self, name: &str, iface: &str, cidr: &str) -> String {
        let ns = self.lab.on_bridge(&self.bridge, name, iface);
        self.lab.addr(&ns, iface, cidr);
        ns
    }

    /// Kea on 192.0.2.1 serving 192.0.2.100-110 on its link and 198.51.100.100-110 through relays, with
    /// the options the probe must report.
    fn kea(&mut self) {
        require_program("kea-dhcp4", "kea-dhcp4-server");
        let ns = self.host("kea", "kea0", "192.0.2.1/24");
        let dir = self.lab.dir.clone();
        let config = dir.join("kea.json");
        std::fs::write(
            &config,
            format!(
                r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "kea0" ] }},
  "authoritative": true,
  "lease-database": {{ "type": "memfile", "persist": true, "name": "{}", "lfc-interval": 0 }},
  "valid-lifetime": 3600,
  "option-data": [ {{ "name": "domain-name-servers", "data": "192.0.2.53" }},
                   {{ "name": "domain-name", "data": "lab.example" }} ],
  "subnet4": [ {{ "id": 1, "subnet": "192.0.2.0/24", "pools": [ {{ "pool": "192.0.2.100 - 192.0.2.110" }} ],
                 "option-data": [ {{ "name": "routers", "data": "192.0.2.1" }} ] }},
               {{ "id": 2, "subnet": "198.51.100.0/24", "pools": [ {{ "pool": "198.51.100.100 - 198.51.100.110" }} ],
                 "option-data": [ {{ "name": "routers", "data": "198.51.100.1" }} ] }} ]
}} }}"#,
                dir.join("kea-leases4.csv").display()
            ),
        )
        .unwrap();
        let env = [format!("KEA_LOCKFILE_DIR={}", dir.display()), format!("KEA_PIDFILE_DIR={}", dir.display())];
        let config = config.to_string_lossy().to_string();
        // Relays of 198.51.100.0/24 are answered on this link (the probing host plays one).
        self.lab.exec(&ns, "ip", &["route", "add", "198.51.100.0/24", "dev", "kea0"]);
        self.lab.spawn(&ns, "env", &[&env[0], &env[1], "kea-dhcp4", "-c", &config], "kea.log");
        self.wait_for_log("kea.log", "DHCP4_STARTED");
    }

    /// dnsmasq on 192.0.2.2 handing out 192.0.2.150-160 with another gateway: the rogue.
    fn dnsmasq(&mut self) {
        require_program("dnsmasq", "dnsmasq-base");
        let ns = self.host("rogue", "rogue0", "192.0.2.2/24");
        let dir = self.lab.dir.display().to_string();
        let (leases, pid) = (format!("--dhcp-leasefile={dir}/dnsmasq.leases"), format!("--pid-file={dir}/dnsmasq.pid"));
        self.lab.spawn(
            &ns,
            "dnsmasq",
            &[
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--user=root",
                "--port=0",
                "--interface=rogue0",
                "--bind-interfaces",
                "--dhcp-range=192.0.2.150,192.0.2.160,255.255.255.0,10m",
                "--dhcp-option=3,192.0.2.254",
                "--log-dhcp",
                "--log-facility=-",
                &leases,
                &pid,
            ],
            "dnsmasq.log",
        );
        self.wait_for_log("dnsmasq.log", "DHCP, IP range");
    }

    fn wait_for_log(&self, log: &str, line: &str) {
        dhcplab_tests::wait_for(std::time::Duration::from_secs(10), line, || {
            self.lab.log(log).contains(line).then_some(())
        });
    }

    /// `dhcplab probe eth0 ARGS` on the probing host, listening 2 s unless ARGS say otherwise.
    fn probe(&self, args: &[&str]) -> Output {
        let bin = dhcplab_bin().to_string_lossy().to_string();
        let mut all = vec!["probe", "eth0"];
        if !args.contains(&"--wait") {
            all.extend(["--wait", "2s"]);
        }
        all.extend_from_slice(args);
        self.lab.exec(&self.probe, &bin, &all)
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn kea_alone_is_one_healthy_server_with_the_options_of_its_config() {
    // The probing interface has no address: the probe needs none and configures nothing.
    let mut lan = Lan::new("pk", None);
    lan.kea();
    let out = lan.probe(&["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["verdict"], "one_server", "{r:#}");
    let servers = r["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{r:#}");
    let kea = &servers[0];
    assert_eq!(kea["server"], "192.0.2.1");
    assert_eq!(kea["reply"], "DHCPOFFER");
    let offered: std::net::Ipv4Addr = kea["address"].as_str().unwrap().parse().unwrap();
    assert!((100..=110).contains(&offered.octets()[3]) && offered.octets()[..3] == [192, 0, 2], "{offered}");
    assert_eq!(kea["mask"], "255.255.255.0");
    assert_eq!(kea["routers"], serde_json::json!(["192.0.2.1"]));
    assert_eq!(kea["dns"], serde_json::json!(["192.0.2.53"]));
    assert_eq!(kea["domain"], "lab.example");
    assert_eq!(kea["lease_secs"], 3600);
    assert_eq!(r["findings"], serde_json::json!([]), "{r:#}");
    // Nothing was taken: Kea wrote no lease for the probe's MAC.
    let leases = std::fs::read_to_string(lan.lab.dir.join("kea-leases4.csv")).unwrap_or_default();
    assert!(!leases.contains(PROBE_MAC), "the probe took a lease:\n{leases}");
    // The same in words, in both languages.
    let out = lan.probe(&[]);
    let said = text(&out);
    assert!(said.contains("server 192.0.2.1") && said.contains("DHCPOFFER") && said.contains("lab.example"), "{said}");
    assert!(said.contains("verdict: one DHCP server (exit 0)"), "{said}");
    let out = lan.probe(&["--lang", "zh"]);
    assert!(text(&out).contains("结论: 一台 DHCP 服务器"), "{}", text(&out));
}

#[test]
fn kea_and_a_rogue_dnsmasq_are_both_reported_and_the_rogue_is_flagged() {
    let mut lan = Lan::new("pr", Some("192.0.2.50/24"));
    lan.kea();
    lan.dnsmasq();
    // dnsmasq pings an address for up to 3 s before offering it: the default wait (5 s) hears it.
    let out = lan.probe(&["--json", "--wait", "5s"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let r = json(&out);
    assert_eq!(r["verdict"], "several_servers", "{r:#}");
    let mut servers: Vec<&str> =
        r["servers"].as_array().unwrap().iter().map(|s| s["server"].as_str().unwrap()).collect();
    servers.sort();
    assert_eq!(servers, ["192.0.2.1", "192.0.2.2"], "{r:#}");
    let rogue = r["servers"].as_array().unwrap().iter().find(|s| s["server"] == "192.0.2.2").unwrap();
    let offered: std::net::Ipv4Addr = rogue["address"].as_str().unwrap().parse().unwrap();
    assert!((150..=160).contains(&offered.octets()[3]), "{rogue:#}");
    assert_eq!(rogue["routers"], serde_json::json!(["192.0.2.254"]));
    let findings = r["findings"].as_array().unwrap();
    let several = findings.iter().find(|f| f["kind"] == "several_servers").expect("the rogue flagged");
    assert_eq!(several["chosen"], r["chosen"]);
    assert!(findings.iter().any(|f| f["kind"] == "differs" && f["field"] == "routers"), "the gateways differ: {r:#}");
    let said = text(&lan.probe(&["--wait", "5s"]));
    assert!(said.contains("2 DHCP servers answered") && said.contains("a client takes this one"), "{said}");
}

#[test]
fn no_server_exits_1_and_explains_link_local() {
    let lan = Lan::new("pn", None);
    let out = lan.probe(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("No DHCP server answered") && said.contains("169.254.0.0/16"), "{said}");
    assert!(said.contains("5 minutes") && said.contains("no-server"), "{said}");
}

#[test]
fn a_request_for_an_address_of_another_network_is_naked_and_the_cause_is_shown() {
    let mut lan = Lan::new("pq", Some("192.0.2.50/24"));
    lan.kea();
    let out = lan.probe(&["--request", "198.51.100.7", "--json"]);
    let r = json(&out);
    let kea = &r["servers"][0];
    assert_eq!(kea["reply"], "DHCPNAK", "{r:#}\n{}", lan.lab.log("kea.log"));
    let nak = r["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "nak").expect("a NAK finding");
    assert_eq!(nak["requested"], "198.51.100.7");
    assert_eq!(nak["outside"], "192.0.2.0/24");
    let said = text(&lan.probe(&["--request", "198.51.100.7"]));
    assert!(said.contains("refused 198.51.100.7 with DHCPNAK") && said.contains("moved"), "{said}");
}

#[test]
fn as_a_relay_kea_offers_from_giaddr_subnet_and_echoes_option_82() {
    let mut lan = Lan::new("pg", Some("192.0.2.50/24"));
    lan.lab.addr(&lan.probe, "eth0", "198.51.100.1/24");
    lan.kea();
    let out = lan.probe(&["--relay", "198.51.100.1", "--circuit-id", "vlan7", "--remote-id", "sw1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), lan.lab.log("kea.log"));
    let r = json(&out);
    assert_eq!(
        (&r["giaddr"], &r["subnet"]),
        (&serde_json::json!("198.51.100.1"), &serde_json::json!("198.51.100.0/24"))
    );
    let kea = &r["servers"][0];
    assert_eq!(kea["server"], "192.0.2.1");
    let offered: std::net::Ipv4Addr = kea["address"].as_str().unwrap().parse().unwrap();
    assert!((100..=110).contains(&offered.octets()[3]) && offered.octets()[..3] == [198, 51, 100], "{kea:#}");
    assert_eq!(kea["routers"], serde_json::json!(["198.51.100.1"]));
    assert_eq!(kea["relay_info"], "echoed", "{kea:#}");
    assert_eq!(r["findings"], serde_json::json!([]), "{r:#}");
    // The option 82 Kea echoed is the one sent: both sub-options, as the inspector reads them.
    let o82 = kea["options"].as_array().unwrap().iter().find(|o| o["code"] == 82).expect("option 82").to_string();
    assert!(o82.contains(r#"Agent Circuit ID \"vlan7\""#) && o82.contains(r#"Agent Remote ID \"sw1\""#), "{o82}");
    // --relay alone relays from the interface's first address: Kea then serves that address's subnet.
    let said = text(&lan.probe(&["--relay"]));
    assert!(said.contains("relayed as giaddr 192.0.2.50") && said.contains("address      192.0.2.1"), "{said}");
    assert!(said.contains("option 82    echoed (RFC 3046 §2.2)"), "{said}");
    // Without an address, --relay alone has no giaddr and says so.
    let bare = Lan::new("ph", None);
    let out = bare.probe(&["--relay"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("has no IPv4 address"), "{}", text(&out));
}

#[test]
fn probe_without_the_capability_says_what_it_needs() {
    // Not root: the raw socket is refused, and the message says why (exit 3, "unknown" to a monitor).
    let lan = Lan::new("pp", None);
    let bin = dhcplab_bin().to_string_lossy().to_string();
    let out = lan.lab.exec(
        &lan.probe,
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            &bin,
            "probe",
            "eth0",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("CAP_NET_RAW"), "{}", text(&out));
    let missing = lan.lab.exec(&lan.probe, &bin, &["probe", "nosuch0"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(text(&missing).contains("no network interface named nosuch0"), "{}", text(&missing));
}
