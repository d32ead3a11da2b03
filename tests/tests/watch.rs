//! `dhcplab watch` on a LAN that Kea serves: a real dhclient's DORA and a udhcpc that RELEASEs, told in
//! order, kept in a pcap that tshark reads cleanly, and served as leases on the watcher's API. The bridge
//! forgets MACs at once (a hub, as a switch's mirror port would be), so the watcher hears unicast replies too.

use dhcplab_tests::{NetLab, dhcplab_bin, require_program, wait_for};
use std::time::Duration;

const DHCLIENT_MAC: &str = "52:54:00:00:0d:01";
const UDHCPC_MAC: &str = "52:54:00:00:0d:02";

struct Lan {
    lab: NetLab,
    bridge: String,
}

impl Lan {
    fn new(tag: &str) -> Lan {
        let mut lab = NetLab::new(tag);
        let bridge = lab.ns("lan");
        lab.bridge(&bridge);
        // No MAC learning: every frame goes to every port, as on a hub or a mirror port.
        lab.exec(&bridge, "ip", &["link", "set", "br0", "type", "bridge", "ageing_time", "0"]);
        Lan { lab, bridge }
    }

    /// A namespace on the bridge with `iface`, its MAC and (maybe) an address.
    fn host(&mut self, name: &str, iface: &str, mac: Option<&str>, cidr: Option<&str>) -> String {
        let ns = self.lab.on_bridge(&self.bridge, name, iface);
        if let Some(m) = mac {
            self.lab.exec(&ns, "ip", &["link", "set", iface, "address", m]);
        }
        if let Some(c) = cidr {
            self.lab.addr(&ns, iface, c);
        }
        ns
    }

    fn kea(&mut self) {
        require_program("kea-dhcp4", "kea-dhcp4-server");
        let ns = self.host("kea", "kea0", None, Some("192.0.2.1/24"));
        let dir = self.lab.dir.clone();
        let config = dir.join("kea.json");
        std::fs::write(
            &config,
            r#"{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "kea0" ] },
  "lease-database": { "type": "memfile", "persist": false },
  "valid-lifetime": 3600,
  "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.100 - 192.0.2.110" } ],
                 "option-data": [ { "name": "routers", "data": "192.0.2.1" } ] } ]
} }"#,
        )
        .unwrap();
        let env = [format!("KEA_LOCKFILE_DIR={}", dir.display()), format!("KEA_PIDFILE_DIR={}", dir.display())];
        let config = config.to_string_lossy().to_string();
        self.lab.spawn(&ns, "env", &[&env[0], &env[1], "kea-dhcp4", "-c", &config], "kea.log");
        wait_for(Duration::from_secs(10), "Kea to start", || {
            self.lab.log("kea.log").contains("DHCP4_STARTED").then_some(())
        });
    }
}

