use super::*;
use crate::message::DhcpMessage;
use crate::sim::scenario;
use crate::watch::Outcome;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/captures/{name}.pcap", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn msgs(x: &Explained) -> Vec<DhcpMessage> {
    x.packets.iter().map(|p| p.event.packet.summary.msg).collect()
}

fn problems(p: &ExplainedPacket) -> Vec<&Finding> {
    p.findings.iter().filter(|f| f.is_problem()).collect()
}

#[test]
fn a_real_dhclient_exchange_is_told_packet_by_packet_with_the_states_it_shows() {
    let x = explain("dhclient.pcap", &fixture("dhclient")).unwrap();
    use DhcpMessage::*;
    assert_eq!(msgs(&x), [Discover, Offer, Request, Ack]);
    assert_eq!(x.packets.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!((x.frames, x.skipped, x.format), (4, 0, Format::Pcap));
    use ClientStateKind::*;
    let states: Vec<_> = x.packets.iter().map(|p| p.state).collect();
    assert_eq!(states, [Some(Selecting), None, Some(Requesting), Some(Bound)]);
    assert!(x.packets.iter().all(|p| p.findings.is_empty()), "{:?}", x.packets);
    // The offer is unicast to the client's MAC, and the narration says why (chaddr, no broadcast flag).
    assert!(x.packets[1].event.text.en.contains("not broadcast"), "{}", x.packets[1].event.text.en);
    assert!(x.packets[0].event.text.en.contains("everyone on LAN"), "{}", x.packets[0].event.text.en);
    let Some(Outcome::Bound { ip, server, .. }) = &x.packets[3].event.outcome else { panic!("no binding") };
    assert_eq!((ip.to_string(), server.to_string()), ("192.0.2.10".into(), "192.0.2.1".into()));
    assert_eq!(x.servers, ["192.0.2.1".parse::<Ipv4Addr>().unwrap()]);
    // Stamped from the first frame: the ACK came 0.727 ms after the DISCOVER, within the same millisecond,
    // which the time to the microsecond shows as the file has it (tshark's frame.time_relative).
    assert_eq!(x.packets[3].event.packet.at.as_millis(), 0);
    let times: Vec<String> = x.packets.iter().map(ExplainedPacket::time).collect();
    assert_eq!(times, ["0.000000", "0.000461", "0.000546", "0.000727"]);
    // The outcome's millisecond count says so rather than "0 ms".
    let told = x.packets[3].event.outcome.as_ref().unwrap().text("vm");
    assert!(told.en.ends_with("(within a millisecond of its first message)."), "{told:?}");
    assert!(told.zh.contains("用时不到 1 ms"), "{told:?}");
}

#[test]
fn two_clients_on_one_lan_are_two_exchanges_both_bound() {
    let x = explain("lan-2clients.pcap", &fixture("lan-2clients")).unwrap();
    assert_eq!(x.packets.len(), 8);
    assert_eq!(x.clients.len(), 2);
    let bound: Vec<String> = x
        .packets
        .iter()
        .filter_map(|p| match &p.event.outcome {
            Some(Outcome::Bound { ip, .. }) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(bound, ["198.51.100.10", "198.51.100.11"]);
    assert!(x.packets.iter().all(|p| problems(p).is_empty()));
    // One server is "1 server", not "1 servers".
    assert_eq!(
        x.summary().en,
        "lan-2clients.pcap: 8 DHCP packets in 8 frames (0 skipped, 0 malformed DHCP); 2 clients, 1 server"
    );
}

#[test]
fn relay_hops_are_shown_and_an_offer_nobody_took_is_pointed_out() {
    let x = explain("relay.pcap", &fixture("perfdhcp-relay-unicast")).unwrap();
    assert_eq!(x.packets.len(), 6);
    for p in &x.packets {
        let relayed = p.findings.iter().find_map(|f| match f {
            Finding::Relayed { giaddr, .. } => Some(giaddr.to_string()),
            _ => None,
        });
        assert_eq!(relayed.as_deref(), Some("10.200.255.254"), "frame {}", p.number);
    }
    // The relay's copy of the client's DISCOVER is narrated as relayed, not as the client broadcasting.
    assert!(x.packets[0].event.text.en.contains("relays"), "{}", x.packets[0].event.text.en);
    // perfdhcp's second client got an offer and the capture ends before its REQUEST.
    assert!(x.packets[5].findings.contains(&Finding::OfferNotTaken), "{:?}", x.packets[5].findings);
    assert!(!x.packets[1].findings.contains(&Finding::OfferNotTaken));
}

#[test]
fn a_probe_that_only_discovers_leaves_its_offer_untaken() {
    let x = explain("nmap.pcap", &fixture("nmap")).unwrap();
    assert_eq!(msgs(&x), [DhcpMessage::Discover, DhcpMessage::Offer]);
    assert!(x.packets[0].findings.is_empty(), "the DISCOVER was answered");
    assert_eq!(x.packets[1].findings, [Finding::OfferNotTaken]);
    assert!(x.packets[1].findings[0].text().en.contains("nmap"));
}

/// The dhclient capture rewritten as pcapng with nanosecond stamps, as Wireshark saves by default.
fn as_pcapng(pcap: &[u8]) -> Vec<u8> {
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    let iface = InterfaceDescriptionBlock {
        linktype: pcap_file::DataLink::ETHERNET,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    };
    w.write_pcapng_block(iface).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(pcap).unwrap();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        // With if_tsresol 9 the count is in nanoseconds, which is how the writer takes the Duration.
        let block = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: p.timestamp,
            original_len: p.orig_len,
            data: p.data.clone(),
            options: vec![],
        };
        w.write_pcapng_block(block).unwrap();
    }
    w.into_inner()
}

#[test]
fn a_pcapng_file_reads_as_its_pcap_does() {
    let pcap = fixture("udhcpc");
    let a = explain("udhcpc", &pcap).unwrap();
    let b = explain("udhcpc", &as_pcapng(&pcap)).unwrap();
    assert_eq!(b.format, Format::PcapNg);
    assert_eq!(msgs(&a), msgs(&b));
    let at = |x: &Explained| x.packets.iter().map(|p| p.event.packet.at.as_millis()).collect::<Vec<_>>();
    // The REQUEST came 24 ms after the DISCOVER.
    assert_eq!(at(&a), [0, 0, 23, 24]);
    assert_eq!(at(&a), at(&b));
    // Nanosecond stamps (if_tsresol 9) keep the microseconds the pcap had.
    let times = |x: &Explained| x.packets.iter().map(ExplainedPacket::time).collect::<Vec<_>>();
    assert_eq!(times(&a), times(&b));
    assert_eq!(times(&a), ["0.000000", "0.000343", "0.023977", "0.024345"]);
}

#[test]
fn a_file_cut_short_keeps_what_came_before_and_says_where() {
    let pcap = fixture("dhclient");
    // 24 bytes of file header, then per frame 16 bytes of record header and its bytes (342, 348, 342, 348).
    let third = 24 + (16 + 342) + (16 + 348);
    let x = explain("cut.pcap", &pcap[..third + 100]).unwrap();
    assert_eq!(msgs(&x), [DhcpMessage::Discover, DhcpMessage::Offer]);
    assert_eq!(x.cut_short, Some(CutShort { at_frame: 3 }));
    assert!(x.cut_short.unwrap().text().en.contains("frame 3"));
    assert_eq!(explain("x", &pcap[..10]), Err(CaptureError::HeaderCutShort));
    let html = explain("x", b"<!DOCTYPE html>").unwrap_err();
    assert_eq!(html, CaptureError::NotACapture("3c 21 44 4f".into()));
    assert!(html.text().zh.contains("pcapng"));
    assert!(matches!(explain("x", b""), Err(CaptureError::NotACapture(_))));
    assert!(matches!(explain("x", b"hi\n"), Err(CaptureError::NotACapture(_))));
    assert_eq!(explain("x", &[0x0a, 0x0d]), Err(CaptureError::HeaderCutShort));
}

#[test]
fn frames_that_are_not_dhcp_are_skipped_and_counted() {
    use crate::pcap::{Frame, write};
    let mut frames: Vec<Frame> = read(&fixture("dhclient")).unwrap().frames.into_iter().map(|n| n.frame).collect();
    let mut dns = frames[0].clone();
    dns.src = "192.0.2.10:40000".parse().unwrap();
    dns.dst = "192.0.2.1:53".parse().unwrap();
    let mut junk = frames[0].clone();
    junk.payload.truncate(20);
    frames.insert(1, dns);
    frames.insert(2, junk);
    let x = explain("mixed", &write(&frames).unwrap()).unwrap();
    assert_eq!(x.packets.len(), 4);
    assert_eq!(x.packets.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 4, 5, 6], "Wireshark's numbers");
    assert_eq!((x.frames, x.skipped, x.malformed), (6, 2, 1));
}

