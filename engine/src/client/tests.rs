//! The client against the engine's own server on a two-node wire, time jumping to the next deadline.

use super::*;
use crate::ServerConfig;
use crate::config::{PoolRange, SubnetConfig};
use crate::server::{RecvMeta, Server};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 240);
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);

fn server() -> Server {
    let mut s = SubnetConfig::new(
        "192.168.1.0/24".parse().unwrap(),
        "192.168.1.20-192.168.1.200".parse::<PoolRange>().unwrap().0,
    );
    s.routers = vec![ROUTER];
    s.dns = vec![ROUTER];
    s.lease_time = Duration::from_secs(6 * 3600);
    Server::new(ServerConfig { subnets: vec![s], ..Default::default() }, 1).unwrap()
}

fn client() -> Client {
    let mut c = ClientConfig::new(HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
    c.hostname = Some("laptop".into());
    Client::new(c, 42)
}

/// A client and (maybe) a server on one wire. Every DHCP message the client sends is recorded.
struct Wire {
    client: Client,
    server: Option<Server>,
    /// The server's address on this wire.
    server_addr: Ipv4Addr,
    now: Instant,
    sent: Vec<(Instant, MessageType, SocketAddrV4, SocketAddrV4)>,
    /// Addresses some other host answers ARP for.
    taken: Vec<Ipv4Addr>,
    /// Drop everything the client sends (the server is unreachable).
    cut: bool,
}

impl Wire {
    fn new(server: Option<Server>) -> Self {
        Wire {
            client: client(),
            server,
            server_addr: SERVER,
            now: Instant::from_secs(100),
            sent: vec![],
            taken: vec![],
            cut: false,
        }
    }

    /// Delivers everything queued, until both sides are quiet.
    fn flush(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            match t {
                ClientTransmit::ArpProbe { ip } => {
                    if self.taken.contains(&ip) {
                        self.client.handle_arp_reply(self.now, ip);
                    }
                }
                ClientTransmit::Dhcp { kind, src, dst, bytes, .. } => {
                    self.sent.push((self.now, kind, src, dst));
                    if self.cut {
                        continue;
                    }
                    let Some(server) = &mut self.server else { continue };
                    let meta = RecvMeta { iface: 0, local_addr: self.server_addr, src };
                    server.handle_packet(self.now, meta, &bytes).unwrap();
                    while let Some(reply) = server.poll_transmit() {
                        self.client.handle_packet(self.now, &reply.bytes).unwrap();
                    }
                }
            }
        }
    }

    /// Jumps to the client's next deadline (or the server's, whichever first), up to `limit`.
    fn run_until(&mut self, limit: Instant) {
        self.flush();
        loop {
            let next = [self.client.poll_timeout(), self.server.as_ref().and_then(Server::poll_timeout)]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= limit => {
                    self.now = self.now.max(t);
                    if let Some(s) = &mut self.server {
                        s.handle_timeout(self.now);
                    }
                    self.client.handle_timeout(self.now);
                    self.flush();
                }
                _ => break,
            }
        }
        self.now = limit;
    }

    fn states(&mut self) -> Vec<ClientStateKind> {
        std::iter::from_fn(|| self.client.poll_event())
            .filter_map(|(_, e)| match e {
                ClientEvent::StateChanged { to, .. } => Some(to),
                _ => None,
            })
            .collect()
    }

    fn kinds(&self) -> Vec<MessageType> {
        self.sent.iter().map(|s| s.1).collect()
    }
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

#[test]
fn dora_binds_with_the_servers_options() {
    let mut w = Wire::new(Some(server()));
    w.client.start(w.now);
    w.run_until(w.now + Duration::from_secs(5));
    use ClientStateKind::*;
    assert_eq!(w.states(), vec![Init, Selecting, Requesting, Checking, Bound]);
    assert_eq!(w.kinds(), vec![MessageType::Discover, MessageType::Request]);
    let l = w.client.lease().unwrap();
    assert_eq!(l.ip, Ipv4Addr::new(192, 168, 1, 20));
    assert_eq!(l.mask, Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(l.routers, vec![ROUTER]);
    assert_eq!(l.server, SERVER);
    assert_eq!(l.expires - l.obtained, hours(6));
    assert_eq!(l.renew_at - l.obtained, hours(3));
    // DISCOVER and the SELECTING REQUEST are broadcast from 0.0.0.0:68.
    for (_, _, src, dst) in &w.sent {
        assert_eq!(*src, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68));
        assert_eq!(*dst, SocketAddrV4::new(Ipv4Addr::BROADCAST, 67));
    }
}

