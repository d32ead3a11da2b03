//! The daemon on loopback (no root needed): the demo, the API contract, malformed packets, and config
//! reloads that must never lose the running configuration.

use dhcplab_engine::HwAddr;
use dhcplab_engine::builder::ClientMsg;
use dhcplab_engine::text::counted;
use dhcproto::v4::MessageType;
mod common;

use common::*;
use std::io::Write;
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
    assert_eq!(get(&p, "/readyz"), Some((200, "ready".to_string())));
    let subnets = json(&p, "/api/subnets");
    assert_eq!(subnets[0]["pool_size"], 100);
    let metrics = get(&p, "/metrics").unwrap().1;
    // Prometheus' own linter (Debian's prometheus package, installed by scripts/setup) accepts it.
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is not installed: run scripts/setup (Debian package prometheus)");
    lint.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let linted = lint.wait_with_output().unwrap();
    assert!(
        linted.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&linted.stdout),
        String::from_utf8_lossy(&linted.stderr)
    );
    // contrib/grafana-dashboard.json plots only metrics that exist.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../contrib/grafana-dashboard.json")).expect("valid JSON");
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for name in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("dhcplab_"))
            {
                assert!(
                    metrics.contains(&format!("\n{name}")),
                    "{name} (in the Grafana panel {}) is not exported",
                    panel["title"]
                );
            }
        }
    }
    let commits = metrics.lines().find_map(|l| l.strip_prefix("dhcplab_store_commit_duration_seconds_count "));
    assert!(commits.and_then(|n| n.parse::<u64>().ok()) > Some(0), "commits are timed:\n{metrics}");
    for op in ["offer", "ack"] {
        let line = format!("dhcplab_exchange_duration_seconds_count{{operation=\"{op}\"}} ");
        let n = metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).and_then(|n| n.parse::<u64>().ok());
        assert!(n > Some(0), "{op}s are timed:\n{metrics}");
    }
    for name in [
        "dhcplab_pkt4_received_total",
        "dhcplab_packets_sent_total{operation=\"ack\"}",
        "dhcplab_packets_received_total{operation=\"discover\"}",
        "dhcplab_leases{state=\"bound\"}",
        "dhcplab_build_info{version=",
        "dhcplab_exchange_duration_seconds_bucket{operation=\"ack\",le=\"+Inf\"}",
        "dhcplab_subnet_assigned_addresses{subnet=\"192.0.2.0/24\"}",
        "dhcplab_store_commit_duration_seconds_bucket{le=\"+Inf\"}",
        "dhcplab_server_up{server=",
        "\ndhcplab_store_file_apply_failures_total 0\n",
        "\ndhcplab_store_file_behind_changes ",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    // The SQLite file follows the change log the commits went to, within five seconds or so.
    wait(Duration::from_secs(10), "the lease file to catch up with its change log", || {
        let s = json(&p, "/api/stats");
        (s["store_commits"].as_u64()? > 0 && s["file_behind"].as_u64()? == 0).then_some(())
    });
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

/// The log's whole lines once they hold a DHCPACK: the committer writes that line after the lease is durable
/// and its ACK sent, a moment after the API shows the lease bound (and a line may be read half written).
fn log_with_ack(p: &Proc) -> String {
    wait(Duration::from_secs(10), "a DHCPACK line in the log", || {
        let mut text = std::fs::read_to_string(&p.log).ok()?;
        text.truncate(text.rfind('\n').map_or(0, |end| end + 1));
        text.contains("DHCPACK").then_some(text)
    })
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

#[test]
fn check_db_counts_the_changes_a_killed_daemon_left_in_its_change_log() {
    let (mut p, _) = demo("killedlog", 4);
    wait(Duration::from_secs(10), "a bound lease", || json(&p, "/api/leases?state=bound").as_array()?.first().cloned());
    let db = std::env::temp_dir().join(format!("dhcplab-demo-{}.sqlite3", p.child.id()));
    // SIGKILL: no clean stop, so the newest segment of the log is still there (a clean stop empties it).
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dhcplab")).args(["check", "--db"]).arg(&db).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let _ = std::fs::remove_dir_all(format!("{}.changes", db.display()));
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    // "…: ok (0 leases; 2 changes in its change log, written into the file by the daemon)".
    let n: usize = text.split("; ").nth(1).and_then(|t| t.split(' ').next()?.parse().ok()).unwrap_or(0);
    let said = format!("; {} in its change log, written into the file by the daemon)", counted(n, "change"));
    assert!(n >= 1 && text.contains(&said), "{text}");
}

#[test]
fn a_log_to_a_file_has_no_colour_codes_and_the_json_log_has_the_exchange_fields() {
    let (p, _) = demo("plainlog", 3);
    let text = log_with_ack(&p);
    assert!(!text.contains('\u{1b}'), "escape codes in a log that is not a terminal:\n{text}");
    // Started elsewhere, with no --web-root: the app comes with the binary (a debug build reads the
    // repository's dist/ at run time; a release build carries it).
    assert!(text.contains("web app from the copy built into this binary"), "{text}");
    let (code, page) = get(&p, "/").unwrap();
    assert!(code == 200 && page.contains("dhcplab-web"), "{code}: {page}");
    drop(p);
    let dir = tmp("jsonlog");
    let (http, port) = (format!("127.0.0.1:{}", free_port()), free_udp_port().to_string());
    let p = spawn(
        &["--log-format", "json", "demo", "--http", &http, "--port", &port, "--clients", "3"],
        &dir,
        http.clone(),
    );
    let text = log_with_ack(&p);
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()), "{text}");
    assert!(lines.iter().any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains("DHCPACK"))), "{text}");
}

