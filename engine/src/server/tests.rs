//! The server's rules, each driven with explicit simulated time.

use super::*;
use crate::HwAddr;
use crate::builder::ClientMsg;
use crate::config::{PoolRange, Reservation, SubnetConfig};
use dhcproto::v4::{DhcpOption, Message, OptionCode};
use dhcproto::{Decodable, Decoder};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 240);
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const RELAY: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
const ZERO: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

fn config() -> ServerConfig {
    let mut lan = SubnetConfig::new(
        "192.168.1.0/24".parse().unwrap(),
        "192.168.1.20-192.168.1.29".parse::<PoolRange>().unwrap().0,
    );
    lan.routers = vec![ROUTER];
    lan.dns = vec![ROUTER];
    lan.domain_name = Some("lab.example".into());
    lan.lease_time = Duration::from_secs(6 * 3600);
    lan.reservations.push(Reservation {
        mac: Some(mac(0x99)),
        client_id: None,
        ip: "192.168.1.34".parse().unwrap(),
        hostname: Some("printer".into()),
    });
    let mut far =
        SubnetConfig::new("10.2.0.0/24".parse().unwrap(), "10.2.0.100-10.2.0.199".parse::<PoolRange>().unwrap().0);
    far.relays = vec![RELAY];
    ServerConfig { subnets: vec![lan, far], ..ServerConfig::default() }
}

fn mac(n: u8) -> HwAddr {
    HwAddr::ethernet([0x52, 0x54, 0, 0, 0, n])
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A client message as a real client would build it; the xid is derived from the MAC.
fn msg(kind: MessageType, hw: HwAddr) -> ClientMsg {
    ClientMsg::new(kind, hw, 0xabcd_0000 | u32::from(hw.as_bytes()[5]))
}

struct Lab {
    server: Server,
    now: Instant,
}

fn lab() -> Lab {
    Lab { server: Server::new(config(), 1).unwrap(), now: Instant::from_secs(1000) }
}

fn meta() -> RecvMeta {
    RecvMeta { iface: 1, local_addr: SERVER, src: SocketAddrV4::new(ZERO, 68) }
}

impl Lab {
    /// Sends a message; returns the single reply (decoded) if there is one.
    fn send(&mut self, msg: ClientMsg) -> Option<(Transmit, Message)> {
        self.send_meta(msg, meta())
    }

    fn send_meta(&mut self, msg: ClientMsg, meta: RecvMeta) -> Option<(Transmit, Message)> {
        self.server.handle_packet(self.now, meta, &msg.bytes()).expect("not dropped");
        self.server.check_invariants().expect("invariants hold");
        let t = self.server.poll_transmit()?;
        assert!(self.server.poll_transmit().is_none(), "one reply per request");
        assert!(t.bytes.len() >= 300, "padded to the BOOTP minimum");
        let m = Message::decode(&mut Decoder::new(&t.bytes)).unwrap();
        Some((t, m))
    }

    fn events(&mut self) -> Vec<LeaseEventKind> {
        std::iter::from_fn(|| self.server.poll_event()).map(|e| e.kind).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_timeout(self.now);
        self.server.check_invariants().expect("invariants hold");
    }

    /// DORA for a client that calls itself `name`; returns its address.
    fn dora_named(&mut self, hw: HwAddr, name: &str) -> Ipv4Addr {
        let (_, offer) = self.send(msg(MessageType::Discover, hw).hostname(name)).expect("offer");
        let request = msg(MessageType::Request, hw).requested(offer.yiaddr()).server(SERVER).hostname(name);
        let (_, ack) = self.send(request).expect("ack");
        assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
        ack.yiaddr()
    }

    /// DISCOVER, then REQUEST of the offered address; returns it.
    fn dora(&mut self, hw: HwAddr) -> Ipv4Addr {
        let (_, offer) = self.send(msg(MessageType::Discover, hw)).expect("offer");
        let (_, ack) = self.send(msg(MessageType::Request, hw).requested(offer.yiaddr()).server(SERVER)).expect("ack");
        assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
        ack.yiaddr()
    }
}

fn lease_secs(m: &Message, code: OptionCode) -> Option<u32> {
    match m.opts().get(code)? {
        DhcpOption::AddressLeaseTime(s) | DhcpOption::Renewal(s) | DhcpOption::Rebinding(s) => Some(*s),
        _ => None,
    }
}

#[test]
fn dora_offers_then_binds_with_mask_router_lease_and_server_id() {
    let mut lab = lab();
    let (t, offer) = lab.send(msg(MessageType::Discover, mac(1))).unwrap();
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(offer.opcode(), dhcproto::v4::Opcode::BootReply);
    assert_eq!(offer.yiaddr(), ip("192.168.1.20"));
    assert_eq!(offer.ciaddr(), ZERO);
    assert_eq!(offer.xid(), 0xabcd_0001);
    assert_eq!(offer.chaddr(), mac(1).as_bytes());
    assert_eq!(offer.opts().get(OptionCode::SubnetMask), Some(&DhcpOption::SubnetMask(ip("255.255.255.0"))));
    assert_eq!(offer.opts().get(OptionCode::Router), Some(&DhcpOption::Router(vec![ROUTER])));
    assert_eq!(offer.opts().get(OptionCode::ServerIdentifier), Some(&DhcpOption::ServerIdentifier(SERVER)));
    assert_eq!(lease_secs(&offer, OptionCode::AddressLeaseTime), Some(21_600));
    assert_eq!(lease_secs(&offer, OptionCode::Renewal), Some(10_800));
    assert_eq!(lease_secs(&offer, OptionCode::Rebinding), Some(18_900));
    // No broadcast bit, no ciaddr: unicast to chaddr/yiaddr (RFC 2131 §4.1).
    assert_eq!(t.dst, Destination::Hardware { ip: ip("192.168.1.20"), hw: mac(1) });
    assert_eq!(t.src, SERVER);
    assert_eq!(lab.server.lease(offer.yiaddr()).unwrap().state, LeaseState::Offered);

    let (t, ack) =
        lab.send(msg(MessageType::Request, mac(1)).requested(offer.yiaddr()).server(SERVER).broadcast()).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), offer.yiaddr());
    assert_eq!(t.dst, Destination::Broadcast, "broadcast bit honoured");
    assert_eq!(t.dst.socket_addr(), SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    let l = lab.server.lease(ack.yiaddr()).unwrap();
    assert_eq!(l.state, LeaseState::Bound);
    assert_eq!(l.expires, lab.now + Duration::from_secs(21_600));
    assert_eq!(lab.events(), vec![LeaseEventKind::Offered, LeaseEventKind::Bound]);
    assert_eq!(lab.server.stats().sent_by_type.offer, 1);
    assert_eq!(lab.server.stats().sent_by_type.ack, 1);
}

#[test]
fn behind_a_discover_is_shed_and_every_exchange_under_way_is_still_answered() {
    let mut lab = lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1))).unwrap();
    let bound = lab.dora(mac(2));
    lab.events();
    let shed = lab.server.handle_packet_behind(lab.now, meta(), &msg(MessageType::Discover, mac(3)).bytes());
    let shed = shed.unwrap_err();
    assert_eq!(shed.reason, DropReason::Overload);
    assert!(matches!(shed.detail, std::borrow::Cow::Borrowed(_)), "no detail allocated per shed DISCOVER");
    assert!(lab.server.poll_transmit().is_none(), "no OFFER for a shed DISCOVER");
    assert!(lab.events().is_empty(), "nothing offered");
    // The REQUEST answering an earlier OFFER, and a renewal, are served as ever.
    let request = msg(MessageType::Request, mac(1)).requested(offer.yiaddr()).server(SERVER);
    lab.server.handle_packet_behind(lab.now, meta(), &request.bytes()).unwrap();
    let renewal = msg(MessageType::Request, mac(2)).ciaddr(bound);
    let from_client = RecvMeta { src: SocketAddrV4::new(bound, 68), ..meta() };
    lab.server.handle_packet_behind(lab.now, from_client, &renewal.bytes()).unwrap();
    let kinds: Vec<_> = std::iter::from_fn(|| lab.server.poll_transmit()).map(|t| t.kind).collect();
    assert_eq!(kinds, vec![DhcpMessage::Ack, DhcpMessage::Ack]);
    assert_eq!(lab.server.stats().dropped.get(&DropReason::Overload), Some(&1));
    // Caught up, the same DISCOVER is answered.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(3))).expect("an OFFER once the link has caught up");
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
}

#[test]
fn two_clients_never_share_an_address() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    let b = lab.dora(mac(2));
    assert_ne!(a, b);
    // Even asking for the other's address.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(3)).requested(a)).unwrap();
    assert_ne!(offer.yiaddr(), a);
    assert_ne!(offer.yiaddr(), b);
}

#[test]
fn parameter_request_list_filters_options() {
    let mut lab = lab();
    let (_, offer) = lab
        .send(msg(MessageType::Discover, mac(1)).opt(DhcpOption::ParameterRequestList(vec![OptionCode::Router])))
        .unwrap();
    assert!(offer.opts().get(OptionCode::Router).is_some());
    assert!(offer.opts().get(OptionCode::DomainNameServer).is_none());
    assert!(offer.opts().get(OptionCode::DomainName).is_none());
    assert!(offer.opts().get(OptionCode::SubnetMask).is_some(), "the mask always goes");
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(2))).unwrap();
    assert_eq!(offer.opts().get(OptionCode::DomainName), Some(&DhcpOption::DomainName("lab.example".into())));
}

#[test]
fn an_unanswered_offer_expires_and_the_address_returns() {
    let mut lab = lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1))).unwrap();
    let ip = offer.yiaddr();
    assert_eq!(lab.server.poll_timeout(), Some(lab.now + lab.server.offer_hold()));
    lab.events();
    lab.advance(lab.server.offer_hold());
    assert_eq!(lab.events(), vec![LeaseEventKind::OfferExpired]);
    assert!(lab.server.lease(ip).is_none());
    assert_eq!(lab.server.subnet_usage()[0].free, 10);
}

