//! A relay node on the virtual LAN: a router whose DHCP relay agent is the engine's sans-IO
//! [`RelayAgent`]. Client broadcasts and server replies go through the agent; what it sends goes out by
//! the right NIC; other unicast is routed between segments as plain IP forwarding.

use super::topology::{NicId, NodeId, NodeKind};
use super::{BROADCAST_MAC, Sim};
use crate::message::SERVER_PORT;
use crate::pcap::Frame;
use crate::relay::RelayTransmit;
use crate::reply::Destination;
use std::net::SocketAddrV4;

pub(super) fn receive(sim: &mut Sim, node: NodeId, in_nic: NicId, frame: Frame) {
    let NodeKind::Relay { nics, agent } = &mut sim.nodes[node].kind else { return };
    let nics = nics.clone();
    let link = nics.iter().position(|&n| n == in_nic);
    let dst = *frame.dst.ip();
    let own = agent.link_of(dst).is_some();
    let to_dhcp = frame.dst.port() == SERVER_PORT;
    // What the agent does not relay it drops, as RFC 1542 §4 says; nothing else needs telling.
    match (frame.payload.first(), link) {
        (Some(1), Some(l)) if to_dhcp && (dst.is_broadcast() || link == agent.link_of(dst)) => {
            let _ = agent.handle_request(l, &frame.payload);
        }
        (Some(2), _) if to_dhcp && own => {
            let _ = agent.handle_reply(&frame.payload);
        }
        _ if !dst.is_broadcast() && !own => return route(sim, in_nic, &nics, frame),
        _ => {}
    }
    let mut out = vec![];
    while let Some(t) = agent.poll_transmit() {
        out.push(t);
    }
    for t in out {
        send(sim, in_nic, &nics, t);
    }
}

/// Puts one of the agent's datagrams on the wire.
fn send(sim: &mut Sim, in_nic: NicId, nics: &[NicId], t: RelayTransmit) {
    match t {
        RelayTransmit::ToServer { server, bytes } => {
            // Leave by the NIC whose segment reaches the server, or any other than the one it came in on.
            let out = nics
                .iter()
                .find(|&&n| sim.resolve_direct(sim.nics[n].segment, server, n).is_some())
                .or_else(|| nics.iter().find(|&&n| n != in_nic));
            if let Some(&nic) = out
                && let Some((ip, _)) = sim.nics[nic].fixed
            {
                sim.send(nic, SocketAddrV4::new(ip, SERVER_PORT), SocketAddrV4::new(server, SERVER_PORT), None, bytes);
            }
        }
        RelayTransmit::ToClient { link, src, dst, bytes } => {
            let Some(&nic) = nics.get(link) else { return };
            let mac = match dst {
                Destination::Broadcast => Some(BROADCAST_MAC),
                Destination::Hardware { hw, .. } => Some(hw),
                Destination::Unicast { .. } | Destination::Relay { .. } => None,
            };
            sim.send(nic, SocketAddrV4::new(src, SERVER_PORT), dst.socket_addr(), mac, bytes);
        }
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
