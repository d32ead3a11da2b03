//! The load: DISCOVERs at a steady rate whatever the server answers (open loop, as clients arrive on a
//! network), each OFFER taken up with a REQUEST at once, every reply read and every request sent in batches
//! (`recvmmsg`, `sendmmsg`), so that one core of the generator drives far more exchanges than the server
//! under test can answer on one.

use crate::wire::{self, REQUEST_LEN, Reply};
use bench_bootp::{ACK, OFFER};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg};
use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// The most datagrams one system call reads or sends.
const BATCH: usize = 64;
/// Room for one reply.
const SLOT: usize = 1500;
/// How long replies are still taken after the last DISCOVER: a REQUEST sent then gets its ACK.
const GRACE: Duration = Duration::from_millis(500);

/// What to send.
pub struct Plan {
    /// DISCOVERs a second.
    pub rate: u32,
    pub duration: Duration,
    /// Distinct clients, taken in turn: a client comes back every `clients / rate` seconds.
    pub clients: u32,
    /// The relay agent's address, put in `giaddr`.
    pub giaddr: Ipv4Addr,
}

/// What happened: counts and the summed delays of the two exchanges.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub discovers: u64,
    pub offers: u64,
    pub requests: u64,
    pub acks: u64,
    /// Replies that answered nothing outstanding (late, repeated or not the generator's).
    pub strays: u64,
    pub offer_delay: Duration,
    pub ack_delay: Duration,
}

/// Where one transaction (its `xid` is its index) stands.
#[derive(Clone, Copy, Default)]
struct Transaction {
    discover_at: Option<Instant>,
    request_at: Option<Instant>,
    done: bool,
}

/// Requests waiting for the next `sendmmsg`.
struct Outbox {
    packets: Box<[[u8; REQUEST_LEN]; BATCH]>,
    len: usize,
    headers: MultiHeaders<SockaddrIn>,
}

impl Outbox {
    fn new() -> Self {
        Outbox { packets: Box::new([[0; REQUEST_LEN]; BATCH]), len: 0, headers: MultiHeaders::preallocate(BATCH, None) }
    }

    /// Room for the next request, sending the batch first when it is full.
    fn next(&mut self, socket: &UdpSocket) -> nix::Result<&mut [u8; REQUEST_LEN]> {
        if self.len == BATCH {
            self.flush(socket)?;
        }
        self.len += 1;
        Ok(&mut self.packets[self.len - 1])
    }

    /// Sends what waits, on the connected socket; a full socket buffer is waited out.
    fn flush(&mut self, socket: &UdpSocket) -> nix::Result<()> {
        let slices = self.packets.each_ref().map(|p| [IoSlice::new(p)]);
        // Connected: no destination per datagram.
        let to: [Option<SockaddrIn>; BATCH] = [None; BATCH];
        let no_cmsgs: [ControlMessage; 0] = [];
        let mut sent = 0;
        while sent < self.len {
            let (s, a) = (&slices[sent..self.len], &to[sent..self.len]);
            match sendmmsg(socket.as_raw_fd(), &mut self.headers, s, a, no_cmsgs, MsgFlags::empty()) {
                Ok(r) => sent += r.count(),
                Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_micros(20)),
                Err(e) => return Err(e),
            }
        }
        self.len = 0;
        Ok(())
    }
}

/// Runs `plan` against the server `socket` is connected to (a non-blocking UDP socket bound where the relay
/// agent receives replies) and reports.
pub fn run(socket: &UdpSocket, plan: &Plan) -> nix::Result<Report> {
    let total = (u64::from(plan.rate) * plan.duration.as_millis() as u64 / 1000) as usize;
    let mut book = vec![Transaction::default(); total];
    let mut report = Report::default();
    let mut out = Outbox::new();
    let mut slots: Box<[[u8; SLOT]; BATCH]> = Box::new([[0; SLOT]; BATCH]);
    let mut lens = [0usize; BATCH];
    let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let start = Instant::now();
    let (end, stop) = (start + plan.duration, start + plan.duration + GRACE);
    loop {
        let now = Instant::now();
        if now >= stop {
            break;
        }
        // The DISCOVERs due by now.
        let due = if now < end { (plan.rate as f64 * (now - start).as_secs_f64()) as usize } else { total };
        while (report.discovers as usize) < due.min(total) {
            let xid = report.discovers as usize;
            let client = wire::chaddr(xid as u32 % plan.clients.max(1));
            wire::write_request(out.next(socket)?, xid as u32, client, plan.giaddr, None);
            book[xid].discover_at = Some(now);
            report.discovers += 1;
        }
        out.flush(socket)?;
        // Replies until the next DISCOVERs are due: a millisecond at most (poll's unit), so the pace stays
        // steady; after the last, until the grace ends.
        let wait = if now < end { Duration::from_millis(1) } else { stop - now };
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(wait.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX);
        if poll(&mut fds, ms)? == 0 {
            continue;
        }
        loop {
            let mut iovs = slots.each_mut().map(|s| [IoSliceMut::new(s)]);
            let n = match recvmmsg(socket.as_raw_fd(), &mut headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
                Ok(msgs) => msgs.zip(lens.iter_mut()).map(|(m, l)| *l = m.bytes).count(),
                Err(nix::errno::Errno::EAGAIN) => 0,
                Err(e) => return Err(e),
            };
            let at = Instant::now();
            for (slot, len) in slots.iter().zip(&lens).take(n) {
                match wire::read_reply(&slot[..*len]) {
                    Some(r) => take(r, at, &mut book, &mut report, &mut out, socket, plan)?,
                    None => report.strays += 1,
                }
            }
            out.flush(socket)?;
            // A short read: the socket is empty.
            if n < BATCH {
                break;
            }
        }
    }
    Ok(report)
}

