//! Random clients through random message sequences. After every step the lease table's invariants hold,
//! and an independent model of what was ACKed shows no address ever held by two clients at once.

use dhcplab_engine::builder::ClientMsg;
use dhcplab_engine::config::{PoolRange, Reservation, ServerPolicy, SubnetConfig};
use dhcplab_engine::{Duration, HwAddr, Instant, RecvMeta, Server, ServerConfig};
use dhcproto::v4::{Message, MessageType};
use dhcproto::{Decodable, Decoder};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OTHER_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const RELAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const CLIENTS: u8 = 24;
const RESERVED_FOR: u8 = 0;
const RESERVED_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 99);

fn config() -> ServerConfig {
    let mut lan =
        SubnetConfig::new("192.0.2.0/24".parse().unwrap(), "192.0.2.10-192.0.2.21".parse::<PoolRange>().unwrap().0);
    lan.lease_time = Duration::from_secs(600);
    lan.reservations.push(Reservation {
        mac: Some(hw(RESERVED_FOR)),
        client_id: None,
        ip: RESERVED_IP,
        hostname: None,
    });
    let mut far = SubnetConfig::new(
        "198.51.100.0/24".parse().unwrap(),
        "198.51.100.10-198.51.100.15".parse::<PoolRange>().unwrap().0,
    );
    far.lease_time = Duration::from_secs(300);
    far.relays = vec![RELAY];
    let policy = ServerPolicy {
        offer_hold: Duration::from_secs(30),
        decline_probation: Duration::from_secs(900),
        ..Default::default()
    };
    ServerConfig { policy, subnets: vec![lan, far], ..Default::default() }
}

fn hw(c: u8) -> HwAddr {
    HwAddr::ethernet([2, 0, 0, 0, 0, c])
}

/// Addresses the model draws from: both pools, the reservation, and some outside any pool.
fn addr(n: u8) -> Ipv4Addr {
    match n % 4 {
        0 => Ipv4Addr::new(192, 0, 2, 8 + n % 16),
        1 => Ipv4Addr::new(198, 51, 100, 8 + n % 10),
        2 => RESERVED_IP,
        _ => Ipv4Addr::new(203, 0, 113, n),
    }
}

#[derive(Debug, Clone)]
enum Step {
    Discover { c: u8, want: Option<u8>, relayed: bool },
    Select { c: u8, ours: bool },
    InitReboot { c: u8, ip: u8 },
    Renew { c: u8 },
    RenewOther { c: u8, ip: u8 },
    Release { c: u8 },
    Decline { c: u8 },
    Inform { c: u8 },
    Wait { secs: u16 },
    Garbage { bytes: Vec<u8> },
}

fn step() -> impl Strategy<Value = Step> {
    let c = 0..CLIENTS;
    prop_oneof![
        4 => (c.clone(), proptest::option::of(any::<u8>()), any::<bool>()).prop_map(|(c, want, relayed)| Step::Discover { c, want, relayed }),
        4 => (c.clone(), prop::bool::weighted(0.8)).prop_map(|(c, ours)| Step::Select { c, ours }),
        2 => (c.clone(), any::<u8>()).prop_map(|(c, ip)| Step::InitReboot { c, ip }),
        2 => c.clone().prop_map(|c| Step::Renew { c }),
        1 => (c.clone(), any::<u8>()).prop_map(|(c, ip)| Step::RenewOther { c, ip }),
        1 => c.clone().prop_map(|c| Step::Release { c }),
        1 => c.clone().prop_map(|c| Step::Decline { c }),
        1 => c.clone().prop_map(|c| Step::Inform { c }),
        2 => (0u16..700).prop_map(|secs| Step::Wait { secs }),
        1 => prop::collection::vec(any::<u8>(), 0..400).prop_map(|bytes| Step::Garbage { bytes }),
    ]
}

/// What the test believes each client was told.
#[derive(Default)]
struct Model {
    /// Last OFFER per client: (address, relayed).
    offers: HashMap<u8, (Ipv4Addr, bool)>,
    /// ACKed addresses: who holds each and until when.
    acked: HashMap<Ipv4Addr, (u8, Instant)>,
    /// Each client's current address, if bound.
    bound: HashMap<u8, (Ipv4Addr, bool)>,
}

fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut server = Server::new(config(), 3).unwrap();
    let mut model = Model::default();
    let mut now = Instant::from_secs(1);
    let mut xid = 0u32;
    for step in steps {
        xid += 1;
        let (msg, relayed, client) = match &step {
            Step::Discover { c, want, relayed } => {
                // A client in INIT has no address (RFC 2131 §4.4.1): whatever it held, it gave up.
                if let Some((old, _)) = model.bound.remove(c) {
                    model.acked.remove(&old);
                }
                let mut m = ClientMsg::new(MessageType::Discover, hw(*c), xid);
                if let Some(w) = want {
                    m = m.requested(addr(*w));
                }
                if *relayed {
                    m = m.giaddr(RELAY);
                }
                (m, *relayed, *c)
            }
            Step::Select { c, ours } => {
                let Some(&(ip, relayed)) = model.offers.get(c) else { continue };
                let sid = if *ours { SERVER } else { OTHER_SERVER };
                let mut m = ClientMsg::new(MessageType::Request, hw(*c), xid).requested(ip).server(sid);
                if relayed {
                    m = m.giaddr(RELAY);
                }
                (m, relayed, *c)
            }
            Step::InitReboot { c, ip } => {
                (ClientMsg::new(MessageType::Request, hw(*c), xid).requested(addr(*ip)), false, *c)
            }
            Step::Renew { c } => {
                let Some(&(ip, relayed)) = model.bound.get(c) else { continue };
                let mut m = ClientMsg::new(MessageType::Request, hw(*c), xid).ciaddr(ip);
                if relayed {
                    m = m.giaddr(RELAY);
                }
                (m, relayed, *c)
            }
            Step::RenewOther { c, ip } => {
                (ClientMsg::new(MessageType::Request, hw(*c), xid).ciaddr(addr(*ip)), false, *c)
            }
            Step::Release { c } => {
                let Some((ip, _)) = model.bound.remove(c) else { continue };
                model.acked.remove(&ip);
                (ClientMsg::new(MessageType::Release, hw(*c), xid).ciaddr(ip).server(SERVER), false, *c)
            }
            Step::Decline { c } => {
                let Some((ip, _)) = model.bound.remove(c) else { continue };
                model.acked.remove(&ip);
                (ClientMsg::new(MessageType::Decline, hw(*c), xid).requested(ip).server(SERVER), false, *c)
            }
            Step::Inform { c } => (ClientMsg::new(MessageType::Inform, hw(*c), xid).ciaddr(addr(*c)), false, *c),
            Step::Wait { secs } => {
                now += Duration::from_secs(u64::from(*secs));
                server.handle_timeout(now);
                prop_assert_eq!(server.check_invariants(), Ok(()));
                continue;
            }
            Step::Garbage { bytes } => {
                let meta = RecvMeta { iface: 0, local_addr: SERVER, src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68) };
                let _ = server.handle_packet(now, meta, bytes);
                prop_assert!(server.poll_transmit().is_none() || bytes.len() >= 240);
                while server.poll_transmit().is_some() {}
                prop_assert_eq!(server.check_invariants(), Ok(()));
                continue;
            }
        };
        let src = if relayed { SocketAddrV4::new(RELAY, 67) } else { SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68) };
        let meta = RecvMeta { iface: 0, local_addr: SERVER, src };
        let _ = server.handle_packet(now, meta, &msg.bytes());
        prop_assert_eq!(server.check_invariants(), Ok(()), "after {:?}", step);
        while let Some(t) = server.poll_transmit() {
            let reply = Message::decode(&mut Decoder::new(&t.bytes)).unwrap();
            let ip = reply.yiaddr();
            match reply.opts().msg_type() {
                Some(MessageType::Offer) => {
                    prop_assert!(ip != RESERVED_IP || client == RESERVED_FOR, "reserved address offered to {}", client);
                    model.offers.insert(client, (ip, relayed));
                }
                Some(MessageType::Ack) if !ip.is_unspecified() => {
                    prop_assert!(ip != RESERVED_IP || client == RESERVED_FOR, "reserved address ACKed to {}", client);
                    if let Some(&(holder, until)) = model.acked.get(&ip) {
                        prop_assert!(
                            holder == client || until <= now,
                            "{} ACKed to client {} while client {} holds it until {}",
                            ip,
                            client,
                            holder,
                            until
                        );
                    }
                    // A client holds one address per subnet: its previous one is given up.
                    if let Some((old, _)) = model.bound.insert(client, (ip, relayed))
                        && old != ip
                    {
                        model.acked.remove(&old);
                    }
                    let lease = server.lease(ip).expect("ACKed lease is in the table");
                    prop_assert_eq!(lease.hw, hw(client));
                    model.acked.insert(ip, (client, lease.expires));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

proptest! {
    // 300 cases by default; PROPTEST_CASES=N for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_address_is_ever_held_twice(steps in prop::collection::vec(step(), 1..120)) {
        run(steps)?;
    }
}

#[test]
fn a_long_busy_run_keeps_every_invariant() {
    // Thousands of clients' worth of steps in one deterministic run.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let steps = prop::collection::vec(step(), 5000).new_tree(&mut runner).unwrap().current();
    run(steps).unwrap();
}
