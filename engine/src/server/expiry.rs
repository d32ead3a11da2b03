//! Ending offers, leases and probations when their time comes. A server started after downtime, or a
//! million leases imported with one end time, has a backlog of them at once: it is worked off a slice at
//! a time with a pause between slices, so that packets and the API are served meanwhile. RFC 2131 (§4.2)
//! leaves when an expired address is reused to the server; until its record ends, an address stays its
//! client's and is given to no other, so a late end is never a conflict.

use super::Server;
use crate::event::{LeaseEvent, LeaseEventKind};
use crate::lease::LeaseState;
use crate::time::{Duration, Instant};

/// The most records one `handle_timeout` ends.
pub const EXPIRY_SLICE: usize = 500;
/// How long a backlog waits between slices: at most 100,000 records a second, about a tenth of a core.
pub const EXPIRY_PAUSE: Duration = Duration::from_millis(5);

impl Server {
    /// The caller's store is behind (`true`: its changes not yet durable pile up) or has caught up. While
    /// it is behind, no record ends: each would be one more change for it, and ending them at the pace of
    /// the engine rather than of the store (a PostgreSQL shared by several servers takes far fewer a
    /// second) fills the store's queue until the caller stops reading packets. The records stay their
    /// clients', so nothing is given away; `poll_timeout` asks to be woken a pause later to look again.
    pub fn set_expiry_held(&mut self, held: bool) {
        self.expiry_held = held;
    }

    /// Ends up to a slice of the records due at `now`; when more are due, the next slice waits a pause.
    pub(super) fn expire_due(&mut self, now: Instant) {
        if self.expiry_resume.is_some_and(|t| now < t) {
            return;
        }
        self.expiry_resume = None;
        if self.expiry_held {
            if self.table.due(now).is_some() {
                self.expiry_resume = Some(now + EXPIRY_PAUSE);
            }
            return;
        }
        for _ in 0..EXPIRY_SLICE {
            let Some(ip) = self.table.due(now) else { return };
            let Some(lease) = self.table.get(ip).cloned() else { return };
            match lease.state {
                LeaseState::Offered => {
                    self.table.remove(ip);
                    self.emit(LeaseEvent::from_lease(now, LeaseEventKind::OfferExpired, &lease));
                }
                LeaseState::Bound => {
                    if let Some(l) = self.table.update(ip, LeaseState::Expired, lease.obtained, lease.expires) {
                        let ev = LeaseEvent::from_lease(now, LeaseEventKind::Expired, l);
                        self.emit(ev);
                    }
                }
                LeaseState::Declined => {
                    self.table.remove(ip);
                    let mut ev = LeaseEvent::from_lease(now, LeaseEventKind::Reclaimed, &lease);
                    ev.state = None;
                    self.emit(ev);
                }
                LeaseState::Released | LeaseState::Expired => {
                    // Free records have no deadline; removing keeps the loop finite if one ever slips in.
                    self.table.remove(ip);
                }
            }
        }
        if self.table.due(now).is_some() {
            self.expiry_resume = Some(now + EXPIRY_PAUSE);
        }
    }

    /// When the table next has a record to end: its earliest deadline, or the backlog's next slice.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        let due = self.table.next_deadline()?;
        Some(self.expiry_resume.map_or(due, |resume| due.max(resume)))
    }
}
