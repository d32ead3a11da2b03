//! What the daemon's loopback tests share: a daemon process killed on drop, a tiny HTTP client, waiting.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A daemon process, killed on drop.
pub struct Proc {
    pub child: Child,
    pub http: String,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dhcplab-daemon-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn spawn(args: &[&str], dir: &std::path::Path, http: String) -> Proc {
    let log = dir.join("daemon.log");
    let f = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dhcplab"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    let p = Proc { child, http, log };
    wait(Duration::from_secs(20), "healthz", || {
        get(&p, "/healthz").filter(|(c, b)| *c == 200 && b == "ok").map(|_| ())
    });
    p
}

pub fn wait<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tiny HTTP/1.1 client: (status, body).
pub fn request(p: &Proc, method: &str, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    raw_request(p, &format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}", p.http))
}

/// Sends a request head as given (plus a close), as an attacker would write it: (status, body).
pub fn raw_request(p: &Proc, head: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(&p.http).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "{head}Content-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    // Small bodies only; a chunked reply is reassembled crudely (size lines dropped).
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body.split("\r\n").enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, c)| c).collect::<String>()
    } else {
        body.to_string()
    };
    Some((code, body))
}

pub fn get(p: &Proc, path: &str) -> Option<(u16, String)> {
    request(p, "GET", path, None)
}

pub fn json(p: &Proc, path: &str) -> serde_json::Value {
    let (code, body) = get(p, path).unwrap();
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

pub fn demo(name: &str, clients: usize) -> (Proc, u16) {
    let dir = tmp(name);
    let http = format!("127.0.0.1:{}", free_port());
    let port = free_udp_port();
    let p = spawn(
        &["demo", "--http", &http, "--port", &port.to_string(), "--clients", &clients.to_string()],
        &dir,
        http.clone(),
    );
    (p, port)
}
