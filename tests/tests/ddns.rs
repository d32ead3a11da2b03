//! Dynamic DNS against a real BIND 9: the daemon registers a real dhclient's name (A, DHCID) and address
//! (PTR) with TSIG-signed updates, `dig` finds them, a renewal puts back a record lost out of band, they
//! go away after the release, and a second client claiming the same name does not take it over; thousands of leases Kea registered, imported and ending
//! together, each lose their names. Namespaces on a bridge; needs root.

use dhcplab_tests::{Daemon, NetLab, require_program, wait_for};
use std::time::Duration;

const DNS: &str = "192.0.2.53";
/// A TSIG secret (32 bytes, base64), as `tsig-keygen` would print one.
const SECRET: &str = "c2VjcmV0LWZvci1kaGNwbGFiLWRkbnMtdGVzdHMtMzI=";

struct Lan {
    lab: NetLab,
    srv: String,
    dns: String,
    bridge: String,
}

impl Lan {
    fn new(tag: &str) -> Lan {
        let mut lab = NetLab::new(tag);
        let bridge = lab.ns("lan");
        lab.bridge(&bridge);
        let mut lan = Lan { srv: String::new(), dns: String::new(), bridge, lab };
        lan.srv = lan.host("srv", "srv0", Some("192.0.2.1/24"));
        lan.dns = lan.host("dns", "dns0", Some(&format!("{DNS}/24")));
        lan
    }

    fn host(&mut self, name: &str, iface: &str, cidr: Option<&str>) -> String {
        let ns = self.lab.on_bridge(&self.bridge, name, iface);
        if let Some(c) = cidr {
            self.lab.addr(&ns, iface, c);
        }
        ns
    }

