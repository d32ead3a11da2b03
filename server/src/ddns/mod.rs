//! Dynamic DNS, the daemon's part: `[ddns]` in the config file, and the updater that sends the engine's
//! [`DnsChange`](dhcplab_engine::ddns::DnsChange)s to the DNS server as RFC 2136 updates signed with TSIG
//! (RFC 8945), following RFC 4703's rules so one client never takes over another's name.

mod message;
mod updater;

pub use updater::{DnsCounters, Updater};

use dhcplab_engine::ddns::{DdnsNames, zone};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

fn default_ttl() -> Duration {
    Duration::from_secs(300)
}

/// `[ddns]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DdnsSection {
    /// The DNS server that takes the updates (the zones' primary), e.g. `192.0.2.53:53`.
    pub server: SocketAddr,
    /// The zone names are made in: `lab.example.`.
    pub forward_zone: String,
    /// The zone of the PTR records, e.g. `2.0.192.in-addr.arpa.`; without it (or `reverse_zones`) no PTR
    /// records are made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_zone: Option<String>,
    /// More reverse zones, for subnets in several: each address's PTR goes to the zone that holds its
    /// name (the longest), and an address in none gets no PTR record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reverse_zones: Vec<String>,
    /// The TTL of the records made.
    #[serde(default = "default_ttl", with = "dhcplab_engine::duration_text")]
    pub ttl: Duration,
    /// The TSIG key's name, as the DNS server knows it. Without a key, updates go unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The key's secret, base64 (as `tsig-keygen` prints it)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret: Option<String>,
    /// …or a file holding it on its first line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_file: Option<PathBuf>,
    /// Send a lease's records again at each renewal (Kea's `ddns-update-on-renew`), so a record lost to a
    /// DNS outage comes back within half a lease. Off: records are sent when a lease is bound or renamed.
    #[serde(default)]
    pub update_on_renew: bool,
}

/// The zone that holds `ip`'s reverse name: the longest of `zones` (absolute, lowercase) it lies in.
pub fn reverse_zone(zones: &[String], ip: std::net::Ipv4Addr) -> Option<&str> {
    let name = message::reverse_name(ip);
    zones.iter().filter(|z| dhcplab_engine::ddns::below(&name, z)).max_by_key(|z| z.len()).map(String::as_str)
}

impl DdnsSection {
    /// Every reverse zone, as absolute lowercase names.
    pub fn reverse_zones(&self) -> Vec<String> {
        self.reverse_zone.iter().chain(&self.reverse_zones).map(|z| zone(z)).collect()
    }

    /// What the engine needs.
    pub fn names(&self) -> DdnsNames {
        DdnsNames { forward_zone: zone(&self.forward_zone), ttl: self.ttl, update_on_renew: self.update_on_renew }
    }

    /// Problems with the section, as (field, message).
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![];
        if self.key_name.is_some() && self.key_secret.is_none() && self.key_secret_file.is_none() {
            p.push(("ddns.key_name", "needs key_secret or key_secret_file".to_string()));
        }
        if self.key_secret.is_some() && self.key_secret_file.is_some() {
            p.push(("ddns.key_secret", "give key_secret or key_secret_file, not both".to_string()));
        }
        if let Some(s) = &self.key_secret
            && message::decode_secret(s).is_none()
        {
            p.push(("ddns.key_secret", "is not base64 (as tsig-keygen prints it)".to_string()));
        }
        if (self.key_secret.is_some() || self.key_secret_file.is_some()) && self.key_name.is_none() {
            p.push(("ddns.key_secret", "needs key_name".to_string()));
        }
        if self.reverse_zone.as_deref().is_some_and(|z| !zone(z).ends_with(".in-addr.arpa.")) {
            p.push(("ddns.reverse_zone", "must end with in-addr.arpa".to_string()));
        }
        if let Some(z) = self.reverse_zones.iter().find(|z| !zone(z).ends_with(".in-addr.arpa.")) {
            p.push(("ddns.reverse_zones", format!("{z} does not end with in-addr.arpa")));
        }
        if zone(&self.forward_zone) == "." {
            p.push(("ddns.forward_zone", "must name a zone".to_string()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_ptr_goes_to_the_longest_zone_that_holds_the_address() {
        let zones: Vec<String> =
            ["0.192.in-addr.arpa.", "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa."].map(String::from).to_vec();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(reverse_zone(&zones, ip("192.0.2.10")), Some("2.0.192.in-addr.arpa."));
        assert_eq!(reverse_zone(&zones, ip("192.0.3.10")), Some("0.192.in-addr.arpa."));
        assert_eq!(reverse_zone(&zones, ip("198.51.100.7")), Some("100.51.198.in-addr.arpa."));
        assert_eq!(reverse_zone(&zones, ip("10.64.0.1")), None);
        // Labels whole: 12.0.192 is not in 2.0.192.
        assert_eq!(reverse_zone(&zones[1..], ip("192.0.12.1")), None);
    }
}
