//! Conflict probing before an OFFER. RFC 2131 §2.2: "the allocating server SHOULD probe the reused address
//! before allocating the address, e.g., with an ICMP echo request"; §4.4.1 repeats it for the OFFER. A host
//! someone configured by hand with a pool address answers, and the address is quarantined instead of
//! being handed to a client that would then have to DECLINE it.
//!
//! Sans-IO like the rest of the server: the echo request is an output ([`Ping`], from
//! `Server::poll_ping`), the answer an input (`Server::handle_ping_reply`), and the wait a deadline in
//! `Server::poll_timeout`. The DISCOVER waits here meanwhile; its address is already held for the client.

use super::RecvMeta;
use crate::lease::{ClientKey, ClientKeyRef};
use crate::packet::Request;
use crate::time::{Duration, Instant};
use ipnet::Ipv4Net;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

/// An ICMP echo request the caller sends to `ip`, from the server's address on the link the DISCOVER came
/// in on (`from`, `iface`), and reports back with `Server::handle_ping_reply` if `ip` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    pub ip: Ipv4Addr,
    pub from: Ipv4Addr,
    pub iface: u32,
}

/// An address that stayed silent is not probed again for this long: a client that retries or a burst of
/// DISCOVERs costs one ping, not one each.
pub const QUIET_MEMORY: Duration = Duration::from_secs(60);

/// A DISCOVER tries at most this many addresses that answer before it is given up (and counted).
pub const MAX_TRIES: u8 = 4;

/// A DISCOVER whose OFFER waits for the ping of `ip` to go unanswered.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub ip: Ipv4Addr,
    pub subnet: Ipv4Net,
    pub key: ClientKey,
    pub deadline: Instant,
    pub meta: RecvMeta,
    pub req: Request,
    /// Addresses of this DISCOVER that answered before this one.
    pub tries: u8,
}

#[derive(Debug, Default)]
pub(super) struct Prober {
    waiting: Vec<Waiting>,
    pings: VecDeque<Ping>,
    /// Addresses that did not answer, until when that is believed.
    quiet: HashMap<Ipv4Addr, Instant>,
}

impl Prober {
    /// Whether `ip` stayed silent recently enough not to ask again.
    pub fn recently_quiet(&self, now: Instant, ip: Ipv4Addr) -> bool {
        self.quiet.get(&ip).is_some_and(|&until| now < until)
    }

    /// The client already waits for an OFFER (its DISCOVER was retransmitted).
    pub fn is_waiting(&self, key: ClientKeyRef<'_>) -> bool {
        self.waiting.iter().any(|w| w.key.as_ref() == key)
    }

    /// Sends the ping and holds the DISCOVER until `w.deadline`.
    pub fn start(&mut self, w: Waiting) {
        self.pings.push_back(Ping { ip: w.ip, from: w.meta.local_addr, iface: w.meta.iface });
        self.waiting.push(w);
    }

    pub fn poll_ping(&mut self) -> Option<Ping> {
        self.pings.pop_front()
    }

    /// `ip` answered: the DISCOVER that waited on it, if any (a late or stray answer has none).
    pub fn answered(&mut self, ip: Ipv4Addr) -> Option<Waiting> {
        self.quiet.remove(&ip);
        let i = self.waiting.iter().position(|w| w.ip == ip)?;
        Some(self.waiting.swap_remove(i))
    }

    /// A DISCOVER whose ping went unanswered until its deadline; its address is remembered as quiet.
    pub fn due(&mut self, now: Instant) -> Option<Waiting> {
        let i = self.waiting.iter().position(|w| w.deadline <= now)?;
        let w = self.waiting.swap_remove(i);
        self.quiet.insert(w.ip, now + QUIET_MEMORY);
        // Forget old silences now and then, so the map stays as small as the recent DISCOVERs.
        if self.quiet.len() > 4096 {
            self.quiet.retain(|_, until| now < *until);
        }
        Some(w)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.deadline).min()
    }
}
