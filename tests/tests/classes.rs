//! Client classes and network boot with real clients: a dhcpcd that sends a vendor class lands in its
//! class's pool with its class's options; a client announcing x64 UEFI in option 93 is given the UEFI boot
//! file and a legacy BIOS one the BIOS file, checked in the probe's report and in tshark's decoding of a
//! capture. Namespaces on a bridge; needs root.

use dhcplab_tests::{Daemon, NetLab, dhcpcd_with, dhcplab_bin, require_program};

const CONFIG: &str = r#"
[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.50"]
routers = ["192.0.2.1"]
dns = ["192.0.2.53"]
domain_name = "lan.example"

[[subnet.pool]]
range = "192.0.2.100-192.0.2.120"
classes = ["phones"]

[[class]]
name = "phones"
match.vendor_class = ["PhoneOS*"]
dns = ["192.0.2.54"]
domain_name = "phones.example"

[[class]]
name = "uefi"
match.arch = ["efi-x64"]
next_server = "192.0.2.5"
boot_file = "ipxe.efi"

[[class]]
name = "bios"
match.arch = ["bios"]
next_server = "192.0.2.5"
boot_file = "undionly.kpxe"
"#;

/// The daemon's namespace and two hosts on a bridge; the daemon serving `CONFIG`. Returns (daemon, its
/// namespace, phone, boot).
fn lan(lab: &mut NetLab) -> (Daemon, String, String, String) {
    let br = lab.ns("lan");
    lab.bridge(&br);
    let (srv, phone, boot) =
        (lab.on_bridge(&br, "srv", "srv0"), lab.on_bridge(&br, "phone", "eth0"), lab.on_bridge(&br, "boot", "eth0"));
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    let db = lab.dir.join("leases.sqlite3");
    let cfg = format!("[dhcp]\ninterfaces = [\"srv0\"]\nlease_db = \"{}\"\n{CONFIG}", db.display());
    let d = Daemon::start(lab, &srv, &cfg);
    (d, srv, phone, boot)
}

#[test]
fn dhcpcd_with_a_vendor_class_lands_in_its_class_pool_with_its_options() {
    require_program("dhcpcd", "dhcpcd-base");
    let mut lab = NetLab::new("cls");
    let (d, _, phone, _) = lan(&mut lab);
    let env = dhcpcd_with(&lab, &phone, "eth0", &["-i", "PhoneOS-4.2"]);
    let ip = env.get("new_ip_address").cloned().unwrap_or_default();
    let last: u8 = ip.rsplit('.').next().and_then(|o| o.parse().ok()).unwrap_or(0);
    assert!(ip.starts_with("192.0.2.") && (100..=120).contains(&last), "the phones' pool: {env:?}");
    assert_eq!(env.get("new_domain_name_servers").map(String::as_str), Some("192.0.2.54"), "{env:?}");
    assert_eq!(env.get("new_domain_name").map(String::as_str), Some("phones.example"), "{env:?}");
    assert_eq!(env.get("new_routers").map(String::as_str), Some("192.0.2.1"), "the subnet's router");
    let lease = d.lease(&lab, &ip).expect("listed");
    assert_eq!((&lease["state"], &lease["class"]), (&"bound".into(), &"phones".into()), "{lease}");
    // Counted per class in the metrics and the stats.
    let metrics = d.get_text(&lab, "/metrics").unwrap_or_default();
    assert!(metrics.lines().any(|l| l == "dhcplab_class_replies_total{class=\"phones\"} 2"), "{metrics}");
    assert_eq!(d.stats(&lab)["engine"]["class_replies"]["phones"], 2);
}

#[test]
fn uefi_and_bios_firmware_get_their_own_boot_files() {
    require_program("tshark", "tshark");
    let mut lab = NetLab::new("pxe");
    let (_d, srv, phone, boot) = lan(&mut lab);
    let bin = dhcplab_bin().to_string_lossy().to_string();
    // Recorded on the daemon's link; the capture is proven live with a marker to a host given a fixed address.
    lab.addr(&phone, "eth0", "192.0.2.9/24");
    let cap = lab.dir.join("boot.pcap");
    let tshark = lab.capture(&srv, "srv0", "udp port 67 or udp port 68", &cap, "192.0.2.9");
    let cap = cap.to_string_lossy().to_string();
    let probe = |arch: &str| {
        let out = lab.exec(&boot, &bin, &["probe", "eth0", "--arch", arch, "--wait", "1s", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        r["servers"][0].clone()
    };
    let uefi = probe("7");
    assert_eq!((&uefi["boot_file"], &uefi["next_server"]), (&"ipxe.efi".into(), &"192.0.2.5".into()), "{uefi:#}");
    let bios = probe("0");
    assert_eq!((&bios["boot_file"], &bios["next_server"]), (&"undionly.kpxe".into(), &"192.0.2.5".into()), "{bios:#}");
    lab.kill(tshark, false);
    // tshark reads the same from the wire: each OFFER's `file` and `siaddr`, after the DISCOVER's option 93.
    let fields = lab.exec(
        &boot,
        "tshark",
        &["-r", &cap, "-Y", "dhcp.option.dhcp == 2", "-T", "fields", "-e", "dhcp.file", "-e", "dhcp.ip.server"],
    );
    let offers = String::from_utf8_lossy(&fields.stdout).to_string();
    assert!(offers.lines().any(|l| l == "ipxe.efi\t192.0.2.5"), "{offers}");
    assert!(offers.lines().any(|l| l == "undionly.kpxe\t192.0.2.5"), "{offers}");
    let archs = lab.exec(
        &boot,
        "tshark",
        &["-r", &cap, "-Y", "dhcp.option.dhcp == 1", "-T", "fields", "-e", "dhcp.option.client_system_architecture"],
    );
    let archs = String::from_utf8_lossy(&archs.stdout).to_string();
    assert!(archs.lines().any(|l| l == "7") && archs.lines().any(|l| l == "0"), "{archs}");
}
