//! Several replies to one destination in one datagram the kernel cuts up (UDP generic segmentation
//! offload, `UDP_SEGMENT`): a relay agent gets a commit's ACKs for all its clients, and the stack is crossed
//! once instead of once per reply. Every piece but the last must be the same size, so shorter replies are
//! padded with zeros after their end option (RFC 2131 §2 lets the options field run on; clients read to
//! option 255). Where the kernel or the device cannot segment, the link sends each reply on its own from
//! then on.

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg};
use std::io::IoSlice;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// The most pieces one send carries (the kernel's limit is 64 or more, by version).
const MAX_PIECES: usize = 64;
/// The most bytes one send carries: an IPv4 datagram holds 65,535 with its headers.
const MAX_BYTES: usize = 60_000;
/// The longest piece padded here; longer replies (past any link's MTU) go on their own.
const MAX_PIECE: usize = 1500;
static ZEROS: [u8; MAX_PIECE] = [0; MAX_PIECE];

/// Whether a socket still segments: cleared for good the first time the kernel refuses.
#[derive(Debug, Default)]
pub struct Segmenting {
    refused: AtomicBool,
}

/// What a segmented send did not do: the datagrams are to be sent one by one, which reports any refusal
/// for each of them as before.
pub struct Unsent;

impl Segmenting {
    pub fn usable(&self) -> bool {
        !self.refused.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub fn refuse_for_test(&self) {
        self.refused.store(true, Ordering::Relaxed);
    }

    /// Sends `datagrams` to `dst` as one segmented send, waiting (in `naps`, shared with the caller) while
    /// the send buffer is full.
    pub fn send(
        &self,
        socket: &UdpSocket,
        datagrams: &[&[u8]],
        dst: SocketAddrV4,
        naps: &mut u32,
        max_naps: u32,
    ) -> Result<(), Unsent> {
        let Some(size) = datagrams.iter().map(|d| d.len()).max().filter(|&s| s <= MAX_PIECE) else {
            return Err(Unsent);
        };
        let mut iov = Vec::with_capacity(datagrams.len() * 2);
        for (i, d) in datagrams.iter().enumerate() {
            iov.push(IoSlice::new(d));
            if i + 1 < datagrams.len() && d.len() < size {
                iov.push(IoSlice::new(&ZEROS[..size - d.len()]));
            }
        }
        let size = size as u16;
        let cmsg = [ControlMessage::UdpGsoSegments(&size)];
        let to = SockaddrIn::from(dst);
        loop {
            match sendmsg(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), Some(&to)) {
                Ok(_) => return Ok(()),
                Err(Errno::EAGAIN) if *naps < max_naps => {
                    *naps += 1;
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                Err(e) => {
                    // What says segmentation itself is refused (no checksum offload, an old kernel, a size
                    // the path's MTU cannot take); anything else is the destination's, and each datagram
                    // meets it again on its own.
                    if matches!(
                        e,
                        Errno::EIO | Errno::EINVAL | Errno::EOPNOTSUPP | Errno::ENOPROTOOPT | Errno::EMSGSIZE
                    ) {
                        tracing::debug!("segmented sends refused ({e}); replies go one by one on this link");
                        self.refused.store(true, Ordering::Relaxed);
                    }
                    return Err(Unsent);
                }
            }
        }
    }
}

/// `datagrams` cut into runs one segmented send can carry: `MAX_PIECES` at most, each run's pieces padded
/// to its longest within `MAX_BYTES`.
pub fn runs<'a>(datagrams: &'a [&'a [u8]]) -> impl Iterator<Item = &'a [&'a [u8]]> + 'a {
    let mut rest = datagrams;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut n, mut longest) = (0, 0);
        while n < rest.len() && n < MAX_PIECES {
            let l = longest.max(rest[n].len());
            if n > 0 && l * (n + 1) > MAX_BYTES {
                break;
            }
            (n, longest) = (n + 1, l);
        }
        let (run, after) = rest.split_at(n);
        rest = after;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn runs_hold_at_most_64_pieces_and_60_000_bytes() {
        let small = vec![0u8; 300];
        let big = vec![0u8; 1400];
        let mut all: Vec<&[u8]> = vec![&small; 70];
        all.extend(std::iter::repeat_n(big.as_slice(), 50));
        let runs: Vec<usize> = runs(&all).map(|r| r.len()).collect();
        // 64 small; 6 small then big ones: 42 pieces of 1,400 bytes fit 60,000; then the rest.
        assert_eq!(runs, vec![64, 42, 14]);
        assert_eq!(runs.iter().sum::<usize>(), 120);
        assert_eq!(super::runs(&[]).count(), 0);
    }

    /// The receiver gets each reply as its own datagram, in order, padded with zeros to the run's longest.
    #[test]
    fn one_segmented_send_arrives_as_the_datagrams_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(to) = rx.local_addr().unwrap() else { unreachable!() };
        let payloads: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i + 1; 300 + usize::from(i % 3) * 20]).collect();
        let datagrams: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let seg = Segmenting::default();
        let mut naps = 0;
        assert!(seg.send(&tx, &datagrams, to, &mut naps, 10).is_ok(), "loopback segments");
        let mut buf = [0u8; 2048];
        for (i, p) in payloads.iter().enumerate() {
            let n = rx.recv(&mut buf).unwrap();
            let last = i + 1 == payloads.len();
            assert_eq!(n, if last { p.len() } else { 340 }, "datagram {i}");
            assert_eq!(&buf[..p.len()], p.as_slice(), "datagram {i}'s bytes");
            assert!(buf[p.len()..n].iter().all(|&b| b == 0), "then zeros");
        }
        assert!(seg.usable());
        // A piece longer than any MTU is not segmented here: the caller sends it on its own.
        let long = vec![9u8; MAX_PIECE + 1];
        assert!(seg.send(&tx, &[&long, &payloads[0]], to, &mut naps, 10).is_err());
    }
}
