//! `dhcplab watch`'s engine: the DHCP of a link the watcher does not serve, each packet narrated as the lab
//! narrates it, gathered by client into exchanges (DISCOVER … ACK) that are summed up when they end, and the
//! leases the ACKs granted kept as a lease table, so the dashboard can show a LAN that dhcplab only watches.
//!
//! Sans-IO: frames in with [`Watch::handle_frame`], the clock with [`Watch::handle_timeout`] (leases that
//! ran out), what to show out of [`Watch::poll_event`].

mod outcome;
#[cfg(test)]
mod tests;

pub use outcome::Outcome;

use crate::event::{Direction, LeaseEvent, LeaseEventKind, PacketSeen, PacketSummary};
use crate::hwaddr::HwAddr;
use crate::lease::{KeyedBy, Lease, LeaseState};
use crate::message::{DhcpMessage, SERVER_PORT};
use crate::narrate;
use crate::packet::parse_reply;
use crate::pcap::Frame;
use crate::stats::Stats;
use crate::text::Text;
use crate::time::{Duration, Instant};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;

/// One packet, told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The client the packet is about (chaddr), and its name when it gave one.
    pub client: HwAddr,
    pub hostname: Option<crate::lease::Hostname>,
    /// The packet as the dashboard's live flow and inspector take it.
    pub packet: PacketSeen,
    pub text: Text,
    /// The RFC section the behaviour comes from.
    pub rfc: Option<String>,
    /// The exchange this packet ended, summed up.
    pub outcome: Option<Outcome>,
    /// The change it makes to the table of leases seen.
    pub lease: Option<LeaseEvent>,
}

/// A client as the narration names it: its MAC, and the hostname it gave.
fn client_name(hw: HwAddr, hostname: Option<&str>) -> String {
    match hostname {
        Some(h) => format!("{hw} ({h})"),
        None => hw.to_string(),
    }
}

impl WatchEvent {
    /// The client as the narration names it (for the outcome's sentence).
    pub fn client_name(&self) -> String {
        client_name(self.client, self.hostname.as_deref())
    }
}

/// A narration about `who`, whose name differs by language ("server 192.0.2.1", "服务器 192.0.2.1"): each
/// language's sentence told with its own name.
fn told(who: &Text, narrate: impl Fn(&str) -> (Text, Option<String>)) -> (Text, Option<String>) {
    let (en, rfc) = narrate(&who.en);
    let (zh, _) = narrate(&who.zh);
    (Text::new(en.en, zh.zh), rfc)
}

/// What is remembered of a client between its packets.
#[derive(Debug, Clone, Default)]
struct ClientSeen {
    hostname: Option<crate::lease::Hostname>,
    /// The exchange in progress: its xid and when its first message was seen.
    exchange: Option<(u32, Instant)>,
}

pub struct Watch {
    /// The link's name, for the narration ("asks everyone on eth0").
    link: String,
    clients: HashMap<HwAddr, ClientSeen>,
    leases: BTreeMap<Ipv4Addr, Lease>,
    events: VecDeque<WatchEvent>,
    stats: Stats,
}

fn is_broadcast(f: &Frame) -> bool {
    f.dst_mac.as_bytes() == [0xff; 6] || f.dst.ip().is_broadcast()
}

impl Watch {
    pub fn new(link: impl Into<String>) -> Self {
        Watch {
            link: link.into(),
            clients: HashMap::new(),
            leases: BTreeMap::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Leases seen granted (and, after a RELEASE or their end, given back), in address order.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    pub fn leases_after(&self, after: Option<Ipv4Addr>) -> impl Iterator<Item = &Lease> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.leases.range((after.map_or(Unbounded, Excluded), Unbounded)).map(|(_, l)| l)
    }

    pub fn lease(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.leases.get(&ip)
    }

    /// Packets seen: client messages as `received`, server messages as `sent`, unreadable ones as drops.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn poll_event(&mut self) -> Option<WatchEvent> {
        self.events.pop_front()
    }

