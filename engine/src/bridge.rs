//! The live bridge's wire contract: what the daemon sends on `GET /ws`, what the API's lease query means,
//! and how a view mirrors the lease table from events. The daemon encodes these types and the dashboard
//! decodes the same ones, so a field renamed on one side fails to compile on the other.

use crate::event::{LeaseChange, LeaseEvent, PacketSeen};
use crate::hwaddr::HwAddr;
use crate::lease::{KeyedBy, Lease, LeaseState, UnknownState};
use crate::server::SubnetUsage;
use crate::stats::Stats;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The daemon's counters: the engine's packet counters plus what only the daemon knows (its links, its
/// store). `GET /api/stats`, `/metrics` and the bridge's `stats` messages all carry this one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
// A reader built before a counter was added still reads a newer daemon's stats.
#[serde(default)]
pub struct DaemonStats {
    pub engine: Stats,
    pub leases: usize,
    pub bound: usize,
    /// Records in each state, in `LeaseState::ALL` order (offered, bound, declined, released, expired).
    #[serde(default)]
    pub by_state: Vec<usize>,
    /// Datagrams the kernel dropped because a link's receive buffer was full (overload).
    pub queue_overflow: u64,
    pub store_commits: u64,
    pub store_failures: u64,
    /// ACKs withheld because their lease could not be stored.
    pub acks_withheld: u64,
    /// ACKs held back because another server's client holds the address in the shared database.
    #[serde(default)]
    pub store_conflicts: u64,
    /// Lease changes whose commit failed, waiting to be tried again.
    pub store_pending: u64,
    /// ACKs sent in slices, not in one burst: a commit that stalled held more of them for one link than
    /// that link's far end can take at once.
    #[serde(default)]
    pub acks_paced: u64,
    /// Times the lease store fell behind (its queue was full) and the daemon began gathering changes until
    /// it had room; OFFERs still leave meanwhile.
    #[serde(default)]
    pub store_queue_full: u64,
    /// Times the gathered changes reached their cap and the daemon stopped reading packets until the store
    /// caught up (the kernel then drops what its buffers cannot hold, counted in `queue_overflow`).
    #[serde(default)]
    pub store_reading_paused: u64,
    /// Lease changes durable in the change log and not yet written into the SQLite file, and the times
    /// writing them failed (a PostgreSQL store has no log: both 0).
    #[serde(default)]
    pub file_behind: u64,
    #[serde(default)]
    pub file_apply_failures: u64,
    /// Dynamic DNS changes carried out, refused because another client owns the name, and given up.
    #[serde(default)]
    pub dns_updated: u64,
    #[serde(default)]
    pub dns_conflicts: u64,
    #[serde(default)]
    pub dns_failed: u64,
    /// Dynamic DNS changes not yet carried out (queued for the updater, or waiting for room in its queue).
    /// While the DNS server keeps up this is small; after a mass expiry, leases end as it drains.
    #[serde(default)]
    pub dns_waiting: u64,
    pub subnets: Vec<SubnetUsage>,
}

/// One server sharing the lease database, as the servers' heartbeats in it show (`/api/servers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub name: String,
    /// Its heartbeat is younger than the takeover time.
    pub up: bool,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub heartbeat_age_ms: u64,
    /// Its block of every pool while it is up (none when it is down: the others took its part over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<crate::allocator::Share>,
    /// This is the server answering.
    #[serde(default)]
    pub this: bool,
}

