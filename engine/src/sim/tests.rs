//! Each scenario tells its story; the simulator is deterministic and replayable.

use super::scenario::{self, Scenario};
use super::*;
use crate::client::ClientStateKind;
use crate::event::LeaseEventKind;
use crate::lease::LeaseState;
use crate::message::DhcpMessage as M;
use crate::time::Duration;

fn run(name: &str) -> Scenario {
    let mut s = scenario::build(name, 7).expect("scenario exists");
    s.run();
    s
}

/// The DHCP messages of the trace, in order, as `(sender name, message)`.
fn messages(s: &Scenario) -> Vec<(String, M)> {
    s.sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Packet { summary, lost: false, .. } => Some((s.sim.nodes[e.node].name.clone(), summary.msg)),
            _ => None,
        })
        .collect()
}

fn msgs_only(s: &Scenario) -> Vec<M> {
    messages(s).into_iter().map(|(_, m)| m).collect()
}

fn lease_events(s: &Scenario) -> Vec<(String, LeaseEventKind, Ipv4Addr)> {
    s.sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Lease { event } => Some((s.sim.nodes[e.node].name.clone(), event.kind, event.ip)),
            _ => None,
        })
        .collect()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn every_listed_scenario_builds_and_runs() {
    for info in scenario::list() {
        let s = run(info.name);
        assert!(s.sim.trace().len() > 3, "{} produced a trace", info.name);
        assert!(!info.title.zh.is_empty());
    }
    assert!(scenario::build("nope", 1).is_none());
}

#[test]
fn dora_ends_with_an_ipconfig_view_of_the_lease() {
    let s = run("dora");
    assert_eq!(msgs_only(&s), [M::Discover, M::Offer, M::Request, M::Ack]);
    let c = s.sim.client(s.client, 0).unwrap();
    assert_eq!(c.state(), ClientStateKind::Bound);
    let l = c.lease().unwrap();
    assert_eq!(l.ip, ip("192.168.1.100"));
    assert_eq!(l.mask, ip("255.255.255.0"));
    assert_eq!(l.routers, vec![ip("192.168.1.10")]);
    assert_eq!(l.server, ip("192.168.1.240"));
    assert_eq!(l.expires - l.obtained, Duration::from_secs(6 * 3600));
    // Every step is explained in both languages, packets with the RFC rule.
    for e in s.sim.trace() {
        assert!(!e.text.en.is_empty() && !e.text.zh.is_empty(), "entry {} unexplained", e.seq);
        if matches!(e.kind, TraceKind::Packet { .. }) {
            assert!(e.rfc.as_deref().is_some_and(|r| r.starts_with("RFC")), "entry {} cites no RFC", e.seq);
        }
    }
}

#[test]
fn dora_discover_is_broadcast_from_zero_and_the_offer_goes_to_the_mac() {
    let s = run("dora");
    let packets: Vec<_> = s
        .sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Packet { frame, broadcast, .. } => Some((frame.clone(), *broadcast)),
            _ => None,
        })
        .collect();
    let (discover, b) = &packets[0];
    assert!(*b);
    assert_eq!(discover.src, "0.0.0.0:68".parse().unwrap());
    assert_eq!(discover.dst, "255.255.255.255:67".parse().unwrap());
    let (offer, b) = &packets[1];
    assert!(!*b, "no broadcast flag: unicast to chaddr");
    assert_eq!(offer.dst_mac, discover.src_mac);
    assert_eq!(offer.dst, "192.168.1.100:68".parse().unwrap());
}

#[test]
fn two_servers_both_offer_the_client_takes_the_first_and_the_other_offer_is_freed() {
    let s = run("two-servers");
    let m = messages(&s);
    let offers: Vec<&str> = m.iter().filter(|(_, msg)| *msg == M::Offer).map(|(n, _)| n.as_str()).collect();
    assert_eq!(offers, ["server-a", "server-b"]);
    let l = s.sim.client(s.client, 0).unwrap().lease().unwrap().clone();
    assert_eq!(l.server, ip("192.168.1.240"), "the first offer, server-a's");
    let b = s.sim.server(s.sim.node_by_name("server-b").unwrap()).unwrap();
    assert!(b.leases().next().is_none(), "server-b's offered address is free again");
    assert_eq!(b.subnet_usage()[0].free, 50);
    assert!(lease_events(&s).contains(&("server-b".into(), LeaseEventKind::OfferWithdrawn, ip("192.168.1.150"))));
}