#[test]
fn watch_tells_a_dhclient_dora_and_a_udhcpc_release_in_order_and_keeps_a_clean_pcap() {
    require_program("dhclient", "isc-dhcp-client");
    require_program("busybox", "busybox");
    require_program("tshark", "tshark");
    let mut lan = Lan::new("wt");
    lan.kea();
    let watcher = lan.host("watch", "eth0", None, None);
    let pcap = lan.lab.dir.join("watch.pcap").to_string_lossy().to_string();
    let bin = dhcplab_bin().to_string_lossy().to_string();
    lan.lab.spawn(&watcher, &bin, &["watch", "eth0", "--pcap", &pcap, "--http", "127.0.0.1:8068"], "watch.log");
    wait_for(Duration::from_secs(20), "the watcher to listen", || {
        lan.lab.log("watch.log").contains("listening to DHCP on eth0").then_some(())
    });

    // dhclient: DISCOVER, OFFER, REQUEST, ACK.
    let dhclient = lan.host("dhc", "eth0", Some(DHCLIENT_MAC), None);
    let conf = lan.lab.dir.join("dhclient.conf");
    std::fs::write(&conf, "initial-interval 1;\nbackoff-cutoff 2;\n").unwrap();
    let d = |f: &str| lan.lab.dir.join(f).to_string_lossy().to_string();
    let (cf, lf, pf) = (d("dhclient.conf"), d("dhclient.leases"), d("dhclient.pid"));
    let r = lan.lab.exec(
        &dhclient,
        "timeout",
        &["30", "dhclient", "-1", "-sf", "/bin/true", "-cf", &cf, "-lf", &lf, "-pf", &pf, "eth0"],
    );
    assert!(r.status.success(), "dhclient: {}", String::from_utf8_lossy(&r.stderr));
    wait_for(Duration::from_secs(10), "the watcher to tell dhclient's lease", || {
        lan.lab.log("watch.log").contains(&format!("⇒ {DHCLIENT_MAC} bound 192.0.2.")).then_some(())
    });

    // udhcpc: a lease, configured by its script (a RELEASE goes from the address), then released when it is
    // stopped (-R).
    let udhcpc = lan.host("udh", "eth0", Some(UDHCPC_MAC), None);
    let script = lan.lab.dir.join("udhcpc.sh");
    std::fs::write(&script, "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add \"$ip/$mask\" dev \"$interface\"\nexit 0\n")
        .unwrap();
    lan.lab.exec(&udhcpc, "chmod", &["+x", &script.to_string_lossy()]);
    let pid = lan.lab.spawn(
        &udhcpc,
        "busybox",
        &["udhcpc", "-f", "-R", "-i", "eth0", "-s", &script.to_string_lossy(), "-t", "3", "-T", "2"],
        "udhcpc.log",
    );
    wait_for(Duration::from_secs(15), "the watcher to tell udhcpc's lease", || {
        lan.lab.log("watch.log").contains(&format!("⇒ {UDHCPC_MAC} bound 192.0.2.")).then_some(())
    });
    lan.lab.kill(pid, false);
    wait_for(Duration::from_secs(10), "the watcher to tell udhcpc's RELEASE", || {
        lan.lab.log("watch.log").contains(&format!("⇒ {UDHCPC_MAC} gave 192.0.2.")).then_some(())
    });
    assert!(lan.lab.log("udhcpc.log").contains("unicasting a release"), "{}", lan.lab.log("udhcpc.log"));

    // In order, each packet narrated, each exchange summed up.
    let log = lan.lab.log("watch.log");
    let told: Vec<(&str, &str)> = log
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().skip(1);
            let (mac, msg) = (w.next()?, w.next()?);
            [DHCLIENT_MAC, UDHCPC_MAC].contains(&mac).then_some((mac, msg))
        })
        .collect();
    let expect = [
        (DHCLIENT_MAC, "DISCOVER"),
        (DHCLIENT_MAC, "OFFER"),
        (DHCLIENT_MAC, "REQUEST"),
        (DHCLIENT_MAC, "ACK"),
        (UDHCPC_MAC, "DISCOVER"),
        (UDHCPC_MAC, "OFFER"),
        (UDHCPC_MAC, "REQUEST"),
        (UDHCPC_MAC, "ACK"),
        (UDHCPC_MAC, "RELEASE"),
    ];
    assert_eq!(told, expect, "{log}");
    assert!(log.contains("broadcasts DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67"), "{log}");
    assert!(log.contains("server 192.0.2.1 offers 192.0.2.1"), "{log}");
    assert!(log.contains("gives 192.0.2.") && log.contains("by unicast to the server that leased it"), "{log}");

    // The leases seen, on the watcher's own API.
    let api = lan.lab.exec(&watcher, "curl", &["-sf", "http://127.0.0.1:8068/api/leases"]);
    let leases: serde_json::Value = serde_json::from_slice(&api.stdout).expect("the watcher's /api/leases");
    let state_of = |mac: &str| {
        leases.as_array().unwrap().iter().find(|l| l["hw"] == mac).map(|l| l["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state_of(DHCLIENT_MAC).as_deref(), Some("bound"), "{leases:#}");
    assert_eq!(state_of(UDHCPC_MAC).as_deref(), Some("released"), "{leases:#}");

    // The capture: every frame told is in it, and tshark finds nothing malformed.
    let fields = lan.lab.exec(
        &watcher,
        "tshark",
        &["-r", &pcap, "-T", "fields", "-E", "occurrence=f", "-e", "dhcp.option.dhcp"],
    );
    let types: Vec<String> = String::from_utf8_lossy(&fields.stdout).lines().map(str::to_string).collect();
    assert!(types.len() >= expect.len(), "{types:?}");
    for t in ["1", "2", "3", "5", "7"] {
        assert!(types.iter().any(|x| x == t), "DHCP message type {t} in the capture: {types:?}");
    }
    let bad = lan.lab.exec(&watcher, "tshark", &["-r", &pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error"]);
    assert!(String::from_utf8_lossy(&bad.stdout).trim().is_empty(), "{}", String::from_utf8_lossy(&bad.stdout));
}

#[test]
fn the_dashboard_shows_a_watched_link_live_over_the_daemons_bridge() {
    require_program("dhclient", "isc-dhcp-client");
    require_program("node", "nodejs");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let helper = root.join("tests/browser/dashboard-netns.helper.mjs");
    assert!(root.join("tests/browser/node_modules/playwright-core").is_dir(), "Playwright missing: run scripts/setup");
    assert!(root.join("dist/index.html").is_file(), "the web app is not built: run scripts/build-web");
    let mut lan = Lan::new("wd");
    lan.kea();
    let watcher = lan.host("watch", "eth0", None, None);
    let bin = dhcplab_bin().to_string_lossy().to_string();
    lan.lab.spawn(&watcher, &bin, &["watch", "eth0", "--http", "127.0.0.1:8068"], "watch.log");
    wait_for(Duration::from_secs(20), "the watcher to listen", || {
        lan.lab.log("watch.log").contains("on http://127.0.0.1:8068/#dashboard").then_some(())
    });
    // The same browser helper as the daemon's dashboard test, pointed at the watcher.
    let state = lan.lab.dir.join("browser");
    std::fs::create_dir_all(&state).unwrap();
    let artifacts = root.join("tests/artifacts/watch");
    std::fs::create_dir_all(&artifacts).unwrap();
    let args = [
        helper.to_string_lossy().to_string(),
        "http://127.0.0.1:8068".into(),
        state.to_string_lossy().into(),
        artifacts.to_string_lossy().into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lan.lab.spawn(&watcher, "node", &args, "browser.log");
    let ready = dhcplab_tests::browser_report(&lan.lab, &state, "ready", Duration::from_secs(60));
    assert_eq!(ready["rows"], 0, "nothing seen yet");

    let client = lan.host("dhc", "eth0", Some(DHCLIENT_MAC), None);
    let d = |f: &str| lan.lab.dir.join(f).to_string_lossy().to_string();
    std::fs::write(d("dhclient.conf"), "initial-interval 1;\nbackoff-cutoff 2;\n").unwrap();
    let (cf, lf, pf) = (d("dhclient.conf"), d("dhclient.leases"), d("dhclient.pid"));
    let r = lan.lab.exec(
        &client,
        "timeout",
        &["30", "dhclient", "-1", "-sf", "/bin/true", "-cf", &cf, "-lf", &lf, "-pf", &pf, "eth0"],
    );
    assert!(r.status.success(), "dhclient: {}", String::from_utf8_lossy(&r.stderr));
    let bound = dhcplab_tests::browser_report(&lan.lab, &state, "bound", Duration::from_secs(30));
    assert_eq!(bound["mac"], DHCLIENT_MAC);
    let ip = bound["ip"].as_str().unwrap().to_string();
    assert!(ip.starts_with("192.0.2.1"), "{bound}");
    // The page says whose link it is and offers nothing to administer: the watcher serves no daemon.
    assert_eq!(bound["watching"], "Listening to eth0 · read only", "{bound}");
    assert_eq!((&bound["token"], &bound["actions"]), (&serde_json::json!(0), &serde_json::json!([])), "{bound}");

    // The RELEASE goes from the address, so the client needs it on its interface.
    lan.lab.exec(&client, "ip", &["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
    let r = lan.lab.exec(&client, "dhclient", &["-r", "-sf", "/bin/true", "-cf", &cf, "-lf", &lf, "-pf", &pf, "eth0"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let result = dhcplab_tests::browser_report(&lan.lab, &state, "result", Duration::from_secs(90));
    assert_eq!(result["problems"], serde_json::json!([]), "no dialog, page error or console error");
    assert_eq!(
        result["flow"],
        serde_json::json!(["DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK", "DHCPRELEASE"]),
        "{result}"
    );
    // Kea, not dhcplab, answered: its lifeline is named by its address.
    assert_eq!(result["lanes"][0], "server 192.0.2.1", "{result}");
    assert_eq!(result["phone"]["scroll"], result["phone"]["width"], "nothing sticks out at a phone's width: {result}");
    let table = (result["phone"]["table_scroll"].as_i64(), result["phone"]["table_width"].as_i64());
    assert!(matches!(table, (Some(s), Some(w)) if w > 0 && s <= w), "the lease table fits a phone's width: {result}");
}