#[test]
fn renews_at_t1_by_unicast_and_rebinds_at_t2_by_broadcast() {
    let mut w = Wire::new(Some(server()));
    w.client.start(w.now);
    w.run_until(w.now + Duration::from_secs(5));
    let bound_at = w.client.lease().unwrap().obtained;
    // The server answers the T1 renewal.
    w.run_until(bound_at + hours(3) + Duration::from_secs(1));
    let (at, kind, src, dst) = *w.sent.last().unwrap();
    assert_eq!((at, kind), (bound_at + hours(3), MessageType::Request));
    assert_eq!(src, SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 20), 68));
    assert_eq!(dst, SocketAddrV4::new(SERVER, 67), "RENEWING is unicast to the server");
    assert_eq!(w.client.state(), ClientStateKind::Bound);
    assert_eq!(w.client.lease().unwrap().obtained, bound_at + hours(3));
    // Now the server goes quiet: RENEWING retransmits, then REBINDING broadcasts at T2, then expiry.
    w.cut = true;
    w.states();
    let renewed = w.client.lease().unwrap().clone();
    w.run_until(renewed.expires + Duration::from_secs(1));
    use ClientStateKind::*;
    let states = w.states();
    assert_eq!(&states[..4], &[Renewing, Rebinding, Init, Selecting], "{states:?}");
    let rebind = w.sent.iter().find(|s| s.0 == renewed.rebind_at).expect("a REQUEST at T2");
    assert_eq!(rebind.3, SocketAddrV4::new(Ipv4Addr::BROADCAST, 67), "REBINDING is broadcast");
    let renewing: Vec<_> = w.sent.iter().filter(|s| s.0 > renewed.renew_at && s.0 < renewed.rebind_at).collect();
    assert!(!renewing.is_empty(), "RENEWING retransmits before T2");
    for pair in renewing.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_secs(60), "at least 60 s apart (RFC 2131 §4.4.5)");
    }
}

#[test]
fn init_reboot_on_a_new_subnet_is_naked_then_rebinds_there() {
    let mut w = Wire::new(Some(server()));
    w.client.start(w.now);
    w.run_until(w.now + Duration::from_secs(5));
    let old = w.client.lease().unwrap().ip;
    // Plug into another LAN, whose server serves 10.1.0.0/24 from 10.1.0.1.
    let mut other =
        SubnetConfig::new("10.1.0.0/24".parse().unwrap(), "10.1.0.50-10.1.0.60".parse::<PoolRange>().unwrap().0);
    other.routers = vec![Ipv4Addr::new(10, 1, 0, 1)];
    w.server = Some(Server::new(ServerConfig { subnets: vec![other], ..Default::default() }, 2).unwrap());
    w.server_addr = Ipv4Addr::new(10, 1, 0, 1);
    w.sent.clear();
    w.states();
    w.client.reboot(w.now);
    w.run_until(w.now + Duration::from_secs(10));
    use ClientStateKind::*;
    let states = w.states();
    assert_eq!(&states[..3], &[InitReboot, Rebooting, Init], "{states:?}");
    assert!(states.ends_with(&[Bound]), "{states:?}");
    assert_eq!(w.kinds(), [MessageType::Request, MessageType::Discover, MessageType::Request]);
    let new = w.client.lease().unwrap().ip;
    assert_ne!(new, old);
    assert_eq!(new.octets()[..3], [10, 1, 0]);
}

#[test]
fn no_server_means_link_local_then_retries_every_five_minutes() {
    let mut w = Wire::new(None);
    let t0 = w.now;
    w.client.start(t0);
    w.run_until(t0 + Duration::from_secs(120));
    let ll = w.client.link_local().expect("self-assigned");
    assert!(ll.claimed);
    assert_eq!(ll.ip.octets()[..2], [169, 254]);
    assert!((1..=254).contains(&ll.ip.octets()[2]), "RFC 3927 range 169.254.1.0–169.254.254.255");
    assert_eq!(w.client.address(), Some(ll.ip));
    // DISCOVER retransmissions back off 4, 8, 16 s (±1 s).
    let first: Vec<Instant> = w.sent.iter().map(|s| s.0).take(4).collect();
    for (pair, base) in first.windows(2).zip([4u64, 8, 16]) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_secs(base - 1) && gap <= Duration::from_secs(base + 1), "{gap:?} vs {base}s");
    }
    // Rounds of DISCOVER start every 5 minutes.
    w.run_until(t0 + Duration::from_secs(16 * 60));
    let rounds: Vec<u64> = w.sent.iter().map(|s| (s.0 - t0).as_secs()).filter(|s| s % 300 < 2).collect();
    assert_eq!(rounds, vec![0, 300, 600, 900], "{:?}", w.sent.iter().map(|s| (s.0 - t0).as_secs()).collect::<Vec<_>>());
    // A server appears: the next round binds and the link-local address is dropped.
    w.server = Some(server());
    w.run_until(t0 + Duration::from_secs(21 * 60));
    assert_eq!(w.client.state(), ClientStateKind::Bound);
    assert!(w.client.link_local().is_none());
    assert_eq!(w.client.address(), Some(Ipv4Addr::new(192, 168, 1, 20)));
    let events: Vec<ClientEvent> = std::iter::from_fn(|| w.client.poll_event()).map(|e| e.1).collect();
    assert!(events.contains(&ClientEvent::LinkLocalDropped { ip: ll.ip }));
}

