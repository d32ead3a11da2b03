//! The daemon on loopback (no root needed): the demo, the API contract, malformed packets, and config
//! reloads that must never lose the running configuration.

use dhcplab_engine::HwAddr;
use dhcplab_engine::builder::ClientMsg;
use dhcproto::v4::MessageType;
mod common;

use common::*;
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_demo_shows_live_leases_within_seconds() {
    let (p, _) = demo("live", 24);
    let leases = wait(Duration::from_secs(10), "20 bound leases", || {
        let v = json(&p, "/api/leases?state=bound");
        (v.as_array()?.len() >= 20).then_some(v)
    });
    let l = &leases[0];
    assert_eq!(l["subnet"], "192.0.2.0/24");
    assert!(l["hostname"].is_string());
    // Filters: by text, and an unknown state is a clear 400.
    let host = l["hostname"].as_str().unwrap();
    let found = json(&p, &format!("/api/leases?q={host}"));
    assert!(found.as_array().unwrap().iter().all(|x| x["hostname"] == host));
    let (code, body) = get(&p, "/api/leases?state=happy").unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("unknown state"));
    let subnets = json(&p, "/api/subnets");
    assert_eq!(subnets[0]["pool_size"], 100);
    let metrics = get(&p, "/metrics").unwrap().1;
    for name in [
        "dhcplab_pkt4_received_total",
        "dhcplab_pkt4_ack_sent_total",
        "dhcplab_subnet_assigned_addresses{subnet=\"192.0.2.0/24\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[test]
fn api_lookups_and_release_need_the_token() {
    let (p, _) = demo("api", 4);
    let ip = wait(Duration::from_secs(10), "a bound lease", || {
        json(&p, "/api/leases?state=bound").as_array()?.first().map(|l| l["ip"].as_str().unwrap().to_string())
    });
    assert_eq!(json(&p, &format!("/api/leases/{ip}"))["ip"], ip.as_str());
    assert_eq!(get(&p, "/api/leases/192.0.2.250").unwrap().0, 404);
    assert_eq!(get(&p, "/api/leases/not-an-ip").unwrap().0, 400);
    assert_eq!(request(&p, "DELETE", &format!("/api/leases/{ip}"), None).unwrap().0, 401);
    assert_eq!(request(&p, "DELETE", &format!("/api/leases/{ip}"), Some("wrong")).unwrap().0, 401);
    let token = demo_token(&p);
    let (code, body) = request(&p, "DELETE", &format!("/api/leases/{ip}"), Some(&token)).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"released\""), "{body}");
}

/// The demo logs its admin token.
fn demo_token(p: &Proc) -> String {
    let log = std::fs::read_to_string(&p.log).unwrap();
    log.lines().find_map(|l| l.split("demo admin token: ").nth(1)).expect("token logged").trim().to_string()
}

#[test]
fn a_lease_becomes_a_reservation_with_its_hostname() {
    let (p, _) = demo("pin", 4);
    let lease = wait(Duration::from_secs(10), "a bound lease", || {
        json(&p, "/api/leases?state=bound").as_array()?.first().cloned()
    });
    let ip = lease["ip"].as_str().unwrap();
    let path = format!("/api/leases/{ip}/reservation");
    assert_eq!(request(&p, "POST", &path, None).unwrap().0, 401);
    let token = demo_token(&p);
    let (code, body) = request(&p, "POST", &path, Some(&token)).unwrap();
    assert_eq!(code, 201, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(made["persisted_to"], serde_json::Value::Null, "the demo has no file");
    let listed = json(&p, "/api/reservations");
    let r = listed.as_array().unwrap().iter().find(|r| r["ip"] == ip).expect("listed").clone();
    assert_eq!(r["mac"], lease["hw"]);
    assert_eq!(r["hostname"], lease["hostname"]);
    assert_eq!(r["subnet"], "192.0.2.0/24");
    // Twice is a conflict with a reason; an address without a lease is not found.
    let (code, body) = request(&p, "POST", &path, Some(&token)).unwrap();
    assert_eq!((code, body.contains("already reserved")), (409, true), "{body}");
    assert_eq!(request(&p, "POST", "/api/leases/192.0.2.250/reservation", Some(&token)).unwrap().0, 404);
}

#[test]
fn malformed_packets_are_counted_by_reason_and_the_daemon_keeps_serving() {
    let (p, port) = demo("malformed", 0);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = format!("127.0.0.1:{port}");
    let good = ClientMsg::new(MessageType::Discover, HwAddr::ethernet([2, 0, 0, 0, 0, 1]), 7).bytes();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("too_short", good[..100].to_vec()),
        ("bad_hardware_length", with(&|b| b[2] = 255)),
        (
            "malformed_option",
            with(&|b| {
                // Option 53 claims more bytes than the packet has.
                let at = 240 + b[240..].iter().position(|&x| x == 53).unwrap();
                b[at + 1] = 250;
            }),
        ),
        ("no_magic_cookie", with(&|b| b[236] = 0)),
        ("wrong_opcode", with(&|b| b[0] = 2)),
        ("too_long", [good.clone(), vec![0; 3000]].concat()),
    ];
    for (_, b) in &bad {
        sock.send_to(b, &server).unwrap();
    }
    let stats = wait(Duration::from_secs(5), "six drops", || {
        let s = json(&p, "/api/stats");
        let dropped: u64 = s["engine"]["dropped"].as_object()?.values().filter_map(|v| v.as_u64()).sum();
        (dropped >= 6).then_some(s)
    });
    for (reason, _) in &bad {
        assert_eq!(stats["engine"]["dropped"][reason], 1, "{reason}: {stats}");
    }
    // And it still answers a good DISCOVER.
    sock.send_to(&good, &server).unwrap();
    wait(Duration::from_secs(5), "an OFFER", || {
        (json(&p, "/api/stats")["engine"]["sent_by_type"]["offer"] == 1).then_some(())
    });
    let metrics = get(&p, "/metrics").unwrap().1;
    assert!(metrics.contains("dhcplab_pkt4_drop_reason_total{reason=\"bad_hardware_length\"} 1"));
    assert!(metrics.contains("dhcplab_pkt4_parse_failed_total 6"));
}

