//! Attacks on the daemon's HTTP surface, tried the way an attacker would, on loopback: a DNS-rebinding
//! `Host`, a WebSocket opened from a foreign origin, a flood of live-bridge connections.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A WebSocket handshake with these extra headers; the status line's code.
fn ws_handshake(p: &Proc, host: &str, origin: Option<&str>) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(&p.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, s)
}

fn refused(p: &Proc, reason: &str) -> u64 {
    let metrics = get(p, "/metrics").unwrap().1;
    let line = format!("dhcplab_http_refused_total{{reason=\"{reason}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&line)?.parse().ok()).unwrap_or_else(|| panic!("no {line}"))
}

#[test]
fn a_rebinding_host_is_refused_and_counted() {
    let (p, _) = demo("rebind", 2);
    // The attacker's page at http://rebind.attacker.example:PORT/ resolves to 127.0.0.1 after a rebind; the
    // browser sends its own name.
    let evil = format!("rebind.attacker.example:{}", p.http.rsplit(':').next().unwrap());
    for path in ["/api/leases", "/metrics", "/"] {
        let (code, body) = raw_request(&p, &format!("GET {path} HTTP/1.1\r\nHost: {evil}\r\n")).unwrap();
        assert_eq!(code, 403, "{path}: {body}");
        assert!(body.contains("allowed_hosts"), "{body}");
        assert!(!body.contains("192.0.2."), "no lease leaks: {body}");
    }
    assert_eq!(ws_handshake(&p, &evil, None).0, 403);
    assert_eq!(refused(&p, "host"), 4);
    // The same requests by address or as localhost are served.
    assert_eq!(raw_request(&p, &format!("GET /api/leases HTTP/1.1\r\nHost: {}\r\n", p.http)).unwrap().0, 200);
    let port = p.http.rsplit(':').next().unwrap();
    assert_eq!(raw_request(&p, &format!("GET /api/leases HTTP/1.1\r\nHost: localhost:{port}\r\n")).unwrap().0, 200);
}

#[test]
fn a_websocket_from_another_origin_is_refused_and_one_from_the_daemons_own_is_served() {
    let (p, _) = demo("origin", 2);
    let (code, _) = ws_handshake(&p, &p.http, Some("http://127.0.0.1:9"));
    assert_eq!(code, 403, "a page on another port is another origin");
    let (code, _) = ws_handshake(&p, &p.http, Some("null"));
    assert_eq!(code, 403, "a sandboxed or file: page");
    assert_eq!(refused(&p, "origin"), 2);
    let (code, mut s) = ws_handshake(&p, &p.http, Some(&format!("http://{}", p.http)));
    assert_eq!(code, 101, "the dashboard's own page");
    // The snapshot follows: a text frame whose payload starts with the snapshot's tag.
    let mut frame = [0u8; 64];
    s.read_exact(&mut frame).unwrap();
    assert!(String::from_utf8_lossy(&frame).contains(r#"{"type":"snapshot""#));
    // A cross-origin API read is refused too (a browser would send Origin on a fetch).
    let head = format!("GET /api/leases HTTP/1.1\r\nHost: {}\r\nOrigin: http://127.0.0.1:9\r\n", p.http);
    assert_eq!(raw_request(&p, &head).unwrap().0, 403);
}

const CONFIG: &str = r#"[dhcp]
interfaces = []
lease_db = "leases.sqlite3"

[http]
listen = "LISTEN"
max_watchers = 3
allowed_origins = ["https://admin.example"]
allowed_hosts = ["dhcp.example.lan"]

[[subnet]]
cidr = "192.0.2.0/24"
pools = ["192.0.2.10-192.0.2.20"]
"#;

#[test]
fn watchers_are_capped_and_configured_names_and_origins_pass() {
    let dir = tmp("watchers");
    let http = format!("127.0.0.1:{}", free_port());
    let cfg = dir.join("dhcplab.toml");
    std::fs::write(&cfg, CONFIG.replace("LISTEN", &http)).unwrap();
    let p = spawn(&["serve", "--config", &cfg.to_string_lossy()], &dir, http.clone());
    let port = http.rsplit(':').next().unwrap();
    let named = format!("dhcp.example.lan:{port}");
    let open: Vec<TcpStream> = (0..3)
        .map(|_| {
            let (code, s) = ws_handshake(&p, &named, Some("https://admin.example"));
            assert_eq!(code, 101);
            s
        })
        .collect();
    assert_eq!(ws_handshake(&p, &http, None).0, 503, "the fourth is over max_watchers");
    assert_eq!(refused(&p, "watchers"), 1);
    // A watcher that leaves gives its place back.
    drop(open);
    wait(Duration::from_secs(10), "a free place", || (ws_handshake(&p, &http, None).0 == 101).then_some(()));
}
