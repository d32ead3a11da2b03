//! The DHCPv4 client as a sans-IO state machine (RFC 2131 §4.4, figure 5), one per NIC, with the RFC 3927
//! link-local fallback when no server answers.
//!
//! Feed it with [`Client::handle_packet`], [`Client::handle_timeout`] and [`Client::handle_arp_reply`];
//! drive it with [`Client::start`], [`Client::release`], [`Client::reboot`], [`Client::inform`]; drain
//! [`Client::poll_transmit`] and [`Client::poll_event`] after each call and wake it at
//! [`Client::poll_timeout`].

use crate::builder::ClientMsg;
use crate::config::HexBytes;
use crate::hwaddr::HwAddr;
use crate::message::{CLIENT_PORT, DhcpMessage, SERVER_PORT};
use crate::packet::{Dropped, Reply, parse_reply};
use crate::time::{Duration, Instant};
use dhcproto::v4::{DhcpOption, MessageType};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

/// RFC 2131 §4.1: the first retransmission after 4 s, doubling up to 64 s, each ±1 s.
const FIRST_RETRANSMIT: Duration = Duration::from_secs(4);
const MAX_RETRANSMIT: Duration = Duration::from_secs(64);
/// RFC 2131 §4.4.5: in RENEWING and REBINDING, never wait less than this between retransmissions.
const MIN_RENEW_RETRANSMIT: Duration = Duration::from_secs(60);
/// RFC 2131 §3.1.5: after a DECLINE, wait at least ten seconds before starting again.
const DECLINE_BACKOFF: Duration = Duration::from_secs(10);
/// How long to listen for an ARP reply before using an address (RFC 5227 PROBE_WAIT + probes, rounded).
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// RFC 3927 §2.1: the link-local range, less its first and last /24.
const LINK_LOCAL_FIRST: u32 = u32::from_be_bytes([169, 254, 1, 0]);
const LINK_LOCAL_COUNT: u32 = 254 * 256;

/// How a client behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    pub hw: HwAddr,
    /// Option 12.
    pub hostname: Option<String>,
    /// Option 61. Default: hardware type 1 followed by the MAC (RFC 2132 §9.14).
    pub client_id: Option<HexBytes>,
    /// Option 60: servers that sort clients into classes by it (PXE, phones) answer differently.
    #[serde(default)]
    pub vendor_class: Option<String>,
    /// Option 93 (RFC 4578): the firmware a network-booting client runs (0 BIOS, 7 or 9 x64 UEFI, 11 ARM64
    /// UEFI); servers choose its boot file by it.
    #[serde(default)]
    pub arch: Option<u16>,
    /// Option 55.
    pub params: Vec<u8>,
    /// Ask servers to broadcast replies (as Windows does); off, replies come unicast to the MAC.
    pub broadcast_flag: bool,
    /// Check an offered address with ARP before using it (RFC 2131 §4.4.1), and DECLINE it if in use.
    pub probe: bool,
    /// Self-assign a 169.254/16 address when no server answers (RFC 3927).
    pub link_local: bool,
    /// DISCOVERs sent (with backoff) before falling back to link-local.
    pub discover_attempts: u32,
    /// While link-local, how often to look for a DHCP server again.
    pub retry_interval: Duration,
}

impl ClientConfig {
    pub fn new(hw: HwAddr) -> Self {
        ClientConfig {
            hw,
            hostname: None,
            client_id: None,
            vendor_class: None,
            arch: None,
            params: vec![1, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 119, 121],
            broadcast_flag: false,
            probe: true,
            link_local: true,
            discover_attempts: 4,
            retry_interval: Duration::from_secs(300),
        }
    }

    fn client_id_bytes(&self) -> Vec<u8> {
        self.client_id.as_ref().map(|c| c.0.to_vec()).unwrap_or_else(|| {
            let mut id = vec![1];
            id.extend_from_slice(self.hw.as_bytes());
            id
        })
    }
}

