//! The probe against the engine's own servers on one wire, time jumping to the next deadline.

use super::*;
use crate::ServerConfig;
use crate::config::{PoolRange, SubnetConfig};
use crate::server::{RecvMeta, Server};
use dhcproto::v4::{Decodable, Decoder, Message, MessageType};

const ME: HwAddr = HwAddr::ethernet([0x52, 0x54, 0, 0xaa, 0, 1]);

fn server(router: [u8; 4], pool: &str) -> Server {
    let mut s = SubnetConfig::new("192.0.2.0/24".parse().unwrap(), pool.parse::<PoolRange>().unwrap().0);
    s.routers = vec![Ipv4Addr::from(router)];
    s.dns = vec![Ipv4Addr::new(192, 0, 2, 53)];
    s.lease_time = Duration::from_secs(3600);
    Server::new(ServerConfig { subnets: vec![s], ..Default::default() }, 7).unwrap()
}

struct Lan {
    probe: Probe,
    /// Each server with its address and MAC.
    servers: Vec<(Server, Ipv4Addr, HwAddr)>,
    now: Instant,
    /// The kind of every message the probe sent.
    sent: Vec<MessageType>,
}

impl Lan {
    fn new(ask: Ask, subnet: Option<&str>, servers: Vec<(Server, Ipv4Addr, HwAddr)>) -> Lan {
        let mut config = ProbeConfig::new(ClientConfig::new(ME), ask);
        config.subnet = subnet.map(|s| s.parse().unwrap());
        Lan { probe: Probe::new(config, 3), servers, now: Instant::from_secs(1000), sent: vec![] }
    }

    /// Delivers the probe's frames to every server and their answers back, until both sides are quiet.
    fn flush(&mut self) {
        while let Some(f) = self.probe.poll_transmit() {
            let msg = Message::decode(&mut Decoder::new(&f.payload)).unwrap();
            self.sent.push(msg.opts().msg_type().unwrap());
            let mut answers = vec![];
            for (server, addr, mac) in &mut self.servers {
                // A broadcast reaches every server; a unicast only its own.
                if *f.dst.ip() != Ipv4Addr::BROADCAST && f.dst_mac != *mac {
                    continue;
                }
                let meta = RecvMeta { iface: 0, local_addr: *addr, src: f.src };
                server.handle_packet(self.now, meta, &f.payload).unwrap();
                while let Some(t) = server.poll_transmit() {
                    answers.push(Frame {
                        at: self.now,
                        src_mac: *mac,
                        dst_mac: ME,
                        src: SocketAddrV4::new(*addr, 67),
                        dst: t.dst.socket_addr(),
                        payload: t.bytes,
                    });
                }
            }
            for a in answers {
                self.probe.handle_frame(self.now, &a);
            }
        }
    }

    /// Runs the probe to its end, the clock jumping from one deadline to the next.
    fn run(&mut self) -> ProbeReport {
        self.probe.start(self.now);
        self.flush();
        while let Some(t) = self.probe.poll_timeout() {
            self.now = t;
            self.probe.handle_timeout(self.now);
            self.flush();
        }
        assert!(self.probe.is_finished());
        self.probe.report()
    }
}

use std::net::SocketAddrV4;

fn mac(last: u8) -> HwAddr {
    HwAddr::ethernet([2, 0, 0, 0, 0, last])
}

