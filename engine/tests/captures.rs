//! Real clients' packets, captured on a namespace LAN where Kea 2.2 served them, answered by the engine.
//! Each reply is compared field by field with the one Kea sent. Fixtures: `tests/fixtures/captures/`.

use dhcplab_engine::capture;
use dhcplab_engine::config::{PoolRange, SubnetConfig};
use dhcplab_engine::pcap::Frame;
use dhcplab_engine::reply::Destination;
use dhcplab_engine::{Duration, Instant, RecvMeta, Server, ServerConfig};
use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use dhcproto::{Decodable, Decoder};
use std::net::Ipv4Addr;

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The subnet of `kea-functional.json`, which served the captures.
fn kea_like_server() -> Server {
    let mut s =
        SubnetConfig::new("192.0.2.0/24".parse().unwrap(), "192.0.2.10-192.0.2.250".parse::<PoolRange>().unwrap().0);
    s.routers = vec![SERVER];
    s.dns = vec![SERVER];
    s.domain_name = Some("netlab.example".into());
    s.lease_time = Duration::from_secs(21_600);
    s.renew_time = Some(Duration::from_secs(10_800));
    s.rebind_time = Some(Duration::from_secs(18_900));
    let mut relay = SubnetConfig::new(
        "198.51.100.0/24".parse().unwrap(),
        "198.51.100.10-198.51.100.250".parse::<PoolRange>().unwrap().0,
    );
    relay.routers = vec!["198.51.100.1".parse().unwrap()];
    // Kea's global lifetimes apply to both subnets.
    relay.lease_time = s.lease_time;
    relay.renew_time = s.renew_time;
    relay.rebind_time = s.rebind_time;
    Server::new(ServerConfig { subnets: vec![s, relay], ..Default::default() }, 7).unwrap()
}

/// The two subnets of `kea-relay.json`, which served perfdhcp as a relay.
fn kea_relay_server() -> Server {
    let lan =
        SubnetConfig::new("192.0.2.0/24".parse().unwrap(), "192.0.2.10-192.0.2.250".parse::<PoolRange>().unwrap().0);
    let mut far = SubnetConfig::new(
        "10.200.0.0/16".parse().unwrap(),
        "10.200.0.10-10.200.255.250".parse::<PoolRange>().unwrap().0,
    );
    far.routers = vec!["10.200.0.1".parse().unwrap()];
    far.lease_time = Duration::from_secs(21_600);
    // perfdhcp relayed from its giaddr.
    far.relays = vec!["10.200.255.254".parse().unwrap()];
    Server::new(ServerConfig { subnets: vec![lan, far], ..Default::default() }, 7).unwrap()
}

fn frames(name: &str) -> Vec<Frame> {
    let path = format!("{}/tests/fixtures/captures/{name}.pcap", env!("CARGO_MANIFEST_DIR"));
    capture::read(&std::fs::read(&path).unwrap()).unwrap().into_frames()
}

fn decode(b: &[u8]) -> Message {
    Message::decode(&mut Decoder::new(b)).unwrap()
}

/// Options a client acts on; their values must match Kea's exactly.
const COMPARED: [OptionCode; 10] = [
    OptionCode::MessageType,
    OptionCode::SubnetMask,
    OptionCode::Router,
    OptionCode::DomainNameServer,
    OptionCode::DomainName,
    OptionCode::AddressLeaseTime,
    OptionCode::ServerIdentifier,
    OptionCode::Renewal,
    OptionCode::Rebinding,
    OptionCode::ClientIdentifier,
];

/// Replays every client packet in the capture; checks each reply against Kea's. Returns the number compared.
fn replay(name: &str) -> usize {
    replay_with(name, kea_like_server(), SERVER, &[])
}