/// What an ACK gave the client: what `ipconfig /all` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientLease {
    pub ip: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The DHCP server (option 54).
    pub server: Ipv4Addr,
    pub obtained: Instant,
    /// T1: start RENEWING.
    pub renew_at: Instant,
    /// T2: start REBINDING.
    pub rebind_at: Instant,
    pub expires: Instant,
}

impl ClientLease {
    fn from_ack(now: Instant, r: &Reply) -> Option<ClientLease> {
        let lease = r.lease_time?;
        let ip = r.msg.yiaddr();
        if ip.is_unspecified() {
            return None;
        }
        // RFC 2131 §4.4.5 defaults, and T1 ≤ T2 ≤ lease whatever the server said.
        let t2 = r.t2.filter(|&t| t <= lease).unwrap_or(lease * 7 / 8);
        let t1 = r.t1.filter(|&t| t <= t2).unwrap_or((lease / 2).min(t2));
        Some(ClientLease {
            ip,
            mask: r.mask.unwrap_or(Ipv4Addr::new(255, 255, 255, 0)),
            routers: r.routers.clone(),
            dns: r.dns.clone(),
            domain: r.domain.clone(),
            server: r.server_id.unwrap_or(r.msg.siaddr()),
            obtained: now,
            renew_at: now + t1,
            rebind_at: now + t2,
            expires: now + lease,
        })
    }
}

/// The RFC 2131 figure 5 states, plus the lab's own: CHECKING (the ARP probe of §4.4.1), INFORMING (a
/// static host asking for options), STOPPED (released or unplugged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum ClientStateKind {
    Init,
    Selecting,
    Requesting,
    Checking,
    Bound,
    Renewing,
    Rebinding,
    InitReboot,
    Rebooting,
    Informing,
    Static,
    Stopped,
}

impl fmt::Display for ClientStateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ClientStateKind::Init => "INIT",
            ClientStateKind::Selecting => "SELECTING",
            ClientStateKind::Requesting => "REQUESTING",
            ClientStateKind::Checking => "CHECKING",
            ClientStateKind::Bound => "BOUND",
            ClientStateKind::Renewing => "RENEWING",
            ClientStateKind::Rebinding => "REBINDING",
            ClientStateKind::InitReboot => "INIT-REBOOT",
            ClientStateKind::Rebooting => "REBOOTING",
            ClientStateKind::Informing => "INFORMING",
            ClientStateKind::Static => "STATIC",
            ClientStateKind::Stopped => "STOPPED",
        };
        f.write_str(s)
    }
}

/// One message exchange: its xid, when it began (the `secs` field), and its retransmission schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exchange {
    xid: u32,
    started: Instant,
    sent: u32,
    next: Instant,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Will send DISCOVER at `at`.
    Init {
        at: Instant,
    },
    Selecting {
        x: Exchange,
    },
    Requesting {
        x: Exchange,
        ip: Ipv4Addr,
        server: Ipv4Addr,
    },
    Checking {
        lease: ClientLease,
        until: Instant,
    },
    Bound {
        lease: ClientLease,
    },
    Renewing {
        lease: ClientLease,
        x: Exchange,
    },
    Rebinding {
        lease: ClientLease,
        x: Exchange,
    },
    Rebooting {
        x: Exchange,
        ip: Ipv4Addr,
    },
    Informing {
        x: Exchange,
        ip: Ipv4Addr,
    },
    Static {
        ip: Ipv4Addr,
        options: Option<ClientLease>,
    },
    Stopped,
}

impl State {
    fn kind(&self) -> ClientStateKind {
        match self {
            State::Init { .. } => ClientStateKind::Init,
            State::Selecting { .. } => ClientStateKind::Selecting,
            State::Requesting { .. } => ClientStateKind::Requesting,
            State::Checking { .. } => ClientStateKind::Checking,
            State::Bound { .. } => ClientStateKind::Bound,
            State::Renewing { .. } => ClientStateKind::Renewing,
            State::Rebinding { .. } => ClientStateKind::Rebinding,
            State::Rebooting { .. } => ClientStateKind::Rebooting,
            State::Informing { .. } => ClientStateKind::Informing,
            State::Static { .. } => ClientStateKind::Static,
            State::Stopped => ClientStateKind::Stopped,
        }
    }
}

