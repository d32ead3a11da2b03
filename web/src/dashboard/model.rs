//! What the dashboard knows of a daemon, built from the bridge's messages alone, and the lease table's
//! filters. Plain Rust with no browser calls, so the message handling is tested natively.

use super::live::{self, Ring};
use dhcplab_engine::bridge::{self, DaemonStats, LeaseQuery, PeerStatus, Update, UpdateKind};
use dhcplab_engine::server::SubnetUsage;
use dhcplab_engine::{Lease, LeaseEvent};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::Ipv4Addr;

/// Lease events kept for the feed.
const FEED: usize = 100;
/// Stats samples kept for the charts (one a second).
const HISTORY: usize = 120;

/// The daemon as the bridge has shown it so far.
#[derive(Default)]
pub struct Live {
    /// The sequence number of the last message applied.
    pub seq: u64,
    /// Every lease when the daemon holds few enough for one snapshot ([`Live::complete`]); otherwise the
    /// first ones only, kept up to date but never added to, and the table asks the daemon for pages.
    pub leases: BTreeMap<Ipv4Addr, Lease>,
    /// How many leases the daemon holds (as its last snapshot or stats said).
    pub leases_total: usize,
    pub subnets: Vec<SubnetUsage>,
    /// Newest first.
    pub feed: VecDeque<LeaseEvent>,
    /// (packets received so far, bound leases), one sample per stats message.
    pub history: VecDeque<(u64, u64)>,
    /// Addresses reserved in the daemon's running config.
    pub reserved: HashSet<Ipv4Addr>,
    /// The servers sharing the daemon's lease database (the daemon alone on SQLite).
    pub servers: Vec<PeerStatus>,
    /// The link a `dhcplab watch` listens to, when that is what the dashboard is connected to.
    pub watching: Option<String>,
    pub ring: Ring,
    /// The live flow is paused: packets meanwhile are counted in `held`, not kept.
    pub paused: bool,
    pub held: u64,
    /// Messages that did not decode (a daemon of another version, say).
    pub unreadable: u64,
}

impl Live {
    pub fn apply(&mut self, m: Update) {
        self.seq = m.seq();
        match m {
            Update::Snapshot { leases, leases_total, stats, reserved, servers, watching, .. } => {
                self.reserved = reserved.into_iter().collect();
                self.servers = servers;
                self.watching = watching;
                self.sample(stats);
                self.leases = leases.into_iter().map(|l| (l.ip, l)).collect();
                // A daemon older than paging sends every lease and no total.
                self.leases_total = leases_total.max(self.leases.len());
            }
            Update::Lease { event, .. } => {
                if self.complete() {
                    bridge::apply_event(&mut self.leases, &event);
                    self.leases_total = self.leases.len();
                } else if self.leases.contains_key(&event.ip) {
                    bridge::apply_event(&mut self.leases, &event);
                }
                self.feed.push_front(event);
                self.feed.truncate(FEED);
            }
            Update::Packet { seq, packet } => self.ring.push(seq, *packet),
            Update::Config { reserved, .. } => self.reserved = reserved.into_iter().collect(),
            Update::Stats { stats, .. } => self.sample(stats),
            Update::Servers { servers, .. } => self.servers = servers,
        }
    }

    /// Whether `leases` is the daemon's whole table, so the table filters and sorts it here; if not, the
    /// daemon serves the table's pages (`GET /api/leases`).
    pub fn complete(&self) -> bool {
        self.leases.len() >= self.leases_total
    }

    fn sample(&mut self, stats: DaemonStats) {
        if !self.complete() {
            self.leases_total = stats.leases;
        }
        self.history.push_back((stats.engine.received, stats.bound as u64));
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        self.subnets = stats.subnets;
    }

    /// Applies the messages that arrived since the last call, in order. Only the newest packets can stay in
    /// the ring (none while paused): the others are counted, not parsed — at thousands a second, decoding
    /// payloads nobody will see was most of the page's work.
    pub fn ingest(&mut self, batch: Vec<String>) {
        let is_packet = |s: &String| UpdateKind::of_json(s) == Some(UpdateKind::Packet);
        let packets = batch.iter().filter(|s| is_packet(s)).count();
        let mut skip = if self.paused { packets } else { packets.saturating_sub(live::KEEP) };
        if self.paused {
            self.held += packets as u64;
        }
        for s in batch {
            if skip > 0 && is_packet(&s) {
                skip -= 1;
                continue;
            }
            match Update::from_json(&s) {
                Ok(m) => self.apply(m),
                Err(_) => self.unreadable += 1,
            }
        }
    }