/// One message on the bridge. Every message carries the sequence number of the last change it includes;
/// a watcher sees them strictly increasing, and a gap never happens silently (it gets a new `Snapshot`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// The whole picture: the first message on every connection, and again after a watcher fell behind.
    Snapshot {
        seq: u64,
        /// Sorted by address: every lease, or (when `leases_total` is larger) the first
        /// [`SNAPSHOT_MAX_LEASES`]; a dashboard then pages through the rest with `GET /api/leases`.
        leases: Vec<Lease>,
        /// How many leases the daemon holds.
        #[serde(default)]
        leases_total: usize,
        stats: DaemonStats,
        /// Addresses reserved in the running config.
        reserved: Vec<Ipv4Addr>,
        /// The servers sharing the lease database (this one alone on SQLite).
        #[serde(default)]
        servers: Vec<PeerStatus>,
        /// Set by `dhcplab watch`: the link it listens to. The servers there are other programs, so a
        /// dashboard draws a lifeline for each server heard instead of one for dhcplab.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watching: Option<String>,
    },
    /// The running config changed (a reload or a new reservation).
    Config {
        seq: u64,
        reserved: Vec<Ipv4Addr>,
    },
    Lease {
        seq: u64,
        event: LeaseEvent,
    },
    Packet {
        seq: u64,
        packet: Box<PacketSeen>,
    },
    /// Counters, once a second while anyone watches.
    Stats {
        seq: u64,
        stats: DaemonStats,
    },
    /// The servers sharing the lease database, at each heartbeat.
    Servers {
        seq: u64,
        servers: Vec<PeerStatus>,
    },
}

/// Which message an [`Update`] is, readable from its JSON without decoding the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    Snapshot,
    Config,
    Lease,
    Packet,
    Stats,
    Servers,
}

impl UpdateKind {
    pub const ALL: [UpdateKind; 6] = [
        UpdateKind::Snapshot,
        UpdateKind::Config,
        UpdateKind::Lease,
        UpdateKind::Packet,
        UpdateKind::Stats,
        UpdateKind::Servers,
    ];

    /// The message's kind from the front of its JSON (`{"type":"packet",…`). A dashboard taking thousands
    /// of messages a second counts the packets it will not show without parsing their payloads.
    pub fn of_json(json: &str) -> Option<UpdateKind> {
        let rest = json.strip_prefix(r#"{"type":""#)?;
        let name = &rest[..rest.find('"')?];
        UpdateKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Snapshot => "snapshot",
            UpdateKind::Config => "config",
            UpdateKind::Lease => "lease",
            UpdateKind::Packet => "packet",
            UpdateKind::Stats => "stats",
            UpdateKind::Servers => "servers",
        }
    }
}

impl Update {
    pub fn seq(&self) -> u64 {
        match self {
            Update::Snapshot { seq, .. }
            | Update::Config { seq, .. }
            | Update::Lease { seq, .. }
            | Update::Packet { seq, .. }
            | Update::Stats { seq, .. }
            | Update::Servers { seq, .. } => *seq,
        }
    }

    pub fn kind(&self) -> UpdateKind {
        match self {
            Update::Snapshot { .. } => UpdateKind::Snapshot,
            Update::Config { .. } => UpdateKind::Config,
            Update::Lease { .. } => UpdateKind::Lease,
            Update::Packet { .. } => UpdateKind::Packet,
            Update::Stats { .. } => UpdateKind::Stats,
            Update::Servers { .. } => UpdateKind::Servers,
        }
    }

    /// The message as sent on the bridge.
    pub fn to_json(&self) -> String {
        // Every field is a plain value or a string-keyed map: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Result<Update, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The longest search text a lease query takes: a MAC, an address or a hostname is far shorter, and a
/// query is matched against every lease.
pub const MAX_QUERY_LEN: usize = 255;

/// Why a lease query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    State(#[from] UnknownState),
    #[error("`{0}` is not a subnet like 192.168.1.0/24")]
    Subnet(String),
    #[error("the search text is longer than {MAX_QUERY_LEN} bytes")]
    TooLong,
}

/// Which leases a caller wants: `GET /api/leases?state=&subnet=&q=` and the dashboard's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseQuery {
    pub state: Option<LeaseState>,
    pub subnet: Option<Ipv4Net>,
    /// Lower-cased once here, not once per lease.
    text: String,
    /// Whether the text could be part of an address as written (digits and dots) or of a MAC (hex digits
    /// and colons): when it cannot, that form is not built for every lease the search examines.
    in_ip: bool,
    in_mac: bool,
}