#[test]
fn an_address_in_use_is_declined_and_another_one_bound() {
    let mut w = Wire::new(Some(server()));
    w.taken.push(Ipv4Addr::new(192, 168, 1, 20));
    w.client.start(w.now);
    w.run_until(w.now + Duration::from_secs(30));
    assert!(w.kinds().contains(&MessageType::Decline));
    let decline_at = w.sent.iter().find(|s| s.1 == MessageType::Decline).unwrap().0;
    let next_discover = w.sent.iter().filter(|s| s.1 == MessageType::Discover).nth(1).unwrap().0;
    assert!(next_discover - decline_at >= Duration::from_secs(10), "waits 10 s (RFC 2131 §3.1.5)");
    assert_eq!(w.client.lease().unwrap().ip, Ipv4Addr::new(192, 168, 1, 21));
    let srv = w.server.as_ref().unwrap();
    assert_eq!(srv.lease(Ipv4Addr::new(192, 168, 1, 20)).unwrap().state, crate::LeaseState::Declined);
}

#[test]
fn release_then_restart_asks_for_the_same_address() {
    let mut w = Wire::new(Some(server()));
    w.client.start(w.now);
    w.run_until(w.now + Duration::from_secs(5));
    let ip = w.client.lease().unwrap().ip;
    w.client.release(w.now);
    w.flush();
    let (_, kind, src, dst) = *w.sent.last().unwrap();
    assert_eq!((kind, src, dst), (MessageType::Release, SocketAddrV4::new(ip, 68), SocketAddrV4::new(SERVER, 67)));
    assert_eq!(w.client.state(), ClientStateKind::Stopped);
    assert_eq!(w.server.as_ref().unwrap().lease(ip).unwrap().state, crate::LeaseState::Released);
    // After release the lease is still remembered but its time has not run out: INIT-REBOOT.
    w.client.start(w.now);
    w.run_until(w.now + Duration::from_secs(5));
    assert_eq!(w.client.lease().unwrap().ip, ip);
}

#[test]
fn inform_gets_options_for_a_static_address() {
    let mut w = Wire::new(Some(server()));
    let me = Ipv4Addr::new(192, 168, 1, 5);
    w.client.inform(w.now, me);
    w.run_until(w.now + Duration::from_secs(5));
    assert_eq!(w.client.state(), ClientStateKind::Static);
    assert_eq!(w.client.address(), Some(me));
    assert_eq!(w.client.lease().unwrap().routers, vec![ROUTER]);
    assert!(w.server.as_ref().unwrap().leases().next().is_none());
}

#[test]
fn replies_for_others_are_ignored() {
    let mut w = Wire::new(Some(server()));
    w.client.start(w.now);
    // Grab the DISCOVER, answer it, then corrupt the xid of the OFFER.
    let Some(ClientTransmit::Dhcp { bytes, src, .. }) = w.client.poll_transmit() else { panic!() };
    let srv = w.server.as_mut().unwrap();
    srv.handle_packet(w.now, RecvMeta { iface: 0, local_addr: SERVER, src }, &bytes).unwrap();
    let mut offer = srv.poll_transmit().unwrap().bytes;
    offer[4] ^= 0xff;
    w.client.handle_packet(w.now, &offer).unwrap();
    assert_eq!(w.client.state(), ClientStateKind::Selecting);
    assert_eq!(w.client.ignored, 1);
    assert!(w.client.handle_packet(w.now, &offer[..100]).is_err());
}

#[test]
fn secs_counts_from_the_start_of_the_acquisition() {
    let mut w = Wire::new(None);
    w.client.start(w.now);
    let secs: Vec<u16> = std::iter::from_fn(|| w.client.poll_transmit())
        .filter_map(|t| match t {
            ClientTransmit::Dhcp { bytes, .. } => Some(u16::from_be_bytes([bytes[8], bytes[9]])),
            _ => None,
        })
        .collect();
    assert_eq!(secs, vec![0], "the first DISCOVER goes out at once with secs 0");
    w.now += Duration::from_secs(6);
    w.client.handle_timeout(w.now);
    let Some(ClientTransmit::Dhcp { bytes, .. }) = w.client.poll_transmit() else { panic!("a retransmission") };
    let s = u16::from_be_bytes([bytes[8], bytes[9]]);
    assert!((3..=6).contains(&s), "retransmission about 4 s in, secs {s}");
}

#[test]
fn event_names_are_the_serde_tags() {
    let ip = Ipv4Addr::new(192, 0, 2, 9);
    for ev in [ClientEvent::Declined { ip }, ClientEvent::LinkLocalClaimed { ip }, ClientEvent::Expired { ip }] {
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["kind"], ev.name());
    }
}
