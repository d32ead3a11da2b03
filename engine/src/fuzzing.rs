//! The fuzz harness, kept in the library so `cargo fuzz` and a plain test replaying the corpus run the very
//! same code: bytes in → server → bytes out, with every invariant checked after each packet.

use crate::config::{PoolRange, Reservation, ServerPolicy, SubnetConfig};
use crate::server::{RecvMeta, Server};
use crate::time::{Duration, Instant};
use crate::{HwAddr, ServerConfig};
use dhcproto::v4::Message;
use dhcproto::{Decodable, Decoder};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Separates packets within one fuzz input, so the fuzzer can build multi-message exchanges.
pub const SEPARATOR: &[u8] = b"\xde\xad\xbe\xef";

fn config() -> ServerConfig {
    let mut lan = SubnetConfig::new(
        "192.0.2.0/24".parse().expect("literal"),
        "192.0.2.10-192.0.2.20".parse::<PoolRange>().expect("literal").0,
    );
    lan.routers = vec![Ipv4Addr::new(192, 0, 2, 1)];
    lan.lease_time = Duration::from_secs(120);
    lan.reservations.push(Reservation {
        mac: Some(HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x56])),
        client_id: None,
        ip: Ipv4Addr::new(192, 0, 2, 99),
        hostname: Some("reserved".into()),
    });
    let far = SubnetConfig::new(
        "198.51.100.0/24".parse().expect("literal"),
        "198.51.100.10-198.51.100.12".parse::<PoolRange>().expect("literal").0,
    );
    // No rate limit: every input packet should reach the state machine.
    let policy =
        ServerPolicy { offer_hold: Duration::from_secs(10), client_packets_per_second: 0, ..Default::default() };
    ServerConfig { policy, subnets: vec![lan, far], ..Default::default() }
}

/// Feeds each packet of `data` to a fresh server. Panics (which the fuzzer reports) on any broken
/// invariant or on a reply the server itself cannot decode.
pub fn exercise(data: &[u8]) {
    let mut server = Server::new(config(), 0).expect("fuzz config is valid");
    let mut now = Instant::from_secs(1);
    let mut start = 0;
    let mut packets = Vec::new();
    while let Some(pos) = data[start..].windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        packets.push(&data[start..start + pos]);
        start += pos + SEPARATOR.len();
    }
    packets.push(&data[start..]);
    for (i, p) in packets.into_iter().enumerate().take(64) {
        let local_addr = if i % 3 == 2 { Ipv4Addr::new(198, 51, 100, 1) } else { Ipv4Addr::new(192, 0, 2, 1) };
        let meta = RecvMeta {
            iface: 0,
            local_addr,
            src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, crate::message::CLIENT_PORT),
        };
        let _ = server.handle_packet(now, meta, p);
        while let Some(t) = server.poll_transmit() {
            assert!(t.bytes.len() >= 300, "reply not padded");
            if let Err(e) = Message::decode(&mut Decoder::new(&t.bytes)) {
                panic!("our own reply does not decode: {e}");
            }
        }
        while server.poll_event().is_some() {}
        if let Err(e) = server.check_invariants() {
            panic!("invariant broken after packet {i}: {e}");
        }
        now += Duration::from_secs(u64::from(p.len() as u8 % 40));
    }
}
