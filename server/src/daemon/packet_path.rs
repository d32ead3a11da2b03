//! The way every thread that reads packets answers them — the engine thread and each packet thread alike:
//! a slotful of datagrams read without the engine, handed to it under its lock, and the replies that leave
//! at once (OFFERs, NAKs) sent once it is let go. The lock covers the protocol alone, so with several
//! threads the system calls and the network stack (most of an exchange's CPU) run on all of them at once.

use super::Counters;
use super::backlog::{Backlog, socket_drops};
use super::engine_loop::{Engine, lock};
use crate::link::{Link, SendBuffers};
use crate::recv_slots::{MAX_SLOTS, RecvSlots};
use dhcplab_engine::Transmit;
use dhcplab_engine::message::DhcpMessage;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::warn;

/// One thread's buffers for reading and answering: made once, so a packet allocates nothing here.
pub(super) struct PacketPath {
    /// Which of each link's sockets this thread reads (the engine thread is 0): the broadcasts it keeps.
    thread: usize,
    slots: RecvSlots,
    /// Replies gathered to go at once; after they are sent, their buffers go back to the engine with the
    /// next batch.
    out: Vec<Transmit>,
    sends: SendBuffers,
    /// Whether this thread is behind on each link's socket it reads, by link id.
    backlogs: Vec<Backlog>,
    counters: Arc<Counters>,
}

impl PacketPath {
    pub(super) fn new(thread: usize, counters: Arc<Counters>) -> Self {
        let (slots, sends) = (RecvSlots::new(), SendBuffers::default());
        PacketPath { thread, slots, out: Vec::new(), sends, backlogs: Vec::new(), counters }
    }

    /// Reads up to `want` datagrams from `socket` (one of `link`'s), hands those that are this thread's to
    /// answer to the engine, and sends the replies that leave at once. Returns how many datagrams were read,
    /// and whether the engine thread must be woken to set its timer for an earlier deadline.
    pub(super) fn serve(
        &mut self,
        engine: &Mutex<Engine>,
        links: &[Link],
        link: &Link,
        socket: &UdpSocket,
        want: usize,
    ) -> (usize, bool) {
        let at = Instant::now();
        let read = self.slots.read(socket, want).unwrap_or_else(|e| {
            warn!(link = %link.name, "receive failed: {e}");
            0
        });
        if read == 0 {
            return (0, false);
        }
        let id = link.id as usize;
        if self.backlogs.len() <= id {
            self.backlogs.resize(id + 1, Backlog::default());
        }
        let backlog = &mut self.backlogs[id];
        let behind = backlog.after_read(read, want.min(MAX_SLOTS), || socket_drops(socket));
        if behind && backlog.warn_now(at) {
            warn!(
                link = %link.name,
                thread = self.thread,
                "behind: its receive buffer overflowed; DISCOVERs are shed (counted as overload) until it is \
                 drained, REQUESTs are still answered"
            );
        }
        let thread = self.thread;
        let mine = self.slots.datagrams().filter(|(_, b)| link.is_mine(thread, b));
        let (read_at, wake) = lock(engine).packet_batch(link, at, behind, mine, &mut self.out);
        self.send(links, read_at);
        (read, wake)
    }

    /// Where the engine gathers replies that leave at once outside a batch of packets (timers, commands).
    pub(super) fn out(&mut self) -> &mut Vec<Transmit> {
        &mut self.out
    }

    /// Sends the replies gathered, each link's together; OFFERs are timed from `read`, when their
    /// DISCOVERs were read.
    pub(super) fn send(&mut self, links: &[Link], read: Option<Instant>) {
        if self.out.is_empty() {
            return;
        }
        for (i, link) in links.iter().enumerate() {
            if let Err(e) = link.send_all(&mut self.sends, self.out.iter().filter(|t| t.iface as usize == i)) {
                warn!(link = %link.name, "{} replies not sent: {}", e.count, e.last);
            }
        }
        if let Some(read) = read {
            let waited = read.elapsed();
            let offers = self.out.iter().filter(|t| t.kind == DhcpMessage::Offer).count();
            (0..offers).for_each(|_| self.counters.offer_seconds.observe(waited));
        }
    }
}
