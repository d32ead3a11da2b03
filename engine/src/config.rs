//! What a server serves: subnets, pools, options, reservations and the knobs of RFC 2131 behaviour.
//! Plain serde data, so the daemon reads it from TOML and the lab edits it in the browser.

use crate::allocator::{AddrRange, AllocatorKind};
use crate::class::{ClientClass, KNOWN, UNKNOWN};
use crate::ddns::DdnsNames;
use crate::duration_text;
use crate::hwaddr::HwAddr;
use crate::short_bytes::ShortBytes;
use ipnet::Ipv4Net;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

fn yes() -> bool {
    true
}
fn default_offer_hold() -> Duration {
    Duration::from_secs(60)
}
fn default_probation() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_lease_time() -> Duration {
    Duration::from_secs(2 * 3600)
}

/// Server-wide protocol behaviour: the `[dhcp]` section's knobs. One definition, which the daemon's
/// config file flattens into `[dhcp]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerPolicy {
    /// Authoritative servers NAK requests for addresses they know are wrong or unknown on their links
    /// (RFC 2131 §4.3.2); non-authoritative ones stay silent when they have no record of the client.
    #[serde(default = "yes")]
    pub authoritative: bool,
    /// Identify clients by client identifier (option 61) when they send one, else by chaddr. Off: by chaddr
    /// only (as Kea's `match-client-id`).
    #[serde(default = "yes")]
    pub match_client_id: bool,
    /// How long an offered address stays reserved for the client that was offered it.
    #[serde(default = "default_offer_hold", with = "duration_text")]
    pub offer_hold: Duration,
    /// How long a declined address stays out of the pool (RFC 2131 §4.3.3; Kea's decline-probation-period).
    #[serde(default = "default_probation", with = "duration_text")]
    pub decline_probation: Duration,
    #[serde(default)]
    pub allocator: AllocatorKind,
    /// Packets one client (by hardware address) may send per second; more are dropped and counted
    /// (`rate_limited`). 0: no limit.
    #[serde(default = "default_client_rate")]
    pub client_packets_per_second: u32,
    /// Packets one link may bring per second; more are dropped and counted (`rate_limited`), so a flooded
    /// link costs a bounded share of the server's time. 0 (the default): no limit.
    #[serde(default)]
    pub link_packets_per_second: u32,
    /// Ping an address before offering it, and wait this long for an answer (RFC 2131 §2.2, as ISC dhcpd
    /// and dnsmasq do): an address that answers is quarantined as in conflict and the client is offered
    /// another. Not set (the default, as Kea): no probing. An address the client held last, or one that
    /// stayed silent in the last minute, is not probed again.
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub conflict_probe: Option<Duration>,
}

/// The longest a ping before an OFFER may wait.
pub const MAX_CONFLICT_PROBE: Duration = Duration::from_secs(3);

fn default_client_rate() -> u32 {
    20
}

impl Default for ServerPolicy {
    fn default() -> Self {
        ServerPolicy {
            authoritative: true,
            match_client_id: true,
            offer_hold: default_offer_hold(),
            decline_probation: default_probation(),
            allocator: AllocatorKind::default(),
            client_packets_per_second: default_client_rate(),
            link_packets_per_second: 0,
            conflict_probe: None,
        }
    }
}

/// Server-wide behaviour plus the subnets served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerConfig {
    #[serde(flatten)]
    pub policy: ServerPolicy,
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<SubnetConfig>,
    /// `[[class]]`, in precedence order (see `crate::class`).
    #[serde(default, rename = "class", skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClientClass>,
    /// Dynamic DNS names (the daemon's `[ddns]`): set, bound leases get DNS records.
    #[serde(skip)]
    pub ddns: Option<DdnsNames>,
}

