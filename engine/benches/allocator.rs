//! Allocation with big pools: a /16 pool holding 60,000 live leases.
//!
//! - `freeset/next_free`: finding the next free slot in a 65,536-slot set that is 92 % full.
//! - `server/discover_offer`: a whole DISCOVER → OFFER (parse, choose address, hold it, build and encode
//!   the reply) against a server with 60,000 bound leases.
//! - `server/dora`: DISCOVER and REQUEST → ACK, the work per new client.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dhcplab_engine::builder::ClientMsg;
use dhcplab_engine::config::{PoolRange, SubnetConfig};
use dhcplab_engine::freeset::FreeSet;
use dhcplab_engine::{Duration, HwAddr, Instant, RecvMeta, Server, ServerConfig};
use dhcproto::v4::MessageType;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};

const LEASES: u32 = 60_000;
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);

fn meta() -> RecvMeta {
    RecvMeta { iface: 0, local_addr: SERVER, src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68) }
}

fn hw(n: u32) -> HwAddr {
    let b = n.to_be_bytes();
    HwAddr::ethernet([0x02, 0, b[0], b[1], b[2], b[3]])
}

/// Client `n`'s DHCP message, with the client identifier (type 1 and its chaddr, RFC 2132 §9.14) that
/// dhclient, dhcpcd, systemd-networkd and Windows send, so its lease is keyed by it.
fn msg(kind: MessageType, n: u32) -> ClientMsg {
    let id = [&[1u8][..], hw(n).as_bytes()].concat();
    ClientMsg::new(kind, hw(n), n).client_id(id)
}

/// Client `n`'s moment: ten new clients a millisecond, as a busy daemon sees them (its per-client rate
/// limits start a new window each second, as they do there).
fn clock(n: u32) -> Instant {
    Instant::from_millis(u64::from(n) / 10)
}

/// DISCOVER then REQUEST for client `n`; returns the ACK.
fn dora(server: &mut Server, n: u32) -> dhcplab_engine::Transmit {
    let d = msg(MessageType::Discover, n).bytes();
    server.handle_packet(clock(n), meta(), &d).unwrap();
    let offer = server.poll_transmit().unwrap();
    let yiaddr = Ipv4Addr::new(offer.bytes[16], offer.bytes[17], offer.bytes[18], offer.bytes[19]);
    let r = msg(MessageType::Request, n).requested(yiaddr).server(SERVER).bytes();
    server.handle_packet(clock(n), meta(), &r).unwrap();
    server.poll_transmit().unwrap()
}

/// A server for 10.200.0.0/16 with `LEASES` clients bound.
fn busy_server() -> Server {
    let mut s = SubnetConfig::new(
        "10.200.0.0/16".parse().unwrap(),
        "10.200.0.10-10.200.255.250".parse::<PoolRange>().unwrap().0,
    );
    s.lease_time = Duration::from_secs(86_400);
    let mut server = Server::new(ServerConfig { subnets: vec![s], ..Default::default() }, 1).unwrap();
    for n in 0..LEASES {
        dora(&mut server, n);
    }
    while server.poll_event().is_some() {}
    assert_eq!(server.leases().count(), LEASES as usize);
    server
}

fn benches(c: &mut Criterion) {
    let mut set = FreeSet::full(65_536);
    for i in 0..LEASES as usize {
        set.remove(i * 65_536 / LEASES as usize);
    }
    let mut cursor = 0;
    c.bench_function("freeset/next_free (65,536 slots, 60,000 used)", |b| {
        b.iter(|| {
            let i = set.next_free_wrapping(cursor).unwrap();
            cursor = (i + 1) % 65_536;
            black_box(i)
        })
    });

    let mut server = busy_server();
    let mut n = LEASES;
    c.bench_function("server/discover_offer (60,000 leases)", |b| {
        b.iter_batched(
            || {
                n += 1;
                // Clients come and go: offers expire, so the pool never runs dry.
                (msg(MessageType::Discover, n).bytes(), clock(n))
            },
            |(pkt, now)| {
                server.handle_packet(now, meta(), &pkt).unwrap();
                let t = server.poll_transmit().unwrap();
                let _ = server.poll_event();
                // Forget the offer so the next iteration meets the same 60,000-lease table.
                let yiaddr = Ipv4Addr::new(t.bytes[16], t.bytes[17], t.bytes[18], t.bytes[19]);
                server.admin_release(now, yiaddr);
                let _ = server.poll_event();
                black_box(t)
            },
            BatchSize::SmallInput,
        )
    });

    let mut server = busy_server();
    let mut n = 1_000_000;
    c.bench_function("server/dora (60,000 leases)", |b| {
        b.iter(|| {
            n += 1;
            let ack = dora(&mut server, n);
            while server.poll_event().is_some() {}
            let yiaddr = Ipv4Addr::new(ack.bytes[16], ack.bytes[17], ack.bytes[18], ack.bytes[19]);
            server.admin_release(clock(n), yiaddr);
            let _ = server.poll_event();
            black_box(ack)
        })
    });
}

criterion_group!(allocation, benches);
criterion_main!(allocation);
