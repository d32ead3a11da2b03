//! Reservations win over dynamic leases, with real clients: a client holding a pool address is given a
//! reservation (by editing the config and reloading, or through the API), and at its next renewal it is
//! refused the old address and moves to the reserved one. Namespaces as in `real_clients.rs`; needs root.

use dhcplab_tests::{Daemon, NetLab, require_program, wait_for};
use std::time::Duration;

const RESERVED: &str = "192.0.2.77";

/// The daemon's config: one subnet, the pool from .10, leases of `lease`.
fn config(lab: &NetLab, lease: &str) -> String {
    format!(
        r#"[dhcp]
interfaces = ["srv0"]
lease_db = "{db}"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.50"]
routers = ["192.0.2.1"]
lease_time = "{lease}"
"#,
        db = lab.dir.join("leases.sqlite3").display()
    )
}

/// The daemon's namespace and one client's, on a veth.
fn lan(lab: &mut NetLab) -> (String, String) {
    let srv = lab.ns("srv");
    let cli = lab.ns("cli");
    lab.veth(&srv, "srv0", &cli, "eth0");
    lab.addr(&srv, "srv0", "192.0.2.1/24");
    (srv, cli)
}

fn mac_of(lab: &NetLab, ns: &str) -> String {
    String::from_utf8_lossy(&lab.exec(ns, "cat", &["/sys/class/net/eth0/address"]).stdout).trim().to_string()
}

/// A client script that logs each call as "EVENT ADDRESS" and configures the address (renewals are unicast
/// from it), as the clients' own scripts would.
fn script(lab: &NetLab, name: &str, body: &str) -> String {
    let path = lab.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\nexit 0\n")).unwrap();
    std::process::Command::new("chmod").args(["+x", &path.to_string_lossy()]).status().unwrap();
    path.to_string_lossy().to_string()
}

/// Waits for `line` in the client's event log; returns the log.
fn wait_for_event(lab: &NetLab, log: &str, line: &str, limit: Duration) -> String {
    wait_for(limit, line, || {
        let text = lab.log(log);
        text.lines().any(|l| l.trim() == line).then_some(text)
    })
}

/// The daemon's record of `ip`: its state and MAC.
fn record(d: &Daemon, lab: &NetLab, ip: &str) -> (String, String) {
    let l = d.lease(lab, ip).unwrap_or_else(|| panic!("no record of {ip}"));
    (l["state"].as_str().unwrap_or_default().to_string(), l["hw"].as_str().unwrap_or_default().to_string())
}

/// Whether the daemon holds `ip` bound (a freed address may have no record at all).
fn bound(d: &Daemon, lab: &NetLab, ip: &str) -> bool {
    d.lease(lab, ip).is_some_and(|l| l["state"] == "bound")
}

/// POSTs JSON with the admin token; returns (HTTP status, body).
fn post_json(d: &Daemon, lab: &NetLab, path: &str, body: &str) -> (u16, String) {
    let auth = format!("Authorization: Bearer {}", d.token);
    let url = format!("http://{}{path}", d.http);
    let args = [
        "-s",
        "-m",
        "5",
        "-w",
        "\n%{http_code}",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "--data",
        body,
        &url,
    ];
    let out = String::from_utf8_lossy(&lab.exec(&d.ns, "curl", &args).stdout).to_string();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn udhcpc_moves_to_a_reservation_added_by_reload_at_its_renewal() {
    require_program("busybox", "busybox");
    let mut lab = NetLab::new("rsvu");
    let (srv, cli) = lan(&mut lab);
    let cfg = config(&lab, "1h");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let events = lab.dir.join("udhcpc.events").to_string_lossy().to_string();
    let sh = script(
        &lab,
        "udhcpc.sh",
        &format!(
            "echo \"$1 $ip\" >> {events}\ncase $1 in\n  bound|renew) ip addr flush dev $interface; ip addr add $ip/24 dev $interface ;;\n  deconfig) ip addr flush dev $interface ;;\nesac"
        ),
    );
    // In the foreground, as a service runs it; SIGUSR1 makes it renew now.
    let pid = lab.spawn(&cli, "busybox", &["udhcpc", "-f", "-i", "eth0", "-s", &sh, "-T", "1"], "udhcpc.log");
    let log = wait_for_event(&lab, "udhcpc.events", "bound 192.0.2.10", Duration::from_secs(20));
    assert!(!log.contains(RESERVED), "{log}");
    let mac = mac_of(&lab, &cli);

    // The admin reserves .77 for this MAC in the file and reloads (SIGHUP).
    let mut text = std::fs::read_to_string(&d.config).unwrap();
    text.push_str(&format!("\n[[subnet.reservation]]\nmac = \"{mac}\"\nip = \"{RESERVED}\"\n"));
    std::fs::write(&d.config, text).unwrap();
    let _ = std::process::Command::new("kill").args(["-HUP", &d.pid.to_string()]).status();
    wait_for(Duration::from_secs(10), "the reservation to be loaded", || {
        d.get(&lab, "/api/reservations").as_array()?.iter().any(|r| r["ip"] == RESERVED).then_some(())
    });
    // Nothing moves before the client asks again.
    assert_eq!(record(&d, &lab, "192.0.2.10"), ("bound".to_string(), mac.clone()));

    let _ = std::process::Command::new("kill").args(["-USR1", &pid.to_string()]).status();
    let log = wait_for_event(&lab, "udhcpc.events", &format!("bound {RESERVED}"), Duration::from_secs(30));
    // The renewal was refused (udhcpc calls its script with "nak"), the old address dropped, the new one bound.
    let seen: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap_or_default()).collect();
    let nak = seen.iter().position(|e| *e == "nak").unwrap_or_else(|| panic!("no NAK seen by udhcpc:\n{log}"));
    assert!(seen[nak..].contains(&"deconfig"), "{log}");
    assert_eq!(record(&d, &lab, RESERVED), ("bound".to_string(), mac.clone()));
    assert!(!bound(&d, &lab, "192.0.2.10"), "the old address is free again");
    d.log_containing(&lab, &format!("{RESERVED} is reserved for this client"));
    lab.kill(pid, false);
}