#[test]
fn reboot_asks_for_the_last_address_and_keeps_it() {
    let s = run("reboot");
    let m = msgs_only(&s);
    assert_eq!(m, [M::Discover, M::Offer, M::Request, M::Ack, M::Request, M::Ack]);
    let reboot_request = s
        .sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Packet { summary, .. } if summary.msg == M::Request => Some(summary.clone()),
            _ => None,
        })
        .nth(1)
        .unwrap();
    assert_eq!(reboot_request.requested_ip, Some(ip("192.168.1.100")));
    assert_eq!(reboot_request.server_id, None, "INIT-REBOOT names no server");
    assert_eq!(s.sim.client(s.client, 0).unwrap().lease().unwrap().ip, ip("192.168.1.100"));
}

#[test]
fn moved_subnet_is_naked_then_binds_on_the_new_subnet() {
    let s = run("moved-subnet");
    let m = msgs_only(&s);
    assert_eq!(
        &m[4..],
        [M::Request, M::Nak, M::Discover, M::Offer, M::Request, M::Ack],
        "INIT-REBOOT REQUEST, NAK, then DORA"
    );
    let c = s.sim.client(s.client, 0).unwrap();
    assert_eq!(c.state(), ClientStateKind::Bound);
    assert_eq!(c.lease().unwrap().ip.octets()[..3], [192, 168, 2]);
}

#[test]
fn no_server_self_assigns_retries_every_five_minutes_then_binds() {
    let s = run("no-server");
    let c = s.sim.client(s.client, 0).unwrap();
    let events: Vec<&ClientEvent> = s.sim.client_events(s.client).collect();
    let ll = events
        .iter()
        .find_map(|e| match e {
            ClientEvent::LinkLocalClaimed { ip } => Some(*ip),
            _ => None,
        })
        .expect("a link-local address");
    assert_eq!(ll.octets()[..2], [169, 254]);
    // DISCOVER rounds start at 0:00:01 and every 5 minutes after.
    let rounds: Vec<u64> = s
        .sim
        .trace()
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::ClientState { to: ClientStateKind::Selecting, .. }))
        .map(|e| e.at.as_secs())
        .collect();
    assert_eq!(rounds, [1, 301, 601, 901]);
    assert_eq!(c.state(), ClientStateKind::Bound);
    assert_eq!(c.address(), Some(ip("192.168.1.100")));
    assert!(events.contains(&&ClientEvent::LinkLocalDropped { ip: ll }));
}

#[test]
fn multi_nic_gets_one_lease_per_nic() {
    let s = run("multi-nic");
    let a = s.sim.client(s.client, 0).unwrap().lease().unwrap().ip;
    let b = s.sim.client(s.client, 1).unwrap().lease().unwrap().ip;
    assert_ne!(a, b);
    let srv = s.sim.server(s.sim.node_by_name("dhcp-server").unwrap()).unwrap();
    let bound: Vec<_> = srv.leases().filter(|l| l.state == LeaseState::Bound).collect();
    assert_eq!(bound.len(), 2);
    assert_ne!(bound[0].hw, bound[1].hw, "one lease per NIC's MAC");
}