    /// BIND 9 serving lab.example (with `records` in it) and 2.0.192.in-addr.arpa, open to updates signed
    /// with the key.
    fn named(&mut self, records: &str) {
        require_program("named", "bind9");
        let dir = self.lab.dir.join("named");
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let soa =
            "$TTL 300\n@ IN SOA ns.lab.example. admin.lab.example. 1 3600 600 86400 300\n@ IN NS ns.lab.example.\n";
        std::fs::write(dir.join("fwd.zone"), format!("{soa}ns IN A {DNS}\n{records}")).unwrap();
        std::fs::write(dir.join("rev.zone"), soa).unwrap();
        let conf = format!(
            r#"options {{
  directory "{d}"; pid-file "{d}/named.pid"; session-keyfile "{d}/session.key"; managed-keys-directory "{d}";
  listen-on port 53 {{ {DNS}; }}; listen-on-v6 {{ none; }}; recursion no; dnssec-validation no;
}};
controls {{ }};
key "dhcp-key" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
zone "lab.example" {{ type primary; file "{d}/fwd.zone"; allow-update {{ key "dhcp-key"; }}; allow-transfer {{ any; }}; }};
zone "2.0.192.in-addr.arpa" {{ type primary; file "{d}/rev.zone"; allow-update {{ key "dhcp-key"; }}; }};
"#
        );
        let path = dir.join("named.conf");
        std::fs::write(&path, conf).unwrap();
        let dns = self.dns.clone();
        self.lab.spawn(&dns, "named", &["-g", "-n", "1", "-c", &path.to_string_lossy()], "named.log");
        wait_for(Duration::from_secs(20), "named to run", || {
            self.lab.log("named.log").contains("running").then_some(())
        });
    }

    /// One answer of `dig` from the server's namespace, or "" when there is none.
    fn dig(&self, name: &str, rtype: &str) -> String {
        let out = self.lab.exec(&self.srv, "dig", &[&format!("@{DNS}"), name, rtype, "+short", "+time=2", "+tries=1"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until `dig` answers `want` (or nothing, for "").
    fn wait_dig(&self, name: &str, rtype: &str, want: &str) {
        wait_for(Duration::from_secs(20), &format!("{name} {rtype} to be {want:?}"), || {
            (self.dig(name, rtype) == want).then_some(())
        });
    }

    /// A dhclient that calls itself `host`; returns its address once bound.
    fn dhclient(&mut self, name: &str, host: &str) -> (String, String) {
        let ns = self.host(name, "eth0", None);
        let f = |x: &str| self.lab.dir.join(format!("{name}.{x}")).to_string_lossy().to_string();
        std::fs::write(f("conf"), format!("send host-name \"{host}\";\n")).unwrap();
        let (cf, lf, pf) = (f("conf"), f("leases"), f("pid"));
        let out =
            self.lab.exec(&ns, "dhclient", &["-1", "-sf", "/bin/true", "-cf", &cf, "-lf", &lf, "-pf", &pf, "eth0"]);
        assert!(out.status.success(), "dhclient: {}", String::from_utf8_lossy(&out.stderr));
        let leases = std::fs::read_to_string(&lf).unwrap();
        let ip =
            leases.rsplit("fixed-address ").next().and_then(|l| l.split(';').next()).unwrap_or_default().to_string();
        (ns, ip)
    }

    /// The client in `ns` starts again from its lease file (INIT-REBOOT, RFC 2131 §4.3.2): a renewal.
    fn reboot(&self, ns: &str, name: &str) {
        let f = |x: &str| self.lab.dir.join(format!("{name}.{x}")).to_string_lossy().to_string();
        let out = self.lab.exec(
            ns,
            "dhclient",
            &["-1", "-sf", "/bin/true", "-cf", &f("conf"), "-lf", &f("leases"), "-pf", &f("pid"), "eth0"],
        );
        assert!(out.status.success(), "dhclient: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn release(&self, ns: &str, name: &str, ip: &str) {
        let f = |x: &str| self.lab.dir.join(format!("{name}.{x}")).to_string_lossy().to_string();
        self.lab.exec(ns, "ip", &["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        let out = self.lab.exec(
            ns,
            "dhclient",
            &["-r", "-sf", "/bin/true", "-cf", &f("conf"), "-lf", &f("leases"), "-pf", &f("pid"), "eth0"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn bind9_gets_a_dhclients_name_and_address_and_loses_them_at_release_and_no_one_takes_a_name_over() {
    require_program("dhclient", "isc-dhcp-client");
    require_program("dig", "bind9-dnsutils");
    let mut lan = Lan::new("ddns");
    lan.named("");
    let cfg = format!(
        r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{}"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.100-192.0.2.150"]

[ddns]
server = "{DNS}:53"
forward_zone = "lab.example"
reverse_zone = "2.0.192.in-addr.arpa"
key_name = "dhcp-key"
key_secret = "{SECRET}"
update_on_renew = true
"#,
        lan.lab.dir.join("leases.sqlite3").display()
    );
    let srv = lan.srv.clone();
    let d = Daemon::start(&mut lan.lab, &srv, &cfg);

    let (alpha_ns, alpha) = lan.dhclient("c1", "alpha");
    assert!(alpha.starts_with("192.0.2.1"), "{alpha}");
    lan.wait_dig("alpha.lab.example", "A", &alpha);
    let reverse = {
        let o: Vec<&str> = alpha.split('.').collect();
        format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
    };
    lan.wait_dig(&reverse, "PTR", "alpha.lab.example.");
    assert!(!lan.dig("alpha.lab.example", "TYPE49").is_empty(), "the DHCID record ties the name to the client");
    // The A record lost out of band (a zone restored from an old copy): with update_on_renew, the client's
    // next renewal puts it back.
    require_program("nsupdate", "bind9-dnsutils");
    let delete = format!("server {DNS}\nzone lab.example\nupdate delete alpha.lab.example A\nsend\n");
    let nsupdate = format!("printf '{delete}' | nsupdate -y hmac-sha256:dhcp-key:{SECRET}");
    assert!(lan.lab.exec(&lan.srv, "sh", &["-c", &nsupdate]).status.success(), "nsupdate");
    lan.wait_dig("alpha.lab.example", "A", "");
    lan.reboot(&alpha_ns, "c1");
    lan.wait_dig("alpha.lab.example", "A", &alpha);
    assert_eq!(d.lease(&lan.lab, &alpha).expect("listed")["dns_name"], "alpha.lab.example.");

    // A second client calling itself alpha gets an address, but not the name.
    let (_, other) = lan.dhclient("c2", "alpha");
    assert_ne!(other, alpha);
    // Its lease records the name it would have had; DNS keeps the first client's.
    wait_for(Duration::from_secs(20), "the conflict to be counted", || {
        (d.stats(&lan.lab)["dns_conflicts"] == 1).then_some(())
    });
    assert_eq!(lan.dig("alpha.lab.example", "A"), alpha, "the name still points at the first client");

    // Released, the first client's records go.
    lan.release(&alpha_ns, "c1", &alpha);
    lan.wait_dig("alpha.lab.example", "A", "");
    lan.wait_dig(&reverse, "PTR", "");
    let metrics = d.get_text(&lan.lab, "/metrics").unwrap_or_default();
    assert!(metrics.lines().any(|l| l == "dhcplab_dns_updates_total{result=\"conflict\"} 1"), "{metrics}");
    assert!(metrics.lines().any(|l| l == "dhcplab_dns_updates_total{result=\"failed\"} 0"), "{metrics}");
    d.log_containing(&lan.lab, "belongs to another client");
    // BIND saw signed updates only.
    let named = lan.lab.log("named.log");
    assert!(named.contains("signer \"dhcp-key\""), "{named}");
}

/// Leases Kea registered in DNS, imported, and ending at one moment: more than the updater's queue holds.
/// Every name is removed, none counted as failed.
#[test]
fn thousands_of_imported_leases_ending_together_each_lose_their_names() {
    require_program("dig", "bind9-dnsutils");
    // Built first: the leases' end is counted from when the daemon can start.
    let bin = dhcplab_tests::dhcplab_bin();
    const N: u32 = 6000;
    let mut lan = Lan::new("ddnsx");
    let ip = |i: u32| std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 64, 0, 1)) + i);
    let hw = |i: u32| dhcplab_engine::hwaddr::HwAddr::ethernet([2, 0, 0, 0, (i >> 8) as u8, i as u8]);
    // The zone as Kea left it: each name's A record and its DHCID (RFC 3597's generic form).
    let mut records = String::new();
    for i in 0..N {
        let dhcid = dhcplab_engine::ddns::dhcid(&hw(i), None, &format!("h{i}.lab.example."));
        let hex: String = dhcid.iter().map(|b| format!("{b:02x}")).collect();
        records += &format!("h{i} IN A {}\nh{i} IN TYPE49 \\# {} {hex}\n", ip(i), dhcid.len());
    }
    lan.named(&records);
    assert_eq!(lan.dig("h0.lab.example", "A"), "10.64.0.1");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ends = now + 8;
    let mut csv =
        String::from("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state\n");
    for i in 0..N {
        csv += &format!("{},{},,3600,{ends},2,1,0,h{i}.lab.example.,0\n", ip(i), hw(i));
    }
    let kea = lan.lab.dir.join("kea-leases4.csv");
    std::fs::write(&kea, csv).unwrap();
    let config = lan.lab.dir.join("dhcplab.toml");
    std::fs::write(
        &config,
        format!(
            r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{}"

[http]
listen = "127.0.0.1:8067"
admin_token = "test-token-0123456789"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.100-192.0.2.150"]

[[subnet]]
cidr = "10.64.0.0/16"
pools = ["10.64.0.1-10.64.255.254"]

[ddns]
server = "{DNS}:53"
forward_zone = "lab.example"
key_name = "dhcp-key"
key_secret = "{SECRET}"
"#,
            lan.lab.dir.join("leases.sqlite3").display()
        ),
    )
    .unwrap();
    let cfg = config.to_string_lossy().to_string();
    let out = std::process::Command::new(bin)
        .args(["leases", "import", "--config", &cfg, "--from", "kea-csv"])
        .arg(&kea)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let srv = lan.srv.clone();
    let d = dhcplab_tests::Daemon::start_with(
        &mut lan.lab,
        &srv,
        config,
        "127.0.0.1:8067".into(),
        "test-token-0123456789".into(),
    );
    assert_eq!(d.lease(&lan.lab, "10.64.0.1").expect("imported")["dns_name"], "h0.lab.example.");

    let updated = wait_for(Duration::from_secs(120), "every name's removal", || {
        let s = d.stats(&lan.lab);
        (s["dns_updated"].as_u64()? + s["dns_failed"].as_u64()? >= u64::from(N)).then_some(s)
    });
    let ended = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    eprintln!("{N} removals carried out {:.1} s after the leases ended", ended - ends as f64);
    assert_eq!((updated["dns_updated"].as_u64(), updated["dns_failed"].as_u64()), (Some(u64::from(N)), Some(0)));
    // What is left in the zone: its name server's address, no lease's name.
    let out = lan.lab.exec(&lan.srv, "dig", &[&format!("@{DNS}"), "lab.example", "AXFR", "+nocmd", "+nostats"]);
    let zone = String::from_utf8_lossy(&out.stdout);
    let left: Vec<&str> = zone.lines().filter(|l| l.starts_with('h')).collect();
    assert!(
        zone.contains("ns.lab.example.") && left.is_empty(),
        "{} records left: {:?}",
        left.len(),
        &left[..left.len().min(5)]
    );
}