#[test]
fn an_offer_gives_way_only_to_a_request_that_answers_an_offer() {
    let mut lab = lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1))).unwrap();
    let x = offer.yiaddr();
    lab.events();
    // INIT-REBOOT claims a binding that does not exist: NAK, and the offer stays with its client.
    let (_, nak) = lab.send(msg(MessageType::Request, mac(2)).requested(x)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(lab.server.lease(x).unwrap().hw, mac(1));
    // SELECTING: the client answers an offer of that address (its own, since taken): the first REQUEST wins
    // (RFC 2131 §4.3.1), and the other client, coming later, is refused.
    let (_, ack) = lab.send(msg(MessageType::Request, mac(2)).requested(x).server(SERVER)).unwrap();
    assert_eq!((ack.opts().msg_type(), ack.yiaddr()), (Some(MessageType::Ack), x));
    assert_eq!(lab.events(), vec![LeaseEventKind::Nak, LeaseEventKind::OfferTaken, LeaseEventKind::Bound]);
    let (_, nak) = lab.send(msg(MessageType::Request, mac(1)).requested(x).server(SERVER)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(lab.server.lease(x).unwrap().hw, mac(2));
    assert_eq!(lab.server.bound_count(), 1);
}

#[test]
fn a_request_naming_another_server_frees_our_offer() {
    let mut lab = lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1))).unwrap();
    lab.events();
    let r = lab.send(msg(MessageType::Request, mac(1)).requested(ip("192.168.1.77")).server(ip("192.168.1.250")));
    assert!(r.is_none(), "no reply to a REQUEST for another server");
    assert_eq!(lab.events(), vec![LeaseEventKind::OfferWithdrawn]);
    assert!(lab.server.lease(offer.yiaddr()).is_none());
    assert_eq!(lab.server.subnet_usage()[0].free, 10);
}

#[test]
fn a_returning_client_gets_its_previous_address() {
    let mut lab = lab();
    let first = lab.dora(mac(1));
    lab.dora(mac(2));
    // RELEASE, then come back: same address, although the pool has others free.
    lab.send(msg(MessageType::Release, mac(1)).ciaddr(first).server(SERVER));
    assert_eq!(lab.server.lease(first).unwrap().state, LeaseState::Released);
    assert_eq!(lab.dora(mac(1)), first);
    // Let the lease expire, then come back: same address.
    lab.advance(Duration::from_secs(7 * 3600));
    assert_eq!(lab.server.lease(first).unwrap().state, LeaseState::Expired);
    assert_eq!(lab.dora(mac(1)), first);
}

#[test]
fn a_requested_free_address_is_offered() {
    let mut lab = lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1)).requested(ip("192.168.1.25"))).unwrap();
    assert_eq!(offer.yiaddr(), ip("192.168.1.25"));
    // Outside the pool: ignored, a pool address instead.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(2)).requested(ip("192.168.1.100"))).unwrap();
    assert!((20..=29).contains(&offer.yiaddr().octets()[3]));
}

#[test]
fn a_declined_address_is_quarantined_for_the_probation() {
    let mut lab = lab();
    let bad = lab.dora(mac(1));
    lab.events();
    assert!(lab.send(msg(MessageType::Decline, mac(1)).requested(bad).server(SERVER)).is_none());
    assert_eq!(lab.events(), vec![LeaseEventKind::Declined]);
    assert_eq!(lab.server.subnet_usage()[0].declined, 1);
    // The same client, and everyone else, get other addresses during probation.
    let again = lab.dora(mac(1));
    assert_ne!(again, bad);
    for n in 2..=9 {
        assert_ne!(lab.dora(mac(n)), bad);
    }
    // Pool of 10: 9 bound and 1 declined. Nothing left.
    let e = lab.server.handle_packet(lab.now, meta(), &msg(MessageType::Discover, mac(50)).bytes());
    assert_eq!(e.unwrap_err().reason, DropReason::PoolExhausted);
    lab.events();
    lab.advance(Duration::from_secs(24 * 3600));
    assert!(lab.events().contains(&LeaseEventKind::Reclaimed));
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(50))).unwrap();
    assert_eq!(offer.yiaddr(), bad, "back in the pool after probation");
}

#[test]
fn init_reboot_on_the_wrong_link_gets_nak() {
    let mut lab = lab();
    let (t, nak) = lab.send(msg(MessageType::Request, mac(1)).requested(ip("10.9.9.9"))).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(nak.yiaddr(), ZERO);
    assert_eq!(t.dst, Destination::Broadcast, "NAKs to clients on the link are broadcast (RFC 2131 §4.1)");
    assert!(nak.opts().get(OptionCode::AddressLeaseTime).is_none());
    assert!(
        matches!(nak.opts().get(OptionCode::Message), Some(DhcpOption::Message(m)) if m.contains("not on this network"))
    );
    assert_eq!(lab.events(), vec![LeaseEventKind::Nak]);
}

#[test]
fn init_reboot_of_a_known_lease_is_acked_and_renewed() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    lab.events();
    lab.now += Duration::from_secs(3600);
    let (_, ack) = lab.send(msg(MessageType::Request, mac(1)).requested(a)).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), a);
    assert_eq!(lab.events(), vec![LeaseEventKind::Renewed]);
}

#[test]
fn init_reboot_without_a_record_is_silent_unless_authoritative() {
    let mut lab = lab();
    let (_, ack) = lab.send(msg(MessageType::Request, mac(1)).requested(ip("192.168.1.22"))).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack), "authoritative: the free address is adopted");
    let mut cfg = config();
    cfg.policy.authoritative = false;
    lab.server.reconfigure(cfg).unwrap();
    assert!(lab.send(msg(MessageType::Request, mac(2)).requested(ip("192.168.1.23"))).is_none());
}

#[test]
fn renewing_unicasts_to_ciaddr_and_extends_the_lease() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    lab.events();
    lab.advance(Duration::from_secs(3 * 3600));
    // RENEWING (T1): unicast from the client's own address; no server id, no requested address.
    let m = RecvMeta { src: SocketAddrV4::new(a, 68), ..meta() };
    let (t, ack) = lab.send_meta(msg(MessageType::Request, mac(1)).ciaddr(a), m).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.ciaddr(), a);
    assert_eq!(t.dst, Destination::Unicast { ip: a });
    assert_eq!(lab.server.lease(a).unwrap().expires, lab.now + Duration::from_secs(6 * 3600));
    assert_eq!(lab.events(), vec![LeaseEventKind::Renewed]);
    // REBINDING (T2) looks the same but broadcast; the reply still goes to ciaddr.
    lab.advance(Duration::from_secs(5 * 3600));
    let (t, _) = lab.send(msg(MessageType::Request, mac(1)).ciaddr(a)).unwrap();
    assert_eq!(t.dst, Destination::Unicast { ip: a });
}

#[test]
fn renewing_an_address_leased_to_someone_else_gets_nak() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    let (_, nak) = lab.send(msg(MessageType::Request, mac(2)).ciaddr(a)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
}

#[test]
fn requested_lease_time_is_clamped() {
    let mut lab = lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1)).opt(DhcpOption::AddressLeaseTime(999_999))).unwrap();
    assert_eq!(lease_secs(&offer, OptionCode::AddressLeaseTime), Some(21_600));
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(2)).opt(DhcpOption::AddressLeaseTime(600))).unwrap();
    assert_eq!(lease_secs(&offer, OptionCode::AddressLeaseTime), Some(600));
    assert_eq!(lease_secs(&offer, OptionCode::Renewal), Some(300));
    assert_eq!(lease_secs(&offer, OptionCode::Rebinding), Some(525));
}

#[test]
fn a_reservation_goes_to_its_owner_and_never_to_another_client() {
    let mut lab = lab();
    let reserved = ip("192.168.1.34");
    // Others cannot get it: not by asking in DISCOVER, INIT-REBOOT or RENEWING.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1)).requested(reserved)).unwrap();
    assert_ne!(offer.yiaddr(), reserved);
    let (_, nak) = lab.send(msg(MessageType::Request, mac(2)).requested(reserved)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    let (_, nak) = lab.send(msg(MessageType::Request, mac(2)).ciaddr(reserved)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    // The owner gets it, with its hostname.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(0x99))).unwrap();
    assert_eq!(offer.yiaddr(), reserved);
    assert_eq!(offer.opts().get(OptionCode::Hostname), Some(&DhcpOption::Hostname("printer".into())));
    assert_eq!(lab.dora(mac(0x99)), reserved);
}

#[test]
fn clients_are_identified_by_client_id_before_chaddr() {
    let mut lab = lab();
    let id = DhcpOption::ClientIdentifier(vec![0xff, 1, 2, 3, 4]);
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1)).opt(id.clone())).unwrap();
    assert_eq!(offer.opts().get(OptionCode::ClientIdentifier), Some(&id), "RFC 6842 echo");
    // Same client id behind another NIC: same client.
    let (_, ack) =
        lab.send(msg(MessageType::Request, mac(2)).opt(id).requested(offer.yiaddr()).server(SERVER)).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    // With match_client_id off, chaddr decides: the other NIC is another client.
    let mut cfg = config();
    cfg.policy.match_client_id = false;
    let mut lab2 = Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::ZERO };
    let id = DhcpOption::ClientIdentifier(vec![0xff, 1, 2, 3, 4]);
    let (_, offer) = lab2.send(msg(MessageType::Discover, mac(1)).opt(id.clone())).unwrap();
    let (_, other) = lab2.send(msg(MessageType::Discover, mac(2)).opt(id)).unwrap();
    assert_ne!(other.yiaddr(), offer.yiaddr(), "a second client, offered another address");
    assert_eq!(lab2.server.lease_count(), 2);
}

