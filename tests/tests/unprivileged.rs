//! The daemon serves a real client without root: as `nobody`, with only the two capabilities DHCP needs
//! (CAP_NET_BIND_SERVICE for port 67, CAP_NET_RAW to bind its socket to the interface).

use dhcplab_tests::{Daemon, NetLab, one_client_lan, require_program};
use std::os::unix::fs::chown;

const NOBODY: u32 = 65534;

/// A line of /proc/PID/status (`Uid`, `CapEff`).
fn status(pid: u32, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon is running");
    text.lines().find_map(|l| l.strip_prefix(&format!("{key}:"))).unwrap_or_default().trim().to_string()
}

#[test]
fn a_real_client_is_served_by_a_daemon_with_two_capabilities_and_no_root() {
    require_program("setpriv", "util-linux");
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("npr");
    let (srv, cli, cfg) = one_client_lan(&mut lab);
    // The lease database lives in a directory of the daemon's own user.
    let dir = lab.dir.join("db");
    std::fs::create_dir(&dir).unwrap();
    chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let cfg =
        cfg.replace(&lab.dir.join("l.sqlite3").display().to_string(), &dir.join("l.sqlite3").display().to_string());
    let caps = "+net_bind_service,+net_raw";
    let d = Daemon::start_as(
        &mut lab,
        &srv,
        &cfg,
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &format!("--inh-caps={caps}"),
            &format!("--ambient-caps={caps}"),
            &format!("--bounding-set=-all,{caps}"),
            "--",
        ],
    );
    assert!(status(d.pid, "Uid").starts_with("65534"), "Uid: {}", status(d.pid, "Uid"));
    // CAP_NET_BIND_SERVICE (10) and CAP_NET_RAW (13), nothing else.
    assert_eq!(status(d.pid, "CapEff"), "0000000000002400");

    let lf = lab.dir.join("npr.leases");
    let pf = lab.dir.join("npr.pid");
    let out = lab.exec(
        &cli,
        "dhclient",
        &["-v", "-1", "-sf", "/bin/true", "-lf", &lf.to_string_lossy(), "-pf", &pf.to_string_lossy(), "eth0"],
    );
    assert!(out.status.success(), "dhclient failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let leases = d.get(&lab, "/api/leases?state=bound");
    assert_eq!(leases.as_array().map(Vec::len), Some(1), "{leases}");
    // The lease is durable in the user's own database.
    assert!(dir.join("l.sqlite3").exists());
}

#[test]
fn started_as_root_the_daemon_becomes_its_user_after_binding_and_keeps_serving() {
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("usr");
    let (srv, cli, cfg) = one_client_lan(&mut lab);
    let cfg = cfg.replace("[dhcp]\n", "[dhcp]\nuser = \"nobody\"\n");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    assert!(status(d.pid, "Uid").starts_with("65534"), "Uid: {}", status(d.pid, "Uid"));
    assert_eq!(status(d.pid, "CapEff"), "0000000000000000", "no capability left");

    let lf = lab.dir.join("usr.leases");
    let pf = lab.dir.join("usr.pid");
    let out = lab.exec(
        &cli,
        "dhclient",
        &["-v", "-1", "-sf", "/bin/true", "-lf", &lf.to_string_lossy(), "-pf", &pf.to_string_lossy(), "eth0"],
    );
    assert!(out.status.success(), "dhclient failed:\n{}", String::from_utf8_lossy(&out.stderr));
    // The ACK came after the lease was committed, by the daemon as `nobody`.
    assert_eq!(d.get(&lab, "/api/leases?state=bound").as_array().map(Vec::len), Some(1));
    assert_eq!(d.stats(&lab)["store_failures"], 0);
}
