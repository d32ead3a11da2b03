//! The updater: one task that takes the engine's DNS changes in order and carries them out against the DNS
//! server, up to `IN_FLIGHT` at a time, trying each message up to three times. Changes that share a name or
//! an address are carried out one after the other, in the order they came, so a lease's remove never
//! overtakes its add (nor one client's PTR another's). It runs beside the engine, which only queues
//! changes: an ACK never waits for DNS, and a DNS server that is down costs retries and a count, not a
//! lease.

use super::DdnsSection;
use super::message::{self, Key, Step};
use dhcplab_engine::ddns::{DnsChange, DnsOp, zone};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

/// How long to wait for the DNS server's answer to one message.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// Tries per message, with a pause that doubles from one second between them.
const TRIES: u32 = 3;
/// Changes carried out at once. One at a time, each costs the DNS server's round trips (two or three
/// messages) and a burst (leases ending together) drains at a few hundred a second; a DNS server applies
/// updates to a zone one by one anyway, so more in flight buys little more.
pub const IN_FLIGHT: usize = 32;

/// What became of the changes, for `/metrics` and `/api/stats`.
#[derive(Debug, Default)]
pub struct DnsCounters {
    /// Changes carried out (records added, or removed or already gone).
    pub updated: AtomicU64,
    /// Adds refused because another client's DHCID holds the name (RFC 4703): nothing was taken over.
    pub conflicts: AtomicU64,
    /// Changes given up after the tries, or dropped because the engine's backlog for the updater was full.
    pub failed: AtomicU64,
    /// The last change carried out failed: the DNS server is not answering (or refusing), so the engine
    /// stops holding lease ends for the updater to catch up.
    pub failing: AtomicBool,
}

pub struct Updater {
    server: SocketAddr,
    forward_zone: String,
    reverse_zones: Vec<String>,
    key: Option<Key>,
    counters: Arc<DnsCounters>,
    ids: AtomicU16,
}

/// How one change ended.
enum Outcome {
    Done,
    Conflict,
    Failed(String),
}