#[test]
fn relayed_discover_uses_the_giaddr_subnet_and_goes_back_to_the_relay() {
    let mut lab = lab();
    let info = {
        let mut i = dhcproto::v4::relay::RelayAgentInformation::default();
        i.insert(dhcproto::v4::relay::RelayInfo::AgentCircuitId(b"port7".to_vec()));
        DhcpOption::RelayAgentInformation(i)
    };
    let m = RecvMeta { src: SocketAddrV4::new(RELAY, 67), ..meta() };
    let (t, offer) = lab.send_meta(msg(MessageType::Discover, mac(1)).giaddr(RELAY).opt(info.clone()), m).unwrap();
    assert!(ip("10.2.0.100") <= offer.yiaddr() && offer.yiaddr() <= ip("10.2.0.199"));
    assert_eq!(offer.giaddr(), RELAY);
    assert_eq!(t.dst, Destination::Relay { ip: RELAY });
    assert_eq!(t.dst.socket_addr().port(), 67);
    assert_eq!(offer.opts().get(OptionCode::RelayAgentInformation), Some(&info), "option 82 echoed (RFC 3046)");
    assert_eq!(offer.opts().get(OptionCode::SubnetMask), Some(&DhcpOption::SubnetMask(ip("255.255.255.0"))));
    // A NAK through a relay carries the broadcast bit.
    let (t, nak) =
        lab.send_meta(msg(MessageType::Request, mac(2)).giaddr(RELAY).requested(ip("192.168.1.20")), m).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert!(nak.flags().broadcast());
    assert_eq!(t.dst, Destination::Relay { ip: RELAY });
}

#[test]
fn the_relay_agent_information_comes_back_byte_for_byte() {
    // RFC 3046 §2.2: the server echoes the whole option. Sub-options out of code order, one twice, one the
    // server knows nothing of (9, vendor-specific, RFC 4243) and a DOCSIS device class of an odd length:
    // a relay may compare what it gets back with what it sent.
    let sent = [
        &[2, 6][..],
        b"remote",
        &[1, 5],
        b"port7",
        &[9, 6, 0, 0, 0x0d, 0xe9, 1, 0x2a],
        &[1, 2],
        b"p8",
        &[4, 2, 0xab, 0xcd],
    ]
    .concat();
    let info = DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(OptionCode::RelayAgentInformation, sent.clone()));
    let mut lab = lab();
    let m = RecvMeta { src: SocketAddrV4::new(RELAY, 67), ..meta() };
    let (t, offer) = lab.send_meta(msg(MessageType::Discover, mac(1)).giaddr(RELAY).opt(info.clone()), m).unwrap();
    assert_eq!(crate::packet::option_value(&t.bytes, 82).as_deref(), Some(&sent[..]), "OFFER");
    let request = msg(MessageType::Request, mac(1)).giaddr(RELAY).requested(offer.yiaddr()).server(SERVER);
    let (t, ack) = lab.send_meta(request.opt(info.clone()), m).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(crate::packet::option_value(&t.bytes, 82).as_deref(), Some(&sent[..]), "ACK");
    let (t, nak) = lab
        .send_meta(msg(MessageType::Request, mac(2)).giaddr(RELAY).requested(ip("192.168.1.20")).opt(info), m)
        .unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(crate::packet::option_value(&t.bytes, 82).as_deref(), Some(&sent[..]), "NAK");
}

#[test]
fn link_selection_overrides_giaddr() {
    let mut lab = lab();
    let from_relay = RecvMeta { src: SocketAddrV4::new(RELAY, 67), ..meta() };
    let m =
        msg(MessageType::Discover, mac(1)).giaddr(ip("192.168.1.1")).opt(DhcpOption::SubnetSelection(ip("10.2.0.0")));
    let (_, offer) = lab.send_meta(m, from_relay).unwrap();
    assert_eq!(offer.yiaddr().octets()[..3], [10, 2, 0]);
}

/// What the server does with a packet that must get nothing: the reason it was dropped.
fn refused(lab: &mut Lab, m: ClientMsg, meta: RecvMeta) -> DropReason {
    let e = lab.server.handle_packet(lab.now, meta, &m.bytes()).expect_err("dropped");
    assert!(lab.server.poll_transmit().is_none(), "no reply");
    assert!(lab.server.poll_event().is_none(), "nothing offered");
    e.reason
}

#[test]
fn only_a_configured_relay_may_relay_and_name_a_subnet() {
    let mut lab = lab();
    // A host on the LAN pretends to be a relay for the far subnet (giaddr, and the same with option 118
    // or 82 link selection): nothing, and counted.
    let spoof = || msg(MessageType::Discover, mac(1)).giaddr(RELAY);
    assert_eq!(refused(&mut lab, spoof(), meta()), DropReason::UntrustedRelay);
    let from_lan_host = RecvMeta { src: SocketAddrV4::new(ip("192.168.1.77"), 67), ..meta() };
    let named = spoof().opt(DhcpOption::SubnetSelection(ip("10.2.0.0")));
    assert_eq!(refused(&mut lab, named, from_lan_host), DropReason::UntrustedRelay);
    // The real relay may relay for the far subnet only, not for the LAN (it has no relays).
    let from_relay = RecvMeta { src: SocketAddrV4::new(RELAY, 67), ..meta() };
    let lan_via_relay = msg(MessageType::Discover, mac(2)).giaddr(ip("192.168.1.1"));
    assert_eq!(refused(&mut lab, lan_via_relay, from_relay), DropReason::UntrustedRelay);
    assert_eq!(lab.server.stats().dropped.get(&DropReason::UntrustedRelay), Some(&3));
}

#[test]
fn a_client_on_the_link_cannot_name_another_links_subnet() {
    let mut lab = lab();
    let named = msg(MessageType::Discover, mac(1)).opt(DhcpOption::SubnetSelection(ip("10.2.0.0")));
    assert_eq!(refused(&mut lab, named, meta()), DropReason::ForeignSubnet);
    // A DISCOVER's ciaddr is not a way in either: the client gets an address of its own link.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1)).ciaddr(ip("10.2.0.150"))).unwrap();
    assert_eq!(offer.yiaddr().octets()[..3], [192, 168, 1]);
    assert_eq!(lab.server.stats().dropped.get(&DropReason::ForeignSubnet), Some(&1));
}

#[test]
fn unknown_links_are_dropped_as_no_subnet() {
    let mut lab = lab();
    let m = RecvMeta { local_addr: ip("203.0.113.1"), ..meta() };
    let e = lab.server.handle_packet(lab.now, m, &msg(MessageType::Discover, mac(1)).bytes());
    assert_eq!(e.unwrap_err().reason, DropReason::NoSubnet);
    assert_eq!(lab.server.stats().dropped.get(&DropReason::NoSubnet), Some(&1));
}

#[test]
fn inform_gets_options_but_no_lease() {
    let mut lab = lab();
    let me = ip("192.168.1.150");
    let (t, ack) = lab.send(msg(MessageType::Inform, mac(1)).ciaddr(me)).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ZERO);
    assert_eq!(ack.ciaddr(), me);
    assert!(ack.opts().get(OptionCode::AddressLeaseTime).is_none(), "RFC 2131 §4.3.5: no lease time");
    assert!(ack.opts().get(OptionCode::Router).is_some());
    assert_eq!(t.dst, Destination::Unicast { ip: me });
    assert!(lab.server.leases().next().is_none());
}

#[test]
fn release_and_decline_for_another_server_are_ignored() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    lab.send(msg(MessageType::Release, mac(1)).ciaddr(a).server(ip("192.168.1.250")));
    lab.send(msg(MessageType::Decline, mac(1)).requested(a).server(ip("192.168.1.250")));
    // And a RELEASE from a client that does not hold the lease.
    lab.send(msg(MessageType::Release, mac(2)).ciaddr(a).server(SERVER));
    assert_eq!(lab.server.lease(a).unwrap().state, LeaseState::Bound);
}

#[test]
fn malformed_packets_are_counted_and_the_server_keeps_serving() {
    let mut lab = lab();
    let good = msg(MessageType::Discover, mac(1)).bytes();
    let mut hlen = good.clone();
    hlen[2] = 255;
    let mut reply = good.clone();
    reply[0] = 2;
    for bad in [&good[..50], &hlen[..], &reply[..]] {
        assert!(lab.server.handle_packet(lab.now, meta(), bad).is_err());
    }
    assert_eq!(lab.server.stats().dropped_total(), 3);
    assert_eq!(lab.server.stats().parse_failed(), 3);
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_some());
}

#[test]
fn reconfigure_keeps_leases_and_refuses_bad_configs() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    let mut bad = config();
    bad.subnets[0].pools.push("10.0.0.1-10.0.0.5".parse().unwrap());
    assert!(lab.server.reconfigure(bad).is_err());
    let mut bigger = config();
    bigger.subnets[0].pools = vec!["192.168.1.20-192.168.1.60".parse().unwrap()];
    lab.server.reconfigure(bigger).unwrap();
    assert_eq!(lab.server.lease(a).unwrap().state, LeaseState::Bound);
    assert_eq!(lab.server.subnet_usage()[0].pool_size, 41);
    assert_ne!(lab.dora(mac(2)), a);
    lab.server.check_invariants().unwrap();
}

#[test]
fn restore_refuses_conflicting_leases() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    let mut other = lab.server.lease(a).unwrap().clone();
    (other.hw, other.client_id, other.keyed_by) = (mac(2), None, crate::KeyedBy::Hw);
    assert!(lab.server.restore(other).is_err());
}

#[test]
fn admin_release_frees_the_address() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    let ev = lab.server.admin_release(lab.now, a).unwrap();
    assert_eq!(ev.kind, LeaseEventKind::Released);
    assert_eq!(lab.server.lease(a).unwrap().state, LeaseState::Released);
    assert!(lab.server.admin_release(lab.now, a).is_none());
}