/// A self-assigned RFC 3927 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkLocal {
    pub ip: Ipv4Addr,
    /// False while probing: the address is not used until `claimed`.
    pub claimed: bool,
    #[serde(skip)]
    probe_until: Instant,
}

/// Something for the IO layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTransmit {
    /// A DHCP message over UDP.
    Dhcp { kind: MessageType, src: SocketAddrV4, dst: SocketAddrV4, xid: u32, bytes: Vec<u8> },
    /// "Is anyone using this address?" (an ARP probe, RFC 5227). Answer with `handle_arp_reply`.
    ArpProbe { ip: Ipv4Addr },
}

/// What happened, for logs and the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClientEvent {
    StateChanged {
        from: ClientStateKind,
        to: ClientStateKind,
    },
    /// A first ACK (or an ACK after INIT-REBOOT): the address is in use.
    Bound {
        lease: ClientLease,
    },
    /// RENEWING or REBINDING succeeded: same address, new times.
    Extended {
        lease: ClientLease,
    },
    /// The server refused; the client starts over.
    Nak {
        server: Ipv4Addr,
        message: Option<String>,
    },
    /// The ARP probe found the address in use: DECLINE sent.
    Declined {
        ip: Ipv4Addr,
    },
    /// The lease ran out without a renewal.
    Expired {
        ip: Ipv4Addr,
    },
    Released {
        ip: Ipv4Addr,
    },
    /// No server answered: a 169.254/16 address is in use until one does.
    LinkLocalClaimed {
        ip: Ipv4Addr,
    },
    /// The link-local address was given up: a real lease was bound, or it clashed with another host.
    LinkLocalDropped {
        ip: Ipv4Addr,
    },
    /// INFORM answered: options for a statically addressed host.
    Informed {
        lease: ClientLease,
    },
}

impl ClientEvent {
    /// The event's name on the wire (its serde tag), which lists and logs show.
    pub fn name(&self) -> &'static str {
        match self {
            ClientEvent::StateChanged { .. } => "state_changed",
            ClientEvent::Bound { .. } => "bound",
            ClientEvent::Extended { .. } => "extended",
            ClientEvent::Nak { .. } => "nak",
            ClientEvent::Declined { .. } => "declined",
            ClientEvent::Expired { .. } => "expired",
            ClientEvent::Released { .. } => "released",
            ClientEvent::LinkLocalClaimed { .. } => "link_local_claimed",
            ClientEvent::LinkLocalDropped { .. } => "link_local_dropped",
            ClientEvent::Informed { .. } => "informed",
        }
    }
}

pub struct Client {
    config: ClientConfig,
    state: State,
    /// The last lease, kept across RELEASE and reboot as dhclient keeps its lease file: DISCOVER asks for it
    /// again (option 50) and INIT-REBOOT reuses it.
    last: Option<ClientLease>,
    link_local: Option<LinkLocal>,
    rng: Pcg32,
    transmits: VecDeque<ClientTransmit>,
    events: VecDeque<(Instant, ClientEvent)>,
    /// Malformed or foreign replies ignored (RFC 2131 §4.4.1: silently discard).
    pub ignored: u64,
}