impl LeaseQuery {
    /// A query from its three texts as a form or a URL gives them; an empty text means "any".
    pub fn parse(state: &str, subnet: &str, text: &str) -> Result<LeaseQuery, QueryError> {
        if text.len() > MAX_QUERY_LEN {
            return Err(QueryError::TooLong);
        }
        let state = (!state.is_empty()).then(|| state.parse()).transpose()?;
        let subnet =
            (!subnet.is_empty()).then(|| subnet.parse().map_err(|_| QueryError::Subnet(subnet.into()))).transpose()?;
        let text = text.trim().to_lowercase();
        let in_ip = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let in_mac = text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        Ok(LeaseQuery { state, subnet, text, in_ip, in_mac })
    }

    /// Whether the lease is in the state and subnet asked for, and its IP, MAC or hostname contains the
    /// search text (case-insensitive).
    /// The text forms are built on the stack: a search runs over every lease, and allocating three
    /// strings per lease made a query over a big table cost milliseconds of the engine's time.
    pub fn matches(&self, l: &Lease) -> bool {
        self.state.is_none_or(|s| s == l.state)
            && self.subnet.is_none_or(|n| n == l.subnet)
            && (self.text.is_empty()
                || self.in_ip && contains_text(format_args!("{}", l.ip), &self.text)
                || self.in_mac && contains(mac_text(&l.hw, &mut [0; 48]), self.text.as_bytes())
                || l.hostname.as_ref().is_some_and(|h| contains_ignoring_case(h, &self.text)))
    }
}

/// A MAC as `HwAddr` displays it (`52:54:00:12:34:56`), written into `buf` without the formatting
/// machinery: the search builds it for every lease it examines.
fn mac_text<'a>(hw: &HwAddr, buf: &'a mut [u8; 48]) -> &'a [u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut n = 0;
    for (i, b) in hw.as_bytes().iter().enumerate() {
        if i > 0 {
            buf[n] = b':';
            n += 1;
        }
        buf[n] = DIGITS[usize::from(b >> 4)];
        buf[n + 1] = DIGITS[usize::from(b & 15)];
        n += 2;
    }
    &buf[..n]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether `shown` (an address or a MAC, at most 64 bytes of text) contains `needle`.
fn contains_text(shown: std::fmt::Arguments<'_>, needle: &str) -> bool {
    use std::io::Write;
    let mut buf = [0u8; 64];
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    if cur.write_fmt(shown).is_err() {
        return false;
    }
    let len = usize::try_from(cur.position()).unwrap_or(0);
    contains(&buf[..len], needle.as_bytes())
}