/// One IPv4 subnet: the link's prefix, its dynamic pools and the options its clients get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    pub cidr: Ipv4Net,
    /// Pools open to every client.
    #[serde(default)]
    pub pools: Vec<PoolRange>,
    /// `[[subnet.pool]]`: pools that may be kept for some classes.
    #[serde(default, rename = "pool", skip_serializing_if = "Vec::is_empty")]
    pub class_pools: Vec<ClassPool>,
    /// Option 3.
    #[serde(default)]
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    /// Option 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Option 119 (RFC 3397).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_search: Vec<String>,
    /// Option 42.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ntp: Vec<Ipv4Addr>,
    /// Option 121 (RFC 3442).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<StaticRoute>,
    /// Option 51: the lease time given when the client asks for none.
    #[serde(default = "default_lease_time", with = "duration_text")]
    pub lease_time: Duration,
    /// Requested lease times are clamped to `[min_lease_time, max_lease_time]`.
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub min_lease_time: Option<Duration>,
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub max_lease_time: Option<Duration>,
    /// Option 58; default 50 % of the lease (RFC 2131 §4.4.5).
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<Duration>,
    /// Option 59; default 87.5 % of the lease (RFC 2131 §4.4.5).
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub rebind_time: Option<Duration>,
    /// Relay agents that may relay for this subnet, by the address their packets come from (RFC 1542
    /// §4). A relayed packet (giaddr set) from anyone else is dropped: otherwise any host could name
    /// another link's subnet and use the server as a reflector towards a giaddr of its choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<Ipv4Addr>,
    #[serde(default, rename = "reservation", skip_serializing_if = "Vec::is_empty")]
    pub reservations: Vec<Reservation>,
    /// Any other option, by code.
    #[serde(default, rename = "option", skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<CustomOption>,
}

impl SubnetConfig {
    /// A subnet with defaults for everything but the prefix and one pool.
    pub fn new(cidr: Ipv4Net, pool: AddrRange) -> Self {
        SubnetConfig {
            cidr,
            pools: vec![PoolRange(pool)],
            class_pools: vec![],
            routers: vec![],
            dns: vec![],
            domain_name: None,
            domain_search: vec![],
            ntp: vec![],
            routes: vec![],
            lease_time: default_lease_time(),
            min_lease_time: None,
            max_lease_time: None,
            renew_time: None,
            rebind_time: None,
            relays: vec![],
            reservations: vec![],
            options: vec![],
        }
    }
}

/// A host reservation: this client always gets this address (and never anyone else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<HwAddr>,
    /// Option 61 as hex bytes, e.g. `01:52:54:00:12:34:56`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<HexBytes>,
    pub ip: Ipv4Addr,
    /// Sent as option 12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// A classless static route (option 121).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    pub destination: Ipv4Net,
    pub gateway: Ipv4Addr,
}

/// An arbitrary option: exactly one of the value fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CustomOption {
    pub code: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<HexBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ips: Option<Vec<Ipv4Addr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u8: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u16: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u32: Option<u32>,
}

impl CustomOption {
    /// The option's payload bytes, or an error naming what is wrong.
    pub fn payload(&self) -> Result<Vec<u8>, String> {
        let mut values: Vec<Vec<u8>> = Vec::new();
        if let Some(t) = &self.text {
            values.push(t.as_bytes().to_vec());
        }
        if let Some(h) = &self.hex {
            values.push(h.0.to_vec());
        }
        if let Some(ips) = &self.ips {
            values.push(ips.iter().flat_map(|ip| ip.octets()).collect());
        }
        if let Some(v) = self.u8 {
            values.push(vec![v]);
        }
        if let Some(v) = self.u16 {
            values.push(v.to_be_bytes().to_vec());
        }
        if let Some(v) = self.u32 {
            values.push(v.to_be_bytes().to_vec());
        }
        match values.len() {
            1 => {
                let v = values.remove(0);
                if v.len() > 255 {
                    Err(format!("value is {} bytes; an option holds at most 255", v.len()))
                } else {
                    Ok(v)
                }
            }
            0 => Err("needs one value: text, hex, ips, u8, u16 or u32".into()),
            _ => Err("has more than one value; give exactly one of text, hex, ips, u8, u16, u32".into()),
        }
    }
}