impl Client {
    /// A client that has not started. `seed` drives its xids and jitter.
    pub fn new(config: ClientConfig, seed: u64) -> Self {
        Client {
            config,
            state: State::Stopped,
            last: None,
            link_local: None,
            rng: Pcg32::seed_from_u64(seed),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            ignored: 0,
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn state(&self) -> ClientStateKind {
        self.state.kind()
    }

    /// The lease in use (BOUND, RENEWING, REBINDING), or the options of a static host.
    pub fn lease(&self) -> Option<&ClientLease> {
        match &self.state {
            State::Bound { lease } | State::Renewing { lease, .. } | State::Rebinding { lease, .. } => Some(lease),
            State::Static { options, .. } => options.as_ref(),
            _ => None,
        }
    }

    /// The address the host uses now, if any: the lease, a static address, or a claimed link-local one.
    pub fn address(&self) -> Option<Ipv4Addr> {
        match &self.state {
            State::Static { ip, .. } | State::Informing { ip, .. } => Some(*ip),
            _ => self.lease().map(|l| l.ip).or(self.link_local.filter(|l| l.claimed).map(|l| l.ip)),
        }
    }

    pub fn link_local(&self) -> Option<LinkLocal> {
        self.link_local
    }

    pub fn poll_transmit(&mut self) -> Option<ClientTransmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<(Instant, ClientEvent)> {
        self.events.pop_front()
    }

    /// The next instant `handle_timeout` has work: a retransmission, T1, T2, expiry, a probe's end.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match &self.state {
            State::Init { at } => Some(*at),
            State::Selecting { x } | State::Requesting { x, .. } | State::Rebooting { x, .. } => Some(x.next),
            State::Informing { x, .. } => Some(x.next),
            State::Checking { until, .. } => Some(*until),
            State::Bound { lease } => Some(lease.renew_at),
            State::Renewing { lease, x } => Some(x.next.min(lease.rebind_at)),
            State::Rebinding { lease, x } => Some(x.next.min(lease.expires)),
            State::Static { .. } | State::Stopped => None,
        };
        let probe = self.link_local.filter(|l| !l.claimed).map(|l| l.probe_until);
        match (state, probe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Power on (or plug in): INIT-REBOOT with a remembered unexpired lease, else INIT.
    pub fn start(&mut self, now: Instant) {
        self.transmits.clear();
        match self.last.clone().filter(|l| l.expires > now) {
            Some(l) => {
                // INIT-REBOOT is left as soon as the REQUEST is out; it still shows as its own step.
                let from = self.state.kind();
                self.events.push_back((now, ClientEvent::StateChanged { from, to: ClientStateKind::InitReboot }));
                let x = self.exchange(now);
                self.send_reboot(x, l.ip);
                self.set_state_from(now, ClientStateKind::InitReboot, State::Rebooting { x, ip: l.ip });
            }
            None => self.set_state(now, State::Init { at: now }),
        }
        self.handle_timeout(now);
    }

    /// A reboot: whatever the client was doing, it starts again as after power-on.
    pub fn reboot(&mut self, now: Instant) {
        if let Some(l) = self.link_local.take() {
            self.events.push_back((now, ClientEvent::LinkLocalDropped { ip: l.ip }));
        }
        self.start(now);
    }

    /// The cable is pulled: stop at once, keep the lease in memory, send nothing.
    pub fn unplug(&mut self, now: Instant) {
        self.link_local = None;
        self.set_state(now, State::Stopped);
    }

    /// Shut down politely: RELEASE the lease (RFC 2131 §4.4.6) and stop.
    pub fn release(&mut self, now: Instant) {
        if let Some(lease) = self.lease().cloned()
            && !matches!(self.state, State::Static { .. })
        {
            let xid = self.rng.next_u32();
            let m = self.msg(MessageType::Release, xid).ciaddr(lease.ip).server(lease.server);
            self.send(m, SocketAddrV4::new(lease.ip, CLIENT_PORT), SocketAddrV4::new(lease.server, SERVER_PORT));
            self.events.push_back((now, ClientEvent::Released { ip: lease.ip }));
        }
        self.set_state(now, State::Stopped);
    }

    /// Renew now (as `ipconfig /renew` on a bound host): go to RENEWING before T1.
    pub fn renew(&mut self, now: Instant) {
        if let State::Bound { lease } = &self.state {
            let lease = lease.clone();
            let x = self.exchange(now);
            self.send_renew(x, &lease, false);
            self.set_state(now, State::Renewing { lease, x });
        }
    }

    /// Asks for `ip` straight away, as after a reboot with that address remembered (INIT-REBOOT, RFC 2131
    /// §4.3.2): a server confirms it with an ACK or refuses it with a NAK.
    pub fn request(&mut self, now: Instant, ip: Ipv4Addr) {
        let from = self.state.kind();
        self.events.push_back((now, ClientEvent::StateChanged { from, to: ClientStateKind::InitReboot }));
        let x = self.exchange(now);
        self.send_reboot(x, ip);
        self.set_state_from(now, ClientStateKind::InitReboot, State::Rebooting { x, ip });
    }

    /// A host with a static address asks only for options (DHCPINFORM, RFC 2131 §4.4.3).
    pub fn inform(&mut self, now: Instant, ip: Ipv4Addr) {
        let x = self.exchange(now);
        self.send_inform(x, ip);
        self.set_state(now, State::Informing { x, ip });
    }

    /// A host answered the ARP probe for `ip`: the address is taken.
    pub fn handle_arp_reply(&mut self, now: Instant, ip: Ipv4Addr) {
        if let State::Checking { lease, .. } = &self.state
            && lease.ip == ip
        {
            let server = lease.server;
            let xid = self.rng.next_u32();
            let m = self.msg(MessageType::Decline, xid).requested(ip).server(server);
            self.send(m, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT), broadcast());
            self.events.push_back((now, ClientEvent::Declined { ip }));
            self.last = None;
            self.set_state(now, State::Init { at: now + DECLINE_BACKOFF });
            return;
        }
        if let Some(ll) = self.link_local
            && ll.ip == ip
        {
            // RFC 3927 §2.2.1 / §2.5: on conflict pick another address and probe again.
            if ll.claimed {
                self.events.push_back((now, ClientEvent::LinkLocalDropped { ip }));
            }
            self.pick_link_local(now);
        }
    }

    /// A packet received on port 68.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Dropped> {
        self.handle_timeout(now);
        let reply = parse_reply(bytes).inspect_err(|_| self.ignored += 1)?;
        // RFC 2131 §4.4.1: only replies to our own exchange, for our hardware address.
        let ours = reply.msg.chaddr() == self.config.hw.as_bytes();
        let xid = match &self.state {
            State::Selecting { x }
            | State::Requesting { x, .. }
            | State::Renewing { x, .. }
            | State::Rebinding { x, .. }
            | State::Rebooting { x, .. }
            | State::Informing { x, .. } => Some(x.xid),
            _ => None,
        };
        if !ours || xid != Some(reply.msg.xid()) {
            self.ignored += 1;
            return Ok(());
        }
        match (self.state.clone(), reply.kind) {
            (State::Selecting { .. }, DhcpMessage::Offer) => {
                // Take the first acceptable offer (RFC 2131 §4.4.1 lets the client choose).
                let (ip, Some(server)) = (reply.msg.yiaddr(), reply.server_id) else {
                    self.ignored += 1;
                    return Ok(());
                };
                let x = self.exchange_continuing(now);
                self.send_select(x, ip, server);
                self.set_state(now, State::Requesting { x, ip, server });
            }
            (State::Requesting { server, .. }, DhcpMessage::Ack) if reply.server_id.is_none_or(|s| s == server) => {
                self.acked(now, &reply, false);
            }
            (State::Rebooting { .. }, DhcpMessage::Ack) => self.acked(now, &reply, false),
            (State::Renewing { lease, .. } | State::Rebinding { lease, .. }, DhcpMessage::Ack) => {
                if reply.msg.yiaddr() == lease.ip {
                    self.acked(now, &reply, true);
                } else {
                    self.ignored += 1;
                }
            }
            (State::Informing { ip, .. }, DhcpMessage::Ack) => {
                let mut options = ClientLease::from_ack(now, &reply);
                if options.is_none() {
                    // An INFORM ACK carries no lease time: keep the options with the static address.
                    options = Some(ClientLease {
                        ip,
                        mask: reply.mask.unwrap_or(Ipv4Addr::new(255, 255, 255, 0)),
                        routers: reply.routers.clone(),
                        dns: reply.dns.clone(),
                        domain: reply.domain.clone(),
                        server: reply.server_id.unwrap_or(Ipv4Addr::UNSPECIFIED),
                        obtained: now,
                        renew_at: now,
                        rebind_at: now,
                        expires: now,
                    });
                }
                if let Some(o) = &options {
                    self.events.push_back((now, ClientEvent::Informed { lease: o.clone() }));
                }
                self.set_state(now, State::Static { ip, options });
            }
            (
                State::Requesting { .. } | State::Rebooting { .. } | State::Renewing { .. } | State::Rebinding { .. },
                DhcpMessage::Nak,
            ) => {
                let server = reply.server_id.unwrap_or(Ipv4Addr::UNSPECIFIED);
                self.events.push_back((now, ClientEvent::Nak { server, message: reply.message.clone() }));
                // RFC 2131 §3.1.4 / §3.2: the address is wrong; forget it and start over.
                self.last = None;
                self.set_state(now, State::Init { at: now });
                self.handle_timeout(now);
            }
            _ => self.ignored += 1,
        }
        Ok(())
    }