/// Whether `hay` contains `lower` (already lower-case), ignoring ASCII case (host names are ASCII,
/// RFC 1035 §2.3.1).
fn contains_ignoring_case(hay: &str, lower: &str) -> bool {
    let (hay, lower) = (hay.as_bytes(), lower.as_bytes());
    lower.is_empty() || hay.windows(lower.len()).any(|w| w.iter().zip(lower).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// How many leases one page holds unless the caller asks otherwise (`GET /api/leases`).
pub const DEFAULT_PAGE: usize = 1_000;
/// The most one page may hold (`?limit=`).
pub const MAX_PAGE: usize = 10_000;
/// The most records one page request examines. A search that matches little would otherwise scan the whole
/// table in one go, holding the engine's thread (and DHCP) for as long; it ends early instead and says where
/// to go on from. With a million leases under perfdhcp, a search answered in 2 ms (median) and 7 ms at most
/// with 16,384; with 65,536 it took 4-5 ms and up to 184 ms on a busy machine. It is more than `MAX_PAGE`,
/// so an unfiltered page always fills.
pub const PAGE_SCAN_BUDGET: usize = 16_384;
const _: () = assert!(PAGE_SCAN_BUDGET >= MAX_PAGE);

/// A snapshot carries the whole lease table only up to this many leases; beyond that it carries the first
/// ones and the dashboard asks the daemon for pages (see [`Update::Snapshot`]).
pub const SNAPSHOT_MAX_LEASES: usize = 5_000;

/// One page of a lease query: matching leases in address order, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasePage {
    pub leases: Vec<Lease>,
    /// Ask again with `after` = this address for more. `None`: the table holds no more matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Ipv4Addr>,
}

impl LeaseQuery {
    /// Up to `limit` matches from `records` (in address order, after the caller's cursor), examining at
    /// most `budget` records: a page may hold fewer than `limit` and still have a `next`.
    pub fn page<'a>(&self, records: impl Iterator<Item = &'a Lease>, limit: usize, budget: usize) -> LeasePage {
        let mut page = LeasePage::default();
        let mut last = None;
        for (seen, l) in records.enumerate() {
            if page.leases.len() == limit || seen == budget {
                page.next = last;
                return page;
            }
            last = Some(l.ip);
            if self.matches(l) {
                page.leases.push(l.clone());
            }
        }
        page
    }
}