/// `[[subnet.pool]]`: a range, served only to members of `classes` (any of them) when it names some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPool {
    pub range: PoolRange,
    /// Class names, or the built-in `known` / `unknown`; empty: open to every client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

/// A pool written as `first-last` or as a prefix `10.0.0.128/25`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRange(pub AddrRange);

impl FromStr for PoolRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("`{s}` is not a pool like 192.168.1.20-192.168.1.200 or 192.168.1.128/25");
        if let Some((a, b)) = s.split_once('-') {
            let first: Ipv4Addr = a.trim().parse().map_err(|_| err())?;
            let last: Ipv4Addr = b.trim().parse().map_err(|_| err())?;
            if first > last {
                return Err(format!("pool `{s}` ends before it starts"));
            }
            Ok(PoolRange(AddrRange { first, last }))
        } else {
            let net: Ipv4Net = s.trim().parse().map_err(|_| err())?;
            Ok(PoolRange(AddrRange { first: net.network(), last: net.broadcast() }))
        }
    }
}

impl fmt::Display for PoolRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0.first, self.0.last)
    }
}

impl Serialize for PoolRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PoolRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Bytes written as hex, with or without `:` separators: `01:52:54:00:12:34:56` or `0152540012`. Kept
/// as [`ShortBytes`]: client identifiers are these, on every packet and in every lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexBytes(pub ShortBytes);

impl FromStr for HexBytes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits: String = s.chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect();
        if digits.is_empty() || !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("`{s}` is not hex bytes like 01:52:54:00:12:34:56"));
        }
        let bytes = (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| e.to_string())?;
        Ok(HexBytes(bytes.into()))
    }
}

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hex_text::write_colon_hex(self.0.as_ref(), f)
    }
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One problem in a config, with the path of the field (`subnet[0].pools[1]`) so the daemon can point at
/// the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

/// Option codes the engine fills in itself; configuring them would contradict the lease.
const MANAGED_OPTIONS: &[(u8, &str)] = &[
    (0, "pad"),
    (1, "subnet mask (from cidr)"),
    (3, "routers (use `routers`)"),
    (6, "DNS servers (use `dns`)"),
    (50, "requested address"),
    (51, "lease time (use `lease_time`)"),
    (52, "option overload"),
    (53, "message type"),
    (54, "server identifier"),
    (55, "parameter request list"),
    (58, "renewal time (use `renew_time`)"),
    (59, "rebinding time (use `rebind_time`)"),
    (61, "client identifier"),
    (82, "relay agent information"),
    (255, "end"),
];

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError { path: path.into(), message: message.into() });
    }
}

