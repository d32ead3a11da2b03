//! The relay agent and router (RFC 1542 §4, RFC 3046): client broadcasts go to the servers by unicast with
//! giaddr and option 82; server replies come back to giaddr and go out on the client's segment; other
//! unicast is routed between segments.

use super::topology::{NicId, NodeId, NodeKind};
use super::{BROADCAST_MAC, Sim};
use crate::hwaddr::HwAddr;
use crate::message::{CLIENT_PORT, SERVER_PORT};
use crate::packet::{parse_reply, parse_request};
use crate::pcap::Frame;
use crate::reply::encode;
use dhcproto::v4::relay::{RelayAgentInformation, RelayInfo};
use dhcproto::v4::{DhcpOption, OptionCode};
use std::net::{Ipv4Addr, SocketAddrV4};

/// RFC 1542 §4.1.1: a relay discards requests that have already crossed this many relays.
const MAX_HOPS: u8 = 16;

pub(super) fn receive(sim: &mut Sim, node: NodeId, in_nic: NicId, frame: Frame) {
    let NodeKind::Relay { nics, servers } = &sim.nodes[node].kind else { return };
    let (nics, servers) = (nics.clone(), servers.clone());
    let own: Vec<(NicId, Ipv4Addr)> = nics.iter().filter_map(|&n| sim.nics[n].fixed.map(|(ip, _)| (n, ip))).collect();
    let in_ip = own.iter().find(|(n, _)| *n == in_nic).map(|&(_, ip)| ip);
    let dst = *frame.dst.ip();
    let is_own = own.iter().any(|&(_, ip)| ip == dst);
    match frame.payload.first() {
        Some(1) if frame.dst.port() == SERVER_PORT && (dst.is_broadcast() || Some(dst) == in_ip) => {
            if let Some(in_ip) = in_ip {
                forward_request(sim, in_nic, in_ip, &own, &servers, &frame);
            }
        }
        Some(2) if frame.dst.port() == SERVER_PORT && is_own => forward_reply(sim, &own, &frame),
        _ if !dst.is_broadcast() && !is_own => route(sim, in_nic, &nics, frame),
        _ => {}
    }
}

fn forward_request(
    sim: &mut Sim,
    in_nic: NicId,
    in_ip: Ipv4Addr,
    own: &[(NicId, Ipv4Addr)],
    servers: &[Ipv4Addr],
    frame: &Frame,
) {
    let Ok(req) = parse_request(&frame.payload) else { return };
    let mut msg = req.msg;
    if msg.hops() >= MAX_HOPS {
        return;
    }
    msg.set_hops(msg.hops() + 1);
    if msg.giaddr().is_unspecified() {
        msg.set_giaddr(in_ip);
    }
    if !msg.opts().contains(OptionCode::RelayAgentInformation) {
        // RFC 3046: the circuit the request came in on, so the server (and its logs) can tell.
        let mut info = RelayAgentInformation::default();
        let circuit = sim.segments[sim.nics[in_nic].segment].name.clone().into_bytes();
        info.insert(RelayInfo::AgentCircuitId(circuit));
        msg.opts_mut().insert(DhcpOption::RelayAgentInformation(info));
    }
    let Ok(bytes) = encode(&msg) else { return };
    for &server in servers {
        // Leave by the NIC whose segment reaches the server, or any other than the one it came in on.
        let out = own
            .iter()
            .find(|&&(n, _)| sim.resolve_direct(sim.nics[n].segment, server, n).is_some())
            .or_else(|| own.iter().find(|&&(n, _)| n != in_nic));
        if let Some(&(nic, ip)) = out {
            let src = SocketAddrV4::new(ip, SERVER_PORT);
            sim.send(nic, src, SocketAddrV4::new(server, SERVER_PORT), None, bytes.clone());
        }
    }
}

fn forward_reply(sim: &mut Sim, own: &[(NicId, Ipv4Addr)], frame: &Frame) {
    let Ok(reply) = parse_reply(&frame.payload) else { return };
    let mut msg = reply.msg;
    let giaddr = msg.giaddr();
    let Some(&(out, _)) = own.iter().find(|&&(_, ip)| ip == giaddr) else { return };
    // RFC 3046 §2.2: option 82 is for the relay; it never reaches the client.
    msg.opts_mut().remove(OptionCode::RelayAgentInformation);
    let Ok(bytes) = encode(&msg) else { return };
    let src = SocketAddrV4::new(giaddr, SERVER_PORT);
    // RFC 1542 §5.4: broadcast if the client asked, else unicast to yiaddr at chaddr.
    let chaddr = HwAddr::new(msg.chaddr()).unwrap_or_default();
    if msg.flags().broadcast() || (msg.yiaddr().is_unspecified() && msg.ciaddr().is_unspecified()) {
        let dst = SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);
        sim.send(out, src, dst, Some(BROADCAST_MAC), bytes);
    } else if !msg.yiaddr().is_unspecified() {
        sim.send(out, src, SocketAddrV4::new(msg.yiaddr(), CLIENT_PORT), Some(chaddr), bytes);
    } else {
        sim.send(out, src, SocketAddrV4::new(msg.ciaddr(), CLIENT_PORT), None, bytes);
    }
}

/// Plain IP forwarding: out of the NIC whose segment has the destination.
fn route(sim: &mut Sim, in_nic: NicId, nics: &[NicId], frame: Frame) {
    let dst = *frame.dst.ip();
    for &n in nics {
        if n == in_nic {
            continue;
        }
        if let Some(mac) = sim.resolve_direct(sim.nics[n].segment, dst, n) {
            let out = Frame { src_mac: sim.nics[n].mac, dst_mac: mac, at: sim.now, ..frame };
            sim.emit(n, out);
            return;
        }
    }
}