/// Mirrors one event onto a lease table kept from a snapshot and the events after it (the dashboard).
/// The event's [`LeaseChange`] decides, as it decides what the daemon stores.
pub fn apply_event(leases: &mut BTreeMap<Ipv4Addr, Lease>, ev: &LeaseEvent) {
    match ev.change() {
        LeaseChange::Remove => {
            leases.remove(&ev.ip);
        }
        LeaseChange::Keep => {}
        LeaseChange::Set(state) => {
            let l = leases.entry(ev.ip).or_insert_with(|| Lease {
                ip: ev.ip,
                subnet: ev.subnet,
                keyed_by: if ev.client_id.is_some() { KeyedBy::ClientId } else { KeyedBy::Hw },
                hw: ev.hw,
                client_id: ev.client_id.clone(),
                hostname: None,
                state,
                obtained: ev.obtained,
                expires: ev.expires,
                lease_secs: 0,
                server: None,
                class: None,
                dns_name: None,
            });
            l.state = state;
            l.hw = ev.hw;
            // A renewal without option 12 keeps the name the client gave before.
            if ev.hostname.is_some() {
                l.hostname = ev.hostname.clone();
            }
            l.obtained = ev.obtained;
            l.expires = ev.expires;
            l.server = ev.server.clone();
            l.class = ev.class.clone();
            l.dns_name = ev.dns_name.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, LeaseEventKind, PacketSummary};
    use crate::{HwAddr, Instant};

    fn lease(ip: &str, host: Option<&str>, state: LeaseState) -> Lease {
        Lease {
            ip: ip.parse().unwrap(),
            subnet: "192.0.2.0/24".parse().unwrap(),
            keyed_by: KeyedBy::Hw,
            hw: HwAddr::ethernet([2, 0, 0, 0, 0, 7]),
            client_id: None,
            hostname: host.map(Into::into),
            state,
            obtained: Instant::from_millis(1_000),
            expires: Instant::from_millis(61_000),
            lease_secs: 60,
            server: Some("dhcp-a".into()),
            class: None,
            dns_name: None,
        }
    }

    fn every_kind() -> Vec<Update> {
        let l = lease("192.0.2.10", Some("pc"), LeaseState::Bound);
        let stats = DaemonStats {
            leases: 1,
            bound: 1,
            subnets: vec![SubnetUsage { cidr: l.subnet, pool_size: 100, used: 1, free: 99, declined: 0 }],
            ..DaemonStats::default()
        };
        let bytes = crate::builder::ClientMsg::new(dhcproto::v4::MessageType::Discover, l.hw, 7).bytes();
        let share = Some(crate::allocator::Share { index: 0, of: 2 });
        let peer = PeerStatus { name: "dhcp-a".into(), up: true, heartbeat_age_ms: 400, share, this: true };
        let packet = PacketSeen {
            dir: Direction::In,
            link: "eth1".into(),
            at: Instant::from_millis(5),
            src: "0.0.0.0:68".parse().unwrap(),
            dst: "192.0.2.1:67".parse().unwrap(),
            summary: PacketSummary::from_bytes(&bytes).unwrap(),
            payload: bytes,
        };
        vec![
            Update::Snapshot {
                seq: 1,
                leases: vec![l.clone()],
                leases_total: 1,
                stats: stats.clone(),
                reserved: vec![l.ip],
                servers: vec![peer.clone()],
                watching: Some("eth1".into()),
            },
            Update::Config { seq: 2, reserved: vec![] },
            Update::Lease {
                seq: 3,
                event: LeaseEvent::from_lease(Instant::from_millis(1_000), LeaseEventKind::Bound, &l),
            },
            Update::Packet { seq: 4, packet: Box::new(packet) },
            Update::Stats { seq: 5, stats },
            Update::Servers { seq: 6, servers: vec![peer] },
        ]
    }

    #[test]
    fn every_message_kind_round_trips_and_names_its_kind_first() {
        let all = every_kind();
        assert_eq!(all.iter().map(Update::kind).collect::<Vec<_>>(), UpdateKind::ALL);
        for u in all {
            let json = u.to_json();
            assert_eq!(UpdateKind::of_json(&json), Some(u.kind()), "{json}");
            assert_eq!(Update::from_json(&json).unwrap(), u);
        }
        assert_eq!(UpdateKind::of_json(r#"{"seq":1,"type":"packet"}"#), None);
        assert_eq!(UpdateKind::of_json(r#"{"type":"packets"}"#), None);
    }

    #[test]
    fn stats_from_an_older_daemon_still_read() {
        let s: DaemonStats = serde_json::from_str(r#"{"leases":3,"bound":2}"#).unwrap();
        assert_eq!((s.leases, s.bound, s.store_commits), (3, 2, 0));
    }

    #[test]
    fn a_query_matches_state_subnet_and_text_case_insensitively() {
        let l = lease("192.0.2.10", Some("Kitchen-PC"), LeaseState::Bound);
        let q = |s, n, t| LeaseQuery::parse(s, n, t).unwrap();
        assert!(q("", "", "").matches(&l));
        assert!(q("bound", "192.0.2.0/24", "KITCHEN").matches(&l));
        assert!(q("", "", "02:00:00:00:00:07").matches(&l));
        assert!(q("", "", "2.10").matches(&l));
        assert!(!q("released", "", "").matches(&l));
        assert!(!q("", "198.51.100.0/24", "").matches(&l));
        assert!(!q("", "", "garage").matches(&l));
        assert_eq!(LeaseQuery::parse("Bound", "", ""), Err(QueryError::State(UnknownState("Bound".into()))));
        assert_eq!(LeaseQuery::parse("", "10.0.0.0", ""), Err(QueryError::Subnet("10.0.0.0".into())));
        assert_eq!(LeaseQuery::parse("", "", &"a".repeat(MAX_QUERY_LEN + 1)), Err(QueryError::TooLong));
    }

    #[test]
    fn the_quick_search_agrees_with_the_plain_one() {
        // The plain rule: the IP, the MAC or the host name, as displayed, contains the text (any case).
        let plain = |l: &Lease, t: &str| {
            let t = t.trim().to_lowercase();
            l.ip.to_string().contains(&t)
                || l.hw.to_string().contains(&t)
                || l.hostname.as_ref().is_some_and(|h| h.to_lowercase().contains(&t))
        };
        let leases = [
            lease("192.0.2.10", Some("Kitchen-PC"), LeaseState::Bound),
            lease("10.0.0.7", Some("cafe.lab"), LeaseState::Bound),
            lease("198.51.100.255", None, LeaseState::Bound),
        ];
        let mut odd = lease("192.0.2.11", Some("beef"), LeaseState::Bound);
        odd.hw = HwAddr::new(&[0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xfe, 0xff]).unwrap();
        let needles = [
            "",
            "2",
            "0.2",
            "192.0.2.10",
            "02:00",
            "0:07",
            "00:00:00",
            "kitchen",
            "CAFE",
            "cafe.",
            "ca",
            "beef",
            "be:ef",
            "de:ad",
            "fe:ff",
            ":",
            ".",
            "x",
            "7",
            "2.11",
            "pc",
            " 2.10 ",
        ];
        for l in leases.iter().chain([&odd]) {
            for n in needles {
                let q = LeaseQuery::parse("", "", n).unwrap();
                assert_eq!(q.matches(l), plain(l, n), "{n:?} in {} {} {:?}", l.ip, l.hw, l.hostname);
            }
        }
        let mut buf = [0; 48];
        assert_eq!(mac_text(&odd.hw, &mut buf), odd.hw.to_string().as_bytes());
    }

    #[test]
    fn pages_go_on_from_their_cursor_and_a_sparse_search_stops_at_its_budget() {
        let all: Vec<Lease> = (1..=9)
            .map(|i| lease(&format!("192.0.2.{i}"), Some(if i % 4 == 0 { "printer" } else { "pc" }), LeaseState::Bound))
            .collect();
        let any = LeaseQuery::default();
        let first = any.page(all.iter(), 4, 100);
        assert_eq!(first.leases.iter().map(|l| l.ip.octets()[3]).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(first.next, Some("192.0.2.4".parse().unwrap()));
        let rest = any.page(all.iter().skip(4), 10, 100);
        assert_eq!((rest.leases.len(), rest.next), (5, None), "the last page says there is no more");
        let printers = LeaseQuery::parse("", "", "printer").unwrap();
        let scanned = printers.page(all.iter(), 10, 5);
        assert_eq!(scanned.leases.iter().map(|l| l.ip.octets()[3]).collect::<Vec<_>>(), [4]);
        assert_eq!(scanned.next, Some("192.0.2.5".parse().unwrap()), "five records examined, go on after the fifth");
        assert_eq!(printers.page(all.iter().skip(5), 10, 5).leases.len(), 1);
        let json = serde_json::to_string(&rest).unwrap();
        assert!(!json.contains("next"), "{json}");
    }

    #[test]
    fn events_mirror_the_table_as_the_server_keeps_it() {
        let mut t = BTreeMap::new();
        let l = lease("192.0.2.10", Some("pc"), LeaseState::Offered);
        let at = Instant::from_millis(2_000);
        apply_event(&mut t, &LeaseEvent::from_lease(at, LeaseEventKind::Offered, &l));
        assert_eq!(t[&l.ip].state, LeaseState::Offered);
        let bound = Lease {
            state: LeaseState::Bound,
            hostname: None,
            class: Some("phones".into()),
            dns_name: Some("pc.lab.example.".into()),
            ..l.clone()
        };
        apply_event(&mut t, &LeaseEvent::from_lease(at, LeaseEventKind::Bound, &bound));
        assert_eq!((t[&l.ip].state, t[&l.ip].hostname.as_deref()), (LeaseState::Bound, Some("pc")));
        assert_eq!(
            (t[&l.ip].class.as_deref(), t[&l.ip].dns_name.as_deref()),
            (Some("phones"), Some("pc.lab.example."))
        );
        let nak = LeaseEvent { state: None, ..LeaseEvent::from_lease(at, LeaseEventKind::Nak, &bound) };
        apply_event(&mut t, &nak);
        assert_eq!(t[&l.ip].state, LeaseState::Bound);
        apply_event(&mut t, &LeaseEvent::from_lease(at, LeaseEventKind::OfferWithdrawn, &l));
        assert!(t.is_empty());
    }
}