fn scenario_capture(name: &str) -> Explained {
    let mut s = scenario::build(name, 1).unwrap();
    s.run();
    explain(name, &s.sim.pcap().unwrap()).unwrap()
}

#[test]
fn a_nak_after_init_reboot_names_the_moved_network_as_its_likely_cause() {
    let x = scenario_capture("moved-subnet");
    let nak = x.packets.iter().find(|p| p.event.packet.summary.msg == DhcpMessage::Nak).expect("a NAK");
    let finding = nak.findings.iter().find(|f| matches!(f, Finding::Nak { .. })).expect("the NAK's cause");
    let Finding::Nak { after, message } = finding else { unreachable!() };
    assert_eq!(*after, Some(ClientStateKind::Rebooting));
    assert!(message.as_deref().is_some_and(|m| m.contains("not on this network")), "{message:?}");
    assert!(finding.text().en.contains("another network"));
    assert_eq!(nak.state, Some(ClientStateKind::Init));
}

#[test]
fn two_servers_show_the_second_server_and_the_choice_between_offers() {
    let x = scenario_capture("two-servers");
    assert_eq!(x.servers.len(), 2);
    let all: Vec<&Finding> = x.packets.iter().flat_map(|p| &p.findings).collect();
    assert!(all.iter().any(|f| matches!(f, Finding::AnotherServer { .. })), "{all:?}");
    let chose = all.iter().find_map(|f| match f {
        Finding::ChoseAmongOffers { chosen, passed_over } => Some((*chosen, passed_over.clone())),
        _ => None,
    });
    let (chosen, passed) = chose.expect("the REQUEST chose between two offers");
    assert_eq!(passed.len(), 1);
    assert!(x.servers.contains(&chosen) && x.servers.contains(&passed[0]) && chosen != passed[0]);
}