#[test]
fn a_client_given_another_address_loses_its_old_lease_with_an_event() {
    // A client with a pool address is given a reservation and starts over (DISCOVER): it is offered its
    // reserved address, and the pool address is visibly given up, not silently dropped.
    let (before, after) = before_and_after_reservation("192.168.1.40");
    let mut lab = Lab { server: Server::new(before, 1).unwrap(), now: Instant::from_secs(1000) };
    let pool_ip = lab.dora(mac(7));
    lab.server.reconfigure(after).unwrap();
    lab.events();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(7))).unwrap();
    assert_eq!(offer.yiaddr(), ip("192.168.1.40"));
    let events: Vec<(LeaseEventKind, Ipv4Addr)> =
        std::iter::from_fn(|| lab.server.poll_event()).map(|e| (e.kind, e.ip)).collect();
    assert_eq!(events, vec![(LeaseEventKind::Released, pool_ip), (LeaseEventKind::Offered, ip("192.168.1.40"))]);
    assert_eq!(lab.server.lease(pool_ip).map(|l| l.state), None);
}

#[test]
fn a_lease_pinned_as_a_reservation_keeps_its_address_and_hostname() {
    let mut lab = lab();
    let hw = mac(7);
    let (_, offer) = lab.send(msg(MessageType::Discover, hw).hostname("laptop")).unwrap();
    lab.send(msg(MessageType::Request, hw).requested(offer.yiaddr()).server(SERVER).hostname("laptop")).unwrap();
    let a = offer.yiaddr();
    let r = lab.server.reservation_from_lease(a).unwrap();
    assert_eq!((r.mac, r.ip, r.hostname.as_deref()), (Some(hw), a, Some("laptop")));
    let cfg = lab.server.config().with_reservation(r).unwrap();
    lab.server.reconfigure(cfg).unwrap();
    lab.server.check_invariants().unwrap();
    assert!(lab.server.reserved().any(|ip| ip == a));

    // Released and gone for a while, the address is never offered to anyone else, even when the other nine
    // pool addresses are all taken …
    lab.server.admin_release(lab.now, a).unwrap();
    lab.advance(Duration::from_secs(7 * 3600));
    for n in 20..29 {
        let (_, o) = lab.send(msg(MessageType::Discover, mac(n))).unwrap();
        assert_ne!(o.yiaddr(), a, "a pinned address went to another client");
    }
    // … and its owner gets it back, with the hostname as option 12, even without sending one.
    let (_, o) = lab.send(msg(MessageType::Discover, hw)).unwrap();
    assert_eq!(o.yiaddr(), a);
    assert_eq!(o.opts().get(OptionCode::Hostname), Some(&DhcpOption::Hostname("laptop".into())));

    // Pinning twice is refused with a reason, and nothing changes.
    assert_eq!(lab.server.reservation_from_lease(a), Err(PinError::AddressReserved { ip: a }));
    assert_eq!(lab.server.reservation_from_lease(ip("192.168.1.99")), Err(PinError::NoLease(ip("192.168.1.99"))));
}

#[test]
fn a_client_with_a_reservation_is_not_pinned_twice() {
    // mac(0x99) has a pool address from before its reservation (192.168.1.34) was made.
    let mut cfg = config();
    let reservation = cfg.subnets[0].reservations.pop().unwrap();
    let mut lab = Lab { server: Server::new(cfg.clone(), 1).unwrap(), now: Instant::from_secs(1000) };
    let pool_ip = lab.dora(mac(0x99));
    lab.server.reconfigure(cfg.with_reservation(reservation).unwrap()).unwrap();
    assert_eq!(
        lab.server.reservation_from_lease(pool_ip),
        Err(PinError::ClientReserved { hw: mac(0x99), ip: ip("192.168.1.34") })
    );
}

#[test]
fn a_declined_address_outside_the_pool_never_underflows_the_usage() {
    let mut lab = lab();
    assert_eq!(lab.dora(mac(1)), ip("192.168.1.20"));
    // The printer's reserved address lies outside the pool; it finds it in use and declines it.
    let printer = lab.dora(mac(0x99));
    assert_eq!(printer, ip("192.168.1.34"));
    assert_eq!(lab.server.bound_count(), 2);
    assert!(lab.send(msg(MessageType::Decline, mac(0x99)).requested(printer).server(SERVER)).is_none());
    let lan = lab.server.subnet_usage().into_iter().find(|u| u.cidr == "192.168.1.0/24".parse().unwrap()).unwrap();
    assert_eq!((lan.pool_size, lan.free, lan.used, lan.declined), (10, 9, 1, 1));
    assert_eq!((lab.server.bound_count(), lab.server.lease_count()), (1, 2));
}

/// A random-looking MAC for flood number `i`.
fn flood_mac(i: u32) -> HwAddr {
    let b = i.to_be_bytes();
    HwAddr::ethernet([0x02, 0xfe, b[0], b[1], b[2], b[3]])
}

#[test]
fn a_discover_flood_cannot_keep_a_real_client_from_an_address() {
    let mut lab = lab();
    // 5,000 DISCOVERs from random MACs at a 10-address pool, none of which ever REQUESTs.
    for i in 0..5_000 {
        lab.now += Duration::from_millis(1);
        let m = ClientMsg::new(MessageType::Discover, flood_mac(i), i);
        lab.server.handle_packet(lab.now, meta(), &m.bytes()).expect("each DISCOVER is offered an address");
        while lab.server.poll_transmit().is_some() {}
        while lab.server.poll_event().is_some() {}
    }
    lab.server.check_invariants().unwrap();
    // Memory stays bounded by the pool: ten offers and the reservation-free rest of the table.
    assert!(lab.server.lease_count() <= 10, "{} records", lab.server.lease_count());
    assert_eq!(lab.server.stats().offers_reclaimed, 4_990);
    // A real client in the middle of the flood: its offer is the newest, and its REQUEST comes in time.
    let got = lab.dora(mac(1));
    assert!(ip("192.168.1.20") <= got && got <= ip("192.168.1.29"), "{got}");
    assert_eq!(lab.server.bound_count(), 1);
    // Another, slower one: the flood takes its offer (the pool's nine other addresses, then its own) before
    // its REQUEST comes. The REQUEST still gets the address.
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(2))).unwrap();
    lab.events();
    for i in 5_000..5_010 {
        let m = ClientMsg::new(MessageType::Discover, flood_mac(i), i);
        lab.server.handle_packet(lab.now, meta(), &m.bytes()).expect("offered");
        while lab.server.poll_transmit().is_some() {}
    }
    let reclaimed = lab.events().iter().filter(|k| **k == LeaseEventKind::OfferReclaimed).count();
    assert_eq!(reclaimed, 10, "each flood DISCOVER took the oldest offer");
    assert!(lab.server.lease(offer.yiaddr()).is_some_and(|l| l.hw != mac(2)), "the flood took the offer");
    let (_, ack) = lab.send(msg(MessageType::Request, mac(2)).requested(offer.yiaddr()).server(SERVER)).unwrap();
    assert_eq!((ack.opts().msg_type(), ack.yiaddr()), (Some(MessageType::Ack), offer.yiaddr()));
    assert_eq!((lab.server.bound_count(), lab.server.stats().offers_taken), (2, 1));
}

#[test]
fn clients_racing_for_a_small_pool_never_get_an_address_another_client_still_holds() {
    use rand_core::{Rng, SeedableRng};
    // Six clients, three addresses, a minute's lease: DISCOVERs, REQUESTs for any address each client was
    // ever offered (stale offers included, as a slow client or one whose offer a newer DISCOVER took would
    // send), and time passing, in a seeded random order. An ACK never grants an address whose lease another
    // client was ACKed and still holds (it has not started over with a DISCOVER and the lease has not run out).
    let mut cfg = config();
    cfg.subnets[0].pools = vec!["192.168.1.20-192.168.1.22".parse::<PoolRange>().unwrap()];
    cfg.subnets[0].lease_time = Duration::from_secs(60);
    let mut lab = Lab { server: Server::new(cfg, 7).unwrap(), now: Instant::from_secs(1000) };
    let mut rng = rand_pcg::Pcg32::seed_from_u64(2131);
    let mut offered: Vec<Vec<Ipv4Addr>> = vec![vec![]; 6];
    let mut holds: std::collections::HashMap<Ipv4Addr, (u8, Instant)> = Default::default();
    let (mut acks, mut naks, mut taken) = (0, 0, 0);
    // A full pool drops a DISCOVER (when no offer can give way), so replies are taken as they come.
    let send = |lab: &mut Lab, m: ClientMsg| -> Option<Message> {
        let _ = lab.server.handle_packet(lab.now, meta(), &m.bytes());
        lab.server.check_invariants().expect("invariants hold");
        let t = lab.server.poll_transmit()?;
        Some(Message::decode(&mut Decoder::new(&t.bytes)).unwrap())
    };
    for _ in 0..20_000 {
        let c = (rng.next_u32() % 6) as u8;
        let hw = mac(c + 1);
        match rng.next_u32() % 3 {
            0 => {
                holds.retain(|_, (holder, _)| *holder != c);
                if let Some(offer) = send(&mut lab, msg(MessageType::Discover, hw)) {
                    offered[usize::from(c)].push(offer.yiaddr());
                }
            }
            1 if !offered[usize::from(c)].is_empty() => {
                let mine = &offered[usize::from(c)];
                let ip = mine[rng.next_u32() as usize % mine.len()];
                let Some(reply) = send(&mut lab, msg(MessageType::Request, hw).requested(ip).server(SERVER)) else {
                    continue;
                };
                if reply.opts().msg_type() == Some(MessageType::Ack) {
                    if let Some(&(holder, until)) = holds.get(&ip) {
                        assert!(holder == c || until <= lab.now, "{ip} ACKed to client {c} while {holder} holds it");
                    }
                    // A client holds one address in a subnet: its ACK for another frees the one it held.
                    holds.retain(|_, (holder, _)| *holder != c);
                    holds.insert(ip, (c, lab.now + Duration::from_secs(60)));
                    acks += 1;
                } else {
                    naks += 1;
                }
            }
            _ => lab.advance(Duration::from_secs(u64::from(rng.next_u32() % 10))),
        }
        taken += lab.events().iter().filter(|k| **k == LeaseEventKind::OfferTaken).count();
    }
    assert!(acks > 1_000 && naks > 1_000 && taken > 100, "every path taken: {acks} ACKs, {naks} NAKs, {taken} taken");
}