#[test]
fn dhclient_moves_to_a_reservation_added_through_the_api_at_its_renewal() {
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("rsvd");
    let (srv, cli) = lan(&mut lab);
    // Short leases: dhclient renews at T1, 15 s after it binds.
    let cfg = config(&lab, "30s");
    let d = Daemon::start(&mut lab, &srv, &cfg);
    let events = lab.dir.join("dhclient.events").to_string_lossy().to_string();
    let names = lab.dir.join("dhclient.names").to_string_lossy().to_string();
    let sh = script(
        &lab,
        "dhclient.sh",
        &format!(
            "echo \"$reason $new_ip_address\" >> {events}\n[ $reason = BOUND ] && echo \"$new_ip_address $new_host_name\" >> {names}\ncase $reason in\n  BOUND|RENEW|REBIND|REBOOT) ip addr flush dev $interface; ip addr add $new_ip_address/24 dev $interface ;;\n  EXPIRE|FAIL|RELEASE|STOP) ip addr flush dev $interface ;;\nesac"
        ),
    );
    let d_ = |f: &str| lab.dir.join(f).to_string_lossy().to_string();
    let (lf, pf) = (d_("dhclient.leases"), d_("dhclient.pid"));
    let pid = lab.spawn(&cli, "dhclient", &["-d", "-sf", &sh, "-lf", &lf, "-pf", &pf, "eth0"], "dhclient.log");
    let first = wait_for(Duration::from_secs(30), "dhclient to bind", || {
        lab.log("dhclient.events").lines().find_map(|l| l.strip_prefix("BOUND ").map(str::to_string))
    });
    assert_ne!(first, RESERVED);
    let mac = mac_of(&lab, &cli);

    let body = format!(r#"{{"mac": "{mac}", "ip": "{RESERVED}", "hostname": "moved"}}"#);
    let (code, said) = post_json(&d, &lab, "/api/reservations", &body);
    assert_eq!(code, 201, "{said}");
    let file = std::fs::read_to_string(&d.config).unwrap();
    assert!(file.contains(&format!("ip = \"{RESERVED}\"")), "written to the file:\n{file}");
    // The same reservation again is refused, and so are one for an address in no subnet and a body that is
    // not a reservation; each says why.
    let (code, said) = post_json(&d, &lab, "/api/reservations", &body);
    assert_eq!(code, 409, "{said}");
    assert!(said.contains("already"), "{said}");
    let (code, said) = post_json(&d, &lab, "/api/reservations", r#"{"mac": "02:00:00:00:00:09", "ip": "203.0.113.5"}"#);
    assert_eq!(code, 422, "{said}");
    assert!(said.contains("203.0.113.5 is in no configured subnet"), "{said}");
    let (code, said) = post_json(&d, &lab, "/api/reservations", r#"{"mac": "nonsense", "ip": "192.0.2.78"}"#);
    assert_eq!(code, 422, "{said}");

    // At T1 the renewal is refused; dhclient starts over and binds the reserved address, with its name.
    let log = wait_for_event(&lab, "dhclient.events", &format!("BOUND {RESERVED}"), Duration::from_secs(60));
    let after_first = log.split(&format!("BOUND {first}")).nth(1).unwrap_or_default();
    assert!(after_first.contains("EXPIRE"), "dhclient dropped the old address after the NAK:\n{log}");
    assert_eq!(record(&d, &lab, RESERVED), ("bound".to_string(), mac.clone()));
    // The reservation's host name came with the ACK (option 12).
    let names = lab.log("dhclient.names");
    assert!(names.lines().any(|l| l == format!("{RESERVED} moved")), "{names}");
    assert!(!bound(&d, &lab, &first), "the old address is free again");
    lab.kill(pid, false);
}
