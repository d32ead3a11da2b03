//! An IPv4 address as the lease table's ordered maps keep it: one integer. `Ipv4Addr` orders itself by
//! comparing its four bytes as a slice, and a tree search makes a dozen or more comparisons; the table is
//! searched several times per packet, so the integer's single compare is worth having. The order is the
//! same (the integer is big-endian), so the table still pages in address order.

use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrKey(u32);

impl From<Ipv4Addr> for AddrKey {
    fn from(ip: Ipv4Addr) -> Self {
        AddrKey(ip.to_bits())
    }
}

impl From<AddrKey> for Ipv4Addr {
    fn from(k: AddrKey) -> Self {
        Ipv4Addr::from_bits(k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_addresses_do_and_converts_back() {
        let ips: Vec<Ipv4Addr> = ["0.0.0.0", "9.255.255.255", "10.0.0.1", "10.0.1.0", "192.0.2.7", "255.255.255.255"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for pair in ips.windows(2) {
            assert!(AddrKey::from(pair[0]) < AddrKey::from(pair[1]), "{} before {}", pair[0], pair[1]);
        }
        assert!(ips.iter().all(|&ip| Ipv4Addr::from(AddrKey::from(ip)) == ip));
    }
}
