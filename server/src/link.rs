//! The daemon's links: where DHCP packets come in and replies go out. A link is either a real interface
//! (one UDP socket bound to the device, so the receiving interface is known) or the loopback demo link,
//! where "the clients on the link" are the built-in demo clients' socket.

use dhcplab_engine::reply::Destination;
use dhcplab_engine::server::Transmit;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;

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
    /// Non-blocking: the engine's loop polls it.
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

/// Where a reply really goes on a link.
fn wire_destination(kind: &LinkKind, t: &Transmit) -> SocketAddr {
    match (kind, t.dst) {
        (LinkKind::Demo { clients }, _) => *clients,
        // Without setting an ARP entry for chaddr, a plain UDP socket cannot reach a client that has no
        // address yet except by broadcast (RFC 2131 §4.1 allows it).
        (LinkKind::Interface, Destination::Hardware { .. }) => {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, dhcplab_engine::message::CLIENT_PORT))
        }
        (LinkKind::Interface, d) => SocketAddr::V4(d.socket_addr()),
    }
}

impl Link {
    /// A socket on `0.0.0.0:port` bound to the device `name`, with broadcast enabled.
    pub fn interface(id: u32, name: &str, port: u16) -> Result<Link, LinkError> {
        let addr = interface_addr(name).ok_or_else(|| LinkError::NoSuchInterface(name.to_string()))?;
        let io = |source| LinkError::Io { name: name.to_string(), source };
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(io)?;
        s.set_reuse_address(true).map_err(io)?;
        s.set_broadcast(true).map_err(io)?;
        // Room for a burst while the engine waits on the lease store (the kernel caps it at rmem_max).
        let _ = s.set_recv_buffer_size(4 << 20);
        // Several links share port 67; binding each socket to its device tells us where a packet came in.
        s.bind_device(Some(name.as_bytes())).map_err(io)?;
        s.set_nonblocking(true).map_err(io)?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into()).map_err(io)?;
        Ok(Link { id, name: name.to_string(), addr, socket: Arc::new(s.into()), kind: LinkKind::Interface })
    }

    /// The loopback demo link: the server's socket on `listen` and its address `addr` on the demo subnet.
    pub fn demo(id: u32, listen: SocketAddr, addr: Ipv4Addr, clients: SocketAddr) -> io::Result<Link> {
        let socket = UdpSocket::bind(listen)?;
        socket.set_nonblocking(true)?;
        Ok(Link { id, name: "demo".into(), addr, socket: Arc::new(socket), kind: LinkKind::Demo { clients } })
    }

    /// Datagrams the kernel dropped on this socket because its receive buffer was full (the `drops` column
    /// of /proc/net/udp for this socket's inode).
    pub fn kernel_drops(&self) -> u64 {
        use std::os::fd::AsRawFd;
        let fd = self.socket.as_raw_fd();
        let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else { return 0 };
        let target = target.to_string_lossy();
        let Some(inode) = target.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) else { return 0 };
        let table = std::fs::read_to_string("/proc/self/net/udp").unwrap_or_default();
        table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.get(9) == Some(&inode))
            .and_then(|f| f.last()?.parse().ok())
            .unwrap_or(0)
    }

    pub fn send(&self, t: &Transmit) -> io::Result<usize> {
        send_waiting(&self.socket, &t.bytes, wire_destination(&self.kind, t))
    }

    /// A sender on the same socket, for the store thread (which sends ACKs itself once their leases are
    /// committed, without waking the engine).
    pub fn sender(&self) -> LinkSender {
        LinkSender { socket: self.socket.clone(), kind: self.kind.clone() }
    }
}

/// Sends on a non-blocking socket, waiting briefly if its send buffer is full rather than drop the reply.
fn send_waiting(socket: &UdpSocket, bytes: &[u8], dst: SocketAddr) -> io::Result<usize> {
    for _ in 0..1000 {
        match socket.send_to(bytes, dst) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(std::time::Duration::from_micros(50)),
            r => return r,
        }
    }
    Err(io::Error::new(io::ErrorKind::WouldBlock, "send buffer full for 50 ms"))
}

/// Sends replies on a link from another thread.
pub struct LinkSender {
    socket: Arc<UdpSocket>,
    kind: LinkKind,
}

impl LinkSender {
    pub fn send(&self, t: &Transmit) -> io::Result<usize> {
        send_waiting(&self.socket, &t.bytes, wire_destination(&self.kind, t))
    }
}