    pub fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        self.held = 0;
    }

    /// Packets per second between stats samples, for the rate chart.
    pub fn packet_rates(&self) -> Vec<f64> {
        self.history.iter().zip(self.history.iter().skip(1)).map(|(a, b)| b.0.saturating_sub(a.0) as f64).collect()
    }

    pub fn bound_counts(&self) -> Vec<f64> {
        self.history.iter().map(|h| h.1 as f64).collect()
    }
}

/// How full a subnet is, as the subnet bars show it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utilization {
    /// Addresses held: offers, bindings and declined ones.
    pub used: usize,
    pub percent: f64,
    pub level: Level,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// 80 % or more used.
    Amber,
    /// 90 % or more used.
    Red,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Amber => "amber",
            Level::Red => "red",
        }
    }
}

pub fn utilization(s: &SubnetUsage) -> Utilization {
    let used = s.used + s.declined;
    let percent = if s.pool_size > 0 { used as f64 * 100.0 / s.pool_size as f64 } else { 0.0 };
    let level = if percent >= 90.0 {
        Level::Red
    } else if percent >= 80.0 {
        Level::Amber
    } else {
        Level::Ok
    };
    Utilization { used, percent, level }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Ip,
    Host,
    State,
    Expires,
}

/// The lease table's search, filters and order, as the user set them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub text: String,
    /// A state name, or empty for all.
    pub state: String,
    /// A subnet in CIDR notation, or empty for all.
    pub subnet: String,
    pub sort: SortBy,
}

impl Filters {
    /// The leases to list, in order. A search too long to be a name matches nothing.
    pub fn rows<'a>(&self, leases: &'a BTreeMap<Ipv4Addr, Lease>) -> Vec<&'a Lease> {
        let query = LeaseQuery::parse(&self.state, &self.subnet, &self.text).ok();
        let mut v: Vec<&Lease> = leases.values().filter(|l| query.as_ref().is_some_and(|q| q.matches(l))).collect();
        match self.sort {
            SortBy::Ip => {}
            SortBy::Host => v.sort_by(|a, b| a.hostname.cmp(&b.hostname)),
            SortBy::State => v.sort_by_key(|l| l.state.as_str()),
            SortBy::Expires => v.sort_by_key(|l| l.expires),
        }
        v
    }
}

impl Filters {
    /// The filters as `GET /api/leases` takes them, for a page of `limit` after `after`.
    pub fn api_query(&self, limit: usize, after: Option<Ipv4Addr>) -> String {
        let mut q = url_query::Query::default();
        for (k, v) in [("state", &self.state), ("subnet", &self.subnet), ("q", &self.text)] {
            if !v.trim().is_empty() {
                q.pair(k, v.trim());
            }
        }
        q.pair("limit", &limit.to_string());
        if let Some(ip) = after {
            q.pair("after", &ip.to_string());
        }
        q.finish()
    }
}

/// Where the next page starts, from a `Link: </api/leases?…&after=IP>; rel="next"` header.
pub fn next_page(link: &str) -> Option<Ipv4Addr> {
    let target = link.split(',').find(|l| l.contains("rel=\"next\""))?;
    let url = target.trim().strip_prefix('<')?.split('>').next()?;
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("after=")).and_then(|ip| ip.parse().ok())
}

/// A URL query string, percent-encoded (RFC 3986 unreserved characters stay as they are).
mod url_query {
    #[derive(Default)]
    pub struct Query(String);

