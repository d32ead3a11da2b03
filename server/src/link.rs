//! The daemon's links: where DHCP packets come in and replies go out. A link is either a real interface
//! (one UDP socket bound to the device, so the receiving interface is known) or the loopback demo link,
//! where "the clients on the link" are the built-in demo clients' socket.

use dhcplab_engine::reply::Destination;
use dhcplab_engine::server::Transmit;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, sendmmsg};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
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
    /// Non-blocking: the engine's loop polls it (and the store's thread sends the link's ACKs on it).
    pub socket: Arc<UdpSocket>,
    /// With more than one packet thread, the other sockets of this link's `SO_REUSEPORT` group, one for
    /// each further thread (see [`bind_group`]).
    pub more_sockets: Vec<Arc<UdpSocket>>,
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
    /// `sockets` sockets on `0.0.0.0:port` bound to the device `name`, with broadcast enabled (one for each
    /// packet thread, see [`bind_group`]).
    pub fn interface(id: u32, name: &str, port: u16, sockets: usize) -> Result<Link, LinkError> {
        let addr = interface_addr(name).ok_or_else(|| LinkError::NoSuchInterface(name.to_string()))?;
        let io = |source| LinkError::Io { name: name.to_string(), source };
        let group = bind_group(sockets, SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), |s| {
            s.set_reuse_address(true)?;
            s.set_broadcast(true)?;
            // Room for a burst while the engine waits on the lease store (the kernel caps it at rmem_max).
            let _ = s.set_recv_buffer_size(4 << 20);
            // Several links share port 67; binding each socket to its device tells us where a packet came in.
            s.bind_device(Some(name.as_bytes()))
        })
        .map_err(io)?;
        Ok(Link::from_group(id, name.to_string(), addr, group, LinkKind::Interface))
    }

    /// The loopback demo link: the server's sockets on `listen` and its address `addr` on the demo subnet.
    pub fn demo(id: u32, listen: SocketAddr, addr: Ipv4Addr, clients: SocketAddr, sockets: usize) -> io::Result<Link> {
        let group = bind_group(sockets, listen, |_| Ok(()))?;
        Ok(Link::from_group(id, "demo".into(), addr, group, LinkKind::Demo { clients }))
    }

    fn from_group(id: u32, name: String, addr: Ipv4Addr, group: Vec<UdpSocket>, kind: LinkKind) -> Link {
        let mut group = group.into_iter().map(Arc::new);
        let socket = group.next().expect("a group holds at least one socket");
        Link { id, name, addr, socket, more_sockets: group.collect(), kind }
    }

    /// Whether the thread reading this link's socket `index` answers `datagram`. The kernel steers a
    /// datagram sent to an address to one socket of the group, but hands a broadcast to every one: each
    /// thread keeps the broadcasts the steering would have given it, so every datagram is answered once.
    /// (Not a socket filter in the kernel: what one drops counts in the socket's `drops`, which the daemon
    /// reports as datagrams lost to a full receive buffer.)
    pub fn is_mine(&self, index: usize, datagram: &[u8]) -> bool {
        self.more_sockets.is_empty() || steered_to(datagram, 1 + self.more_sockets.len()) == index
    }

    /// Every socket of the link, the engine thread's first.
    pub fn sockets(&self) -> impl Iterator<Item = &Arc<UdpSocket>> {
        std::iter::once(&self.socket).chain(&self.more_sockets)
    }

    /// Datagrams the kernel dropped on this link's sockets because their receive buffers were full (the
    /// `drops` column of /proc/net/udp for the sockets' inodes).
    pub fn kernel_drops(&self) -> u64 {
        let inodes: Vec<String> = self
            .sockets()
            .filter_map(|s| std::fs::read_link(format!("/proc/self/fd/{}", s.as_raw_fd())).ok())
            .filter_map(|t| Some(t.to_string_lossy().strip_prefix("socket:[")?.strip_suffix(']')?.to_string()))
            .collect();
        let table = std::fs::read_to_string("/proc/self/net/udp").unwrap_or_default();
        table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.get(9).is_some_and(|i| inodes.iter().any(|n| n == i)))
            .filter_map(|f| f.last()?.parse::<u64>().ok())
            .sum()
    }

    /// Sends these replies on this link, together.
    pub fn send_all<'a>(
        &self,
        buffers: &mut SendBuffers,
        replies: impl Iterator<Item = &'a Transmit>,
    ) -> Result<(), NotSent> {
        send_replies(&self.socket, &self.kind, buffers, replies)
    }

    /// A sender on the same socket, for the store thread (which sends ACKs itself once their leases are
    /// committed, without waking the engine).
    pub fn sender(&self) -> LinkSender {
        LinkSender { socket: self.socket.clone(), kind: self.kind.clone(), name: self.name.clone() }
    }
}

