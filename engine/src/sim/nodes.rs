//! Driving the nodes' state machines: after anything reaches a node, its client or server is drained of
//! what it has to send and to say, and its next timer is queued. Each event is narrated into the trace.

use super::topology::{NicId, NodeId, NodeKind};
use super::trace::{Text, TraceKind};
use super::{BROADCAST_MAC, Event, Outgoing, Sim, explain};
use crate::client::{Client, ClientTransmit};
use crate::message::SERVER_PORT;
use std::net::{Ipv4Addr, SocketAddrV4};

impl Sim {
    /// Takes a node's queued transmits and events, sends and records them, and queues its next wake-up.
    pub(super) fn drain(&mut self, node: NodeId) {
        let now = self.now;
        let nics = self.nodes[node].nics();
        let mut out: Vec<Outgoing> = vec![];
        let mut probes: Vec<(NicId, Ipv4Addr)> = vec![];
        let mut traces: Vec<(TraceKind, Text, Option<String>)> = vec![];
        // A server's replies with the address each ACK grants, and its lease events, for its database.
        let mut replies: Vec<(Outgoing, Ipv4Addr)> = vec![];
        let mut lease_events = vec![];
        // A server's pings before an OFFER (conflict probing).
        let mut pings = vec![];
        let name = self.nodes[node].name.clone();
        let next = match &mut self.nodes[node].kind {
            NodeKind::Host { clients, .. } => {
                for (i, c) in clients.iter_mut().enumerate() {
                    while let Some(t) = c.poll_transmit() {
                        match t {
                            ClientTransmit::Dhcp { src, dst, bytes, .. } => {
                                out.push(Outgoing { nic: nics[i], src, dst, dst_mac: None, payload: bytes })
                            }
                            ClientTransmit::ArpProbe { ip } => probes.push((nics[i], ip)),
                        }
                    }
                    while let Some((_, ev)) = c.poll_event() {
                        let (kind, text, rfc) = explain::client_event(&name, &self.nics[nics[i]].name, i, &ev);
                        traces.push((kind, text, rfc));
                    }
                }
                clients.iter().filter_map(Client::poll_timeout).min()
            }
            NodeKind::Server { server, .. } => {
                while let Some(t) = server.poll_transmit() {
                    let nic = nics.get(t.iface as usize).copied().unwrap_or(nics[0]);
                    let src = SocketAddrV4::new(t.src, SERVER_PORT);
                    let dst_mac = match t.dst {
                        crate::reply::Destination::Hardware { hw, .. } => Some(hw),
                        crate::reply::Destination::Broadcast => Some(BROADCAST_MAC),
                        _ => None,
                    };
                    let grants = if t.needs_store { t.yiaddr } else { Ipv4Addr::UNSPECIFIED };
                    replies.push((Outgoing { nic, src, dst: t.dst.socket_addr(), dst_mac, payload: t.bytes }, grants));
                }
                while let Some(p) = server.poll_ping() {
                    pings.push((nics.get(p.iface as usize).copied().unwrap_or(nics[0]), p.ip));
                }
                while let Some(ev) = server.poll_event() {
                    let (text, rfc) = explain::lease_event(&name, &ev);
                    lease_events.push(ev.clone());
                    traces.push((TraceKind::Lease { event: ev }, text, rfc));
                }
                server.poll_timeout()
            }
            _ => None,
        };
        let next = match self.nodes[node].kind {
            NodeKind::Server { online: false, .. } => None,
            _ => next,
        };
        self.refresh_addresses(node);
        for (kind, text, rfc) in traces {
            self.record(node, kind, text, rfc);
        }
        // With a shared database, an ACK leaves only if the database took its lease.
        self.commit_to_database(node, &lease_events, &mut replies);
        out.extend(replies.into_iter().map(|(o, _)| o));
        for o in out {
            self.send(o.nic, o.src, o.dst, o.dst_mac, o.payload);
        }
        for (nic, ip) in probes {
            self.arp_probe(node, nic, ip);
        }
        for (nic, ip) in pings {
            self.ping(node, nic, ip);
        }
        if let Some(t) = next
            && self.wakes[node].is_none_or(|w| t < w || w < now)
        {
            self.wakes[node] = Some(t);
            self.push(t.max(now), Event::Wake { node });
        }
    }
}
