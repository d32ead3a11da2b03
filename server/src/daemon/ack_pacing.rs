//! ACKs that a slow commit held back go out in slices, not in one burst.
//!
//! A commit that stalls (the disk busy with another writer's flush, a database failing over) holds every
//! ACK that arrives meanwhile: at 8,000 REQUESTs a second a 50 ms stall holds 400. Sent at once, they reach
//! the one socket a relay agent (or a load generator) reads faster than it can read them; its receive
//! buffer holds a couple of hundred datagrams by default, the rest are dropped, and those clients wait
//! seconds to ask again. Measured with perfdhcp at 3,000/s and a million leases, a SIGHUP every second
//! (ACKs held up to 168 ms): 0.31 % of exchanges lost in one burst, 0.007 % paced.
//!
//! A commit under steady load carries a few ACKs per link (22–24 at 16,000/s), far under [`BURST`], and sends
//! them at once as before: pacing costs nothing until a stall.

use crate::link::NotSent;
use dhcplab_engine::Transmit;
use std::time::Duration;

/// More ACKs than this for one link from one commit are paced.
pub const BURST: usize = 64;
/// Paced ACKs go out this many at a time…
pub const SLICE: usize = 32;
/// …this far apart: 32,000 a second, twice what one link carried at the highest rate measured, so a
/// backlog drains while new REQUESTs keep coming.
pub const GAP: Duration = Duration::from_millis(1);

/// What became of one link's ACKs.
#[derive(Debug)]
pub struct Sent {
    /// ACKs that went out in slices (0 when they were few enough to go at once).
    pub paced: usize,
    /// ACKs the kernel refused, and its last reason.
    pub not_sent: Option<NotSent>,
}

/// Sends `acks` with `send` (one `sendmmsg` run per call): all at once when there are at most [`BURST`],
/// else [`SLICE`] at a time with `pause(GAP)` between slices.
pub fn send_paced<'a, I>(
    acks: I,
    mut send: impl FnMut(&mut dyn Iterator<Item = &'a Transmit>) -> Result<(), NotSent>,
    mut pause: impl FnMut(Duration),
) -> Sent
where
    I: Iterator<Item = &'a Transmit> + Clone,
{
    let count = acks.clone().count();
    let paced = count > BURST;
    let slice = if paced { SLICE } else { count };
    let mut sent = Sent { paced: if paced { count } else { 0 }, not_sent: None };
    let mut rest = acks.peekable();
    loop {
        if let Err(e) = send(&mut rest.by_ref().take(slice)) {
            NotSent::add(&mut sent.not_sent, e.count, e.last);
        }
        if rest.peek().is_none() {
            break;
        }
        pause(GAP);
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn acks(n: u32) -> Vec<Transmit> {
        (0..n)
            .map(|xid| Transmit {
                iface: 0,
                src: "192.0.2.1".parse().unwrap(),
                dst: dhcplab_engine::reply::Destination::Relay { ip: "192.0.2.2".parse().unwrap() },
                kind: dhcplab_engine::message::DhcpMessage::Ack,
                yiaddr: "192.0.2.10".parse().unwrap(),
                needs_store: true,
                xid,
                bytes: vec![],
            })
            .collect()
    }

    /// Sends through `send_paced`, recording each call's xids and each pause; the kernel refuses `refuse`.
    fn run(acks: &[Transmit], refuse: Option<u32>) -> (Vec<Vec<u32>>, Vec<Duration>, Sent) {
        let (mut calls, mut pauses) = (vec![], vec![]);
        let sent = send_paced(
            acks.iter(),
            |slice| {
                let xids: Vec<u32> = slice.map(|t| t.xid).collect();
                let refused = xids.iter().filter(|x| Some(**x) == refuse).count();
                calls.push(xids);
                match refused {
                    0 => Ok(()),
                    count => Err(NotSent { count, last: io::Error::from(io::ErrorKind::WouldBlock) }),
                }
            },
            |d| pauses.push(d),
        );
        (calls, pauses, sent)
    }

    #[test]
    fn a_steady_commits_acks_go_at_once() {
        let (calls, pauses, sent) = run(&acks(BURST as u32), None);
        assert_eq!(calls, vec![(0..BURST as u32).collect::<Vec<_>>()]);
        assert!(pauses.is_empty());
        assert_eq!(sent.paced, 0);
        assert!(sent.not_sent.is_none());
    }

    #[test]
    fn a_stalled_commits_acks_go_in_slices_in_order_with_a_gap_between() {
        let (calls, pauses, sent) = run(&acks(100), Some(70));
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![32, 32, 32, 4]);
        assert_eq!(calls.concat(), (0..100).collect::<Vec<_>>(), "every ACK once, in order");
        assert_eq!(pauses, vec![GAP; 3], "a gap between slices, none after the last");
        assert_eq!(sent.paced, 100);
        assert_eq!(sent.not_sent.map(|n| n.count), Some(1), "what the kernel refused is reported");
    }
}
