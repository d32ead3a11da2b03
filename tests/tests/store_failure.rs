//! The lease store fails under a running daemon (its disk fills up): once the room its change log set aside
//! is used, ACKs are withheld, `/healthz` says so, and when space comes back the waiting changes are stored
//! and clients are served again. The log says DHCPACK only for the ACK that was sent.

use dhcplab_tests::{Daemon, NetLab, one_client_lan, require_program, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A small tmpfs, unmounted on drop (before the lab removes its directory).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).status();
        assert!(ok.is_ok_and(|s| s.success()), "mounting a tmpfs at {} needs root", dir.display());
        Tmpfs(dir.to_path_buf())
    }

    /// Fills what is left of it.
    fn fill(&self) -> PathBuf {
        let f = self.0.join("filler");
        let _ = Command::new("dd").args(["if=/dev/zero", "bs=4k"]).arg(format!("of={}", f.display())).output();
        f
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// dhclient, given ten seconds; whether it got a lease. (Offered but never ACKed, dhclient starts over
/// for ever: the time limit is what stops it.)
fn dhclient(lab: &NetLab, ns: &str, tag: &str) -> bool {
    let (lf, pf) = (lab.dir.join(format!("{tag}.leases")), lab.dir.join(format!("{tag}.pid")));
    let args = ["10", "dhclient", "-v", "-1", "-sf", "/bin/true", "-lf", &lf.to_string_lossy()];
    let out = lab.exec(ns, "timeout", &[&args[..], &["-pf", &pf.to_string_lossy(), "eth0"]].concat());
    out.status.success()
}

#[test]
fn a_full_disk_withholds_acks_and_fails_healthz_until_space_comes_back() {
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("sto");
    let (srv, cli, cfg) = one_client_lan(&mut lab);
    let disk = Tmpfs::mount(&lab.dir.join("disk"), "2m");
    let db = disk.0.join("leases.sqlite3");
    let cfg = cfg.replace(&lab.dir.join("l.sqlite3").display().to_string(), &db.display().to_string());
    let d = Daemon::start(&mut lab, &srv, &cfg);
    assert_eq!(d.get_text(&lab, "/healthz").as_deref(), Some("ok"));

    let filler = disk.fill();
    // Room the change log set aside before the disk filled (a segment made ahead, its blocks written) may
    // take the commits of the next second: leases stored there are durable, and ACKed. Past that second a
    // new segment is needed, and there is no room for one.
    if dhclient(&lab, &cli, "reserve") {
        // It stays on as a daemon with its lease: stopped, and the link given another MAC, so what follows
        // is a new client, whose first stored change is the ACK it asks for.
        let pid = std::fs::read_to_string(lab.dir.join("reserve.pid")).unwrap_or_default();
        let _ = lab.exec(&cli, "kill", &[pid.trim()]);
        let out = lab.exec(&cli, "ip", &["link", "set", "eth0", "address", "02:00:00:00:0f:01"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!dhclient(&lab, &cli, "full"), "an ACK was sent for a lease that could not be stored");
    let health = d.get_text(&lab, "/healthz").unwrap_or_default();
    assert!(health.contains("commits are failing"), "{health}");
    let stats = d.stats(&lab);
    assert!(stats["acks_withheld"].as_u64() >= Some(1), "{stats}");
    assert!(stats["store_pending"].as_u64() >= Some(1), "{stats}");
    let mac =
        String::from_utf8_lossy(&lab.exec(&cli, "cat", &["/sys/class/net/eth0/address"]).stdout).trim().to_string();
    let acked = |log: &str| log.lines().any(|l| l.contains("DHCPACK(") && l.contains(&mac));
    assert!(!acked(&d.log_text(&lab)), "the log says DHCPACK for {mac}, whose ACK was withheld");

    std::fs::remove_file(filler).unwrap();
    wait_for(Duration::from_secs(10), "healthz ok", || {
        (d.get_text(&lab, "/healthz").as_deref() == Some("ok")).then_some(())
    });
    assert_eq!(d.stats(&lab)["store_pending"], 0, "the waiting changes were stored");
    assert!(dhclient(&lab, &cli, "again"), "served again once the disk has room");
    wait_for(Duration::from_secs(5), "the ACK's log line", || acked(&d.log_text(&lab)).then_some(()));
}
