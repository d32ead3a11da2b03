//! ICMP echo for conflict probing (`conflict_probe`): the engine asks for a ping before an OFFER
//! (`Server::poll_ping`), this sends it, and each echo reply tells the engine which address answered.
//! An unprivileged ICMP socket where the system allows one (`net.ipv4.ping_group_range`), else a raw one
//! (CAP_NET_RAW).

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU16, Ordering};

const ECHO_REPLY: u8 = 0;
const ECHO_REQUEST: u8 = 8;
/// What the echo requests carry, so a capture shows who sent them.
const PAYLOAD: &[u8; 8] = b"dhcplab!";

#[derive(Debug, thiserror::Error)]
pub enum PingerError {
    #[error(
        "no ICMP socket for conflict probing: unprivileged ({datagram}), raw ({raw}); allow the daemon's group \
         in net.ipv4.ping_group_range or give it CAP_NET_RAW"
    )]
    NoSocket { datagram: io::Error, raw: io::Error },
}

pub struct Pinger {
    /// Non-blocking: the engine's loop polls it.
    socket: Socket,
    /// A raw socket sees every ICMP message with its IP header; a datagram (ping) socket only the replies
    /// to its own echo requests, headerless.
    raw: bool,
    /// The echo identifier (a raw socket's own; the kernel sets a datagram socket's).
    ident: u16,
    seq: AtomicU16,
}

/// RFC 1071: the ones' complement of the ones' complement sum.
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Pinger {
    /// Opens the socket.
    pub fn open() -> Result<Pinger, PingerError> {
        let open = |ty| -> io::Result<Socket> {
            let s = Socket::new(Domain::IPV4, ty, Some(Protocol::ICMPV4))?;
            s.set_nonblocking(true)?;
            s.set_cloexec(true)?;
            Ok(s)
        };
        let (socket, raw) = match open(Type::DGRAM) {
            Ok(s) => (s, false),
            Err(datagram) => match open(Type::RAW) {
                Ok(s) => (s, true),
                Err(raw) => return Err(PingerError::NoSocket { datagram, raw }),
            },
        };
        Ok(Pinger { socket, raw, ident: (std::process::id() & 0xffff) as u16, seq: AtomicU16::new(0) })
    }

    /// One echo request to `ip`.
    pub fn send(&self, ip: Ipv4Addr) -> io::Result<()> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut packet = [0u8; 16];
        packet[0] = ECHO_REQUEST;
        packet[4..6].copy_from_slice(&self.ident.to_be_bytes());
        packet[6..8].copy_from_slice(&seq.to_be_bytes());
        packet[8..].copy_from_slice(PAYLOAD);
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
        self.socket.send_to(&packet, &SockAddr::from(SocketAddrV4::new(ip, 0))).map(|_| ())
    }

    /// The echo replies waiting on the socket: the address each came from. Other ICMP (and replies to other
    /// programs' pings, which a raw socket also sees) are skipped.
    pub fn replies(&self) -> Vec<Ipv4Addr> {
        let mut from = vec![];
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        loop {
            let (n, addr) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!("ICMP receive: {e}");
                    continue;
                }
            };
            // SAFETY: `recv_from` initialised the first `n` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
            let icmp = match self.raw {
                true => bytes.get(usize::from(bytes.first().map_or(0, |b| b & 0x0f)) * 4..).unwrap_or_default(),
                false => bytes,
            };
            let ours = !self.raw || icmp.get(4..6) == Some(&self.ident.to_be_bytes()[..]);
            if icmp.first() == Some(&ECHO_REPLY)
                && ours
                && let Some(src) = addr.as_socket_ipv4()
            {
                from.push(*src.ip());
            }
        }
        from
    }
}

impl AsFd for Pinger {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_rfc_1071s() {
        // An echo request with id 1, seq 1 and no payload sums to 0xf7fd; with the sum in place, to zero.
        let mut p = [8u8, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(checksum(&p), 0xf7fd);
        p[2..4].copy_from_slice(&0xf7fdu16.to_be_bytes());
        assert_eq!(checksum(&p), 0);
    }

    #[test]
    fn loopback_answers_a_ping() {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        // Loopback always answers; needs either socket kind (CI is root).
        let p = match Pinger::open() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        p.send(Ipv4Addr::LOCALHOST).unwrap();
        let started = std::time::Instant::now();
        let got = loop {
            assert!(started.elapsed().as_secs() < 2, "no echo reply from 127.0.0.1");
            let mut fds = [PollFd::new(p.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(100u16)).unwrap();
            let r = p.replies();
            if !r.is_empty() {
                break r;
            }
        };
        assert_eq!(got, vec![Ipv4Addr::LOCALHOST]);
    }
}
