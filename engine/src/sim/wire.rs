//! The wire: Ethernet and IPv4 delivery on the virtual segments — ARP resolution, broadcast and unicast
//! frames, link delay, loss and duplication, and the ARP probe a client makes before using an address.

use super::topology::{NicId, NodeId, NodeKind, SegmentId};
use super::trace::{Text, TraceKind};
use super::{BROADCAST_MAC, Event, Sim, explain, relay};
use crate::event::PacketSummary;
use crate::hwaddr::HwAddr;
use crate::message::{CLIENT_PORT, SERVER_PORT};
use crate::pcap::Frame;
use crate::server::RecvMeta;
use rand_core::Rng;
use std::net::{Ipv4Addr, SocketAddrV4};

impl Sim {
    /// The MAC to send an IP unicast to on `segment`: the owner's if it is on the segment, else a router's.
    pub(super) fn resolve(&self, segment: SegmentId, ip: Ipv4Addr, except: NicId) -> Option<HwAddr> {
        self.resolve_direct(segment, ip, except).or_else(|| self.router_on(segment, except))
    }

    /// The MAC of the NIC on `segment` that has `ip`, if any.
    pub(super) fn resolve_direct(&self, segment: SegmentId, ip: Ipv4Addr, except: NicId) -> Option<HwAddr> {
        self.owner_on(segment, ip, except).map(|i| self.nics[i].mac)
    }

    /// The NIC on `segment` (other than `except`) that answers to `ip`.
    pub(super) fn owner_on(&self, segment: SegmentId, ip: Ipv4Addr, except: NicId) -> Option<NicId> {
        self.index.by_addr.get(&ip)?.iter().copied().find(|&i| {
            let n = &self.nics[i];
            i != except && n.segment == segment && n.up
        })
    }

    /// A router's MAC on `segment` (the first relay NIC there).
    pub(super) fn router_on(&self, segment: SegmentId, except: NicId) -> Option<HwAddr> {
        self.index.servers.get(segment)?.iter().copied().find_map(|i| {
            let n = &self.nics[i];
            (i != except && n.up && matches!(self.nodes[n.node].kind, NodeKind::Relay { .. })).then_some(n.mac)
        })
    }

    /// Sends a UDP datagram out of `nic`. Broadcast when `dst` is 255.255.255.255 or `dst_mac` says so.
    pub(super) fn send(
        &mut self,
        nic: NicId,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        dst_mac: Option<HwAddr>,
        payload: Vec<u8>,
    ) {
        let n = &self.nics[nic];
        if !n.up {
            return;
        }
        let dst_mac = match dst_mac {
            Some(m) => m,
            None if dst.ip().is_broadcast() => BROADCAST_MAC,
            None => match self.resolve(n.segment, *dst.ip(), nic) {
                Some(m) => m,
                None => {
                    let text = Text::new(
                        format!("{} has no route to {}: the packet is not sent.", self.nodes[n.node].name, dst.ip()),
                        format!("{} 没有到 {} 的路由：数据包未发出。", self.nodes[n.node].name, dst.ip()),
                    );
                    self.record(n.node, TraceKind::Action { what: Text::new("no route", "无路由") }, text, None);
                    return;
                }
            },
        };
        let frame = Frame { at: self.now, src_mac: n.mac, dst_mac, src, dst, payload };
        self.emit(nic, frame);
    }