#[test]
fn renew_is_unicast_at_t1_rebind_is_broadcast_at_t2_then_expiry() {
    let s = run("renew-rebind");
    let requests: Vec<(Instant, bool, String)> = s
        .sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Packet { summary, broadcast, frame, .. }
                if summary.msg == M::Request && !summary.ciaddr.is_unspecified() =>
            {
                Some((e.at, *broadcast, frame.dst.to_string()))
            }
            _ => None,
        })
        .collect();
    let bound_at = Instant::from_millis(1004);
    // The first renewal at T1 = 30 min after binding: unicast to the server.
    assert_eq!(requests[0], (bound_at + Duration::from_secs(1800), false, "192.168.1.240:67".into()));
    let rebinds: Vec<_> = requests.iter().filter(|r| r.1).collect();
    assert!(!rebinds.is_empty(), "REBINDING broadcasts");
    assert!(rebinds.iter().all(|r| r.2 == "255.255.255.255:67"));
    let events: Vec<&ClientEvent> = s.sim.client_events(s.client).collect();
    assert!(
        events.iter().any(|e| matches!(e, ClientEvent::Expired { .. })),
        "the lease expires while the server is off"
    );
    assert_eq!(s.sim.client(s.client, 0).unwrap().state(), ClientStateKind::Bound, "and binds again when it is back");
}

#[test]
fn decline_quarantines_the_conflicting_address_and_binds_another() {
    let s = run("decline");
    let m = msgs_only(&s);
    assert!(m.contains(&M::Decline));
    let srv = s.sim.server(s.sim.node_by_name("dhcp-server").unwrap()).unwrap();
    assert_eq!(srv.lease(ip("192.168.1.100")).unwrap().state, LeaseState::Declined);
    assert_eq!(s.sim.client(s.client, 0).unwrap().lease().unwrap().ip, ip("192.168.1.101"));
    let arp_answered = s.sim.trace().iter().any(|e| matches!(&e.kind, TraceKind::Arp { answered_by: Some(_), .. }));
    assert!(arp_answered, "the printer answered the ARP probe");
}

#[test]
fn release_frees_the_address_on_the_server() {
    let s = run("release");
    assert_eq!(msgs_only(&s).last(), Some(&M::Release));
    let srv = s.sim.server(s.sim.node_by_name("dhcp-server").unwrap()).unwrap();
    assert_eq!(srv.lease(ip("192.168.1.100")).unwrap().state, LeaseState::Released);
    assert_eq!(s.sim.client(s.client, 0).unwrap().state(), ClientStateKind::Stopped);
}

#[test]
fn inform_gets_options_without_a_lease() {
    let s = run("inform");
    assert_eq!(msgs_only(&s), [M::Inform, M::Ack]);
    let c = s.sim.client(s.client, 0).unwrap();
    assert_eq!(c.state(), ClientStateKind::Static);
    assert_eq!(c.lease().unwrap().routers, vec![ip("192.168.1.10")]);
    let srv = s.sim.server(s.sim.node_by_name("dhcp-server").unwrap()).unwrap();
    assert!(srv.leases().next().is_none());
}