#[test]
fn a_decline_flood_quarantines_at_most_a_quarter_of_the_pool() {
    let mut lab = lab();
    for i in 0..40 {
        let hw = flood_mac(i);
        let offered = lab.send(msg(MessageType::Discover, hw)).expect("offer").1.yiaddr();
        assert!(lab.send(msg(MessageType::Decline, hw).requested(offered).server(SERVER)).is_none());
    }
    let lan = lab.server.subnet_usage().into_iter().find(|u| u.cidr == "192.168.1.0/24".parse().unwrap()).unwrap();
    assert_eq!(lan.declined, 2, "10 addresses: a quarter is 2");
    assert_eq!(lab.server.stats().quarantine_evictions, 38);
    // Eight addresses stay free for real clients.
    for n in 1..=8 {
        lab.dora(mac(n));
    }
    assert_eq!(lab.server.bound_count(), 8);
}

#[test]
fn a_client_that_asks_in_a_loop_is_answered_twenty_times_a_second() {
    let mut lab = lab();
    let results: Vec<_> = (0..30)
        .map(|_| {
            let r = lab.server.handle_packet(lab.now, meta(), &msg(MessageType::Discover, mac(1)).bytes());
            while lab.server.poll_transmit().is_some() {}
            r
        })
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 20);
    assert_eq!(lab.server.stats().dropped.get(&DropReason::RateLimited), Some(&10));
    for r in &results[20..] {
        let d = r.as_ref().unwrap_err();
        assert!(matches!(d.detail, std::borrow::Cow::Borrowed(_)), "no detail formatted per packet of a flood");
    }
    // Another client is not held back, and the next second the first gets its share again.
    assert!(lab.send(msg(MessageType::Discover, mac(2))).is_some());
    lab.advance(Duration::from_secs(1));
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_some());
}

#[test]
fn a_link_cap_bounds_what_one_flooded_link_costs() {
    let mut cfg = config();
    cfg.policy.link_packets_per_second = 5;
    let mut lab = Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::from_secs(1000) };
    let answered = (0..8)
        .filter(|&i| {
            let m = ClientMsg::new(MessageType::Discover, flood_mac(i), i);
            let r = lab.server.handle_packet(lab.now, meta(), &m.bytes());
            while lab.server.poll_transmit().is_some() {}
            r.is_ok()
        })
        .count();
    assert_eq!(answered, 5, "five packets a second from this link");
    // Another link is not held back by this one's flood.
    let other = RecvMeta { iface: 2, ..meta() };
    assert!(lab.server.handle_packet(lab.now, other, &msg(MessageType::Discover, mac(9)).bytes()).is_ok());
}

#[test]
fn a_rebinding_client_of_another_server_is_acked_from_the_shared_record() {
    // Server A made the lease; B learnt it from the shared database.
    let mut a = lab();
    let ip = a.dora(mac(1));
    let made = a.server.lease(ip).unwrap().clone();
    let mut b = lab();
    b.server.handle_shared(b.now, crate::arbiter::Proposal::Put(made.clone()));
    assert_eq!(b.events(), vec![LeaseEventKind::Synced]);
    assert_eq!(b.server.lease(ip), Some(&made));
    // A is gone; at T2 the client broadcasts its REQUEST (RFC 2131 §4.4.5) and B extends the same address.
    b.advance(Duration::from_secs(5 * 3600 + 1800));
    let (t, ack) = b.send(msg(MessageType::Request, mac(1)).ciaddr(ip)).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!((ack.yiaddr(), t.yiaddr), (ip, ip));
    assert_eq!(b.events(), vec![LeaseEventKind::Renewed]);
    // Another client asking B for that address is refused while the lease runs.
    let (_, nak) = b.send(msg(MessageType::Request, mac(2)).ciaddr(ip)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(b.events(), vec![LeaseEventKind::Nak]);
    // The record's removal by its server reaches B too.
    b.server.handle_shared(b.now, crate::arbiter::Proposal::remove(&made));
    assert_eq!(b.server.lease(ip), None);
    assert_eq!(b.events(), vec![LeaseEventKind::Synced]);
    b.server.check_invariants().unwrap();
}

#[test]
fn a_server_offers_from_its_share_of_the_pool() {
    let mut first = lab();
    let mut second = lab();
    first.server.set_share(Some(crate::allocator::Share { index: 0, of: 2 }));
    second.server.set_share(Some(crate::allocator::Share { index: 1, of: 2 }));
    // The pool is .20–.29: the first server hands out .20–.24, the second .25–.29.
    let from_first: Vec<u8> = (1..=3).map(|n| first.dora(mac(n)).octets()[3]).collect();
    let from_second: Vec<u8> = (1..=3).map(|n| second.dora(mac(10 + n)).octets()[3]).collect();
    assert!(from_first.iter().all(|o| (20..25).contains(o)), "{from_first:?}");
    assert!(from_second.iter().all(|o| (25..30).contains(o)), "{from_second:?}");
}

#[test]
fn with_the_store_down_only_stored_leases_are_renewed_and_never_extended() {
    let mut lab = lab();
    let a = lab.dora(mac(1));
    let b = lab.dora(mac(2));
    lab.events();
    lab.advance(Duration::from_secs(3 * 3600));
    // b's latest change may not have reached the store.
    lab.server.set_store_down(Some([b].into()));
    let renewing = |hw, ip| {
        let m = RecvMeta { src: SocketAddrV4::new(ip, 68), ..meta() };
        (msg(MessageType::Request, hw).ciaddr(ip), m)
    };
    let (m, at) = renewing(mac(1), a);
    let (t, ack) = lab.send_meta(m, at).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert!(!t.needs_store, "nothing to store: the lease is not extended");
    assert_eq!(lease_secs(&ack, OptionCode::AddressLeaseTime), Some(3 * 3600), "the rest of the stored lease");
    assert_eq!(lab.server.lease(a).unwrap().expires, lab.now + Duration::from_secs(3 * 3600));
    assert!(lab.events().is_empty());
    // An unconfirmed record, and a new client, get nothing.
    let (m, at) = renewing(mac(2), b);
    lab.server.handle_packet(lab.now, at, &m.bytes()).unwrap_err();
    let err = lab.server.handle_packet(
        lab.now,
        meta(),
        &msg(MessageType::Request, mac(3)).requested(ip("192.168.1.25")).server(SERVER).bytes(),
    );
    assert_eq!(err.unwrap_err().reason, DropReason::StoreDown);
    assert!(lab.server.poll_transmit().is_none());
    // Back up: renewals extend again, and need the store.
    lab.server.set_store_down(None);
    let (m, at) = renewing(mac(1), a);
    let (t, _) = lab.send_meta(m, at).unwrap();
    assert!(t.needs_store);
    assert_eq!(lab.server.lease(a).unwrap().expires, lab.now + Duration::from_secs(6 * 3600));
}

/// The config without mac(7)'s reservation of `at`, and with it.
fn before_and_after_reservation(at: &str) -> (ServerConfig, ServerConfig) {
    let before = config();
    let r = Reservation { mac: Some(mac(7)), client_id: None, ip: ip(at), hostname: None };
    let after = before.with_reservation(r).unwrap();
    (before, after)
}

#[test]
fn a_reservation_made_later_wins_over_the_dynamic_lease_at_the_next_renewal() {
    let (before, after) = before_and_after_reservation("192.168.1.40");
    let mut lab = Lab { server: Server::new(before, 1).unwrap(), now: Instant::from_secs(1000) };
    let dynamic = lab.dora(mac(7));
    lab.events();
    lab.server.reconfigure(after).unwrap();
    lab.advance(Duration::from_secs(3 * 3600));
    // RENEWING the dynamic address: refused, and the address is free again at once.
    let m = RecvMeta { src: SocketAddrV4::new(dynamic, 68), ..meta() };
    let (_, nak) = lab.send_meta(msg(MessageType::Request, mac(7)).ciaddr(dynamic), m).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    let said = match nak.opts().get(OptionCode::Message) {
        Some(DhcpOption::Message(m)) => m.clone(),
        other => panic!("no message: {other:?}"),
    };
    assert!(said.contains("192.168.1.40 is reserved for this client"), "{said}");
    assert_eq!(lab.events(), vec![LeaseEventKind::Released, LeaseEventKind::Nak]);
    assert!(lab.server.lease(dynamic).is_none_or(|l| !l.state.holds_address()));
    // Starting over, the client is offered and given its reservation.
    assert_eq!(lab.dora(mac(7)), ip("192.168.1.40"));
    // INIT-REBOOT for the old address is refused the same way.
    let (_, nak) = lab.send(msg(MessageType::Request, mac(7)).requested(dynamic)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
}

#[test]
fn a_non_authoritative_server_still_moves_its_own_client_to_its_reservation() {
    let (mut before, mut after) = before_and_after_reservation("192.168.1.40");
    before.policy.authoritative = false;
    after.policy.authoritative = false;
    let mut lab = Lab { server: Server::new(before, 1).unwrap(), now: Instant::from_secs(1000) };
    let dynamic = lab.dora(mac(7));
    lab.server.reconfigure(after).unwrap();
    let (_, nak) = lab.send(msg(MessageType::Request, mac(7)).ciaddr(dynamic)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak), "the server has the client's record");
}

#[test]
fn a_reserved_address_still_held_by_another_client_waits_until_it_is_free() {
    // The admin reserves a pool address that another client holds right now.
    let (before, after) = before_and_after_reservation("192.168.1.25");
    let mut lab = Lab { server: Server::new(before, 1).unwrap(), now: Instant::from_secs(1000) };
    let (_, ack) = lab.send(msg(MessageType::Request, mac(8)).requested(ip("192.168.1.25"))).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    let mine = lab.dora(mac(7));
    lab.server.reconfigure(after).unwrap();
    lab.server.check_invariants().unwrap();
    // mac(7) keeps its address while .25 is taken; the other client is moved off at its renewal.
    let (_, ack) = lab.send(msg(MessageType::Request, mac(7)).ciaddr(mine)).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    let (_, nak) = lab.send(msg(MessageType::Request, mac(8)).ciaddr(ip("192.168.1.25"))).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    // Starting over, it gets another address, and .25 is free.
    assert_ne!(lab.dora(mac(8)), ip("192.168.1.25"));
    // Now free, the reservation wins at mac(7)'s next renewal.
    let (_, nak) = lab.send(msg(MessageType::Request, mac(7)).ciaddr(mine)).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(lab.dora(mac(7)), ip("192.168.1.25"));
}

/// The usual config with conflict probing on (half a second).
fn probing_lab() -> Lab {
    let mut cfg = config();
    cfg.policy.conflict_probe = Some(Duration::from_millis(500));
    Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::from_secs(1000) }
}