impl ServerConfig {
    /// Every semantic problem at once (syntax errors are the parser's), so an admin fixes them in one pass.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut p = Problems::default();
        if self.policy.offer_hold.is_zero() {
            p.add("offer_hold", "must be longer than zero");
        }
        match self.policy.conflict_probe {
            Some(wait) if wait.is_zero() => {
                p.add("conflict_probe", "must be longer than zero (leave it out not to probe)")
            }
            // The client waits for its OFFER meanwhile, and retransmits after about 4 s (RFC 2131 §4.1).
            Some(wait) if wait > MAX_CONFLICT_PROBE => p.add(
                "conflict_probe",
                format!(
                    "{} is too long: clients wait for the OFFER meanwhile (at most 3s)",
                    duration_text::format(wait)
                ),
            ),
            _ => {}
        }
        let mut all_pools: Vec<(String, AddrRange)> = Vec::new();
        for (i, s) in self.subnets.iter().enumerate() {
            let net = s.cidr.trunc();
            if net != s.cidr {
                p.add(format!("subnet[{i}].cidr"), format!("{} has host bits set; did you mean {net}?", s.cidr));
            }
            for (j, other) in self.subnets.iter().enumerate().take(i) {
                if other.cidr.contains(&net.network()) || net.contains(&other.cidr.network()) {
                    p.add(format!("subnet[{i}].cidr"), format!("{} overlaps subnet[{j}] ({})", s.cidr, other.cidr));
                }
            }
            s.check_pools(i, net, &mut all_pools, &mut p);
            s.check_times(i, &mut p);
            s.check_reservations(i, net, &mut p);
            check_options(&format!("subnet[{i}]"), &s.options, &mut p);
            for (k, pool) in s.class_pools.iter().enumerate() {
                for name in pool.classes.iter().filter(|n| !self.has_class(n)) {
                    p.add(
                        format!("subnet[{i}].pool[{k}].classes"),
                        format!("no class is named `{name}`: no client could ever get an address from this pool"),
                    );
                }
            }
        }
        self.check_classes(&mut p);
        if p.0.is_empty() { Ok(()) } else { Err(p.0) }
    }

    /// A configured class or a built-in one.
    fn has_class(&self, name: &str) -> bool {
        name == KNOWN || name == UNKNOWN || self.classes.iter().any(|c| c.name == name)
    }

    /// Names unique and not built-in; at least one condition; values that fit their fields.
    fn check_classes(&self, p: &mut Problems) {
        for (k, c) in self.classes.iter().enumerate() {
            let at = |f: &str| format!("class[{k}].{f}");
            let plain = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
            if c.name.is_empty() || !c.name.chars().all(plain) {
                p.add(at("name"), format!("`{}`: use letters, digits, `-`, `_` and `.`", c.name));
            }
            if c.name == KNOWN || c.name == UNKNOWN {
                p.add(at("name"), format!("`{}` is a built-in class (clients with or without a reservation)", c.name));
            }
            if self.classes[..k].iter().any(|o| o.name == c.name) {
                p.add(at("name"), format!("another class is named `{}`", c.name));
            }
            if c.when.is_empty() {
                p.add(at("match"), "no conditions: this class could never match a client");
            }
            // The `file` field holds 128 bytes and `sname` 64, NUL-terminated; longer names go in options
            // 67 and 66 only, which hold 255.
            if c.boot_file.as_ref().is_some_and(|f| f.is_empty() || f.len() > 255) {
                p.add(at("boot_file"), "must be 1 to 255 bytes");
            }
            if c.tftp_server.as_ref().is_some_and(|f| f.is_empty() || f.len() > 255) {
                p.add(at("tftp_server"), "must be 1 to 255 bytes");
            }
            check_options(&format!("class[{k}]"), &c.options, p);
        }
    }
}

impl SubnetConfig {
    /// Every pool with the classes it is kept for (none: open), the open `pools` first: the allocator's
    /// pools, in this order.
    pub fn pool_ranges(&self) -> impl Iterator<Item = (AddrRange, &[String])> {
        let open = self.pools.iter().map(|p| (p.0, &[][..]));
        open.chain(self.class_pools.iter().map(|p| (p.range.0, p.classes.as_slice())))
    }