#[test]
fn one_server_is_healthy_and_its_offer_is_collected_not_taken() {
    let mut lan = Lan::new(
        Ask::Discover,
        Some("192.0.2.0/24"),
        vec![(server([192, 0, 2, 1], "192.0.2.100-192.0.2.199"), Ipv4Addr::new(192, 0, 2, 1), mac(1))],
    );
    let r = lan.run();
    assert_eq!(r.verdict, Verdict::OneServer);
    assert_eq!(r.verdict.exit_code(), 0);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let s = &r.servers[0];
    assert_eq!((s.server, s.mac, s.reply), (Ipv4Addr::new(192, 0, 2, 1), mac(1), DhcpMessage::Offer));
    assert_eq!(s.routers, vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(s.lease_secs, Some(3600));
    assert!(s.address.is_some_and(|a| a.octets()[3] >= 100));
    assert!(s.options.iter().any(|o| o.code == 3 && o.name == "Router" && o.value == "192.0.2.1"), "{:?}", s.options);
    assert_eq!(r.chosen, Some(Ipv4Addr::new(192, 0, 2, 1)));
    // Only DISCOVERs went out (retransmitted while waiting, never a REQUEST), and nothing is bound.
    assert!(lan.sent.iter().all(|k| *k == MessageType::Discover), "{:?}", lan.sent);
    assert!(lan.servers[0].0.leases().all(|l| l.state != crate::LeaseState::Bound));
}

#[test]
fn two_servers_are_flagged_with_the_one_a_client_takes_and_what_differs() {
    let mut lan = Lan::new(
        Ask::Discover,
        Some("192.0.2.0/24"),
        vec![
            (server([192, 0, 2, 1], "192.0.2.100-192.0.2.149"), Ipv4Addr::new(192, 0, 2, 1), mac(1)),
            (server([192, 0, 2, 254], "192.0.2.150-192.0.2.199"), Ipv4Addr::new(192, 0, 2, 2), mac(2)),
        ],
    );
    let r = lan.run();
    assert_eq!(r.verdict, Verdict::SeveralServers);
    assert_eq!(r.verdict.exit_code(), 2);
    assert_eq!(r.servers.len(), 2);
    assert_eq!(r.chosen, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert!(r.findings.contains(&Finding::SeveralServers {
        servers: vec![Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)],
        chosen: Ipv4Addr::new(192, 0, 2, 1)
    }));
    let differs: Vec<_> = r
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::Differs { field, value, chosen_value, .. } => {
                Some((*field, value.as_str(), chosen_value.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(differs, vec![(OfferField::Routers, "192.0.2.254", "192.0.2.1")]);
    let text = r.findings[0].text();
    assert!(text.en.contains("first offer") && text.zh.contains("最先"), "{text:?}");
}

#[test]
fn silence_means_no_server_and_the_link_local_story() {
    let mut lan = Lan::new(Ask::Discover, None, vec![]);
    let r = lan.run();
    assert_eq!(r.verdict, Verdict::NoServer);
    assert_eq!(r.verdict.exit_code(), 1);
    assert_eq!(r.findings, vec![Finding::NoServer { sent: r.sent, waited_ms: 5000 }]);
    assert!(r.sent >= 1);
    let t = r.findings[0].text();
    assert!(t.en.contains("169.254.0.0/16") && t.en.contains("5 minutes") && t.zh.contains("169.254"), "{t:?}");
}

#[test]
fn an_offer_outside_the_interface_subnet_is_flagged() {
    let mut lan = Lan::new(
        Ask::Discover,
        Some("198.51.100.0/24"),
        vec![(server([192, 0, 2, 1], "192.0.2.100-192.0.2.199"), Ipv4Addr::new(192, 0, 2, 1), mac(1))],
    );
    let r = lan.run();
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::OutsideSubnet { subnet, .. } if subnet.to_string() == "198.51.100.0/24")),
        "{:?}",
        r.findings
    );
}

#[test]
fn a_wrong_request_is_naked_with_its_cause_and_a_right_one_is_released_again() {
    let wrong = Ipv4Addr::new(198, 51, 100, 7);
    let mut lan = Lan::new(
        Ask::Request(wrong),
        Some("192.0.2.0/24"),
        vec![(server([192, 0, 2, 1], "192.0.2.100-192.0.2.199"), Ipv4Addr::new(192, 0, 2, 1), mac(1))],
    );
    let r = lan.run();
    assert_eq!(r.servers[0].reply, DhcpMessage::Nak);
    let nak = r.findings.iter().find(|f| matches!(f, Finding::Nak { .. })).expect("a NAK finding");
    assert!(matches!(nak, Finding::Nak { requested, outside: Some(_), .. } if *requested == wrong));
    assert!(nak.text().en.contains("moved"), "{:?}", nak.text());
    assert_eq!(lan.sent, vec![MessageType::Request]);

    let right = Ipv4Addr::new(192, 0, 2, 120);
    let mut lan = Lan::new(
        Ask::Request(right),
        Some("192.0.2.0/24"),
        vec![(server([192, 0, 2, 1], "192.0.2.100-192.0.2.199"), Ipv4Addr::new(192, 0, 2, 1), mac(1))],
    );
    let r = lan.run();
    assert_eq!(r.servers[0].reply, DhcpMessage::Ack);
    assert!(r.findings.contains(&Finding::Released { server: Ipv4Addr::new(192, 0, 2, 1), address: right }));
    // The REQUEST bound it, the RELEASE (unicast to the server's MAC) gave it back.
    assert_eq!(lan.sent, vec![MessageType::Request, MessageType::Release]);
    let lease = lan.servers[0].0.lease(right).expect("the server's record");
    assert_eq!(lease.state, crate::LeaseState::Released);
}

#[test]
fn inform_gets_options_only() {
    let mut lan = Lan::new(
        Ask::Inform(Ipv4Addr::new(192, 0, 2, 9)),
        Some("192.0.2.0/24"),
        vec![(server([192, 0, 2, 1], "192.0.2.100-192.0.2.199"), Ipv4Addr::new(192, 0, 2, 1), mac(1))],
    );
    let r = lan.run();
    assert_eq!(r.verdict, Verdict::OneServer);
    let s = &r.servers[0];
    assert_eq!((s.reply, s.address, s.lease_secs), (DhcpMessage::Ack, None, None));
    assert_eq!(s.dns, vec![Ipv4Addr::new(192, 0, 2, 53)]);
    assert_eq!(lan.sent, vec![MessageType::Inform]);
}