#[test]
fn with_probing_the_offer_waits_for_an_unanswered_ping() {
    let mut lab = probing_lab();
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_none(), "no OFFER before the ping's wait");
    let ping = lab.server.poll_ping().expect("a ping");
    assert_eq!(ping.from, SERVER);
    assert!(lab.server.poll_ping().is_none());
    assert_eq!(lab.server.poll_timeout(), Some(lab.now + Duration::from_millis(500)));
    // The client retransmits meanwhile: still one ping, no reply yet.
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_none());
    assert!(lab.server.poll_ping().is_none());
    lab.advance(Duration::from_millis(500));
    let t = lab.server.poll_transmit().expect("the OFFER after the wait");
    let offer = Message::decode(&mut Decoder::new(&t.bytes)).unwrap();
    assert_eq!((offer.opts().msg_type(), offer.yiaddr()), (Some(MessageType::Offer), ping.ip));
    assert_eq!(lab.events(), vec![LeaseEventKind::Offered]);
    let (_, ack) = lab.send(msg(MessageType::Request, mac(1)).requested(ping.ip).server(SERVER)).unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!((lab.server.stats().conflict_probes, lab.server.stats().conflicts), (1, 0));
}

#[test]
fn an_address_that_answers_is_quarantined_and_another_is_probed_and_offered() {
    let mut lab = probing_lab();
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_none());
    let taken = lab.server.poll_ping().unwrap().ip;
    lab.now += Duration::from_millis(3);
    lab.server.handle_ping_reply(lab.now, taken);
    lab.server.check_invariants().unwrap();
    let conflict = lab.server.poll_event().expect("a conflict event");
    assert_eq!(
        (conflict.kind, conflict.ip, conflict.state),
        (LeaseEventKind::Conflict, taken, Some(LeaseState::Declined))
    );
    assert!(conflict.reason.as_deref().is_some_and(|r| r.contains("answered a ping")), "{conflict:?}");
    let next = lab.server.poll_ping().expect("another address is probed").ip;
    assert_ne!(next, taken);
    assert!(lab.server.poll_transmit().is_none());
    lab.advance(Duration::from_millis(500));
    let offer = Message::decode(&mut Decoder::new(&lab.server.poll_transmit().unwrap().bytes)).unwrap();
    assert_eq!(offer.yiaddr(), next);
    assert_eq!((lab.server.stats().conflict_probes, lab.server.stats().conflicts), (2, 1));
    // The quarantined address is offered to nobody, even when asked for by name.
    let (_, other) = {
        assert!(lab.send(msg(MessageType::Discover, mac(2)).requested(taken)).is_none());
        let p = lab.server.poll_ping().unwrap();
        lab.advance(Duration::from_millis(500));
        (p, Message::decode(&mut Decoder::new(&lab.server.poll_transmit().unwrap().bytes)).unwrap())
    };
    assert_ne!(other.yiaddr(), taken);
    // A late answer for an address nobody waits on changes nothing.
    lab.server.handle_ping_reply(lab.now, next);
    assert_eq!(lab.server.lease(next).unwrap().state, LeaseState::Offered);
}

#[test]
fn no_probe_for_the_clients_own_last_address_nor_one_that_was_just_quiet() {
    let mut lab = probing_lab();
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_none());
    let mine = lab.server.poll_ping().unwrap().ip;
    lab.advance(Duration::from_millis(500));
    lab.server.poll_transmit().unwrap();
    lab.send(msg(MessageType::Request, mac(1)).requested(mine).server(SERVER)).unwrap();
    lab.send(msg(MessageType::Release, mac(1)).ciaddr(mine).server(SERVER));
    // The client comes back after an hour: its own address again, offered at once.
    lab.advance(Duration::from_secs(3600));
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1))).expect("an OFFER at once");
    assert_eq!(offer.yiaddr(), mine);
    assert!(lab.server.poll_ping().is_none());
    // An address that stayed silent a moment ago is offered to the next client without a ping.
    let mut lab = probing_lab();
    lab.send(msg(MessageType::Discover, mac(1)));
    let quiet = lab.server.poll_ping().unwrap().ip;
    lab.advance(Duration::from_millis(500));
    lab.server.poll_transmit().unwrap();
    // mac(1) goes elsewhere; its offer is withdrawn, and mac(2) asks for that very address.
    lab.send(msg(MessageType::Request, mac(1)).requested(ip("192.168.1.99")).server(ip("192.168.1.1")));
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(2)).requested(quiet)).expect("an OFFER at once");
    assert_eq!(offer.yiaddr(), quiet);
    assert!(lab.server.poll_ping().is_none());
}

#[test]
fn a_discover_whose_addresses_all_answer_is_given_up_and_counted() {
    let mut lab = probing_lab();
    assert!(lab.send(msg(MessageType::Discover, mac(1))).is_none());
    for _ in 0..MAX_TRIES {
        let p = lab.server.poll_ping().expect("a ping");
        lab.server.handle_ping_reply(lab.now, p.ip);
    }
    assert!(lab.server.poll_ping().is_none());
    assert!(lab.server.poll_transmit().is_none());
    assert_eq!(lab.server.stats().conflicts, u64::from(MAX_TRIES));
    assert_eq!(lab.server.stats().dropped.get(&DropReason::PoolExhausted), Some(&1));
    lab.server.check_invariants().unwrap();
}

/// The usual LAN with classes: phones (vendor class `Polycom*`) get 192.168.1.100-109 and their own DNS;
/// UEFI and BIOS firmware get their boot files.
fn classy_lab() -> Lab {
    let mut cfg = config();
    cfg.subnets[0].class_pools.push(crate::config::ClassPool {
        range: "192.168.1.100-192.168.1.109".parse().unwrap(),
        classes: vec!["phones".into()],
    });
    cfg.classes = serde_json::from_str(
        r#"[
          {"name": "phones", "match": {"vendor_class": ["Polycom*"]}, "dns": ["192.168.1.53"]},
          {"name": "uefi", "match": {"arch": ["efi-x64"]}, "next_server": "192.168.1.5",
           "boot_file": "ipxe.efi", "tftp_server": "tftp.lab.example"},
          {"name": "bios", "match": {"arch": ["bios"]}, "next_server": "192.168.1.5", "boot_file": "undionly.kpxe"}
        ]"#,
    )
    .unwrap();
    Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::from_secs(1000) }
}

fn dns_of(m: &Message) -> Option<Vec<Ipv4Addr>> {
    match m.opts().get(OptionCode::DomainNameServer) {
        Some(DhcpOption::DomainNameServer(v)) => Some(v.clone()),
        _ => None,
    }
}

#[test]
fn a_phone_gets_its_class_pool_and_options_and_others_the_open_pool() {
    let mut lab = classy_lab();
    let phone = msg(MessageType::Discover, mac(1)).opt(DhcpOption::ClassIdentifier(b"Polycom-VVX".to_vec()));
    let (_, offer) = lab.send(phone).unwrap();
    let o = offer.yiaddr().octets()[3];
    assert!((100..=109).contains(&o), "the phone's pool: {}", offer.yiaddr());
    assert_eq!(dns_of(&offer), Some(vec![ip("192.168.1.53")]), "the class's DNS");
    assert_eq!(offer.opts().get(OptionCode::Router), Some(&DhcpOption::Router(vec![ROUTER])), "the subnet's router");
    let (_, laptop) = lab.send(msg(MessageType::Discover, mac(2))).unwrap();
    assert!((20..=29).contains(&laptop.yiaddr().octets()[3]), "{}", laptop.yiaddr());
    assert_eq!(dns_of(&laptop), Some(vec![ROUTER]));
    // A laptop may not take a phone address, not by asking for it and not after a reboot.
    let (_, o) = lab.send(msg(MessageType::Discover, mac(3)).requested(ip("192.168.1.105"))).unwrap();
    assert!((20..=29).contains(&o.yiaddr().octets()[3]));
    let (_, nak) = lab.send(msg(MessageType::Request, mac(3)).requested(ip("192.168.1.105"))).unwrap();
    assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(lab.server.stats().class_replies.get("phones"), Some(&1));
}

/// A `file` or `sname` field as text, up to its first NUL.
fn name(field: Option<&[u8]>) -> String {
    let b = field.unwrap_or_default();
    String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or_default()).into_owned()
}

#[test]
fn firmware_gets_its_boot_file_next_server_and_tftp_name() {
    let mut lab = classy_lab();
    let uefi = msg(MessageType::Discover, mac(1))
        .opt(DhcpOption::ClientSystemArchitecture(7u16.into()))
        .params(&[1, 3, 66, 67]);
    let (_, offer) = lab.send(uefi).unwrap();
    assert_eq!(offer.siaddr(), ip("192.168.1.5"));
    assert_eq!(name(offer.fname()), "ipxe.efi");
    assert_eq!(name(offer.sname()), "tftp.lab.example");
    assert_eq!(offer.opts().get(OptionCode::BootfileName), Some(&DhcpOption::BootfileName(b"ipxe.efi".to_vec())));
    assert!(!offer.opts().contains(OptionCode::OptionOverload), "the fields hold names, not options");
    let bios =
        msg(MessageType::Discover, mac(2)).opt(DhcpOption::ClientSystemArchitecture(0u16.into())).params(&[1, 3, 6]);
    let (_, offer) = lab.send(bios).unwrap();
    assert_eq!(name(offer.fname()), "undionly.kpxe");
    // A parameter list without option 67: the `file` field alone carries it.
    assert!(!offer.opts().contains(OptionCode::BootfileName));
    // A client of no class boots nothing: no next server, an empty `file` field.
    let (_, plain) = lab.send(msg(MessageType::Discover, mac(3))).unwrap();
    assert_eq!(plain.siaddr(), ZERO);
    assert_eq!(name(plain.fname()), "");
}

