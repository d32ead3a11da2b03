//! Whether a reading thread has fallen behind on a socket: the kernel dropped datagrams on it for want of
//! room since the thread last looked, and it still holds at least a slotful. While it is behind, the
//! engine sheds DISCOVERs (`Server::handle_packet_behind`) so the REQUESTs of exchanges under way are
//! answered first; the first short read (the socket drained) ends it. Past its clean rate the daemon then
//! spends its time finishing exchanges, not starting ones whose REQUEST the kernel would drop.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How often a thread that keeps falling behind on a socket says so in the log.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// `SO_MEMINFO` (asm-generic/socket.h): the socket's memory counters, `SK_MEMINFO_DROPS` among them.
const SO_MEMINFO: libc::c_int = 55;

/// One socket's state, kept by the thread that reads it.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Backlog {
    /// The socket's drop counter when last asked.
    drops_seen: u32,
    behind: bool,
    warned: Option<Instant>,
}

impl Backlog {
    /// After a read that got `read` datagrams of the `want` asked for: whether they were read behind.
    /// `drops` (a system call) is asked only after a full read: a short one says the socket is drained.
    pub(super) fn after_read(&mut self, read: usize, want: usize, drops: impl FnOnce() -> Option<u32>) -> bool {
        if read < want {
            self.behind = false;
            return false;
        }
        if let Some(d) = drops()
            && d != self.drops_seen
        {
            self.drops_seen = d;
            self.behind = true;
        }
        self.behind
    }

    /// Whether to log, at `now`, that the thread is behind: the first time, then at most once a minute.
    pub(super) fn warn_now(&mut self, now: Instant) -> bool {
        if self.warned.is_some_and(|w| now.saturating_duration_since(w) < WARN_EVERY) {
            return false;
        }
        self.warned = Some(now);
        true
    }
}

/// How many datagrams the kernel has dropped on `socket` (its receive buffer full), from `SO_MEMINFO`.
pub(super) fn socket_drops(socket: &UdpSocket) -> Option<u32> {
    let mut info = [0u32; libc::SK_MEMINFO_DROPS as usize + 1];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info` and the length it wrote into `len`.
    let r = unsafe {
        libc::getsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, SO_MEMINFO, info.as_mut_ptr().cast(), &mut len)
    };
    let filled = len as usize / std::mem::size_of::<u32>();
    (r == 0 && filled > libc::SK_MEMINFO_DROPS as usize).then(|| info[libc::SK_MEMINFO_DROPS as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_from_a_full_read_after_new_drops_until_the_first_short_read() {
        let mut b = Backlog::default();
        assert!(!b.after_read(32, 32, || Some(0)), "a full read with no drops is a burst, not overload");
        assert!(!b.after_read(3, 32, || panic!("a short read asks nothing")));
        assert!(b.after_read(32, 32, || Some(17)), "the kernel dropped since the last look");
        assert!(b.after_read(32, 32, || Some(17)), "still a slotful waiting: still behind");
        assert!(!b.after_read(31, 32, || Some(40)), "drained");
        assert!(!b.after_read(32, 32, || Some(17)), "no drops since the last look: a burst again");
        let mut b = Backlog::default();
        assert!(!b.after_read(32, 32, || None), "a socket that cannot say is never behind");
    }

    #[test]
    fn falling_behind_is_logged_the_first_time_then_at_most_once_a_minute() {
        let mut b = Backlog::default();
        let t = Instant::now();
        assert!(b.warn_now(t));
        assert!(!b.warn_now(t + Duration::from_secs(59)));
        assert!(b.warn_now(t + Duration::from_secs(60)));
        assert!(!b.warn_now(t + Duration::from_secs(61)));
    }

    #[test]
    fn the_kernel_counts_what_a_full_receive_buffer_drops() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = socket_drops(&rx).expect("SO_MEMINFO answers");
        assert_eq!(before, 0);
        socket2::SockRef::from(&rx).set_recv_buffer_size(4096).unwrap();
        for _ in 0..200 {
            tx.send_to(&[0; 512], rx.local_addr().unwrap()).unwrap();
        }
        assert!(socket_drops(&rx).unwrap() > 0, "200 datagrams into a 4 KiB buffer: some dropped");
    }
}
