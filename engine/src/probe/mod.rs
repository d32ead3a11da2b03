//! `dhcplab probe`'s engine: the engine's own client asks a LAN once (a DISCOVER, or a REQUEST or an INFORM
//! when told to) and every answer is collected for a while, where a client would take the first; then
//! [`ProbeReport`] says what a client on that LAN would get, and what looks wrong.
//!
//! Sans-IO, like the client it wraps: frames in with [`Probe::handle_frame`], frames out from
//! [`Probe::poll_transmit`], the caller's clock through [`Probe::handle_timeout`] and [`Probe::poll_timeout`].

mod report;
#[cfg(test)]
mod tests;

pub use report::{Finding, OfferField, OptionValue, ProbeReport, RelayInfoEcho, ServerAnswer, Verdict};

use crate::client::{Client, ClientConfig, ClientTransmit};
use crate::hwaddr::HwAddr;
use crate::message::{CLIENT_PORT, DhcpMessage, SERVER_PORT};
use crate::packet::{option_value, parse_reply};
use crate::pcap::Frame;
use crate::relay::{RelayAgent, RelayLink, RelayTransmit};
use crate::time::{Duration, Instant};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

/// What the probe asks the LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "ip")]
pub enum Ask {
    /// DISCOVER: who offers what. Offers are only collected, never taken, so nothing is bound.
    Discover,
    /// REQUEST for this address, as a client does after a reboot (INIT-REBOOT, RFC 2131 §4.3.2): does a
    /// server confirm it or NAK it? An ACK binds the address, so the probe RELEASEs it before it ends.
    Request(Ipv4Addr),
    /// INFORM from this address (RFC 2131 §4.3.5): what options a host configured by hand would be given.
    Inform(Ipv4Addr),
}

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The client that asks: its MAC, client id, hostname, vendor class, parameter list.
    pub client: ClientConfig,
    pub ask: Ask,
    /// How long answers are collected after the first message goes out (default 5 s: dnsmasq pings an
    /// address for up to 3 s before it offers it).
    pub wait: Duration,
    /// The subnet the answers are for (the interface's, or the relay's giaddr's): offers outside it are
    /// flagged.
    pub subnet: Option<Ipv4Net>,
    /// Ask as a relay agent on this link would, instead of as a client on it.
    pub relay: Option<RelayAs>,
}

impl ProbeConfig {
    pub fn new(client: ClientConfig, ask: Ask) -> Self {
        ProbeConfig { client, ask, wait: Duration::from_secs(5), subnet: None, relay: None }
    }
}

/// The probe as a relay agent (RFC 1542 §4.1.1, RFC 3046): the client's messages leave from giaddr's port
/// 67 and the relay's own MAC, with giaddr, hops and option 82 set, and servers answer giaddr on port 67.
/// So a server's answer for another link (the one giaddr names) can be checked from this one, and whether
/// it echoes option 82 as RFC 3046 §2.2 requires.
#[derive(Debug, Clone)]
pub struct RelayAs {
    /// giaddr, the circuit id and the remote id.
    pub link: RelayLink,
    /// The relay's MAC: the interface's own.
    pub mac: HwAddr,
}

/// One probe: start it, shuttle frames and timers until [`Probe::is_finished`], then read [`Probe::report`].
pub struct Probe {
    config: ProbeConfig,
    client: Client,
    started: Option<Instant>,
    /// Each exchange the client began (its xid) and when its first message went out.
    exchanges: Vec<(u32, Instant)>,
    /// DHCP messages sent, retransmissions included.
    sent: u32,
    answers: Vec<ServerAnswer>,
    transmits: VecDeque<Frame>,
    finished: bool,
    /// A REQUEST was ACKed and the address RELEASEd at the end.
    released: Option<Ipv4Addr>,
    /// When asking as a relay: the agent that wraps the client's messages.
    relay: Option<RelayAgent>,
    /// The option 82 value the relay sent last, byte for byte.
    sent_relay_info: Option<Vec<u8>>,
}

impl Probe {
    pub fn new(mut config: ProbeConfig, seed: u64) -> Self {
        // A probe looks; it does not configure: no ARP check of an offered address, no 169.254 fallback.
        config.client.probe = false;
        config.client.link_local = false;
        let client = Client::new(config.client.clone(), seed);
        // Relayed messages go to every server by broadcast; `relayed` keeps a unicast (the RELEASE) unicast.
        let relay = config.relay.as_ref().map(|r| RelayAgent::new(vec![r.link.clone()], vec![Ipv4Addr::BROADCAST]));
        Probe {
            config,
            client,
            started: None,
            exchanges: vec![],
            sent: 0,
            answers: vec![],
            transmits: VecDeque::new(),
            finished: false,
            released: None,
            relay,
            sent_relay_info: None,
        }
    }

    /// Sends the first message.
    pub fn start(&mut self, now: Instant) {
        self.started = Some(now);
        match self.config.ask {
            Ask::Discover => self.client.start(now),
            Ask::Request(ip) => self.client.request(now, ip),
            Ask::Inform(ip) => self.client.inform(now, ip),
        }
        self.drain_client(now);
    }