#[test]
fn unknown_clients_can_be_kept_in_a_guest_pool() {
    let mut cfg = config();
    cfg.subnets[0].pools.clear();
    cfg.subnets[0].class_pools.push(crate::config::ClassPool {
        range: "192.168.1.50-192.168.1.59".parse().unwrap(),
        classes: vec!["unknown".into()],
    });
    let mut lab = Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::from_secs(1000) };
    let (_, guest) = lab.send(msg(MessageType::Discover, mac(1))).unwrap();
    assert!((50..=59).contains(&guest.yiaddr().octets()[3]), "{}", guest.yiaddr());
    let (_, printer) = lab.send(msg(MessageType::Discover, mac(0x99))).unwrap();
    assert_eq!(printer.yiaddr(), ip("192.168.1.34"), "the known client gets its reservation");
}

#[test]
fn classes_that_can_never_match_and_pools_no_class_reaches_are_refused() {
    let mut cfg = config();
    cfg.subnets[0].class_pools.push(crate::config::ClassPool {
        range: "192.168.1.100-192.168.1.109".parse().unwrap(),
        classes: vec!["phnoes".into()],
    });
    cfg.classes = serde_json::from_str(
        r#"[{"name": "phones", "match": {"vendor_class": ["Polycom*"]}},
            {"name": "empty"}, {"name": "phones", "match": {"hostname": ["x"]}}, {"name": "known", "match": {"hostname": ["y"]}},
            {"name": "bad name", "match": {"hostname": ["z"]}}]"#,
    )
    .unwrap();
    let errs = cfg.validate().unwrap_err();
    let said: Vec<String> = errs.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
    for want in [
        "subnet[0].pool[0].classes: no class is named `phnoes`",
        "class[1].match: no conditions",
        "class[2].name: another class is named `phones`",
        "class[3].name: `known` is a built-in class",
        "class[4].name: `bad name`",
    ] {
        assert!(said.iter().any(|s| s.starts_with(want)), "{want} in {said:#?}");
    }
}

/// The usual LAN, registering names in lab.example.
fn ddns_lab() -> Lab {
    let mut cfg = config();
    let forward_zone = "lab.example.".into();
    cfg.ddns = Some(crate::ddns::DdnsNames { forward_zone, ttl: Duration::from_secs(300), update_on_renew: false });
    Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::from_secs(1000) }
}

fn dns(lab: &mut Lab) -> Vec<(crate::ddns::DnsOp, String, Ipv4Addr)> {
    std::iter::from_fn(|| lab.server.poll_dns()).map(|c| (c.op, c.fqdn, c.ip)).collect()
}

#[test]
fn a_binding_adds_its_name_a_release_removes_it_and_a_new_name_moves_it() {
    use crate::ddns::DnsOp::{Add, Remove};
    let mut lab = ddns_lab();
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(1)).hostname("Alpha")).unwrap();
    assert_eq!(dns(&mut lab), [], "an OFFER changes nothing in DNS");
    let a = offer.yiaddr();
    lab.send(msg(MessageType::Request, mac(1)).requested(a).server(SERVER).hostname("Alpha")).unwrap();
    let c = lab.server.poll_dns().expect("a change");
    assert_eq!((c.op, c.fqdn.as_str(), c.ip, c.ttl), (Add, "alpha.lab.example.", a, 300));
    assert_eq!(c.dhcid, crate::ddns::dhcid(&mac(1), None, "alpha.lab.example."));
    // The same name again at renewal: nothing to change; a new name: the records move.
    lab.send(msg(MessageType::Request, mac(1)).ciaddr(a).hostname("alpha")).unwrap();
    assert_eq!(dns(&mut lab), []);
    lab.send(msg(MessageType::Request, mac(1)).ciaddr(a).hostname("beta")).unwrap();
    assert_eq!(dns(&mut lab), [(Remove, "alpha.lab.example.".into(), a), (Add, "beta.lab.example.".into(), a)]);
    lab.send(msg(MessageType::Release, mac(1)).ciaddr(a).server(SERVER));
    assert_eq!(dns(&mut lab), [(Remove, "beta.lab.example.".into(), a)]);
    // A client that gives no name gets no records.
    lab.dora(mac(2));
    assert_eq!(dns(&mut lab), []);
}

#[test]
fn with_update_on_renew_each_renewal_sends_the_records_again() {
    use crate::ddns::DnsOp::Add;
    let mut lab = ddns_lab();
    let mut cfg = lab.server.config().clone();
    cfg.ddns.as_mut().expect("ddns").update_on_renew = true;
    lab.server = Server::new(cfg, 1).unwrap();
    let a = lab.dora_named(mac(1), "alpha");
    assert_eq!(dns(&mut lab), [(Add, "alpha.lab.example.".into(), a)]);
    // Renewing (RFC 2131 §4.4.5) and rebooting (§4.3.2) with the same name: the records again, each time.
    lab.send(msg(MessageType::Request, mac(1)).ciaddr(a).hostname("alpha")).unwrap();
    assert_eq!(dns(&mut lab), [(Add, "alpha.lab.example.".into(), a)]);
    lab.send(msg(MessageType::Request, mac(1)).requested(a).hostname("alpha")).unwrap();
    assert_eq!(dns(&mut lab), [(Add, "alpha.lab.example.".into(), a)]);
}

#[test]
fn option_81_is_answered_with_the_name_and_the_server_doing_both_updates_and_expiry_removes_it() {
    use dhcproto::v4::fqdn::{ClientFQDN, FqdnFlags};
    let mut lab = ddns_lab();
    // The client asks to update its A record itself (S clear) and names itself gamma.
    let asked = ClientFQDN::new(FqdnFlags::new(0).set_e(true), dhcproto::Name::from_ascii("gamma").unwrap());
    let (_, offer) = lab.send(msg(MessageType::Discover, mac(3)).opt(DhcpOption::ClientFQDN(asked.clone()))).unwrap();
    let a = offer.yiaddr();
    let req = msg(MessageType::Request, mac(3)).requested(a).server(SERVER).opt(DhcpOption::ClientFQDN(asked));
    let (_, ack) = lab.send(req).unwrap();
    let Some(DhcpOption::ClientFQDN(answer)) = ack.opts().get(OptionCode::ClientFQDN) else { panic!("no option 81") };
    assert!(answer.flags().s() && answer.flags().o() && answer.flags().e() && !answer.flags().n());
    assert_eq!(answer.domain().to_string(), "gamma.lab.example.");
    assert_eq!(dns(&mut lab), [(crate::ddns::DnsOp::Add, "gamma.lab.example.".into(), a)]);
    lab.advance(Duration::from_secs(7 * 3600));
    assert_eq!(dns(&mut lab), [(crate::ddns::DnsOp::Remove, "gamma.lab.example.".into(), a)]);
}

/// A server over 10.64.0.0/16, and `n` stored records there in every state, in address order.
fn stored_records(n: u32) -> (Server, Vec<Lease>) {
    let net: ipnet::Ipv4Net = "10.64.0.0/16".parse().unwrap();
    let pool = "10.64.0.1-10.64.255.254".parse::<PoolRange>().unwrap().0;
    let server =
        Server::new(ServerConfig { subnets: vec![SubnetConfig::new(net, pool)], ..Default::default() }, 1).unwrap();
    let stored = (0..n)
        .map(|i| {
            let b = i.to_be_bytes();
            let hw = HwAddr::ethernet([2, 0, 0, b[2], b[3], 9]);
            let state = LeaseState::ALL[i as usize % 5];
            Lease {
                ip: Ipv4Addr::from(u32::from(net.network()) + 1 + i),
                subnet: net,
                hw,
                client_id: None,
                keyed_by: crate::KeyedBy::Hw,
                hostname: Some(compact_str::format_compact!("host-{i}")),
                state,
                obtained: Instant::from_secs(1000),
                // Deadlines out of address order, so the deadline tree is not built in order.
                expires: Instant::from_secs(5000 + u64::from((i * 7919) % n)),
                lease_secs: 4000,
                server: None,
                class: None,
                dns_name: None,
            }
        })
        .collect();
    (server, stored)
}

#[test]
fn a_lease_database_loads_in_one_pass_whatever_the_order_of_its_rows() {
    // Thousands of records (trees of several levels), handed over out of address order as SQLite reads
    // its text keys: the table holds them in address order, with every index as inserting each would make.
    let (mut server, stored) = stored_records(3000);
    let shuffled: Vec<Lease> = (0..3000).map(|i| stored[(i * 7919) % 3000].clone()).collect();
    let mut batches = crate::stored_leases::StoredLeases::default();
    shuffled.chunks(700).for_each(|b| batches.add(b.to_vec()));
    assert_eq!(server.restore_all(batches), vec![]);
    server.check_invariants().unwrap();
    assert_eq!(server.leases().cloned().collect::<Vec<_>>(), stored);
    let first_deadline = stored.iter().filter(|l| l.state.holds_address()).map(|l| l.expires).min();
    assert_eq!(server.poll_timeout(), first_deadline);
    // The same records restored one by one make the same server.
    let (mut one_by_one, _) = stored_records(0);
    stored.iter().for_each(|l| one_by_one.restore(l.clone()).unwrap());
    assert_eq!(one_by_one.leases().collect::<Vec<_>>(), server.leases().collect::<Vec<_>>());
    assert_eq!(one_by_one.subnet_usage(), server.subnet_usage());
    assert_eq!(one_by_one.state_counts(), server.state_counts());
}