/// Opens `n` non-blocking sockets on `addr`, each set up by `setup` before it is bound. With more than one
/// they are an `SO_REUSEPORT` group (the first binds, the others take its port) with [`steer_by_chaddr`]
/// attached: every DHCP client's datagrams reach the same socket, so one thread reads all of a client's
/// packets, in order.
pub fn bind_group(n: usize, addr: SocketAddr, setup: impl Fn(&Socket) -> io::Result<()>) -> io::Result<Vec<UdpSocket>> {
    let mut group: Vec<Socket> = Vec::with_capacity(n.max(1));
    let mut at = addr;
    for _ in 0..n.max(1) {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        setup(&s)?;
        if n > 1 {
            s.set_reuse_port(true)?;
        }
        s.set_nonblocking(true)?;
        s.bind(&at.into())?;
        // The others join the first one's port (an ephemeral one when `addr` asked for port 0).
        if let Some(bound) = s.local_addr()?.as_socket() {
            at = bound;
        }
        group.push(s);
    }
    if n > 1 {
        steer_by_chaddr(&group[0], n as u32)?;
    }
    Ok(group.into_iter().map(UdpSocket::from).collect())
}

/// The socket of a group of `n` that [`steer_by_chaddr`]'s program picks for `datagram`.
pub fn steered_to(datagram: &[u8], n: usize) -> usize {
    match datagram.get(30..34) {
        Some(b) => (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) % n as u32) as usize,
        None => 0,
    }
}

/// Attaches to an `SO_REUSEPORT` group of `n` sockets a classic BPF program that picks the socket for each
/// datagram from the client's hardware address: bytes 2–5 of `chaddr` (bytes 30–33 of the DHCP message,
/// RFC 2131 §2), as a number, modulo `n`. The kernel's own choice hashes the source address and port, and
/// every client without an address sends from 0.0.0.0:68 (a relay, from its one address): it would put them
/// all on one socket. A datagram too short to hold `chaddr` goes to the first socket.
fn steer_by_chaddr(socket: &Socket, n: u32) -> io::Result<()> {
    // Classic BPF opcodes (linux/filter.h); for a reuseport group the packet starts at the UDP payload.
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS: A = the 32-bit word at k
    const ALU_MOD_K: u16 = 0x94; // BPF_ALU | BPF_MOD | BPF_K: A %= k
    const RET_A: u16 = 0x16; // BPF_RET | BPF_A: the socket's index in the group
    let op = |code, k| libc::sock_filter { code, jt: 0, jf: 0, k };
    let mut program = [op(LD_W_ABS, 30), op(ALU_MOD_K, n), op(RET_A, 0)];
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies the program.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// How long a send waits for room in a full send buffer, in 50 µs naps, before it gives the reply up.
const FULL_BUFFER_NAPS: u32 = 1000;

/// Sends on a non-blocking socket, waiting briefly if its send buffer is full rather than drop the reply.
fn send_waiting(socket: &UdpSocket, bytes: &[u8], dst: SocketAddr) -> io::Result<usize> {
    for _ in 0..FULL_BUFFER_NAPS {
        match socket.send_to(bytes, dst) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(std::time::Duration::from_micros(50)),
            r => return r,
        }
    }
    Err(io::Error::new(io::ErrorKind::WouldBlock, "send buffer full for 50 ms"))
}

