//! A busy server and its clients, shared by the engine's benchmarks: a /16 pool, clients that send a client
//! identifier, a clock that moves as a busy daemon's does.

use dhcplab_engine::builder::ClientMsg;
use dhcplab_engine::config::{HexBytes, PoolRange, Reservation, SubnetConfig};
use dhcplab_engine::{Duration, HwAddr, Instant, RecvMeta, Server, ServerConfig, Transmit};
use dhcproto::v4::MessageType;
use std::net::{Ipv4Addr, SocketAddrV4};

pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);

pub fn meta() -> RecvMeta {
    RecvMeta { iface: 0, local_addr: SERVER, src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68) }
}

pub fn hw(n: u32) -> HwAddr {
    let b = n.to_be_bytes();
    HwAddr::ethernet([0x02, 0, b[0], b[1], b[2], b[3]])
}

/// The parameter request list (option 55) dhclient sends on Debian: every real client sends one, of 7 to
/// 20 codes, in each DISCOVER and REQUEST.
pub const PRL: [u8; 13] = [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42];

/// Client `n`'s DHCP message, with the client identifier (type 1 and its chaddr, RFC 2132 §9.14) that
/// dhclient, dhcpcd, systemd-networkd and Windows send, so its lease is keyed by it, and dhclient's
/// parameter request list.
pub fn msg(kind: MessageType, n: u32) -> ClientMsg {
    let id = [&[1u8][..], hw(n).as_bytes()].concat();
    ClientMsg::new(kind, hw(n), n).client_id(id).params(&PRL)
}

/// Client `n`'s moment: ten new clients a millisecond, as a busy daemon sees them (its per-client rate
/// limits start a new window each second, as they do there).
pub fn clock(n: u32) -> Instant {
    Instant::from_millis(u64::from(n) / 10)
}

/// The address a reply gives.
pub fn yiaddr(t: &Transmit) -> Ipv4Addr {
    Ipv4Addr::new(t.bytes[16], t.bytes[17], t.bytes[18], t.bytes[19])
}

/// DISCOVER then REQUEST for client `n`; returns the ACK.
pub fn dora(server: &mut Server, n: u32) -> Transmit {
    let d = msg(MessageType::Discover, n).bytes();
    server.handle_packet(clock(n), meta(), &d).unwrap();
    let offer = server.poll_transmit().unwrap();
    let r = msg(MessageType::Request, n).requested(yiaddr(&offer)).server(SERVER).bytes();
    server.handle_packet(clock(n), meta(), &r).unwrap();
    server.poll_transmit().unwrap()
}

/// A server for 10.200.0.0/16 (65,521 addresses in its pool) with `leases` clients bound, numbered from 0,
/// and 64 reservations for other hosts (32 by MAC, 32 by client identifier), as a real network has: every
/// packet asks whether its client has one.
pub fn busy_server(leases: u32) -> Server {
    let mut s = SubnetConfig::new(
        "10.200.0.0/16".parse().unwrap(),
        "10.200.0.10-10.200.255.250".parse::<PoolRange>().unwrap().0,
    );
    s.lease_time = Duration::from_secs(86_400);
    s.reservations = (1..=64u8)
        .map(|i| {
            let hw = HwAddr::ethernet([0x02, 0xff, 0, 0, 0, i]);
            let by_id = i % 2 == 0;
            Reservation {
                mac: (!by_id).then_some(hw),
                client_id: by_id.then(|| HexBytes([&[1u8][..], hw.as_bytes()].concat().into())),
                ip: Ipv4Addr::new(10, 200, 254, i),
                hostname: None,
            }
        })
        .collect();
    let mut server = Server::new(ServerConfig { subnets: vec![s], ..Default::default() }, 1).unwrap();
    for n in 0..leases {
        dora(&mut server, n);
    }
    while server.poll_event().is_some() {}
    assert_eq!(server.leases().count(), leases as usize);
    server
}