    /// Runs every timer due at `now`. Harmless to call early.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(ll) = self.link_local
            && !ll.claimed
            && ll.probe_until <= now
        {
            self.link_local = Some(LinkLocal { claimed: true, ..ll });
            self.events.push_back((now, ClientEvent::LinkLocalClaimed { ip: ll.ip }));
        }
        // A few passes: one timeout can lead straight into another state with a due timer.
        for _ in 0..4 {
            if !self.step_timer(now) {
                break;
            }
        }
    }

    /// Handles one due timer; false when nothing was due.
    fn step_timer(&mut self, now: Instant) -> bool {
        match self.state.clone() {
            State::Init { at } if at <= now => {
                let x = self.exchange(now);
                self.send_discover(now, x);
                self.set_state(now, State::Selecting { x });
            }
            State::Selecting { x } if x.next <= now => {
                if x.sent >= self.config.discover_attempts {
                    // Nobody answered. RFC 3927: use a link-local address meanwhile, and try again later.
                    if self.config.link_local && self.link_local.is_none() {
                        self.pick_link_local(now);
                    }
                    let retry = if self.config.link_local { self.config.retry_interval } else { FIRST_RETRANSMIT };
                    self.set_state(now, State::Init { at: x.started + retry });
                } else {
                    let x = self.retransmit(now, x);
                    self.send_discover(now, x);
                    self.state = State::Selecting { x };
                }
            }
            State::Requesting { x, ip, server } if x.next <= now => {
                if x.sent >= self.config.discover_attempts {
                    self.set_state(now, State::Init { at: now });
                } else {
                    let x = self.retransmit(now, x);
                    self.send_select(x, ip, server);
                    self.state = State::Requesting { x, ip, server };
                }
            }
            State::Rebooting { x, ip } if x.next <= now => {
                if x.sent >= self.config.discover_attempts {
                    self.set_state(now, State::Init { at: now });
                } else {
                    let x = self.retransmit(now, x);
                    self.send_reboot(x, ip);
                    self.state = State::Rebooting { x, ip };
                }
            }
            State::Informing { x, ip } if x.next <= now => {
                if x.sent >= self.config.discover_attempts {
                    self.set_state(now, State::Static { ip, options: None });
                } else {
                    let x = self.retransmit(now, x);
                    self.send_inform(x, ip);
                    self.state = State::Informing { x, ip };
                }
            }
            State::Checking { lease, until } if until <= now => self.bind(now, lease, false),
            State::Bound { lease } if lease.renew_at <= now => {
                // T1: RENEWING, unicast to the server that gave the lease (RFC 2131 §4.4.5).
                let x = self.exchange(now);
                self.send_renew(x, &lease, false);
                let x = Exchange { next: renew_retransmit(now, lease.rebind_at), ..x };
                self.set_state(now, State::Renewing { lease, x });
            }
            State::Renewing { lease, .. } if lease.rebind_at <= now => {
                // T2: REBINDING, broadcast to any server.
                let x = Exchange { xid: self.rng.next_u32(), started: now, sent: 0, next: now };
                self.send_renew(x, &lease, true);
                let x = Exchange { sent: 1, next: renew_retransmit(now, lease.expires), ..x };
                self.set_state(now, State::Rebinding { lease, x });
            }
            State::Renewing { lease, x } if x.next <= now => {
                self.send_renew(x, &lease, false);
                let x = Exchange { sent: x.sent + 1, next: renew_retransmit(now, lease.rebind_at), ..x };
                self.state = State::Renewing { lease, x };
            }
            State::Rebinding { lease, .. } if lease.expires <= now => {
                // The lease is gone: stop using the address and start over (RFC 2131 §4.4.5).
                self.events.push_back((now, ClientEvent::Expired { ip: lease.ip }));
                self.set_state(now, State::Init { at: now });
            }
            State::Rebinding { lease, x } if x.next <= now => {
                self.send_renew(x, &lease, true);
                let x = Exchange { sent: x.sent + 1, next: renew_retransmit(now, lease.expires), ..x };
                self.state = State::Rebinding { lease, x };
            }
            _ => return false,
        }
        true
    }

    fn acked(&mut self, now: Instant, reply: &Reply, extending: bool) {
        let Some(lease) = ClientLease::from_ack(now, reply) else {
            self.ignored += 1;
            return;
        };
        if extending {
            self.bind(now, lease, true);
        } else if self.config.probe {
            // RFC 2131 §4.4.1: check the address is not in use before using it.
            self.transmits.push_back(ClientTransmit::ArpProbe { ip: lease.ip });
            self.set_state(now, State::Checking { lease, until: now + PROBE_WAIT });
        } else {
            self.bind(now, lease, false);
        }
    }

    fn bind(&mut self, now: Instant, lease: ClientLease, extending: bool) {
        self.last = Some(lease.clone());
        let ev = if extending {
            ClientEvent::Extended { lease: lease.clone() }
        } else {
            ClientEvent::Bound { lease: lease.clone() }
        };
        self.events.push_back((now, ev));
        if let Some(ll) = self.link_local.take() {
            // RFC 3927 §1.9: a routable address replaces the link-local one.
            self.events.push_back((now, ClientEvent::LinkLocalDropped { ip: ll.ip }));
        }
        self.set_state(now, State::Bound { lease });
    }

    fn pick_link_local(&mut self, now: Instant) {
        let ip = Ipv4Addr::from(LINK_LOCAL_FIRST + self.rng.next_u32() % LINK_LOCAL_COUNT);
        self.link_local = Some(LinkLocal { ip, claimed: false, probe_until: now + PROBE_WAIT * 2 });
        self.transmits.push_back(ClientTransmit::ArpProbe { ip });
    }

    fn set_state(&mut self, now: Instant, to: State) {
        let from = self.state.kind();
        self.set_state_from(now, from, to);
    }

    fn set_state_from(&mut self, now: Instant, from: ClientStateKind, to: State) {
        let to_kind = to.kind();
        self.state = to;
        if from != to_kind {
            self.events.push_back((now, ClientEvent::StateChanged { from, to: to_kind }));
        }
    }

    /// A fresh exchange with a new xid, its first message going out now.
    fn exchange(&mut self, now: Instant) -> Exchange {
        let x = Exchange { xid: self.rng.next_u32(), started: now, sent: 0, next: now };
        self.retransmit(now, x)
    }

    /// The REQUEST after an OFFER keeps the DISCOVER's xid (RFC 2131 §4.4.1) and restarts the backoff.
    fn exchange_continuing(&mut self, now: Instant) -> Exchange {
        let (xid, started) = match &self.state {
            State::Selecting { x } => (x.xid, x.started),
            _ => (self.rng.next_u32(), now),
        };
        self.retransmit(now, Exchange { xid, started, sent: 0, next: now })
    }

    /// Counts a send and schedules the next: 4 s, 8 s, … 64 s, each ±1 s (RFC 2131 §4.1).
    fn retransmit(&mut self, now: Instant, x: Exchange) -> Exchange {
        let base = FIRST_RETRANSMIT.saturating_mul(1 << x.sent.min(4)).min(MAX_RETRANSMIT);
        let jitter_ms = u64::from(self.rng.next_u32() % 2001);
        let wait = (base + Duration::from_millis(jitter_ms)).saturating_sub(Duration::from_secs(1));
        Exchange { sent: x.sent + 1, next: now + wait, ..x }
    }

    fn msg(&self, kind: MessageType, xid: u32) -> ClientMsg {
        let mut m = ClientMsg::new(kind, self.config.hw, xid).client_id(self.config.client_id_bytes());
        if self.config.broadcast_flag && !matches!(kind, MessageType::Release | MessageType::Decline) {
            m = m.broadcast();
        }
        m
    }

    /// Options every configuration request carries: hostname and the parameter request list.
    fn with_params(&self, mut m: ClientMsg) -> ClientMsg {
        if let Some(h) = &self.config.hostname {
            m = m.hostname(h);
        }
        if let Some(v) = &self.config.vendor_class {
            m = m.opt(DhcpOption::ClassIdentifier(v.as_bytes().to_vec()));
        }
        if let Some(a) = self.config.arch {
            m = m.opt(DhcpOption::ClientSystemArchitecture(a.into()));
        }
        m.params(&self.config.params)
    }

    fn secs(x: &Exchange, now: Instant) -> u16 {
        u16::try_from((now - x.started).as_secs()).unwrap_or(u16::MAX)
    }

    /// `now` fills the `secs` field: time since this acquisition began (RFC 2131 §2).
    fn send_discover(&mut self, now: Instant, x: Exchange) {
        let mut m = self.with_params(self.msg(MessageType::Discover, x.xid));
        // RFC 2131 §4.4.1: the client may suggest its last address.
        if let Some(l) = &self.last {
            m = m.requested(l.ip);
        }
        let m = m.secs(Self::secs(&x, now));
        self.send(m, unspecified(), broadcast());
    }

    fn send_select(&mut self, x: Exchange, ip: Ipv4Addr, server: Ipv4Addr) {
        let m = self.with_params(self.msg(MessageType::Request, x.xid)).requested(ip).server(server);
        self.send(m, unspecified(), broadcast());
    }

    fn send_reboot(&mut self, x: Exchange, ip: Ipv4Addr) {
        // INIT-REBOOT: requested address, no server id, no ciaddr (RFC 2131 §4.3.2).
        let m = self.with_params(self.msg(MessageType::Request, x.xid)).requested(ip);
        self.send(m, unspecified(), broadcast());
    }

    fn send_renew(&mut self, x: Exchange, lease: &ClientLease, rebinding: bool) {
        // RENEWING and REBINDING: ciaddr, no requested address, no server id (RFC 2131 §4.3.2).
        let m = self.with_params(self.msg(MessageType::Request, x.xid)).ciaddr(lease.ip);
        let src = SocketAddrV4::new(lease.ip, CLIENT_PORT);
        let dst = if rebinding { broadcast() } else { SocketAddrV4::new(lease.server, SERVER_PORT) };
        self.send(m, src, dst);
    }

    fn send_inform(&mut self, x: Exchange, ip: Ipv4Addr) {
        let m = self.with_params(self.msg(MessageType::Inform, x.xid)).ciaddr(ip);
        self.send(m, SocketAddrV4::new(ip, CLIENT_PORT), broadcast());
    }

    fn send(&mut self, m: ClientMsg, src: SocketAddrV4, dst: SocketAddrV4) {
        let kind = m.message().opts().msg_type().unwrap_or(MessageType::Unknown(0));
        let xid = m.message().xid();
        self.transmits.push_back(ClientTransmit::Dhcp { kind, src, dst, xid, bytes: m.bytes() });
    }
}

fn unspecified() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT)
}

fn broadcast() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT)
}

/// RFC 2131 §4.4.5: wait half the time remaining until `deadline`, but at least 60 s.
fn renew_retransmit(now: Instant, deadline: Instant) -> Instant {
    now + ((deadline - now) / 2).max(MIN_RENEW_RETRANSMIT)
}

#[cfg(test)]
mod tests;