const CONFIG: &str = r#"[dhcp]
interfaces = []
lease_db = "leases.sqlite3"

[http]
listen = "LISTEN"
admin_token = "reload-test-token-0123"

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.20"]
"#;

#[test]
fn a_bad_reload_keeps_the_old_config_and_a_good_one_applies() {
    let dir = tmp("reload");
    let http = format!("127.0.0.1:{}", free_port());
    let cfg = dir.join("dhcplab.toml");
    std::fs::write(&cfg, CONFIG.replace("LISTEN", &http)).unwrap();
    let p = spawn(&["serve", "--config", &cfg.to_string_lossy()], &dir, http.clone());
    assert_eq!(json(&p, "/api/subnets")[0]["pool_size"], 11);

    // A broken file: refused, with the line; the old subnet keeps serving.
    std::fs::write(&cfg, CONFIG.replace("LISTEN", &http).replace("192.0.2.10-192.0.2.20", "10.0.0.1-10.0.0.9"))
        .unwrap();
    assert_eq!(request(&p, "POST", "/api/reload", None).unwrap().0, 401);
    let (code, body) = request(&p, "POST", "/api/reload", Some("reload-test-token-0123")).unwrap();
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("dhcplab.toml:11:") && body.contains("subnet[0].pools[0]"), "{body}");
    assert_eq!(json(&p, "/api/subnets")[0]["pool_size"], 11);

    // The same through SIGHUP.
    let pid = p.child.id().to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    wait(Duration::from_secs(5), "the refusal in the log", || {
        std::fs::read_to_string(&p.log).ok().filter(|l| l.contains("reload refused")).map(|_| ())
    });
    assert_eq!(json(&p, "/api/subnets")[0]["pool_size"], 11);

    // A good file applies.
    std::fs::write(&cfg, CONFIG.replace("LISTEN", &http).replace("192.0.2.10-192.0.2.20", "192.0.2.10-192.0.2.60"))
        .unwrap();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    wait(Duration::from_secs(5), "the new pool", || (json(&p, "/api/subnets")[0]["pool_size"] == 51).then_some(()));
}

/// Starts `dhcplab serve` with `CONFIG` edited by one replacement, written to `<name>.toml`; waits for it to end.
fn serve_edited(name: &str, from: &str, to: &str) -> std::process::Output {
    let cfg = tmp(name).join(format!("{name}.toml"));
    std::fs::write(&cfg, CONFIG.replace("LISTEN", "127.0.0.1:1").replace(from, to)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dhcplab")).args(["serve", "--config", &cfg.to_string_lossy()]).output().unwrap()
}

#[test]
fn a_bad_config_at_start_names_the_line_and_exits_2() {
    let out = serve_edited("bad", "cidr = \"192.0.2.0/24\"", "cidr = \"192.0.2.0/33\"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:10:"), "{err}");
}

#[test]
fn a_missing_interface_is_a_config_error() {
    let out = serve_edited("noif", "interfaces = []", "interfaces = [\"nosuch9\"]");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch9"));
}

#[test]
fn check_db_verifies_a_lease_database_and_says_what_to_do_with_a_damaged_one() {
    let dir = tmp("checkdb");
    let http = format!("127.0.0.1:{}", free_port());
    let cfg = dir.join("dhcplab.toml");
    std::fs::write(&cfg, CONFIG.replace("LISTEN", &http)).unwrap();
    drop(spawn(&["serve", "--config", &cfg.to_string_lossy()], &dir, http));
    let db = dir.join("leases.sqlite3");
    let check = || Command::new(env!("CARGO_BIN_EXE_dhcplab")).args(["check", "--db"]).arg(&db).output().unwrap();
    let good = check();
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stdout).contains("ok (0 leases)"));
    // Damage it (its write-ahead log, which would mask the main file's pages, goes too).
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("leases.sqlite3{suffix}")));
    }
    std::fs::write(&db, vec![0xab; 8192]).unwrap();
    let bad = check();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("move the file aside"), "{err}");
}
