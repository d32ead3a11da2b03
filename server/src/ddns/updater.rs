//! The updater: one task that takes the engine's DNS changes in order and carries each out against the DNS
//! server, trying each message up to three times. It runs beside the engine, which only queues changes:
//! an ACK never waits for DNS, and a DNS server that is down costs retries and a count, not a lease.

use super::DdnsSection;
use super::message::{self, Key, Step};
use dhcplab_engine::ddns::{DnsChange, DnsOp, zone};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// How long to wait for the DNS server's answer to one message.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// Tries per message, with a pause that doubles from one second between them.
const TRIES: u32 = 3;

/// What became of the changes, for `/metrics` and `/api/stats`.
#[derive(Debug, Default)]
pub struct DnsCounters {
    /// Changes carried out (records added, or removed or already gone).
    pub updated: AtomicU64,
    /// Adds refused because another client's DHCID holds the name (RFC 4703): nothing was taken over.
    pub conflicts: AtomicU64,
    /// Changes given up after the tries, or not queued at all (the queue was full).
    pub failed: AtomicU64,
}

pub struct Updater {
    server: SocketAddr,
    forward_zone: String,
    reverse_zone: Option<String>,
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
            reverse_zone: s.reverse_zone.as_deref().map(zone),
            key,
            counters,
            ids: AtomicU16::new(seed as u16),
        })
    }

    /// Carries out changes as they come, in order, until the engine goes away.
    pub async fn run(self, mut changes: mpsc::Receiver<DnsChange>) {
        while let Some(c) = changes.recv().await {
            match self.apply(&c).await {
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
        let Some(reverse) = &self.reverse_zone else { return forward };
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
