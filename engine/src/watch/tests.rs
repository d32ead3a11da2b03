//! The watcher hears the engine's own client and server talk on one wire.

use super::*;
use crate::ServerConfig;
use crate::client::{Client, ClientConfig, ClientTransmit};
use crate::config::{PoolRange, SubnetConfig};
use crate::server::{RecvMeta, Server};
use std::net::SocketAddrV4;

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER_MAC: HwAddr = HwAddr::ethernet([2, 0, 0, 0, 0, 1]);
const CLIENT_MAC: HwAddr = HwAddr::ethernet([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

/// A client, a server and the watcher on one wire; every frame is heard by the watcher.
struct Wire {
    client: Client,
    server: Server,
    watch: Watch,
    now: Instant,
    told: Vec<WatchEvent>,
}

impl Wire {
    fn new() -> Wire {
        let mut s = SubnetConfig::new(
            "192.0.2.0/24".parse().unwrap(),
            "192.0.2.100-192.0.2.199".parse::<PoolRange>().unwrap().0,
        );
        s.lease_time = Duration::from_secs(3600);
        let server = Server::new(ServerConfig { subnets: vec![s], ..Default::default() }, 1).unwrap();
        let mut c = ClientConfig::new(CLIENT_MAC);
        c.hostname = Some("laptop".into());
        c.probe = false;
        Wire { client: Client::new(c, 5), server, watch: Watch::new("eth0"), now: Instant::from_secs(50), told: vec![] }
    }

    fn hear(&mut self, f: &Frame) {
        self.watch.handle_frame(self.now, f);
        while let Some(e) = self.watch.poll_event() {
            self.told.push(e);
        }
    }

    fn flush(&mut self) {
        while let Some(ClientTransmit::Dhcp { src, dst, bytes, .. }) = self.client.poll_transmit() {
            let dst_mac = if dst.ip().is_broadcast() { HwAddr::ethernet([0xff; 6]) } else { SERVER_MAC };
            let f = Frame { at: self.now, src_mac: CLIENT_MAC, dst_mac, src, dst, payload: bytes.clone() };
            self.hear(&f);
            self.now += Duration::from_millis(2);
            let meta = RecvMeta { iface: 0, local_addr: SERVER, src };
            self.server.handle_packet(self.now, meta, &bytes).unwrap();
            while let Some(t) = self.server.poll_transmit() {
                let dst = t.dst.socket_addr();
                let f = Frame {
                    at: self.now,
                    src_mac: SERVER_MAC,
                    dst_mac: if dst.ip().is_broadcast() { HwAddr::ethernet([0xff; 6]) } else { CLIENT_MAC },
                    src: SocketAddrV4::new(SERVER, 67),
                    dst,
                    payload: t.bytes.clone(),
                };
                self.hear(&f);
                self.client.handle_packet(self.now, &t.bytes).unwrap();
            }
        }
    }
}

#[test]
fn a_dora_is_told_in_order_and_summed_up_and_a_release_gives_the_lease_back() {
    let mut w = Wire::new();
    w.client.start(w.now);
    w.flush();
    let kinds: Vec<DhcpMessage> = w.told.iter().map(|e| e.packet.summary.msg).collect();
    assert_eq!(kinds, [DhcpMessage::Discover, DhcpMessage::Offer, DhcpMessage::Request, DhcpMessage::Ack]);
    assert!(w.told.iter().all(|e| e.client == CLIENT_MAC && e.hostname.as_deref() == Some("laptop")));
    let discover = &w.told[0];
    assert!(discover.text.en.contains("52:54:00:12:34:56 (laptop) broadcasts DHCPDISCOVER"), "{:?}", discover.text);
    assert!(discover.text.zh.contains("广播 DHCPDISCOVER"), "{:?}", discover.text);
    assert_eq!(discover.packet.dir, Direction::In);
    assert!(w.told[1].text.en.starts_with("server 192.0.2.1 offers 192.0.2.100"), "{:?}", w.told[1].text);
    assert_eq!(w.told[1].packet.dir, Direction::Out);
    let ack = &w.told[3];
    let Some(Outcome::Bound { ip, server, lease_secs, took_ms, renewal }) = ack.outcome.clone() else {
        panic!("no outcome: {ack:?}")
    };
    assert_eq!((ip, server, lease_secs, renewal), (Ipv4Addr::new(192, 0, 2, 100), SERVER, Some(3600), false));
    assert_eq!(took_ms, 4, "DISCOVER at 0 ms, OFFER and REQUEST at 2 ms, ACK at 4 ms");
    let told = ack.outcome.as_ref().unwrap().text("laptop");
    assert!(told.en.contains("bound 192.0.2.100 for 1h from 192.0.2.1 (4 ms from its first message)"), "{told:?}");
    assert!(told.zh.contains("用时 4 ms"), "{told:?}");
    assert_eq!(ack.lease.as_ref().map(|e| e.kind), Some(LeaseEventKind::Bound));
    assert_eq!(w.watch.lease(ip).map(|l| l.state), Some(LeaseState::Bound));
    assert_eq!((w.watch.stats().received, w.watch.stats().sent), (2, 2));

    // The lease's end is the watcher's next deadline; a RELEASE ends it early.
    assert_eq!(w.watch.poll_timeout(), Some(w.watch.lease(ip).unwrap().expires));
    w.told.clear();
    w.client.release(w.now);
    w.flush();
    assert_eq!(w.told.len(), 1);
    assert_eq!(w.told[0].outcome, Some(Outcome::Released { ip }));
    assert_eq!(w.told[0].lease.as_ref().map(|e| e.kind), Some(LeaseEventKind::Released));
    assert!(w.told[0].text.en.contains("gives 192.0.2.100 back"), "{:?}", w.told[0].text);
    assert_eq!(w.watch.lease(ip).map(|l| l.state), Some(LeaseState::Released));
    assert_eq!(w.watch.poll_timeout(), None);
}

#[test]
fn a_renewal_is_told_as_one_and_an_unreadable_packet_is_counted_by_reason() {
    let mut w = Wire::new();
    w.client.start(w.now);
    w.flush();
    w.told.clear();
    w.client.renew(w.now);
    w.flush();
    assert!(matches!(w.told.last().and_then(|e| e.outcome.clone()), Some(Outcome::Bound { renewal: true, .. })));
    assert_eq!(w.told.last().and_then(|e| e.lease.as_ref()).map(|e| e.kind), Some(LeaseEventKind::Renewed));
    let junk = Frame {
        at: w.now,
        src_mac: CLIENT_MAC,
        dst_mac: SERVER_MAC,
        src: "0.0.0.0:68".parse().unwrap(),
        dst: "255.255.255.255:67".parse().unwrap(),
        payload: vec![1, 2, 3],
    };
    w.told.clear();
    w.hear(&junk);
    assert!(w.told.is_empty());
    assert_eq!(w.watch.stats().dropped_total(), 1);
    // A lease nobody renews runs out.
    let end = w.watch.poll_timeout().unwrap();
    w.watch.handle_timeout(end);
    assert_eq!(w.watch.leases().next().map(|l| l.state), Some(LeaseState::Expired));
}
