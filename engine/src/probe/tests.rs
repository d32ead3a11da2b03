//! The probe against the engine's own servers on one wire, time jumping to the next deadline.

use super::*;
use crate::ServerConfig;
use crate::config::{PoolRange, SubnetConfig};
use crate::server::{RecvMeta, Server};
use dhcproto::v4::{Decodable, Decoder, DhcpOption, Message, MessageType};

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
    /// Every message the probe sent, decoded.
    messages: Vec<Message>,
    /// A server that drops option 82 from its answers (`Missing`), or sends back only part of it
    /// (`Changed`), as some do.
    relay_info_fault: Option<RelayInfoEcho>,
}

impl Lan {
    fn new(ask: Ask, subnet: Option<&str>, servers: Vec<(Server, Ipv4Addr, HwAddr)>) -> Lan {
        let mut config = ProbeConfig::new(ClientConfig::new(ME), ask);
        config.subnet = subnet.map(|s| s.parse().unwrap());
        Lan::with(config, servers)
    }

    fn with(config: ProbeConfig, servers: Vec<(Server, Ipv4Addr, HwAddr)>) -> Lan {
        let probe = Probe::new(config, 3);
        Lan { probe, servers, now: Instant::from_secs(1000), sent: vec![], messages: vec![], relay_info_fault: None }
    }

    /// Delivers the probe's frames to every server and their answers back, until both sides are quiet.
    fn flush(&mut self) {
        while let Some(f) = self.probe.poll_transmit() {
            let msg = Message::decode(&mut Decoder::new(&f.payload)).unwrap();
            self.sent.push(msg.opts().msg_type().unwrap());
            self.messages.push(msg);
            let mut answers = vec![];
            for (server, addr, mac) in &mut self.servers {
                // A broadcast reaches every server; a unicast only its own.
                if *f.dst.ip() != Ipv4Addr::BROADCAST && f.dst_mac != *mac {
                    continue;
                }
                let meta = RecvMeta { iface: 0, local_addr: *addr, src: f.src };
                server.handle_packet(self.now, meta, &f.payload).unwrap();
                while let Some(mut t) = server.poll_transmit() {
                    if let Some(fault) = self.relay_info_fault {
                        use dhcproto::v4::relay::{RelayAgentInformation, RelayCode};
                        let mut m = Message::decode(&mut Decoder::new(&t.bytes)).unwrap();
                        let code = dhcproto::v4::OptionCode::RelayAgentInformation;
                        if let Some(DhcpOption::RelayAgentInformation(info)) = m.opts_mut().remove(code)
                            && fault == RelayInfoEcho::Changed
                        {
                            let mut part = RelayAgentInformation::default();
                            part.insert(info.get(RelayCode::AgentCircuitId).unwrap().clone());
                            m.opts_mut().insert(DhcpOption::RelayAgentInformation(part));
                        }
                        t.bytes = crate::reply::encode(&m).unwrap();
                    }
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

/// A server for this link and, through relays at 198.51.100.1, for 198.51.100.0/24.
fn server_with_a_relayed_subnet() -> Server {
    let mut here =
        SubnetConfig::new("192.0.2.0/24".parse().unwrap(), "192.0.2.100-192.0.2.199".parse::<PoolRange>().unwrap().0);
    here.routers = vec![Ipv4Addr::new(192, 0, 2, 1)];
    let mut there = SubnetConfig::new(
        "198.51.100.0/24".parse().unwrap(),
        "198.51.100.100-198.51.100.199".parse::<PoolRange>().unwrap().0,
    );
    there.routers = vec![Ipv4Addr::new(198, 51, 100, 1)];
    there.relays = vec![Ipv4Addr::new(198, 51, 100, 1)];
    Server::new(ServerConfig { subnets: vec![here, there], ..Default::default() }, 7).unwrap()
}

fn relayed_lan(ask: Ask) -> Lan {
    let mut config = ProbeConfig::new(ClientConfig::new(mac(9)), ask);
    let giaddr = Ipv4Addr::new(198, 51, 100, 1);
    config.subnet = Some("198.51.100.0/24".parse().unwrap());
    let mut link = RelayLink::new(giaddr, b"eth0".to_vec());
    link.remote_id = Some(b"probe".to_vec());
    config.relay = Some(RelayAs { link, mac: ME });
    Lan::with(config, vec![(server_with_a_relayed_subnet(), Ipv4Addr::new(192, 0, 2, 1), mac(1))])
}

#[test]
fn as_a_relay_the_offer_is_for_giaddr_subnet_and_option_82_comes_back() {
    let mut lan = relayed_lan(Ask::Discover);
    let r = lan.run();
    assert_eq!(r.verdict, Verdict::OneServer, "{r:?}");
    assert_eq!(r.giaddr, Some(Ipv4Addr::new(198, 51, 100, 1)));
    let s = &r.servers[0];
    assert!(s.address.is_some_and(|a| a.octets()[..3] == [198, 51, 100]), "{s:?}");
    assert_eq!(s.routers, vec![Ipv4Addr::new(198, 51, 100, 1)]);
    assert_eq!(s.relay_info, Some(RelayInfoEcho::Echoed));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // What went out is what a relay sends: giaddr, one hop, the circuit and remote ids, the client's chaddr.
    let first = &lan.messages[0];
    assert_eq!((first.giaddr(), first.hops()), (Ipv4Addr::new(198, 51, 100, 1), 1));
    assert_eq!(&first.chaddr()[..6], mac(9).as_bytes());
    let Some(dhcproto::v4::DhcpOption::RelayAgentInformation(info)) =
        first.opts().get(dhcproto::v4::OptionCode::RelayAgentInformation)
    else {
        panic!("no option 82")
    };
    use dhcproto::v4::relay::RelayInfo;
    assert!(info.iter().any(|(_, i)| *i == RelayInfo::AgentCircuitId(b"eth0".to_vec())));
    assert!(info.iter().any(|(_, i)| *i == RelayInfo::AgentRemoteId(b"probe".to_vec())));
}

#[test]
fn as_a_relay_a_request_is_acked_and_released_through_the_relay() {
    let ip = Ipv4Addr::new(198, 51, 100, 120);
    let mut lan = relayed_lan(Ask::Request(ip));
    let r = lan.run();
    assert_eq!(r.servers[0].reply, DhcpMessage::Ack, "{r:?}");
    assert_eq!(lan.sent, vec![MessageType::Request, MessageType::Release]);
    assert!(lan.messages.iter().all(|m| m.giaddr() == Ipv4Addr::new(198, 51, 100, 1)));
    assert_eq!(lan.servers[0].0.lease(ip).expect("the server's record").state, crate::LeaseState::Released);
}

#[test]
fn a_server_that_drops_or_changes_option_82_is_flagged() {
    let (server, giaddr) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 1));
    for (fault, finding) in [
        (RelayInfoEcho::Missing, Finding::RelayInfoNotEchoed { server, giaddr }),
        (RelayInfoEcho::Changed, Finding::RelayInfoChanged { server, giaddr }),
    ] {
        let mut lan = relayed_lan(Ask::Discover);
        lan.relay_info_fault = Some(fault);
        let r = lan.run();
        assert_eq!(r.servers[0].relay_info, Some(fault));
        assert_eq!(r.findings, vec![finding.clone()], "{fault:?}");
        assert!(finding.text().en.contains("RFC 3046 §2.2") && finding.text().zh.contains("选项 82"));
    }
}
