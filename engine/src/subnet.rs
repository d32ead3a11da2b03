//! A configured subnet, indexed for the questions the server asks on every packet.

use crate::config::{HexBytes, Reservation, SubnetConfig};
use crate::hwaddr::HwAddr;
use crate::time::Duration;
use ipnet::Ipv4Net;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// The reservation indexes are asked several times per packet; foldhash costs a fraction of SipHash, and
/// their keys come from the config, not from the clients.
type Index<K> = HashMap<K, usize, foldhash::fast::RandomState>;

#[derive(Debug, Clone)]
pub struct Subnet {
    pub config: SubnetConfig,
    pub net: Ipv4Net,
    by_hw: Index<HwAddr>,
    by_client_id: Index<HexBytes>,
    by_ip: Index<Ipv4Addr>,
}

impl Subnet {
    pub fn new(config: SubnetConfig) -> Self {
        let mut s = Subnet {
            net: config.cidr.trunc(),
            by_hw: Index::default(),
            by_client_id: Index::default(),
            by_ip: Index::default(),
            config,
        };
        for (i, r) in s.config.reservations.iter().enumerate() {
            if let Some(hw) = r.mac {
                s.by_hw.insert(hw, i);
            }
            if let Some(id) = &r.client_id {
                s.by_client_id.insert(id.clone(), i);
            }
            s.by_ip.insert(r.ip, i);
        }
        s
    }

    /// Where this client's reservation is in the configured list, found by client identifier first, then by
    /// MAC (see `Membership::reservation`).
    pub fn reservation_index(&self, hw: &HwAddr, client_id: Option<&HexBytes>) -> Option<usize> {
        client_id.and_then(|id| self.by_client_id.get(id)).or_else(|| self.by_hw.get(hw)).copied()
    }

    /// The reservation at `index` of the configured list, as `reservation_index` gave it.
    pub fn reservation_at(&self, index: Option<usize>) -> Option<&Reservation> {
        index.and_then(|i| self.config.reservations.get(i))
    }

    /// True when `ip` is reserved for a client other than this one.
    pub fn reserved_for_other(&self, ip: Ipv4Addr, hw: &HwAddr, client_id: Option<&HexBytes>) -> bool {
        self.by_ip.get(&ip).is_some_and(|&i| {
            let r = &self.config.reservations[i];
            let mine = r.mac.as_ref() == Some(hw) || (r.client_id.is_some() && r.client_id.as_ref() == client_id);
            !mine
        })
    }

    pub fn reserved_ips(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.by_ip.keys().copied()
    }

    /// The lease time to grant: the client's wish clamped to the configured bounds, else the default.
    pub fn lease_time(&self, requested: Option<Duration>) -> Duration {
        let c = &self.config;
        // Without a configured maximum a client may shorten its lease but not lengthen it past the default.
        let min = c.min_lease_time.unwrap_or(Duration::from_secs(1));
        let max = c.max_lease_time.unwrap_or(c.lease_time).max(min);
        requested.unwrap_or(c.lease_time).clamp(min, max)
    }

    /// T1 and T2 for a lease time: configured, else 50 % and 87.5 % (RFC 2131 §4.4.5), kept T1 ≤ T2 < lease.
    pub fn timers(&self, lease: Duration) -> (Duration, Duration) {
        let t2 = self.config.rebind_time.filter(|&t| t < lease).unwrap_or(lease * 7 / 8);
        let t1 = self.config.renew_time.filter(|&t| t <= t2).unwrap_or((lease / 2).min(t2));
        (t1, t2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolRange;

    fn subnet() -> Subnet {
        let mut c = SubnetConfig::new(
            "192.168.1.0/24".parse().unwrap(),
            "192.168.1.20-192.168.1.200".parse::<PoolRange>().unwrap().0,
        );
        c.lease_time = Duration::from_secs(3600);
        c.reservations.push(Reservation {
            mac: Some("52:54:00:00:00:01".parse().unwrap()),
            client_id: None,
            ip: "192.168.1.5".parse().unwrap(),
            hostname: None,
        });
        Subnet::new(c)
    }

    #[test]
    fn lease_time_is_clamped() {
        let mut s = subnet();
        assert_eq!(s.lease_time(None), Duration::from_secs(3600));
        assert_eq!(s.lease_time(Some(Duration::from_secs(60))), Duration::from_secs(60));
        assert_eq!(s.lease_time(Some(Duration::from_secs(99_999))), Duration::from_secs(3600));
        s.config.min_lease_time = Some(Duration::from_secs(600));
        s.config.max_lease_time = Some(Duration::from_secs(7200));
        assert_eq!(s.lease_time(Some(Duration::from_secs(60))), Duration::from_secs(600));
        assert_eq!(s.lease_time(Some(Duration::from_secs(99_999))), Duration::from_secs(7200));
    }

    #[test]
    fn timers_default_to_half_and_seven_eighths() {
        let s = subnet();
        let (t1, t2) = s.timers(Duration::from_secs(6 * 3600));
        assert_eq!(t1, Duration::from_secs(3 * 3600));
        assert_eq!(t2, Duration::from_secs(6 * 3600 * 7 / 8));
    }

    #[test]
    fn reservations_match_their_owner_only() {
        let s = subnet();
        let owner: HwAddr = "52:54:00:00:00:01".parse().unwrap();
        let other: HwAddr = "52:54:00:00:00:02".parse().unwrap();
        let ip = "192.168.1.5".parse().unwrap();
        assert_eq!(s.reservation_at(s.reservation_index(&owner, None)).map(|r| r.ip), Some(ip));
        assert!(s.reservation_index(&other, None).is_none());
        assert!(s.reserved_for_other(ip, &other, None));
        assert!(!s.reserved_for_other(ip, &owner, None));
    }
}
