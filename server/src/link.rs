//! The daemon's links: where DHCP packets come in and replies go out. A link is either a real interface
//! (one UDP socket bound to the device, so the receiving interface is known) or the loopback demo link,
//! where "the clients on the link" are the built-in demo clients' socket.

use dhcplab_engine::reply::Destination;
use dhcplab_engine::server::Transmit;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use tokio::net::UdpSocket;

#[derive(Debug, Clone)]
pub enum LinkKind {
    /// A real interface, e.g. `eth1`.
    Interface,
    /// Loopback: the server listens on 127.0.0.1 at an unprivileged port, and every reply goes to the demo
    /// clients' socket, as a broadcast on a LAN would reach them.
    Demo { clients: SocketAddr },
}

pub struct Link {
    pub id: u32,
    pub name: String,
    /// The server's address on this link: it selects the subnet and is the server identifier.
    pub addr: Ipv4Addr,
    pub socket: Arc<UdpSocket>,
    pub kind: LinkKind,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("interface {0} not found, or it has no IPv4 address")]
    NoSuchInterface(String),
    #[error("interface {name}: {source}")]
    Io { name: String, source: io::Error },
}

/// The first IPv4 address of interface `name`.
pub fn interface_addr(name: &str) -> Option<Ipv4Addr> {
    if_addrs::get_if_addrs().ok()?.into_iter().find_map(|i| match i.addr {
        if_addrs::IfAddr::V4(v4) if i.name == name => Some(v4.ip),
        _ => None,
    })
}

impl Link {
    /// A socket on `0.0.0.0:port` bound to the device `name`, with broadcast enabled.
    pub fn interface(id: u32, name: &str, port: u16) -> Result<Link, LinkError> {
        let addr = interface_addr(name).ok_or_else(|| LinkError::NoSuchInterface(name.to_string()))?;
        let io = |source| LinkError::Io { name: name.to_string(), source };
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(io)?;
        s.set_reuse_address(true).map_err(io)?;
        s.set_broadcast(true).map_err(io)?;
        // Several links share port 67; binding each socket to its device tells us where a packet came in.
        s.bind_device(Some(name.as_bytes())).map_err(io)?;
        s.set_nonblocking(true).map_err(io)?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into()).map_err(io)?;
        let socket = UdpSocket::from_std(s.into()).map_err(io)?;
        Ok(Link { id, name: name.to_string(), addr, socket: Arc::new(socket), kind: LinkKind::Interface })
    }

    /// The loopback demo link: the server's socket on `listen` and its address `addr` on the demo subnet.
    pub async fn demo(id: u32, listen: SocketAddr, addr: Ipv4Addr, clients: SocketAddr) -> io::Result<Link> {
        let socket = UdpSocket::bind(listen).await?;
        Ok(Link { id, name: "demo".into(), addr, socket: Arc::new(socket), kind: LinkKind::Demo { clients } })
    }

    /// Where a reply really goes on this link.
    pub fn wire_destination(&self, t: &Transmit) -> SocketAddr {
        match (&self.kind, t.dst) {
            (LinkKind::Demo { clients }, _) => *clients,
            // Without setting an ARP entry for chaddr, a plain UDP socket cannot reach a client that has no
            // address yet except by broadcast (RFC 2131 §4.1 allows it).
            (LinkKind::Interface, Destination::Hardware { .. }) => {
                SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, dhcplab_engine::reply::CLIENT_PORT))
            }
            (LinkKind::Interface, d) => SocketAddr::V4(d.socket_addr()),
        }
    }

    pub async fn send(&self, t: &Transmit) -> io::Result<usize> {
        self.socket.send_to(&t.bytes, self.wire_destination(t)).await
    }
}
