//! The WebSocket bridge against real clients: a snapshot, then every change in order; a slow reader gets a
//! fresh snapshot rather than a gap; a reconnect resumes.

use dhcplab_tests::{Daemon, NetLab, in_netns, one_client_lan, relay_pair, require_program};
use dhcproto::Decodable;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect() -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async("ws://127.0.0.1:8067/ws").await.expect("websocket connects");
    ws
}

/// The next JSON message (pings are answered by the library), within `limit`.
async fn next(ws: &mut Ws, limit: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(limit, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// Reads until a message matches `want`; checks sequence numbers never skip or repeat on the way.
async fn until(ws: &mut Ws, last: &mut u64, limit: Duration, mut want: impl FnMut(&Value) -> bool) -> Value {
    let end = tokio::time::Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        let m = next(ws, left).await.expect("a message before the deadline");
        let seq = m["seq"].as_u64().expect("every message has a sequence number");
        if m["type"] == "snapshot" {
            *last = seq;
        } else {
            assert_eq!(seq, *last + 1, "changes arrive in order without gaps: {m}");
            *last = seq;
        }
        if want(&m) {
            return m;
        }
    }
}

fn mac_bytes(mac: &str) -> Vec<u8> {
    mac.split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn snapshot_then_a_real_dhclient_lease_bound_and_released() {
    require_program("dhclient", "isc-dhcp-client");
    let mut lab = NetLab::new("ws");
    let (srv, cli, cfg) = one_client_lan(&mut lab);
    let _d = Daemon::start(&mut lab, &srv, &cfg);
    let mac = {
        let out = lab.exec(&cli, "cat", &["/sys/class/net/eth0/address"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let host =
        String::from_utf8_lossy(&std::process::Command::new("hostname").output().unwrap().stdout).trim().to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (go_release_tx, go_release_rx) = std::sync::mpsc::channel::<()>();
    let watcher = in_netns(&srv, move || {
        rt().block_on(async move {
            let mut ws = connect().await;
            let snap = next(&mut ws, Duration::from_secs(5)).await.expect("a snapshot first");
            assert_eq!(snap["type"], "snapshot");
            assert_eq!(snap["leases"].as_array().map(Vec::len), Some(0));
            let mut last = snap["seq"].as_u64().unwrap();
            ready_tx.send(()).unwrap();
            let mut packets = vec![];
            let bound = until(&mut ws, &mut last, Duration::from_secs(30), |m| {
                if m["type"] == "packet" {
                    packets.push(m["packet"].clone());
                }
                m["type"] == "lease" && m["event"]["kind"] == "bound"
            })
            .await;
            go_release_tx.send(()).unwrap();
            let released = until(&mut ws, &mut last, Duration::from_secs(30), |m| {
                m["type"] == "lease" && m["event"]["kind"] == "released"
            })
            .await;
            let _ = ws.close(None).await;
            (bound["event"].clone(), released["event"].clone(), last, packets)
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).expect("the watcher got its snapshot");
    let lf = lab.dir.join("c.leases").to_string_lossy().to_string();
    let pf = lab.dir.join("c.pid").to_string_lossy().to_string();
    let r = lab.exec(&cli, "dhclient", &["-1", "-sf", "/bin/true", "-lf", &lf, "-pf", &pf, "eth0"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    go_release_rx.recv_timeout(Duration::from_secs(30)).expect("the bound event was seen");
    lab.exec(&cli, "ip", &["addr", "add", "192.0.2.10/24", "dev", "eth0"]);
    let r = lab.exec(&cli, "dhclient", &["-r", "-sf", "/bin/true", "-lf", &lf, "-pf", &pf, "eth0"]);
    assert!(r.status.success());
    let (bound, released, last, packets) = watcher.join().expect("watcher");
    // The packets of the exchange came first, each with the bytes on the wire, which decode to the same DHCP.
    let flow: Vec<(&str, &str)> = packets
        .iter()
        .map(|p| (p["dir"].as_str().unwrap_or("?"), p["summary"]["msg"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        flow,
        [("in", "DHCPDISCOVER"), ("out", "DHCPOFFER"), ("in", "DHCPREQUEST"), ("out", "DHCPACK")],
        "{packets:?}"
    );
    for p in &packets {
        let hex = p["payload"].as_str().expect("payload hex");
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        assert_eq!(bytes.len(), p["summary"]["size"].as_u64().unwrap() as usize);
        let m = dhcproto::v4::Message::decode(&mut dhcproto::Decoder::new(&bytes))
            .expect("the payload is the DHCP message");
        assert_eq!(m.chaddr(), &mac_bytes(&mac)[..]);
        assert_eq!(m.xid(), packets[0]["summary"]["xid"].as_u64().unwrap() as u32, "one transaction");
    }
    assert_eq!(packets[3]["src"], "192.0.2.1:67");
    assert_eq!(packets[3]["link"], "srv0");
    assert_eq!(bound["ip"], "192.0.2.10");
    assert_eq!(bound["hw"], mac.as_str());
    assert_eq!(bound["hostname"], host.as_str(), "dhclient sends the host name");
    assert_eq!(released["ip"], "192.0.2.10");
    // A reconnect resumes: a fresh snapshot that already has the change, numbered after what we saw.
    let resumed = in_netns(&srv, move || {
        rt().block_on(async move {
            let mut ws = connect().await;
            next(&mut ws, Duration::from_secs(5)).await.expect("snapshot")
        })
    })
    .join()
    .unwrap();
    assert_eq!(resumed["type"], "snapshot");
    assert!(resumed["seq"].as_u64().unwrap() >= last);
    let lease = resumed["leases"].as_array().unwrap().iter().find(|l| l["ip"] == "192.0.2.10").cloned().expect("lease");
    assert_eq!(lease["state"], "released");
}

#[test]
fn a_slow_reader_gets_a_fresh_snapshot_not_a_gap() {
    require_program("perfdhcp", "kea-admin");
    let mut lab = NetLab::new("wsl");
    let (srv, relay) = relay_pair(&mut lab);
    let cfg = format!(
        "[dhcp]\ninterfaces = [\"srv0\"]\nlease_db = \"{}\"\n[[subnet]]\ncidr = \"192.0.2.0/24\"\npools = [\"192.0.2.10-192.0.2.20\"]\n\
         [[subnet]]\ncidr = \"198.51.100.0/24\"\npools = [\"198.51.100.10-198.51.100.250\"]\nrelays = [\"198.51.100.254\"]\n",
        lab.dir.join("l.sqlite3").display()
    );
    let _d = Daemon::start(&mut lab, &srv, &cfg);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watcher = in_netns(&srv, move || {
        rt().block_on(async move {
            let mut ws = connect().await;
            let snap = next(&mut ws, Duration::from_secs(5)).await.expect("snapshot");
            let mut last = snap["seq"].as_u64().unwrap();
            ready_tx.send(()).unwrap();
            // Read nothing while the load runs: the server must not wait for us.
            let _ = tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(60))).await;
            // Everything after is in order; somewhere a fresh snapshot replaces what we could not take.
            let mut snapshots = 0;
            let end = tokio::time::Instant::now() + Duration::from_secs(20);
            while tokio::time::Instant::now() < end {
                let Some(m) = next(&mut ws, Duration::from_secs(2)).await else { break };
                let seq = m["seq"].as_u64().unwrap();
                if m["type"] == "snapshot" {
                    snapshots += 1;
                    assert!(seq > last, "a later snapshot");
                    assert!(m["leases"].as_array().unwrap().len() > 100, "it has the leases made meanwhile");
                } else {
                    assert_eq!(seq, last + 1, "no gap after the snapshot: {m}");
                }
                last = seq;
            }
            snapshots
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // About 6 published changes per exchange: far more than the bridge's backlog and the socket buffers.
    let _ = lab.exec(
        &relay,
        "perfdhcp",
        &["-4", "-l", "198.51.100.254", "-R", "240", "-r", "1500", "-p", "6", "192.0.2.1"],
    );
    done_tx.send(()).unwrap();
    let snapshots = watcher.join().unwrap();
    assert!(snapshots >= 1, "the slow reader was sent a fresh snapshot");
}

/// The loopback demo (no namespaces needed), killed on drop.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_silent_watcher_is_closed_after_the_idle_limit_while_one_that_answers_pings_stays() {
    let http = format!("127.0.0.1:{}", free_port());
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _demo = Demo(
        std::process::Command::new(dhcplab_tests::dhcplab_bin())
            .args(["demo", "--http", &http, "--port", &udp.to_string(), "--clients", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    dhcplab_tests::wait_for(Duration::from_secs(20), "the demo's HTTP", || std::net::TcpStream::connect(&http).ok());
    let url = format!("ws://{http}/ws");
    rt().block_on(async move {
        // A watcher that reads (tungstenite answers each ping with a pong) …
        let (mut live, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        // … and one that completes the handshake, then never sends a byte, not even a pong.
        let mut silent = tokio::net::TcpStream::connect(&http).await.unwrap();
        let hello = format!(
            "GET /ws HTTP/1.1\r\nHost: {http}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tokio::io::AsyncWriteExt::write_all(&mut silent, hello.as_bytes()).await.unwrap();
        let start = tokio::time::Instant::now();
        let silent_side = async {
            // Read (so its window stays open) until the server hangs up; note whether it said Close first.
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 65536];
            loop {
                match tokio::time::timeout(
                    Duration::from_secs(90),
                    tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
                )
                .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                    Err(_) => panic!("the silent watcher was never disconnected"),
                }
            }
            (start.elapsed(), seen.windows(2).any(|w| w == [0x88, 0x00]))
        };
        let live_side = async {
            let mut messages = 0;
            while start.elapsed() < Duration::from_secs(70) {
                match next(&mut live, Duration::from_secs(5)).await {
                    Some(_) => messages += 1,
                    None => panic!("the watcher that answers pings was dropped after {:?}", start.elapsed()),
                }
            }
            messages
        };
        let ((closed_after, said_close), messages) = tokio::join!(silent_side, live_side);
        assert!(said_close, "a Close frame before hanging up");
        assert!(
            closed_after >= Duration::from_secs(45) && closed_after < Duration::from_secs(65),
            "closed after {closed_after:?}: the limit is 45 s, checked every 15 s"
        );
        assert!(messages >= 60, "the live watcher kept getting the stats, one a second: {messages}");
    });
}