    /// Pools inside the subnet, off its network and broadcast addresses, overlapping no other pool (of
    /// any subnet, `seen`); routers on-link.
    fn check_pools(&self, i: usize, net: Ipv4Net, seen: &mut Vec<(String, AddrRange)>, p: &mut Problems) {
        if self.pools.is_empty() && self.class_pools.is_empty() && self.reservations.is_empty() {
            p.add(
                format!("subnet[{i}].pools"),
                "no pools and no reservations: this subnet could never lease an address",
            );
        }
        let paths = (0..self.pools.len())
            .map(|k| format!("subnet[{i}].pools[{k}]"))
            .chain((0..self.class_pools.len()).map(|k| format!("subnet[{i}].pool[{k}].range")));
        for (path, (r, _)) in paths.zip(self.pool_ranges()) {
            if !net.contains(&r.first) || !net.contains(&r.last) {
                p.add(&path, format!("{}-{} is not inside {}", r.first, r.last, net));
            } else if net.prefix_len() < 31 && (r.contains(net.network()) || r.contains(net.broadcast())) {
                let (n, b) = (net.network(), net.broadcast());
                p.add(&path, format!("{}-{} includes the network ({n}) or broadcast ({b}) address", r.first, r.last));
            }
            for (other_path, q) in seen.iter() {
                if r.first <= q.last && q.first <= r.last {
                    p.add(&path, format!("overlaps {other_path} ({}-{})", q.first, q.last));
                }
            }
            seen.push((path, r));
        }
        for (k, r) in self.routers.iter().enumerate() {
            if !net.contains(r) {
                p.add(format!("subnet[{i}].routers[{k}]"), format!("{r} is not on {net}; a router must be on-link"));
            }
        }
    }

    /// Lease time within DHCP's 32 bits and the min/max bounds; T1 < T2 < lease (RFC 2131 §4.4.5).
    fn check_times(&self, i: usize, p: &mut Problems) {
        let at = |field: &str| format!("subnet[{i}].{field}");
        if self.lease_time.as_secs() == 0 {
            p.add(at("lease_time"), "must be at least one second");
        }
        if self.lease_time.as_secs() > u64::from(u32::MAX) {
            p.add(at("lease_time"), "longer than DHCP can express (about 136 years)");
        }
        if let (Some(min), Some(max)) = (self.min_lease_time, self.max_lease_time)
            && min > max
        {
            p.add(at("min_lease_time"), "is longer than max_lease_time");
        }
        if self.min_lease_time.is_some_and(|m| m > self.lease_time)
            || self.max_lease_time.is_some_and(|m| m < self.lease_time)
        {
            p.add(at("lease_time"), "lies outside [min_lease_time, max_lease_time]");
        }
        let (t1, t2) = (self.renew_time, self.rebind_time);
        if t1.is_some_and(|t1| t1 >= self.lease_time) {
            p.add(at("renew_time"), "must be shorter than lease_time (RFC 2131 §4.4.5)");
        }
        if t2.is_some_and(|t2| t2 >= self.lease_time) {
            p.add(at("rebind_time"), "must be shorter than lease_time (RFC 2131 §4.4.5)");
        }
        if let (Some(t1), Some(t2)) = (t1, t2)
            && t1 > t2
        {
            p.add(at("renew_time"), "must not be longer than rebind_time (RFC 2131 §4.4.5)");
        }
    }

    /// Each reservation names its client, holds a host address of the subnet, and clashes with no other.
    fn check_reservations(&self, i: usize, net: Ipv4Net, p: &mut Problems) {
        for (k, r) in self.reservations.iter().enumerate() {
            let path = format!("subnet[{i}].reservation[{k}]");
            if r.mac.is_none() && r.client_id.is_none() {
                p.add(&path, "needs `mac` or `client_id` to know whose address it is");
            }
            if !net.contains(&r.ip) || (net.prefix_len() < 31 && (r.ip == net.network() || r.ip == net.broadcast())) {
                p.add(format!("{path}.ip"), format!("{} is not a host address of {net}", r.ip));
            }
            for (m, o) in self.reservations.iter().enumerate().take(k) {
                if o.ip == r.ip {
                    p.add(format!("{path}.ip"), format!("{} is already reserved by reservation[{m}]", r.ip));
                }
                if r.mac.is_some() && o.mac == r.mac {
                    p.add(format!("{path}.mac"), format!("already has reservation[{m}]"));
                }
                if r.client_id.is_some() && o.client_id == r.client_id {
                    p.add(format!("{path}.client_id"), format!("already has reservation[{m}]"));
                }
            }
        }
    }
}