/// Books one reply: an OFFER is taken up with a REQUEST at once, an ACK ends its exchange.
fn take(
    r: Reply,
    at: Instant,
    book: &mut [Transaction],
    report: &mut Report,
    out: &mut Outbox,
    socket: &UdpSocket,
    plan: &Plan,
) -> nix::Result<()> {
    let Some(t) = book.get_mut(r.xid as usize) else {
        report.strays += 1;
        return Ok(());
    };
    match (r.kind, t.discover_at, t.request_at, r.server) {
        (OFFER, Some(sent), None, Some(server)) => {
            report.offers += 1;
            report.offer_delay += at - sent;
            let client = wire::chaddr(r.xid % plan.clients.max(1));
            wire::write_request(out.next(socket)?, r.xid, client, plan.giaddr, Some((r.yiaddr, server)));
            t.request_at = Some(at);
            report.requests += 1;
        }
        (ACK, _, Some(sent), _) if !t.done => {
            t.done = true;
            report.acks += 1;
            report.ack_delay += at - sent;
        }
        _ => report.strays += 1,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench_bootp::{DISCOVER, REQUEST};

    /// A server on loopback that offers `10.0.0.x` and acknowledges what it is asked for, dropping the
    /// first `skip` DISCOVERs.
    fn serve(socket: UdpSocket, skip: usize) {
        let mut buf = [0u8; 1500];
        let mut discovers = 0;
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let p = &buf[..len];
            let (kind, requested) = match p.get(240..243) {
                Some([53, 1, k]) => (*k, p.get(245..249).map(|a| [a[0], a[1], a[2], a[3]])),
                _ => continue,
            };
            if kind == DISCOVER {
                discovers += 1;
                if discovers <= skip {
                    continue;
                }
            }
            let mut r = p[..240].to_vec();
            r[0] = 2;
            let (reply, yiaddr) = match kind {
                DISCOVER => (OFFER, [10, 0, 0, p[33]]),
                REQUEST => (ACK, requested.unwrap_or_default()),
                _ => continue,
            };
            r[16..20].copy_from_slice(&yiaddr);
            r.extend_from_slice(&[53, 1, reply, 54, 4, 127, 0, 0, 1, 255]);
            let _ = socket.send_to(&r, from);
        }
    }

    fn run_against(skip: usize, rate: u32) -> Report {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap();
        std::thread::spawn(move || serve(server, skip));
        let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
        relay.connect(to).unwrap();
        relay.set_nonblocking(true).unwrap();
        let plan = Plan { rate, duration: Duration::from_millis(300), clients: 50, giaddr: Ipv4Addr::LOCALHOST };
        run(&relay, &plan).unwrap()
    }

    #[test]
    fn every_discover_answered_makes_one_whole_exchange() {
        let r = run_against(0, 2000);
        assert_eq!(r.discovers, 600);
        assert_eq!((r.offers, r.requests, r.acks, r.strays), (600, 600, 600, 0));
        assert!(r.ack_delay > Duration::ZERO && r.offer_delay > Duration::ZERO);
    }

    #[test]
    fn discovers_left_unanswered_are_counted_as_lost_not_waited_for() {
        let r = run_against(40, 1000);
        assert_eq!(r.discovers, 300);
        assert_eq!((r.offers, r.requests, r.acks), (260, 260, 260));
    }
}