    /// Puts a frame on the sender's segment: trace it, then deliver it to every NIC that takes it in.
    pub(super) fn emit(&mut self, from: NicId, frame: Frame) {
        let Some(summary) = PacketSummary::from_bytes(&frame.payload) else { return };
        let seg = self.nics[from].segment;
        let segment = self.segments[seg].clone();
        let broadcast = frame.dst_mac == BROADCAST_MAC;
        let port = frame.dst.port();
        // Only nodes listening on the port take the datagram in: servers and relays on 67, hosts on 68;
        // a relay also takes unicast frames addressed to it, to route them.
        let candidates: Vec<NicId> = if broadcast {
            match port {
                SERVER_PORT => self.index.servers[seg].clone(),
                CLIENT_PORT => self.index.hosts[seg].clone(),
                _ => vec![],
            }
        } else {
            self.index.by_mac.get(&frame.dst_mac).copied().into_iter().collect()
        };
        let to: Vec<NicId> = candidates
            .into_iter()
            .filter(|&i| {
                let n = &self.nics[i];
                i != from
                    && n.segment == seg
                    && n.up
                    && match self.nodes[n.node].kind {
                        NodeKind::Host { .. } => port == CLIENT_PORT,
                        NodeKind::Server { .. } => port == SERVER_PORT,
                        NodeKind::Relay { .. } => port == SERVER_PORT || !broadcast,
                        NodeKind::Static { .. } | NodeKind::Database { .. } => false,
                    }
            })
            .collect();
        let lost = segment.loss > 0.0 && self.chance(segment.loss);
        let duplicated = !lost && segment.duplicate > 0.0 && self.chance(segment.duplicate);
        let id = self.packets;
        self.packets += 1;
        let node = self.nics[from].node;
        let (text, rfc) = explain::packet(self, from, &frame, &summary, broadcast, lost);
        let to_nodes: Vec<NodeId> = to.iter().map(|&i| self.nics[i].node).collect();
        let kind = TraceKind::Packet { id, segment: seg, frame: frame.clone(), summary, broadcast, to: to_nodes, lost };
        self.record(node, kind, text, rfc);
        if lost {
            return;
        }
        let at = self.now + segment.delay;
        for &nic in &to {
            self.push(at, Event::Deliver { nic, frame: frame.clone() });
            if duplicated {
                self.push(at + segment.delay, Event::Deliver { nic, frame: frame.clone() });
            }
        }
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        (f64::from(self.rng.next_u32()) / f64::from(u32::MAX)) < p
    }

    pub(super) fn deliver(&mut self, nic: NicId, frame: Frame) {
        let n = self.nics[nic].clone();
        if !n.up {
            return;
        }
        let now = self.now;
        let node = n.node;
        let idx = self.nic_index(node, nic);
        match &mut self.nodes[node].kind {
            NodeKind::Host { clients, .. } => {
                if frame.dst.port() == CLIENT_PORT
                    && let Some(c) = clients.get_mut(idx)
                {
                    let _ = c.handle_packet(now, &frame.payload);
                }
            }
            NodeKind::Server { server, online, .. } => {
                let Some((local_addr, _)) = n.fixed else { return };
                let for_us = frame.dst.ip().is_broadcast() || *frame.dst.ip() == local_addr;
                if *online && frame.dst.port() == SERVER_PORT && for_us {
                    let meta = RecvMeta { iface: idx as u32, local_addr, src: frame.src };
                    let _ = server.handle_packet(now, meta, &frame.payload);
                }
            }
            NodeKind::Relay { .. } => {
                relay::receive(self, node, nic, frame);
                return;
            }
            NodeKind::Static { .. } | NodeKind::Database { .. } => {}
        }
        self.drain(node);
    }

    /// A server's ping before an OFFER: the host using `ip` (on the server's segment, or routed to) answers
    /// after a round trip.
    pub(super) fn ping(&mut self, node: NodeId, nic: NicId, ip: Ipv4Addr) {
        let seg = self.nics[nic].segment;
        let owner = self
            .owner_on(seg, ip, nic)
            .or_else(|| (0..self.nics.len()).find(|&n| n != nic && self.nics[n].up && self.nic_address(n) == Some(ip)));
        let answered_by = owner.map(|i| self.nics[i].node);
        let text = explain::ping(&self.nodes[node].name, ip, answered_by.map(|n| self.nodes[n].name.as_str()));
        self.record(node, TraceKind::Ping { ip, answered_by }, text, Some("RFC 2131 §2.2".into()));
        if owner.is_some() {
            let at = self.now + self.segments[seg].delay * 2;
            self.push(at, Event::PingReply { node, ip });
        }
    }

    /// An ARP probe: does any other NIC on the segment use `ip`? Its owner answers after one delay.
    pub(super) fn arp_probe(&mut self, node: NodeId, nic: NicId, ip: Ipv4Addr) {
        let seg = self.nics[nic].segment;
        let owner = self.owner_on(seg, ip, nic);
        let answered_by = owner.map(|i| self.nics[i].node);
        let idx = self.nic_index(node, nic);
        let text = explain::arp(&self.nodes[node].name, ip, answered_by.map(|n| self.nodes[n].name.as_str()));
        self.record(node, TraceKind::Arp { nic: idx, ip, answered_by }, text, Some("RFC 5227 §2.1".into()));
        if owner.is_some() {
            let at = self.now + self.segments[seg].delay * 2;
            self.push(at, Event::ArpReply { nic, ip });
        }
    }
}