#[test]
fn serve_without_a_config_names_what_to_do_and_exits_2() {
    assert!(
        !std::path::Path::new("/etc/dhcplab/dhcplab.toml").exists(),
        "this machine has /etc/dhcplab/dhcplab.toml: `serve` would use it, so this test cannot run here"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dhcplab")).arg("serve").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("--config") && said.contains("/etc/dhcplab/dhcplab.toml") && said.contains("dhcplab demo"));
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_dhcplab")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for topic in ["Exit codes", "SIGHUP", "DHCPLAB_DB_PASSWORD", "/var/lib/dhcplab"] {
        assert!(help.contains(topic), "--help names {topic}:\n{help}");
    }
}

#[test]
fn under_systemd_it_says_ready_pings_the_watchdog_and_says_when_it_stops() {
    use std::os::unix::net::UnixDatagram;
    let dir = tmp("notify");
    let sock_path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&sock_path);
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let (http, port) = (format!("127.0.0.1:{}", free_port()), free_udp_port().to_string());
    // As systemd starts it: WATCHDOG_PID names the daemon itself (the shell execs it, keeping its pid).
    let bin = env!("CARGO_BIN_EXE_dhcplab");
    let child = Command::new("sh")
        .args(["-c", "WATCHDOG_PID=$$ exec \"$0\" demo --http \"$1\" --port \"$2\" --clients 1", bin, &http, &port])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed however the test ends, so a failure leaves no daemon behind.
    let mut daemon = Proc { child, http: http.clone(), log: dir.join("none") };
    let mut said = vec![];
    let mut buf = [0u8; 256];
    while !(said.contains(&"READY=1".to_string()) && said.contains(&"WATCHDOG=1".to_string())) {
        let n = sock.recv(&mut buf).expect("the daemon said READY=1 and WATCHDOG=1 in time");
        said.push(String::from_utf8_lossy(&buf[..n]).trim().to_string());
    }
    assert_eq!(said[0], "READY=1", "ready before any watchdog ping: {said:?}");
    // Ready means serving: the API answers.
    assert_eq!(get(&daemon, "/healthz").map(|r| r.0), Some(200));
    nix_kill_term(daemon.child.id());
    let stop = loop {
        let n = sock.recv(&mut buf).expect("STOPPING=1");
        let m = String::from_utf8_lossy(&buf[..n]).trim().to_string();
        if m != "WATCHDOG=1" {
            break m;
        }
    };
    assert_eq!(stop, "STOPPING=1");
    assert!(daemon.child.wait().unwrap().success());
}

fn nix_kill_term(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

#[test]
fn every_operation_in_the_openapi_description_is_served() {
    let (p, _) = demo("openapi", 2);
    let ip = wait(Duration::from_secs(10), "a bound lease", || {
        json(&p, "/api/leases?state=bound").as_array()?.first().map(|l| l["ip"].as_str().unwrap().to_string())
    });
    let doc = json(&p, "/api/openapi.json");
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            let url = path.replace("{ip}", &ip);
            let (code, body) = request(&p, &method.to_uppercase(), &url, None).unwrap();
            // Without the token a mutating call is refused (401), a plain GET of /ws is not an upgrade
            // (400): either way the route exists with that method.
            assert!(code != 404 && code != 405, "{method} {path}: {code} {body}");
            let documented = ops[method]["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&code.to_string()) || (path == "/ws" && code == 400),
                "{method} {path} answered {code}, not documented"
            );
        }
    }
}

#[test]
fn under_journald_lines_carry_no_timestamp_of_their_own() {
    let dir = tmp("journal");
    let (http, port) = (format!("127.0.0.1:{}", free_port()), free_udp_port().to_string());
    let log = dir.join("daemon.log");
    let f = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dhcplab"))
        .args(["demo", "--http", &http, "--port", &port, "--clients", "1"])
        .env("JOURNAL_STREAM", "8:12345")
        .current_dir(&dir)
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    let p = Proc { child, http, log };
    wait(Duration::from_secs(20), "healthz", || get(&p, "/healthz").filter(|(c, _)| *c == 200));
    let text = log_with_ack(&p);
    for line in text.lines() {
        assert!(
            line.trim_start().starts_with("INFO")
                || line.trim_start().starts_with("WARN")
                || line.trim_start().starts_with("DEBUG"),
            "the journal stamps lines itself: {line}"
        );
    }
}