#[test]
fn relay_sets_giaddr_and_the_client_gets_the_far_subnet() {
    let s = run("relay");
    let m = messages(&s);
    assert_eq!(
        m[..8].iter().map(|(n, msg)| format!("{n}:{msg}")).collect::<Vec<_>>(),
        [
            "laptop:DHCPDISCOVER",
            "router:DHCPDISCOVER",
            "dhcp-server:DHCPOFFER",
            "router:DHCPOFFER",
            "laptop:DHCPREQUEST",
            "router:DHCPREQUEST",
            "dhcp-server:DHCPACK",
            "router:DHCPACK"
        ]
    );
    let relayed = s
        .sim
        .trace()
        .iter()
        .find_map(|e| match &e.kind {
            TraceKind::Packet { summary, .. } if s.sim.nodes[e.node].name == "router" => Some(summary.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(relayed.giaddr, ip("10.2.0.1"));
    let c = s.sim.client(s.client, 0).unwrap();
    assert_eq!(c.lease().unwrap().ip.octets()[..3], [10, 2, 0]);
    let renewed = s.sim.client_events(s.client).any(|e| matches!(e, ClientEvent::Extended { .. }));
    assert!(renewed, "and it renewed at T1, routed through the router");
    assert_eq!(c.lease().unwrap().renew_at.as_secs(), 6 * 3600 + 1, "next T1 three hours after that renewal");
}

#[test]
fn exhaustion_binds_three_and_leaves_two_link_local() {
    let s = run("exhaustion");
    let mut bound = 0;
    let mut link_local = 0;
    for n in 0..s.sim.nodes.len() {
        if let Some(c) = s.sim.client(n, 0) {
            if c.state() == ClientStateKind::Bound {
                bound += 1;
            } else if c.link_local().is_some_and(|l| l.claimed) {
                link_local += 1;
            }
        }
    }
    assert_eq!((bound, link_local), (3, 2));
    let srv = s.sim.server(s.sim.node_by_name("dhcp-server").unwrap()).unwrap();
    assert!(srv.stats().dropped.get(&crate::packet::DropReason::PoolExhausted).copied().unwrap_or(0) > 0);
}

#[test]
fn same_seed_same_trace_byte_for_byte() {
    for name in ["dora", "no-server", "relay"] {
        let a = serde_json::to_string(run(name).sim.trace()).unwrap();
        let b = serde_json::to_string(run(name).sim.trace()).unwrap();
        assert_eq!(a, b, "{name}");
    }
    let mut other = scenario::build("no-server", 8).unwrap();
    other.run();
    assert_ne!(
        serde_json::to_string(other.sim.trace()).unwrap(),
        serde_json::to_string(run("no-server").sim.trace()).unwrap()
    );
}

#[test]
fn stepping_to_an_entry_replays_a_prefix_of_the_full_run() {
    let full = run("two-servers");
    let mut part = scenario::build("two-servers", 7).unwrap();
    assert!(part.sim.run_to_entry(9));
    assert!(part.sim.trace().len() > 9);
    assert_eq!(part.sim.trace(), &full.sim.trace()[..part.sim.trace().len()]);
}

#[test]
fn stepping_stops_at_the_scenario_end() {
    let full = run("dora");
    let mut s = scenario::build("dora", 7).unwrap();
    let end = s.end;
    let mut n = 0;
    while s.sim.run_to_entry_until(n, end) {
        n += 1;
    }
    assert_eq!(s.sim.trace().len(), full.sim.trace().len(), "the same story as running to the end");
    assert!(s.sim.trace().iter().all(|e| e.at <= end));
    assert!(s.sim.run_to_entry(n), "without the bound it would go on to the renewal");
}

#[test]
fn a_lossy_link_still_converges_by_retransmission() {
    let mut s = scenario::build("dora", 3).unwrap();
    s.sim.segments[0].loss = 0.4;
    s.sim.segments[0].duplicate = 0.2;
    s.end = Instant::from_secs(600);
    s.run();
    let lost = s.sim.trace().iter().filter(|e| matches!(&e.kind, TraceKind::Packet { lost: true, .. })).count();
    assert!(lost > 0, "some frames were lost");
    assert_eq!(s.sim.client(s.client, 0).unwrap().state(), ClientStateKind::Bound);
}

#[test]
fn pcap_holds_every_packet() {
    let s = run("relay");
    let bytes = s.sim.pcap().unwrap();
    let frames = crate::capture::read(&bytes).unwrap().frames;
    let packets = s.sim.trace().iter().filter(|e| matches!(e.kind, TraceKind::Packet { .. })).count();
    assert_eq!(frames.len(), packets);
}

#[test]
fn a_crowd_of_clients_all_bind_distinct_addresses() {
    let mut s = scenario::crowd(300, 1);
    s.run();
    let mut ips = std::collections::HashSet::new();
    for n in 0..s.sim.nodes.len() {
        if let Some(c) = s.sim.client(n, 0) {
            assert_eq!(c.state(), ClientStateKind::Bound, "{}", s.sim.nodes[n].name);
            assert!(ips.insert(c.lease().unwrap().ip));
        }
    }
    assert_eq!(ips.len(), 300);
}

#[test]
fn build_your_own_add_a_client_change_the_pool_and_remove_a_node() {
    let mut s = scenario::build("dora", 7).unwrap();
    s.run();
    let srv = s.sim.node_by_name("dhcp-server").unwrap();
    // A new pool and a reservation for the next client's MAC, then the client.
    let mut cfg = s.sim.server(srv).unwrap().config().clone();
    cfg.subnets[0].pools = vec!["192.168.1.150-192.168.1.160".parse().unwrap()];
    cfg.subnets[0].lease_time = Duration::from_secs(600);
    s.sim.act(Action::Reconfigure { node: srv, config: Box::new(cfg) });
    s.sim.act(Action::AddHost { name: "tablet".into(), segment: 0 });
    s.sim.run_until(s.sim.now() + Duration::from_secs(10));
    let tablet = s.sim.node_by_name("tablet").unwrap();
    let lease = s.sim.client(tablet, 0).unwrap().lease().unwrap().clone();
    assert_eq!(lease.ip, ip("192.168.1.150"), "from the new pool");
    assert_eq!(lease.expires - lease.obtained, Duration::from_secs(600));
    assert_eq!(s.sim.client(s.client, 0).unwrap().lease().unwrap().ip, ip("192.168.1.100"), "old lease kept");
    // A bad config is refused and says why.
    let mut bad = s.sim.server(srv).unwrap().config().clone();
    bad.subnets[0].pools = vec!["10.0.0.1-10.0.0.2".parse().unwrap()];
    s.sim.act(Action::Reconfigure { node: srv, config: Box::new(bad) });
    assert!(s.sim.trace().last().unwrap().text.en.contains("refuses"));
    // A second NIC gets its own lease.
    s.sim.act(Action::AddNic { node: tablet, segment: 0 });
    s.sim.run_until(s.sim.now() + Duration::from_secs(10));
    let second = s.sim.client(tablet, 1).unwrap().lease().unwrap().ip;
    assert_ne!(second, lease.ip);
    // Removing the tablet takes it off the segment.
    s.sim.act(Action::Remove { node: tablet });
    assert!(s.sim.nics.iter().filter(|n| n.node == tablet).all(|n| !n.up));
    assert!(s.sim.nodes[tablet].removed);
    assert_eq!(s.sim.client(tablet, 0).unwrap().state(), ClientStateKind::Stopped);
}

#[test]
fn a_reservation_made_later_moves_the_laptop_at_its_renewal() {
    let s = run("reservation");
    let m = msgs_only(&s);
    // DORA, the renewal at T1 refused, DORA again.
    assert_eq!(
        m,
        [M::Discover, M::Offer, M::Request, M::Ack, M::Request, M::Nak, M::Discover, M::Offer, M::Request, M::Ack],
        "{m:?}"
    );
    assert_eq!(s.sim.client(s.client, 0).unwrap().lease().unwrap().ip, ip("192.168.1.50"));
    let server: Vec<_> = lease_events(&s)
        .into_iter()
        .filter(|(n, _, _)| n == "dhcp-server")
        .map(|(_, k, a)| (k, a.octets()[3] == 50))
        .collect();
    assert_eq!(
        server,
        [
            (LeaseEventKind::Offered, false),
            (LeaseEventKind::Bound, false),
            (LeaseEventKind::Released, false),
            (LeaseEventKind::Nak, false),
            (LeaseEventKind::Offered, true),
            (LeaseEventKind::Bound, true)
        ]
    );
    // The story says why, in both languages.
    let reconfigured = s
        .sim
        .trace()
        .iter()
        .find(|e| matches!(e.kind, TraceKind::Action { .. }) && e.text.en.contains("configuration"));
    assert!(
        reconfigured.is_some_and(|e| e.text.en.contains("192.168.1.50") && e.text.zh.contains("192.168.1.50")),
        "{reconfigured:?}"
    );
}

#[test]
fn conflict_the_server_pings_finds_the_printer_and_offers_another_address() {
    let s = run("conflict");
    assert_eq!(msgs_only(&s), [M::Discover, M::Offer, M::Request, M::Ack], "no DECLINE is needed");
    let pings: Vec<(Ipv4Addr, Option<String>)> = s
        .sim
        .trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Ping { ip, answered_by } => Some((*ip, answered_by.map(|n| s.sim.nodes[n].name.clone()))),
            _ => None,
        })
        .collect();
    assert_eq!(pings.len(), 2, "{pings:?}");
    assert_eq!(pings[0], (ip("192.168.1.100"), Some("printer".to_string())));
    assert_eq!(pings[1].1, None);
    let lease = s.sim.client(s.client, 0).unwrap().lease().unwrap().ip;
    assert_eq!(lease, pings[1].0, "the laptop got the address that stayed silent");
    let server: Vec<_> =
        lease_events(&s).into_iter().filter(|(n, _, _)| n == "dhcp-server").map(|(_, k, a)| (k, a)).collect();
    assert_eq!(
        server,
        [
            (LeaseEventKind::Conflict, ip("192.168.1.100")),
            (LeaseEventKind::Offered, lease),
            (LeaseEventKind::Bound, lease)
        ]
    );
    let srv = s.sim.node_by_name("dhcp-server").unwrap();
    let stats = s.sim.server(srv).unwrap().stats();
    assert_eq!((stats.conflict_probes, stats.conflicts), (2, 1));
    // The OFFER waited for the second ping's half second, and no longer.
    let offer =
        s.sim.trace().iter().find(|e| matches!(&e.kind, TraceKind::Packet { summary, .. } if summary.msg == M::Offer));
    let discover = s
        .sim
        .trace()
        .iter()
        .find(|e| matches!(&e.kind, TraceKind::Packet { summary, .. } if summary.msg == M::Discover));
    let waited = offer.unwrap().at - discover.unwrap().at;
    assert!(waited >= Duration::from_millis(500) && waited < Duration::from_millis(600), "{waited:?}");
}

#[test]
fn failover_the_survivor_acks_the_rebinding_client_from_the_shared_database() {
    let s = run("failover");
    let l = s.sim.client(s.client, 0).unwrap().lease().unwrap().clone();
    let m = messages(&s);
    // DORA with two offers; server-a's ACK; then REQUESTs to server-a that nobody answers (RENEWING,
    // unicast), until the broadcast at T2 that server-b ACKs for the same address.
    let acks: Vec<&str> = m.iter().filter(|(_, msg)| *msg == M::Ack).map(|(n, _)| n.as_str()).collect();
    assert_eq!(acks, ["server-a", "server-b"], "{m:?}");
    assert_eq!(l.server, ip("192.168.1.241"), "the lease is now server-b's");
    assert_eq!(l.ip, ip("192.168.1.100"), "the same address, from server-a's block of the pool");
    let requests = m.iter().filter(|(n, msg)| n == "laptop" && *msg == M::Request).count();
    assert!(requests >= 3, "the renewal was retried before T2: {m:?}");
    // server-b offered too; then it learnt server-a's lease from the database (synced, which also ends its
    // own offer to the laptop), and later extended that lease (renewed).
    let b_events: Vec<_> =
        lease_events(&s).into_iter().filter(|(n, _, _)| n == "server-b").map(|(_, k, _)| k).collect();
    assert_eq!(b_events, [LeaseEventKind::Offered, LeaseEventKind::Synced, LeaseEventKind::Renewed]);
    // The database stored both ACKs before they left, and says so in the story, in both languages.
    let stored: Vec<_> =
        s.sim.trace().iter().filter(|e| matches!(e.kind, TraceKind::Database { stored: true, .. })).collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().all(|e| e.text.en.contains("lease-db") && e.text.zh.contains("lease-db")));
    let rebinding = s.sim.trace().iter().find(|e| {
        e.at > Instant::from_secs(3000)
            && matches!(&e.kind, TraceKind::Packet { summary, broadcast: true, .. } if summary.msg == M::Request)
    });
    assert!(
        rebinding.is_some_and(|e| e.rfc.as_deref() == Some("RFC 2131 §4.4.5")),
        "the broadcast at T2: {rebinding:?}"
    );
    let db = s.sim.node_by_name("lease-db").unwrap();
    assert_eq!(s.sim.nodes[db].role(), NodeRole::Database);
}