#[test]
fn while_the_store_is_behind_no_record_ends_and_the_server_looks_again_a_pause_later() {
    let (mut server, stored) = stored_records(300);
    assert_eq!(server.restore_all(stored), vec![]);
    let now = Instant::from_secs(9000);
    server.set_expiry_held(true);
    server.handle_timeout(now);
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.state_counts(), [60, 60, 60, 60, 60]);
    assert_eq!(server.poll_timeout(), Some(now + EXPIRY_PAUSE));
    server.set_expiry_held(false);
    server.handle_timeout(now + EXPIRY_PAUSE);
    assert_eq!(std::iter::from_fn(|| server.poll_event()).count(), 180);
    // Offers and probations end by going, leases by expiring.
    assert_eq!(server.state_counts(), [0, 0, 0, 60, 120]);
}

#[test]
fn a_reload_leaves_the_table_a_start_with_the_new_config_would_load() {
    // Thousands of records in every state, reloaded with the pool cut to a fifth (its free set refilled
    // from the records), then with reservations added on free addresses and on held ones, then with one
    // dropped (free sets kept): after each, the server is the one a start with that config would load.
    let (mut reloaded, stored) = stored_records(3000);
    assert_eq!(reloaded.restore_all(stored.clone()), vec![]);
    let mut config = reloaded.config().clone();
    let reserve =
        |ip: &str, n: u8| Reservation { mac: Some(mac(n)), client_id: None, ip: self::ip(ip), hostname: None };
    let mut steps = vec![];
    config.subnets[0].pools = vec!["10.64.0.1-10.64.5.220".parse::<PoolRange>().unwrap()];
    steps.push(config.clone());
    // 10.64.0.4 is a released record's, 10.64.0.2 a bound one's, 10.64.9.9 out of the pool now.
    for (ip, n) in [("10.64.3.3", 1), ("10.64.0.4", 2), ("10.64.0.2", 3), ("10.64.9.9", 4)] {
        config.subnets[0].reservations.push(reserve(ip, n));
    }
    steps.push(config.clone());
    config.subnets[0].reservations.retain(|r| r.ip != ip("10.64.3.3") && r.ip != ip("10.64.0.2"));
    steps.push(config);
    for config in steps {
        reloaded.reconfigure(config.clone()).unwrap();
        let mut started = Server::new(config, 1).unwrap();
        assert_eq!(started.restore_all(stored.clone()), vec![]);
        reloaded.check_invariants().unwrap();
        assert_eq!(reloaded.leases().collect::<Vec<_>>(), stored.iter().collect::<Vec<_>>());
        assert_eq!(reloaded.subnet_usage(), started.subnet_usage());
        assert_eq!(reloaded.state_counts(), started.state_counts());
        assert_eq!(reloaded.poll_timeout(), started.poll_timeout());
        let pool = 0x0a40_0001..=0x0a40_05dc;
        let free = |s: &Server| pool.clone().filter(|&a| s.table.is_free(Ipv4Addr::from_bits(a))).count();
        assert_eq!(free(&reloaded), free(&started));
    }
}

#[test]
fn a_backlog_of_ended_records_is_worked_off_a_slice_at_a_time_with_packets_served_between() {
    // 1,800 offers, leases and probations all past their end, as after downtime: each `handle_timeout`
    // ends a slice of them and the next waits a pause, so a packet meanwhile is answered at once.
    let (mut server, stored) = stored_records(3000);
    assert_eq!(server.restore_all(stored.clone()), vec![]);
    let due = stored.iter().filter(|l| l.state.holds_address()).count();
    assert!(due > 2 * EXPIRY_SLICE);
    let now = Instant::from_secs(9000);
    let mut slices = vec![];
    let mut t = now;
    let backlog = |s: &Server| s.leases().any(|l| l.state.holds_address() && l.expires <= now);
    while backlog(&server) {
        server.handle_timeout(t);
        slices.push(std::iter::from_fn(|| server.poll_event()).count());
        let next = server.poll_timeout().unwrap();
        if backlog(&server) {
            assert_eq!(next, t + EXPIRY_PAUSE);
            // Early, nothing more ends; a DISCOVER is answered, with an address no record still holds.
            server.handle_timeout(t + Duration::from_millis(1));
            assert_eq!(server.poll_event(), None);
            let held: Vec<Ipv4Addr> = server.leases().filter(|l| l.state.holds_address()).map(|l| l.ip).collect();
            let d = msg(MessageType::Discover, mac(slices.len() as u8)).bytes();
            let on_link = RecvMeta { local_addr: Ipv4Addr::new(10, 64, 255, 254), ..meta() };
            server.handle_packet(t + Duration::from_millis(1), on_link, &d).unwrap();
            let offer = server.poll_transmit().expect("an offer during the backlog");
            assert!(!held.contains(&offer.yiaddr), "{} is still held", offer.yiaddr);
            while server.poll_event().is_some() {}
        }
        t = next;
    }
    let slice = EXPIRY_SLICE;
    assert_eq!(slices, [vec![slice; due / slice], vec![due % slice]].concat());
    server.check_invariants().unwrap();
}

#[test]
fn a_damaged_lease_database_loads_with_its_conflicts_refused() {
    // Rows no database of this server writes, but a damaged or hand-edited one might: a second holder of
    // an address, and a client with two records in one subnet.
    let (mut server, mut stored) = stored_records(100);
    let bound = |i: usize| stored.iter().filter(|l| l.state == LeaseState::Bound).nth(i).unwrap().clone();
    let (first, second) = (bound(0), bound(1));
    let mut intruder = first.clone();
    intruder.hw = mac(0xee);
    let mut moved = second.clone();
    moved.ip = Ipv4Addr::new(10, 64, 200, 1);
    stored.extend([intruder, moved.clone()]);
    let refused = server.restore_all(stored);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(matches!(&refused[0], RestoreError::Conflict { ip, .. } if *ip == first.ip), "{refused:?}");
    server.check_invariants().unwrap();
    assert_eq!(server.lease(first.ip).map(|l| l.hw), Some(first.hw), "the first holder keeps its address");
    let held: Vec<Ipv4Addr> = server.leases().filter(|l| l.hw == second.hw).map(|l| l.ip).collect();
    assert_eq!(held, [moved.ip], "one record per client and subnet, the one at the highest address");
}

#[test]
fn a_reply_encoded_into_a_given_back_buffer_is_the_reply_a_new_buffer_gets() {
    let (mut fresh, mut reused) = (lab(), lab());
    for n in 1..=3 {
        let hw = mac(n);
        // A client that sends a hostname and a long client identifier makes a longer reply than the next.
        let discover = |m: ClientMsg| if n == 1 { m.hostname("a-long-hostname").client_id(vec![0; 40]) } else { m };
        let (a, _) = fresh.send(discover(msg(MessageType::Discover, hw))).expect("offer");
        let (b, offer) = reused.send(discover(msg(MessageType::Discover, hw))).expect("offer");
        assert_eq!(a.bytes, b.bytes, "OFFER to client {n}");
        let request = msg(MessageType::Request, hw).requested(offer.yiaddr()).server(SERVER);
        let (a, _) = fresh.send(request.clone()).expect("ack");
        let (b, _) = reused.send(request).expect("ack");
        assert_eq!(a.bytes, b.bytes, "ACK to client {n}");
        // Given back dirty, as a sent buffer is: what it held must not show in the next reply.
        for mut bytes in [a.bytes, b.bytes] {
            bytes.iter_mut().for_each(|b| *b = 0xee);
            reused.server.recycle(bytes);
        }
    }
}

#[test]
fn a_reply_too_long_for_the_client_keeps_what_it_asked_for_first_and_fits_in_576_octets() {
    use crate::config::{CustomOption, HexBytes};
    let mut cfg = config();
    // Vendor options (43) of 200 bytes and a private option of 150: past the 312 octets of options every
    // client takes.
    cfg.subnets[0].options = vec![
        CustomOption { code: 43, hex: Some(HexBytes(vec![0x11; 200].into())), ..Default::default() },
        CustomOption { code: 224, text: Some("x".repeat(150)), ..Default::default() },
    ];
    let mut lab = Lab { server: Server::new(cfg, 1).unwrap(), now: Instant::from_secs(1000) };
    let ask = |n: u8| msg(MessageType::Discover, mac(n)).params(&[1, 3, 6, 15, 43, 224]);
    let codes = |m: &Message| m.opts().iter().map(|(c, _)| u8::from(*c)).collect::<Vec<u8>>();

    // No option 57: 548 octets of DHCP message at most. The private option, asked for last, is left out.
    let (t, offer) = lab.send(ask(1)).expect("offer");
    assert!(t.bytes.len() <= 548, "{} octets", t.bytes.len());
    let sent = codes(&offer);
    for code in [1, 3, 6, 15, 43, 51, 53, 54] {
        assert!(sent.contains(&code), "option {code} left out: {sent:?}");
    }
    assert!(!sent.contains(&224), "{sent:?}");
    assert_eq!(lab.server.stats().replies_shortened, 1);
    // The ACK fits the same way; the lease is the client's as usual.
    let request = msg(MessageType::Request, mac(1)).params(&[1, 3, 6, 15, 43, 224]);
    let (t, ack) = lab.send(request.requested(offer.yiaddr()).server(SERVER)).expect("ack");
    assert!(t.bytes.len() <= 548 && ack.opts().msg_type() == Some(MessageType::Ack));

    // A client that takes 1,500 octets gets everything.
    let (t, offer) = lab.send(ask(2).opt(DhcpOption::MaxMessageSize(1500))).expect("offer");
    assert!(t.bytes.len() > 548 && codes(&offer).contains(&224), "{} octets", t.bytes.len());
    // One that names less than the 576 it must take is held to 576.
    let (t, offer) = lab.send(ask(3).opt(DhcpOption::MaxMessageSize(400))).expect("offer");
    assert!(t.bytes.len() <= 548 && codes(&offer).contains(&43), "{} octets", t.bytes.len());
    assert_eq!(lab.server.stats().replies_shortened, 3);
}
