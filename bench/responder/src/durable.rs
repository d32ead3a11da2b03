//! `--durable`: the stateless responder made to keep one promise, that an ACK leaves only once a record of
//! it is on the disk. It answers a DISCOVER at once; it holds the ACKs of the REQUESTs it reads, writes
//! their records in one synced write ([`SyncedLog`]), then sends them. With `--commit-delay` it waits up
//! to that long after the first held REQUEST was read for more, so one write covers several ACKs (group
//! commit, as dhcplab's committer does); without it, it writes as soon as it has read what was waiting.
//!
//! This is the cheapest server that makes every ACK durable on this machine: no lease table, no protocol
//! checks, one thread. `bench/ceiling` runs it to show what any such server pays here, in CPU per DORA and
//! in REQUEST→ACK delay, for each window.

use crate::synced_log::SyncedLog;
use crate::{Args, REPLY_ROOM, read_request, reply_destination, write_reply};
use bench_bootp::{DISCOVER, REQUEST};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::socket::{MsgFlags, recv};
use nix::sys::time::TimeSpec;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// An ACK waiting for its record's write, and when its REQUEST was read.
struct Held {
    reply: [u8; REPLY_ROOM],
    len: usize,
    to: SocketAddrV4,
    read: Instant,
}

/// Serves until a socket or disk error.
pub fn serve(args: &Args, socket: &UdpSocket, mut log: SyncedLog, delay: Duration) -> std::io::Result<()> {
    // The window's wait must end when it says, not up to the kernel's default 50 µs slack later.
    nix::sys::prctl::set_timerslack(1)?;
    let mut buf = [0u8; 1500];
    let mut out = [0u8; REPLY_ROOM];
    let mut held: Vec<Held> = Vec::new();
    loop {
        if let Some(first) = held.first() {
            let left = (first.read + delay).saturating_duration_since(Instant::now());
            if left.is_zero() || !readable_within(socket, left)? {
                commit(socket, &mut log, &mut held)?;
                continue;
            }
        }
        // Everything waiting: a blocking read for the first packet when nothing is held, then without
        // waiting until the socket is empty.
        let mut flags = if held.is_empty() { MsgFlags::empty() } else { MsgFlags::MSG_DONTWAIT };
        loop {
            let len = match recv(socket.as_raw_fd(), &mut buf, flags) {
                Ok(len) => len,
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            flags = MsgFlags::MSG_DONTWAIT;
            let p = &buf[..len];
            let Some(req) = read_request(p) else { continue };
            match req.kind {
                DISCOVER => {
                    let n = write_reply(args, p, &req, &mut out);
                    socket.send_to(&out[..n], reply_destination(p))?;
                }
                REQUEST => {
                    if !log.has_room() {
                        commit(socket, &mut log, &mut held)?;
                    }
                    let mut ack =
                        Held { reply: [0; REPLY_ROOM], len: 0, to: reply_destination(p), read: Instant::now() };
                    ack.len = write_reply(args, p, &req, &mut ack.reply);
                    log.add(&ack.reply);
                    held.push(ack);
                }
                _ => {}
            }
        }
        if delay.is_zero() && !held.is_empty() {
            commit(socket, &mut log, &mut held)?;
        }
    }
}

/// Whether a packet is waiting or arrives within `wait`.
fn readable_within(socket: &UdpSocket, wait: Duration) -> std::io::Result<bool> {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    match ppoll(&mut fds, Some(TimeSpec::from_duration(wait)), None) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Makes the held ACKs' records durable, then sends the ACKs.
fn commit(socket: &UdpSocket, log: &mut SyncedLog, held: &mut Vec<Held>) -> std::io::Result<()> {
    log.write()?;
    for ack in held.drain(..) {
        socket.send_to(&ack.reply[..ack.len], ack.to)?;
    }
    Ok(())
}