/// Replies that did not leave: how many, and the last reason.
#[derive(Debug)]
pub struct NotSent {
    pub count: usize,
    pub last: io::Error,
}

impl NotSent {
    /// Adds `count` more replies given up, for the reason `last`, to what `so_far` holds.
    pub fn add(so_far: &mut Option<NotSent>, count: usize, last: io::Error) {
        let before = so_far.as_ref().map_or(0, |n| n.count);
        *so_far = Some(NotSent { count: before + count, last });
    }
}

/// How many datagrams one `sendmmsg` carries at most; a longer batch takes several calls.
const SEND_BATCH: usize = 32;

/// `sendmmsg`'s message headers, kept by the thread that sends so that sending allocates nothing.
pub struct SendBuffers {
    headers: MultiHeaders<SockaddrIn>,
}

// SAFETY: the headers hold raw pointers only while a `sendmmsg` call runs: each call points them at its own
// slices and addresses, and nothing reads them after it returns. Moving the buffers to another thread
// between calls moves no borrowed data.
unsafe impl Send for SendBuffers {}

impl Default for SendBuffers {
    fn default() -> Self {
        SendBuffers { headers: MultiHeaders::preallocate(SEND_BATCH, None) }
    }
}

/// Sends datagrams in as few system calls as the kernel takes them (`sendmmsg`): a commit releases its
/// ACKs together. A datagram the kernel refuses is given up and reported, and the rest still go; a full
/// send buffer is waited for, as `send_waiting` does.
fn send_many<'a>(
    socket: &UdpSocket,
    buffers: &mut SendBuffers,
    datagrams: impl IntoIterator<Item = (&'a [u8], SocketAddr)>,
) -> Result<(), NotSent> {
    let mut not_sent: Option<NotSent> = None;
    let mut give_up = |e: io::Error| NotSent::add(&mut not_sent, 1, e);
    let mut datagrams = datagrams.into_iter();
    let mut slices: [[IoSlice<'a>; 1]; SEND_BATCH] = std::array::from_fn(|_| [IoSlice::new(&[])]);
    let mut addrs: [Option<SockaddrIn>; SEND_BATCH] = [None; SEND_BATCH];
    loop {
        // The next batch. A link's destinations are IPv4; anything else is sent on its own.
        let mut n = 0;
        while n < SEND_BATCH {
            match datagrams.next() {
                None => break,
                Some((bytes, SocketAddr::V4(a))) => {
                    slices[n] = [IoSlice::new(bytes)];
                    addrs[n] = Some(SockaddrIn::from(a));
                    n += 1;
                }
                Some((bytes, dst)) => {
                    if let Err(e) = send_waiting(socket, bytes, dst) {
                        give_up(e);
                    }
                }
            }
        }
        if n == 0 {
            break;
        }
        let (mut sent, mut naps) = (0, 0);
        while sent < n {
            let no_cmsgs: [ControlMessage; 0] = [];
            let (s, a) = (&slices[sent..n], &addrs[sent..n]);
            match sendmmsg(socket.as_raw_fd(), &mut buffers.headers, s, a, no_cmsgs, MsgFlags::empty()) {
                Ok(results) => sent += results.count(),
                Err(nix::errno::Errno::EAGAIN) if naps < FULL_BUFFER_NAPS => {
                    naps += 1;
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                // The first datagram of this call was refused (or the buffer stayed full): it is given up.
                Err(e) => {
                    give_up(e.into());
                    sent += 1;
                }
            }
        }
    }
    not_sent.map_or(Ok(()), Err)
}

/// Sends replies on a link from another thread.
pub struct LinkSender {
    socket: Arc<UdpSocket>,
    kind: LinkKind,
    name: String,
}

impl LinkSender {
    /// The link's name, for the log.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends these replies on this link, together.
    pub fn send_all<'a>(
        &self,
        buffers: &mut SendBuffers,
        replies: impl Iterator<Item = &'a Transmit>,
    ) -> Result<(), NotSent> {
        send_replies(&self.socket, &self.kind, buffers, replies)
    }
}

fn send_replies<'a>(
    socket: &UdpSocket,
    kind: &LinkKind,
    buffers: &mut SendBuffers,
    replies: impl Iterator<Item = &'a Transmit>,
) -> Result<(), NotSent> {
    send_many(socket, buffers, replies.map(|t| (t.bytes.as_slice(), wire_destination(kind, t))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_group_of_sockets_hands_each_client_to_one_socket_by_its_hardware_address() {
        let group = bind_group(3, "127.0.0.1:0".parse().unwrap(), |_| Ok(())).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert!(group.iter().all(|s| s.local_addr().unwrap().port() == port), "one port for the group");
        // Every datagram from one source address and port, as from clients behind one relay.
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut expected = [vec![], vec![], vec![]];
        for client in 0u32..30 {
            let mut message = [0u8; 300];
            message[0] = client as u8;
            // chaddr starts at byte 28; bytes 30–33 are the steering number.
            message[30..34].copy_from_slice(&(client * 7 + 1).to_be_bytes());
            for _ in 0..2 {
                tx.send_to(&message, ("127.0.0.1", port)).unwrap();
            }
            expected[((client * 7 + 1) % 3) as usize].extend([client as u8; 2]);
        }
        tx.send_to(&[0xAA; 20], ("127.0.0.1", port)).unwrap();
        expected[0].push(0xAA);
        std::thread::sleep(Duration::from_millis(50));
        for (i, socket) in group.iter().enumerate() {
            let mut got = vec![];
            let mut buf = [0u8; 512];
            while let Ok(n) = socket.recv(&mut buf) {
                assert!(n == 300 || n == 20);
                assert_eq!(steered_to(&buf[..n], 3), i, "the program and `steered_to` agree");
                got.push(buf[0]);
            }
            assert_eq!(
                got, expected[i],
                "socket {i}: each client's datagrams, in order, and the short one on the first"
            );
        }
    }

    #[test]
    fn a_batch_leaves_in_order_and_only_what_the_kernel_refuses_is_given_up() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_nonblocking(true).unwrap();
        let to = rx.local_addr().unwrap();
        // Without SO_BROADCAST the kernel refuses a broadcast: the 2nd and the 41st datagram (in the second
        // `sendmmsg` of 32) fail, the rest go.
        let refused: SocketAddr = "255.255.255.255:9".parse().unwrap();
        let payloads: Vec<Vec<u8>> = (0..70u8).map(|i| vec![i; 300]).collect();
        let mut datagrams: Vec<(&[u8], SocketAddr)> = payloads.iter().map(|b| (b.as_slice(), to)).collect();
        datagrams[1].1 = refused;
        datagrams[40].1 = refused;
        let e = send_many(&tx, &mut SendBuffers::default(), datagrams).expect_err("the broadcast is refused");
        assert_eq!(e.count, 2, "only the broadcasts are given up: {}", e.last);
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        for _ in 0..68 {
            let n = rx.recv(&mut buf).unwrap();
            got.push(buf[0]);
            assert_eq!(n, 300);
        }
        let expected: Vec<u8> = (0..70u8).filter(|&i| i != 1 && i != 40).collect();
        assert_eq!(got, expected, "every other datagram, in order");
        assert!(send_many(&tx, &mut SendBuffers::default(), []).is_ok(), "nothing to send");
    }
}