    /// A frame heard on the link. Answers to our exchanges are kept; everything else is ignored.
    pub fn handle_frame(&mut self, now: Instant, frame: &Frame) {
        let giaddr = self.config.relay.as_ref().map(|r| r.link.addr);
        // A client is answered on port 68; a relay on port 67 at giaddr (RFC 1542 §4.1.2, RFC 2131 §4.1).
        let to_us = match giaddr {
            None => frame.dst.port() == CLIENT_PORT,
            Some(giaddr) => frame.dst.port() == SERVER_PORT && *frame.dst.ip() == giaddr,
        };
        if self.finished || !to_us {
            return;
        }
        let Ok(reply) = parse_reply(&frame.payload) else { return };
        let ours =
            reply.msg.chaddr() == self.config.client.hw.as_bytes() && giaddr.is_none_or(|g| reply.msg.giaddr() == g);
        let Some(&(_, asked_at)) = self.exchanges.iter().find(|(xid, _)| *xid == reply.msg.xid()) else { return };
        if !ours {
            return;
        }
        let mut answer = ServerAnswer::new(&reply, frame, now - asked_at, &frame.payload);
        if let Some(sent) = &self.sent_relay_info {
            answer.relay_info = Some(RelayInfoEcho::of(sent, option_value(&frame.payload, 82).as_deref()));
        }
        match self.answers.iter_mut().find(|a| a.server == answer.server) {
            // The same server again: a retransmission answered, or a second copy (two sockets on one link).
            Some(a) => a.copies += 1,
            None => self.answers.push(answer),
        }
        match reply.kind {
            // A DISCOVER's offers are only collected: the client would take the first one and REQUEST it.
            DhcpMessage::Offer => {}
            // A NAK ends the question; the client would start over with a DISCOVER, which is not asked for.
            DhcpMessage::Nak => self.client.unplug(now),
            DhcpMessage::Ack => {
                // Malformed replies were refused by `parse_reply` already.
                let _ = self.client.handle_packet(now, &frame.payload);
                self.drain_client(now);
            }
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        let Some(started) = self.started else { return };
        if now >= started + self.config.wait {
            // RFC 2131 §4.4.6: give back an address the REQUEST got, so the probe takes nothing.
            if let Some(lease) = self.client.lease().cloned() {
                self.client.release(now);
                self.released = Some(lease.ip);
            }
            self.drain_client(now);
            self.finished = true;
            return;
        }
        self.client.handle_timeout(now);
        self.drain_client(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmits.pop_front()
    }

    /// The next retransmission, or the end of the wait.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let end = self.started? + self.config.wait;
        Some(self.client.poll_timeout().map_or(end, |t| t.min(end)))
    }

    /// True once the wait is over (and the RELEASE, if any, is queued).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// What was heard, judged.
    pub fn report(&self) -> ProbeReport {
        ProbeReport::new(
            self.config.ask,
            self.config.subnet,
            self.config.relay.as_ref().map(|r| r.link.addr),
            self.config.wait,
            self.sent,
            self.answers.clone(),
            self.released,
        )
    }

    /// Moves the client's messages out as Ethernet frames, noting each exchange.
    fn drain_client(&mut self, now: Instant) {
        while let Some(t) = self.client.poll_transmit() {
            let ClientTransmit::Dhcp { src, dst, xid, bytes, .. } = t else { continue };
            if !self.exchanges.iter().any(|(x, _)| *x == xid) {
                self.exchanges.push((xid, now));
            }
            let frame = match self.relay.is_some() {
                false => Some(Frame {
                    at: now,
                    src_mac: self.config.client.hw,
                    dst_mac: self.mac_of(*dst.ip()),
                    src,
                    dst,
                    payload: bytes,
                }),
                true => self.relayed(now, *dst.ip(), &bytes),
            };
            if let Some(frame) = frame {
                self.sent += 1;
                self.transmits.push_back(frame);
            }
        }
        // The client's own story (state changes, the bound lease) is in the answers already.
        while self.client.poll_event().is_some() {}
    }

    /// A client's message as the relay sends it: from giaddr's port 67 to the server the client addressed,
    /// or to all of them by broadcast.
    fn relayed(&mut self, now: Instant, to: Ipv4Addr, bytes: &[u8]) -> Option<Frame> {
        let (relay, from) = (self.relay.as_mut()?, self.config.relay.as_ref()?);
        // The client's own messages always parse: a failure here is a bug, and the message is not sent.
        relay.handle_request(0, bytes).ok()?;
        let Some(RelayTransmit::ToServer { bytes, .. }) = relay.poll_transmit() else { return None };
        // What the answers must carry back (RFC 3046 §2.2).
        self.sent_relay_info = option_value(&bytes, 82);
        Some(Frame {
            at: now,
            src_mac: from.mac,
            dst_mac: self.mac_of(to),
            src: SocketAddrV4::new(from.link.addr, SERVER_PORT),
            dst: SocketAddrV4::new(to, SERVER_PORT),
            payload: bytes,
        })
    }

    /// Broadcast frames go to everyone; a unicast (the RELEASE) to the MAC its server answered from.
    fn mac_of(&self, ip: Ipv4Addr) -> HwAddr {
        self.answers
            .iter()
            .find(|a| a.server == ip || *a.source.ip() == ip)
            .map(|a| a.mac)
            .unwrap_or(HwAddr::ethernet([0xff; 6]))
    }
}