/// Extra options (a subnet's or a class's, at `at`) encode, and none is one the engine sets itself.
fn check_options(at: &str, options: &[CustomOption], p: &mut Problems) {
    for (k, o) in options.iter().enumerate() {
        let path = format!("{at}.option[{k}]");
        if let Some((_, what)) = MANAGED_OPTIONS.iter().find(|(c, _)| *c == o.code) {
            p.add(format!("{path}.code"), format!("option {} is {what}; dhcplab sets it itself", o.code));
        }
        if let Err(e) = o.payload() {
            p.add(path, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn subnet(cidr: &str, pool: &str) -> SubnetConfig {
        SubnetConfig::new(cidr.parse().unwrap(), pool.parse::<PoolRange>().unwrap().0)
    }

    #[test]
    fn a_sane_config_validates() {
        let mut c = ServerConfig::default();
        let mut s = subnet("192.168.1.0/24", "192.168.1.20-192.168.1.200");
        s.routers = vec!["192.168.1.10".parse().unwrap()];
        c.subnets.push(s);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let mut c = ServerConfig::default();
        let mut s = subnet("192.168.1.0/24", "192.168.1.0-192.168.1.20");
        s.pools.push("192.168.2.1-192.168.2.9".parse().unwrap());
        s.routers = vec!["10.0.0.1".parse().unwrap()];
        s.renew_time = Some(Duration::from_secs(10 * 3600));
        s.options.push(CustomOption { code: 51, u32: Some(5), ..Default::default() });
        s.reservations.push(Reservation {
            mac: None,
            client_id: None,
            ip: "192.168.1.255".parse().unwrap(),
            hostname: None,
        });
        c.subnets.push(s);
        c.subnets.push(subnet("192.168.1.128/25", "192.168.1.130-192.168.1.140"));
        let errs = c.validate().unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        for want in [
            "subnet[0].pools[0]",
            "subnet[0].pools[1]",
            "subnet[0].routers[0]",
            "subnet[0].renew_time",
            "subnet[0].option[0].code",
            "subnet[0].reservation[0]",
            "subnet[0].reservation[0].ip",
            "subnet[1].cidr",
        ] {
            assert!(paths.contains(&want), "missing {want} in {errs:#?}");
        }
    }

    #[test]
    fn pools_parse_as_ranges_or_prefixes() {
        assert_eq!(
            "10.0.0.128/25".parse::<PoolRange>().unwrap().0,
            AddrRange { first: "10.0.0.128".parse().unwrap(), last: "10.0.0.255".parse().unwrap() }
        );
        assert!("10.0.0.9-10.0.0.1".parse::<PoolRange>().is_err());
        assert!("nonsense".parse::<PoolRange>().is_err());
    }

    #[test]
    fn custom_options_need_exactly_one_value() {
        assert_eq!(
            CustomOption { code: 66, text: Some("tftp".into()), ..Default::default() }.payload(),
            Ok(b"tftp".to_vec())
        );
        assert!(CustomOption { code: 66, ..Default::default() }.payload().is_err());
        assert!(CustomOption { code: 66, u8: Some(1), u16: Some(2), ..Default::default() }.payload().is_err());
        assert_eq!("01:02:ff".parse::<HexBytes>(), Ok(HexBytes(vec![1, 2, 255].into())));
        assert!("0g".parse::<HexBytes>().is_err());
    }

    #[test]
    fn deserializes_from_json_with_durations() {
        let c: ServerConfig = serde_json::from_str(
            r#"{"subnet":[{"cidr":"192.168.1.0/24","pools":["192.168.1.20-192.168.1.200"],"lease_time":"6h"}]}"#,
        )
        .unwrap();
        assert_eq!(c.subnets[0].lease_time, Duration::from_secs(21_600));
        assert!(c.policy.authoritative);
    }
}
