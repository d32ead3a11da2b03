//! Turning a lease into a reservation ("pin this client to this address"), as an admin does from the
//! dashboard. The engine only proposes the reservation and checks it against the running config; the
//! caller decides where it is written (the config file) and applies it with `Server::reconfigure`.

use super::Server;
use crate::config::{Reservation, ServerConfig};
use crate::hwaddr::HwAddr;
use crate::lease::LeaseState;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("no lease for {0}")]
    NoLease(Ipv4Addr),
    /// A declined address is one another host was found using: pinning it would hand out a conflict.
    #[error("{0} was declined (another host uses it); it cannot be reserved")]
    Declined(Ipv4Addr),
    #[error("{0} is in no configured subnet")]
    NoSubnet(Ipv4Addr),
    #[error("{ip} is already reserved")]
    AddressReserved { ip: Ipv4Addr },
    #[error("{hw} already has a reservation ({ip})")]
    ClientReserved { hw: HwAddr, ip: Ipv4Addr },
}

impl ServerConfig {
    /// This config with one more reservation, in the subnet that contains its address.
    pub fn with_reservation(&self, r: Reservation) -> Result<ServerConfig, PinError> {
        let mut cfg = self.clone();
        let subnet = cfg.subnets.iter_mut().find(|s| s.cidr.contains(&r.ip)).ok_or(PinError::NoSubnet(r.ip))?;
        if subnet.reservations.iter().any(|o| o.ip == r.ip) {
            return Err(PinError::AddressReserved { ip: r.ip });
        }
        if let Some(hw) = r.mac
            && let Some(o) = subnet.reservations.iter().find(|o| o.mac == Some(hw))
        {
            return Err(PinError::ClientReserved { hw, ip: o.ip });
        }
        subnet.reservations.push(r);
        Ok(cfg)
    }
}

impl Server {
    /// The reservation that pins the client of the lease at `ip` to that address, keeping the hostname it
    /// sent (so it is handed back as option 12). Keyed by MAC, as an admin sees the client.
    pub fn reservation_from_lease(&self, ip: Ipv4Addr) -> Result<Reservation, PinError> {
        let lease = self.table.get(ip).ok_or(PinError::NoLease(ip))?;
        if lease.state == LeaseState::Declined {
            return Err(PinError::Declined(ip));
        }
        let r = Reservation {
            mac: Some(lease.hw),
            client_id: None,
            ip,
            hostname: lease.hostname.as_deref().map(String::from),
        };
        // Checked against the running config now, so the caller learns of a clash before writing a file.
        self.config.with_reservation(r.clone())?;
        Ok(r)
    }

    /// Addresses reserved in the running config, for the dashboard.
    pub fn reserved(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.config.subnets.iter().flat_map(|s| s.reservations.iter().map(|r| r.ip))
    }
}