    impl Query {
        pub fn pair(&mut self, k: &str, v: &str) {
            if !self.0.is_empty() {
                self.0.push('&');
            }
            self.0.push_str(k);
            self.0.push('=');
            for b in v.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    self.0.push(b as char);
                } else {
                    self.0.push_str(&format!("%{b:02X}"));
                }
            }
        }

        pub fn finish(self) -> String {
            self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcplab_engine::event::{Direction, LeaseEventKind, PacketSeen, PacketSummary};
    use dhcplab_engine::{HwAddr, Instant, KeyedBy, LeaseState};

    fn lease(i: u8, host: &str, state: LeaseState) -> Lease {
        let hw = HwAddr::ethernet([2, 0, 0, 0, 0, i]);
        Lease {
            ip: Ipv4Addr::new(192, 0, 2, i),
            subnet: "192.0.2.0/24".parse().unwrap(),
            keyed_by: KeyedBy::Hw,
            hw,
            client_id: None,
            hostname: Some(host.into()),
            state,
            obtained: Instant::from_millis(1_000),
            expires: Instant::from_millis(u64::from(i) * 1_000_000),
            lease_secs: 600,
            server: None,
            class: None,
            dns_name: None,
        }
    }

    fn stats(received: u64, bound: usize, used: usize) -> DaemonStats {
        let cidr = "192.0.2.0/24".parse().unwrap();
        DaemonStats {
            bound,
            engine: dhcplab_engine::stats::Stats { received, ..Default::default() },
            subnets: vec![SubnetUsage { cidr, pool_size: 100, used, free: 100 - used, declined: 0 }],
            ..DaemonStats::default()
        }
    }

    fn packet_json(seq: u64, xid: u32) -> String {
        let bytes = dhcplab_engine::builder::ClientMsg::new(
            dhcplab_engine::message::DhcpMessage::Discover.message_type(),
            HwAddr::ethernet([2, 0, 0, 0, 0, 1]),
            xid,
        )
        .bytes();
        let packet = PacketSeen {
            dir: Direction::In,
            link: "eth1".into(),
            at: Instant::from_millis(5),
            src: "0.0.0.0:68".parse().unwrap(),
            dst: "192.0.2.1:67".parse().unwrap(),
            summary: PacketSummary::from_bytes(&bytes).unwrap(),
            payload: bytes,
        };
        Update::Packet { seq, packet: Box::new(packet) }.to_json()
    }

    #[test]
    fn a_snapshot_then_events_and_stats_keep_the_table_and_charts() {
        let mut live = Live::default();
        let snapshot = Update::Snapshot {
            seq: 10,
            leases: vec![lease(1, "alice", LeaseState::Bound), lease(2, "bob", LeaseState::Offered)],
            leases_total: 2,
            stats: stats(100, 1, 2),
            reserved: vec![Ipv4Addr::new(192, 0, 2, 1)],
            servers: vec![],
            watching: None,
        };
        let bound = LeaseEvent::from_lease(
            Instant::from_millis(2_000),
            LeaseEventKind::Bound,
            &lease(2, "bob", LeaseState::Bound),
        );
        let withdrawn = LeaseEvent::from_lease(
            Instant::from_millis(3_000),
            LeaseEventKind::OfferWithdrawn,
            &lease(3, "carol", LeaseState::Offered),
        );
        live.ingest(vec![
            snapshot.to_json(),
            Update::Lease { seq: 11, event: bound }.to_json(),
            Update::Lease { seq: 12, event: withdrawn }.to_json(),
            Update::Stats { seq: 13, stats: stats(160, 2, 2) }.to_json(),
            "{\"type\":\"lease\",\"seq\":14}".into(),
        ]);
        assert_eq!(live.seq, 13);
        assert_eq!(live.unreadable, 1);
        assert_eq!(live.leases.len(), 2);
        assert_eq!(live.leases[&Ipv4Addr::new(192, 0, 2, 2)].state, LeaseState::Bound);
        assert!(live.reserved.contains(&Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(
            live.feed.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [LeaseEventKind::OfferWithdrawn, LeaseEventKind::Bound]
        );
        assert_eq!(live.packet_rates(), [60.0]);
        assert_eq!(live.bound_counts(), [1.0, 2.0]);
    }

    #[test]
    fn a_partial_snapshot_keeps_its_rows_current_but_leaves_the_rest_to_the_daemon() {
        let mut live = Live::default();
        let snapshot = Update::Snapshot {
            seq: 1,
            leases: vec![lease(1, "alice", LeaseState::Offered)],
            leases_total: 1_000_000,
            stats: DaemonStats { leases: 1_000_000, ..stats(0, 0, 1) },
            reserved: vec![],
            servers: vec![],
            watching: None,
        };
        let at = Instant::from_millis(2_000);
        let bound = LeaseEvent::from_lease(at, LeaseEventKind::Bound, &lease(1, "alice", LeaseState::Bound));
        let other = LeaseEvent::from_lease(at, LeaseEventKind::Bound, &lease(9, "zed", LeaseState::Bound));
        live.ingest(vec![
            snapshot.to_json(),
            Update::Lease { seq: 2, event: bound }.to_json(),
            Update::Lease { seq: 3, event: other }.to_json(),
        ]);
        assert!(!live.complete());
        assert_eq!(live.leases.len(), 1, "a lease beyond the snapshot is not added: the daemon pages it");
        assert_eq!(live.leases[&Ipv4Addr::new(192, 0, 2, 1)].state, LeaseState::Bound, "a row shown is kept current");
        assert_eq!(live.feed.len(), 2, "the feed shows every event");
        live.ingest(vec![
            Update::Stats { seq: 4, stats: DaemonStats { leases: 1_000_001, ..stats(0, 0, 1) } }.to_json(),
        ]);
        assert_eq!(live.leases_total, 1_000_001);
    }

    #[test]
    fn the_filters_become_an_api_query_and_the_link_header_gives_the_next_page() {
        let f = Filters { text: "Kitchen PC&".into(), state: "bound".into(), ..Filters::default() };
        assert_eq!(f.api_query(100, None), "state=bound&q=Kitchen%20PC%26&limit=100");
        assert_eq!(Filters::default().api_query(50, Some(Ipv4Addr::new(10, 0, 0, 9))), "limit=50&after=10.0.0.9");
        let link = r#"</api/leases?state=bound&limit=100&after=10.64.1.7>; rel="next""#;
        assert_eq!(next_page(link), Some(Ipv4Addr::new(10, 64, 1, 7)));
        assert_eq!(next_page(r#"</api/leases?limit=1>; rel="prev""#), None);
    }

    #[test]
    fn a_burst_keeps_only_the_newest_packets_and_a_pause_holds_them_unparsed() {
        let mut live = Live::default();
        let burst: Vec<String> = (1..=live::KEEP as u64 + 50).map(|s| packet_json(s, s as u32)).collect();
        live.ingest(burst);
        assert_eq!(live.ring.packets.len(), live::KEEP);
        assert_eq!(live.ring.packets.front().map(|(s, _)| *s), Some(51));
        assert_eq!(live.seq, live::KEEP as u64 + 50);
        live.toggle_pause();
        live.ingest(vec![packet_json(1000, 7), packet_json(1001, 8)]);
        assert_eq!(live.held, 2);
        assert!(live.ring.get(1000).is_none());
        live.toggle_pause();
        assert_eq!(live.held, 0);
    }

    #[test]
    fn filters_search_filter_and_sort() {
        let leases: BTreeMap<Ipv4Addr, Lease> = [
            lease(3, "mallory", LeaseState::Bound),
            lease(1, "alice", LeaseState::Released),
            lease(2, "Trent", LeaseState::Bound),
        ]
        .into_iter()
        .map(|l| (l.ip, l))
        .collect();
        let hosts = |f: &Filters| f.rows(&leases).iter().map(|l| l.hostname.clone().unwrap()).collect::<Vec<_>>();
        assert_eq!(hosts(&Filters::default()), ["alice", "Trent", "mallory"]);
        assert_eq!(hosts(&Filters { sort: SortBy::Host, ..Filters::default() }), ["Trent", "alice", "mallory"]);
        assert_eq!(hosts(&Filters { state: "bound".into(), ..Filters::default() }), ["Trent", "mallory"]);
        assert_eq!(hosts(&Filters { text: "trent".into(), ..Filters::default() }), ["Trent"]);
        assert_eq!(hosts(&Filters { sort: SortBy::Expires, ..Filters::default() }), ["alice", "Trent", "mallory"]);
        assert!(hosts(&Filters { text: "x".repeat(300), ..Filters::default() }).is_empty());
    }

    #[test]
    fn utilization_turns_amber_at_80_and_red_at_90_percent() {
        let at = |used| {
            utilization(&SubnetUsage {
                cidr: "10.0.0.0/24".parse().unwrap(),
                pool_size: 100,
                used,
                free: 100 - used,
                declined: 0,
            })
            .level
        };
        assert_eq!([at(79), at(80), at(89), at(90)], [Level::Ok, Level::Amber, Level::Amber, Level::Red]);
    }
}