/// As [`replay`], with the server, its address on the capture's link, and options not compared (each use
/// says why).
fn replay_with(name: &str, mut server: Server, local_addr: Ipv4Addr, skip: &[OptionCode]) -> usize {
    let frames = frames(name);
    let mut compared = 0;
    for (i, f) in frames.iter().enumerate() {
        // Requests by op code: a relay's and a server's packets both use port 67.
        if f.payload.first() != Some(&1) {
            continue;
        }
        let req = decode(&f.payload);
        let meta = RecvMeta { iface: 0, local_addr, src: f.src };
        server.handle_packet(Instant::from_millis(i as u64), meta, &f.payload).unwrap();
        server.check_invariants().unwrap();
        let kea =
            frames[i + 1..].iter().find(|k| k.payload.first() == Some(&2) && decode(&k.payload).xid() == req.xid());
        let ours = server.poll_transmit();
        let (Some(kea), Some(ours)) = (&kea, &ours) else {
            panic!("{name} frame {i}: Kea replied {} and we replied {}", kea.is_some(), ours.is_some());
        };
        let (k, o) = (decode(&kea.payload), decode(&ours.bytes));
        let what = format!("{name} frame {i} ({:?})", k.opts().msg_type());
        assert_eq!(o.opcode(), k.opcode(), "{what}: op");
        assert_eq!(o.xid(), k.xid(), "{what}: xid");
        assert_eq!(o.yiaddr(), k.yiaddr(), "{what}: yiaddr");
        assert_eq!(o.ciaddr(), k.ciaddr(), "{what}: ciaddr");
        assert_eq!(o.giaddr(), k.giaddr(), "{what}: giaddr");
        assert_eq!(o.chaddr(), k.chaddr(), "{what}: chaddr");
        assert_eq!(o.flags(), k.flags(), "{what}: flags");
        for code in COMPARED.into_iter().filter(|c| !skip.contains(c)) {
            assert_eq!(o.opts().get(code), k.opts().get(code), "{what}: option {}", u8::from(code));
        }
        // Kea answered to the same IP address our destination names.
        assert_eq!(ours.dst.socket_addr(), kea.dst, "{what}: destination {:?}", ours.dst);
        if let Destination::Hardware { hw, .. } = ours.dst {
            assert_eq!(hw.as_bytes(), kea.dst_mac.as_bytes(), "{what}: destination MAC");
        }
        assert!(ours.bytes.len() >= 300, "{what}: padded");
        compared += 1;
    }
    compared
}

#[test]
fn dhclient_exchange_matches_kea() {
    assert_eq!(replay("dhclient"), 2);
}

#[test]
fn udhcpc_exchange_matches_kea() {
    assert_eq!(replay("udhcpc"), 2);
}

#[test]
fn dhcpcd_exchange_matches_kea() {
    assert_eq!(replay("dhcpcd"), 2);
}

#[test]
fn two_clients_on_one_lan_match_kea() {
    // Captured on Kea's second link, 198.51.100.0/24.
    assert_eq!(replay_with("lan-2clients", kea_like_server(), "198.51.100.1".parse().unwrap(), &[]), 4);
}

#[test]
fn relayed_perfdhcp_exchange_matches_kea() {
    // Kea 2.2 sends no T1/T2 unless configured; dhcplab always sends the RFC 2131 §4.4.5 defaults.
    let skip = [OptionCode::Renewal, OptionCode::Rebinding];
    assert_eq!(replay_with("perfdhcp-relay-unicast", kea_relay_server(), SERVER, &skip), 3);
}

#[test]
fn nmap_discover_is_offered_what_kea_offered() {
    // When nmap ran, Kea had already leased 192.0.2.10 to the dhclient run before it.
    let mut server = kea_like_server();
    let dhclient = frames("dhclient");
    for (i, f) in dhclient.iter().enumerate().filter(|(_, f)| f.payload.first() == Some(&1)) {
        let meta = RecvMeta { iface: 0, local_addr: SERVER, src: f.src };
        server.handle_packet(Instant::from_millis(i as u64), meta, &f.payload).unwrap();
    }
    while server.poll_transmit().is_some() {}
    assert_eq!(replay_with("nmap", server, SERVER, &[]), 1);
}

#[test]
fn the_dhclient_request_is_a_selecting_request_with_the_offered_address() {
    let f = frames("dhclient");
    let req = decode(&f[2].payload);
    assert_eq!(req.opts().msg_type(), Some(MessageType::Request));
    assert_eq!(req.opts().get(OptionCode::ServerIdentifier), Some(&DhcpOption::ServerIdentifier(SERVER)));
    assert!(req.opts().get(OptionCode::Hostname).is_some(), "dhclient sends the host name");
}
