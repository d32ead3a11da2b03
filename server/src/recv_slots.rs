//! Reading many datagrams with one system call (`recvmmsg`): under load the engine finds several waiting
//! at each wake-up, and a short read also tells it the socket is empty, without a last call that fails.

use dhcplab_engine::packet::MAX_MESSAGE_LEN;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrIn, recvmmsg};
use std::io::{self, IoSliceMut};
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

/// Room for one datagram. Larger than any request the engine takes: a longer datagram is cut to this
/// size, still longer than `MAX_MESSAGE_LEN`, and the engine drops it as too long (and counts it).
const SLOT: usize = 2048;
const _: () = assert!(SLOT > MAX_MESSAGE_LEN);

/// The most datagrams one `read` takes: a slotful, what each reading thread reads at once.
pub const MAX_SLOTS: usize = 32;

/// Buffers for `read` to fill, reused from call to call.
pub struct RecvSlots {
    /// A fixed array, so a read's scatter list is one too.
    bufs: Box<[[u8; SLOT]; MAX_SLOTS]>,
    headers: MultiHeaders<SockaddrIn>,
    /// What the last `read` got: each datagram's slot, length and sender.
    got: Vec<(usize, usize, SocketAddrV4)>,
}

impl RecvSlots {
    /// Room for [`MAX_SLOTS`] datagrams per `read`.
    pub fn new() -> Self {
        // Made on the heap, not moved there from the stack (64 KiB).
        let bufs = vec![[0; SLOT]; MAX_SLOTS].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!());
        RecvSlots { bufs, headers: MultiHeaders::preallocate(MAX_SLOTS, None), got: Vec::with_capacity(MAX_SLOTS) }
    }

    /// Reads up to `max` datagrams waiting on a non-blocking `socket`, without waiting; how many it read
    /// (0 when none was waiting). Fewer than `max` means the socket is empty now.
    pub fn read(&mut self, socket: &UdpSocket, max: usize) -> io::Result<usize> {
        self.got.clear();
        let n = max.min(MAX_SLOTS);
        // The scatter list borrows the slots, so it is made for each call: an array on the stack, so a read
        // allocates nothing.
        let mut iovs = self.bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
        let read = recvmmsg(socket.as_raw_fd(), &mut self.headers, iovs[..n].iter_mut(), MsgFlags::MSG_DONTWAIT, None);
        let mut count = 0;
        match read {
            Ok(msgs) => {
                for (slot, m) in msgs.enumerate() {
                    count += 1;
                    // An IPv4 socket's senders always have an IPv4 address.
                    if let Some(from) = m.address {
                        self.got.push((slot, m.bytes.min(SLOT), SocketAddrV4::from(from)));
                    }
                }
            }
            Err(nix::errno::Errno::EAGAIN) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(count)
    }

    /// The datagrams of the last `read`: who sent each, and its bytes (cut to `SLOT`).
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddrV4, &[u8])> {
        self.got.iter().map(|&(slot, len, from)| (from, &self.bufs[slot][..len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A non-blocking receiving socket on loopback, and a socket that has sent it datagrams of `sizes`.
    fn sent(sizes: &[usize]) -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for &n in sizes {
            tx.send_to(&vec![7u8; n], rx.local_addr().unwrap()).unwrap();
        }
        (rx, tx)
    }

    #[test]
    fn reads_what_is_waiting_in_one_call_and_cuts_what_is_too_long() {
        let mut slots = RecvSlots::new();
        let (rx, _) = sent(&[]);
        assert_eq!(slots.read(&rx, 4).unwrap(), 0, "nothing waiting");
        let (rx, tx) = sent(&[300, 301, 5000]);
        let std::net::SocketAddr::V4(sender) = tx.local_addr().unwrap() else { panic!("not IPv4") };
        assert_eq!(slots.read(&rx, 2).unwrap(), 2, "at most `max`");
        let got: Vec<_> = slots.datagrams().map(|(from, b)| (from, b.len())).collect();
        assert_eq!(got, vec![(sender, 300), (sender, 301)]);
        assert_eq!(slots.read(&rx, 4).unwrap(), 1, "fewer than asked: the socket is empty");
        let got: Vec<_> = slots.datagrams().map(|(_, b)| b.len()).collect();
        assert_eq!(got, vec![SLOT], "cut to the slot, longer than any request");
        assert_eq!(slots.read(&rx, 4).unwrap(), 0);
        assert_eq!(slots.datagrams().count(), 0);
    }

    #[test]
    fn a_read_allocates_nothing() {
        let mut slots = RecvSlots::new();
        let (rx, _tx) = sent(&[300, 300, 300]);
        let before = crate::alloc_count::allocations();
        assert_eq!(slots.read(&rx, MAX_SLOTS).unwrap(), 3);
        assert_eq!(slots.read(&rx, MAX_SLOTS).unwrap(), 0);
        assert_eq!(crate::alloc_count::allocations(), before, "a read allocated");
        assert_eq!(slots.datagrams().count(), 0);
    }
}