impl Updater {
    /// Reads the key (and its file) now, so a bad one stops the daemon at start, not at the first lease.
    pub fn new(s: &DdnsSection, counters: Arc<DnsCounters>) -> Result<Updater, String> {
        let secret = match (&s.key_secret, &s.key_secret_file) {
            (Some(b64), _) => Some(b64.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                Some(text.lines().next().unwrap_or_default().to_string())
            }
            (None, None) => None,
        };
        let key = match (&s.key_name, secret) {
            (Some(name), Some(b64)) => Some(Key {
                name: Name::from_ascii(zone(name)).map_err(|e| format!("key_name {name}: {e}"))?,
                secret: message::decode_secret(&b64).ok_or("the TSIG secret is not base64")?,
            }),
            _ => None,
        };
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.subsec_nanos());
        Ok(Updater {
            server: s.server,
            forward_zone: zone(&s.forward_zone),
            reverse_zones: s.reverse_zones(),
            key,
            counters,
            ids: AtomicU16::new(seed as u16),
        })
    }

    /// Carries out changes as they come, until the engine goes away: up to `IN_FLIGHT` at once, each one
    /// after every earlier change that shares its name or address.
    pub async fn run(self, mut changes: mpsc::Receiver<DnsChange>) {
        let this = Arc::new(self);
        let mut running: JoinSet<(DnsChange, Outcome)> = JoinSet::new();
        // What is being carried out, for the ordering rule; at most `IN_FLIGHT`, so a scan is cheap.
        let mut busy: Vec<(tokio::task::Id, String, std::net::Ipv4Addr)> = Vec::with_capacity(IN_FLIGHT);
        // The oldest change not yet started: it waits for a conflicting one to finish, and those behind it
        // wait with it (order is kept without tracking which later ones would be free to go).
        let mut next: Option<DnsChange> = None;
        let mut open = true;
        loop {
            if running.len() < IN_FLIGHT
                && let Some(c) = next.take_if(|c| !busy.iter().any(|(_, name, ip)| *name == c.fqdn || *ip == c.ip))
            {
                let (name, ip) = (c.fqdn.clone(), c.ip);
                let this = this.clone();
                let task = running.spawn(async move {
                    let outcome = this.apply(&c).await;
                    (c, outcome)
                });
                busy.push((task.id(), name, ip));
            }
            tokio::select! {
                c = changes.recv(), if open && next.is_none() && running.len() < IN_FLIGHT => match c {
                    Some(c) => next = Some(c),
                    None => open = false,
                },
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = done.as_ref().map_or_else(|e| e.id(), |(id, _)| *id);
                    busy.retain(|(task, ..)| *task != id);
                    match done {
                        Ok((_, (c, outcome))) => this.record(&c, outcome),
                        Err(e) => error!("a DNS update's task ended: {e}"),
                    }
                }
                else => break,
            }
        }
    }

    fn record(&self, c: &DnsChange, outcome: Outcome) {
        self.counters.failing.store(matches!(outcome, Outcome::Failed(_)), Ordering::Relaxed);
        match outcome {
            Outcome::Done => {
                self.counters.updated.fetch_add(1, Ordering::Relaxed);
                info!(fqdn = %c.fqdn, ip = %c.ip, "DNS {}: {} {}", op_name(c.op), c.fqdn, c.ip);
            }
            Outcome::Conflict => {
                self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
                warn!(fqdn = %c.fqdn, ip = %c.ip, "DNS: {} belongs to another client (its DHCID differs); left as it is", c.fqdn);
            }
            Outcome::Failed(why) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                warn!(fqdn = %c.fqdn, ip = %c.ip, "DNS {} of {} failed: {why}", op_name(c.op), c.fqdn);
            }
        }
    }

    async fn apply(&self, c: &DnsChange) -> Outcome {
        let forward = match c.op {
            DnsOp::Add => match self.send(c, Step::AddNew, &self.forward_zone).await {
                Ok(ResponseCode::NoError) => Outcome::Done,
                // The name exists: replace its address if it is this client's.
                Ok(ResponseCode::YXDomain) => match self.send(c, Step::AddOwned, &self.forward_zone).await {
                    Ok(ResponseCode::NoError) => Outcome::Done,
                    Ok(ResponseCode::NXRRSet) => Outcome::Conflict,
                    other => failed(other),
                },
                other => failed(other),
            },
            DnsOp::Remove => match self.send(c, Step::RemoveA, &self.forward_zone).await {
                Ok(ResponseCode::NoError) => match self.send(c, Step::RemoveDhcid, &self.forward_zone).await {
                    // YXRRSet: the name still has another address; its DHCID stays with it.
                    Ok(ResponseCode::NoError | ResponseCode::YXRRSet) => Outcome::Done,
                    other => failed(other),
                },
                // Not there, or another client's now: nothing of ours to remove.
                Ok(ResponseCode::NXRRSet | ResponseCode::NXDomain) => Outcome::Done,
                other => failed(other),
            },
        };
        // An address whose reverse name lies in none of the zones has no PTR record for this server to set.
        let Some(reverse) = super::reverse_zone(&self.reverse_zones, c.ip) else { return forward };
        // The address's PTR is this server's to set: it follows the lease, whoever owns the name.
        let step = if c.op == DnsOp::Add && matches!(forward, Outcome::Done) { Step::AddPtr } else { Step::RemovePtr };
        match (self.send(c, step, reverse).await, forward) {
            (Ok(ResponseCode::NoError), forward) => forward,
            (other, Outcome::Done) => failed(other),
            (_, forward) => forward,
        }
    }

    /// Sends one update and returns the server's answer, trying again when none comes.
    async fn send(&self, c: &DnsChange, step: Step, zone: &str) -> Result<ResponseCode, String> {
        let mut pause = Duration::from_secs(1);
        let mut last = String::new();
        for attempt in 1..=TRIES {
            let id = self.ids.fetch_add(1, Ordering::Relaxed);
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let bytes = message::update(c, step, zone, id, self.key.as_ref(), now)?;
            match self.exchange(id, &bytes).await {
                Ok(code) => {
                    debug!(fqdn = %c.fqdn, "DNS update {step:?} in {zone}: {code}");
                    return Ok(code);
                }
                Err(e) => last = e,
            }
            if attempt < TRIES {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(format!("{} tries, the last: {last}", TRIES))
    }

    async fn exchange(&self, id: u16, bytes: &[u8]) -> Result<ResponseCode, String> {
        let sock = UdpSocket::bind(("0.0.0.0", 0)).await.map_err(|e| e.to_string())?;
        sock.connect(self.server).await.map_err(|e| format!("{}: {e}", self.server))?;
        sock.send(bytes).await.map_err(|e| format!("{}: {e}", self.server))?;
        let mut buf = vec![0u8; 4096];
        let answer = async {
            loop {
                let n = sock.recv(&mut buf).await.map_err(|e| format!("{}: {e}", self.server))?;
                // Anything but the answer to this message (a stray or late datagram) is skipped.
                if let Ok(m) = Message::from_vec(&buf[..n])
                    && m.metadata.id == id
                {
                    return Ok(m.metadata.response_code);
                }
            }
        };
        tokio::time::timeout(ANSWER_WAIT, answer).await.map_err(|_| format!("{} did not answer", self.server))?
    }
}

fn failed(r: Result<ResponseCode, String>) -> Outcome {
    match r {
        Ok(code) => Outcome::Failed(format!("the DNS server answered {code}")),
        Err(e) => Outcome::Failed(e),
    }
}

fn op_name(op: DnsOp) -> &'static str {
    match op {
        DnsOp::Add => "add",
        DnsOp::Remove => "remove",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::DNSClass;
    use std::net::Ipv4Addr;
    use std::sync::Mutex;

    /// What the stand-in DNS server saw, in order: each update as it came (name, an add or not) and each
    /// answer as it left.
    #[derive(Debug, Clone, PartialEq)]
    enum Seen {
        Update(String, bool),
        Answered(String, bool),
    }

    /// A DNS server that answers every update NOERROR `delay` after it comes, and notes the most it held
    /// unanswered at once.
    async fn slow_dns(delay: Duration) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>, Arc<AtomicU64>) {
        let sock = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap());
        let addr = sock.local_addr().unwrap();
        let (seen, most) = (Arc::new(Mutex::new(vec![])), Arc::new(AtomicU64::new(0)));
        let (log, peak) = (seen.clone(), most.clone());
        tokio::spawn(async move {
            let open = Arc::new(AtomicU64::new(0));
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let Ok(mut m) = Message::from_vec(&buf[..n]) else { continue };
                let name = m.authorities.first().map(|r| r.name.to_string()).unwrap_or_default();
                let adding = m.authorities.first().is_some_and(|r| r.dns_class == DNSClass::IN);
                log.lock().unwrap().push(Seen::Update(name.clone(), adding));
                peak.fetch_max(open.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                let (sock, log, open) = (sock.clone(), log.clone(), open.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    m.metadata.message_type = hickory_proto::op::MessageType::Response;
                    m.metadata.response_code = ResponseCode::NoError;
                    open.fetch_sub(1, Ordering::SeqCst);
                    log.lock().unwrap().push(Seen::Answered(name, adding));
                    let _ = sock.send_to(&m.to_vec().unwrap(), from).await;
                });
            }
        });
        (addr, seen, most)
    }

    fn change(op: DnsOp, host: &str, ip: u8) -> DnsChange {
        let fqdn = format!("{host}.lab.example.");
        DnsChange { op, fqdn, ip: Ipv4Addr::new(192, 0, 2, ip), dhcid: vec![0, 0, 1, ip], ttl: 300 }
    }

    fn section(server: SocketAddr) -> DdnsSection {
        DdnsSection {
            server,
            forward_zone: "lab.example".into(),
            reverse_zone: None,
            reverse_zones: vec![],
            ttl: Duration::from_secs(300),
            key_name: None,
            key_secret: None,
            key_secret_file: None,
            update_on_renew: false,
        }
    }

    #[tokio::test]
    async fn changes_are_carried_out_together_and_a_names_remove_waits_for_its_add() {
        let (server, seen, most) = slow_dns(Duration::from_millis(30)).await;
        let section = section(server);
        let counters = Arc::new(DnsCounters::default());
        let updater = Updater::new(&section, counters.clone()).unwrap();
        let (tx, rx) = mpsc::channel(128);
        for i in 1..=60 {
            tx.send(change(DnsOp::Add, &format!("host-{i}"), i)).await.unwrap();
        }
        // The first lease ends, and another client takes its address.
        tx.send(change(DnsOp::Remove, "host-1", 1)).await.unwrap();
        tx.send(change(DnsOp::Add, "other", 1)).await.unwrap();
        drop(tx);
        updater.run(rx).await;

        assert_eq!(counters.updated.load(Ordering::Relaxed), 62);
        assert_eq!(counters.failed.load(Ordering::Relaxed), 0);
        let most = most.load(Ordering::SeqCst);
        assert!(most > 1 && most <= IN_FLIGHT as u64, "{most} updates were waiting for an answer at once");
        let seen = seen.lock().unwrap();
        let at = |s: Seen| seen.iter().position(|x| *x == s).unwrap_or_else(|| panic!("{s:?} not in {seen:?}"));
        let host1 = "host-1.lab.example.".to_string();
        // The remove's messages (RemoveA, then RemoveDhcid) leave after the add was answered…
        assert!(at(Seen::Answered(host1.clone(), true)) < at(Seen::Update(host1.clone(), false)));
        assert_eq!(seen.iter().filter(|s| **s == Seen::Update(host1.clone(), false)).count(), 2);
        // …and the next client's add of the same address waits for the whole remove.
        let other = at(Seen::Update("other.lab.example.".into(), true));
        assert!(seen.iter().rposition(|s| *s == Seen::Answered(host1.clone(), false)).unwrap() < other);
    }

    #[tokio::test]
    async fn an_address_outside_every_reverse_zone_gets_its_name_and_no_ptr() {
        let (server, seen, _) = slow_dns(Duration::ZERO).await;
        let counters = Arc::new(DnsCounters::default());
        let section = DdnsSection { reverse_zone: Some("2.0.192.in-addr.arpa".into()), ..section(server) };
        let updater = Updater::new(&section, counters.clone()).unwrap();
        let (tx, rx) = mpsc::channel(4);
        tx.send(change(DnsOp::Add, "inside", 10)).await.unwrap();
        let outside = DnsChange { ip: Ipv4Addr::new(10, 64, 0, 1), ..change(DnsOp::Add, "outside", 1) };
        tx.send(outside).await.unwrap();
        drop(tx);
        updater.run(rx).await;
        assert_eq!((counters.updated.load(Ordering::Relaxed), counters.failed.load(Ordering::Relaxed)), (2, 0));
        let updates: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| match s {
                Seen::Update(name, _) => Some(name.clone()),
                Seen::Answered(..) => None,
            })
            .collect();
        assert!(updates.contains(&"10.2.0.192.in-addr.arpa.".to_string()), "{updates:?}");
        assert!(!updates.iter().any(|n| n.ends_with("10.in-addr.arpa.")), "a PTR outside the zone: {updates:?}");
        assert_eq!(updates.len(), 3, "A and PTR for the name inside, A alone for the other: {updates:?}");
    }
}