#[test]
fn discovers_nobody_answers_are_retransmissions_and_the_last_is_unanswered() {
    let x = scenario_capture("no-server");
    let discovers: Vec<&ExplainedPacket> =
        x.packets.iter().filter(|p| p.event.packet.summary.msg == DhcpMessage::Discover).collect();
    assert!(discovers.len() >= 3);
    assert!(discovers[1..].iter().any(|p| p.findings.iter().any(|f| matches!(f, Finding::Retransmission { .. }))));
    // Each round of DISCOVERs (one xid) before the server came is unanswered; the round the server
    // answers is not.
    let first_offer = x.packets.iter().position(|p| p.event.packet.summary.msg == DhcpMessage::Offer).unwrap();
    let unanswered: Vec<usize> = (0..x.packets.len())
        .filter(|&i| x.packets[i].findings.iter().any(|f| matches!(f, Finding::Unanswered { .. })))
        .collect();
    assert!(!unanswered.is_empty());
    assert!(unanswered.iter().all(|&i| i < first_offer), "{unanswered:?} vs the offer at {first_offer}");
    // Cut the story before the server comes: the last DISCOVER is left unanswered.
    let mut s = scenario::build("no-server", 1).unwrap();
    s.run();
    let frames: Vec<_> = read(&s.sim.pcap().unwrap()).unwrap().frames.into_iter().map(|n| n.frame).collect();
    let cut = explain("cut", &crate::pcap::write(&frames[..first_offer]).unwrap()).unwrap();
    let last = cut.packets.last().unwrap();
    assert_eq!(last.findings.last(), Some(&Finding::Unanswered { msg: DhcpMessage::Discover }));
}