    /// When the next lease seen runs out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.leases.values().filter(|l| l.state == LeaseState::Bound).map(|l| l.expires).min()
    }

    /// Leases past their end are marked expired (no event is told: nothing was on the wire).
    pub fn handle_timeout(&mut self, now: Instant) {
        for l in self.leases.values_mut().filter(|l| l.state == LeaseState::Bound && l.expires <= now) {
            l.state = LeaseState::Expired;
        }
    }

    /// A UDP frame heard on the link. DHCP (to or from port 67 or 68) is told; anything else is ignored.
    pub fn handle_frame(&mut self, now: Instant, frame: &Frame) {
        let ports = [frame.src.port(), frame.dst.port()];
        if !ports.iter().any(|p| [67, 68].contains(p)) {
            return;
        }
        let Some(s) = PacketSummary::from_bytes(&frame.payload) else {
            // Counted by why it does not read, as the server counts what it drops.
            let why = match frame.payload.first() {
                Some(1) => crate::packet::parse_request(&frame.payload).err(),
                _ => parse_reply(&frame.payload).err(),
            };
            if let Some(d) = why {
                self.stats.count_drop(d.reason);
            }
            return;
        };
        let from_client = s.msg.from_client();
        if from_client {
            self.stats.received += 1;
            self.stats.received_by_type.count(s.msg);
        } else {
            self.stats.sent += 1;
            self.stats.sent_by_type.count(s.msg);
        }
        let seen = self.clients.entry(s.chaddr).or_default();
        if s.hostname.is_some() {
            seen.hostname = s.hostname.clone();
        }
        let hostname = seen.hostname.clone();
        // A client message with a new xid begins an exchange; the reply that ends it is timed from there.
        let started = match seen.exchange {
            Some((xid, at)) if xid == s.xid => at,
            _ if from_client => {
                seen.exchange = Some((s.xid, now));
                now
            }
            _ => now,
        };
        let who = if from_client {
            let name = client_name(s.chaddr, hostname.as_deref());
            Text::new(name.clone(), name)
        } else {
            Text::new(format!("server {}", frame.src.ip()), format!("服务器 {}", frame.src.ip()))
        };
        let broadcast = is_broadcast(frame);
        let relayed_up = from_client && frame.src.port() == SERVER_PORT && !s.giaddr.is_unspecified();
        let (mut text, rfc) = if relayed_up {
            let relay = Text::new(format!("relay {}", frame.src.ip()), format!("中继 {}", frame.src.ip()));
            told(&relay, |w| narrate::relayed_up(w, s.msg, &s))
        } else {
            told(&who, |w| narrate::sent(w, &self.link, &s, broadcast))
        };
        let to_relay = !from_client && frame.dst.port() == SERVER_PORT;
        let d = narrate::delivery(frame, &s, broadcast, relayed_up || to_relay);
        text.en.push_str(&d.en);
        text.zh.push_str(&d.zh);
        let took = now - started;
        let (outcome, lease) = self.conclude(now, frame, &s, hostname.clone(), took);
        if outcome.is_some()
            && let Some(c) = self.clients.get_mut(&s.chaddr)
        {
            c.exchange = None;
        }
        let packet = PacketSeen {
            dir: if from_client { Direction::In } else { Direction::Out },
            link: self.link.clone(),
            at: now,
            src: frame.src,
            dst: frame.dst,
            summary: s.clone(),
            payload: frame.payload.clone(),
        };
        self.events.push_back(WatchEvent { client: s.chaddr, hostname, packet, text, rfc, outcome, lease });
    }

    /// What a packet ends: an ACK binds, a NAK refuses, a RELEASE or DECLINE gives an address back.
    fn conclude(
        &mut self,
        now: Instant,
        frame: &Frame,
        s: &PacketSummary,
        hostname: Option<crate::lease::Hostname>,
        took: Duration,
    ) -> (Option<Outcome>, Option<LeaseEvent>) {
        let server = s.server_id.unwrap_or(*frame.src.ip());
        let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        match s.msg {
            DhcpMessage::Ack if s.yiaddr.is_unspecified() => (Some(Outcome::Informed { server }), None),
            DhcpMessage::Ack => {
                let Ok(reply) = parse_reply(&frame.payload) else { return (None, None) };
                let lease_time = reply.lease_time.unwrap_or_default();
                let subnet = reply
                    .mask
                    .and_then(|m| Ipv4Net::with_netmask(s.yiaddr, m).ok())
                    .map_or_else(|| Ipv4Net::from(s.yiaddr), |n| n.trunc());
                let renewal =
                    self.leases.get(&s.yiaddr).is_some_and(|l| l.hw == s.chaddr && l.state == LeaseState::Bound);
                let lease = Lease {
                    ip: s.yiaddr,
                    subnet,
                    keyed_by: KeyedBy::Hw,
                    hw: s.chaddr,
                    client_id: None,
                    hostname,
                    state: LeaseState::Bound,
                    obtained: now,
                    expires: now + lease_time,
                    lease_secs: crate::time::secs(lease_time),
                    server: None,
                    class: None,
                    dns_name: None,
                };
                let kind = if renewal { LeaseEventKind::Renewed } else { LeaseEventKind::Bound };
                let ev = LeaseEvent::from_lease(now, kind, &lease);
                self.leases.insert(s.yiaddr, lease);
                let lease_secs = s.lease_secs;
                (Some(Outcome::Bound { ip: s.yiaddr, server, lease_secs, took_ms, renewal }), Some(ev))
            }
            DhcpMessage::Nak => {
                let message = parse_reply(&frame.payload).ok().and_then(|r| r.message);
                (Some(Outcome::Refused { server, message }), None)
            }
            DhcpMessage::Release | DhcpMessage::Decline => {
                let (ip, state, kind) = if s.msg == DhcpMessage::Release {
                    (s.ciaddr, LeaseState::Released, LeaseEventKind::Released)
                } else {
                    (s.requested_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), LeaseState::Declined, LeaseEventKind::Declined)
                };
                let outcome =
                    if state == LeaseState::Released { Outcome::Released { ip } } else { Outcome::Declined { ip } };
                let ev = self.leases.get_mut(&ip).filter(|l| l.hw == s.chaddr).map(|l| {
                    l.state = state;
                    l.expires = now;
                    LeaseEvent::from_lease(now, kind, l)
                });
                (Some(outcome), ev)
            }
            _ => (None, None),
        }
    }
}
