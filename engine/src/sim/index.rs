//! Who is where on the virtual LAN, so that a frame or an ARP probe never scans every NIC (10,000-host
//! networks stay fast).

use super::topology::NicId;
use crate::hwaddr::HwAddr;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Who is where, kept in step with the topology and with clients' addresses.
#[derive(Default)]
pub(super) struct Index {
    /// Per segment: NICs of servers and relays (they listen on port 67).
    pub(super) servers: Vec<Vec<NicId>>,
    /// Per segment: NICs of client hosts (they listen on port 68).
    pub(super) hosts: Vec<Vec<NicId>>,
    pub(super) by_mac: HashMap<HwAddr, NicId>,
    /// The address each NIC answers to, and the reverse map.
    pub(super) addr: Vec<Option<Ipv4Addr>>,
    pub(super) by_addr: HashMap<Ipv4Addr, Vec<NicId>>,
}

impl Index {
    pub(super) fn set_addr(&mut self, nic: NicId, new: Option<Ipv4Addr>) {
        let old = self.addr[nic];
        if old == new {
            return;
        }
        if let Some(o) = old
            && let Some(v) = self.by_addr.get_mut(&o)
        {
            v.retain(|&n| n != nic);
            if v.is_empty() {
                self.by_addr.remove(&o);
            }
        }
        if let Some(n) = new {
            self.by_addr.entry(n).or_default().push(nic);
        }
        self.addr[nic] = new;
    }
}
